"""Tests of the Google Merchant Center rule checker (tests/google_rules.py) itself.

Each rule gets one hand-written bad feed, and the test shows that exactly the
expected problem is reported; the hand-written good feeds report nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

try:  # tests/ is a package (tests/__init__.py)
    from tests import google_rules as gr
except ImportError:  # tests/ as a plain folder on sys.path
    import google_rules as gr  # type: ignore[no-redef]

Value = str | Sequence[str]
Fields = Mapping[str, Value]
Checker = Callable[[Path], list[str]]

# --------------------------------------------------------------------------
# Hand-written valid feeds

VALID_XML = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0">
  <channel>
    <title>Acme store</title>
    <link>https://shop.example.com</link>
    <description>Acme products</description>
    <item>
      <g:id>MUG-1</g:id>
      <title>Acme Mug &amp; Saucer</title>
      <description><![CDATA[A <b>350 ml</b> stoneware mug.]]></description>
      <link>https://shop.example.com/mug?ref=feed&amp;v=1</link>
      <g:image_link>https://shop.example.com/img/mug.jpg</g:image_link>
      <g:additional_image_link>https://shop.example.com/img/mug-2.jpg</g:additional_image_link>
      <g:additional_image_link>https://shop.example.com/img/mug-3.jpg</g:additional_image_link>
      <g:availability>in_stock</g:availability>
      <g:price>15.00 USD</g:price>
      <g:sale_price>12.50 USD</g:sale_price>
      <g:sale_price_effective_date>2025-11-01T00:00+01:00/2025-11-30T23:59+01:00</g:sale_price_effective_date>
      <g:condition>new</g:condition>
      <g:brand>Acme</g:brand>
      <g:gtin>4006381333931</g:gtin>
      <g:mpn>AC-MUG-350</g:mpn>
      <g:shipping>
        <g:country>US</g:country>
        <g:service>Standard</g:service>
        <g:price>4.95 USD</g:price>
      </g:shipping>
    </item>
    <item>
      <g:id>TEE-RED-M</g:id>
      <g:title>Acme Tee - Red - M</g:title>
      <g:description>Organic cotton tee.</g:description>
      <g:link>https://shop.example.com/tee?size=m</g:link>
      <g:image_link>https://shop.example.com/img/tee-red.jpg</g:image_link>
      <g:availability>preorder</g:availability>
      <g:availability_date>2025-12-01T09:00:00Z</g:availability_date>
      <g:price>20 EUR</g:price>
      <g:brand>Acme</g:brand>
      <g:item_group_id>TEE</g:item_group_id>
      <g:color>Red</g:color>
      <g:size>M</g:size>
      <g:age_group>adult</g:age_group>
      <g:gender>unisex</g:gender>
    </item>
    <item>
      <g:id>TEE-RED-L</g:id>
      <g:title>Acme Tee - Red - L</g:title>
      <g:description>Organic cotton tee.</g:description>
      <g:link>https://shop.example.com/tee?size=l</g:link>
      <g:image_link>https://shop.example.com/img/tee-red.jpg</g:image_link>
      <g:availability>out_of_stock</g:availability>
      <g:price>20.00 EUR</g:price>
      <g:brand>Acme</g:brand>
      <g:item_group_id>TEE</g:item_group_id>
      <g:color>Red</g:color>
      <g:size>L</g:size>
      <g:age_group>adult</g:age_group>
      <g:gender>unisex</g:gender>
    </item>
    <item>
      <g:id>VASE-1</g:id>
      <g:title>Hand-thrown vase</g:title>
      <g:description>One of a kind.</g:description>
      <g:link>https://shop.example.com/vase</g:link>
      <g:image_link>https://shop.example.com/img/vase.png</g:image_link>
      <g:availability>backorder</g:availability>
      <g:availability_date>2026-01-15</g:availability_date>
      <g:price>80.00 GBP</g:price>
      <g:identifier_exists>no</g:identifier_exists>
    </item>
    <item>
      <g:id>LAMP-USED</g:id>
      <g:title>Desk lamp (used)</g:title>
      <g:description>Works fine.</g:description>
      <g:link>https://shop.example.com/lamp</g:link>
      <g:image_link>https://shop.example.com/img/lamp.webp</g:image_link>
      <g:availability>in_stock</g:availability>
      <g:price>9.99 USD</g:price>
      <g:condition>used</g:condition>
    </item>
  </channel>
</rss>
"""

