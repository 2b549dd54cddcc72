"""`multichan bundle`: kits and bundles made of other SKUs."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """(filled in by its command's work)"""
