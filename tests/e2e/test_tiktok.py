"""TikTok Shop end to end through the CLI, against the strict, signature-checking server of
tests/servers/tiktok.py (and the WooCommerce shop as the other channel): the demo catalog
planned and pushed (every call signed, one product per price/stock call, nothing refused), a
second push sends nothing; 20% injected faults and kill -9 at any request converge to the
fault-free state with no duplicate product; a TikTok order lowers the other channel in the
same sync; a parcel's tracking reaches TikTok once; no credential is ever shown or stored."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from multichan.sync.run import pull_all
from multichan.workspace import resolve
from tests.conftest import run_cli
from tests.e2e.conftest import push_fast, push_killed_at
from tests.e2e.test_pull_shopify import cli_json, level, pull
from tests.servers import tiktok as srv
from tests.servers import woocommerce as woo_srv
from tests.servers.faults import serve_proxy
from tests.sync.conftest import FakeTime

pytestmark = pytest.mark.slow
SECRETS = {"TIKTOK_APP_SECRET": srv.APP_SECRET, "TIKTOK_ACCESS_TOKEN": srv.ACCESS_TOKEN,
           "TIKTOK_REFRESH_TOKEN": srv.REFRESH_TOKEN,
           "WOOCOMMERCE_CONSUMER_KEY": woo_srv.KEY,
           "WOOCOMMERCE_CONSUMER_SECRET": woo_srv.SECRET}  # fmt: skip
CONFIG = """\
shop:
  link_template: "https://shop.example.com/products/{{{{handle}}}}"
channels:
  tts:
    type: tiktok_shop
    rate_limit: {{requests_per_second: 1000, burst: 1000}}
    settings:
      base_url: {tts}
      app_key: {app_key}
      app_secret: ${{TIKTOK_APP_SECRET}}
      access_token: ${{TIKTOK_ACCESS_TOKEN}}
      refresh_token: ${{TIKTOK_REFRESH_TOKEN}}
      token_url: {token}/api/v2/token/refresh
      shop_cipher: {cipher}
      warehouse_id: "{warehouse}"
      categories: {{"*": "{category}"}}
      shipping_providers: {{USPS: "7117858858072016686", UPS: "7117859084333745966"}}
      timeout: {timeout}
    orders: {{location: warehouse}}
"""
WOO = """\
  woo:
    type: woocommerce
    settings:
      base_url: {woo}
      consumer_key: ${{WOOCOMMERCE_CONSUMER_KEY}}
      consumer_secret: ${{WOOCOMMERCE_CONSUMER_SECRET}}
      timeout: 5
    orders: {{location: warehouse}}
"""


@pytest.fixture
def tts(shared_tiktok: srv.TikTokServer, monkeypatch: pytest.MonkeyPatch) -> srv.TikTokServer:
    shared_tiktok.reset()
    for var, value in SECRETS.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("MULTICHAN_LOCK_TIMEOUT", "3")
    return shared_tiktok


def configure(ws: Path, tts: srv.TikTokServer, url: str | None = None, timeout: int = 5,
              woo: woo_srv.WooServer | None = None) -> None:  # fmt: skip
    """channels.yaml with the TikTok channel at ``url`` (default: the server), images of the
    catalog served by the server, and optionally the WooCommerce shop as a second channel."""
    text = CONFIG.format(tts=url or tts.url, token=tts.url, app_key=srv.APP_KEY,
                         cipher=srv.SHOP_CIPHER, warehouse=srv.WAREHOUSE,
                         category=srv.CATEGORY, timeout=timeout)  # fmt: skip
    if woo is not None:
        text += WOO.format(woo=woo.url)
    (ws / "channels.yaml").write_text(text, encoding="utf-8")
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db, db:
        db.execute("UPDATE images SET url = replace(url, 'https://cdn.example.com', ?)",
                   [tts.url + "/cdn"])  # fmt: skip


def state(tts: srv.TikTokServer) -> dict[str, Any]:
    """What a buyer sees, by SKU, without TikTok's ids; and how many products hold them."""
    rows = {sku: {k: v for k, v in row.items() if k != "product_id"}
            for sku, row in tts.by_sku().items()}  # fmt: skip
    return {"products": len(tts.products), "skus": rows}


