"""Independent checker of Google Merchant Center's published product-data rules.

This module is a test oracle: it judges the feed *files* that multichan writes
against Google's own published rules, without importing anything from the
``multichan`` package (on purpose: a shared bug cannot hide itself).

Public API (each returns a list of problems, ``[]`` when the file is valid)::

    check_google_xml(path)        # RSS 2.0 product feed with the g: namespace
    check_google_tsv(path)        # tab-separated product feed
    check_local_inventory(path)   # local inventory feed, TSV or CSV

Every problem reads ``"item <id>: <attribute>: <reason>"``.  An item without a
usable id is named by its 1-based position (``item #3``); a local inventory
row is named ``item <id> [store <store_code>]``; problems with the file as a
whole start with ``"feed: "``.

Sources (Google Merchant Center Help, support.google.com/merchants/answer/...):

* 7052112  Product data specification (required attributes, English
  underscored names and values).
* 160589   RSS 2.0 specification (``<rss version="2.0">``, one ``<channel>``,
  ``<item>`` per product, namespace ``xmlns:g="http://base.google.com/ns/1.0"``,
  ``title``/``link``/``description`` may be plain RSS elements, others ``g:``).
* 160588   Tab-delimited feeds (header row of attribute names, one product per
  line, tab separated; no tabs or line breaks inside values).
* 6324405  id: required, 1-50 characters, a unique ID for each product.
  Casing does not make IDs unique: stated for item_group_id on 6324507 and
  for id on Manufacturer Center's id page (manufacturers/answer/7495188).
* 6324415  title: required, 1-150 characters.
* 6324468  description: required, 1-5,000 characters (page id recalled; the
  limit is confirmed by the product data specification).
* 6324416  link: required, http/https, ASCII, RFC 3986, 1-2,000 characters.
* 6324350  image_link: required, http/https, ASCII, RFC 3986, 1-2,000
  characters, commas encoded as %2C.
* 6324370  additional_image_link: up to 10, same URL rules as image_link;
  comma separated in text feeds.
* 6324448  availability: in_stock, out_of_stock, preorder, backorder;
  availability_date required for preorder and backorder.
* 6324470  availability_date: ISO 8601.
* 6324371  price: number plus ISO 4217 currency, e.g. ``15.00 USD``.
* 6324471  sale_price: same format and requirements as price.
* 6324460  sale_price_effective_date: two ISO 8601 timestamps joined by ``/``.
* 6324469  condition: new, refurbished, used.
* 6324351  brand: 1-70 characters, required for products with a brand.
* 6324482  mpn: 1-70 characters (page id recalled, not re-read).
* 6324461  gtin: digits (spaces and dashes ignored), 8/12/13/14 digits, up to
  10 values.  7000684: no restricted GS1 ranges (prefix 2, 02, 04).
  6286302: no coupon ranges (prefix 05, 981-984, 99).  The GS1 mod-10 check
  digit (GS1 General Specifications section 7.9) must be right.
* 6324478  identifier_exists: yes/true/no/false; new products without unique
  product identifiers must say no/false; apparel and "other" categories need
  a brand, media needs a GTIN.
* 6324507  item_group_id: 1-50 characters; variants share one item_group_id
  and differ in color, size, material, pattern, age_group or gender; casing
  does not make item group ids unique.
* 6324463  age_group: newborn, infant, toddler, kids, adult.
* 6324479  gender: male, female, unisex.
* 3061342 / 14819809  Local inventory data specification: store_code and id
  (max 50 characters) per row; availability in_stock, limited_availability,
  on_display_to_order, out_of_stock; price as in the product feed.  Merchant
  API LocalInventoryAttributes (merchantapi.inventories_v1 discovery document):
  quantity >= 0, pickup_method/pickup_sla enumerations, pickup_method needs
  pickup_sla unless "not supported", instore_product_location <= 20 bytes.

Stricter than Google, on the brief of this project (see the notes at each
rule): supported values must use underscores (``in stock`` is rejected),
prices have at most two decimals and must be above zero, sale_price must be
lower than price, and a local inventory row must carry quantity.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from os import PathLike
from urllib.parse import urlsplit

__all__ = [
    "G_NS",
    "check_google_tsv",
    "check_google_xml",
    "check_local_inventory",
    "gs1_check_digit",
]

G_NS = "http://base.google.com/ns/1.0"

# attribute name -> list of values (several for repeated attributes)
Item = dict[str, list[str]]
StrPath = str | PathLike[str]

# --------------------------------------------------------------------------
# Enumerations and limits (sources in the module docstring)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


AVAILABILITY = ("in_stock", "out_of_stock", "preorder", "backorder")
LOCAL_AVAILABILITY = ("in_stock", "limited_availability", "on_display_to_order", "out_of_stock")
CONDITION = ("new", "refurbished", "used")
AGE_GROUP = ("newborn", "infant", "toddler", "kids", "adult")
GENDER = ("male", "female", "unisex")
IDENTIFIER_EXISTS = ("yes", "true", "no", "false")
PICKUP_METHOD = ("buy", "reserve", "ship to store", "not supported")
PICKUP_SLA = (
    "same day",
    "next day",
    "2-day",
    "3-day",
    "4-day",
    "5-day",
    "6-day",
    "7-day",
    "multi-week",
)

REQUIRED = ("id", "title", "description", "link", "image_link", "availability", "price")
MAX_LEN = {
    "id": 50,
    "title": 150,
    "description": 5000,
    "link": 2000,
    "image_link": 2000,
    "additional_image_link": 2000,
    "brand": 70,
    "mpn": 70,
    "item_group_id": 50,
}
MAX_ADDITIONAL_IMAGES = 10
MAX_GTINS = 10

# Variant-defining attributes (answer 6324507).  The "sibling without
# item_group_id" heuristic uses the first four, as in the project brief.
VARIANT_ATTRS = ("color", "size", "material", "pattern", "age_group", "gender")
SIBLING_ATTRS = ("color", "size", "material", "pattern")

# Single-valued attributes: giving one twice with different values is ambiguous.
SINGLE_VALUED = (
    "id",
    "title",
    "description",
    "link",
    "image_link",
    "availability",
    "availability_date",
    "price",
    "sale_price",
    "sale_price_effective_date",
    "condition",
    "brand",
    "mpn",
    "identifier_exists",
    "item_group_id",
    "color",
    "size",
    "material",
    "pattern",
    "age_group",
    "gender",
    "google_product_category",
)

# In text feeds these repeated attributes are comma separated (6324370, 6324461).
COMMA_LISTS = ("additional_image_link", "gtin")

# Active ISO 4217 currency codes (funds, metals and test codes left out).
ISO_4217 = _words(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR
    FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD
    JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT
    MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG
    QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB
    TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF
    XPF YER ZAR ZMW ZWG ZWL
    """
)

