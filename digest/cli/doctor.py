"""CLI command: `digest doctor [--dns HOST[:PORT]]`: deliverability and configuration checks."""
