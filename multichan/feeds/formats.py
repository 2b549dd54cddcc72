"""Feed formats: each channel type's default template, escaping, limits and published rules.

A validator takes an Offer and returns the problems that would make the channel reject it, as
(field, reason) pairs; an offer with problems is left out of the feed with a diagnostic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from multichan.catalog.checks import (
    DESCRIPTION_REQUIRED,
    IDENTIFIERS_REQUIRED,
    TITLE_EMPTY,
    identified,
    price_problem,
)
from multichan.offers import Offer

Problems = list[tuple[str, str]]
AVAILABILITY = {"in_stock", "out_of_stock", "preorder", "backorder"}
CONDITIONS = {"new", "refurbished", "used"}
GENDERS = {"male", "female", "unisex"}
AGE_GROUPS = {"newborn", "infant", "toddler", "kids", "adult"}


def _url(value: str | None) -> bool:
    return value is not None and value.startswith(("http://", "https://")) and " " not in value


def _common(o: Offer, max_id: int, max_title: int, max_description: int) -> Problems:
    problems: Problems = []
    if len(o.sku) > max_id:
        problems.append(("id", f"id is {len(o.sku)} characters; the limit is {max_id}"))
    if not o.title:
        problems.append(("title", TITLE_EMPTY))
    elif len(o.title) > max_title:
        problems.append(("title", f"title is {len(o.title)} characters; limit {max_title}"))
    if price_problem(o.price):
        problems.append(("price", price_problem(o.price) or ""))
    if len(o.description) > max_description:
        problems.append(("description", f"longer than {max_description} characters"))
    return problems


def google(o: Offer) -> Problems:
    """Google Merchant Center product data specification (support.google.com/merchants 7052112)."""
    problems = _common(o, 50, 150, 5000)
    if not o.description:
        problems.append(("description", DESCRIPTION_REQUIRED))
    if not _url(o.link):
        problems.append(("link", "link (product page URL, http/https) is required"))
    if not _url(o.image_link):
        problems.append(("image_link", "image_link (http/https) is required"))
    if len(o.additional_image_links) > 10:
        problems.append(("additional_image_link", "at most 10 additional images"))
    if o.availability not in AVAILABILITY:
        problems.append(("availability", f"{o.availability!r} is not a Google value"))
    if o.condition not in CONDITIONS:
        problems.append(("condition", f"{o.condition!r} is not new, refurbished or used"))
    if not identified(o.brand, o.gtin, o.mpn):
        problems.append(("brand", IDENTIFIERS_REQUIRED))
    elif not o.brand and o.condition == "new":
        problems.append(("brand", "brand is required for new products"))
    if o.gender and o.gender.lower() not in GENDERS:
        problems.append(("gender", f"{o.gender!r} is not male, female or unisex"))
    if o.age_group and o.age_group.lower() not in AGE_GROUPS:
        problems.append(("age_group", f"{o.age_group!r} is not one of {sorted(AGE_GROUPS)}"))
    if (o.color or o.size or o.material or o.pattern) and not o.item_group_id:
        pass  # a single product may carry a colour; Google only needs groups for variants
    return problems


def local_inventory(o: Offer) -> Problems:
    """Google local inventory feed (store_code, id, quantity, price, availability)."""
    problems: Problems = []
    if len(o.sku) > 50:
        problems.append(("id", "id longer than 50 characters"))
    if price_problem(o.price):
        problems.append(("price", price_problem(o.price) or ""))
    if not o.location_quantities:
        problems.append(("store_code", "no stock location counted for this channel"))
    return problems


def meta(o: Offer) -> Problems:
    """Meta commerce catalog data feed: required id, title, description, availability,
    condition, price, link, image_link, brand."""
    problems = _common(o, 100, 200, 9999)
    if not o.description:
        problems.append(("description", DESCRIPTION_REQUIRED))
    for name, value in (("link", o.link), ("image_link", o.image_link)):
        if not _url(value):
            problems.append((name, f"{name} (http/https) is required"))
    if not o.brand:
        problems.append(("brand", "brand is required"))
    if o.condition not in CONDITIONS:
        problems.append(("condition", f"{o.condition!r} is not new, refurbished or used"))
    return problems


def amazon(o: Offer) -> Problems:
    """Amazon JSON_LISTINGS_FEED offer messages: SKU up to 40 characters, a price."""
    problems: Problems = []
    if len(o.sku) > 40:
        problems.append(("sku", "Amazon SKUs are at most 40 characters"))
    if price_problem(o.price):
        problems.append(("price", price_problem(o.price) or ""))
    if not o.title:
        problems.append(("title", TITLE_EMPTY))
    return problems


def generic(o: Offer) -> Problems:
    return [("title", TITLE_EMPTY)] if not o.title else []


@dataclass(frozen=True)
class FeedFormat:
    type: str
    template: str
    escape: str  # xml, csv, tsv, json, text
    validate: Callable[[Offer], Problems]
    strip_html: bool = True
    max_title: int = 150
    max_description: int = 5000
    description: str = ""
    items_range: tuple[int, int] = (0, 10**12)  # what one file may hold, per the channel
    per_location: bool = False  # the validator reads each offer's stock per location
    # the channel applies the file as changes to what it holds, not as a replacement: a SKU
    # (per store, for a per-location feed) exported before and not offered now is sent
    # withdrawn, with quantity 0, or the channel keeps selling its last count
    updates: bool = False


FORMATS: dict[str, FeedFormat] = {f.type: f for f in (
    FeedFormat("google_merchant", "google_merchant.xml.j2", "xml", google,
               description="Google Merchant Center products, RSS 2.0 XML"),
    FeedFormat("google_merchant_tsv", "google_merchant.tsv.j2", "tsv", google,
               description="Google Merchant Center products, tab-separated"),
    FeedFormat("google_local_inventory", "google_local_inventory.tsv.j2", "tsv",
               local_inventory, per_location=True, updates=True,
               description="Google local inventory, one row per SKU and store"),
    FeedFormat("meta_catalog", "meta_catalog.csv.j2", "csv", meta, max_title=200,
               max_description=9999, description="Meta (Facebook/Instagram) catalog CSV"),
    FeedFormat("amazon_listings", "amazon_listings.json.j2", "json", amazon, max_title=200,
               items_range=(1, 25_000), updates=True,  # the feed schema: 1..25,000 messages
               max_description=2000, description="Amazon JSON_LISTINGS_FEED"),
    FeedFormat("csv", "generic.csv.j2", "csv", generic, strip_html=False,
               max_title=1000, max_description=100_000, description="Generic CSV"),
    FeedFormat("jsonl", "generic.jsonl.j2", "json", generic, strip_html=False,
               max_title=1000, max_description=100_000, description="JSON Lines"),
)}  # fmt: skip
