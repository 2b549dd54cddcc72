"""What the tests of the Google rule checker (test_google_rules.py, test_google_rules_files.py)
share: the hand-written valid feeds, the builders that turn items into an XML or a TSV feed, and
the ``write`` and ``run`` fixtures (``run`` checks each built feed once per format).

A test module binds the fixtures by assignment (``write, run = fx.write, fx.run``), which pytest
registers exactly like a definition in the module itself.
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
