"""Etsy end to end through the CLI, against the Etsy double checked by Prism against Etsy's
contract (next to the strict WooCommerce shop as the other channel): the demo catalog planned,
pushed once (one draft listing per product, every variant in its inventory), a second push
sends nothing; 20% faults and a kill -9 at any request converge to the undisturbed state; an
Etsy sale lowers the other channel in the same sync, a cancellation (which Etsy does not
restock itself) gives the units back on Etsy too, tracking goes once; no token, key or secret
shows up in any output or in the journal."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from multichan.channels.etsy import Etsy
from multichan.orders.model import iso
from multichan.sync.run import push_all
from multichan.workspace import resolve
from tests.channels.etsy_conftest import KEYSTRING, REFRESH_TOKEN, SHARED_SECRET, EtsyDouble
from tests.conftest import run_cli
from tests.e2e.conftest import push_fast
from tests.prism import Prism
from tests.servers import woocommerce as woo_srv
from tests.servers.faults import serve_proxy
from tests.sync.conftest import FakeTime

pytestmark = pytest.mark.slow
SECRETS = (KEYSTRING, SHARED_SECRET, REFRESH_TOKEN)
CONFIG = """\
shop:
  link_template: "https://shop.example.com/products/{{{{handle}}}}"
channels:
  etsy:
    type: etsy
    settings:
      base_url: {etsy}
      shop_id: 31337
      keystring: ${{ETSY_KEYSTRING}}
      shared_secret: ${{ETSY_SHARED_SECRET}}
      refresh_token: ${{ETSY_REFRESH_TOKEN}}
      taxonomy_id: 1296
      shipping_profile_id: 77
      upload_images: false
      timeout: {timeout}
    orders: {{location: warehouse}}{rate}
  woo:
    type: woocommerce
    settings:
      base_url: {woo}
      consumer_key: ${{WOOCOMMERCE_CONSUMER_KEY}}
      consumer_secret: ${{WOOCOMMERCE_CONSUMER_SECRET}}
      timeout: {timeout}
    orders: {{location: warehouse}}{rate}
"""


@pytest.fixture
def etsy(
    shared_etsy: EtsyDouble, etsy_prism: Prism, shared_woo: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[EtsyDouble]:
    """The Etsy double (checking each request with Prism) and the WooCommerce shop, emptied;
    the credential variables set to what they accept."""
    shared_etsy.reset(validate=etsy_prism.url)
    shared_woo.reset()
    for var, value in {
        "ETSY_KEYSTRING": KEYSTRING, "ETSY_SHARED_SECRET": SHARED_SECRET,
        "ETSY_REFRESH_TOKEN": REFRESH_TOKEN, "WOOCOMMERCE_CONSUMER_KEY": woo_srv.KEY,
        "WOOCOMMERCE_CONSUMER_SECRET": woo_srv.SECRET, "MULTICHAN_LOCK_TIMEOUT": "3",
    }.items():  # fmt: skip
        monkeypatch.setenv(var, value)
    yield shared_etsy
    assert shared_etsy.violations == []


# Etsy's 10 a second, paced on the real clock, would make every test wait: the tests run it
# faster, but the one that checks the pacing itself (on a fake clock)
FAST = "\n    rate_limit: {requests_per_second: 1000, burst: 100}"


def configure(ws: Path, etsy_url: str, woo_url: str, timeout: int = 5, paced: bool = False) -> None:
    text = CONFIG.format(etsy=etsy_url, woo=woo_url, timeout=timeout, rate="" if paced else FAST)
    (ws / "channels.yaml").write_text(text, encoding="utf-8")


def etsy_state(double: EtsyDouble) -> dict[str, Any]:
    """What the shop shows, by SKU, without Etsy's ids (they differ from run to run)."""
    rows: dict[str, Any] = {}
    skus: list[str] = []
    for listing_id, inventory in double.inventories.items():
        siblings = sorted(str(p["sku"]) for p in inventory["products"])
        for p in inventory["products"]:
            off = p["offerings"][0]
            skus.append(p["sku"])
            rows[p["sku"]] = {
                "listing": double.listings[listing_id]["title"], "siblings": siblings,
                "price": off["price"]["amount"], "quantity": off["quantity"],
                "values": [(v["property_name"], v["values"]) for v in p["property_values"]],
            }  # fmt: skip
    dupes = sorted({s for s in skus if skus.count(s) > 1})
    return {"listings": len(double.listings), "duplicate_skus": dupes, "skus": rows}


