"""eBay end to end through the CLI, against the eBay double checking every request with Prism
on eBay's contracts: the demo catalog planned, pushed, and pushed again without a request;
never more than 25 entries in a bulk call; 20% injected faults converge; kill -9 at any
request and a rerun converge; an eBay order lowers the other channel in the same sync;
tracking reaches eBay once; the client secret, refresh token and access tokens never show."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.channels.ebay_conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    FULFILLMENT,
    INVENTORY,
    REFRESH_TOKEN,
    EbayDouble,
    error,
)
from tests.conftest import run_cli
from tests.e2e.conftest import push_fast, push_killed_at, woo_state
from tests.e2e.test_faults_and_kills import change_catalog
from tests.e2e.test_pull_shopify import cli_json, level
from tests.prism import Prism
from tests.servers import woocommerce as woo_srv
from tests.servers.faults import serve_proxy

pytestmark = pytest.mark.slow
TOKENS = {
    "EBAY_CLIENT_ID": CLIENT_ID,
    "EBAY_CLIENT_SECRET": CLIENT_SECRET,
    "EBAY_REFRESH_TOKEN": REFRESH_TOKEN,
    "WOOCOMMERCE_CONSUMER_KEY": woo_srv.KEY,
    "WOOCOMMERCE_CONSUMER_SECRET": woo_srv.SECRET,
}
SECRETS = (CLIENT_SECRET, REFRESH_TOKEN, woo_srv.SECRET)
EBAY = """\
shop:
  link_template: "https://shop.example.com/products/{{handle}}"
channels:
  ebay:
    type: ebay
    settings:
      api_url: {ebay}
      client_id: ${{EBAY_CLIENT_ID}}
      client_secret: ${{EBAY_CLIENT_SECRET}}
      refresh_token: ${{EBAY_REFRESH_TOKEN}}
      marketplace_id: EBAY_US
      content_language: en-US
      merchant_location_key: warehouse-1
      fulfillment_policy_id: "6196932000"
      payment_policy_id: "6196933000"
      return_policy_id: "6196934000"
      category_ids:
        "Apparel": "15687"
        "Home & Garden > Kitchen": "20625"
        "Sporting Goods": "159043"
        "*": "99"
      timeout: {timeout}
    orders: {{location: warehouse}}
    rate_limit: {{requests_per_second: 1000, burst: 100}}  # the tests count requests, not seconds
"""
WOO = """\
  woo:
    type: woocommerce
    settings:
      base_url: {woo}
      consumer_key: ${{WOOCOMMERCE_CONSUMER_KEY}}
      consumer_secret: ${{WOOCOMMERCE_CONSUMER_SECRET}}
      timeout: {timeout}
    orders: {{location: warehouse}}
    rate_limit: {{requests_per_second: 1000, burst: 100}}  # the tests count requests, not seconds
"""


def write(ws: Path, ebay: str, woo: str | None = None, timeout: int = 5) -> None:
    text = EBAY.format(ebay=ebay, timeout=timeout)
    if woo:
        text += WOO.format(woo=woo, timeout=timeout)
    (ws / "channels.yaml").write_text(text, encoding="utf-8")


@pytest.fixture
def ebay(
    shared_ebay: EbayDouble,
    ebay_inventory_prism: Prism,
    ebay_fulfillment_prism: Prism,
    monkeypatch: pytest.MonkeyPatch,
) -> EbayDouble:
    """The session's eBay double, emptied, checking each request with Prism; the variables
    channels.yaml names set to the values it accepts."""
    for var, value in TOKENS.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("MULTICHAN_LOCK_TIMEOUT", "3")
    shared_ebay.reset(
        validate={"inventory": ebay_inventory_prism.url, "fulfillment": ebay_fulfillment_prism.url}
    )
    return shared_ebay


def state(double: EbayDouble) -> dict[str, Any]:
    """What a buyer can see, by SKU, without eBay's ids (they differ between runs)."""
    rows = {}
    for sku in double.items:
        seen = double.listing(sku)
        offers = [o for o in double.offers.values() if o["sku"] == sku]
        rows[sku] = {
            **{k: v for k, v in seen.items() if k != "listing_id"},
            "offers": len(offers),
            "live": bool(seen["listing_id"]),
        }
    listings = {o.get("listingId") for o in double.offers.values() if o.get("listingId")}
    return {"skus": rows, "listings": len(listings), "groups": sorted(double.groups)}


