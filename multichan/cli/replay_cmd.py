"""`multichan replay RUN`: what a past push or export run planned and sent (``--against now``)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """(filled in by its command's work)"""
