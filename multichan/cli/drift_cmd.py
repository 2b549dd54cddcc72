"""`multichan drift`: where the live channels no longer match what was pushed (and ``--fix``)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """(filled in by its command's work)"""