def offered(ws: Path) -> dict[str, int]:
    """SKU -> the quantity the plan offers Etsy."""
    plan = json.loads(run_cli("-w", ws, "plan", "etsy", "--json").stdout)
    return {c["sku"]: c for c in plan["channels"][0]["changes"]}  # type: ignore[misc]


def cli_json(ws: Path, *args: str) -> tuple[int, Any]:
    result = run_cli("-w", ws, *args, "--json")
    return result.code, json.loads(result.stdout)


def no_secrets(double: EtsyDouble, ws: Path, *texts: str) -> None:
    """No key, secret, refresh token or access token in ``texts`` or the catalog's journal."""
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
                  if t != "channel_tokens"]  # the tokens' cache, by design  # fmt: skip
        dump = "\n".join(str(row) for t in tables for row in db.execute(f"SELECT * FROM [{t}]"))
    for secret in (*SECRETS, *double.tokens, *double.refresh_tokens):
        for text in (*texts, dump):
            assert secret not in text


# --- plan, push, push again ------------------------------------------------------------------
_REFERENCE: dict[str, Any] = {}


def reference(etsy: EtsyDouble, shared_woo: Any, new_demo: Any) -> dict[str, Any]:
    """Etsy's state after one undisturbed push of the demo catalog (once per session)."""
    if "state" not in _REFERENCE:
        etsy.reset(validate=etsy.validate)
        ws = new_demo("etsy-reference")
        configure(ws, etsy.url, shared_woo.url)
        [result] = push_fast(ws, ["etsy"])
        assert result.exit_code == 0, result.message
        _REFERENCE["state"] = etsy_state(etsy)
        etsy.reset(validate=etsy.validate)
    return dict(_REFERENCE["state"])


def test_plan_push_then_a_second_push_sends_nothing(
    etsy: EtsyDouble, shared_woo: Any, new_demo: Any
) -> None:
    ws = new_demo()
    configure(ws, etsy.url, shared_woo.url)
    plan = run_cli("-w", ws, "plan", "etsy", "--json")
    assert plan.code == 0, plan.output
    [channel] = json.loads(plan.stdout)["channels"]
    skus = {c["sku"] for c in channel["changes"]}
    assert channel["totals"]["create"] == len(skus) > 50 and etsy.requests == []

    pushed = run_cli("-w", ws, "push", "etsy")
    assert pushed.code == 0, pushed.output
    state = etsy_state(etsy)
    assert state["duplicate_skus"] == [] and set(state["skus"]) == skus
    groups = {s["listing"] for s in state["skus"].values()}
    assert state["listings"] == len(groups) < len(skus)  # one listing per product
    assert all(len(s["values"]) == (len(s["siblings"]) > 1) * len(s["values"])
               for s in state["skus"].values())  # fmt: skip
    puts = etsy.calls("PUT", r"/v3/application/listings/\d+/inventory")
    assert len(puts) == state["listings"]  # each inventory written once, whole
    assert etsy.grants == 1  # one access token for the whole push
    blanket = state["skus"]["BLANKET-WOOL"]
    assert blanket["price"] == 7900  # the sale price: what a buyer pays on Etsy

    etsy.requests.clear()
    again = run_cli("-w", ws, "push", "etsy")
    assert again.code == 0 and "0 request(s)" in again.stdout, again.output
    assert etsy.requests == []
    no_secrets(etsy, ws, plan.output, pushed.output, again.output)


def test_a_price_change_of_one_variant_sends_its_listing_whole_once(
    etsy: EtsyDouble, shared_woo: Any, new_demo: Any
) -> None:
    ws = new_demo()
    configure(ws, etsy.url, shared_woo.url)
    assert run_cli("-w", ws, "push", "etsy").code == 0
    before = etsy_state(etsy)
    sku = next(s for s, row in before["skus"].items() if len(row["siblings"]) > 2)
    assert run_cli("-w", ws, "price", "set", sku, "49.00").code == 0
    etsy.requests.clear()
    result = run_cli("-w", ws, "push", "etsy")
    assert result.code == 0, result.output
    after = etsy_state(etsy)
    assert after["skus"][sku]["price"] == 4900
    others = {s: r for s, r in after["skus"].items() if s != sku}
    assert others == {s: r for s, r in before["skus"].items() if s != sku}  # nothing lost
    [put] = etsy.calls("PUT", r"/v3/application/listings/\d+/inventory")
    assert len(json.loads(put["body"])["products"]) == len(before["skus"][sku]["siblings"])


