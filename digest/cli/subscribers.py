"""CLI commands: subscribers."""

from __future__ import annotations
