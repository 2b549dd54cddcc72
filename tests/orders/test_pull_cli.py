"""`pull`, `orders` and `sync` on the command line when something is wrong: the error says
what and where, with the documented exit code, and nothing is recorded."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli, write_config

CONFIG = """\
channels:
  shop:
    type: shopify
    settings:
      base_url: http://127.0.0.1:9
      token: ${SHOPIFY_TOKEN}
      location_id: "1"
      timeout: 1
  google:
    type: google_merchant
"""


def test_a_channel_without_an_orders_location_is_a_config_error(demo: Path) -> None:
    write_config(demo, CONFIG)
    result = run_cli("-w", demo, "pull", "shop", env={"SHOPIFY_TOKEN": "shpat_x"})
    assert result.code == 3, result.output
    assert ("channels.yaml:2: channels.shop.orders.location is required: the catalog has 2 "
            "locations (store, warehouse)") in result.stderr  # fmt: skip
    unknown = CONFIG.replace(
        "      timeout: 1\n", "      timeout: 1\n    orders: {location: attic}\n"
    )
    write_config(demo, unknown)
    result = run_cli("-w", demo, "pull", "--json", env={"SHOPIFY_TOKEN": "shpat_x"})
    body = json.loads(result.stdout)
    assert result.code == body["exit_code"] == 3
    assert "no location 'attic' in the catalog" in body["channels"][0]["message"]


def test_an_unreachable_channel_is_exit_6_and_records_nothing(demo: Path) -> None:
    write_config(demo, CONFIG.replace("      timeout: 1\n", "      timeout: 1\n    orders: "
                                      "{location: warehouse}\n"))  # fmt: skip
    result = run_cli("-w", demo, "pull", env={"SHOPIFY_TOKEN": "shpat_x"})
    assert (
        result.code == 6 and "shop: exhausted" in result.stderr and "unreachable" in result.stderr
    )
    assert "shpat_x" not in result.output
    listed = run_cli("-w", demo, "orders", "--json")
    assert listed.code == 0 and json.loads(listed.stdout) == []


def test_usage_errors(demo: Path) -> None:
    write_config(demo, CONFIG)
    assert run_cli("-w", demo, "pull", "google").code == 3  # a feed supplies no orders
    bad = run_cli("-w", demo, "pull", "--since", "last tuesday")
    assert bad.code == 2 and "not an ISO date or time" in bad.stderr
    missing = run_cli("-w", demo, "orders", "show", "shop", "#4242")
    assert missing.code == 2 and "no order '#4242' from channel 'shop'" in missing.stderr
    assert run_cli("-w", demo, "orders", "--status", "paid").code == 2