# Attribute names Google accepts in a text feed header: the Merchant API
# ProductAttributes fields (merchantapi.products_v1 discovery document) in
# their feed spelling, plus feed-only names.
KNOWN_ATTRIBUTES = _words(
    """
    id title description link image_link additional_image_link mobile_link canonical_link
    availability availability_date cost_of_goods_sold expiration_date price sale_price
    sale_price_effective_date unit_pricing_measure unit_pricing_base_measure installment
    subscription_cost loyalty_points loyalty_program minimum_price auto_pricing_min_price
    maximum_retail_price google_product_category product_type brand gtin mpn
    identifier_exists condition adult multipack is_bundle certification
    energy_efficiency_class min_energy_efficiency_class max_energy_efficiency_class
    age_group color gender material pattern size size_type size_system item_group_id
    item_group_title product_length product_width product_height product_weight
    product_detail product_highlight ads_redirect custom_label_0 custom_label_1
    custom_label_2 custom_label_3 custom_label_4 promotion_id lifestyle_image_link
    short_title structured_title structured_description external_seller_id
    excluded_destination included_destination shopping_ads_excluded_country pause
    shipping shipping_label shipping_weight shipping_length shipping_width shipping_height
    ships_from_country transit_time_label max_handling_time min_handling_time
    free_shipping_threshold carrier_shipping shipping_handling_business_days
    shipping_transit_business_days handling_cutoff_time minimum_order_value tax
    tax_category return_policy_label virtual_model_link video_link link_template
    mobile_link_template pickup_method pickup_sla store_code sell_on_google_quantity
    ads_grouping ads_labels display_ads_id display_ads_link display_ads_similar_id
    display_ads_title display_ads_value product_fee disclosure_date
    consumer_notice warranty returns related_products document_link
    """
)

