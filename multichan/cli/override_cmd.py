"""`multichan override`: per-channel title, price and exclusion of a SKU."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """(filled in by its command's work)"""
