"""`multichan explain` against what the other commands really send: on every API channel type
(each configured as the documented channels.yaml example block shows it, with every price and
stock rule set), the price and quantity explain ends at are the ones `plan --json` and
`push --dry-run --json` would send, for every SKU of the demo catalog, and explain's "next
push" is the plan's own change list; on a feed, they are what `export` writes. After a real
push (the schema-checked Shopify endpoint), explain names the journal run that sent each kind
and has nothing left to send until the catalog changes."""

from __future__ import annotations

import csv
import json
import re
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import run_cli
from tests.test_channels_example import EXAMPLE, commented_blocks

ROUNDING = ("0.99", "0.95", "0.05", "1.00", "none")
HEAD = {
    "version": 1,
    "shop": {"name": "Northwind", "url": "https://shop.example.com",
             "link_template": "https://shop.example.com/products/{handle}", "currency": "USD"},
}  # fmt: skip


def rules(n: int) -> dict[str, Any]:
    """Every price and stock step, set differently for the n-th channel."""
    price: dict[str, Any] = {
        "markup_percent": 5 + 4 * n, "add": f"{n % 3 * 0.25:.2f}", "round": ROUNDING[n % 5],
        "min_price": 12 + n,
    }  # fmt: skip
    if n % 2:  # every other channel sells in euros
        price.update(currency="EUR", rates={"USD": "0.92"})
    stock = {
        "buffer": n % 4, "percent": 100 - 10 * (n % 5), "cap": 30 + 7 * n,
        "out_of_stock_below": 1 + n % 3,
    }  # fmt: skip
    if n % 3 == 1:
        stock["locations"] = ["warehouse"]
    return {"price": price, "stock": stock}


