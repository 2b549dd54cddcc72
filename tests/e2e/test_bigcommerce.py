"""BigCommerce end to end through the CLI, against the BigCommerce double checked by Prism
against BigCommerce's own contracts: the demo catalog planned, pushed, and a second push
sends nothing; 20% injected faults and kill -9 at any request converge to the state of an
undisturbed push; an order pulled lowers stock and the next push writes it; a parcel's
tracking is sent once; no credential shows up in any output, table or file."""

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

from multichan.sync.run import push_all
from multichan.workspace import resolve
from tests.channels.bigcommerce_conftest import STORE, TOKEN, BigCommerceDouble
from tests.conftest import run_cli
from tests.e2e.test_pull_shopify import cli_json, level, pull
from tests.prism import Prism
from tests.servers.faults import serve_proxy
from tests.sync.conftest import FakeTime

pytestmark = pytest.mark.slow
CONFIG = """\
shop:
  link_template: "https://shop.example.com/products/{{handle}}"
channels:
  bc:
    type: bigcommerce
    settings:
      store_hash: {store}
      base_url: {url}
      token: ${{BIGCOMMERCE_TOKEN}}
      timeout: {timeout}
    orders: {{location: warehouse}}
    stock: {{locations: [warehouse]}}
"""


def write_channels(ws: Path, url: str, timeout: int = 5) -> None:
    text = CONFIG.format(store=STORE, url=url, timeout=timeout)
    (ws / "channels.yaml").write_text(text, encoding="utf-8")


def push_fast(ws: Path, max_retries: int = 5) -> Any:
    [result] = push_all(resolve(ws), ["bc"], pacing=FakeTime().pacing(max_retries))
    return result


def state(double: BigCommerceDouble) -> dict[str, Any]:
    """What the store shows, by SKU, without the ids it assigned."""
    skus, rows = [], {}
    for product in double.products.values():
        variants = [v for v in product["variants"] if v["option_values"]]
        for v in variants or [None]:
            sku = v["sku"] if v else product["sku"]
            shown = v or product
            skus.append(sku)
            rows[sku] = {
                "product": product["name"], "product_sku": product["sku"],
                "options": [(o["option_display_name"], o["label"])
                            for o in (v or {}).get("option_values") or []],
                "price": shown.get("price"), "sale_price": shown.get("sale_price"),
                "quantity": double.quantity(sku),
            }  # fmt: skip
    dupes = sorted({s for s in skus if skus.count(s) > 1})
    return {"products": len(double.products), "duplicate_skus": dupes, "skus": rows}


@pytest.fixture
def store(
    shared_bigcommerce: BigCommerceDouble, monkeypatch: pytest.MonkeyPatch,
    bigcommerce_products_prism: Prism, bigcommerce_variants_prism: Prism,
    bigcommerce_inventory_prism: Prism, bigcommerce_orders_prism: Prism,
) -> BigCommerceDouble:  # fmt: skip
    """The session's double, emptied, checking every request with the Prisms; the token set."""
    monkeypatch.setenv("BIGCOMMERCE_TOKEN", TOKEN)
    monkeypatch.setenv("MULTICHAN_LOCK_TIMEOUT", "3")
    shared_bigcommerce.reset(validate={
        "products": bigcommerce_products_prism.url, "variants": bigcommerce_variants_prism.url,
        "inventory": bigcommerce_inventory_prism.url, "orders": bigcommerce_orders_prism.url,
    })  # fmt: skip
    return shared_bigcommerce


def clean(double: BigCommerceDouble) -> None:
    assert double.violations == [] and double.breaches == [] and double.throttled == []


def assert_no_secrets(ws: Path, outputs: list[str]) -> None:
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        dump = "\n".join(db.iterdump())
    assert "journal_items" in dump
    for i, text in enumerate(outputs):
        assert TOKEN not in text, f"the token in output {i}"
    assert TOKEN not in dump, "the token in catalog.db"
    for path in (ws / "feeds").rglob("*"):
        assert not path.is_file() or TOKEN not in path.read_text("utf-8", "replace")


