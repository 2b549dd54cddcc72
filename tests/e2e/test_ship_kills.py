"""Parcels reach each channel exactly once when a real `multichan push --only shipments`
process is killed with SIGKILL at any point of sending them, and run again.

Shopify and WooCommerce (with the Shipment Tracking extension) are listed and their orders
pulled once into a template workspace: one set of orders per kill point, so every point ships
orders the channels have never seen shipped (the servers are not reset between points). For a
point, a copy of the template records the set's parcels (`multichan ship` and `import
shipments`: on Shopify a whole order with tracking, part of an order with tracking and its rest
without; on WooCommerce two orders with tracking), and a real ``python -m multichan`` process
(no TTY) sends them through fault proxies, killed at the n-th request of the run, counted over
both channels, at each request that changes something there, in one of three ways: ``ahead``
(the request never reaches the channel), ``lost`` (the channel applied it, its answer never
reaches the process: the catalog has not recorded it), ``after`` (a moment after the process
got the answer: recording it, or between two parcels). The rerun, straight to the servers,
must end exactly as a run nobody killed: each parcel once on its channel (no second
fulfillment, tracking item or customer note; the right tracking), each shipment row ``sent``
with the channel's id of that parcel, the units taken off the shelf once, and a third run
sends nothing.
"""

from __future__ import annotations

import contextlib
import json
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

from multichan.sync.run import push_all, sync_all
from multichan.workspace import resolve
from tests.conftest import run_cli
from tests.e2e.conftest import Servers, write_channels
from tests.e2e.test_pull_shopify import pull
from tests.servers.faults import Fault, serve_proxy
from tests.sync.conftest import FakeTime

pytestmark = pytest.mark.slow
NAMES = ["shop", "woo"]
MODES = ("ahead", "lost", "after")
REQUESTS = 14  # one run: Shopify 3 parcels x (read, create), WooCommerce 2 x (order, trackings,
# create, update)
WRITES = 7  # of them: Shopify's creates, WooCommerce's tracking creates and order updates


def configure(ws: Path, urls: dict[str, str]) -> None:
    """channels.yaml at ``urls``: WooCommerce with the Shipment Tracking extension and a rate
    limit a test need not wait for."""
    write_channels(ws, urls)
    text = (ws / "channels.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "    orders: {location: warehouse}\n  pos:",
        "      shipment_tracking: true\n    rate_limit: {requests_per_second: 1000, burst: 1000}"
        "\n    orders: {location: warehouse}\n  pos:",
    )
    (ws / "channels.yaml").write_text(text, encoding="utf-8")


def place(servers: Servers, sets: int) -> list[dict[str, Any]]:
    """``sets`` sets of paid, unshipped orders: two on Shopify, two on WooCommerce."""
    shop, woo = servers.shop.shop.orders, servers.woo.orders
    return [
        {
            "whole": shop.add([("MUG-ENAMEL", 2), ("MAP-CASE", 1)]),
            "split": shop.add([("LANTERN-LED", 3)]),
            "woo_csv": woo.add([("BOTTLE-STEEL-750", 1)]),
            "woo_cli": woo.add([("MUG-ENAMEL", 1), ("MAP-CASE", 1)]),
        }
        for _ in range(sets)
    ]


def record(ws: Path, k: int, orders: dict[str, Any]) -> None:
    """Set ``k``'s parcels, as a seller records them."""
    number = f"{k:03d}"
    ship = [
        ("shop", orders["whole"], "--carrier", "UPS", "--tracking", f"1ZWHOLE{number}",
         "--url", f"https://ups.example/1ZWHOLE{number}"),
        ("shop", orders["split"], "--line", "LANTERN-LED:1", "--carrier", "DHL",
         "--tracking", f"JDSPLIT{number}"),
        ("woo", f"#{orders['woo_cli']}", "--carrier", "ups", "--tracking", f"1ZWOO{number}"),
    ]  # fmt: skip
    for args in ship:
        result = run_cli("-w", ws, "ship", *args)
        assert result.code == 0, result.output
    csv = ws / f"shipped-{number}.csv"
    csv.write_text(
        "channel,order,sku,quantity,carrier,tracking_number\n"
        f"shop,{orders['split']},LANTERN-LED,2,,\n"  # the rest, tracking not at hand
        f"woo,#{orders['woo_csv']},BOTTLE-STEEL-750,1,Royal Mail,RM{number}GB\n",
        encoding="utf-8",
    )
    result = run_cli("-w", ws, "import", "shipments", csv)
    assert result.code == 0, result.output