VALID_TSV = (
    "id\ttitle\tdescription\tlink\timage_link\tadditional_image_link\tavailability\tprice"
    "\tbrand\tgtin\tcondition\titem_group_id\tcolor\tsize\n"
    "MUG-1\tAcme Mug\tA <b>350 ml</b> mug.\thttps://shop.example.com/mug"
    "\thttps://shop.example.com/img/mug.jpg"
    "\thttps://shop.example.com/img/m2.jpg,https://shop.example.com/img/m%2C3.jpg"
    "\tin_stock\t15.00 USD\tAcme\t4006-3813 33931\tnew\t\t\t\n"
    "TEE-S\tAcme Tee S\tCotton tee.\thttps://shop.example.com/tee\thttps://shop.example.com/t.jpg"
    "\t\tin_stock\t20.00 USD\tAcme\t\tnew\tTEE\tBlue\tS\n"
    "TEE-M\tAcme Tee M\tCotton tee.\thttps://shop.example.com/tee\thttps://shop.example.com/t.jpg"
    "\t\tin_stock\t20.00 USD\tAcme\t\tnew\tTEE\tBlue\tM\n"
)

VALID_LOCAL_TSV = (
    "store_code\tid\tquantity\tavailability\tprice\tsale_price\tpickup_method\tpickup_sla\n"
    "S1\tMUG-1\t5\tin_stock\t15.00 USD\t12.00 USD\tbuy\tsame day\n"
    "S2\tMUG-1\t0\tout_of_stock\t\t\tnot supported\t\n"
    "S1\tTEE-S\t2\tlimited_availability\t20.00 USD\t\treserve\tnext day\n"
)

VALID_LOCAL_CSV = (
    "store_code,id,quantity,availability,price,instore_product_location\n"
    'S1,MUG-1,5,in_stock,15.00 USD,"Aisle 3, shelf 2"\n'
    "S1,TEE-S,1,on_display_to_order,,\n"
)


# --------------------------------------------------------------------------
# Builders for the one-rule-broken variations

BASE: dict[str, Value] = {
    "id": "SKU-1",
    "title": "Acme Mug",
    "description": "A 350 ml stoneware mug.",
    "link": "https://shop.example.com/mug",
    "image_link": "https://shop.example.com/img/mug.jpg",
    "availability": "in_stock",
    "price": "15.00 USD",
    "brand": "Acme",
    "condition": "new",
    "gtin": "4006381333931",
}


def item(**changes: Value | None) -> dict[str, Value]:
    """BASE with some attributes changed; None removes an attribute."""
    fields = dict(BASE)
    for name, value in changes.items():
        if value is None:
            fields.pop(name, None)
        else:
            fields[name] = value
    return fields