def bulk_sizes(double: EbayDouble) -> list[int]:
    return [
        len((r["body"] or {}).get("requests") or [])
        for r in double.requests
        if r["method"] == "POST" and r["path"].startswith(f"{INVENTORY}/bulk_")
    ]


def assert_no_secrets(ws: Path, outputs: list[str], double: EbayDouble) -> None:
    """No credential or access token in ``outputs`` or anywhere in catalog.db but the token
    cache (``channel_tokens``, where access tokens are kept on purpose between runs)."""
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        dump = "\n".join(line for line in db.iterdump() if "channel_tokens" not in line)
    assert "journal_items" in dump and "push_state" in dump
    assert double.tokens  # the access tokens eBay handed out this test
    for secret in (*SECRETS, *double.tokens):
        assert secret not in dump, "a credential in catalog.db"
        for i, text in enumerate(outputs):
            assert secret not in text, f"a credential in output {i}"


def test_plan_push_and_a_second_push_sends_nothing(ebay: EbayDouble, new_demo: Any) -> None:
    ws = new_demo()
    write(ws, ebay.url)
    plan = run_cli("-w", ws, "plan", "--json")
    assert plan.code == 0, plan.output
    [channel] = json.loads(plan.stdout)["channels"]
    skus = {c["sku"] for c in channel["changes"]}
    assert len(skus) > 50 and ebay.requests == []  # the demo catalog; a plan sends nothing

    pushed = run_cli("-w", ws, "push", "--json")
    assert pushed.code == 0, pushed.output
    [counts] = [c["counts"] for c in json.loads(pushed.stdout)["channels"]]
    assert (counts["ok"], counts["rejected"], counts["failed"]) == (len(skus) * 3, 0, 0)
    seen = state(ebay)
    assert set(seen["skus"]) == skus
    assert all(row["live"] and row["offers"] == 1 for row in seen["skus"].values())
    assert seen["groups"] and seen["listings"] < len(skus)  # variants share a listing
    assert max(bulk_sizes(ebay)) == 25  # full batches, never more
    assert ebay.listing("MUG-ENAMEL")["category"] == "20625"
    assert ebay.listing("BLANKET-WOOL")["price"] == "79.00"  # the sale price: what buyers pay
    assert ebay.grants == 1 and ebay.violations == []

    ebay.requests.clear()
    again = run_cli("-w", ws, "push")
    assert again.code == 0, again.output
    assert ebay.requests == []

    assert run_cli("-w", ws, "price", "set", "MUG-ENAMEL", "12.00").code == 0
    assert run_cli("-w", ws, "stock", "set", "MUG-ENAMEL", "9", "--location", "store").code == 0
    changed = run_cli("-w", ws, "push")
    assert changed.code == 0, changed.output
    [one] = [r["body"] for r in ebay.requests if r["path"] != "/identity/v1/oauth2/token"]
    assert [r["sku"] for r in one["requests"]] == ["MUG-ENAMEL"]  # price and stock, one call
    mug = ebay.listing("MUG-ENAMEL")
    assert (mug["price"], mug["quantity"]) == ("12.00", level(ws, "MUG-ENAMEL")[2] + 9)
    assert ebay.grants == 1  # the access token is kept in the catalog between runs
    assert ebay.violations == []
    assert_no_secrets(ws, [plan.output, pushed.output, again.output, changed.output], ebay)


def test_a_rejected_sku_names_ebays_message_and_the_rest_go_through(
    ebay: EbayDouble, new_demo: Any
) -> None:
    ws = new_demo()
    write(ws, ebay.url)
    assert run_cli("-w", ws, "push").code == 0
    ebay.refuse["MUG-ENAMEL"] = error(25004, "Invalid quantity.")
    assert run_cli("-w", ws, "stock", "set", "MUG-ENAMEL", "5", "--location", "store").code == 0
    assert run_cli("-w", ws, "stock", "set", "LANTERN-LED", "2", "--location", "store").code == 0
    result = run_cli("-w", ws, "push", "--json")
    assert result.code == 4, result.output
    [pushed] = json.loads(result.stdout)["channels"]
    assert [(r["sku"], r["message"]) for r in pushed["rejected"]] == [
        ("MUG-ENAMEL", "eBay error 25004: Invalid quantity.")
    ]
    assert ebay.listing("LANTERN-LED")["quantity"] == level(ws, "LANTERN-LED")[2] + 2


# --- faults and kills -------------------------------------------------------------------------
_REFERENCE: dict[int, dict[str, Any]] = {}


