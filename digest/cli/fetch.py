"""CLI commands: fetch."""

from __future__ import annotations