def test_plan_push_then_a_second_push_sends_nothing(
    store: BigCommerceDouble, new_demo: Any
) -> None:
    ws = new_demo()
    write_channels(ws, store.url)
    plan = run_cli("-w", ws, "plan", "bc", "--json")
    assert plan.code == 0, plan.output
    [channel] = json.loads(plan.stdout)["channels"]
    skus = {c["sku"] for c in channel["changes"]}
    assert channel["totals"]["create"] > 50 and store.requests == []  # plan sends nothing

    pushed = run_cli("-w", ws, "push", "bc")
    assert pushed.code == 0, pushed.output
    assert f"bc: ok, {len(skus) * 3} ok, 0 rejected, 0 failed" in pushed.stdout
    shown = state(store)
    assert shown["duplicate_skus"] == [] and set(shown["skus"]) == skus
    clean(store)
    # the engine cut batches to BigCommerce's limits: one create per product, no batch over
    assert all(len(b) <= 50 for b in store.calls("PUT", "/v3/catalog/variants"))
    assert len(store.calls("POST", "/v3/catalog/products")) == shown["products"]
    blanket = shown["skus"]["BLANKET-WOOL"]
    assert (blanket["price"], blanket["sale_price"]) == (89.0, 79.0)

    store.requests.clear()
    again = run_cli("-w", ws, "push", "bc")
    assert again.code == 0 and "0 request(s)" in again.stdout, again.output
    assert store.requests == []

    assert run_cli("-w", ws, "price", "set", "MUG-ENAMEL", "12.00").code == 0
    assert run_cli("-w", ws, "stock", "set", "MUG-ENAMEL", "9", "--location", "warehouse").code == 0
    changed = run_cli("-w", ws, "push", "bc")
    assert changed.code == 0, changed.output
    assert [r["path"] for r in store.requests] == [
        "/v3/catalog/variants", "/v3/inventory/adjustments/absolute",
    ]  # fmt: skip
    mug = state(store)["skus"]["MUG-ENAMEL"]
    assert (mug["price"], mug["quantity"]) == (12.0, 9)
    clean(store)
    assert_no_secrets(ws, [r.output for r in (plan, pushed, again, changed)])


def test_a_new_workspace_takes_the_store_over_within_bigcommerces_limits(
    store: BigCommerceDouble, new_demo: Any
) -> None:
    """Products that exist already (a reinstalled multichan, or the seller's own) are found by
    SKU and updated, never made again, in batches of at most 10 products and 50 variants."""
    first = new_demo()
    write_channels(first, store.url)
    assert push_fast(first).exit_code == 0
    before = state(store)
    store.requests.clear()
    second = new_demo()
    write_channels(second, store.url)
    result = push_fast(second)
    assert result.exit_code == 0, result.message
    assert state(store) == before  # the same products, none twice
    assert store.calls("POST", "/v3/catalog/products") == []
    products = store.calls("PUT", "/v3/catalog/products")
    variants = store.calls("PUT", "/v3/catalog/variants")
    assert sum(map(len, products)) == before["products"] and max(map(len, products)) == 10
    assert variants and max(map(len, variants)) <= 50
    clean(store)


def test_one_product_bigcommerce_refuses_is_rejected_the_rest_pushed(
    store: BigCommerceDouble, new_demo: Any
) -> None:
    ws = new_demo()
    write_channels(ws, store.url)
    store.refuse["MUG-ENAMEL"] = {"price": "The field 'price' is invalid for this product."}
    pushed = run_cli("-w", ws, "push", "bc")
    assert pushed.code == 4, pushed.output  # some items rejected
    assert "MUG-ENAMEL" in pushed.output
    assert "The field 'price' is invalid for this product." in pushed.output
    shown = state(store)["skus"]
    assert "MUG-ENAMEL" not in shown and "BLANKET-WOOL" in shown
    del store.refuse["MUG-ENAMEL"]
    again = run_cli("-w", ws, "push", "bc")  # fixed on the store's side: it goes through
    assert again.code == 0, again.output
    assert "MUG-ENAMEL" in state(store)["skus"]
    clean(store)


