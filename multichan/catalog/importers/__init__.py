"""Importers: turn a seller's existing export (Shopify, WooCommerce, generic CSV) into catalog rows.

Each format module exposes ``parse(path, currency) -> ParseResult`` and ``SOURCES`` (which
catalog field comes from which of its columns); ``parse`` here runs the module, then leaves alone
the fields whose columns the file lacks (``base.leave_alone``); ``run`` parses then upserts.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from multichan.catalog.importers import base
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


def parse(fmt: str, path: Path, currency: str | None = None) -> ParseResult:
    """Parse ``path`` as ``fmt``; each item carries only the fields the file has columns for.

    ``currency`` names the file's currency in messages (a price with too many decimals).
    """
    module = importlib.import_module(FORMATS[fmt])
    result: ParseResult = module.parse(path, currency)
    base.leave_alone(result, module.SOURCES)
    return result


def run(
    db: sqlite_utils.Database,
    fmt: str,
    path: Path,
    *,
    dry_run: bool = False,
    currency: str | None = None,
    default_currency: str | None = None,
) -> ImportOutcome:
    """Parse ``path`` as ``fmt`` and upsert its good rows (nothing is written on dry run).

    ``currency`` (import --currency) is the currency of the file's prices, written to every
    row whose file says none (Shopify and WooCommerce exports never do). Without it, a file
    with no currency column leaves the currency of existing SKUs alone, and new SKUs get
    ``default_currency`` (the shop's); an empty currency cell means the shop's.
    """
    given = currency.upper() if currency else None
    fallback = given or (default_currency.upper() if default_currency else None)
    parsed = parse(fmt, path, fallback)
    for item in parsed.items:
        if item.fields.get("currency"):
            continue
        if given or "currency" in item.fields:
            if fallback:
                item.fields["currency"] = fallback
            else:
                item.fields.pop("currency", None)  # the schema's default, as before
        elif fallback:
            item.defaults["currency"] = fallback
    if given and "currency" in parsed.absent:
        parsed.absent.remove("currency")
    return ImportOutcome(parsed, upsert(db, parsed.items, dry_run=dry_run))
