"""`multichan replay` end to end: a push to Shopify (the schema-checked GraphQL endpoint) and
one to Meta (the job path: items_batch jobs collected by handle) replayed from the journal
give exactly the values the plan sent and the channel now shows; `--against now` after a
change names the SKU and field; an export run, replayed by a real process without a TTY as
cron runs it, gives the items of the very feed it wrote, though that feed was replaced since.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from multichan.sync.run import push_all
from multichan.workspace import resolve
from tests.channels.meta_conftest import MetaDouble
from tests.conftest import run_cli, run_subprocess
from tests.e2e.conftest import TOKENS, shopify_state
from tests.e2e.test_meta_catalog import configure as configure_meta
from tests.e2e.test_meta_catalog import meta  # noqa: F401  (the fixture)
from tests.e2e.test_meta_catalog import push as push_meta
from tests.servers import shopify as shopify_srv
from tests.sync.conftest import FakeTime

pytestmark = pytest.mark.slow

SHOP = """\
shop:
  link_template: "https://shop.example.com/products/{{handle}}"
channels:
  shop:
    type: shopify
    settings:
      base_url: {url}
      token: ${{SHOPIFY_TOKEN}}
      location_id: "{location}"
      timeout: 5
    orders: {{location: warehouse}}
"""


@pytest.fixture
def shop(shared_shopify: shopify_srv.ShopifyServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("SHOPIFY_TOKEN", TOKENS["SHOPIFY_TOKEN"])
    monkeypatch.setenv("MULTICHAN_LOCK_TIMEOUT", "3")
    shared_shopify.reset(maximum=1e9, restore=1e9)
    return shared_shopify


def planned(ws: Path, channel: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Each SKU and kind a full plan sends, with the new value of each field it names."""
    plan = run_cli("-w", ws, "plan", channel, "--json", "--full")
    assert plan.code == 0, plan.output
    changes = json.loads(plan.stdout)["channels"][0]["changes"]
    return {(c["sku"], c["kind"]): {f["field"]: f["new"] for f in c["fields"]} for c in changes}