# --- faults and kills ------------------------------------------------------------------------
_REFERENCE: dict[str, Any] = {}


def reference(store: BigCommerceDouble, new_demo: Any) -> dict[str, Any]:
    """The store after one fault-free push of the demo catalog to an empty store."""
    if "state" not in _REFERENCE:
        validate = store.validate
        store.reset(validate=validate)
        ws = new_demo("reference")
        write_channels(ws, store.url)
        assert push_fast(ws).exit_code == 0
        clean(store)
        _REFERENCE["state"] = state(store)
        store.reset(validate=validate)
    return dict(_REFERENCE["state"])


@pytest.mark.parametrize("seed", [31, 32])
def test_pushes_through_20_percent_faults_converge(
    store: BigCommerceDouble, new_demo: Any, seed: int
) -> None:
    expected = reference(store, new_demo)
    ws = new_demo(f"faults-{seed}")
    with serve_proxy(store.url, rate=0.2, seed=seed, stall_seconds=2.6) as proxy:
        write_channels(ws, proxy.url, timeout=2)
        codes = []
        for _run in range(8):  # rerun until exit 0, as cron would
            result = push_fast(ws, max_retries=3)
            codes.append(result.exit_code)
            if result.exit_code == 0:
                break
        assert codes[-1] == 0 and set(codes) <= {0, 6}, codes
        assert {f.phase for f in proxy.faults()} == {"before", "after"}
    assert state(store) == expected  # no product twice, nothing lost
    clean(store)
    store.requests.clear()
    write_channels(ws, store.url)
    assert push_fast(ws).counts["requests"] == 0 and store.requests == []


# a push of the demo catalog is 23 requests: a lookup and 8 creates, a lookup and 10 creates
# (10 products a batch), 2 price batches, 1 stock adjustment
@pytest.mark.parametrize("n", [1, 2, 3, 10, 11, 20, 21, 23])
def test_kill_9_after_the_nth_applied_request_then_rerun(
    store: BigCommerceDouble, new_demo: Any, tmp_path: Path, n: int
) -> None:
    expected = reference(store, new_demo)
    ws = new_demo("killed")
    victim: dict[str, subprocess.Popen[bytes]] = {}

    def kill_at_n(count: int, entry: Any) -> bool:
        if count != n:
            return False
        victim["proc"].send_signal(signal.SIGKILL)  # before it can read the answer
        victim["proc"].wait(timeout=30)
        return True

    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with serve_proxy(store.url) as proxy:
        write_channels(ws, proxy.url)
        proxy.on_applied = kill_at_n
        env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
        with out.open("wb") as stdout, err.open("wb") as stderr:
            victim["proc"] = subprocess.Popen(
                [sys.executable, "-m", "multichan", "-w", str(ws), "push", "bc"],
                stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, env=env,
            )  # fmt: skip
            code = victim["proc"].wait(timeout=120)
        assert code == -signal.SIGKILL, (code, err.read_text())
        assert proxy.forwarded == n
        proxy.on_applied = None
        rerun = push_fast(ws)
        assert rerun.exit_code == 0, rerun.message
        assert state(store) == expected
        clean(store)
        store.requests.clear()
        third = run_cli("-w", ws, "push", "bc")
        assert third.code == 0 and "0 request(s)" in third.stdout, third.output
        assert store.requests == []
    assert TOKEN not in out.read_text() + err.read_text() + third.output