def _values(value: Value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def xml_feed(items: Sequence[Fields]) -> str:
    body = []
    for fields in items:
        body.append("    <item>")
        for name, value in fields.items():
            for v in _values(value):
                body.append(f"      <g:{name}>{escape(v)}</g:{name}>")
        body.append("    </item>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0">\n'
        "  <channel>\n    <title>t</title>\n    <link>https://shop.example.com</link>\n"
        "    <description>d</description>\n" + "\n".join(body) + "\n  </channel>\n</rss>\n"
    )


def tsv_feed(items: Sequence[Fields]) -> str:
    """Text feed: lists are comma separated for gtin and additional_image_link, and
    given as repeated columns for any other attribute."""
    width: dict[str, int] = {}
    for fields in items:
        for name, value in fields.items():
            count = 1 if name in ("gtin", "additional_image_link") else len(_values(value))
            width[name] = max(width.get(name, 1), count)
    header = [name for name, count in width.items() for _ in range(count)]
    lines = ["\t".join(header)]
    for fields in items:
        row: list[str] = []
        for name, count in width.items():
            values = _values(fields.get(name, ""))
            if name in ("gtin", "additional_image_link"):
                values = [",".join(values)]
            row.extend((values + [""] * count)[:count])
        lines.append("\t".join(row))
    return "\n".join(lines) + "\n"


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    def _write(text: str, name: str = "feed.txt") -> Path:
        path = tmp_path / name
        path.write_bytes(text.encode("utf-8"))
        return path

    return _write


FORMATS: dict[str, tuple[Callable[[Sequence[Fields]], str], Checker]] = {
    "xml": (xml_feed, gr.check_google_xml),
    "tsv": (tsv_feed, gr.check_google_tsv),
}


@pytest.fixture(params=sorted(FORMATS))
def run(
    request: pytest.FixtureRequest, write: Callable[[str, str], Path]
) -> Callable[..., list[str]]:
    """Build a feed of the given items in XML or TSV and check it."""
    build, check = FORMATS[request.param]

    def _run(*items: Fields) -> list[str]:
        return check(write(build(items), "feed." + request.param))

    return _run


# --------------------------------------------------------------------------
# Good feeds


def test_valid_xml_feed_has_no_problems(write: Callable[[str, str], Path]) -> None:
    assert gr.check_google_xml(write(VALID_XML, "feed.xml")) == []


def test_valid_tsv_feed_has_no_problems(write: Callable[[str, str], Path]) -> None:
    assert gr.check_google_tsv(write(VALID_TSV, "feed.tsv")) == []


def test_valid_tsv_with_crlf_and_bom_has_no_problems(write: Callable[[str, str], Path]) -> None:
    text = "\ufeff" + VALID_TSV.replace("\n", "\r\n")
    assert gr.check_google_tsv(write(text, "feed.tsv")) == []


def test_base_item_is_valid(run: Callable[..., list[str]]) -> None:
    assert run(item()) == []


def test_valid_local_inventory_tsv_and_csv(write: Callable[[str, str], Path]) -> None:
    assert gr.check_local_inventory(write(VALID_LOCAL_TSV, "local.tsv")) == []
    assert gr.check_local_inventory(write(VALID_LOCAL_CSV, "local.csv")) == []


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
    fields = item(id=id_, title="Acme Tee", gtin=None, link="https://shop.example.com/tee")
    fields.update({"item_group_id": "TEE", "color": "Blue", "size": "M"})
    for name, value in changes.items():
        if value is None:
            fields.pop(name, None)
        else:
            fields[name] = value
    return fields


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
# XML-specific rules (160589)

XML_HEAD = '<?xml version="1.0"?>\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            VALID_XML.replace("Mug &amp; Saucer", "Mug & Saucer"),
            "feed: xml: not well-formed",
            id="raw ampersand",
        ),
        pytest.param(
            VALID_XML.replace("<![CDATA[A <b>350 ml</b> stoneware mug.]]>", "A <b>350 ml mug."),
            "feed: xml: not well-formed",
            id="unclosed html tag",
        ),
        pytest.param(
            VALID_XML.replace("Organic cotton tee.", "Organic\x01tee."),
            "feed: xml: not well-formed",
            id="C0 control character",
        ),
        pytest.param(XML_HEAD + "<feed/>", "feed: rss: root element is <feed>", id="not rss"),
        pytest.param(
            VALID_XML.replace('version="2.0"', 'version="0.92"'),
            "feed: rss: version is '0.92', not '2.0'",
            id="rss version",
        ),
        pytest.param(
            XML_HEAD + '<rss version="2.0"><channel></channel></rss>',
            "feed: xmlns:g: the namespace http://base.google.com/ns/1.0 is not declared",
            id="no g namespace",
        ),
        pytest.param(
            XML_HEAD + '<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0"/>',
            "feed: channel: <rss> needs exactly one <channel>, has 0",
            id="no channel",
        ),
    ],
)
def test_xml_feed_level_problems(
    write: Callable[[str, str], Path], text: str, expected: str
) -> None:
    problems = gr.check_google_xml(write(text, "feed.xml"))
    assert problems, "expected a problem"
    assert problems[0].startswith(expected), problems


def test_xml_wrong_g_namespace_uri(write: Callable[[str, str], Path]) -> None:
    text = VALID_XML.replace("http://base.google.com/ns/1.0", "https://base.google.com/ns/1.0")
    problems = gr.check_google_xml(write(text, "feed.xml"))
    assert "feed: xmlns:g: the namespace http://base.google.com/ns/1.0 is not declared" in problems
    assert (
        "feed: xmlns:g: prefix g is bound to 'https://base.google.com/ns/1.0', "
        "not 'http://base.google.com/ns/1.0'" in problems
    )
    # and, with no g: attributes left, every item misses its id
    assert "item #1: id: missing" in problems


