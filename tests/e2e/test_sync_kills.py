"""`multichan sync` killed with SIGKILL at every point of a run, then run again, ends with exactly
the stock and the remote quantities of a run nobody killed.

The workspace has Shopify, WooCommerce and the Square POS listed and baselined; then orders
arrive on all three (30 on Shopify: three pages; 12 on WooCommerce, some refunded: a page plus
a refunds read each; 8 till sales and open tickets on Square), some paid, shipped, refunded,
cancelled. A real ``python -m multichan sync`` process (no
TTY) goes through fault proxies and is killed at the n-th request of the run, counted over both
channels, for every n the run makes: either right after the server applied the request and
before the answer reached the process (``before``), or a moment after the process got the
answer, while it is writing that page or batch to SQLite (``during``). The rerun gets the lock
the kernel released and must converge: the same on hand and committed per SKU and location, the
same applied state per order line, no stock move applied twice, and the same quantities on both
channels; a third sync moves and sends nothing. Shopify takes its orders' units from its own
count, and its stock writes compare against what multichan expects: a write applied before the
kill is found done on the rerun, never deferred as stale.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from multichan.sync.run import sync_all
from multichan.workspace import resolve
from tests.conftest import run_cli
from tests.e2e.conftest import SQUARE_LOCATION, Servers, write_channels
from tests.e2e.test_pull_shopify import pull
from tests.e2e.test_pull_square import variation
from tests.servers.faults import serve_proxy
from tests.sync.conftest import FakeTime

pytestmark = pytest.mark.slow
NAMES = ["shop", "woo", "pos"]
SKUS = ["MUG-ENAMEL", "MAP-CASE", "LANTERN-LED", "BOTTLE-STEEL-750", "STOVE-GAS"]


def place_orders(servers: Servers, ws: Path) -> None:
    shop, woo, pos = servers.shop.shop.orders, servers.woo.orders, servers.pos.orders
    for i in range(30):
        order = shop.add([(SKUS[i % 5], 1 + i % 3), (SKUS[(i + 2) % 5], 1)],
                         financial_status="PENDING" if i % 7 == 3 else "PAID")  # fmt: skip
        if i % 4 == 1:
            shop.fulfill(order)
            if i % 8 == 5:
                shop.refund(order, {SKUS[i % 5]: 1}, restock_type="RETURN")
        elif i % 9 == 2:
            shop.cancel(order, restock=True)
    for i in range(12):
        status = ("processing", "completed", "on-hold", "pending")[i % 4]
        order = woo.add([(SKUS[(i + 1) % 5], 1 + i % 2)], status=status)
        if i % 5 == 1:
            woo.refund(order, {SKUS[(i + 1) % 5]: 1}, restock=i % 2 == 1)
        if i % 6 == 4:
            woo.set_status(order, "cancelled")
    for i in range(8):
        state = "OPEN" if i % 3 == 0 else "COMPLETED"
        sale = pos.add(SQUARE_LOCATION, [(variation(ws, SKUS[i % 5]), "1")], state=state)
        if i % 3 == 0 and i:
            pos.set_state(sale, "COMPLETED")


def prepared(servers: Servers, new_demo: Any) -> Path:
    """A workspace with every channel listed and baselined, and orders waiting on each."""
    template = new_demo("prepared")
    write_channels(template, servers.urls())
    for name in NAMES:
        assert run_cli("-w", template, "push", name).code == 0
        assert pull(template, name)[1][name]["status"] == "baseline"
    place_orders(servers, template)
    return template


def outcome(ws: Path, servers: Servers) -> dict[str, Any]:
    """What a run leaves: stock levels, applied state per order line, moves per line, and
    the quantities the channels show."""
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        stock = db.execute(
            "SELECT sku, location, quantity, committed FROM stock WHERE quantity != 0 OR "
            "committed != 0 ORDER BY sku, location"
        ).fetchall()
        lines = db.execute(
            "SELECT channel, order_id, line_id, sku, committed_applied, consumed_applied "
            "FROM order_lines ORDER BY channel, order_id, line_id"
        ).fetchall()
        moved = db.execute(
            "SELECT channel, order_id, line_id, SUM(on_hand_change), SUM(committed_change) "
            "FROM stock_moves WHERE channel IS NOT NULL GROUP BY channel, order_id, line_id "
            "ORDER BY channel, order_id, line_id"
        ).fetchall()
    shop = {s: r["available"] for s, r in servers.state("shop")["skus"].items() if s in SKUS}
    woo = {s: r["stock_quantity"] for s, r in servers.state("woo")["skus"].items() if s in SKUS}
    pos = {s: r["count"] for s, r in servers.state("pos")["skus"].items() if s in SKUS}
    return {"stock": stock, "lines": lines, "moved": moved, "shop": shop, "woo": woo, "pos": pos}


def killed_sync(ws: Path, servers: Servers, n: int, mode: str) -> str:
    """Run ``multichan sync`` as a process through fault proxies and SIGKILL it at the n-th
    request of the run (``before`` its answer, or ``during`` what follows it); returns the
    path of that request."""
    victim: dict[str, subprocess.Popen[bytes]] = {}
    count = {"n": 0}
    where: list[str] = []
    lock = threading.Lock()

    def kill_at(_: int, entry: Any) -> bool:
        with lock:
            count["n"] += 1
            if count["n"] != n:
                return False
        where.append(entry.path)
        if mode == "before":
            victim["proc"].send_signal(signal.SIGKILL)
            victim["proc"].wait(timeout=30)
            return True  # the answer is never sent
        threading.Timer(0.01, victim["proc"].send_signal, [signal.SIGKILL]).start()
        return False

    with contextlib.ExitStack() as stack:
        proxies = {name: stack.enter_context(serve_proxy(servers.get(name).url)) for name in NAMES}
        write_channels(ws, {**servers.urls(), **{k: v.url for k, v in proxies.items()}})
        for proxy in proxies.values():
            proxy.on_applied = kill_at
        env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
        victim["proc"] = subprocess.Popen(
            [sys.executable, "-m", "multichan", "-w", str(ws), "sync", *NAMES],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
        )  # fmt: skip
        _, err = victim["proc"].communicate(timeout=120)
        assert victim["proc"].returncode in (-signal.SIGKILL, 0), err.decode()
    return where[0] if where else ""


def sync_fast(ws: Path) -> Any:
    return sync_all(resolve(ws), NAMES, pacing=FakeTime().pacing())


def test_sync_killed_anywhere_converges_to_the_same_stock(
    servers: Servers, new_demo: Any, tmp_path: Path
) -> None:
    template = prepared(servers, new_demo)

    reference = tmp_path / "reference"
    shutil.copytree(template, reference)
    servers.clear_logs()
    done = sync_fast(reference)
    assert done.exit_code == 0, done.as_dict()
    # Shopify took its own orders' units from its count; compared with what multichan
    # expected, every count matched: all sent, none deferred or set over
    assert [(p.deferred, p.notes) for p in done.pushes] == [([], [])] * len(NAMES)
    requests = sum(servers.requests(name) for name in NAMES)
    expected = outcome(reference, servers)
    assert sum(1 for line in expected["lines"] if line[4] or line[5]) > 20  # stock did move
    assert requests >= 8

    points = [(n, mode) for n in range(1, requests + 1) for mode in ("before", "during")]
    assert len(points) >= 20, requests  # 11 requests, each killed two ways: 22 points
    killed_where: list[str] = []
    for n, mode in points:
        ws = tmp_path / f"killed-{n}-{mode}"
        shutil.copytree(template, ws)
        killed_where.append(killed_sync(ws, servers, n, mode))
        write_channels(ws, servers.urls())  # the rerun: straight to the servers
        rerun = sync_fast(ws)
        assert rerun.exit_code == 0, (n, mode, rerun.as_dict())
        # a stock write Shopify applied before the kill is found already done, not stale
        assert [(p.deferred, p.notes) for p in rerun.pushes] == [([], [])] * len(NAMES)
        assert outcome(ws, servers) == expected, (n, mode)
        again = sync_fast(ws)
        assert [p.moves for p in again.pulls] == [0] * len(NAMES), (n, mode)
        assert all(p.counts["ok"] + p.counts["rejected"] == 0 for p in again.pushes), (n, mode)
    assert any("graphql" in p for p in killed_where) and any("orders" in p for p in killed_where)
    assert servers.violations() == {"shop": [], "woo": [], "pos": []}
    assert any("orders/search" in p for p in killed_where)
