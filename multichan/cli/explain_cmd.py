"""`multichan explain SKU`: every rule step behind a SKU's price and quantity on each channel."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """(filled in by its command's work)"""
