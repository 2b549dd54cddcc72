"""Catalog checks: GTIN check digits and the per-SKU problems `catalog check` reports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

MAX_TITLE = 150
GTIN_LENGTHS = (8, 12, 13, 14)


# the ASCII codes' '0' offsets in the weighted sum below, per length
GTIN_OFFSETS = {n: 48 * (n + 2 * (n // 2)) for n in GTIN_LENGTHS}


def gtin_valid(code: str | None) -> bool:
    """True for a GTIN-8/12/13/14 whose GS1 check digit is right (not all zeros).

    Weights 3, 1, 3, ... from the right of the body, 1 for the check digit; the sum of all
    must end in 0. That is every digit once plus every second one from the right twice more,
    summed over the ASCII bytes directly: it runs once per item in every feed.
    """
    if not code:
        return False
    offset = GTIN_OFFSETS.get(len(code))
    if offset is None or not (code.isascii() and code.isdigit()):
        return False
    digits = code.encode()
    plain = sum(digits)
    return (plain + 2 * sum(digits[-2::-2]) - offset) % 10 == 0 and plain != 48 * len(code)


@dataclass(frozen=True)
class Problem:
    sku: str
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"sku": self.sku, "field": self.field, "problem": self.message}


def check_product(p: dict[str, Any], group_sizes: dict[str, int]) -> list[Problem]:
    """Problems of one product as ``iter_catalog`` yields it."""
    sku = p["sku"]
    out: list[Problem] = []

    def add(field: str, message: str) -> None:
        out.append(Problem(sku, field, message))

    title = (p.get("title") or "").strip()
    if not title:
        add("title", "missing title")
    elif len(title) > MAX_TITLE:
        add("title", f"title is {len(title)} characters; channels allow {MAX_TITLE}")
    if not p.get("price"):
        add("price", "missing price")
    elif p.get("sale_price") and Decimal(p["sale_price"]) > Decimal(p["price"]):
        add("sale_price", f"sale price {p['sale_price']} is above the price {p['price']}")
    gtin = p.get("gtin")
    if gtin and not gtin_valid(gtin):
        add("gtin", f"GTIN {gtin} is not valid (wrong length or check digit)")
    if not p.get("images"):
        add("image", "no image")
    for location, qty in sorted(p.get("stock", {}).items()):
        if qty < 0:
            add("stock", f"negative stock {qty} at {location}")
    has_variant_attrs = any(p.get(k) for k in ("color", "size", "material", "pattern"))
    group = p.get("item_group_id")
    if group and group_sizes.get(group, 0) > 1 and not has_variant_attrs:
        add("variant", f"variant of {group} without color, size, material or pattern")
    if not p.get("brand") and not gtin and not p.get("mpn"):
        add("identifiers", "no brand, GTIN or MPN: most channels need at least two")
    return out


def check_database(db: Any) -> list[Problem]:  # db: sqlite_utils.Database
    """Every problem in the catalog, SKU by SKU (archived products are not checked)."""
    from multichan.catalog.store import iter_catalog

    sql = "SELECT item_group_id, count(*) FROM products WHERE item_group_id IS NOT NULL GROUP BY 1"
    return check_catalog(iter_catalog(db), dict(db.execute(sql).fetchall()))


def check_catalog(products: Iterable[dict[str, Any]], group_sizes: dict[str, int]) -> list[Problem]:
    problems: list[Problem] = []
    for p in products:
        if p.get("status") == "archived":
            continue
        problems.extend(check_product(p, group_sizes))
    return problems
