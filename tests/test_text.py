"""Seller HTML made plain (multichan.text.strip_html): what a shopper reads, and only that.

strip_html is defined by html.parser's reading of the text (text.parsed_text); its fast path
for descriptions of common, well-formed tags is checked against that reading on random
HTML, and against the regular expressions it replaced on ordinary descriptions.
"""

from __future__ import annotations

import html
import random
import re

import pytest

from multichan import text
from multichan.catalog import demo
from multichan.text import strip_html

SHOPIFY = [  # descriptions as Shopify's editor writes them
    '<p><span style="font-weight: 400;" data-mce-fragment="1">Hand-poured soy candle &amp; '
    'cotton wick, 40 h burn time.</span></p>\n<ul>\n<li><span style="font-weight: 400;">Scent: '
    'cedar &amp; sage</span></li>\n<li><span style="font-weight: 400;">Weight: 200&nbsp;g</span>'
    "</li>\n</ul>",
    '<meta charset="utf-8"><p data-mce-fragment="1"><strong data-mce-fragment="1">Made in '
    'Portugal.</strong> 100% organic cotton, pre-washed.<br data-mce-fragment="1">Machine '
    "wash at 30&deg;C.</p>",
    '<h2>Details</h2><p>Our best-selling <a href="https://shop.example.com/collections/mugs?'
    'sort=price&amp;page=2" title="Mugs">mug</a>, now in matte black.</p><table><tbody><tr>'
    "<td>Capacity</td><td>350 ml</td></tr><tr><td>Material</td><td>Stoneware</td></tr></tbody>"
    "</table>",
    "<div><p>Lightweight, packable &amp; water-resistant.</p><p><em>Fits true to size.</em></p>"
    "</div>",
]


# --- what a shopper sees ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "plain"),
    [
        ("<style>p{color:red}</style><p>Red mug</p>", "Red mug"),
        ("<STYLE type='text/css'>\n.a > .b { margin: 0 }\n</STYLE>Mug", "Mug"),
        ('<script>if (a < b && c > d) { x("</p>") }</script>Mug', "Mug"),
        ("<script src=x.js></script>Mug<script>unclosed", "Mug"),
        ("<template><p>Not yet</p></template><p>Mug</p>", "Mug"),
        ("<noscript><img src=pixel.gif>Enable JS</noscript>Mug", "Mug"),
        ("<head><title>Shop</title><meta charset=utf-8></head><body><p>Mug</p></body>", "Mug"),
        ("<!-- price > 10 --><p>Mug</p>", "Mug"),
        ("<p>Mug<!-- a\n<b>b</b> --> &amp; lid</p>", "Mug & lid"),
        ('<a title="1 > 0" href="/m">Mug</a> sale', "Mug sale"),
        ("<img alt='a>b' src=x.png>Mug", "Mug"),
        (
            "<p>Salt &amp; pepper &lt;3 &#39;n&#x27; &eacute;t&eacute; &nbsp;x&copy</p>",
            "Salt & pepper <3 'n' été \xa0x©",
        ),
        ("Fish &amp chips &am", "Fish & chips &am"),  # no ";": as browsers read it
        ("a < b > c", "a < b > c"),
        ("Adapter USB-A <-> USB-C", "Adapter USB-A <-> USB-C"),
        ("<p>One</p><p>Two</p>", "One\nTwo"),
        ("Intro<ul><li>One<li>Two</ul>After", "Intro\nOne\nTwo\nAfter"),
        ("Line<br>break<BR/>and<br />more</br>end", "Line\nbreak\nand\nmore\nend"),
        ("<h1>Title</h1>text<h6>Small</h6>", "Title\ntext\nSmall"),
        ("<div>A<div>B</div>C</div>", "A\nB\nC"),
        (
            "<table><tr><th>Size</th><th>Fit</th></tr><tr><td>M</td><td>Regular</td></tr></table>",
            "Size Fit\nM Regular",
        ),
        ("<p>  Spaced \t out\r\n  text  </p>", "Spaced out\ntext"),
        ("<p><b>Bold</b><i>italic</i> <span class=x>span</span></p>", "Bolditalic span"),
        ("<P CLASS='x'>Upper</P>case", "Upper\ncase"),
        ("<o:p></o:p>Word<o:p>&nbsp;</o:p>", "Word"),
        ("<my-widget data-x=1>Custom</my-widget>", "Custom"),
        ("<!DOCTYPE html><?xml version='1.0'?><![CDATA[x]]>Mug", "Mug"),
        ("", ""),
        ("  plain  text  ", "plain  text"),  # text without < or & is only stripped
    ],
)
def test_strip_html_keeps_only_the_text_a_shopper_sees(source: str, plain: str) -> None:
    assert strip_html(source) == plain
    assert text.parsed_text(source) == plain  # the definition agrees


def test_ordinary_descriptions_read_as_before() -> None:
    """The demo shop's and Shopify's descriptions give the text they gave before."""
    descriptions = {p.fields["description"] for p in demo.products()}
    assert len(descriptions) > 10
    for source in descriptions:
        assert strip_html(source) == old_strip_html(source), source
    assert strip_html(demo.SIMPLE[0][-1]) == (
        "Steel mug with a chip-resistant enamel coat & rolled rim. Dishwasher safe."
    )
    assert strip_html(SHOPIFY[0]) == (
        "Hand-poured soy candle & cotton wick, 40 h burn time.\nScent: cedar & sage\n"
        "Weight: 200\xa0g"
    )
    assert strip_html(SHOPIFY[1]) == (
        "Made in Portugal. 100% organic cotton, pre-washed.\nMachine wash at 30°C."
    )
    assert strip_html(SHOPIFY[2]) == (
        "Details\nOur best-selling mug, now in matte black.\nCapacity 350 ml\nMaterial Stoneware"
    )


