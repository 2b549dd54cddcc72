"""The failure modes sellers report with other tools (../shared/ORDERS-NOTES.md section 4), each
through the CLI against the three contract-checked servers: interval oversell, pushing on hand
instead of available, an order for a SKU at 0, two overlapping pulls, and a stock change made
while a push runs."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from multichan.catalog.schema import open_catalog
from multichan.catalog.store import adjust_stock
from multichan.sync.run import push_all
from multichan.workspace import resolve
from tests.conftest import run_cli
from tests.e2e.conftest import SQUARE_LOCATION, Servers, write_channels
from tests.e2e.test_pull_shopify import level
from tests.e2e.test_pull_square import variation

ALL = ("shop", "woo", "pos")


def ready(servers: Servers, new_demo: Any) -> Path:
    """Every channel listed and baselined."""
    ws = new_demo()
    write_channels(ws, servers.urls())
    result = run_cli("-w", ws, "sync")
    assert result.code == 0, result.output
    return ws


def sync(ws: Path) -> tuple[int, dict[str, Any]]:
    result = run_cli("-w", ws, "sync", "--json")
    return result.code, json.loads(result.stdout)


def remote(servers: Servers, sku: str) -> dict[str, Any]:
    return {
        "shop": servers.state("shop")["skus"][sku]["available"],
        "woo": servers.state("woo")["skus"][sku]["stock_quantity"],
        "pos": int(servers.state("pos")["skus"][sku]["count"] or 0),
    }


def test_interval_oversell_two_sales_of_the_last_unit_in_one_window(
    servers: Servers, new_demo: Any
) -> None:
    ws = new_demo()
    for location, quantity in (("store", "0"), ("warehouse", "1")):
        run_cli("-w", ws, "stock", "set", "LANTERN-LED", quantity, "--location", location)
    write_channels(ws, servers.urls())
    assert run_cli("-w", ws, "sync").code == 0
    assert remote(servers, "LANTERN-LED") == {"shop": 1, "woo": 1, "pos": 0}
    shopify = servers.shop.shop.orders.add([("LANTERN-LED", 1)])
    servers.woo.orders.add([("LANTERN-LED", 1)], status="processing")
    code, body = sync(ws)
    assert code == 4  # both orders recorded; the oversell is reported, not dropped
    pulled = {p["channel"]: p for p in body["pulled"]}
    [oversold] = pulled["woo"]["oversold"] or pulled["shop"]["oversold"]
    assert (oversold["sku"], oversold["available"]) == ("LANTERN-LED", -1)
    assert len(oversold["orders"]) == 2 and any("#1001" in o for o in oversold["orders"])
    assert level(ws, "LANTERN-LED") == (1, 2, -1)
    assert remote(servers, "LANTERN-LED") == {"shop": 0, "woo": 0, "pos": 0}  # same run
    rows = json.loads(run_cli("-w", ws, "orders", "--json").stdout)
    assert {(r["channel"], r["status"]) for r in rows} == {("shop", "open"), ("woo", "open")}
    assert shopify in {r["order_id"] for r in rows}
    assert servers.violations() == {"shop": [], "woo": [], "pos": []}


def test_other_channels_get_available_not_on_hand(servers: Servers, new_demo: Any) -> None:
    ws = ready(servers, new_demo)
    before = remote(servers, "MUG-ENAMEL")
    assert before == {"shop": 52, "woo": 52, "pos": 12}
    servers.shop.shop.orders.add([("MUG-ENAMEL", 5)])  # paid, not shipped yet
    sale = servers.pos.orders
    sale.add(SQUARE_LOCATION, [(variation(ws, "MUG-ENAMEL"), "2")])  # a till sale in the shop
    code, _ = sync(ws)
    assert code == 0
    assert level(ws, "MUG-ENAMEL") == (40, 5, 35) and level(ws, "MUG-ENAMEL", "store") == (
        10, 0, 10)  # fmt: skip
    assert remote(servers, "MUG-ENAMEL") == {"shop": 45, "woo": 45, "pos": 10}


def test_an_order_for_a_sku_at_zero_is_recorded(servers: Servers, new_demo: Any) -> None:
    ws = ready(servers, new_demo)
    assert level(ws, "KNIFE-FOLD") == (0, 0, 0)
    servers.woo.orders.add([("KNIFE-FOLD", 1)], status="processing")
    code, body = sync(ws)
    assert code == 4
    [woo] = [p for p in body["pulled"] if p["channel"] == "woo"]
    assert woo["oversold"][0]["sku"] == "KNIFE-FOLD" and woo["new"] == 1
    assert level(ws, "KNIFE-FOLD") == (0, 1, -1)


def test_two_overlapping_pulls_record_each_order_once(servers: Servers, new_demo: Any) -> None:
    ws = ready(servers, new_demo)
    for i in range(25):
        servers.shop.shop.orders.add([("MAP-CASE", 1 + i % 2)])
    env = {**{k: v for k, v in os.environ.items() if k != "FORCE_COLOR"},
           "MULTICHAN_LOCK_TIMEOUT": "30"}  # fmt: skip
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "multichan", "-w", str(ws), "pull", "shop"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs  # one waited for the other's lock
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        assert db.execute("SELECT count(*) FROM orders WHERE channel = 'shop'").fetchone() == (25,)
        moves = db.execute("SELECT count(*), -sum(committed_change) FROM stock_moves WHERE "
                           "channel = 'shop'").fetchone()  # fmt: skip
    assert moves == (25, -(13 * 1 + 12 * 2))
    env["MULTICHAN_LOCK_TIMEOUT"] = "0"
    with open_lock(ws):  # a run holding the lock: another exits 7 at once
        late = subprocess.run([sys.executable, "-m", "multichan", "-w", str(ws), "pull"],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              env=env, timeout=60)  # fmt: skip
    assert late.returncode == 7 and "holds the lock" in late.stderr


@contextlib.contextmanager
def open_lock(ws: Path) -> Any:
    with resolve(ws).lock():
        yield


def test_a_stock_change_made_during_a_push_is_pushed_next_run(
    servers: Servers, new_demo: Any
) -> None:
    ws = ready(servers, new_demo)
    run_cli("-w", ws, "stock", "adjust", "MUG-ENAMEL", "-2", "--location", "warehouse")

    class MeanwhileSession(requests.Session):
        """The first write of the push: a person counts the shelf in another terminal."""

        done = False

        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            if method == "POST" and not self.done:
                type(self).done = True
                db = open_catalog(ws / "catalog.db")
                adjust_stock(db, "MUG-ENAMEL", -3, "warehouse")
                db.close()
            return super().request(method, url, *args, **kwargs)

    [pushed] = push_all(resolve(ws), ["woo"], session=MeanwhileSession())
    assert pushed.exit_code == 0
    assert remote(servers, "MUG-ENAMEL")["woo"] == 50  # what the plan saw: 52 - 2
    code, _ = sync(ws)
    assert code == 0 and remote(servers, "MUG-ENAMEL")["woo"] == 47  # the change made meanwhile


def shop_count(servers: Servers, sku: str, available: int | None = None) -> int:
    """Shopify's own available count of ``sku``, set first when ``available`` is given (a
    person editing it in the Shopify admin)."""
    shop = servers.shop.shop
    if available is not None:
        item = shop.items[shop.by_sku(sku)["item"]]
        next(iter(item["levels"].values()))["available"] = available
    return int(shop.available(sku))


def test_a_sale_shopify_took_after_the_pull_is_not_overwritten_by_a_stale_number(
    servers: Servers, new_demo: Any
) -> None:
    ws = ready(servers, new_demo)
    servers.shop.shop.orders.add([("MUG-ENAMEL", 3)])  # Shopify takes 3 from its count
    assert shop_count(servers, "MUG-ENAMEL") == 49
    for sku in ("MUG-ENAMEL", "MAP-CASE"):  # delivery booked in: multichan wants 10 more each
        run_cli("-w", ws, "stock", "adjust", sku, "10", "--location", "warehouse")
    result = run_cli("-w", ws, "push", "shop", "--json")  # no pull: the sale is unknown here
    assert result.code == 0, result.output  # deferred, not rejected: the next sync sends it
    [pushed] = json.loads(result.stdout)["channels"]
    assert [d["sku"] for d in pushed["deferred"]] == ["MUG-ENAMEL"]
    assert "Shopify holds 49 where multichan expected 52" in pushed["deferred"][0]["message"]
    assert shop_count(servers, "MUG-ENAMEL") == 49  # an absolute 62 would have resold 3 units
    assert shop_count(servers, "MAP-CASE") == 90  # the other SKU of the call was sent
    [status] = json.loads(run_cli("-w", ws, "status", "shop", "--json").stdout)["channels"]
    assert {"kind": "quantities", "status": "stale", "skus": 1} in status["state"]
    assert [(p["sku"], p["status"]) for p in status["problems"]] == [("MUG-ENAMEL", "stale")]
    code, body = sync(ws)  # the pull reads the sale first; then the count matches
    assert code == 0, body
    [shop] = [p for p in body["pushed"] if p["channel"] == "shop"]
    assert (shop["deferred"], shop["notes"]) == ([], [])
    assert level(ws, "MUG-ENAMEL") == (50, 3, 47)
    assert remote(servers, "MUG-ENAMEL") == {"shop": 59, "woo": 59, "pos": 12}
    assert servers.violations() == {"shop": [], "woo": [], "pos": []}


def test_a_count_edited_in_the_shopify_admin_is_set_back_once_a_pull_explains_nothing(
    servers: Servers, new_demo: Any
) -> None:
    ws = ready(servers, new_demo)
    shop_count(servers, "MUG-ENAMEL", available=70)  # edited by hand on Shopify
    run_cli("-w", ws, "stock", "adjust", "MUG-ENAMEL", "1", "--location", "warehouse")
    code, body = sync(ws)
    [shop] = [p for p in body["pushed"] if p["channel"] == "shop"]
    assert code == 0 and [d["sku"] for d in shop["deferred"]] == ["MUG-ENAMEL"]
    assert shop_count(servers, "MUG-ENAMEL") == 70 and remote(servers, "MUG-ENAMEL")["woo"] == 53
    time.sleep(1.1)  # the next pull begins after the refusal (stamps are whole seconds)
    code, body = sync(ws)  # its pull finds no sale behind the difference: multichan's number
    [shop] = [p for p in body["pushed"] if p["channel"] == "shop"]
    assert code == 0 and shop["deferred"] == []
    assert shop["notes"] == [
        "MUG-ENAMEL: set over a count changed on shop that no pulled order explains"
    ]
    assert shop_count(servers, "MUG-ENAMEL") == 53
    code, body = sync(ws)
    assert code == 0 and all(p["counts"]["ok"] == 0 for p in body["pushed"])


def test_a_sale_that_crosses_the_threshold_is_one_email_at_the_end_of_the_sync(
    servers: Servers, new_demo: Any
) -> None:
    from tests.alerts.conftest import Mailbox, alerts_yaml, start_smtp

    mailbox = Mailbox()
    controller = start_smtp(mailbox)
    try:
        ws = ready(servers, new_demo)
        with (ws / "channels.yaml").open("a", encoding="utf-8") as config:
            config.write(alerts_yaml(mailbox.port, None, below=3))
        for location, quantity in (("store", "0"), ("warehouse", "4")):
            run_cli("-w", ws, "stock", "set", "LANTERN-LED", quantity, "--location", location)
        code, body = sync(ws)  # the first message: what is low already
        assert code == 0 and body["alerts"]["mode"] == "send", body["alerts"]
        assert "LANTERN-LED" not in mailbox.bodies()[0]
        mailbox.messages.clear()
        servers.shop.shop.orders.add([("LANTERN-LED", 2)])
        code, body = sync(ws)
        assert code == 0, body
        [message] = mailbox.bodies()  # one message, after the sale was pulled and pushed
        assert "LANTERN-LED" in message
        assert remote(servers, "LANTERN-LED") == {"shop": 2, "woo": 2, "pos": 0}
        assert sync(ws)[0] == 0 and len(mailbox.messages) == 1  # nothing new: nothing sent
    finally:
        controller.stop()


def test_an_untracked_sku_sold_on_a_channel_is_topped_up_there_and_nowhere_else_lowered(
    servers: Servers, new_demo: Any
) -> None:
    """A SKU whose stock is not counted is offered its untracked quantity everywhere, however
    many sell: the channel that sold takes the units from its own count, so the next sync
    sends that channel the quantity again; the others keep theirs."""
    ws = new_demo()
    assert run_cli("-w", ws, "catalog", "set", "MUG-ENAMEL", "stock_tracking=untracked").code == 0
    write_channels(ws, servers.urls())
    assert run_cli("-w", ws, "sync").code == 0
    assert remote(servers, "MUG-ENAMEL") == {"shop": 10, "woo": 10, "pos": 10}
    servers.shop.shop.orders.add([("MUG-ENAMEL", 3)])  # Shopify takes 3 from its count
    assert shop_count(servers, "MUG-ENAMEL") == 7
    code, body = sync(ws)
    assert code == 0, body
    assert remote(servers, "MUG-ENAMEL") == {"shop": 10, "woo": 10, "pos": 10}
    [shop] = [p for p in body["pushed"] if p["channel"] == "shop"]
    assert shop["counts"]["ok"] == 1 and shop["deferred"] == []
    assert servers.violations() == {"shop": [], "woo": [], "pos": []}
