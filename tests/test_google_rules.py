"""Tests of the Google Merchant Center rule checker (tests/google_rules/) itself: the rules of one
item and the rules across the items of a feed, each checked in both XML and TSV.

Each rule gets one hand-written bad feed, and the test shows that exactly the
expected problem is reported.  The hand-written good feeds and the rules of each
file format are in test_google_rules_files.py.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

try:  # tests/ is a package (tests/__init__.py)
    from tests import google_rules as gr
    from tests import google_rules_conftest as fx
    from tests.google_rules_conftest import Value, item
except ImportError:  # tests/ as a plain folder on sys.path
    import google_rules as gr  # type: ignore[no-redef]
    import google_rules_conftest as fx  # type: ignore[no-redef]
    from google_rules_conftest import Value, item  # type: ignore[no-redef]

write, run = fx.write, fx.run


# --------------------------------------------------------------------------
# One broken rule per case, both formats

LONG_URL = "https://shop.example.com/" + "a" * 1980

CASES: list[tuple[str, dict[str, Value | None], str]] = [
    # required attributes (7052112)
    ("missing title", {"title": None}, "item SKU-1: title: missing"),
    ("missing description", {"description": None}, "item SKU-1: description: missing"),
    ("missing link", {"link": None}, "item SKU-1: link: missing"),
    ("missing image", {"image_link": None}, "item SKU-1: image_link: missing"),
    ("missing availability", {"availability": None}, "item SKU-1: availability: missing"),
    ("missing price", {"price": None}, "item SKU-1: price: missing"),
    ("missing id", {"id": None}, "item #1: id: missing"),
    ("empty title", {"title": " "}, "item SKU-1: title: empty"),
    # id (6324405)
    ("id too long", {"id": "X" * 51}, "item " + "X" * 51 + ": id: longer than 50 characters (51)"),
    # title / description (6324415, 6324468)
    ("title too long", {"title": "t" * 151}, "item SKU-1: title: longer than 150 characters (151)"),
    (
        "description too long",
        {"description": "d" * 5001},
        "item SKU-1: description: longer than 5000 characters (5001)",
    ),
    # link (6324416)
    ("link ftp", {"link": "ftp://shop.example.com/mug"}, "item SKU-1: link: "),
    ("link relative", {"link": "/mug"}, "item SKU-1: link: '/mug' must start with http://"),
    ("link space", {"link": "https://shop.example.com/a mug"}, "contains whitespace"),
    ("link non-ascii", {"link": "https://shop.example.com/tasse-é"}, "non-ASCII"),
    ("link bad char", {"link": "https://shop.example.com/<mug>"}, "not allowed by RFC 3986"),
    ("link bad percent", {"link": "https://shop.example.com/100%"}, "not a percent-encoding"),
    ("link no host", {"link": "https:///mug"}, "has no host"),
    ("link too long", {"link": LONG_URL}, "item SKU-1: link: longer than 2000 characters (2005)"),
    # image_link / additional_image_link (6324350, 6324370)
    ("image http only", {"image_link": "shop.example.com/a.jpg"}, "item SKU-1: image_link: "),
    ("image comma", {"image_link": "https://shop.example.com/a,b.jpg"}, "unencoded comma"),
    (
        "11 additional images",
        {"additional_image_link": [f"https://shop.example.com/{i}.jpg" for i in range(11)]},
        "item SKU-1: additional_image_link: 11 images; at most 10",
    ),
    (
        "additional image not url",
        {"additional_image_link": "mug-2.jpg"},
        "item SKU-1: additional_image_link: 'mug-2.jpg' must start with http://",
    ),
    # availability (6324448, 6324470)
    (
        "availability with space",
        {"availability": "in stock"},
        "item SKU-1: availability: 'in stock' uses spaces; Google's value is 'in_stock'",
    ),
    ("availability unknown", {"availability": "available"}, "item SKU-1: availability: "),
    ("availability uppercase", {"availability": "IN_STOCK"}, "is not one of in_stock"),
    (
        "preorder without date",
        {"availability": "preorder"},
        "item SKU-1: availability_date: required when availability is preorder",
    ),
    (
        "bad availability date",
        {"availability": "backorder", "availability_date": "next week"},
        "item SKU-1: availability_date: 'next week' is not an ISO 8601 date",
    ),
    # price (6324371)
    ("price words", {"price": "15 dollars"}, "item SKU-1: price: '15 dollars' is not '<number>"),
    ("price no currency", {"price": "15.00"}, "is not '<number> <ISO 4217 code>'"),
    ("price comma decimal", {"price": "15,00 EUR"}, "is not '<number> <ISO 4217 code>'"),
    ("price symbol", {"price": "$15.00"}, "is not '<number> <ISO 4217 code>'"),
    ("price 3 decimals", {"price": "15.001 USD"}, "item SKU-1: price: '15.001 USD' has more"),
    ("price zero", {"price": "0.00 USD"}, "item SKU-1: price: '0.00 USD' must be greater than 0"),
    ("price bad code", {"price": "15.00 XYZ"}, "'XYZ' is not an ISO 4217 currency code"),
    ("price lowercase code", {"price": "15.00 usd"}, "'usd' is not an ISO 4217 currency code"),
    # sale_price (6324471, 6324460)
    (
        "sale not lower",
        {"sale_price": "15.00 USD"},
        "item SKU-1: sale_price: '15.00 USD' is not lower than price '15.00 USD'",
    ),
    (
        "sale other currency",
        {"sale_price": "10.00 EUR"},
        "item SKU-1: sale_price: currency EUR differs from price currency USD",
    ),
    ("sale bad format", {"sale_price": "cheap"}, "item SKU-1: sale_price: 'cheap' is not"),
    (
        "effective date without sale",
        {"sale_price_effective_date": "2025-11-01/2025-11-30"},
        "item SKU-1: sale_price_effective_date: given without sale_price",
    ),
    (
        "effective date one end",
        {"sale_price": "10.00 USD", "sale_price_effective_date": "2025-11-01"},
        "item SKU-1: sale_price_effective_date: '2025-11-01' is not two ISO 8601 dates",
    ),
    (
        "effective date reversed",
        {"sale_price": "10.00 USD", "sale_price_effective_date": "2025-11-30/2025-11-01"},
        "item SKU-1: sale_price_effective_date: '2025-11-30/2025-11-01' ends before it starts",
    ),
    # enumerations (6324469, 6324463, 6324479, 6324478)
    (
        "condition",
        {"condition": "mint"},
        "item SKU-1: condition: 'mint' is not one of new, refurbished, used",
    ),
    ("age group", {"age_group": "teen"}, "item SKU-1: age_group: 'teen' is not one of newborn"),
    ("gender", {"gender": "men"}, "item SKU-1: gender: 'men' is not one of male, female, unisex"),
    ("identifier_exists", {"identifier_exists": "n"}, "item SKU-1: identifier_exists: 'n' is"),
    # gtin (6324461, 7000684, 6286302)
    ("gtin letters", {"gtin": "40063813339X1"}, "item SKU-1: gtin: '40063813339X1' must be digits"),
    ("gtin length", {"gtin": "123456789"}, "item SKU-1: gtin: '123456789' has 9 digits"),
    (
        "gtin check digit",
        {"gtin": "4006381333932"},
        "item SKU-1: gtin: '4006381333932' has a wrong GS1 check digit (expected 1)",
    ),
    ("gtin zeros", {"gtin": "00000000"}, "item SKU-1: gtin: '00000000' is all zeros"),
    ("gtin restricted 2", {"gtin": "2001234567893"}, "GS1 restricted range"),
    ("gtin restricted upc 4", {"gtin": "412345678903"}, "GS1 restricted range"),
    ("gtin restricted 04", {"gtin": "0412345678903"}, "GS1 restricted range"),
    ("gtin coupon 981", {"gtin": "9812345678902"}, "GS1 coupon range"),
    ("gtin coupon upc 5", {"gtin": "512345678900"}, "GS1 coupon range"),
    ("gtin too many", {"gtin": ["4006381333931"] * 11}, "item SKU-1: gtin: 11 values; at most 10"),
    # identifiers (6324478, 6324351, 6324482)
    (
        "new without brand",
        {"brand": None},
        "item SKU-1: brand: missing for a new product; give brand or identifier_exists=no",
    ),
    (
        "no condition means new",
        {"brand": None, "condition": None},
        "item SKU-1: brand: missing for a new product",
    ),
    (
        "media without gtin",
        {"gtin": None, "brand": None, "google_product_category": "Media > Books"},
        "item SKU-1: gtin: missing for a new media product",
    ),
    (
        "identifier_exists no with gtin",
        {"identifier_exists": "no"},
        "item SKU-1: identifier_exists: is no/false but the item has a gtin",
    ),
    ("brand too long", {"brand": "b" * 71}, "item SKU-1: brand: longer than 70 characters (71)"),
    ("mpn too long", {"mpn": "m" * 71}, "item SKU-1: mpn: longer than 70 characters (71)"),
    (
        "item group id too long",
        {"item_group_id": "g" * 51},
        "item SKU-1: item_group_id: longer than 50 characters (51)",
    ),
    # control characters
    ("c1 control char", {"description": "A\x85mug"}, "item SKU-1: description: contains control"),
    # single-valued attribute given twice
    (
        "price twice",
        {"price": ["15.00 USD", "16.00 USD"]},
        "item SKU-1: price: given 2 different values; it is not a repeated field",
    ),
]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [pytest.param(c, e, id=name) for name, c, e in CASES],
)
def test_one_broken_rule_gives_one_problem(
    run: Callable[..., list[str]], changes: dict[str, Value | None], expected: str
) -> None:
    problems = run(item(**changes))
    assert len(problems) == 1, problems
    if expected.startswith("item "):
        assert problems[0].startswith(expected), problems
    else:  # a fragment: the problem is about the (first) changed attribute
        assert problems[0].startswith(f"item SKU-1: {next(iter(changes))}: "), problems
        assert expected in problems[0], problems


ACCEPTED: list[tuple[str, dict[str, Value | None]]] = [
    ("used needs no brand", {"brand": None, "gtin": None, "condition": "used"}),
    ("identifier_exists false", {"brand": None, "gtin": None, "identifier_exists": "false"}),
    ("brand without gtin", {"gtin": None}),
    ("gtin with spaces and dashes", {"gtin": "0360-0029 1452"}),
    ("gtin-8", {"gtin": "96385074"}),
    ("gtin-14", {"gtin": "10614141000415"}),
    ("several gtins", {"gtin": ["4006381333931", "036000291452"]}),
    ("integer price", {"price": "15 JPY"}),
    ("one decimal", {"price": "15.5 CHF"}),
    ("ten additional images", {"additional_image_link": ["https://a.example/x.jpg"] * 10}),
    ("http link", {"link": "http://shop.example.com/mug?a=1&b=%20"}),
    ("media with gtin", {"brand": None, "google_product_category": "783"}),
    ("same value twice", {"color": ["red", "red"]}),
]


@pytest.mark.parametrize("changes", [pytest.param(c, id=n) for n, c in ACCEPTED])
def test_accepted_variations(run: Callable[..., list[str]], changes: dict[str, Value]) -> None:
    assert run(item(**changes)) == []


# --------------------------------------------------------------------------
# Feed-wide rules


def test_duplicate_id(run: Callable[..., list[str]]) -> None:
    assert run(item(), item(title="Other mug")) == ["item SKU-1: id: duplicate id 'SKU-1'"]


def test_id_differing_only_by_case(run: Callable[..., list[str]]) -> None:
    assert run(item(), item(id="sku-1")) == [
        "item sku-1: id: 'sku-1' differs from 'SKU-1' only by letter case"
    ]


def tee(id_: str, **changes: Value | None) -> dict[str, Value]:
    """A variant of the Acme Tee group: BASE as a blue M tee, then ``changes`` (as ``item``)."""
    tee_fields: dict[str, Value | None] = {
        "id": id_, "title": "Acme Tee", "gtin": None, "link": "https://shop.example.com/tee",
        "item_group_id": "TEE", "color": "Blue", "size": "M",
    }  # fmt: skip
    return item(**{**tee_fields, **changes})


def test_variants_in_a_group_must_differ(run: Callable[..., list[str]]) -> None:
    assert run(tee("T1"), tee("T2", size="L")) == []
    problems = run(tee("T1"), tee("T2", color="blue"))
    assert problems == [
        "item T2: item_group_id: same color/size/material/pattern/age_group/gender as T1 "
        "in group 'TEE'; variants must differ in at least one of them"
    ]


def test_item_group_ids_are_case_insensitive(run: Callable[..., list[str]]) -> None:
    problems = run(tee("T1"), tee("T2", item_group_id="tee"))
    assert len(problems) == 1
    assert problems[0].startswith("item T2: item_group_id: same color/size")


def test_variant_siblings_need_item_group_id(run: Callable[..., list[str]]) -> None:
    problems = run(
        tee("T1", item_group_id=None, title="Acme Tee - Blue - M"),
        tee("T2", item_group_id=None, title="Acme Tee - Blue - L", size="L"),
    )
    assert problems == [
        "item T1: item_group_id: missing, but it has variant attributes and shares its "
        "title with T2; variants need a shared item_group_id",
        "item T2: item_group_id: missing, but it has variant attributes and shares its "
        "title with T1; variants need a shared item_group_id",
    ]


def test_variant_siblings_found_by_landing_page(run: Callable[..., list[str]]) -> None:
    problems = run(
        tee("T1", item_group_id=None, title="Crew tee", link="https://shop.example.com/tee?c=1"),
        tee("T2", item_group_id=None, title="Blue top", color="Red"),
    )
    assert [p.split(", ")[0] for p in problems] == [
        "item T1: item_group_id: missing",
        "item T2: item_group_id: missing",
    ]
    assert "shares its landing page with" in problems[0]


def test_unrelated_products_need_no_item_group_id(run: Callable[..., list[str]]) -> None:
    assert (
        run(
            tee("T1", item_group_id=None, title="Acme Tee"),
            tee("C1", item_group_id=None, title="Acme Cap", link="https://shop.example.com/cap"),
            item(id="M1", title="Acme Tee"),  # same title, but no variant attributes
            item(id="M2", title="Acme Tee", gtin="036000291452"),
            # two products that both link to the home page
            tee("H1", item_group_id=None, title="Scarf", link="https://shop.example.com/"),
            tee(
                "H2", item_group_id=None, title="Beanie", link="https://shop.example.com/", size="L"
            ),
        )
        == []
    )


def test_single_item_group_is_fine(run: Callable[..., list[str]]) -> None:
    assert run(tee("T1")) == []


# --------------------------------------------------------------------------
# GS1 check digit


@pytest.mark.parametrize(
    ("body", "digit"),
    [
        ("400638133393", 1),  # EAN-13 4006381333931
        ("03600029145", 2),  # UPC-A 036000291452
        ("9638507", 4),  # EAN-8 96385074
        ("1061414100041", 5),  # GTIN-14 10614141000415
    ],
)
def test_gs1_check_digit(body: str, digit: int) -> None:
    assert gr.gs1_check_digit(body) == digit
