"""Importers: turn a seller's existing export (Shopify, WooCommerce, generic CSV) into catalog rows.

Each format module exposes ``parse(path, currency) -> ParseResult`` and ``SOURCES`` (which
catalog field comes from which of its columns); ``stream`` here runs the module, then leaves alone
the fields whose columns the file lacks (``base.leave_alone``); ``parse`` does the same and reads
every item into a list (small files, tests); ``run`` streams the items into the upsert, which
takes them in batches in one transaction: memory stays flat however long the file, and an
import that fails or is killed part way leaves the catalog as it was.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from multichan.catalog.importers import base
from multichan.catalog.importers.base import ParseResult
from multichan.catalog.store import ProductInput, UpsertResult, upsert
from multichan.errors import ConfigError, MultichanError, UsageError
from multichan.money import currency_code

FORMATS = {
    "shopify": "multichan.catalog.importers.shopify",
    "woocommerce": "multichan.catalog.importers.woocommerce",
    "csv": "multichan.catalog.importers.csv_generic",
}


@dataclass
class ImportOutcome:
    parsed: ParseResult
    upserted: UpsertResult


def stream(fmt: str, path: Path, currency: str | None = None) -> ParseResult:
    """Open ``path`` as ``fmt``: the header is read and checked now, the items are a generator
    (each carries only the fields the file has columns for); ``rejected`` and ``warnings`` are
    complete once it is exhausted.

    ``currency`` names the file's currency in messages (a price with too many decimals).
    """
    module = importlib.import_module(FORMATS[fmt])
    result: ParseResult = module.parse(path, currency)
    base.leave_alone(result, module.SOURCES)
    return result


def parse(fmt: str, path: Path, currency: str | None = None) -> ParseResult:
    """``stream``, with every item read into a list."""
    result = stream(fmt, path, currency)
    result.items = list(result.items)
    return result


def run(
    db: sqlite_utils.Database,
    fmt: str,
    path: Path,
    *,
    dry_run: bool = False,
    currency: str | None = None,
    default_currency: str | None = None,
    progress: Callable[[int], None] | None = None,
    source: str | None = None,
) -> ImportOutcome:
    """Stream ``path`` as ``fmt`` into the catalog: its good rows are upserted, in one
    transaction (nothing is written on dry run, or when reading the file fails part way).

    ``currency`` (import --currency) is the currency of the file's prices, written to every
    row whose file says none (Shopify and WooCommerce exports never do). Without it, a file
    with no currency column leaves the currency of existing SKUs alone, and new SKUs get
    ``default_currency`` (the shop's); an empty currency cell means the shop's.
    ``progress`` is told how many products were read so far, every ``PROGRESS_EVERY``.
    An import that writes is recorded as one of ``source`` (default: the file's name) in
    ``imports``, for ``catalog prune`` (``base.recorded_upsert``).
    """
    given = _code(currency, "--currency", UsageError) if currency else None
    shop = (
        _code(default_currency, "channels.yaml shop.currency", ConfigError)
        if default_currency
        else None
    )
    fallback = given or shop
    parsed = stream(fmt, path, fallback)
    parsed.items = _with_currency(parsed.items, given, fallback)
    if progress is not None:
        parsed.items = _reported(parsed.items, progress)
    if given and "currency" in parsed.absent:
        parsed.absent.remove("currency")
    if dry_run:
        upserted = upsert(db, parsed.items, dry_run=True)
    else:
        upserted = base.recorded_upsert(db, fmt, source or path.name, parsed)
    for definition, sku, reason in upserted.bundles_refused:  # a bundle definition refused
        parsed.rejected.append(base.Rejection(definition.line, sku, reason))
    return ImportOutcome(parsed, upserted)


PROGRESS_EVERY = 500  # products read between two progress reports


def _reported(
    items: Iterable[ProductInput], progress: Callable[[int], None]
) -> Iterator[ProductInput]:
    """``items``, telling ``progress`` how many were read, every ``PROGRESS_EVERY``."""
    n = 0
    for n, item in enumerate(items, 1):
        if n % PROGRESS_EVERY == 0:
            progress(n)
        yield item
    progress(n)


def _code(value: str, what: str, error: type[MultichanError]) -> str:
    """``value`` as an ISO 4217 code, or ``error`` naming ``what`` and the likely code."""
    try:
        return currency_code(value)
    except ValueError as exc:
        raise error(f"{what}: {exc}") from None


def _with_currency(
    items: Iterable[ProductInput], given: str | None, fallback: str | None
) -> Iterator[ProductInput]:
    for item in items:
        if not item.fields.get("currency"):
            if given or "currency" in item.fields:
                if fallback:
                    item.fields["currency"] = fallback
                else:
                    item.fields.pop("currency", None)  # the schema's default, as before
            elif fallback:
                item.defaults["currency"] = fallback
        yield item
