"""Seller edits: per-SKU field values set in multichan that imports do not overwrite.

``catalog set SKU field=value`` writes the value to the product and records a row of
``product_edits`` (SKU, field, the value, when). From then on an import that carries the field
leaves it alone: the value it brought is kept in the row's ``imported`` (with ``imported_at``)
and counted as *held back* when it differs from the seller's, so nothing imported is lost.
``catalog unset SKU field`` deletes the edit and puts back the value the last import brought
(or, when none came since the edit, the value the edit replaced). Values are stored as JSON,
so ``null`` (a cleared field) and numbers survive as they were. ``price set`` on a SKU whose
price is edited moves the edit along with it.

Every product field can be edited (``store.PRODUCT_FIELDS``); values are checked as an import
checks them (prices to the currency's minor units, condition, status, currency codes, stock
tracking, whole grams, options as a JSON object).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from multichan.errors import UsageError, did_you_mean

REQUIRED = {"title", "price", "condition", "currency", "status", "stock_tracking"}  # NOT NULL


@dataclass(frozen=True)
class Change:
    field: str
    old: Any
    new: Any

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "old": self.old, "new": self.new}


def _fields() -> tuple[str, ...]:
    from multichan.catalog.store import PRODUCT_FIELDS

    return PRODUCT_FIELDS


def parse_assignments(pairs: Iterable[str]) -> dict[str, str]:
    """``field=value`` arguments as a mapping; a UsageError names the first malformed one
    or unknown field."""
    fields = _fields()
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep:
            raise UsageError(f"{pair!r} is not field=value (such as brand=Acme)")
        check_field(name, fields)
        out[name] = value
    if not out:
        raise UsageError("name at least one field=value (such as brand=Acme)")
    return out


def check_field(name: str, fields: tuple[str, ...] | None = None) -> None:
    fields = fields or _fields()
    if name not in fields:
        raise UsageError(
            f"{name!r} is not a product field{did_you_mean(name, fields)}",
            hint="fields: " + ", ".join(fields),
        )


def value_of(field: str, text: str, currency: str | None) -> Any:
    """The value ``text`` given for ``field`` as the catalog stores it; UsageError when it is
    not one the field takes. An empty text clears the field (where it may be empty)."""
    from multichan.catalog.importers import base
    from multichan.money import currency_code, normalize

    raw = text.strip()
    if not raw:
        if field in REQUIRED:
            raise UsageError(f"{field} cannot be empty")
        return None
    try:
        if field in ("price", "sale_price"):
            return normalize(raw, currency)
        if field == "currency":
            return currency_code(raw)
        if field == "condition":
            return base.condition(raw)
        if field == "status":
            return base.status(raw)
        if field == "weight_grams":
            grams = base.quantity(raw, "weight_grams")
            if grams is not None and grams < 0:
                raise ValueError("weight_grams must not be negative")
            return grams
        if field == "gtin":
            return base.barcode(raw)
        if field == "stock_tracking":
            return base.stock_tracking(raw)
        if field == "options":
            options = json.loads(raw)
            if not isinstance(options, dict):
                raise ValueError('options must be a JSON object such as {"Size": "M"}')
            return base.options_json({str(k): str(v) for k, v in options.items()})
    except (ValueError, base.RowError) as exc:  # JSONDecodeError is a ValueError
        text = str(exc)
        raise UsageError(text if text.startswith(field) else f"{field}: {text}") from None
    return raw


def set_fields(db: sqlite_utils.Database, sku: str, values: Mapping[str, str]) -> list[Change]:
    """Set the fields of ``sku`` to ``values`` (text as typed) and record each as a seller
    edit; returns what changed. A field edited before keeps the value its edit replaced (or
    the last import brought) for ``unset``."""
    from multichan.catalog.checks import tolerant
    from multichan.catalog.schema import transaction
    from multichan.catalog.store import now, require_product

    with transaction(db, "edit"):
        with tolerant(db.conn):  # a cell another tool wrote badly is what an edit fixes
            current = require_product(db, sku)
        currency = current.get("currency")
        if "currency" in values:
            currency = value_of("currency", values["currency"], None)
        parsed = {name: value_of(name, text, currency) for name, text in values.items()}
        stamp = now()
        known = edits_of(db, sku)
        changes = []
        for name, new in parsed.items():
            old = current.get(name)
            if name in known:
                db.conn.execute(
                    "UPDATE product_edits SET value = ?, edited_at = ? WHERE sku = ? AND field = ?",
                    [json.dumps(new), stamp, sku, name],
                )
            else:
                db.conn.execute(
                    "INSERT INTO product_edits (sku, field, value, edited_at, imported)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [sku, name, json.dumps(new), stamp, json.dumps(old)],
                )
            changes.append(Change(name, old, new))
        sets = ", ".join(f'"{name}" = ?' for name in parsed)
        db.conn.execute(
            f"UPDATE products SET {sets}, updated_at = ? WHERE sku = ?",
            [*parsed.values(), stamp, sku],
        )
    return changes


def unset_fields(db: sqlite_utils.Database, sku: str, fields: Iterable[str]) -> list[Change]:
    """Drop the seller edits of ``fields`` and put back what the last import brought (or the
    value the edit replaced); returns what changed. A field without an edit is a UsageError."""
    from multichan.catalog.schema import transaction
    from multichan.catalog.store import now, require_product

    names = list(dict.fromkeys(fields))
    if not names:
        raise UsageError("name at least one field to unset (such as brand)")
    for name in names:
        check_field(name)
    with transaction(db, "unedit"):
        current = require_product(db, sku)
        known = edits_of(db, sku)
        missing = [n for n in names if n not in known]
        if missing:
            edited = ", ".join(sorted(known)) or "none"
            raise UsageError(
                f"{sku} has no seller edit of {', '.join(missing)} (edited fields: {edited})"
            )
        restored = {name: known[name]["imported"] for name in names}
        db.conn.executemany(
            "DELETE FROM product_edits WHERE sku = ? AND field = ?", [(sku, n) for n in names]
        )
        sets = ", ".join(f'"{name}" = ?' for name in restored)
        db.conn.execute(
            f"UPDATE products SET {sets}, updated_at = ? WHERE sku = ?",
            [*restored.values(), now(), sku],
        )
    return [Change(name, current.get(name), value) for name, value in restored.items()]


def edits_of(db: sqlite_utils.Database, sku: str) -> dict[str, dict[str, Any]]:
    """The seller edits of ``sku``: field -> value, edited_at, imported, imported_at (the
    imported value is what the last import brought, or before any, what the edit replaced)."""
    rows = db.conn.execute(
        "SELECT field, value, edited_at, imported, imported_at FROM product_edits"
        " WHERE sku = ? ORDER BY field",
        [sku],
    )
    return {
        name: {
            "value": json.loads(value) if value is not None else None,
            "edited_at": edited_at,
            "imported": json.loads(imported) if imported is not None else None,
            "imported_at": imported_at,
        }
        for name, value, edited_at, imported, imported_at in rows
    }


def follow_price(db: sqlite_utils.Database, sku: str, values: Mapping[str, Any]) -> None:
    """``price set`` wrote ``values`` (price, sale_price): an edit of those fields follows
    them, so the seller's newest value is the one imports leave alone."""
    db.conn.executemany(
        "UPDATE product_edits SET value = ?, edited_at = ? WHERE sku = ? AND field = ?",
        [
            (json.dumps(v), values.get("updated_at"), sku, k)
            for k, v in values.items()
            if k in ("price", "sale_price")
        ],
    )


def for_skus(conn: Any, skus: list[str]) -> dict[str, dict[str, Any]]:
    """SKU -> {field: the seller's value} for the edited ones of ``skus`` (the upsert's
    batch); empty when nothing is edited."""
    if not skus:
        return {}
    marks = ", ".join("?" * len(skus))
    out: dict[str, dict[str, Any]] = {}
    for sku, name, value in conn.execute(
        f"SELECT sku, field, value FROM product_edits WHERE sku IN ({marks})", skus
    ):
        out.setdefault(sku, {})[name] = json.loads(value) if value is not None else None
    return out


def any_edits(conn: Any) -> bool:
    return conn.execute("SELECT EXISTS (SELECT 1 FROM product_edits)").fetchone()[0] == 1
