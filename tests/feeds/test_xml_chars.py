"""XML feeds hold only characters XML 1.0 allows (its Char production): U+FFFE, U+FFFF, lone
surrogates and control characters other than tab, newline and CR in a catalog value, or
made by a template, are dropped, so expat (and lxml, and Google's parser) read the feed and
the text shown is the rest of the value."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from pathlib import Path

from multichan.feeds import render
from tests.conftest import run_cli
from tests.feeds.helpers import configure, google_items, sql

NOT_XML = "\ufffe\uffff\x01\x0b"  # what a value can hold (SQLite stores no lone surrogate)


def xml_char(code: int) -> bool:
    """XML 1.0's Char production."""
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def test_an_imported_title_and_description_with_characters_xml_forbids_give_a_valid_feed(
    demo: Path,
) -> None:
    """The CSV importer drops control characters but keeps U+FFFE and U+FFFF (they are
    Unicode, not controls): the XML feed drops them."""
    source = demo / "odd.csv"
    header = "sku,title,description,price,currency,link,image_link,condition,status,brand"
    row = [
        "ODD-1", "Enamel\ufffe Mug\uffff \x01Blue\x0b", "<p>Keeps\ufffe tea\uffff hot\x01.</p>",
        "12.00", "USD", "https://shop.example.com/p/odd", "https://shop.example.com/i/odd.jpg",
        "new", "active", "Acme",
    ]  # fmt: skip
    with source.open("w", encoding="utf-8", newline="") as handle:
        handle.write(header + "\n")
        csv.writer(handle).writerow(row)
    result = run_cli("-w", demo, "import", "csv", source)
    assert result.code == 0, result.output
    configure(demo, "google: {type: google_merchant, output: feeds/google.xml}")
    result = run_cli("-w", demo, "export", "google")
    assert result.code == 0, result.output
    feed = demo / "feeds" / "google.xml"
    assert not any(c in feed.read_text(encoding="utf-8") for c in NOT_XML)
    item = google_items(feed)["ODD-1"]  # (ElementTree: expat)
    assert (item["title"], item["description"]) == ("Enamel Mug Blue", "Keeps tea hot.")


def test_raw_characters_xml_forbids_in_the_catalog_are_dropped_from_every_xml_value(
    demo: Path,
) -> None:
    """Straight into the catalog (another tool, an old import): each character in the
    middle of the words, where dropping it leaves the words as they were. (A description is
    HTML made text first, which reads \\x0b as a line break, as str.splitlines does.)"""
    sql(demo, "UPDATE products SET title = ?, description = ?, brand = ? WHERE sku = ?",
        f"Wool{NOT_XML} blanket", "<p>Warm\ufffe\uffff\x01th</p>", f"Nor{NOT_XML}thwind",
        "BLANKET-WOOL")  # fmt: skip
    configure(demo, "google: {type: google_merchant, output: feeds/google.xml}")
    result = run_cli("-w", demo, "export", "google")
    assert result.code == 0, result.output
    item = google_items(demo / "feeds" / "google.xml")["BLANKET-WOOL"]
    assert (item["title"], item["description"], item["brand"]) == (
        "Wool blanket", "Warmth", "Northwind",
    )  # fmt: skip


def test_characters_a_template_makes_are_dropped_too_lone_surrogates_included(
    demo: Path,
) -> None:
    """A template can make what no catalog holds: a lone surrogate (``"\\ud800"`` in Jinja),
    printed alone or joined to a value, in the header or an item. The feed is still UTF-8
    and XML."""
    (demo / "templates" / "own.xml.j2").write_text(
        '{% macro header() %}<rss xmlns:g="http://base.google.com/ns/1.0"><channel>'
        '<title>{{ "\\ud800" }}{{ shop.name ~ "\\udfff\\ufffe" }}</title>\n{% endmacro %}'
        "{% macro item(o, index) %}<item><g:id>{{ o.sku }}</g:id>"
        '<g:title>{{ "\\udbff" ~ o.title ~ "\\x0b\\uffff" }}</g:title></item>\n{% endmacro %}'
        "{% macro footer() %}</channel></rss>\n{% endmacro %}",
        encoding="utf-8",
    )
    configure(demo, "g: {type: google_merchant, template: own.xml.j2, output: feeds/g.xml}")
    result = run_cli("-w", demo, "export", "g")
    assert result.code == 0, result.output
    feed = demo / "feeds" / "g.xml"
    root = ET.parse(feed).getroot()
    assert root.findtext("channel/title") == "Test Shop"
    assert google_items(feed)["MUG-ENAMEL"]["title"] == "Enamel Camp Mug 350 ml"


def test_xml_escaping_keeps_exactly_the_characters_of_xmls_char_production() -> None:
    """Every code point (those ``isprintable`` refuses go the slow way): kept if XML 1.0
    allows it, DEL and the controls dropped as in every format, and the same answer from the
    reference definition (one str.translate)."""
    for code in (*range(0x10000), *range(0x10000, 0x110000, 0x101), 0x10FFFF):
        char = chr(code)
        text = f"a{char}b"
        kept = xml_char(code) and code != 0x7F
        escaped = render.escape_xml(text)
        shown = (text if kept else "ab").replace("\r", "\n")  # (XML reads a CR as a newline)
        assert ET.fromstring(f"<t>{escaped}</t>").text == shown, hex(code)
        assert escaped == text.translate(render.XML_TABLE), hex(code)