def test_a_push_never_exceeds_etsys_10_requests_per_second_and_counts_every_request(
    etsy: EtsyDouble, shared_woo: Any, new_demo: Any
) -> None:
    ws = new_demo()
    configure(ws, etsy.url, shared_woo.url, paced=True)
    fake = FakeTime()
    etsy.clock = lambda: fake.now  # the engine's paced clock stamps each request
    [result] = push_all(resolve(ws), ["etsy"], pacing=fake.pacing())
    assert result.exit_code == 0, result.message
    stamps = sorted(r["at"] for r in etsy.requests)
    assert len(stamps) > 50 and fake.now > 5  # it really was paced
    # at most 10 in any second (1e-6: the fake clock's float sums, 10 x 0.1 < 1.0)
    busiest = max(sum(1 for t in stamps if s <= t < s + 1 - 1e-6) for s in stamps)
    assert busiest <= 10
    # every request is counted, for the engine's daily budget of Etsy's 10,000
    assert result.counts["requests"] == len(etsy.requests) < Etsy.daily_requests
    pages = [r["path"] for r in etsy.api_calls() if "/listings?" in r["path"]]
    assert pages and all("limit=100" in p for p in pages)  # Etsy's most per page


# --- faults and kills -------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [31, 32])
def test_a_push_through_20_percent_faults_converges(
    etsy: EtsyDouble, shared_woo: Any, new_demo: Any, seed: int
) -> None:
    expected = reference(etsy, shared_woo, new_demo)
    ws = new_demo(f"etsy-faults-{seed}")
    with serve_proxy(etsy.url, rate=0.2, seed=seed, stall_seconds=2.6) as proxy:
        configure(ws, proxy.url, shared_woo.url, timeout=2)
        codes = []
        for _run in range(10):  # rerun until exit 0, as cron would
            [result] = push_fast(ws, ["etsy"], max_retries=3)
            codes.append(result.exit_code)
            if result.exit_code == 0:
                break
        assert codes[-1] == 0, f"no convergence after {len(codes)} runs: {codes}"
        assert set(codes) <= {0, 6}, codes  # faults are retried, never rejections
        assert {f.phase for f in proxy.faults()} == {"before", "after"}
    assert etsy_state(etsy) == expected  # no second draft, no lost variant
    etsy.requests.clear()
    [again] = push_fast(ws, ["etsy"])
    assert again.exit_code == 0 and again.counts["requests"] == 0


@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 30, 60])
def test_kill_9_after_the_nth_applied_request_then_rerun(
    etsy: EtsyDouble, shared_woo: Any, new_demo: Any, tmp_path: Path, n: int
) -> None:
    expected = reference(etsy, shared_woo, new_demo)
    ws = new_demo("etsy-killed")
    victim: dict[str, subprocess.Popen[bytes]] = {}

    def kill_at_n(count: int, entry: Any) -> bool:
        if count != n:
            return False
        victim["proc"].send_signal(signal.SIGKILL)  # before it can read the answer
        victim["proc"].wait(timeout=30)
        return True

    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with serve_proxy(etsy.url) as proxy:
        configure(ws, proxy.url, shared_woo.url)
        proxy.on_applied = kill_at_n
        env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
        with out.open("wb") as stdout, err.open("wb") as stderr:
            victim["proc"] = subprocess.Popen(
                [sys.executable, "-m", "multichan", "-w", str(ws), "push", "etsy"],
                stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, env=env,
            )  # fmt: skip
            code = victim["proc"].wait(timeout=120)
        assert code == -signal.SIGKILL, (code, err.read_text())
        proxy.on_applied = None
        [rerun] = push_fast(ws, ["etsy"])
        assert rerun.exit_code == 0, rerun.message
        assert etsy_state(etsy) == expected
        etsy.requests.clear()
        third = run_cli("-w", ws, "push", "etsy")
        assert third.code == 0 and "0 request(s)" in third.stdout, third.output
    no_secrets(etsy, ws, out.read_text(), err.read_text(), third.output)