def refused(tts: srv.TikTokServer) -> list[str]:
    return [f"{e.method} {e.path}: {e.code}" for e in tts.log if e.code not in (None, 0)]


def catalog_dump(ws: Path) -> str:
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        return "\n".join(db.iterdump())


def assert_no_secrets(ws: Path, outputs: list[str]) -> None:
    dump = catalog_dump(ws)
    for secret in [*SECRETS.values(), *[t for t in srv.TikTokServer().tokens]]:
        assert secret not in dump
        for text in outputs:
            assert secret not in text


def test_plan_push_then_a_second_push_sends_nothing(tts: srv.TikTokServer, new_demo: Any) -> None:
    ws = new_demo()
    configure(ws, tts)
    plan = run_cli("-w", ws, "plan", "--json")
    assert plan.code == 0, plan.output
    [channel] = json.loads(plan.stdout)["channels"]
    skus = {c["sku"] for c in channel["changes"]}
    assert len(skus) > 50 and tts.log == []
    pushed = run_cli("-w", ws, "push")
    assert pushed.code == 0, pushed.output
    assert f"tts: ok, {len(skus) * 3} ok, 0 rejected, 0 failed" in pushed.stdout
    assert refused(tts) == []  # every call signed right, one product per call, valid
    remote = tts.by_sku()
    assert set(remote) == skus
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        groups = dict(db.execute("SELECT sku, coalesce(item_group_id, sku) FROM products"))
    assert len(tts.products) == len({groups[s] for s in skus})  # one product per group
    assert remote["BLANKET-WOOL"]["price"] == "79.00"  # the sale price is what buyers pay
    for call in tts.calls("/inventory/update") + tts.calls("/prices/update"):
        product = tts.products[call.path.split("/")[4]]
        assert {s["id"] for s in call.body["skus"]} <= {s["id"] for s in product["skus"]}
    assert level(ws, "KNIFE-FOLD")[2] == 0 and tts.buyable("KNIFE-FOLD") == 0

    tts.log.clear()
    again = run_cli("-w", ws, "push")
    assert again.code == 0 and "tts: ok" in again.stdout, again.output
    assert tts.log == []
    assert run_cli("-w", ws, "price", "set", "MUG-ENAMEL", "12.00").code == 0
    changed = run_cli("-w", ws, "push")
    assert changed.code == 0, changed.output
    assert [e.path.split("/")[-2:] for e in tts.log] == [["prices", "update"]]
    assert tts.by_sku()["MUG-ENAMEL"]["price"] == "12.00"
    assert_no_secrets(ws, [plan.output, pushed.output, again.output, changed.output])


def test_a_sku_going_to_zero_is_never_left_buyable(tts: srv.TikTokServer, new_demo: Any) -> None:
    ws = new_demo()
    configure(ws, tts)
    assert run_cli("-w", ws, "push").code == 0
    for location in ("warehouse", "store"):
        assert run_cli("-w", ws, "stock", "set", "MUG-ENAMEL", "0", "--location",
                       location).code == 0  # fmt: skip
    result = run_cli("-w", ws, "push")
    assert result.code == 0, result.output
    assert tts.buyable("MUG-ENAMEL") == 0
    assert run_cli("-w", ws, "stock", "set", "MUG-ENAMEL", "4", "--location", "store").code == 0
    assert run_cli("-w", ws, "push").code == 0
    assert tts.buyable("MUG-ENAMEL") == 4


