"""A real SMTP server (aiosmtpd) on loopback for tests; filled in by the delivery work."""