# --- orders, cancellations, tracking ----------------------------------------------------------
def woo_stock(woo: Any, sku: str) -> int:
    [obj] = [o for o in woo.posts.values() if o.get("sku") == sku]
    return int(obj["stock_quantity"])


def etsy_quantity(etsy: EtsyDouble, sku: str) -> int:
    return int(etsy.by_sku()[sku]["quantity"])


def ready(etsy: EtsyDouble, shared_woo: Any, new_demo: Any) -> Path:
    ws = new_demo()
    configure(ws, etsy.url, shared_woo.url)
    result = run_cli("-w", ws, "sync")
    assert result.code == 0, result.output
    return ws


def test_an_etsy_sale_lowers_the_other_channel_in_one_sync_and_a_cancel_restocks_etsy(
    etsy: EtsyDouble, shared_woo: Any, new_demo: Any
) -> None:
    ws = ready(etsy, shared_woo, new_demo)
    sku = "MUG-ENAMEL"
    start = etsy_quantity(etsy, sku)
    assert woo_stock(shared_woo, sku) == start
    receipt = etsy.place([(sku, 2)])  # Etsy takes the units off its listing itself
    code, body = cli_json(ws, "sync")
    assert code == 0, body
    assert woo_stock(shared_woo, sku) == start - 2  # the same run
    assert etsy_quantity(etsy, sku) == start - 2
    # the buyer cancels; Etsy does not put the units back on the listing
    etsy.change(receipt, status="canceled")
    assert etsy_quantity(etsy, sku) == start - 2
    code, body = cli_json(ws, "sync")
    assert code == 0, body
    assert woo_stock(shared_woo, sku) == start
    assert etsy_quantity(etsy, sku) == start  # multichan restocked Etsy too
    code, body = cli_json(ws, "sync")  # nothing moves twice
    assert code == 0 and woo_stock(shared_woo, sku) == etsy_quantity(etsy, sku) == start


def level(ws: Path, sku: str) -> tuple[int, int, int]:
    """(on hand, committed, available) at the warehouse."""
    code, product = cli_json(ws, "catalog", "show", sku)
    assert code == 0
    return (product["stock"].get("warehouse", 0), product["committed"].get("warehouse", 0),
            product["available"].get("warehouse", 0))  # fmt: skip


def test_paid_then_shipped_on_etsy_moves_stock_once(
    etsy: EtsyDouble, shared_woo: Any, new_demo: Any
) -> None:
    ws = ready(etsy, shared_woo, new_demo)
    on_hand, _, _ = level(ws, "LANTERN-LED")
    receipt = etsy.place([("LANTERN-LED", 2)])
    assert run_cli("-w", ws, "pull", "etsy").code == 0
    assert level(ws, "LANTERN-LED") == (on_hand, 2, on_hand - 2)
    etsy.change(receipt, status="completed", is_shipped=True)  # shipped from Etsy.com
    assert run_cli("-w", ws, "pull", "etsy").code == 0
    assert level(ws, "LANTERN-LED") == (on_hand - 2, 0, on_hand - 2)
    etsy.change(receipt)  # touched again (a review, a message): nothing moves twice
    assert run_cli("-w", ws, "pull", "etsy").code == 0
    assert level(ws, "LANTERN-LED") == (on_hand - 2, 0, on_hand - 2)