# --- the fast path is the parser's reading, faster --------------------------------------------
TRICKY = [
    "<p>", "</p>", "<P class=x>", "<br>", "<br/>", "<Br />", "</br>", "<li>", "</li>", "<td>",
    "</td >", "<th>", "<b>", "</B>", '<span style="color: red">', "<span class='a b'>",
    "</span>", '<a href="/x?a=1&amp;b=2" title="x>y">', "<a title='<b>'>", "</a>",
    "<img src=x.jpg/>", '<img alt="" src="a.png" />', "<o:p>", "</o:p>", "<custom-el>",
    "<\u017fpan>", "<\u212abd>", "<script>", "</script>", "<style>", "</style>", "<template>",
    "</template>", "<noscript>", "</noscript>", "<head>", "</head>", "<title>", "</title>",
    "<script/>", "<!-- a > b -->", "<!--", "-->", "<!DOCTYPE html>", "<?php ?>",
    "<![CDATA[x]]>", "<b", "<p =x>", "<p a=b=c>", "<div\xa0>", "</p\xa0>", "<h1>", "</h6>",
    "<tr>", "</tr>", "<table>", '<meta charset="utf-8">', "&amp;", "&amp", "&am", "p;",
    "&nbsp;", "&#39;", "&#39", "&#x27;", "&deg;", "&lt;p&gt;", "&", "&#", "<", ">", "=", '"',
    "'", "/", "!", "?", " ", "  ", "\t", "\r\n", "\n", "\x0b", "\x0c", "\x1e", "\x1f", "\x85",
    "\u2028", "\xa0", "\x00", "a", "bc", "é", "x y",
]  # fmt: skip
ORDINARY = [  # mostly what the fast path takes, with a little of everything else
    "<p>", "</p>", "<br>", "<li>", "</li>", "<b>", "</b>", '<span style="a: 1;">', "</span>",
    "<td>", "</td>", "&amp;", "&nbsp;", "&#39;", "&am", "p;", " ", "  ", "\n", "\t", "a", "bc",
    "é", "<", ">", "&", "<!-- x -->", "<a title='x>y'>", "<style>", "</style>", "\xa0",
]  # fmt: skip


@pytest.mark.parametrize(("pieces", "min_fast"), [(TRICKY, 0.05), (ORDINARY, 0.3)])
def test_strip_html_agrees_with_the_parser_on_random_html(
    pieces: list[str], min_fast: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed = text.parsed_text
    rnd = random.Random(7)
    slow = 0

    def counted(source: str) -> str:
        nonlocal slow
        slow += 1
        return parsed(source)

    monkeypatch.setattr(text, "parsed_text", counted)
    samples = ["".join(rnd.choices(pieces, k=rnd.randint(1, 14))) for _ in range(20000)]
    for source in samples:
        assert strip_html(source) == parsed(source), repr(source)
    assert len(samples) - slow > min_fast * len(samples)  # the fast path was tried, and right


def test_ordinary_descriptions_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def parser(source: str) -> str:
        raise AssertionError(f"parsed: {source!r}")

    monkeypatch.setattr(text, "parsed_text", parser)
    for source in [p.fields["description"] for p in demo.products()] + SHOPIFY:
        assert strip_html(source)


def test_well_formed_descriptions_read_as_the_old_regular_expressions_read_them() -> None:
    """Ordinary HTML (paragraphs, lists, headings, inline tags, entities) gives the text the
    regular expressions strip_html used before gave."""
    rnd = random.Random(11)
    words = ["Steel", "mug", "&amp;", "rim", "&nbsp;", "&#39;s", "&quot;best&quot;",
             "30&deg;C", "é", "100%", "a < b", "x > y"]  # fmt: skip
    inline = ["<b>{}</b>", "<strong>{}</strong>", '<span style="font-weight: 400;">{}</span>',
              '<a href="https://x.example/?a=1&amp;b=2">{}</a>', "{}<br>", "{}<br />", "{}",
              "{}"]  # fmt: skip

    def phrase() -> str:
        return rnd.choice(inline).format(" ".join(rnd.choices(words, k=rnd.randint(1, 5))))

    def block() -> str:
        body = rnd.choice(["", " "]).join(phrase() for _ in range(rnd.randint(1, 3)))
        return rnd.choice(
            [f"<p>{body}</p>", f"<h2>{body}</h2>", f'<div class="x">{body}</div>',
             "<ul>" + "".join(f"<li>{phrase()}</li>" for _ in range(rnd.randint(1, 3))) + "</ul>"]
        )  # fmt: skip

    for _ in range(5000):
        source = rnd.choice(["", "\n"]).join(block() for _ in range(rnd.randint(1, 4)))
        assert strip_html(source) == old_strip_html(source), source


def old_strip_html(source: str) -> str:
    """strip_html before it read HTML with a parser: block ends to line breaks, anything
    from < to > out, entities decoded, each line's runs of whitespace squeezed."""
    if "<" not in source and "&" not in source:
        return source.strip()
    source = re.sub(r"(?i)<\s*(br|/p|/div|/li|/h[1-6]|/tr)\s*/?>", "\n", source)
    source = html.unescape(re.sub(r"</?[A-Za-z!][^>]*>", "", source))
    lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in source.splitlines())
    return "\n".join(line for line in lines if line)