# --- orders and shipments ---------------------------------------------------------------------
def test_an_order_pulled_lowers_stock_and_its_tracking_is_sent_once(
    store: BigCommerceDouble, new_demo: Any
) -> None:
    ws = new_demo()
    write_channels(ws, store.url)
    assert run_cli("-w", ws, "push", "bc").code == 0
    code, first = pull(ws, "bc")
    assert (code, first["bc"]["status"]) == (0, "baseline")
    on_hand, committed, available = level(ws, "MUG-ENAMEL")
    order = store.add_order([("MUG-ENAMEL", 2), ("GONE-SKU", 1)])
    code, second = pull(ws, "bc")
    assert code != 0 and second["bc"]["new"] == 1  # the unknown line is parked, not lost
    assert [u["sku"] for u in second["bc"]["unmatched"]] == ["GONE-SKU"]
    assert level(ws, "MUG-ENAMEL") == (on_hand, committed + 2, available - 2)
    store.requests.clear()
    pushed = run_cli("-w", ws, "push", "bc")
    assert pushed.code == 0, pushed.output
    assert state(store)["skus"]["MUG-ENAMEL"]["quantity"] == available - 2  # lower on the store
    again = pull(ws, "bc")[1]["bc"]  # the same order seen again moves nothing
    assert again["moves"] == 0 and level(ws, "MUG-ENAMEL")[2] == available - 2

    code, done = cli_json(ws, "ship", "bc", str(order), "--carrier", "royal mail", "--tracking",
                          "RM123456789GB")  # fmt: skip
    assert code == 0 and done["status"] == "recorded", done
    for _ in range(2):
        result = run_cli("-w", ws, "push", "bc", "--only", "shipments")
        assert result.code == 0, result.output
    [made] = store.shipments[order]
    assert (made["tracking_number"], made["shipping_provider"]) == ("RM123456789GB", "royalmail")
    assert len(store.calls("POST", f"/v2/orders/{order}/shipments")) == 1
    assert [i["quantity"] for i in made["items"]] == [2, 1]  # the whole order, as recorded
    assert store.orders[order]["status_id"] == 2  # Shipped
    pull(ws, "bc")  # BigCommerce says shipped now: the units left once, not twice
    assert level(ws, "MUG-ENAMEL") == (on_hand - 2, committed, available - 2)
    clean(store)