def test_a_sold_out_variant_hides_its_product_and_says_why(
    tts: srv.TikTokServer, new_demo: Any
) -> None:
    ws = new_demo()
    configure(ws, tts)
    assert run_cli("-w", ws, "push").code == 0
    siblings = tts.by_sku()["TEE-MERINO-NAV-M"]["siblings"]
    assert len(siblings) > 1 and all(tts.buyable(s) > 0 for s in siblings)
    for location in ("warehouse", "store"):
        assert run_cli("-w", ws, "stock", "set", "TEE-MERINO-NAV-M", "0", "--location",
                       location).code == 0  # fmt: skip
    hidden = run_cli("-w", ws, "push")
    assert hidden.code == 4, hidden.output  # said, not silently dropped
    assert "TEE-MERINO-NAV-M" in hidden.output and "hidden (deactivated)" in hidden.output
    assert [tts.buyable(s) for s in siblings] == [0] * len(siblings)
    again = run_cli("-w", ws, "push")  # still sold out: still hidden, still said
    assert again.code == 4 and [tts.buyable(s) for s in siblings] == [0] * len(siblings)
    assert run_cli("-w", ws, "stock", "set", "TEE-MERINO-NAV-M", "2", "--location",
                   "store").code == 0  # fmt: skip
    back = run_cli("-w", ws, "push")
    assert back.code == 0, back.output
    assert tts.buyable("TEE-MERINO-NAV-M") == 2 and all(tts.buyable(s) > 0 for s in siblings)
    product = tts.by_sku()["TEE-MERINO-NAV-M"]["product_id"]
    switches = [(e.path.rsplit("/", 1)[-1], e.body["product_ids"]) for e in tts.log
                if e.path.endswith(("/deactivate", "/activate"))]  # fmt: skip
    assert switches == [("deactivate", [product]), ("activate", [product])]


# --- faults and kills -------------------------------------------------------------------------
_REFERENCE: dict[str, Any] = {}


def reference(tts: srv.TikTokServer, new_demo: Any) -> dict[str, Any]:
    if "state" not in _REFERENCE:
        tts.reset()
        ws = new_demo("reference")
        configure(ws, tts)
        [result] = push_fast(ws, ["tts"])
        assert result.exit_code == 0, result.message
        _REFERENCE["state"] = state(tts)
        tts.reset()
    return dict(_REFERENCE["state"])


@pytest.mark.parametrize("seed", [31, 32])
def test_a_push_through_20_percent_faults_converges(
    tts: srv.TikTokServer, new_demo: Any, seed: int
) -> None:
    expected = reference(tts, new_demo)
    ws = new_demo("faults")
    with serve_proxy(tts.url, rate=0.2, seed=seed, stall_seconds=1.6) as proxy:
        configure(ws, tts, url=proxy.url, timeout=1)
        codes = []
        for _run in range(10):
            [result] = push_fast(ws, ["tts"], max_retries=3)
            codes.append(result.exit_code)
            if result.exit_code == 0:
                break
        assert codes[-1] == 0 and set(codes) <= {0, 6}, codes
        assert {f.phase for f in proxy.faults()} == {"before", "after"}
    assert state(tts) == expected  # no duplicate product, every price and count as planned
    tts.log.clear()
    configure(ws, tts)
    [again] = push_fast(ws, ["tts"])
    assert again.exit_code == 0 and again.counts["requests"] == 0 and tts.log == []


@pytest.mark.parametrize("n", [1, 2, 4, 9, 40, 100, 133])  # 133 in a full push
def test_kill_9_after_the_nth_applied_request_then_rerun(
    tts: srv.TikTokServer, new_demo: Any, tmp_path: Path, n: int
) -> None:
    expected = reference(tts, new_demo)
    ws = new_demo("killed")
    with serve_proxy(tts.url) as proxy:
        configure(ws, tts, url=proxy.url)
        out, err = push_killed_at(proxy, ws, ["tts"], n, tmp_path, timeout=120)
        proxy.on_applied = None
        [rerun] = push_fast(ws, ["tts"])
        assert rerun.exit_code == 0, rerun.message
    assert state(tts) == expected
    tts.log.clear()
    configure(ws, tts)
    third = run_cli("-w", ws, "push", "tts")
    assert third.code == 0 and "tts: ok" in third.stdout, third.output
    assert tts.log == []
    assert_no_secrets(ws, [out.read_text(), err.read_text(), third.output])


