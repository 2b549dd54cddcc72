"""Google's enumerations, limits and attribute names, and the checks of single values (GTIN with
its GS1 check digit and ranges, price, URL, ISO 8601 dates, control characters) that the item and
file rules build on.  Sources and the project's stricter choices: see the package docstring.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from os import PathLike
from urllib.parse import urlsplit

G_NS = "http://base.google.com/ns/1.0"

# attribute name -> list of values (several for repeated attributes)
Item = dict[str, list[str]]
StrPath = str | PathLike[str]

# --------------------------------------------------------------------------
# Enumerations and limits (sources in the package docstring)


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