def runs(ws: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        return [str(r) for (r,) in db.execute("SELECT id FROM journal_runs ORDER BY id")]


def replayed(ws: Path, *args: str) -> dict[str, Any]:
    result = run_cli("-w", ws, "replay", *args, "--json")
    assert result.code == 0, result.output
    return json.loads(result.stdout)


def test_a_shopify_push_replays_what_was_sent_and_diffs_against_now(
    shop: shopify_srv.ShopifyServer, new_demo: Any
) -> None:
    ws = new_demo()
    (ws / "channels.yaml").write_text(
        SHOP.format(url=shop.url, location=shopify_srv.LOCATION), encoding="utf-8"
    )
    plan = planned(ws, "shop")
    [result] = push_all(resolve(ws), ["shop"], pacing=FakeTime().pacing())
    assert result.exit_code == 0, result.message
    assert shop.violations == []
    [first] = runs(ws)
    doc = replayed(ws, first)
    sent = {(i["sku"], i["kind"]): i["snapshot"] for i in doc["items"] if i["outcome"] == "ok"}
    assert sent == plan  # every SKU and kind, every field, as planned
    remote = shopify_state(shop)["skus"]
    for sku, row in remote.items():  # and as Shopify holds them now
        prices, stock = sent[(sku, "prices")], sent[(sku, "quantities")]
        if prices["sale_price"]:  # a sale: Shopify's price is the sale, compareAt the price
            assert (Decimal(row["price"]), Decimal(row["compare_at"])) == (
                Decimal(prices["sale_price"]), Decimal(prices["price"])
            )  # fmt: skip
        else:
            assert Decimal(row["price"]) == Decimal(prices["price"])
        assert row["available"] == stock["quantity"]
        assert row["barcode"] == (sent[(sku, "listings")]["gtin"] or None)

    assert run_cli("-w", ws, "price", "set", "MUG-ENAMEL", "12.00").code == 0
    now = replayed(ws, first, "--against", "now")
    changed = [(i["sku"], i["kind"], i["fields"], i["now"]["action"]) for i in now["items"]
               if i["status"] != "same"]  # fmt: skip
    assert changed == [
        ("MUG-ENAMEL", "prices", [{"field": "price", "then": "14.00", "now": "12.00"}], "update")
    ]
    [result] = push_all(resolve(ws), ["shop"], pacing=FakeTime().pacing())
    assert result.exit_code == 0
    second = runs(ws)[-1]
    assert [(i["sku"], i["kind"], i["snapshot"]["price"]) for i in replayed(ws, second)["items"]
            ] == [("MUG-ENAMEL", "prices", "12.00")]  # fmt: skip
    assert shopify_state(shop)["skus"]["MUG-ENAMEL"]["price"] == "12.00"
    after = replayed(ws, first, "--against", "now")  # sent since: nothing left to send
    [mug] = [i for i in after["items"] if i["status"] != "same"]
    assert (mug["sku"], mug["now"]["action"], mug["now"]["snapshot"]["price"]) == (
        "MUG-ENAMEL", None, "12.00"
    )  # fmt: skip
    assert after["today"]["update"] == 0
    text = run_cli("-w", ws, "replay", first, "--against", "now")
    assert "MUG-ENAMEL" in text.stdout and "nothing to send" in text.stdout
    assert all(secret not in text.output for secret in TOKENS.values())


def test_a_meta_push_as_jobs_replays_what_each_job_carried(
    meta: MetaDouble,  # noqa: F811
    new_demo: Any,
) -> None:
    ws = new_demo()
    configure_meta(ws, meta.url)
    plan = planned(ws, "meta")
    result = push_meta(ws)
    assert result.exit_code == 0, result.message
    assert meta.violations == []
    doc = replayed(ws, runs(ws)[-1])
    assert doc["run"]["recorded"] is True
    sent = {(i["sku"], i["kind"]): i["snapshot"] for i in doc["items"] if i["outcome"] == "ok"}
    assert sent == plan
    for sku, item in meta.items.items():  # what Meta shows: "14.00 USD", its stock
        prices = sent[(sku, "prices")]
        assert item["price"] == f"{prices['price']} {prices['currency']}"
        assert item["quantity_to_sell_on_facebook"] == sent[(sku, "quantities")]["quantity"]
        assert item["title"] == sent[(sku, "listings")]["title"]
    text = run_cli("-w", ws, "replay", runs(ws)[-1])
    assert text.code == 0
    assert f"plan: {len(meta.items)} to create, 0 to update, 0 to delist" in text.stdout


def test_an_export_run_replays_its_feed_in_a_cron_process(new_demo: Any) -> None:
    ws = new_demo()
    first = run_subprocess("-w", ws, "export")
    assert first.code == 0, first.output
    feed = (ws / "feeds" / "google.xml").read_text(encoding="utf-8")
    assert run_subprocess("-w", ws, "price", "set", "MUG-ENAMEL", "12.00").code == 0
    assert run_subprocess("-w", ws, "export").code == 0
    assert "<g:price>12.00 USD</g:price>" in (ws / "feeds" / "google.xml").read_text("utf-8")
    listed = run_subprocess("-w", ws, "replay")
    assert listed.code == 0 and "export-2" in listed.stdout and "export-1" in listed.stdout
    lines = run_subprocess("-w", ws, "replay", "export-1", "--jsonl")
    assert lines.code == 0, lines.output
    head, *items = [json.loads(line) for line in lines.stdout.splitlines()]
    assert head["run"]["intact"] is True and len(items) == feed.count("<item>")
    mug = next(i["fields"] for i in items if i["id"] == "MUG-ENAMEL")
    assert mug["price"] == "14.00 USD" and "<g:price>14.00 USD</g:price>" in feed
    diff = run_subprocess("-w", ws, "replay", "export-1", "--against", "now")
    assert diff.code == 0, diff.output
    assert "MUG-ENAMEL" in diff.stdout and "14.00 USD" in diff.stdout
    assert "1 changed" in diff.stdout
