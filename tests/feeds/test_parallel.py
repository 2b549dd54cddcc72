"""Feeds rendered on every core are the feeds one process renders, byte for byte: same file,
sha256, items, diagnostics in SKU order and item numbering; and the export's fast paths
(escaping, GTIN check digits, prices, titles, rows instead of dicts) give the answers of the
plain code they replace.
"""

from __future__ import annotations

import csv
import json
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from multichan.feeds import parallel
from multichan.offers import COLUMNS, Offer
from tests.conftest import run_cli, write_config

CHANNELS = """\
version: 1
shop:
  name: Northwind "Outfitters" & Co
  url: https://shop.example.com
  link_template: "https://shop.example.com/products/{handle}"
  currency: USD
  country: US
  language: en
defaults:
  price: {rates: {EUR: 1.08}}  # the catalog's EUR products, in the USD feeds
channels:
  google: {type: google_merchant, output: feeds/google.xml}
  google_tsv: {type: google_merchant_tsv, output: feeds/google.tsv}
  local: {type: google_local_inventory, output: feeds/local.tsv}
  meta: {type: meta_catalog, output: feeds/meta.csv, stock: {buffer: 1}}
  amazon:
    type: amazon_listings
    output: feeds/amazon.json
    settings: {seller_id: A1EXAMPLE}
    price: {markup_percent: 15, round: "0.99"}
    stock: {buffer: 2, cap: 10, locations: [warehouse]}
  eu:
    type: csv
    output: feeds/eu.csv
    price: {currency: EUR, rates: {USD: 0.92}, round: "0.95", min_price: 5.00}
    filters: {exclude_product_types: ["Gift Cards"], in_stock_only: true}
    content: {title: "{{ brand }} {{ title }} ({{ images | length }})"}
  lines: {type: jsonl, output: feeds/lines.jsonl, stock: {percent: 50}}
"""
WEIRD = [
    "Tab\there", "Quote \"q\" and 'a'", "Ctrl\x01char\x7f", "<b>bold</b> &amp; &lt;x&gt;",
    "=SUM(A1)", "+plus", "-minus", "@at", "line1\nline2\r\nline3", "Unicode ünï 東京 \u2028",
    "comma, here", "  spaced   out  ", "&nbsp;nbsp&#39;s", "a < b > c", "Fish & chips",
]  # fmt: skip
SIZE = 1500
# The default Google and Amazon templates as they were before the item macro: a template that
# loops over `offers` itself renders in one process and must give the same bytes.
CLASSIC_GOOGLE = """\
<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0">
<channel>
<title>{{ shop.name or channel.name }}</title>
<link>{{ shop.url or "https://example.com" }}</link>
<description>{{ shop.name or channel.name }} products for Google Merchant Center</description>
{% for o in offers %}
<item>
<g:id>{{ o.sku }}</g:id>
<g:title>{{ o.title }}</g:title>
<g:description>{{ o.description }}</g:description>
<g:link>{{ o.link }}</g:link>
<g:image_link>{{ o.image_link }}</g:image_link>
{% for url in o.additional_image_links %}
<g:additional_image_link>{{ url }}</g:additional_image_link>
{% endfor %}
<g:availability>{{ o.availability }}</g:availability>
<g:price>{{ o.price | money(o.currency) }}</g:price>
{% if o.sale_price %}
<g:sale_price>{{ o.sale_price | money(o.currency) }}</g:sale_price>
{% endif %}
<g:condition>{{ o.condition }}</g:condition>
{% for name in ("brand", "gtin", "mpn", "item_group_id", "google_product_category") %}
{% if o[name] %}
<g:{{ name }}>{{ o[name] }}</g:{{ name }}>
{% endif %}
{% endfor %}
{% if o.product_type %}
<g:product_type>{{ o.product_type }}</g:product_type>
{% endif %}
{% for name in ("color", "size", "material", "pattern", "gender", "age_group") %}
{% if o[name] %}
<g:{{ name }}>{{ o[name] | lower if name in ("gender", "age_group") else o[name] }}</g:{{ name }}>
{% endif %}
{% endfor %}
{% if o.weight_grams %}
<g:shipping_weight>{{ o.weight_grams }} g</g:shipping_weight>
{% endif %}
</item>
{% endfor %}
</channel>
</rss>
"""
CLASSIC_AMAZON_HEAD = (
    '{% set marketplace = channel.settings.marketplace_id | default("ATVPDKIKX0DER") %}\n'
    '{% set locale = shop.language ~ "_" ~ shop.country %}\n'
    "{\n"
    '  "header": {"sellerId": {{ channel.settings.seller_id }}, "version": "2.0", '
    '"issueLocale": {{ locale }}},\n'
    '  "messages": [\n'
    "{% for o in offers %}\n"
    '    {% if not loop.first %},{% endif %}{"messageId": {{ loop.index }}, "sku": {{ o.sku }}, '
)  # the rest of the message is the default template's item, line for line


