"""CLI commands: web."""

from __future__ import annotations
