"""Seller HTML in a feed, as a seller sees it: export, read the feed file. A description with
styles, scripts, comments and ``>`` inside attributes reaches a channel as the text a shopper
reads on the product page, and nothing else (the rules of it: tests/test_text.py)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.feeds.helpers import configure, export, google_items, jsonl, sql

PASTED = (  # a description pasted from a page builder, with everything a shopper never sees
    "<style>.spec td { color: red; } p > b { font-weight: 700 }</style>\n"
    '<p class="lead" data-note="a > b"><b>Enamel</b> mug &amp; lid</p>\n'
    "<!-- TODO: price > 20 once <b>restocked</b> -->\n"
    '<script>if (window.x > 1) { track("<p>mug</p>"); }</script>\n'
    '<ul><li><a href="/care" title="wash > 30&deg;C">Dishwasher safe</a></li><li>350 ml</ul>'
    "<noscript>Enable JavaScript</noscript><template><p>Sold out</p></template>"
)
VISIBLE = "Enamel mug & lid\nDishwasher safe\n350 ml"


def test_a_feed_description_holds_only_the_visible_text(demo: Path) -> None:
    sql(demo, "UPDATE products SET description = ? WHERE sku = 'MUG-ENAMEL'", PASTED)
    configure(
        demo,
        """\
        google: {type: google_merchant}
        stripped: {type: jsonl, output: feeds/stripped.jsonl, content: {strip_html: true}}
        """,
    )
    export(demo)
    google = google_items(demo / "feeds" / "google.xml")
    assert google["MUG-ENAMEL"]["description"] == VISIBLE
    feed = (demo / "feeds" / "google.xml").read_text(encoding="utf-8")
    for hidden in ("red;", "font-weight", "TODO", "restocked", "track(", "JavaScript", "Sold out"):
        assert hidden not in feed, hidden
    assert jsonl_description(demo) == VISIBLE
    # the other products' descriptions read as they always have
    assert google["LANTERN-LED"]["description"] == "300 lumen\nUSB-C charging"
    assert google["MUG-ENAMEL"]["title"] == "Enamel Camp Mug 350 ml"


def test_a_channel_that_keeps_html_gets_it_unchanged(demo: Path) -> None:
    sql(demo, "UPDATE products SET description = ? WHERE sku = 'MUG-ENAMEL'", PASTED)
    offers = jsonl(demo, "content: {strip_html: false}\n")
    assert offers["MUG-ENAMEL"]["description"] == PASTED


def jsonl_description(ws: Path) -> str:
    lines = (ws / "feeds" / "stripped.jsonl").read_text(encoding="utf-8").splitlines()
    offers = {o["sku"]: o for o in map(json.loads, lines)}
    return str(offers["MUG-ENAMEL"]["description"])