def test_xml_unescaped_html_that_still_parses(write: Callable[[str, str], Path]) -> None:
    text = VALID_XML.replace(
        "<![CDATA[A <b>350 ml</b> stoneware mug.]]>", "A <b>350 ml</b> stoneware mug."
    )
    assert gr.check_google_xml(write(text, "feed.xml")) == [
        "item MUG-1: description: contains unescaped markup <b>; escape HTML (&lt;) or wrap it "
        "in CDATA"
    ]


def test_xml_attribute_without_g_prefix(write: Callable[[str, str], Path]) -> None:
    text = VALID_XML.replace("<g:price>9.99 USD</g:price>", "<price>9.99 USD</price>")
    assert gr.check_google_xml(write(text, "feed.xml")) == [
        "item LAMP-USED: price: missing (found <price> without the g: namespace prefix)"
    ]


def test_xml_title_as_plain_rss_element_is_accepted(write: Callable[[str, str], Path]) -> None:
    text = xml_feed([item()]).replace("<g:title>Acme Mug</g:title>", "<title>Acme Mug</title>")
    assert "<title>Acme Mug</title>" in text
    assert gr.check_google_xml(write(text, "feed.xml")) == []


# --------------------------------------------------------------------------
# TSV-specific rules (160588)


def test_tsv_unknown_header(write: Callable[[str, str], Path]) -> None:
    text = tsv_feed([item()]).replace("image_link", "image link", 1)
    problems = gr.check_google_tsv(write(text, "feed.tsv"))
    assert problems[0] == (
        "feed: header: column 5 'image link' is not a Google attribute name "
        "(lowercase English with underscores, e.g. image_link); did you mean 'image_link'?"
    )
    assert "item SKU-1: image_link: missing" in problems


def test_tsv_header_accepts_sub_attribute_notation(write: Callable[[str, str], Path]) -> None:
    fields = item(**{"shipping(country:service:price)": "US:Standard:4.95 USD"})
    assert gr.check_google_tsv(write(tsv_feed([fields]), "feed.tsv")) == []


def test_tsv_tab_inside_value(write: Callable[[str, str], Path]) -> None:
    text = tsv_feed([item(title="Acme\tMug")])
    problems = gr.check_google_tsv(write(text, "feed.tsv"))
    assert problems[0] == (
        "item SKU-1: row: line 2 has 11 tab-separated fields but the header has 10 "
        "(tab or line break inside a value?)"
    )


def test_tsv_control_character(write: Callable[[str, str], Path]) -> None:
    text = tsv_feed([item(title="Acme\x07Mug")])
    assert gr.check_google_tsv(write(text, "feed.tsv")) == [
        "item SKU-1: title: contains control characters U+0007"
    ]


def test_tsv_line_break_inside_value(write: Callable[[str, str], Path]) -> None:
    text = tsv_feed([item(description="A mug.\nDishwasher safe.")])
    problems = gr.check_google_tsv(write(text, "feed.tsv"))
    assert any("line 2 has 3 tab-separated fields" in p for p in problems), problems


def test_tsv_not_utf8(write: Callable[[str, str], Path], tmp_path: Path) -> None:
    path = tmp_path / "latin1.tsv"
    path.write_bytes(tsv_feed([item(title="Tasse à café")]).encode("latin-1"))
    problems = gr.check_google_tsv(path)
    assert len(problems) == 1
    assert problems[0].startswith("feed: encoding: not UTF-8")


def test_tsv_empty_file(write: Callable[[str, str], Path]) -> None:
    assert gr.check_google_tsv(write("\n", "feed.tsv")) == ["feed: header: the file is empty"]


def test_tsv_quoted_list_is_one_value(write: Callable[[str, str], Path]) -> None:
    urls = '"https://shop.example.com/1.jpg,https://shop.example.com/2.jpg"'
    problems = gr.check_google_tsv(write(tsv_feed([item(additional_image_link=urls)]), "f.tsv"))
    assert len(problems) == 1
    assert "item SKU-1: additional_image_link: " in problems[0]
    assert "unencoded comma" in problems[0]


# --------------------------------------------------------------------------
# Local inventory (3061342)

