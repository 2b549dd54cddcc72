"""Tests of the Google Merchant Center rule checker (tests/google_rules/) itself: the
hand-written good feeds, and the rules of each file format (RSS 2.0 XML, tab-separated text,
local inventory TSV/CSV).

Each rule gets one hand-written bad feed, and the test shows that exactly the
expected problem is reported; the hand-written good feeds report nothing.  The
rules of single items and across items are in test_google_rules.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

try:  # tests/ is a package (tests/__init__.py)
    from tests import google_rules as gr
    from tests import google_rules_conftest as fx
    from tests.google_rules_conftest import (
        VALID_LOCAL_CSV,
        VALID_LOCAL_TSV,
        VALID_TSV,
        VALID_XML,
        item,
        tsv_feed,
        xml_feed,
    )
except ImportError:  # tests/ as a plain folder on sys.path
    import google_rules as gr  # type: ignore[no-redef]
    import google_rules_conftest as fx  # type: ignore[no-redef]
    from google_rules_conftest import (  # type: ignore[no-redef]
        VALID_LOCAL_CSV,
        VALID_LOCAL_TSV,
        VALID_TSV,
        VALID_XML,
        item,
        tsv_feed,
        xml_feed,
    )

write, run = fx.write, fx.run


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
