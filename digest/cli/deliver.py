"""CLI commands: deliver."""

from __future__ import annotations