def outcome(ws: Path, servers: Servers, k: int, orders: dict[str, Any]) -> dict[str, Any]:
    """What set ``k``'s parcels left: on each channel, in the catalog's shipments, and in
    stock (set numbers in tracking numbers written as ``###``, so sets compare)."""

    def same(text: Any) -> Any:
        return text.replace(f"{k:03d}", "###") if isinstance(text, str) else text

    shop, woo = servers.shop.shop.orders, servers.woo.orders
    on_shop = {
        name: [
            (sorted((line.sku, n) for _, line, n in f.lines),
             [{key: same(v) for key, v in t.items()} for t in f.tracking], f.id)
            for f in shop.get(orders[name]).fulfillments
        ]
        for name in ("whole", "split")
    }  # fmt: skip
    on_woo = {}
    for name in ("woo_csv", "woo_cli"):
        order = woo.order(orders[name])
        skus = {str(line.id): line.sku for line in order.lines}
        items = servers.woo.tracking.items.get(orders[name], [])
        on_woo[name] = {
            "status": order.status,
            "tracking": [(x["tracking_provider"], same(x["tracking_number"]), x["tracking_id"])
                         for x in items],
            "shipped_meta": [
                {same(key): {skus[line]: n for line, n in taken.items()}
                 for key, taken in json.loads(m["value"]).items()}
                for m in order.meta if m["key"] == "multichan_shipped"
            ],
            "notes": len(woo.customer_notes(orders[name])),
        }  # fmt: skip
    ids = {str(v): k for k, v in orders.items()}
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        rows = db.execute(
            "SELECT s.channel, s.order_id, s.source, s.status, s.carrier, s.tracking_number,"
            " s.remote_id, group_concat(sl.sku || ' x' || sl.quantity) FROM shipments s"
            " LEFT JOIN shipment_lines sl ON sl.shipment_id = s.id GROUP BY s.id"
            " ORDER BY s.id"
        ).fetchall()
        moves = db.execute(
            "SELECT channel, order_id, sku, reason, count(*), sum(on_hand_change),"
            " sum(committed_change) FROM stock_moves WHERE channel IS NOT NULL"
            " GROUP BY channel, order_id, sku, reason"
        ).fetchall()
        stock = db.execute(
            "SELECT sku, location, quantity, committed FROM stock ORDER BY sku, location"
        ).fetchall()
    shipments = sorted(
        (
            (channel, ids[order], source, status, carrier, same(tracking), remote, units)
            for channel, order, source, status, carrier, tracking, remote, units in rows
            if order in ids
        ),
        key=str,
    )
    moved = sorted(((c, ids[o], *rest) for c, o, *rest in moves if o in ids), key=str)
    return {"shop": on_shop, "woo": on_woo, "shipments": shipments, "moves": moved,
            "stock": stock}  # fmt: skip


def comparable(found: dict[str, Any]) -> dict[str, Any]:
    """``outcome`` with the channels' ids of the parcels left out (each run makes its own);
    that each shipment row carries the id of its parcel is checked apart (``ids_match``)."""
    return {
        "shop": {n: [f[:2] for f in fs] for n, fs in found["shop"].items()},
        "woo": {n: {**w, "tracking": [t[:2] for t in w["tracking"]]}
                for n, w in found["woo"].items()},
        "shipments": [row[:6] + row[7:] for row in found["shipments"]],
        "moves": found["moves"], "stock": found["stock"],
    }  # fmt: skip


def ids_match(found: dict[str, Any]) -> bool:
    """Every shipment row names a parcel of its channel, each parcel by exactly one row."""
    remote = {row[6] for row in found["shipments"]}
    made = {f[2] for fs in found["shop"].values() for f in fs}
    made |= {t[2] for w in found["woo"].values() for t in w["tracking"]}
    return len(remote) == len(found["shipments"]) and remote == made


