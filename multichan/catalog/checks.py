"""Catalog checks: GTIN check digits and the per-SKU problems `catalog check` reports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

MAX_TITLE = 150
GTIN_LENGTHS = (8, 12, 13, 14)


def gtin_valid(code: str | None) -> bool:
    """True for a GTIN-8/12/13/14 whose GS1 check digit is right."""
    if not code or not code.isdigit() or len(code) not in GTIN_LENGTHS:
        return False
    digits = [int(c) for c in code]
    body, check = digits[:-1], digits[-1]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check and set(code) != {"0"}


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


def check_catalog(products: Iterable[dict[str, Any]], group_sizes: dict[str, int]) -> list[Problem]:
    problems: list[Problem] = []
    for p in products:
        if p.get("status") == "archived":
            continue
        problems.extend(check_product(p, group_sizes))
    return problems