def test_kill_9_after_the_shipment_was_made_then_rerun_makes_no_second_one(
    store: BigCommerceDouble, new_demo: Any, tmp_path: Path
) -> None:
    ws = new_demo()
    write_channels(ws, store.url)
    assert run_cli("-w", ws, "push", "bc").code == 0
    assert pull(ws, "bc")[0] == 0  # the baseline
    order = store.add_order([("MUG-ENAMEL", 1), ("LANTERN-LED", 1)])
    assert pull(ws, "bc")[0] == 0
    code, done = cli_json(ws, "ship", "bc", str(order), "--carrier", "UPS", "--tracking",
                          "1Z999AA10123456784")  # fmt: skip
    assert code == 0 and done["status"] == "recorded", done
    victim: dict[str, subprocess.Popen[bytes]] = {}

    def kill_after_post(count: int, entry: Any) -> bool:
        if entry.method != "POST" or not entry.path.endswith("/shipments"):
            return False
        victim["proc"].send_signal(signal.SIGKILL)  # BigCommerce made it; the answer is lost
        victim["proc"].wait(timeout=30)
        return True

    with serve_proxy(store.url) as proxy:
        write_channels(ws, proxy.url)
        proxy.on_applied = kill_after_post
        env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
        victim["proc"] = subprocess.Popen(
            [sys.executable, "-m", "multichan", "-w", str(ws), "push", "bc", "--only",
             "shipments"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        assert victim["proc"].wait(timeout=120) == -signal.SIGKILL
        proxy.on_applied = None
        assert len(store.shipments[order]) == 1
        rerun = run_cli("-w", ws, "push", "bc", "--only", "shipments")
        assert rerun.code == 0, rerun.output
    [made] = store.shipments[order]  # found by its marker, not made again
    assert made["tracking_number"] == "1Z999AA10123456784"
    assert len(store.calls("POST", f"/v2/orders/{order}/shipments")) == 1
    store.requests.clear()
    assert run_cli("-w", ws, "push", "bc", "--only", "shipments").code == 0
    assert store.calls("POST", f"/v2/orders/{order}/shipments") == []
    clean(store)


def test_status_changes_cancellations_and_refunds_move_stock_once(
    store: BigCommerceDouble, new_demo: Any
) -> None:
    ws = new_demo()
    write_channels(ws, store.url)
    assert run_cli("-w", ws, "push", "bc").code == 0
    assert pull(ws, "bc")[0] == 0  # the baseline
    mug, lantern = level(ws, "MUG-ENAMEL"), level(ws, "LANTERN-LED")
    unpaid = store.add_order([("MUG-ENAMEL", 2)], status_id=7)  # Awaiting Payment
    pull(ws, "bc")
    assert level(ws, "MUG-ENAMEL") == mug  # nothing paid: nothing held
    store.touch(unpaid, status_id=11)  # paid: Awaiting Fulfillment
    pull(ws, "bc")
    assert level(ws, "MUG-ENAMEL") == (mug[0], mug[1] + 2, mug[2] - 2)
    store.touch(unpaid, status_id=9)  # Awaiting Shipment, and the same page read again
    assert pull(ws, "bc")[1]["bc"]["moves"] == 0
    assert pull(ws, "bc")[1]["bc"]["moves"] == 0
    store.touch(unpaid, status_id=5)  # cancelled: the units come back once
    pull(ws, "bc")
    assert level(ws, "MUG-ENAMEL") == mug
    assert pull(ws, "bc")[1]["bc"]["moves"] == 0

    refunded = store.add_order([("LANTERN-LED", 2)])
    pull(ws, "bc")
    store.refund(refunded, "LANTERN-LED", 1)  # made through the API: BigCommerce restocks nothing
    pull(ws, "bc")
    assert level(ws, "LANTERN-LED") == (lantern[0] - 1, lantern[1] + 1, lantern[2] - 2)
    text = (ws / "channels.yaml").read_text(encoding="utf-8")
    text = text.replace("orders: {location: warehouse}",
                        "orders: {location: warehouse, restock_refunds: true}")  # fmt: skip
    (ws / "channels.yaml").write_text(text, encoding="utf-8")
    store.touch(refunded)
    pull(ws, "bc")  # the seller puts refunded units back on the shelf: restock_refunds
    assert level(ws, "LANTERN-LED") == (lantern[0], lantern[1] + 1, lantern[2] - 1)
    clean(store)


def test_pulls_and_shipments_through_20_percent_faults_converge(
    store: BigCommerceDouble, new_demo: Any
) -> None:
    from multichan.sync.run import pull_all

    ws = new_demo()
    write_channels(ws, store.url)
    assert run_cli("-w", ws, "push", "bc").code == 0
    assert pull(ws, "bc")[0] == 0  # the baseline
    mug = level(ws, "MUG-ENAMEL")
    placed = [store.add_order([("MUG-ENAMEL", 1), ("LANTERN-LED", 1)]) for _ in range(4)]
    injected = []
    with serve_proxy(store.url, rate=0.2, seed=5, stall_seconds=2.6) as proxy:
        write_channels(ws, proxy.url, timeout=2)
        codes = []
        for _run in range(8):  # rerun until exit 0, as cron would
            [result] = pull_all(resolve(ws), ["bc"], pacing=FakeTime().pacing(max_retries=2))
            codes.append(result.exit_code)
            if result.exit_code == 0:
                break
        assert codes[-1] == 0 and set(codes) <= {0, 6}, codes
        assert level(ws, "MUG-ENAMEL") == (mug[0], mug[1] + 4, mug[2] - 4)  # each order once
        for n, order in enumerate(placed):
            code, done = cli_json(ws, "ship", "bc", str(order), "--carrier", "UPS",
                                  "--tracking", f"1Z999AA1012345678{n}")  # fmt: skip
            assert code == 0 and done["status"] == "recorded", done
        codes = []
        for _run in range(8):
            result = push_fast(ws, max_retries=2)
            codes.append(result.exit_code)
            if result.exit_code == 0:
                break
        assert codes[-1] == 0 and set(codes) <= {0, 6}, codes
        injected += proxy.faults()
    assert {f.phase for f in injected} == {"before", "after"}, injected
    assert [len(store.shipments[o]) for o in placed] == [1, 1, 1, 1]  # none made twice
    assert sorted(store.shipments[o][0]["tracking_number"] for o in placed) == [
        f"1Z999AA1012345678{n}" for n in range(4)
    ]
    clean(store)
