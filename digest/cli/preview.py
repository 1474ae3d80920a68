"""CLI commands: preview."""

from __future__ import annotations
