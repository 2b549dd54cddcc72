"""`multichan override set|unset|list`, through the CLI: an override shows in `plan` for its
channel and no other (title, price used as given, exclusion); a channel, SKU or value the
channel cannot use is one clear error with exit 2 (README's table: usage error) and writes
nothing; unset gives the rules' values back; rows of a channel no longer configured are
listed and can be removed."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from multichan.channels import registry
from tests.conftest import run_cli, write_config

CONFIG = """
shop:
  name: Shop
  url: https://shop.example.com
  link_template: "https://shop.example.com/products/{handle}"
  currency: USD
channels:
  woo:
    type: woocommerce
    price:
      markup_percent: 10
    settings:
      base_url: http://127.0.0.1:9
      consumer_key: ${WOO_KEY}
      consumer_secret: ${WOO_SECRET}
  pos:
    type: square
    price:
      currency: JPY
      rates: {USD: 150}
    settings:
      base_url: http://127.0.0.1:9
      access_token: ${SQUARE_TOKEN}
      location_id: L1
"""


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    ws = tmp_path / "shop"
    assert run_cli("init", ws).code == 0
    write_config(ws, CONFIG)
    path = tmp_path / "products.csv"
    path.write_text(
        "sku,title,price,quantity\nA-1,Alpha mug,10.00,3\nB-2,Beta mug,12.50,4\n", "utf-8"
    )
    assert run_cli("-w", ws, "import", "csv", path).code == 0
    return ws


def cli(ws: Path, *args: str) -> Any:
    return run_cli("-w", ws, *args)


def plan(ws: Path) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(channel, SKU, kind) -> {field: new value} of `plan --jsonl` (sends nothing)."""
    result = cli(ws, "plan", "--jsonl")
    assert result.code == 0, result.output
    found = {}
    for line in result.stdout.splitlines():
        doc = json.loads(line)
        if "sku" in doc:
            found[doc["channel"], doc["sku"], doc["kind"]] = {
                f["field"]: f["new"] for f in doc["fields"]
            }
    return found


def rows(ws: Path) -> list[tuple]:
    conn = sqlite3.connect(ws / "catalog.db")
    try:
        return conn.execute(
            "SELECT channel, sku, title, description, price, excluded FROM overrides "
            "ORDER BY channel, sku"
        ).fetchall()
    finally:
        conn.close()


def test_an_override_shows_in_the_plan_of_its_channel_only(shop: Path) -> None:
    before = plan(shop)
    assert before["woo", "A-1", "prices"]["price"] == "11.00"  # the 10% markup
    done = cli(shop, "override", "set", "woo", "A-1", "--title", "Alpha mug, woo edition",
               "--price", "9.50")  # fmt: skip
    assert done.code == 0, done.output
    assert "woo A-1 title: None -> 'Alpha mug, woo edition'" in done.stdout
    assert "woo A-1 price: (rules) -> 9.50 USD (used as given)" in done.stdout

    after = plan(shop)
    assert after["woo", "A-1", "listings"]["title"] == "Alpha mug, woo edition"
    assert after["woo", "A-1", "prices"]["price"] == "9.50"  # as given: no markup
    assert after["pos", "A-1", "listings"]["title"] == "Alpha mug"  # the other channel
    assert after["pos", "A-1", "prices"] == before["pos", "A-1", "prices"]
    assert after["woo", "B-2", "listings"]["title"] == "Beta mug"  # the other SKU
    for key, fields in after.items():
        if key not in {("woo", "A-1", "listings"), ("woo", "A-1", "prices")}:
            assert fields == before[key], key

    # a price in the channel's own currency and minor units (pos sells in JPY)
    assert cli(shop, "override", "set", "pos", "B-2", "--price", "1500").code == 0
    assert plan(shop)["pos", "B-2", "prices"]["price"] == "1500"