def example_blocks(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    """The example's API channel blocks and its Amazon listings feed, as written (their
    ${VARS} set), by channel name."""
    from multichan.feeds.formats import FORMATS

    found = {}
    for name, block in commented_blocks(EXAMPLE.read_text(encoding="utf-8")).items():
        channel = yaml.safe_load(block)[name]
        if channel["type"] in FORMATS and channel["type"] != "amazon_listings":
            continue
        for var in re.findall(r"\$\{([A-Z0-9_]+)\}", block):
            monkeypatch.setenv(var, f"value-of-{var.lower()}")
        found[name] = channel
    return found


def write_all_channels(ws: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """channels.yaml with every API channel of the example, its Amazon listings feed and a
    CSV feed, every rule set; returns channel name -> type."""
    channels = example_blocks(monkeypatch)
    for n, channel in enumerate(channels.values()):
        channel.update(rules(n))
    channels["feed"] = {"type": "csv", "output": "feeds/feed.csv", **rules(len(channels))}
    text = yaml.safe_dump({**HEAD, "channels": channels}, sort_keys=False)
    (ws / "channels.yaml").write_text(text, encoding="utf-8")
    return {name: c["type"] for name, c in channels.items()}


def prepare_catalog(ws: Path) -> None:
    """Committed units (an open order line), and an override price on one channel."""
    import sqlite3

    from multichan.catalog import ledger
    from multichan.catalog.schema import open_catalog

    db = open_catalog(ws / "catalog.db")
    with db.conn:
        for sku, location, units in (("BOTTLE-STEEL-750", "warehouse", 9),
                                     ("BLANKET-WOOL", "store", 2)):  # fmt: skip
            ledger.move(db, sku, location, reason="order", committed=units, channel="shop",
                        order_id="1001", line_id=sku)  # fmt: skip
    db.close()
    with sqlite3.connect(ws / "catalog.db") as conn:
        conn.execute("INSERT INTO overrides (channel, sku, price) VALUES ('etsy', 'MUG-ENAMEL',"
                     " '21.00')")  # fmt: skip


def planned(doc: dict[str, Any]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """channel -> SKU -> its changes, from a plan document's channels."""
    found: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for channel in doc["channels"]:
        plan = channel.get("plan", channel)  # push --dry-run nests the plan
        for change in plan["changes"]:
            found.setdefault(plan["channel"], {}).setdefault(change["sku"], []).append(change)
    return found


def new_values(changes: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    change = next(c for c in changes if c["kind"] == kind)
    return {f["field"]: f["new"] for f in change["fields"]}


def explained(ws: Path, sku: str) -> dict[str, dict[str, Any]]:
    result = run_cli("-w", ws, "explain", sku, "--json", "--moves", "3")
    assert result.code == 0, result.output
    return {c["channel"]: c for c in json.loads(result.stdout)["channels"]}


def explained_all(ws: Path, skus: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """``explained`` of every SKU, in this process over one catalog connection (the command's
    own code and JSON encoding, without starting it once per SKU)."""
    from multichan.cli.output import _default
    from multichan.explain import explain
    from multichan.feeds.run import load_config
    from multichan.workspace import resolve

    found = {}
    workspace = resolve(ws)
    config, db = load_config(workspace), workspace.db()
    try:
        for sku in skus:
            doc = json.loads(json.dumps(explain(db, config, sku, ledger_lines=3).as_dict(),
                                        default=_default))  # fmt: skip
            found[sku] = {c["channel"]: c for c in doc["channels"]}
    finally:
        db.close()
    return found


PRICE_STEPS = ("catalog", "conversion", "markup percent", "add", "round", "min price")
CHAINS = (
    ("locations summed", "buffer", "percent", "cap", "out of stock below"),
    tuple(f"price: {s}" for s in PRICE_STEPS),
)


def effective(steps: list[dict[str, Any]]) -> set[str]:
    """The steps that changed the number they were given."""
    values = {s["step"]: s["value"] for s in steps}
    found = set()
    for chain in CHAINS:
        for before, step in pairwise(chain):
            if (
                before in values
                and step in values
                and (Decimal(str(values[before])) != Decimal(str(values[step])))
            ):
                found.add(step)
    return found


def last_value(steps: list[dict[str, Any]], *names: str) -> Any:
    return [s["value"] for s in steps if s["step"] in names][-1]


def test_explain_ends_where_plan_push_dry_run_and_export_do_on_every_channel_type(
    new_demo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from multichan.channels import registry

    ws = new_demo()
    types = write_all_channels(ws, monkeypatch)
    api = {n for n, t in types.items() if t not in ("csv", "amazon_listings")}
    assert {types[n] for n in api} == set(registry.available_types())  # all ten types
    prepare_catalog(ws)

    plan = run_cli("-w", ws, "plan", "--json")
    assert plan.code == 0, plan.output
    plans = planned(json.loads(plan.stdout))
    dry = run_cli("-w", ws, "push", "--dry-run", "--json")
    assert dry.code == 0, dry.output
    assert planned(json.loads(dry.stdout)) == plans  # the dry run would send the same
    assert set(plans) == api
    exported = run_cli("-w", ws, "export", "feed", "amazon")
    assert exported.code == 0, exported.output
    with (ws / "feeds/feed.csv").open(encoding="utf-8") as f:
        feed = {row["sku"]: row for row in csv.DictReader(f)}
    listings = {
        m["sku"]: m["attributes"]
        for m in json.loads((ws / "feeds/amazon.json").read_text(encoding="utf-8"))["messages"]
    }

    skus = [r["sku"] for r in json.loads(run_cli("-w", ws, "catalog", "list", "--json").stdout)]
    checked: dict[str, int] = dict.fromkeys(types, 0)
    changed: set[str] = set()  # the rule steps that changed some SKU's number somewhere
    every = explained_all(ws, skus)
    for sku in ("BOTTLE-STEEL-750", "MUG-ENAMEL", skus[-1]):  # the command prints the same
        assert explained(ws, sku) == every[sku]
    for sku in skus:
        channels = every[sku]
        assert set(channels) == set(types)
        for name in api:
            c, changes = channels[name], plans[name].get(sku)
            if changes is None:  # not offered (a draft, ...): nothing planned, nothing offered
                assert c["offer"] is None and c["next_push"] == [], (name, sku)
                continue
            # explain's next push is the plan's own list of changes for this SKU
            assert [{k: ch[k] for k in ("sku", "kind", "action", "fields")}
                    for ch in c["next_push"]] == changes, (name, sku)  # fmt: skip
            prices, quantities = new_values(changes, "prices"), new_values(changes, "quantities")
            offer = c["offer"]
            assert (offer["price"], offer["sale_price"], offer["currency"]) == (
                prices["price"], prices["sale_price"], prices["currency"]
            ), (name, sku)  # fmt: skip
            assert offer["quantity"] == quantities["quantity"], (name, sku)
            assert c["sends"]["prices"] == prices and c["sends"]["quantities"] == quantities
            # and each chain of steps ends at the number sent
            steps = c["steps"]
            final = last_value(steps, "out of stock below", "continue: untracked quantity",
                               "untracked: untracked quantity")  # fmt: skip
            assert final == quantities["quantity"], (name, sku)
            assert last_value(steps, "price: min price", "price: override") == prices["price"]
            checked[name] += 1
            changed |= effective(steps)
        c = channels["feed"]
        if sku in feed:
            row, offer = feed[sku], c["offer"]
            assert (row["price"], row["sale_price"], row["currency"], row["quantity"]) == (
                offer["price"], offer["sale_price"] or "", offer["currency"],
                str(offer["quantity"]),
            ), sku  # fmt: skip
            assert last_value(c["steps"], "price: min price") == row["price"]
            checked["feed"] += 1
        else:
            assert c["outcome"].startswith("left out"), (sku, c["outcome"])
        c = channels["amazon"]  # an updating feed: explain says whether it was in the last one
        assert c["last_sent"]["in_last_feed"] == (sku in listings), sku
        if sku in listings:
            offer, sent = c["offer"], listings[sku]["purchasable_offer"][0]
            price = sent["our_price"][0]["schedule"][0]["value_with_tax"]
            assert (Decimal(str(price)), sent["currency"]) == (
                Decimal(offer["price"]), offer["currency"]
            ), sku  # fmt: skip
            quantity = listings[sku]["fulfillment_availability"][0]["quantity"]
            assert quantity == offer["quantity"] == last_value(
                c["steps"], "out of stock below", "continue: untracked quantity",
                "untracked: untracked quantity",
            ), sku  # fmt: skip
            checked["amazon"] += 1
    assert min(checked.values()) > 40, checked  # every channel, most of the catalog
    assert changed == set(CHAINS[0][1:] + CHAINS[1][1:]), changed  # each step did something
    etsy = every["MUG-ENAMEL"]["etsy"]
    assert etsy["offer"]["price"] == "21.00" == new_values(plans["etsy"]["MUG-ENAMEL"],
                                                           "prices")["price"]  # fmt: skip
    bottle = {s["step"]: s["value"] for s in every["BOTTLE-STEEL-750"]["shopify"]["steps"]}
    assert bottle["committed"] == {"store": 0, "warehouse": 9}


def test_after_a_push_explain_names_the_run_that_sent_each_kind(
    new_demo: Any, shared_shopify: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from tests.e2e.conftest import push_fast, shopify_state
    from tests.servers import shopify as shopify_srv

    shared_shopify.reset(maximum=1e9, restore=1e9)
    ws = new_demo()
    monkeypatch.setenv("SHOPIFY_TOKEN", shopify_srv.TOKEN)
    channels = {"shop": {"type": "shopify", "settings": {
        "base_url": shared_shopify.url, "token": "${SHOPIFY_TOKEN}",
        "location_id": shopify_srv.LOCATION, "timeout": 5,
    }, **rules(3)}}  # fmt: skip
    text = yaml.safe_dump({**HEAD, "channels": channels}, sort_keys=False)
    (ws / "channels.yaml").write_text(text, encoding="utf-8")
    before = explained(ws, "BLANKET-WOOL")["shop"]
    assert all(v is None for v in before["last_sent"].values())
    assert "shop: never pushed" in run_cli("-w", ws, "explain", "BLANKET-WOOL").stdout

    [result] = push_fast(ws, ["shop"])
    assert result.status == "ok", result.message
    with sqlite3.connect(ws / "catalog.db") as conn:
        run_id, started = conn.execute(
            "SELECT id, started_at FROM journal_runs WHERE channel = 'shop' ORDER BY id DESC"
        ).fetchone()
    after = explained(ws, "BLANKET-WOOL")["shop"]
    assert after["next_push"] == []  # the channel confirmed it all
    for kind in ("listings", "prices", "quantities"):
        sent = after["last_sent"][kind]
        assert sent["status"] == "ok" and sent["snapshot"] == after["sends"][kind]
        assert sent["sent_by"]["run_id"] == run_id and sent["sent_by"]["command"] == "push"
        assert sent["sent_by"]["started_at"] == started
    price, quantity = after["offer"]["price"], after["offer"]["quantity"]
    live = shopify_state(shared_shopify)["skus"]["BLANKET-WOOL"]  # what the shop holds
    assert (live["price"], live["compare_at"]) == (after["offer"]["sale_price"], price)
    assert after["last_sent"]["quantities"]["snapshot"] == {"quantity": quantity}
    assert live["available"] == quantity
    shown = run_cli("-w", ws, "explain", "BLANKET-WOOL")
    assert "shop: next push sends nothing" in shown.stdout
    assert f"#{run_id} push {started}" in shown.stdout

    assert run_cli("-w", ws, "price", "set", "BLANKET-WOOL", "99.00").code == 0
    changed = explained(ws, "BLANKET-WOOL")["shop"]
    plan = planned(json.loads(run_cli("-w", ws, "plan", "--json").stdout))["shop"]
    assert [{k: ch[k] for k in ("sku", "kind", "action", "fields")}
            for ch in changed["next_push"]] == plan["BLANKET-WOOL"]  # fmt: skip
    [update] = changed["next_push"]
    assert update["kind"] == "prices" and update["action"] == "update"
    assert {f["field"]: f["old"] for f in update["fields"]}["price"] == price
    assert changed["last_sent"]["prices"]["snapshot"]["price"] == price  # still the old one
    lines = run_cli("-w", ws, "explain", "BLANKET-WOOL").stdout
    assert f"shop: next push: prices update: price {price} -> {changed['offer']['price']}" in lines

    # drafted: no offer any more, so the next push delists what the channel still shows
    with sqlite3.connect(ws / "catalog.db") as conn:
        conn.execute("UPDATE products SET status = 'draft' WHERE sku = 'BLANKET-WOOL'")
    gone = explained(ws, "BLANKET-WOOL")["shop"]
    assert gone["offer"] is None and gone["outcome"].startswith("left out: filters.status")
    plan = planned(json.loads(run_cli("-w", ws, "plan", "--json").stdout))["shop"]
    assert [{k: ch[k] for k in ("sku", "kind", "action", "fields")}
            for ch in gone["next_push"]] == plan["BLANKET-WOOL"]  # fmt: skip
    assert [(c["kind"], c["action"], c["snapshot"]) for c in gone["next_push"]] == [
        ("quantities", "delist", {"quantity": 0})
    ]