# --- orders and shipments ---------------------------------------------------------------------
def test_a_tiktok_order_lowers_the_other_channel_in_one_sync_and_ships_once(
    tts: srv.TikTokServer, shared_woo: woo_srv.WooServer, new_demo: Any
) -> None:
    shared_woo.reset()
    ws = new_demo()
    configure(ws, tts, woo=shared_woo)
    first = run_cli("-w", ws, "sync")
    assert first.code == 0, first.output
    woo_mug = next(p for p in shared_woo.posts.values() if p["sku"] == "MUG-ENAMEL")
    before = woo_mug["stock_quantity"]
    order = tts.add_order([("MUG-ENAMEL", 3), ("MAP-CASE", 1)], "UNPAID")
    code, body = cli_json(ws, "sync")
    assert code == 0, body
    assert woo_mug["stock_quantity"] == before - 3  # in the same run
    assert level(ws, "MUG-ENAMEL")[1] == 3  # committed while unpaid: TikTok holds them too
    assert tts.buyable("MUG-ENAMEL") == before - 3  # TikTok's own hold, and multichan's
    tts.set_status(order, "AWAITING_SHIPMENT")
    code, shipped = cli_json(ws, "ship", "tts", order, "--carrier", "USPS", "--tracking",
                             "9400111899223197428490")  # fmt: skip
    assert code == 0 and shipped["status"] == "recorded", shipped
    with serve_proxy(tts.url) as proxy:  # the first answer to the package call is lost
        configure(ws, tts, url=proxy.url)
        proxy.on_applied = lambda n, entry: entry.path.split("?")[0].endswith("/packages")
        lost = run_cli("-w", ws, "sync")
        proxy.on_applied = None
        assert lost.code != 0
        again = run_cli("-w", ws, "sync")
        assert again.code == 0, again.output
    [package] = tts.calls("/packages")[:1]
    assert len([e for e in tts.calls("/packages") if e.code == 0]) == 1  # made once
    assert package.body["shipping_provider_id"] == "7117858858072016686"
    assert len(package.body["order_line_item_ids"]) == 4  # one line item a unit
    assert tts.orders[order]["status"] == "IN_TRANSIT"
    configure(ws, tts)
    tts.log.clear()
    last = run_cli("-w", ws, "sync")
    assert last.code == 0 and tts.calls("/packages") == []
    assert level(ws, "MUG-ENAMEL")[1] == 0
    assert_no_secrets(ws, [first.output, lost.output, again.output, last.output])


def test_an_unpaid_order_tiktok_cancels_gives_its_units_back_everywhere(
    tts: srv.TikTokServer, shared_woo: woo_srv.WooServer, new_demo: Any
) -> None:
    shared_woo.reset()
    ws = new_demo()
    configure(ws, tts, woo=shared_woo)
    assert run_cli("-w", ws, "sync").code == 0
    woo_mug = next(p for p in shared_woo.posts.values() if p["sku"] == "MUG-ENAMEL")
    before = woo_mug["stock_quantity"]
    order = tts.add_order([("MUG-ENAMEL", 2)], "UNPAID")
    assert run_cli("-w", ws, "sync").code == 0
    assert (woo_mug["stock_quantity"], level(ws, "MUG-ENAMEL")[1]) == (before - 2, 2)
    tts.cancel_units(order, "MUG-ENAMEL", 2)  # never paid: TikTok cancels it
    assert run_cli("-w", ws, "sync").code == 0
    assert (woo_mug["stock_quantity"], level(ws, "MUG-ENAMEL")[1]) == (before, 0)
    assert tts.buyable("MUG-ENAMEL") == before