def reference(ebay: EbayDouble, new_demo: Any, phases: int) -> dict[str, Any]:
    if phases not in _REFERENCE:
        validate = ebay.validate
        ebay.reset(validate=validate)
        ws = new_demo("reference")
        write(ws, ebay.url)
        for phase in range(phases):
            if phase:
                change_catalog(ws)
            [result] = push_fast(ws, ["ebay"])
            assert result.exit_code == 0, result.message
        assert ebay.violations == []
        _REFERENCE[phases] = state(ebay)
        ebay.reset(validate=validate)
    return _REFERENCE[phases]


@pytest.mark.parametrize("seed", [31, 32])
def test_twenty_percent_faults_converge_to_the_fault_free_state(
    ebay: EbayDouble, new_demo: Any, seed: int
) -> None:
    expected = reference(ebay, new_demo, phases=2)
    ws = new_demo(f"faults-{seed}")
    with serve_proxy(ebay.url, rate=0.2, seed=seed, stall_seconds=2.6) as proxy:
        write(ws, proxy.url, timeout=2)
        for phase in range(2):
            if phase:
                change_catalog(ws)
            codes = []
            for _run in range(8):
                [result] = push_fast(ws, ["ebay"], max_retries=3)
                codes.append(result.exit_code)
                if result.exit_code == 0:
                    break
            assert codes[-1] == 0, f"no convergence after {len(codes)} runs: {codes}"
            assert set(codes) <= {0, 6}, codes
        assert {f.phase for f in proxy.faults()} == {"before", "after"}
    assert state(ebay) == expected  # no second offer, no stock off by a re-send
    assert ebay.violations == [] and max(bulk_sizes(ebay)) <= 25
    ebay.requests.clear()
    [again] = push_fast(ws, ["ebay"])
    assert again.exit_code == 0 and again.counts["requests"] == 0 and ebay.requests == []


# a fresh push of the demo catalog is 31 requests: 1 the token; per listing batch the items
# (2), each group read and written (3-8), the offers made (9), singles published (10), each
# group published (11-13); the second and third batches (14-31). The offers are made with
# their price and stock (``listing_carries``): no bulk_update_price_quantity follows
KILL_POINTS = [1, 2, 4, 9, 10, 11, 21, 22, 30, 31]


@pytest.mark.parametrize("n", KILL_POINTS)
def test_kill_9_after_the_nth_applied_request_then_rerun(
    ebay: EbayDouble, new_demo: Any, tmp_path: Path, n: int
) -> None:
    expected = reference(ebay, new_demo, phases=1)
    ws = new_demo("killed")
    with serve_proxy(ebay.url) as proxy:
        write(ws, proxy.url)
        out, err = push_killed_at(proxy, ws, ["ebay"], n, tmp_path, timeout=90)
        proxy.on_applied = None
        [rerun] = push_fast(ws, ["ebay"])
        assert rerun.exit_code == 0, rerun.message
        assert state(ebay) == expected
        ebay.requests.clear()
        third = run_cli("-w", ws, "push", "ebay")
        assert third.code == 0, third.output
        assert ebay.requests == []
    assert ebay.violations == []
    for secret in (*SECRETS, *ebay.tokens):
        assert secret not in out.read_text() + err.read_text() + third.output


# --- orders and shipments -------------------------------------------------------------------
def test_an_ebay_order_lowers_the_other_channel_in_one_sync_and_ships_once(
    ebay: EbayDouble, shared_woo: woo_srv.WooServer, new_demo: Any
) -> None:
    shared_woo.reset()
    ws = new_demo()
    write(ws, ebay.url, woo=shared_woo.url)
    first = run_cli("-w", ws, "sync")
    assert first.code == 0, first.output
    before = level(ws, "MUG-ENAMEL")
    woo_before = woo_state(shared_woo)["skus"]["MUG-ENAMEL"]["stock_quantity"]
    order = ebay.orders.add([("MUG-ENAMEL", 3)])
    code, body = cli_json(ws, "sync")
    assert code == 0, body
    assert level(ws, "MUG-ENAMEL") == (before[0], before[1] + 3, before[2] - 3)
    assert woo_state(shared_woo)["skus"]["MUG-ENAMEL"]["stock_quantity"] == woo_before - 3
    assert ebay.listing("MUG-ENAMEL")["quantity"] == woo_before - 3  # eBay too, absolute

    code, done = cli_json(
        ws, "ship", "ebay", order, "--carrier", "Royal Mail", "--tracking", "RM 1234 5678 GB"
    )
    assert code == 0 and done["status"] == "recorded", done
    code, body = cli_json(ws, "sync", "ebay")
    assert code == 0, body
    [made] = ebay.orders.fulfillments[order]
    assert (made["shippingCarrierCode"], made["shipmentTrackingNumber"]) == (
        "RoyalMail",
        "RM12345678GB",
    )
    assert ebay.orders.get(order)["orderFulfillmentStatus"] == "FULFILLED"
    code, body = cli_json(ws, "sync", "ebay")  # eBay says shipped now: nothing is sent again
    assert code == 0 and len(ebay.orders.fulfillments[order]) == 1
    posts = [
        r
        for r in ebay.requests
        if r["method"] == "POST"
        and r["path"] == f"{FULFILLMENT}/order/{order}/shipping_fulfillment"
    ]
    assert len(posts) == 1
    assert level(ws, "MUG-ENAMEL") == (before[0] - 3, before[1], before[2] - 3)
    ebay.orders.cancel(ebay.orders.add([("LANTERN-LED", 1)]))  # a cancelled one moves nothing
    lantern = level(ws, "LANTERN-LED")
    assert cli_json(ws, "sync")[0] == 0 and level(ws, "LANTERN-LED") == lantern
    assert ebay.violations == []
    assert_no_secrets(ws, [first.output], ebay)


