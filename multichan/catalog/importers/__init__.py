"""Importers: turn a seller's existing export (Shopify, WooCommerce, generic CSV) into catalog rows.

Each format module exposes ``parse(path) -> ParseResult``; ``run`` parses then upserts.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from multichan.catalog.importers.base import ParseResult
from multichan.catalog.store import UpsertResult, upsert

FORMATS = {
    "shopify": "multichan.catalog.importers.shopify",
    "woocommerce": "multichan.catalog.importers.woocommerce",
    "csv": "multichan.catalog.importers.csv_generic",
}


@dataclass
class ImportOutcome:
    parsed: ParseResult
    upserted: UpsertResult


def parse(fmt: str, path: Path) -> ParseResult:
    module = importlib.import_module(FORMATS[fmt])
    return module.parse(path)  # type: ignore[no-any-return]


def run(
    db: sqlite_utils.Database,
    fmt: str,
    path: Path,
    *,
    dry_run: bool = False,
    currency: str | None = None,
) -> ImportOutcome:
    """Parse ``path`` as ``fmt`` and upsert its good rows (nothing is written on dry run).

    ``currency`` is the shop's currency for rows whose file says none (Shopify and WooCommerce
    exports never do).
    """
    parsed = parse(fmt, path)
    if currency:
        for item in parsed.items:
            if not item.fields.get("currency"):
                item.fields["currency"] = currency.upper()
    return ImportOutcome(parsed, upsert(db, parsed.items, dry_run=dry_run))