def pulled_state(ws: Path) -> dict[str, Any]:
    """What pulls leave in the catalog: orders, lines as applied, stock moves, levels."""
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        return {
            "orders": db.execute("SELECT order_id, status FROM orders ORDER BY 1").fetchall(),
            "lines": db.execute(
                "SELECT order_id, line_id, sku, ordered, unshipped, shipped, committed_applied, "
                "consumed_applied FROM order_lines ORDER BY 1, 2").fetchall(),
            "moved": db.execute(
                "SELECT order_id, line_id, SUM(on_hand_change), SUM(committed_change) FROM "
                "stock_moves WHERE channel IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2").fetchall(),
            "stock": db.execute("SELECT sku, location, quantity, committed FROM stock ORDER BY "
                                "1, 2").fetchall(),
        }  # fmt: skip


def test_pulls_through_20_percent_faults_converge(
    tts: srv.TikTokServer, new_demo: Any, tmp_path: Path
) -> None:
    ws = new_demo("pulled")
    configure(ws, tts)
    for sku in ("MUG-ENAMEL", "TEE-MERINO-NAV-M"):  # enough for every order: nothing oversold
        assert run_cli("-w", ws, "stock", "set", sku, "1000", "--location", "warehouse").code == 0
    assert run_cli("-w", ws, "push").code == 0
    assert run_cli("-w", ws, "pull").code == 0  # the baseline
    for i in range(230):  # three pages of 100
        order = tts.add_order([("MUG-ENAMEL", 1 + i % 2), ("TEE-MERINO-NAV-M", 1)], "UNPAID")
        if i % 7 == 0:
            tts.set_status(order, "AWAITING_SHIPMENT")
        if i % 11 == 0:
            tts.cancel_units(order, "TEE-MERINO-NAV-M", 1)
    reference = tmp_path / "reference"
    shutil.copytree(ws, reference)
    [clean] = pull_all(resolve(reference), ["tts"], pacing=FakeTime().pacing())
    assert clean.exit_code == 0, clean
    expected = pulled_state(reference)
    assert len(expected["orders"]) == 230
    injected = []
    for seed in (1, 7, 8, 9):  # ~3 requests a pull: seeds whose first draws fault
        faulty = tmp_path / f"faulty-{seed}"
        shutil.copytree(ws, faulty)
        with serve_proxy(tts.url, rate=0.2, seed=seed, stall_seconds=1.6) as proxy:
            configure(faulty, tts, url=proxy.url, timeout=1)
            codes = []
            for _run in range(8):
                [result] = pull_all(resolve(faulty), ["tts"],
                                    pacing=FakeTime().pacing(max_retries=2))  # fmt: skip
                codes.append(result.exit_code)
                if result.exit_code == 0:
                    break
            assert codes[-1] == 0 and set(codes) <= {0, 6}, codes
            injected += proxy.faults()
        assert pulled_state(faulty) == expected, seed
    assert {f.phase for f in injected} == {"before", "after"}, injected


def test_tiktok_status_changes_move_stock_once_and_odd_orders_lose_nothing(
    tts: srv.TikTokServer, new_demo: Any
) -> None:
    """ORDERS-NOTES section 4: #3 (status transitions never decrement twice), #5 (an order first
    seen cancelled moves nothing), #8 (an unknown SKU parks its line, the rest imports)."""
    ws = new_demo()
    configure(ws, tts)
    assert run_cli("-w", ws, "push").code == 0
    assert pull(ws, "tts")[0] == 0  # the baseline
    start = level(ws, "MUG-ENAMEL")
    order = tts.add_order([("MUG-ENAMEL", 2)], "UNPAID")
    pull(ws, "tts")
    assert level(ws, "MUG-ENAMEL") == (start[0], 2, start[2] - 2)
    for status in ("ON_HOLD", "AWAITING_SHIPMENT", "AWAITING_COLLECTION"):
        tts.set_status(order, status)
        pull(ws, "tts")
        assert level(ws, "MUG-ENAMEL") == (start[0], 2, start[2] - 2), status
    for status in ("IN_TRANSIT", "DELIVERED", "COMPLETED"):  # shipped in Seller Center
        tts.set_status(order, status)
        pull(ws, "tts")
        pull(ws, "tts")
        assert level(ws, "MUG-ENAMEL") == (start[0] - 2, 0, start[2] - 2), status
    gone = tts.add_order([("MAP-CASE", 1)], "UNPAID")
    tts.cancel_units(gone, "MAP-CASE", 1)  # cancelled before multichan ever saw it
    before = level(ws, "MAP-CASE")
    code, got = pull(ws, "tts")
    assert code == 0 and level(ws, "MAP-CASE") == before
    odd = tts.add_order([("NOT-IN-CATALOG", 1), ("LANTERN-LED", 1)], "AWAITING_SHIPMENT")
    lantern = level(ws, "LANTERN-LED")
    code, got = pull(ws, "tts")
    assert code == 4  # partial: said, not dropped
    assert [(u["order_id"], u["sku"]) for u in got["tts"]["unmatched"]] == [
        (odd, "NOT-IN-CATALOG")]  # fmt: skip
    assert level(ws, "LANTERN-LED")[1] == lantern[1] + 1
    code, shown = cli_json(ws, "orders", "show", "tts", odd)
    assert code == 0 and len(shown["lines"]) == 2