_URL_ALLOWED = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%"
)
_PRICE_RE = re.compile(r"^(\d+)(?:\.(\d+))? ([A-Za-z]{3})$")
_HEADER_RE = re.compile(r"^([a-z0-9_]+)(?:\([a-z0-9_:]+\))?$")
_QUANTITY_RE = re.compile(r"^\d+$")


# --------------------------------------------------------------------------
# Small value checks


def gs1_check_digit(body: str) -> int:
    """GS1 mod-10 check digit for ``body`` (all digits except the check digit).

    Weights 3 and 1 alternate from the rightmost digit of the body.
    """
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def _gtin_problems(raw: str) -> list[str]:
    value = raw.replace(" ", "").replace("-", "")
    if not value:
        return []
    if not value.isascii() or not value.isdigit():
        return [f"{raw!r} must be digits only (spaces and dashes are ignored)"]
    if len(value) not in (8, 12, 13, 14):
        return [f"{raw!r} has {len(value)} digits; a GTIN has 8, 12, 13 or 14"]
    if set(value) == {"0"}:
        return [f"{raw!r} is all zeros"]
    expected = gs1_check_digit(value[:-1])
    if int(value[-1]) != expected:
        return [f"{raw!r} has a wrong GS1 check digit (expected {expected})"]
    if len(value) == 12:
        gs1 = "0" + value
    elif len(value) == 14:
        gs1 = value[1:] if value.startswith("0") else ""
    else:  # 8 or 13: Google's prefixes read literally
        gs1 = value
    if gs1.startswith(("05", "981", "982", "983", "984", "99")):
        return [f"{raw!r} is in a GS1 coupon range (prefix 05, 981-984 or 99)"]
    if gs1.startswith(("2", "02", "04")):
        return [f"{raw!r} is in a GS1 restricted range (prefix 2, 02 or 04)"]
    return []


def _parse_price(value: str) -> tuple[Decimal, str] | str:
    """Return (amount, currency) or the reason the value is not a Google price."""
    match = _PRICE_RE.match(value)
    if match is None:
        return f"{value!r} is not '<number> <ISO 4217 code>' such as '15.00 USD'"
    whole, decimals, currency = match.groups()
    if decimals is not None and len(decimals) > 2:
        return f"{value!r} has more than 2 decimals"
    if currency != currency.upper() or currency not in ISO_4217:
        return f"{value!r}: {currency!r} is not an ISO 4217 currency code"
    amount = Decimal(whole + "." + (decimals or "0"))
    if amount <= 0:
        return f"{value!r} must be greater than 0"
    return amount, currency


def _url_problem(value: str, *, image: bool) -> str | None:
    if len(value) > 2000:
        return f"longer than 2000 characters ({len(value)})"
    if not value.isascii():
        return f"{value!r} has non-ASCII characters (percent-encode them, RFC 3986)"
    if any(c.isspace() for c in value):
        return f"{value!r} contains whitespace (encode spaces as %20)"
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not value.lower().startswith(scheme + "://"):
        return f"{value!r} must start with http:// or https://"
    if not parts.hostname:
        return f"{value!r} has no host"
    bad = sorted({c for c in value if c not in _URL_ALLOWED})
    if bad:
        return f"{value!r} has characters not allowed by RFC 3986: {''.join(bad)!r}"
    if re.search(r"%(?![0-9A-Fa-f]{2})", value):
        return f"{value!r} has a '%' that is not a percent-encoding"
    if image and "," in value:
        return f"{value!r} has an unencoded comma (use %2C)"
    return None


def _iso8601(value: str) -> bool:
    text = value.strip()
    if not re.match(r"^\d{4}-\d{2}-\d{2}", text):
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _control_chars(value: str) -> list[str]:
    return sorted(
        {
            f"U+{ord(c):04X}"
            for c in value
            if unicodedata.category(c) in ("Cc", "Cs") and c not in "\t\n\r"
        }
    )


def _spaced_hint(value: str, allowed: Sequence[str]) -> str:
    fixed = value.strip().lower().replace(" ", "_")
    if " " in value and fixed in allowed:
        return f"{value!r} uses spaces; Google's value is {fixed!r}"
    return f"{value!r} is not one of {', '.join(allowed)}"


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