def killed_push(ws: Path, servers: Servers, n: int, mode: str) -> str:
    """Run ``multichan push shop woo --only shipments`` as a process through fault proxies and
    SIGKILL it at the n-th request of the run (``mode``: see the module docstring); returns
    that request's method and path."""
    victim: dict[str, subprocess.Popen[bytes]] = {}
    count = {"arrived": 0, "answered": 0}
    where: list[str] = []
    lock = threading.Lock()

    def kill() -> None:
        victim["proc"].send_signal(signal.SIGKILL)
        victim["proc"].wait(timeout=30)

    def on_arrival(draw: Any) -> Any:
        def arrived() -> Fault | None:
            with lock:
                count["arrived"] += 1
                if mode != "ahead" or count["arrived"] != n:
                    return draw()
            kill()  # the process dies with its request unsent upstream
            where.append("ahead")
            return Fault("reset", "before")

        return arrived

    def on_applied(_: int, entry: Any) -> bool:
        with lock:
            count["answered"] += 1
            if mode == "ahead" or count["answered"] != n:
                return False
        where.append(f"{entry.method} {entry.path}")
        if mode == "lost":
            kill()
            return True  # the answer is never sent
        threading.Timer(0.01, victim["proc"].send_signal, [signal.SIGKILL]).start()
        return False

    with contextlib.ExitStack() as stack:
        proxies = {name: stack.enter_context(serve_proxy(servers.get(name).url)) for name in NAMES}
        configure(ws, {**servers.urls(), **{k: v.url for k, v in proxies.items()}})
        for proxy in proxies.values():
            proxy.on_applied = on_applied
            proxy.draw = on_arrival(proxy.draw)  # type: ignore[method-assign]
        env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
        victim["proc"] = subprocess.Popen(
            [sys.executable, "-m", "multichan", "-w", str(ws), "push", *NAMES, "--only",
             "shipments"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
        )  # fmt: skip
        _, err = victim["proc"].communicate(timeout=120)
        assert victim["proc"].returncode in (-signal.SIGKILL, 0), err.decode()
    return where[0] if where else ""


def send(ws: Path) -> Any:
    return push_all(resolve(ws), NAMES, only="shipments", pacing=FakeTime().pacing())


def writes(servers: Servers) -> list[int]:
    """The positions (from 1) of the run's requests that change something on a channel, in
    the order the run sent them (Shopify's, then WooCommerce's)."""
    mutations = ("fulfillmentCreate", "fulfillmentTrackingInfoUpdate")
    sent = [any(f in mutations for f in e["fields"]) for e in servers.shop.log]
    sent += [r.method in ("POST", "PUT") for r in servers.woo.log]
    return [i for i, write in enumerate(sent, start=1) if write]


def test_parcels_killed_anywhere_reach_each_channel_once(
    servers: Servers, new_demo: Any, tmp_path: Path
) -> None:
    """Killed ahead of, on the lost answer of, and right after each request that changes
    something on a channel (a kill around a read is one of these for the next write)."""
    points = [(n, mode) for n in range(1, WRITES + 1) for mode in MODES]  # renumbered below
    template = new_demo("template")
    configure(template, servers.urls())
    servers.woo.tracking.installed = True
    for name in NAMES:
        assert run_cli("-w", template, "push", name).code == 0
        assert pull(template, name)[1][name]["status"] == "baseline"
    sets = place(servers, 1 + len(points))
    _, pulled = pull(template, *NAMES)  # every order of every set, committed
    assert all(pulled[name]["status"] == "ok" for name in NAMES), pulled

    reference = tmp_path / "reference"
    shutil.copytree(template, reference)
    record(reference, 0, sets[0])
    servers.clear_logs()
    done = send(reference)
    assert [p.shipments["sent"] for p in done] == [3, 2], [p.as_dict() for p in done]
    assert servers.requests("shop") + servers.requests("woo") == REQUESTS
    at = writes(servers)
    assert len(at) == WRITES, at
    points = [(at[n - 1], mode) for n, mode in points]
    expected = outcome(reference, servers, 0, sets[0])
    assert expected["shop"]["whole"][0][:2] == (
        [("MAP-CASE", 1), ("MUG-ENAMEL", 2)],
        [{"company": "UPS", "number": "1ZWHOLE###", "url": "https://ups.example/1ZWHOLE###"}],
    )
    assert [f[:2] for f in expected["shop"]["split"]] == [
        ([("LANTERN-LED", 1)], [{"company": "DHL Express", "number": "JDSPLIT###", "url": None}]),
        ([("LANTERN-LED", 2)], []),
    ]
    assert [w["tracking"][0][:2] for w in expected["woo"].values()] == [
        ("royal-mail", "RM###GB"), ("ups", "1ZWOO###"),
    ]  # fmt: skip
    assert [w["status"] for w in expected["woo"].values()] == ["completed", "completed"]
    assert {row[3] for row in expected["shipments"]} == {"sent"} and ids_match(expected)
    assert len(expected["shipments"]) == 5
    ships = [m for m in expected["moves"] if m[3] == "ship"]
    assert sum(m[5] for m in ships) == -(2 + 1 + 3 + 1 + 2)  # each unit off the shelf once

    killed_where = []
    for k, (n, mode) in enumerate(points, start=1):
        ws = tmp_path / f"killed-{n}-{mode}"
        shutil.copytree(template, ws)
        record(ws, k, sets[k])
        killed_where.append(killed_push(ws, servers, n, mode))
        configure(ws, servers.urls())  # the rerun: straight to the servers
        rerun = send(ws)
        assert all(p.exit_code == 0 for p in rerun), (n, mode, [p.as_dict() for p in rerun])
        found = outcome(ws, servers, k, sets[k])
        assert comparable(found) == comparable(expected), (n, mode)
        assert ids_match(found), (n, mode, found["shipments"])
        again = send(ws)
        assert [p.shipments["sent"] for p in again] == [0, 0], (n, mode)
        assert outcome(ws, servers, k, sets[k]) == found, (n, mode)
    assert killed_where.count("ahead") == WRITES
    assert sum("graphql" in w for w in killed_where) == 3 * 2  # each create: lost, after
    assert sum("POST" in w and "shipment-trackings" in w for w in killed_where) == 2 * 2
    assert sum(w.startswith("PUT") for w in killed_where) == 2 * 2
    assert servers.violations() == {"shop": [], "woo": [], "pos": []}


# which answer a `sync` run loses: (channel, the i-th answer of that kind)
LOST_IN_SYNC = {
    "Shopify's fulfillment with tracking": ("shop", lambda e: b"fulfillmentCreate" in
                                            e.upstream_body, 1),
    "Shopify's fulfillment without tracking": ("shop", lambda e: b"fulfillmentCreate" in
                                               e.upstream_body, 3),
    "WooCommerce's tracking item": ("woo", lambda e: e.method == "POST" and
                                    "shipment-trackings" in e.path, 1),
    "WooCommerce's order update": ("woo", lambda e: e.method == "PUT", 2),
}  # fmt: skip


def fresh(servers: Servers, new_demo: Any) -> tuple[Path, dict[str, Any]]:
    """Empty servers, a workspace listed on both and baselined, one set of orders pulled and
    its parcels recorded."""
    servers.reset()
    servers.woo.tracking.installed = True
    ws = new_demo("sync")
    configure(ws, servers.urls())
    for name in NAMES:
        assert run_cli("-w", ws, "push", name).code == 0
        assert pull(ws, name)[1][name]["status"] == "baseline"
    [orders] = place(servers, 1)
    assert pull(ws, *NAMES)[0] == 0
    record(ws, 0, orders)
    return ws, orders


def killed_sync(ws: Path, servers: Servers, channel: str, match: Any, nth: int) -> None:
    """``multichan sync shop woo`` as a process, SIGKILLed when ``channel`` applied the
    ``nth`` request ``match`` picks, before its answer reaches the process."""
    victim: dict[str, subprocess.Popen[bytes]] = {}
    seen = {"n": 0}

    def on_applied(_: int, entry: Any) -> bool:
        if not match(entry):
            return False
        seen["n"] += 1
        if seen["n"] != nth:
            return False
        victim["proc"].send_signal(signal.SIGKILL)
        victim["proc"].wait(timeout=30)
        return True

    with contextlib.ExitStack() as stack:
        proxies = {name: stack.enter_context(serve_proxy(servers.get(name).url)) for name in NAMES}
        configure(ws, {**servers.urls(), **{k: v.url for k, v in proxies.items()}})
        proxies[channel].on_applied = on_applied
        env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
        victim["proc"] = subprocess.Popen(
            [sys.executable, "-m", "multichan", "-w", str(ws), "sync", *NAMES],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
        )  # fmt: skip
        _, err = victim["proc"].communicate(timeout=120)
        assert victim["proc"].returncode == -signal.SIGKILL, err.decode()
    configure(ws, servers.urls())


def test_a_sync_killed_on_a_lost_answer_recognises_its_parcel_in_the_next_pull(
    servers: Servers, new_demo: Any
) -> None:
    """`multichan sync` killed right after a channel made a parcel, before the answer: the
    rerun's pull sees that parcel on the channel before the send does, and recognises it as
    multichan's (by tracking, or by its units when it had none), so the send that follows
    finds it made: one parcel, one row, stock taken once."""
    ws, orders = fresh(servers, new_demo)
    done = sync_all(resolve(ws), NAMES, pacing=FakeTime().pacing())
    assert done.exit_code == 0, done.as_dict()
    expected = comparable(outcome(ws, servers, 0, orders))
    assert len(expected["shipments"]) == 5
    assert {row[2:4] for row in expected["shipments"]} == {("multichan", "sent")}
    for what, (channel, match, nth) in LOST_IN_SYNC.items():
        ws, orders = fresh(servers, new_demo)
        killed_sync(ws, servers, channel, match, nth)
        rerun = sync_all(resolve(ws), NAMES, pacing=FakeTime().pacing())
        assert rerun.exit_code == 0, (what, rerun.as_dict())
        found = outcome(ws, servers, 0, orders)
        assert comparable(found) == expected, what
        assert ids_match(found), (what, found["shipments"])
        again = sync_all(resolve(ws), NAMES, pacing=FakeTime().pacing())
        assert [p.moves for p in again.pulls] == [0, 0], what
        assert [p.shipments["sent"] for p in again.pushes] == [0, 0], what
    assert servers.violations() == {"shop": [], "woo": [], "pos": []}
