"""Bundles end to end through the CLI, against the three contract-checked servers (Shopify's
schema-checked shop, the strict WooCommerce shop, the Square double checked by Prism): a
bundle imported with a `components` column is listed on every channel with the whole sets its
components make; selling the bundle commits its components and lowers the components and the
bundle on every channel in one sync; selling a component lowers the bundle; `stock adjust` of
a component re-plans the bundle in an incremental push; shipping takes the components off the
shelf once; a new definition moves an open order's committed units; and a sync killed with
SIGKILL anywhere converges to the stock and quantities of a run nobody killed."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.e2e.conftest import SQUARE_LOCATION, Servers, write_channels
from tests.e2e.test_pull_shopify import level
from tests.e2e.test_pull_square import variation
from tests.e2e.test_sync_kills import killed_sync, sync_fast

NAMES = ["shop", "woo", "pos"]
KIT = "CAMP-SET"
MUG, BOTTLE = "MUG-ENAMEL", "BOTTLE-STEEL-750"
# the demo has MUG-ENAMEL at store 12 / warehouse 40, BOTTLE-STEEL-750 at store 8 / warehouse 55
BUNDLE_CSV = f"""\
sku,title,description,price,components
{KIT},Camp set: 2 mugs and a bottle,<p>Two enamel mugs and a steel bottle.</p>,49.00,\
"{MUG}:2,{BOTTLE}:1"
"""


def sync(ws: Path) -> tuple[int, dict[str, Any]]:
    result = run_cli("-w", ws, "sync", "--json")
    return result.code, json.loads(result.stdout)


def remote(servers: Servers, sku: str) -> dict[str, int]:
    return {
        "shop": servers.state("shop")["skus"][sku]["available"],
        "woo": servers.state("woo")["skus"][sku]["stock_quantity"],
        "pos": int(servers.state("pos")["skus"][sku]["count"] or 0),
    }


def with_bundle(ws: Path) -> Path:
    path = ws / "bundle.csv"
    path.write_text(BUNDLE_CSV, encoding="utf-8")
    result = run_cli("-w", ws, "import", "csv", path)
    assert result.code == 0, result.output
    return ws


def ready(servers: Servers, new_demo: Any) -> Path:
    """A demo workspace with the bundle, every channel listed and baselined."""
    ws = with_bundle(new_demo())
    write_channels(ws, servers.urls())
    result = run_cli("-w", ws, "sync")
    assert result.code == 0, result.output
    # every channel: store min(12 // 2, 8) + warehouse min(40 // 2, 55); Square counts the store
    assert remote(servers, KIT) == {"shop": 26, "woo": 26, "pos": 6}
    return ws


def moves(ws: Path, sku: str) -> list[tuple[str, str, int, int, str]]:
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        return db.execute(
            "SELECT channel, reason, on_hand_change, committed_change, note FROM stock_moves"
            " WHERE sku = ? AND channel IS NOT NULL ORDER BY id",
            [sku],
        ).fetchall()


def test_selling_a_bundle_commits_its_components_and_every_channel_follows(
    servers: Servers, new_demo: Any
) -> None:
    ws = ready(servers, new_demo)
    order = servers.shop.shop.orders.add([(KIT, 3)])  # paid, not shipped
    code, body = sync(ws)
    assert code == 0, body
    assert level(ws, MUG) == (40, 6, 34) and level(ws, BOTTLE) == (55, 3, 52)
    assert level(ws, MUG, "store") == (12, 0, 12)
    # the ledger says which bundle took the units
    [(channel, reason, on_hand, committed, note)] = moves(ws, MUG)
    assert (channel, reason, on_hand, committed) == ("shop", "order", 0, 6)
    assert note.endswith("bundle CAMP-SET x2") and "#1001" in note
    # one sync: the components and the bundle lowered on every channel
    assert remote(servers, MUG) == {"shop": 46, "woo": 46, "pos": 12}
    assert remote(servers, BOTTLE) == {"shop": 60, "woo": 60, "pos": 8}
    assert remote(servers, KIT) == {"shop": 23, "woo": 23, "pos": 6}  # 6 + min(34 // 2, 52)

    # a component sold on its own lowers the bundle
    servers.woo.orders.add([(MUG, 30)], status="processing")
    code, body = sync(ws)
    assert code == 0, body
    assert level(ws, MUG) == (40, 36, 4)
    assert remote(servers, KIT) == {"shop": 8, "woo": 8, "pos": 6}  # 6 + min(4 // 2, 52)
    assert remote(servers, MUG) == {"shop": 16, "woo": 16, "pos": 12}

    # seen again: nothing moves twice
    code, body = sync(ws)
    assert code == 0 and [p["moves"] for p in body["pulled"]] == [0, 0, 0]
    assert level(ws, MUG) == (40, 36, 4) and level(ws, BOTTLE) == (55, 3, 52)

    # shipped by multichan: the components leave the shelf once; the channel's own report of
    # the fulfilment later moves nothing more
    result = run_cli("-w", ws, "ship", "shop", "#1001", "--carrier", "ups", "--tracking",
                     "1Z999AA10123456784")  # fmt: skip
    assert result.code == 0, result.output
    assert level(ws, MUG) == (34, 30, 4) and level(ws, BOTTLE) == (52, 0, 52)
    assert [m[1] for m in moves(ws, BOTTLE)] == ["order", "ship"]
    servers.shop.shop.orders.fulfill(order)
    code, body = sync(ws)
    assert code == 0, body
    assert level(ws, MUG) == (34, 30, 4) and level(ws, BOTTLE) == (52, 0, 52)
    assert remote(servers, KIT) == {"shop": 8, "woo": 8, "pos": 6}
    assert servers.violations() == {"shop": [], "woo": [], "pos": []}


def test_a_component_stock_change_replans_the_bundle_in_an_incremental_push(
    servers: Servers, new_demo: Any
) -> None:
    ws = ready(servers, new_demo)
    result = run_cli("-w", ws, "stock", "adjust", BOTTLE, "-7", "--location", "store")
    assert result.code == 0, result.output
    result = run_cli("-w", ws, "push", "pos", "--json")
    assert result.code == 0, result.output
    [pushed] = json.loads(result.stdout)["channels"]
    plan = pushed["plan"]
    assert plan["totals"]["looked_at"] == 2  # incremental: the component and its bundle only
    changed = {(c["sku"], c["kind"]): c["fields"] for c in plan["changes"]}
    assert changed == {
        (BOTTLE, "quantities"): [{"field": "quantity", "old": 8, "new": 1}],
        (KIT, "quantities"): [{"field": "quantity", "old": 6, "new": 1}],  # min(12 // 2, 1)
    }
    assert remote(servers, KIT)["pos"] == 1 and remote(servers, BOTTLE)["pos"] == 1
    assert servers.violations() == {"shop": [], "woo": [], "pos": []}


def test_a_new_definition_moves_what_an_open_order_holds(servers: Servers, new_demo: Any) -> None:
    ws = ready(servers, new_demo)
    servers.shop.shop.orders.add([(KIT, 2)])
    assert sync(ws)[0] == 0
    assert level(ws, MUG)[1] == 4 and level(ws, BOTTLE)[1] == 2
    result = run_cli("-w", ws, "bundle", "set", KIT, f"{MUG}:1", "SEAT-PAD:1")
    assert result.code == 0, result.output
    assert "CAMP-SET: MUG-ENAMEL x1, SEAT-PAD x1 (was: BOTTLE-STEEL-750 x1, MUG-ENAMEL x2)" in (
        result.stdout
    )
    # the order now holds 1 mug and 1 seat pad per set: the bottles are released
    assert level(ws, MUG)[1] == 2 and level(ws, BOTTLE)[1] == 0 and level(ws, "SEAT-PAD")[1] == 2
    assert moves(ws, BOTTLE)[-1][1:4] == ("cancel", 0, -2)
    code, body = sync(ws)
    assert code == 0 and [p["moves"] for p in body["pulled"]] == [0, 0, 0]
    assert level(ws, MUG)[1] == 2 and level(ws, "SEAT-PAD")[1] == 2
    # store min(12, 30) + warehouse min(38, 88), on Shopify and WooCommerce; the store on Square
    assert remote(servers, KIT) == {"shop": 50, "woo": 50, "pos": 12}
    # no bundle any more: the order's units are the set's own again
    assert run_cli("-w", ws, "bundle", "remove", KIT).code == 0
    assert level(ws, MUG)[1] == 0 and level(ws, "SEAT-PAD")[1] == 0 and level(ws, KIT)[1] == 2


# --- killed anywhere ------------------------------------------------------------------------------
SKUS = [KIT, MUG, BOTTLE, "MAP-CASE"]


def outcome(ws: Path, servers: Servers) -> dict[str, Any]:
    """Stock levels, applied state per order line, moves per line and SKU, and what the
    channels show of the bundle and its components."""
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
            "SELECT channel, order_id, line_id, sku, SUM(on_hand_change), SUM(committed_change)"
            " FROM stock_moves WHERE channel IS NOT NULL GROUP BY channel, order_id, line_id, sku"
            " ORDER BY channel, order_id, line_id, sku"
        ).fetchall()
    return {"stock": stock, "lines": lines, "moved": moved,
            "remote": {sku: remote(servers, sku) for sku in SKUS}}  # fmt: skip


@pytest.mark.slow
def test_a_sync_killed_anywhere_applies_bundle_orders_exactly_once(
    servers: Servers, new_demo: Any, tmp_path: Path
) -> None:
    template = ready(servers, new_demo)
    shop, woo, pos = servers.shop.shop.orders, servers.woo.orders, servers.pos.orders
    first = shop.add([(KIT, 2), ("MAP-CASE", 1)])
    shop.add([(KIT, 1)])
    shop.fulfill(first)
    woo.add([(KIT, 1), (MUG, 3)], status="processing")
    pos.add(SQUARE_LOCATION, [(variation(template, KIT), "1")], state="COMPLETED")

    reference = tmp_path / "reference"
    shutil.copytree(template, reference)
    servers.clear_logs()
    done = sync_fast(reference)
    assert done.exit_code == 0, done.as_dict()
    expected = outcome(reference, servers)
    requests = sum(servers.requests(name) for name in NAMES)
    # 2 + 1 sets shipped or held on Shopify, 1 on WooCommerce (warehouse), 1 sold in the store
    assert ("MUG-ENAMEL", "warehouse", 40 - 4, 2 + 2 + 3) in expected["stock"]
    assert ("MUG-ENAMEL", "store", 12 - 2, 0) in expected["stock"]
    # store min(10 // 2, 7); warehouse min((36 - 7) // 2, 53 - 2)
    assert expected["remote"][KIT] == {"shop": 5 + 14, "woo": 5 + 14, "pos": 5}

    killed_where: list[str] = []
    for n in range(1, requests + 1):
        for mode in ("before", "during"):
            ws = tmp_path / f"killed-{n}-{mode}"
            shutil.copytree(template, ws)
            killed_where.append(killed_sync(ws, servers, n, mode))
            write_channels(ws, servers.urls())  # the rerun: straight to the servers
            rerun = sync_fast(ws)
            assert rerun.exit_code == 0, (n, mode, rerun.as_dict())
            assert outcome(ws, servers) == expected, (n, mode)
            again = sync_fast(ws)
            assert [p.moves for p in again.pulls] == [0] * len(NAMES), (n, mode)
    # killed while reading each channel's orders (and writing them), and while pushing
    assert any("graphql" in p for p in killed_where) and any("orders" in p for p in killed_where)
    assert any("orders/search" in p for p in killed_where)
    assert servers.violations() == {"shop": [], "woo": [], "pos": []}