# --------------------------------------------------------------------------
# XML (RSS 2.0)


def _local(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


def check_google_xml(path: StrPath) -> list[str]:
    """Check an RSS 2.0 product feed file; return the problems found."""
    namespaces: list[tuple[str, str]] = []
    try:
        for _event, ns in ET.iterparse(path, events=("start-ns",)):
            namespaces.append(ns)
        tree = ET.parse(path)
    except ET.ParseError as exc:
        return [f"feed: xml: not well-formed ({exc}); escape & < > or use CDATA"]
    except OSError as exc:
        return [f"feed: file: cannot read ({exc})"]
    out: list[str] = []
    root = tree.getroot()
    if root.tag != "rss":
        return [f"feed: rss: root element is <{root.tag}>, not <rss>"]
    if root.get("version") != "2.0":
        out.append(f"feed: rss: version is {root.get('version')!r}, not '2.0'")
    if G_NS not in {uri for _prefix, uri in namespaces}:
        out.append(f"feed: xmlns:g: the namespace {G_NS} is not declared")
    for prefix, uri in namespaces:
        if prefix == "g" and uri != G_NS:
            out.append(f"feed: xmlns:g: prefix g is bound to {uri!r}, not {G_NS!r}")
    channels = root.findall("channel")
    if len(channels) != 1:
        out.append(f"feed: channel: <rss> needs exactly one <channel>, has {len(channels)}")
        if not channels:
            return out

    items: list[Item] = []
    hints: list[dict[str, str]] = []
    for element in channels[0].findall("item"):
        item: Item = {}
        hint: dict[str, str] = {}
        markup: list[tuple[str, str]] = []
        for child in element:
            ns, name = _local(child.tag)
            if ns != G_NS and not (ns == "" and name in ("title", "link", "description")):
                if ns == "" and name in REQUIRED:
                    hint[name] = f"found <{name}> without the g: namespace prefix"
                continue
            sub = [_local(c.tag) for c in child]
            loose = [s for s in sub if s[0] != G_NS]
            if loose:
                markup.append((name, loose[0][1]))
                text = "".join(child.itertext())
            elif sub:  # nested attribute such as g:shipping
                text = ""
            else:
                text = child.text or ""
            item.setdefault(name, []).append(text)
        items.append(item)
        hints.append(hint)
        for name, tag in markup:
            label = _label(item, len(items))
            out.append(
                f"{label}: {name}: contains unescaped markup <{tag}>; "
                "escape HTML (&lt;) or wrap it in CDATA"
            )
    return out + _check_feed_items(items, hints)


# --------------------------------------------------------------------------
# Delimited text


def _read_text(path: StrPath) -> str | list[str]:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        return [f"feed: file: cannot read ({exc})"]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [f"feed: encoding: not UTF-8 ({exc})"]
    return text.removeprefix("\ufeff")


def _lines(text: str) -> list[tuple[int, str]]:
    """Non-empty lines with their 1-based numbers; only \\n and \\r\\n end a line."""
    rows = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if line.strip():
            rows.append((number, line))
    return rows


def _unquote(value: str) -> tuple[str, bool]:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('""', '"'), True
    return value, False


def check_google_tsv(path: StrPath) -> list[str]:
    """Check a tab-separated product feed file; return the problems found."""
    text = _read_text(path)
    if isinstance(text, list):
        return text
    lines = _lines(text)
    if not lines:
        return ["feed: header: the file is empty"]
    out: list[str] = []
    header = [h.strip() for h in lines[0][1].split("\t")]
    names: list[str] = []
    for column, name in enumerate(header, start=1):
        match = _HEADER_RE.match(name)
        base = match.group(1) if match else ""
        if base not in KNOWN_ATTRIBUTES:
            suggestion = name.strip().lower().replace(" ", "_")
            hint = f"; did you mean {suggestion!r}?" if suggestion in KNOWN_ATTRIBUTES else ""
            out.append(
                f"feed: header: column {column} {name!r} is not a Google attribute name "
                f"(lowercase English with underscores, e.g. image_link){hint}"
            )
        names.append(base or name)

    items: list[Item] = []
    for number, line in lines[1:]:
        fields = line.split("\t")
        item: Item = {}
        for name, raw in zip(names, fields, strict=False):
            value, quoted = _unquote(raw.strip())
            if name in COMMA_LISTS and not quoted:
                parts = value.split(",") if value else [""]
            else:
                parts = [value]
            item.setdefault(name, []).extend(parts)
        items.append(item)
        if len(fields) != len(names):
            out.append(
                f"{_label(item, len(items))}: row: line {number} has {len(fields)} "
                f"tab-separated fields but the header has {len(names)} "
                "(tab or line break inside a value?)"
            )
    return out + _check_feed_items(items, [{} for _ in items])


def _delimited_rows(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and data rows of a TSV or CSV file (tab in the header means TSV)."""
    lines = _lines(text)
    if not lines:
        return [], []
    if "\t" in lines[0][1] or "," not in lines[0][1]:
        rows = [(n, line.split("\t")) for n, line in lines]
    else:
        reader = csv.reader(io.StringIO(text, newline=""))
        rows = [(reader.line_num, row) for row in reader if any(f.strip() for f in row)]
    header = [h.strip() for h in rows[0][1]]
    return header, rows[1:]


def check_local_inventory(path: StrPath) -> list[str]:
    """Check a local inventory feed file (TSV or CSV); return the problems found."""
    text = _read_text(path)
    if isinstance(text, list):
        return text
    header, rows = _delimited_rows(text)
    if not header:
        return ["feed: header: the file is empty"]
    out: list[str] = []
    for required in ("store_code", "id", "quantity"):
        if required not in header:
            out.append(f"feed: header: required column {required!r} is missing")
    seen: dict[tuple[str, str], int] = {}
    for number, fields in rows:
        row: Item = {}
        for name, raw in zip(header, fields, strict=False):
            row.setdefault(name, []).append(_unquote(raw.strip())[0])
        store, pid = _first(row, "store_code"), _first(row, "id")
        label = f"item {pid or '#' + str(number)} [store {store or '?'}]"

        def bad(attr: str, reason: str, label: str = label) -> None:
            out.append(f"{label}: {attr}: {reason}")

        if len(fields) != len(header):
            bad("row", f"line {number} has {len(fields)} fields, the header has {len(header)}")
        for attr, values in row.items():
            for value in values:
                chars = _control_chars(value)
                if chars:
                    bad(attr, f"contains control characters {', '.join(chars)}")
        for attr in ("store_code", "id", "quantity"):
            if not _first(row, attr) and attr in header:
                bad(attr, "empty")
        if len(pid) > 50:
            bad("id", f"longer than 50 characters ({len(pid)})")
        quantity = _first(row, "quantity")
        if quantity and not _QUANTITY_RE.match(quantity):
            bad("quantity", f"{quantity!r} is not an integer >= 0")
        availability = _first(row, "availability")
        if availability and availability not in LOCAL_AVAILABILITY:
            bad("availability", _spaced_hint(availability, LOCAL_AVAILABILITY))
        price = _parse_price(_first(row, "price")) if _first(row, "price") else None
        if isinstance(price, str):
            bad("price", price)
        sale_text = _first(row, "sale_price")
        if sale_text:
            sale = _parse_price(sale_text)
            if isinstance(sale, str):
                bad("sale_price", sale)
            elif isinstance(price, tuple) and (sale[1] != price[1] or sale[0] >= price[0]):
                bad("sale_price", f"{sale_text!r} is not lower than price in the same currency")
        method, sla = _first(row, "pickup_method"), _first(row, "pickup_sla")
        if method and method.replace("_", " ") not in PICKUP_METHOD:
            bad("pickup_method", f"{method!r} is not one of {', '.join(PICKUP_METHOD)}")
        if sla and sla.replace("_", " ") not in PICKUP_SLA:
            bad("pickup_sla", f"{sla!r} is not one of {', '.join(PICKUP_SLA)}")
        if method and method.replace("_", " ") != "not supported" and not sla:
            bad("pickup_sla", "required with pickup_method (unless 'not supported')")
        location = _first(row, "instore_product_location")
        if len(location.encode("utf-8")) > 20:
            bad("instore_product_location", "longer than 20 bytes")
        if store and pid:
            key = (store, pid)
            if key in seen:
                bad("store_code", f"duplicate (store_code, id) pair, first on line {seen[key]}")
            else:
                seen[key] = number
    return out
