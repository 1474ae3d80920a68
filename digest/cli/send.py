"""CLI commands: send."""

from __future__ import annotations