def test_a_cancellation_etsy_shows_late_is_still_applied_once(
    etsy: EtsyDouble, shared_woo: Any, new_demo: Any
) -> None:
    ws = ready(etsy, shared_woo, new_demo)
    on_hand, _, _ = level(ws, "LANTERN-LED")
    receipt = etsy.place([("LANTERN-LED", 1)])
    assert run_cli("-w", ws, "pull", "etsy").code == 0
    assert level(ws, "LANTERN-LED") == (on_hand, 1, on_hand - 1)
    # last swept over an hour ago; Etsy processed a cancellation dated five hours back
    swept = iso(datetime.now(UTC) - timedelta(hours=2))
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db, db:
        db.execute("UPDATE order_cursors SET baseline_at = ?, swept_at = ? WHERE channel = "
                   "'etsy'", ["2026-01-01T00:00:00.000Z", swept])  # fmt: skip
    old = int((datetime.now(UTC) - timedelta(hours=5)).timestamp())
    etsy.receipts[receipt]["created_timestamp"] = etsy.receipts[receipt]["create_timestamp"] = old
    etsy.change(receipt, at=old, status="canceled")
    assert run_cli("-w", ws, "pull", "etsy").code == 0  # the 48-hour sweep finds it
    assert level(ws, "LANTERN-LED") == (on_hand, 0, on_hand)
    assert run_cli("-w", ws, "pull", "etsy").code == 0
    assert level(ws, "LANTERN-LED") == (on_hand, 0, on_hand)


def test_tracking_reaches_etsy_once(etsy: EtsyDouble, shared_woo: Any, new_demo: Any) -> None:
    ws = ready(etsy, shared_woo, new_demo)
    receipt = etsy.place([("MUG-ENAMEL", 1), ("LANTERN-LED", 1)])
    assert run_cli("-w", ws, "pull", "etsy").code == 0
    code, done = cli_json(ws, "ship", "etsy", str(receipt), "--carrier", "usps",
                          "--tracking", "9400111899223")  # fmt: skip
    assert code == 0 and done["status"] == "recorded", done
    first = run_cli("-w", ws, "sync", "etsy")
    assert first.code == 0, first.output
    [shipment] = etsy.receipts[receipt]["shipments"]
    assert (shipment["tracking_code"], shipment["carrier_name"]) == ("9400111899223", "usps")
    again = run_cli("-w", ws, "sync", "etsy")
    assert again.code == 0, again.output
    assert len(etsy.calls("POST", r"/v3/application/shops/\d+/receipts/\d+/tracking")) == 1
    no_secrets(etsy, ws, first.output, again.output)


def test_a_partial_parcel_stays_visible_with_etsys_rule(
    etsy: EtsyDouble, shared_woo: Any, new_demo: Any
) -> None:
    ws = ready(etsy, shared_woo, new_demo)
    receipt = etsy.place([("MUG-ENAMEL", 1), ("LANTERN-LED", 1)])
    assert run_cli("-w", ws, "pull", "etsy").code == 0
    code, done = cli_json(ws, "ship", "etsy", str(receipt), "--carrier", "usps",
                          "--tracking", "9400111899224", "--line", "MUG-ENAMEL:1")  # fmt: skip
    assert code == 0, done
    result = run_cli("-w", ws, "push", "etsy", "--only", "shipments")
    assert result.code == 4, result.output
    assert "Etsy ships a whole receipt" in result.output
    assert etsy.calls("POST", r"/v3/application/shops/\d+/receipts/\d+/tracking") == []


def test_an_etsy_400_rejects_that_listings_skus_and_the_others_are_pushed(
    etsy: EtsyDouble, shared_woo: Any, new_demo: Any
) -> None:
    ws = new_demo()
    configure(ws, etsy.url, shared_woo.url)
    bad = "Mug & Cup & Saucer"  # Etsy takes & once in a title
    assert run_cli("-w", ws, "catalog", "set", "MUG-ENAMEL", f"title={bad}").code == 0
    result = run_cli("-w", ws, "push", "etsy")
    assert result.code == 4, result.output
    _, status = cli_json(ws, "status", "etsy")
    [channel] = status["channels"]
    text = json.dumps(channel)
    assert "MUG-ENAMEL" in text and "'&' appears 2 times" in text
    state = etsy_state(etsy)
    assert "MUG-ENAMEL" not in state["skus"] and len(state["skus"]) > 50  # the rest went
    assert state["duplicate_skus"] == []
    # fixed by the seller: the next push makes it, and only it
    assert run_cli("-w", ws, "catalog", "set", "MUG-ENAMEL", "title=Enamel Camp Mug").code == 0
    again = run_cli("-w", ws, "push", "etsy")
    assert again.code == 0, again.output
    assert "MUG-ENAMEL" in etsy_state(etsy)["skus"]
    assert etsy_state(etsy)["listings"] == state["listings"] + 1