# --- the failures sellers report (../shared/ORDERS-NOTES.md section 4), on eBay ------------------
def ebay_ready(ebay: EbayDouble, new_demo: Any) -> Path:
    """A demo workspace listed on eBay and baselined."""
    ws = new_demo()
    write(ws, ebay.url)
    result = run_cli("-w", ws, "sync")
    assert result.code == 0, result.output
    return ws


def test_pending_then_paid_then_shipped_on_ebay_moves_stock_once(
    ebay: EbayDouble, new_demo: Any
) -> None:
    """#3 double decrement: each status an order passes through moves stock only by the
    difference; #10 available, not on hand, is what eBay is told."""
    ws = ebay_ready(ebay, new_demo)
    on_hand, committed, available = level(ws, "LANTERN-LED")
    order = ebay.orders.add([("LANTERN-LED", 2)], payment="PENDING")
    assert cli_json(ws, "sync", "ebay")[0] == 0
    assert level(ws, "LANTERN-LED") == (on_hand, committed, available)  # unpaid: holds nothing
    ebay.orders.set_payment(order, "PAID")
    for _ in range(2):  # seen again: nothing more moves
        assert cli_json(ws, "sync", "ebay")[0] == 0
        assert level(ws, "LANTERN-LED") == (on_hand, committed + 2, available - 2)
    items = ebay.orders.get(order)["lineItems"]
    ebay.orders.fulfill(
        order, {"lineItems": [{"lineItemId": items[0]["lineItemId"], "quantity": 2}]}, ""
    )
    assert cli_json(ws, "sync", "ebay")[0] == 0  # marked shipped on eBay by the seller
    assert level(ws, "LANTERN-LED") == (on_hand - 2, committed, available - 2)
    assert (
        ebay.listing("LANTERN-LED")["quantity"]
        == available - 2 + level(ws, "LANTERN-LED", "store")[2]
    )
    assert ebay.violations == []


def test_a_cancellation_on_ebay_restocks_once_and_every_channel_hears_it(
    ebay: EbayDouble, shared_woo: woo_srv.WooServer, new_demo: Any
) -> None:
    """#6: cancelled after import -> the units come back once, and an absolute count goes to
    every channel, the cancelling one too; a cancel request still in progress holds them."""
    shared_woo.reset()
    ws = new_demo()
    write(ws, ebay.url, woo=shared_woo.url)
    assert run_cli("-w", ws, "sync").code == 0
    before = level(ws, "MUG-ENAMEL")
    woo_before = woo_state(shared_woo)["skus"]["MUG-ENAMEL"]["stock_quantity"]
    order = ebay.orders.add([("MUG-ENAMEL", 2)])
    assert cli_json(ws, "sync")[0] == 0
    ebay.orders.cancel(order, state="IN_PROGRESS")
    assert cli_json(ws, "sync")[0] == 0
    assert level(ws, "MUG-ENAMEL") == (before[0], before[1] + 2, before[2] - 2)  # still held
    ebay.orders.cancel(order)
    for _ in range(2):
        assert cli_json(ws, "sync")[0] == 0
        assert level(ws, "MUG-ENAMEL") == before
    assert woo_state(shared_woo)["skus"]["MUG-ENAMEL"]["stock_quantity"] == woo_before
    assert ebay.listing("MUG-ENAMEL")["quantity"] == woo_before
    _, rows = cli_json(ws, "orders")
    [row] = [r for r in rows if r["order_id"] == order]
    assert row["status"] == "cancelled"
    assert ebay.violations == []