def make_catalog(path: Path, size: int) -> None:
    """A catalog CSV with the awkward values sellers have: markup, quotes, control characters,
    bad GTINs, missing images and links, zero prices, several images, odd stock."""
    rnd = random.Random(20240611)
    header = [
        "sku", "title", "description", "brand", "gtin", "mpn", "price", "sale_price",
        "currency", "link", "image_link", "condition", "product_type", "item_group_id",
        "color", "size", "status", "quantity:store", "quantity:warehouse",
        "additional_image_link", "gender", "age_group", "material", "weight_grams", "tags",
    ]  # fmt: skip
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(header)
        for n in range(size):
            odd = rnd.random() < 0.15
            extra = rnd.choice(WEIRD) if odd else ""
            out.writerow([
                f"SKU-{n:05d}" + ("-" + "X" * 45 if n % 211 == 0 else ""),
                (extra + " " if odd else "") + f"Product {n // 8} & co",
                f"<p>Product {n // 8}: soft &amp; durable.</p>" + extra,
                rnd.choice(["Northwind", "Acme", "", "Brand & Sons"]),
                rnd.choice(["4006381333931", "4006381333932", "", "12345", "036000291452"]),
                f"MPN-{n}" if n % 3 else "",
                rnd.choice(["19.99", "5.00", "0.00", "120.50", "9.95"]),
                rnd.choice(["", "", "14.99", "200.00"]),
                rnd.choice(["USD", "USD", "EUR"]),
                "" if n % 17 == 0 else f"https://shop.example.com/p/{n}",
                "" if n % 29 == 0 else f"https://cdn.example.com/{n}.jpg",
                rnd.choice(["new", "new", "used", "refurbished"]),
                rnd.choice(["Apparel > Shirts", "Gift Cards", "Home", ""]),
                f"G{n // 8}",
                rnd.choice(["Black", "", "Navy"]),
                rnd.choice(["S", "M", ""]),
                "draft" if n % 97 == 0 else "active",
                rnd.randint(-2, 9),
                rnd.randint(0, 20),
                "|".join(f"https://cdn.example.com/{n}-{k}.jpg" for k in range(n % 4)),
                rnd.choice(["", "Female", "unisex"]),
                rnd.choice(["", "Adult"]),
                rnd.choice(["", "Cotton", rnd.choice(WEIRD)]),
                rnd.choice(["", "250"]),
                rnd.choice(["", "sale, new"]),
            ])  # fmt: skip


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with SIZE awkward products, every feed type, and a few overrides."""
    ws = tmp_path_factory.mktemp("parallel") / "shop"
    assert run_cli("init", ws).code == 0
    write_config(ws, CHANNELS)
    source = ws.parent / "catalog.csv"
    make_catalog(source, SIZE)
    assert run_cli("-w", ws, "import", "csv", source).code in (0, 4)
    con = sqlite3.connect(ws / "catalog.db")
    with con:
        con.executemany(
            "INSERT INTO overrides (channel, sku, title, price, excluded) VALUES (?, ?, ?, ?, ?)",
            [("meta", "SKU-00010", "Override <b>&</b>", "9.99", 0),
             ("lines", "SKU-00011", None, None, 1), ("eu", "SKU-00012", None, "3.00", 0)],
        )  # fmt: skip
    con.close()
    return ws


def export(ws: Path, workers: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setattr(parallel, "CHUNK", 97)  # many ranges, some ending mid-group
    monkeypatch.setattr(parallel, "MIN_PARALLEL", 0)
    result = run_cli("-w", ws, "export", "--force", "--json", env={"MULTICHAN_WORKERS": workers})
    assert result.code in (0, 4), result.output
    channels = json.loads(result.stdout)["channels"]
    return {c["channel"]: {**c, "text": Path(c["path"]).read_bytes()} for c in channels}


def test_every_default_template_renders_the_same_feed_on_two_cores_as_on_one(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = export(shop, "1", monkeypatch)
    two = export(shop, "2", monkeypatch)
    assert set(one) == {"google", "google_tsv", "local", "meta", "amazon", "eu", "lines"}
    for name, serial in one.items():
        multi = two[name]
        assert multi["text"] == serial["text"], name
        for key in ("items", "left_out", "notes", "bytes", "sha256", "exit_code"):
            assert multi[key] == serial[key], (name, key)
        assert serial["items"] > SIZE // 3, name
    assert one["google"]["left_out"] and one["google"]["notes"]  # the catalog is awkward enough
    skus = [d["sku"] for d in one["google"]["left_out"]]
    assert skus == sorted(skus)  # reported per SKU, in SKU order
    messages = json.loads(one["amazon"]["text"])["messages"]
    assert [m["messageId"] for m in messages] == list(range(1, len(messages) + 1))
    assert one["amazon"]["left_out"]  # numbering skips nothing where items were left out


def test_a_template_without_an_item_macro_gives_the_same_bytes_on_one_core(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    templates = shop / "templates"
    (templates / "classic.xml.j2").write_text(CLASSIC_GOOGLE, encoding="utf-8")
    amazon = (templates / "amazon_listings.json.j2").read_text(encoding="utf-8")
    item = amazon.split('"messageId": {{ index }}, "sku": {{ o.sku }}, ', 1)[1]
    item = item.split("{% endmacro %}", 1)[0]
    gone = (  # an updating feed: what it no longer offers, after the offers (none here)
        "{% for sku, stores in withdrawn %}"
        '  ,{"messageId": 0, "sku": {{ sku }}, "operationType": "DELETE"}'
        "{% endfor %}"
    )
    (templates / "classic.json.j2").write_text(
        CLASSIC_AMAZON_HEAD + item + "{% endfor %}\n" + gone + "  ]\n}\n", encoding="utf-8"
    )
    config = CHANNELS + (
        "  classic_google: {type: google_merchant, template: classic.xml.j2,"
        " output: feeds/classic.xml}\n"
        "  classic_amazon: {type: amazon_listings, template: classic.json.j2,"
        " output: feeds/classic.json, settings: {seller_id: A1EXAMPLE},"
        " price: {markup_percent: 15, round: '0.99'},"
        " stock: {buffer: 2, cap: 10, locations: [warehouse]}}\n"
    )
    write_config(shop, config)
    try:
        feeds = export(shop, "2", monkeypatch)
    finally:
        write_config(shop, CHANNELS)
    assert feeds["classic_google"]["text"] == feeds["google"]["text"]
    assert feeds["classic_amazon"]["text"] == feeds["amazon"]["text"]


def test_a_template_error_in_a_worker_names_the_file_and_line(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = shop / "templates" / "broken.xml.j2"
    broken.write_text(
        "{% macro item(o, index) %}\n<item>\n{{ o.no_such_field.x }}\n</item>\n{% endmacro %}\n",
        encoding="utf-8",
    )
    write_config(
        shop,
        CHANNELS.split("channels:")[0]
        + "channels:\n  broken: {type: google_merchant, template: broken.xml.j2}\n",
    )
    monkeypatch.setattr(parallel, "CHUNK", 97)
    monkeypatch.setattr(parallel, "MIN_PARALLEL", 0)
    try:
        result = run_cli("-w", shop, "export", env={"MULTICHAN_WORKERS": "2"})
    finally:
        write_config(shop, CHANNELS)
    assert result.code == 3, result.output
    assert "broken.xml.j2:3" in result.output
    assert not list((shop / "feeds").glob(".*.tmp"))


def test_progress_is_reported_per_chunk_up_to_the_item_count(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from multichan.feeds.run import export_all
    from multichan.workspace import Workspace

    monkeypatch.setattr(parallel, "CHUNK", 97)
    monkeypatch.setattr(parallel, "MIN_PARALLEL", 0)
    seen: list[int] = []
    [result] = export_all(
        Workspace(shop), ["google"], force=True, progress=lambda name, total: seen.append
    )
    assert seen == sorted(seen) and seen[-1] == result.items and len(seen) > 5


# --- the fast paths give the plain code's answers ---------------------------------------------
def test_rows_and_dicts_make_the_same_offers(shop: Path) -> None:
    from multichan.catalog.store import iter_catalog
    from multichan.feeds.run import load_config
    from multichan.offers import rules_for
    from multichan.workspace import Workspace

    ws = Workspace(shop)
    config, db = load_config(ws), ws.db()
    for name in ("google", "amazon", "eu"):
        rules = rules_for(config.channels[name], config)
        rules.read_columns(COLUMNS)
        for product in iter_catalog(db):
            row = tuple(product[c] for c in COLUMNS)
            try:
                expected = rules.offer(product)
            except ValueError as exc:
                with pytest.raises(ValueError, match=str(exc)):
                    rules.offer_row(row, product["images"], product["stock"])
                continue
            assert rules.offer_row(row, product["images"], product["stock"]) == expected
    db.close()


def test_offer_fields_are_in_the_order_offer_row_builds_them() -> None:
    assert Offer.__slots__ == (  # type: ignore[attr-defined]
        "sku", "item_group_id", "title", "description", "link", "image_link",
        "additional_image_links", "brand", "gtin", "mpn", "condition", "price", "sale_price",
        "currency", "quantity", "availability", "location_quantities", "product_type",
        "google_product_category", "color", "size", "material", "pattern", "gender",
        "age_group", "weight_grams", "tags", "notes",
    )  # fmt: skip


def test_a_worker_that_dies_fails_the_export_instead_of_hanging(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    def die(*args: Any) -> None:
        os._exit(9)  # what the OOM killer does to a worker

    monkeypatch.setattr(parallel, "CHUNK", 97)
    monkeypatch.setattr(parallel, "MIN_PARALLEL", 0)
    monkeypatch.setattr(parallel, "render_items", die)
    result = run_cli("-w", shop, "export", "google", env={"MULTICHAN_WORKERS": "2"})
    assert result.code == 1, result.output
    assert "stopped unexpectedly (exit code 9)" in result.output
    assert not list((shop / "feeds").glob(".*.tmp"))


def test_a_template_that_loops_over_offers_is_rendered_as_written_even_with_an_item_macro(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (shop / "templates" / "own.csv.j2").write_text(
        "{% macro item(o) %}never{% endmacro %}sku\n{% for o in offers %}{{ o.sku }}\n{% endfor %}",
        encoding="utf-8",
    )
    write_config(
        shop,
        CHANNELS.split("channels:")[0]
        + "channels:\n  own: {type: csv, template: own.csv.j2, output: feeds/own.csv}\n",
    )
    try:
        feeds = export(shop, "2", monkeypatch)
    finally:
        write_config(shop, CHANNELS)
    lines = feeds["own"]["text"].decode().splitlines()
    assert lines[0] == "sku" and lines[1].startswith("SKU-") and "never" not in lines
    assert len(lines) == feeds["own"]["items"] + 1