LOCAL_HEAD = "store_code\tid\tquantity\tavailability\tprice\tsale_price\n"


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("S1\tMUG-1\t-1\tin_stock\t\t", "item MUG-1 [store S1]: quantity: '-1' is not an integer"),
        ("S1\tMUG-1\t2.5\t\t\t", "item MUG-1 [store S1]: quantity: '2.5' is not an integer >= 0"),
        ("S1\tMUG-1\tfew\t\t\t", "item MUG-1 [store S1]: quantity: 'few' is not an integer"),
        ("S1\tMUG-1\t\t\t\t", "item MUG-1 [store S1]: quantity: empty"),
        ("\tMUG-1\t3\t\t\t", "item MUG-1 [store ?]: store_code: empty"),
        ("S1\t\t3\t\t\t", "item #2 [store S1]: id: empty"),
        ("S1\t" + "X" * 51 + "\t3\t\t\t", ": id: longer than 50 characters (51)"),
        (
            "S1\tMUG-1\t3\tin stock\t\t",
            "item MUG-1 [store S1]: availability: 'in stock' uses spaces; Google's value is "
            "'in_stock'",
        ),
        ("S1\tMUG-1\t3\tpreorder\t\t", "item MUG-1 [store S1]: availability: 'preorder' is not"),
        ("S1\tMUG-1\t3\t\t15 bucks\t", "item MUG-1 [store S1]: price: '15 bucks' is not"),
        ("S1\tMUG-1\t3\t\t0 USD\t", "item MUG-1 [store S1]: price: '0 USD' must be greater than 0"),
        (
            "S1\tMUG-1\t3\t\t15.00 USD\t16.00 USD",
            "item MUG-1 [store S1]: sale_price: '16.00 USD' is not lower than price",
        ),
        ("S1\tMUG\x07\t3\t\t\t", "item MUG\x07 [store S1]: id: contains control characters U+0007"),
        ("S1\tMUG-1\t3\t\t", "item MUG-1 [store S1]: row: line 2 has 5 fields, the header has 6"),
    ],
)
def test_local_inventory_problems(
    write: Callable[[str, str], Path], row: str, expected: str
) -> None:
    problems = gr.check_local_inventory(write(LOCAL_HEAD + row + "\n", "local.tsv"))
    assert len(problems) == 1, problems
    assert expected in problems[0]


def test_local_inventory_duplicate_store_and_id(write: Callable[[str, str], Path]) -> None:
    text = LOCAL_HEAD + "S1\tMUG-1\t3\t\t\t\nS2\tMUG-1\t3\t\t\t\nS1\tMUG-1\t4\t\t\t\n"
    assert gr.check_local_inventory(write(text, "local.tsv")) == [
        "item MUG-1 [store S1]: store_code: duplicate (store_code, id) pair, first on line 2"
    ]


def test_local_inventory_missing_required_column(write: Callable[[str, str], Path]) -> None:
    text = "store_code,id,availability\nS1,MUG-1,in_stock\n"
    assert gr.check_local_inventory(write(text, "local.csv")) == [
        "feed: header: required column 'quantity' is missing"
    ]


def test_local_inventory_pickup_rules(write: Callable[[str, str], Path]) -> None:
    text = (
        "store_code\tid\tquantity\tpickup_method\tpickup_sla\tinstore_product_location\n"
        "S1\tA\t1\tbuy\t\t\n"
        "S1\tB\t1\tdrone\tsame day\t\n"
        "S1\tC\t1\tnot supported\tsoon\tAisle 12, bay 4, shelf 2\n"
    )
    assert gr.check_local_inventory(write(text, "local.tsv")) == [
        "item A [store S1]: pickup_sla: required with pickup_method (unless 'not supported')",
        "item B [store S1]: pickup_method: 'drone' is not one of buy, reserve, ship to store, "
        "not supported",
        "item C [store S1]: pickup_sla: 'soon' is not one of same day, next day, 2-day, 3-day, "
        "4-day, 5-day, 6-day, 7-day, multi-week",
        "item C [store S1]: instore_product_location: longer than 20 bytes",
    ]


def test_local_inventory_csv_quoting(write: Callable[[str, str], Path]) -> None:
    text = 'store_code,id,quantity,price\nS1,"MUG,1",2,"15.00 USD"\nS1,"MUG,1",3,x\n'
    assert gr.check_local_inventory(write(text, "local.csv")) == [
        "item MUG,1 [store S1]: price: 'x' is not '<number> <ISO 4217 code>' such as '15.00 USD'",
        "item MUG,1 [store S1]: store_code: duplicate (store_code, id) pair, first on line 2",
    ]


def test_local_inventory_empty(write: Callable[[str, str], Path]) -> None:
    assert gr.check_local_inventory(write("", "local.tsv")) == ["feed: header: the file is empty"]


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