def test_settings_mistakes_are_config_errors_that_name_the_key(
    tts: srv.TikTokServer, new_demo: Any
) -> None:
    ws = new_demo()
    configure(ws, tts)
    good = (ws / "channels.yaml").read_text(encoding="utf-8")
    (ws / "channels.yaml").write_text(good.replace(f"      shop_cipher: {srv.SHOP_CIPHER}\n", ""),
                                      encoding="utf-8")  # fmt: skip
    missing = run_cli("-w", ws, "push", "--dry-run")
    assert missing.code == 3 and "shop_cipher is required" in missing.output, missing.output
    pasted = good.replace("${TIKTOK_APP_SECRET}", srv.APP_SECRET)  # the secret itself
    (ws / "channels.yaml").write_text(pasted, encoding="utf-8")
    leaked = run_cli("-w", ws, "push", "--dry-run")
    assert leaked.code == 3 and "app_secret must name an environment variable" in leaked.output
    assert srv.APP_SECRET not in leaked.output and tts.log == []


def test_late_tracking_reaches_tiktok_and_an_order_at_zero_is_recorded(
    tts: srv.TikTokServer, new_demo: Any
) -> None:
    """ORDERS-NOTES section 4: #13 (tracking minted after dispatch still reaches TikTok, which
    marks no package shipped without one) and #7 (an order for a SKU at 0 is recorded)."""
    ws = new_demo()
    configure(ws, tts)
    assert run_cli("-w", ws, "push").code == 0
    assert pull(ws, "tts")[0] == 0
    order = tts.add_order([("LANTERN-LED", 1)], "AWAITING_SHIPMENT")
    zero = tts.add_order([("KNIFE-FOLD", 1)], "AWAITING_SHIPMENT")
    code, got = pull(ws, "tts")
    assert code == 4 and [o["sku"] for o in got["tts"]["oversold"]] == ["KNIFE-FOLD"]
    assert level(ws, "KNIFE-FOLD") == (0, 1, -1)
    code, shown = cli_json(ws, "orders", "show", "tts", zero)
    assert code == 0 and shown["lines"][0]["ordered"] == 1
    code, recorded = cli_json(ws, "ship", "tts", order, "--carrier", "UPS")
    assert code == 0 and recorded["status"] == "recorded", recorded
    first = run_cli("-w", ws, "sync", "tts")
    assert first.code == 4 and "TikTok needs a tracking number" in first.output, first.output
    assert tts.calls("/packages") == []
    code, later = cli_json(ws, "ship", "tts", order, "--tracking", "1Z999AA10123456784")
    assert code == 0 and later["status"] == "tracking", later
    second = run_cli("-w", ws, "sync", "tts")
    assert "TikTok needs a tracking number" not in second.output, second.output
    [package] = tts.calls("/packages")
    assert package.body["tracking_number"] == "1Z999AA10123456784"
    assert package.body["shipping_provider_id"] == "7117859084333745966"  # UPS
    assert tts.orders[order]["status"] == "IN_TRANSIT"