def test_an_unknown_sku_on_an_ebay_order_never_blocks_the_rest(
    ebay: EbayDouble, new_demo: Any
) -> None:
    """#8 and #7: the order is recorded, the known line moves, the unknown one is named."""
    ws = ebay_ready(ebay, new_demo)
    before = level(ws, "MUG-ENAMEL")
    order = ebay.orders.add([("GHOST-1", 1), ("MUG-ENAMEL", 1)])
    result = run_cli("-w", ws, "pull", "ebay")
    assert result.code == 4, result.output
    assert f"unmatched ebay order {order}: SKU GHOST-1 is not in the catalog" in result.stderr
    assert level(ws, "MUG-ENAMEL") == (before[0], before[1] + 1, before[2] - 1)


def test_a_refused_shipment_stays_visible_with_ebays_message(
    ebay: EbayDouble, new_demo: Any
) -> None:
    """#12: eBay's 4xx keeps the parcel visible and retryable, with eBay's words."""
    ws = ebay_ready(ebay, new_demo)
    order = ebay.orders.add([("MUG-ENAMEL", 1)])
    assert cli_json(ws, "sync", "ebay")[0] == 0
    assert cli_json(ws, "ship", "ebay", order, "--carrier", "ups", "--tracking", "1Z1")[0] == 0
    path = f"{FULFILLMENT}/order/{order}/shipping_fulfillment"
    ebay.refuse_call[f"POST {path}"] = error(32400, "Requested user is suspended")
    code, body = cli_json(ws, "sync", "ebay")
    assert code == 4, body
    assert "eBay error 32400: Requested user is suspended" in json.dumps(body)
    assert ebay.orders.fulfillments[order] == []
    code, body = cli_json(ws, "sync", "ebay")  # the next run sends it
    assert code == 0 and len(ebay.orders.fulfillments[order]) == 1


@pytest.mark.parametrize("tracking", ["1Z999AA10123456784", None])
def test_kill_9_right_after_ebay_made_the_fulfillment_sends_it_once(
    ebay: EbayDouble, new_demo: Any, tmp_path: Path, tracking: str | None
) -> None:
    """The answer of createShippingFulfillment never arrives (the process is SIGKILLed as eBay
    applies it); the rerun finds the fulfillment (by tracking number, or by its lines when the
    parcel has none) instead of making a second one."""
    ws = ebay_ready(ebay, new_demo)
    order = ebay.orders.add([("MUG-ENAMEL", 2)])
    assert cli_json(ws, "sync", "ebay")[0] == 0
    extra = ["--carrier", "ups", "--tracking", tracking] if tracking else []
    assert cli_json(ws, "ship", "ebay", order, *extra)[0] == 0
    victim: dict[str, subprocess.Popen[bytes]] = {}

    def kill_after_fulfillment(count: int, entry: Any) -> bool:
        if entry.method != "POST" or not entry.path.endswith("/shipping_fulfillment"):
            return False
        victim["proc"].send_signal(signal.SIGKILL)
        victim["proc"].wait(timeout=30)
        return True

    err = tmp_path / "stderr"
    with serve_proxy(ebay.url) as proxy:
        write(ws, proxy.url)
        proxy.on_applied = kill_after_fulfillment
        env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
        with err.open("wb") as stderr:
            victim["proc"] = subprocess.Popen(
                [sys.executable, "-m", "multichan", "-w", str(ws), "sync", "ebay"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=env,
            )
            code = victim["proc"].wait(timeout=90)
        assert code == -signal.SIGKILL, (code, err.read_text())
        assert len(ebay.orders.fulfillments[order]) == 1  # eBay made it; nobody heard
        proxy.on_applied = None
        code, body = cli_json(ws, "sync", "ebay")
        assert code == 0, body
    assert len(ebay.orders.fulfillments[order]) == 1
    posts = [
        r
        for r in ebay.requests
        if r["method"] == "POST"
        and r["path"] == f"{FULFILLMENT}/order/{order}/shipping_fulfillment"
    ]
    assert len(posts) == 1
    write(ws, ebay.url)
    assert cli_json(ws, "sync", "ebay")[1]["pushed"][0]["shipments"]["sent"] == 0
    assert ebay.violations == []
