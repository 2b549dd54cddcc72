"""The rules for one product item (required attributes, lengths, URLs, availability, prices,
enumerations, GTINs and identifiers) and the feed-wide rules across items (unique ids, item
groups, variant siblings), shared by the XML and the tab-separated checker.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit

from .values import (
    AGE_GROUP,
    AVAILABILITY,
    CONDITION,
    GENDER,
    IDENTIFIER_EXISTS,
    MAX_ADDITIONAL_IMAGES,
    MAX_GTINS,
    MAX_LEN,
    REQUIRED,
    SIBLING_ATTRS,
    SINGLE_VALUED,
    VARIANT_ATTRS,
    Item,
    _control_chars,
    _gtin_problems,
    _iso8601,
    _parse_price,
    _spaced_hint,
    _url_problem,
)

# --------------------------------------------------------------------------
# Per-item rules, shared by XML and TSV


def _label(item: Item, index: int) -> str:
    ids = [v for v in item.get("id", []) if v.strip()]
    return f"item {ids[0].strip()}" if ids else f"item #{index}"


def _first(item: Item, name: str) -> str:
    for value in item.get(name, []):
        if value.strip():
            return value.strip()
    return ""


def _check_item(item: Item, label: str, hints: dict[str, str]) -> list[str]:
    out: list[str] = []

    def bad(attr: str, reason: str) -> None:
        out.append(f"{label}: {attr}: {reason}")

    for attr, values in item.items():
        for value in values:
            chars = _control_chars(value)
            if chars:
                bad(attr, f"contains control characters {', '.join(chars)}")
        distinct = {v.strip() for v in values if v.strip()}
        if attr in SINGLE_VALUED and len(distinct) > 1:
            bad(attr, f"given {len(distinct)} different values; it is not a repeated field")

    for attr in REQUIRED:
        if not _first(item, attr):
            given = item.get(attr)
            if given is not None:
                bad(attr, "empty")
            else:
                bad(attr, "missing" + (f" ({hints[attr]})" if attr in hints else ""))

    for attr, limit in MAX_LEN.items():
        for value in item.get(attr, []):
            if len(value.strip()) > limit:
                bad(attr, f"longer than {limit} characters ({len(value.strip())})")

    for attr in ("link", "image_link"):
        value = _first(item, attr)
        if value and len(value) <= 2000:
            problem = _url_problem(value, image=attr == "image_link")
            if problem:
                bad(attr, problem)

    extra = [v.strip() for v in item.get("additional_image_link", []) if v.strip()]
    if len(extra) > MAX_ADDITIONAL_IMAGES:
        bad("additional_image_link", f"{len(extra)} images; at most {MAX_ADDITIONAL_IMAGES}")
    for value in extra:
        if len(value) <= 2000:
            problem = _url_problem(value, image=True)
            if problem:
                bad("additional_image_link", problem)

    availability = _first(item, "availability")
    if availability and availability not in AVAILABILITY:
        bad("availability", _spaced_hint(availability, AVAILABILITY))
    availability_date = _first(item, "availability_date")
    if availability in ("preorder", "backorder") and not availability_date:
        bad("availability_date", f"required when availability is {availability}")
    if availability_date and not _iso8601(availability_date):
        bad("availability_date", f"{availability_date!r} is not an ISO 8601 date")

    price = _parse_price(_first(item, "price")) if _first(item, "price") else None
    if isinstance(price, str):
        bad("price", price)
    sale_text = _first(item, "sale_price")
    if sale_text:
        sale = _parse_price(sale_text)
        if isinstance(sale, str):
            bad("sale_price", sale)
        elif isinstance(price, tuple):
            if sale[1] != price[1]:
                bad("sale_price", f"currency {sale[1]} differs from price currency {price[1]}")
            elif sale[0] >= price[0]:
                price_text = _first(item, "price")
                bad("sale_price", f"{sale_text!r} is not lower than price {price_text!r}")
    effective = _first(item, "sale_price_effective_date")
    if effective:
        ends = effective.split("/")
        if len(ends) != 2 or not all(_iso8601(e) for e in ends):
            bad("sale_price_effective_date", f"{effective!r} is not two ISO 8601 dates 'a/b'")
        else:
            try:
                if datetime.fromisoformat(ends[0]) >= datetime.fromisoformat(ends[1]):
                    bad("sale_price_effective_date", f"{effective!r} ends before it starts")
            except TypeError:  # one end has a time zone, the other not
                bad("sale_price_effective_date", f"{effective!r} mixes zoned and naive times")
        if not sale_text:
            bad("sale_price_effective_date", "given without sale_price")

    for attr, allowed in (
        ("condition", CONDITION),
        ("age_group", AGE_GROUP),
        ("gender", GENDER),
        ("identifier_exists", IDENTIFIER_EXISTS),
    ):
        value = _first(item, attr)
        if value and value not in allowed:
            bad(attr, _spaced_hint(value, allowed))

    gtins = [v.strip() for v in item.get("gtin", []) if v.strip()]
    if len(gtins) > MAX_GTINS:
        bad("gtin", f"{len(gtins)} values; at most {MAX_GTINS}")
    for value in gtins:
        for problem in _gtin_problems(value):
            bad("gtin", problem)

    # Unique product identifiers (6324478, 6324351): a new product (condition
    # defaults to new) needs a brand -- media needs a GTIN instead -- unless
    # identifier_exists says there are none.
    no_identifiers = _first(item, "identifier_exists") in ("no", "false")
    condition = _first(item, "condition") or "new"
    category = _first(item, "google_product_category")
    is_media = category == "783" or category.casefold().startswith("media")
    if condition == "new" and not no_identifiers:
        if is_media and not gtins:
            bad("gtin", "missing for a new media product; give gtin or identifier_exists=no")
        elif not is_media and not _first(item, "brand"):
            bad("brand", "missing for a new product; give brand or identifier_exists=no")
    if no_identifiers and gtins:
        bad("identifier_exists", "is no/false but the item has a gtin")
    return out


def _simplify(text: str) -> str:
    return " ".join(re.sub(r"[\W_]+", " ", text.casefold()).split())


def _check_feed_items(items: Sequence[Item], hints: Sequence[dict[str, str]]) -> list[str]:
    out: list[str] = []
    labels = [_label(item, i + 1) for i, item in enumerate(items)]
    for item, label, hint in zip(items, labels, hints, strict=True):
        out.extend(_check_item(item, label, hint))

    # id unique across the feed; casing does not make IDs unique (6324405).
    seen: dict[str, str] = {}
    for item, label in zip(items, labels, strict=True):
        value = _first(item, "id")
        if not value:
            continue
        earlier = seen.get(value.casefold())
        if earlier is None:
            seen[value.casefold()] = value
        elif earlier == value:
            out.append(f"{label}: id: duplicate id {value!r}")
        else:
            out.append(f"{label}: id: {value!r} differs from {earlier!r} only by letter case")

    def signature(item: Item) -> tuple[str, ...]:
        return tuple(_first(item, a).casefold() for a in VARIANT_ATTRS)

    # Variants sharing an item_group_id must differ in a variant attribute.
    groups: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        group = _first(item, "item_group_id")
        if group:
            groups.setdefault(group.casefold(), []).append(i)
    for members in groups.values():
        first_with: dict[tuple[str, ...], int] = {}
        for i in members:
            sig = signature(items[i])
            if sig in first_with:
                other = labels[first_with[sig]].removeprefix("item ")
                group = _first(items[i], "item_group_id")
                out.append(
                    f"{labels[i]}: item_group_id: same {'/'.join(VARIANT_ATTRS)} as {other} "
                    f"in group {group!r}; variants must differ in at least one of them"
                )
            else:
                first_with[sig] = i

    # Items with variant attributes that look like siblings (same brand and
    # title once the variant values are removed, or same landing page) must
    # carry an item_group_id (6324507).
    clusters: dict[tuple[str, str], list[int]] = {}
    for i, item in enumerate(items):
        if _first(item, "item_group_id"):
            continue
        values = [_first(item, a) for a in SIBLING_ATTRS if _first(item, a)]
        if not values:
            continue
        stem = _first(item, "title").casefold()
        for value in sorted(values, key=len, reverse=True):
            stem = re.sub(r"(?<!\w)" + re.escape(value.casefold()) + r"(?!\w)", " ", stem)
        brand = _first(item, "brand").casefold()
        if _simplify(stem):
            clusters.setdefault(("title", brand + "|" + _simplify(stem)), []).append(i)
        link = urlsplit(_first(item, "link"))
        if link.hostname and link.path.strip("/"):  # a shared home page proves nothing
            page = f"{link.hostname}{link.path}".casefold()
            clusters.setdefault(("landing page", page), []).append(i)
    flagged: set[int] = set()
    for (how, _key), members in clusters.items():
        if len(members) < 2 or len({signature(items[i]) for i in members}) < 2:
            continue
        for i in members:
            if i in flagged:
                continue
            flagged.add(i)
            others = ", ".join(labels[j].removeprefix("item ") for j in members if j != i)
            out.append(
                f"{labels[i]}: item_group_id: missing, but it has variant attributes and "
                f"shares its {how} with {others}; variants need a shared item_group_id"
            )
    return out