def test_exclude_keeps_a_sku_off_one_channel_and_include_brings_it_back(shop: Path) -> None:
    done = cli(shop, "override", "set", "woo", "B-2", "--exclude")
    assert done.code == 0 and "woo B-2: excluded" in done.stdout
    found = plan(shop)
    assert ("woo", "B-2", "listings") not in found and ("pos", "B-2", "listings") in found
    assert cli(shop, "override", "set", "woo", "B-2", "--include").code == 0
    assert ("woo", "B-2", "listings") in plan(shop)
    assert rows(shop) == []  # nothing left to override: no row


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("wooo", "A-1", "--title", "T"), "no channel 'wooo' in channels.yaml (configured: woo, "
                                          "pos); did you mean 'woo'?"),
        (("woo", "NOPE", "--title", "T"), "no product with SKU 'NOPE' in the catalog"),
        (("pos", "A-1", "--price", "10.5"), "--price '10.5' is not a JPY price (10.5 has 1 "
                                            "decimals; JPY takes 0); pos sells in JPY"),
        (("woo", "A-1", "--price", "9.9999"), "(9.9999 has 4 decimals; USD takes 2)"),
        (("woo", "A-1", "--price", "0"), "--price '0' must be above zero"),
        (("woo", "A-1", "--price", "-3"), "is not a USD price (negative amount"),
        (("woo", "A-1", "--price", "ten"), "is not a USD price"),
        (("woo", "A-1", "--price", "10 EUR"), "is in EUR, not USD"),
        (("woo", "A-1", "--title", "  "), "--title is empty; 'multichan override unset woo A-1 "
                                          "--title' removes"),
        (("woo", "A-1"), "nothing to set"),
    ],
)  # fmt: skip
def test_what_a_channel_cannot_use_is_a_clear_error(
    shop: Path, args: tuple[str, ...], message: str
) -> None:
    result = cli(shop, "override", "set", *args)
    assert result.code == 2, result.output  # README: usage error (unknown SKU, bad argument)
    assert message in result.stderr
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.output
    assert rows(shop) == []
    as_json = cli(shop, "override", "set", *args, "--json")
    assert json.loads(as_json.stdout)["exit_code"] == 2


def test_a_title_longer_than_the_channel_allows_is_refused_not_cut(shop: Path) -> None:
    limit = registry.load("woocommerce").max_title
    longest = ("Mug-" * limit)[:limit]
    assert len(longest) == limit
    refused = cli(shop, "override", "set", "woo", "A-1", "--title", longest + "s")
    assert refused.code == 2
    assert f"--title is {limit + 1} characters; woo allows {limit}" in refused.stderr
    assert rows(shop) == []
    assert cli(shop, "override", "set", "woo", "A-1", "--title", longest).code == 0
    assert plan(shop)["woo", "A-1", "listings"]["title"] == longest  # whole, not cut


def test_unset_gives_the_rules_values_back(shop: Path) -> None:
    assert cli(shop, "override", "set", "woo", "A-1", "--title", "T", "--price", "9.50",
               "--description", "Only on woo").code == 0  # fmt: skip
    done = cli(shop, "override", "unset", "woo", "A-1", "--price")
    assert done.code == 0 and "woo A-1 price: 9.50 USD -> (rules)" in done.stdout
    assert rows(shop) == [("woo", "A-1", "T", "Only on woo", None, 0)]
    assert plan(shop)["woo", "A-1", "prices"]["price"] == "11.00"
    assert cli(shop, "override", "unset", "woo", "A-1", "--all").code == 0
    assert rows(shop) == []
    assert plan(shop)["woo", "A-1", "listings"]["title"] == "Alpha mug"
    nothing = cli(shop, "override", "unset", "woo", "A-1")
    assert nothing.code == 2 and "name what to unset" in nothing.stderr
    again = cli(shop, "override", "unset", "woo", "A-1", "--all")
    assert again.code == 0 and "nothing changed" in again.stdout


def test_list_shows_every_override_and_those_no_channel_uses(shop: Path) -> None:
    assert cli(shop, "override", "set", "woo", "A-1", "--price", "9.50").code == 0
    assert cli(shop, "override", "set", "pos", "B-2", "--exclude").code == 0
    conn = sqlite3.connect(shop / "catalog.db")
    with conn:
        conn.execute("INSERT INTO overrides (channel, sku, title) VALUES ('old', 'A-1', 'X')")
    conn.close()

    listed = cli(shop, "override", "list")
    assert listed.code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert any("woo" in x and "A-1" in x and "9.50 USD" in x for x in lines)
    assert any("pos" in x and "B-2" in x and "excluded" in x for x in lines)
    assert any("old" in x and "not in channels.yaml: never used" in x for x in lines)
    doc = json.loads(cli(shop, "override", "list", "woo", "--json").stdout)
    assert doc["overrides"] == [{
        "channel": "woo", "sku": "A-1", "title": None, "description": None, "price": "9.50",
        "currency": "USD", "excluded": False, "configured": True,
    }]  # fmt: skip
    unknown = cli(shop, "override", "list", "poss")
    assert unknown.code == 2 and "did you mean 'pos'?" in unknown.stderr

    # a channel removed from channels.yaml: its rows can still be removed
    assert cli(shop, "override", "unset", "old", "A-1", "--all").code == 0
    assert ("old", "A-1", "X", None, None, 0) not in rows(shop)
    gone = cli(shop, "override", "unset", "old", "A-1", "--all")
    assert gone.code == 2 and "no channel 'old'" in gone.stderr
