"""Shipments to Shopify through the CLI, against the schema-checking test shop: `multichan ship`
takes the units off the shelf at once, `sync` sends each parcel once as a fulfillmentCreate
with tracking, tracking given later updates it, a send whose answer was lost is not made
twice, and a parcel Shopify refuses stays visible with Shopify's message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

from multichan.sync.run import push_all
from multichan.workspace import resolve
from tests.conftest import run_cli
from tests.e2e.conftest import Servers
from tests.e2e.test_pull_shopify import cli_json, level, pull, shop_ready


def fulfillments(servers: Servers, order_id: str) -> list[tuple[dict[str, int], list[Any]]]:
    """Each fulfillment of the order on Shopify: units per SKU, and its tracking info."""
    order = servers.shop.shop.orders.get(order_id)
    return [({line.sku: units for _, line, units in f.lines}, f.tracking)
            for f in order.fulfillments]  # fmt: skip


def sync(ws: Path) -> tuple[int, dict[str, Any]]:
    code, body = cli_json(ws, "sync", "shop")
    [shop] = body["pushed"]
    return code, shop


def test_a_shipment_leaves_stock_at_once_and_reaches_shopify_once(
    servers: Servers, new_demo: Any
) -> None:
    ws = shop_ready(servers, new_demo)
    orders = servers.shop.shop.orders
    order = orders.add([("MUG-ENAMEL", 2), ("MAP-CASE", 1)])
    assert pull(ws, "shop")[0] == 0
    assert level(ws, "MUG-ENAMEL") == (40, 2, 38)
    code, done = cli_json(ws, "ship", "shop", "#1001", "--carrier", "ups", "--tracking",
                          "1Z999AA10123456784", "--url", "https://ups.example/1Z999")  # fmt: skip
    assert code == 0 and done["status"] == "recorded", done
    assert {x["sku"]: x["quantity"] for x in done["lines"]} == {"MUG-ENAMEL": 2, "MAP-CASE": 1}
    assert level(ws, "MUG-ENAMEL") == (38, 0, 38)  # off the shelf before Shopify knows
    assert fulfillments(servers, order) == []
    code, shop = sync(ws)
    assert code == 0 and shop["shipments"]["sent"] == 1, shop
    [(units, tracking)] = fulfillments(servers, order)
    assert units == {"MUG-ENAMEL": 2, "MAP-CASE": 1}
    assert tracking == [{"company": "UPS", "number": "1Z999AA10123456784",
                         "url": "https://ups.example/1Z999"}]  # fmt: skip
    code, shop = sync(ws)  # Shopify now says shipped: nothing moves, nothing is sent again
    assert code == 0 and shop["shipments"]["sent"] == 0
    assert level(ws, "MUG-ENAMEL") == (38, 0, 38)
    assert len(fulfillments(servers, order)) == 1
    again = run_cli("-w", ws, "ship", "shop", "#1001", "--tracking", "1Z999AA10123456784")
    assert again.code == 0 and "already recorded" in again.stdout  # the same parcel
    moves = json.loads(run_cli("-w", ws, "orders", "show", "shop", "#1001", "--json").stdout)
    assert sorted((m["sku"], m["reason"]) for m in moves["moves"]) == [
        ("MAP-CASE", "order"), ("MAP-CASE", "ship"), ("MUG-ENAMEL", "order"),
        ("MUG-ENAMEL", "ship"),
    ]  # fmt: skip
    assert servers.violations()["shop"] == []


def test_part_of_an_order_then_tracking_given_later(servers: Servers, new_demo: Any) -> None:
    ws = shop_ready(servers, new_demo)
    order = servers.shop.shop.orders.add([("MUG-ENAMEL", 3)])
    pull(ws, "shop")
    code, done = cli_json(ws, "ship", "shop", "1001", "--line", "MUG-ENAMEL:1")
    assert code == 0 and done["tracking_number"] is None
    assert level(ws, "MUG-ENAMEL") == (39, 2, 37)
    assert sync(ws)[1]["shipments"]["sent"] == 1
    assert fulfillments(servers, order) == [({"MUG-ENAMEL": 1}, [])]
    code, rest = cli_json(ws, "ship", "shop", "#1001", "--carrier", "DHL", "--tracking", "JD01")
    assert rest["status"] == "recorded"  # two units were still to ship: a second parcel
    sync(ws)
    shipped = fulfillments(servers, order)
    assert [units for units, _ in shipped] == [{"MUG-ENAMEL": 1}, {"MUG-ENAMEL": 2}]
    assert shipped[1][1] == [{"company": "DHL Express", "number": "JD01", "url": None}]
    assert level(ws, "MUG-ENAMEL") == (37, 0, 37)


def test_tracking_added_after_the_parcel_was_sent_updates_it(
    servers: Servers, new_demo: Any
) -> None:
    ws = shop_ready(servers, new_demo)
    order = servers.shop.shop.orders.add([("MAP-CASE", 1)])
    pull(ws, "shop")
    assert cli_json(ws, "ship", "shop", "#1001")[0] == 0  # shipped, tracking not at hand
    assert sync(ws)[1]["shipments"]["sent"] == 1
    code, late = cli_json(ws, "ship", "shop", "#1001", "--carrier", "royal mail",
                          "--tracking", "RM123GB")  # fmt: skip
    assert code == 0 and late["status"] == "tracking", late
    assert sync(ws)[1]["shipments"]["sent"] == 1
    [(_, tracking)] = fulfillments(servers, order)  # the same fulfillment, now tracked
    assert tracking == [{"company": "Royal Mail", "number": "RM123GB", "url": None}]
    assert sync(ws)[1]["shipments"]["sent"] == 0


class _LostAnswer(requests.Session):
    """Shopify makes the fulfillment, and its answer never arrives."""

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        answer = super().request(method, url, *args, **kwargs)
        if "MultichanFulfilmentCreate" in json.dumps(kwargs.get("json") or {}):
            raise requests.ConnectionError("connection reset by peer")
        return answer


def test_a_send_whose_answer_was_lost_is_not_made_twice(servers: Servers, new_demo: Any) -> None:
    ws = shop_ready(servers, new_demo)
    order = servers.shop.shop.orders.add([("MUG-ENAMEL", 1)])
    pull(ws, "shop")
    cli_json(ws, "ship", "shop", "#1001", "--tracking", "TRK-1")
    [lost] = push_all(resolve(ws), ["shop"], only="shipments", session=_LostAnswer())
    assert lost.exit_code != 0 and lost.shipments and lost.shipments["failed"]
    assert len(fulfillments(servers, order)) == 1  # Shopify did make it
    [again] = push_all(resolve(ws), ["shop"], only="shipments")
    assert again.exit_code == 0 and again.shipments == {
        "sent": 1, "rejected": [], "failed": [], "exit_code": 0,
    }  # fmt: skip
    assert len(fulfillments(servers, order)) == 1  # found by its tracking, not made again


def test_a_parcel_shopify_refuses_stays_visible_and_is_retried(
    servers: Servers, new_demo: Any
) -> None:
    ws = shop_ready(servers, new_demo)
    order = servers.shop.shop.orders.add([("MUG-ENAMEL", 1)])
    pull(ws, "shop")
    cli_json(ws, "ship", "shop", "#1001", "--tracking", "TRK-9")
    servers.shop.shop.orders.cancel(order)  # cancelled on Shopify before the sync sent it
    result = run_cli("-w", ws, "push", "shop", "--only", "shipments")
    assert result.code == 4
    assert "nothing left to fulfil" in result.stderr and "TRK-9" in result.stderr
    [shop] = json.loads(run_cli("-w", ws, "status", "shop", "--json").stdout)["channels"]
    [parcel] = shop["shipments"]
    assert (parcel["shipment"], parcel["status"], parcel["attempts"]) == ("TRK-9", "rejected", 1)
    assert "order #1001 has nothing left to fulfil" in parcel["last_error"]
    shown = run_cli("-w", ws, "status", "shop").stdout
    assert "rejected shipment TRK-9 of order #1001: Shopify: order #1001 has nothing" in shown
    assert run_cli("-w", ws, "push", "shop", "--only", "shipments").code == 4  # tried again
    [shop] = json.loads(run_cli("-w", ws, "status", "shop", "--json").stdout)["channels"]
    assert shop["shipments"][0]["attempts"] == 2


def test_import_shipments_records_each_parcel_once_and_names_bad_rows(
    servers: Servers, new_demo: Any, tmp_path: Path
) -> None:
    ws = shop_ready(servers, new_demo)
    orders = servers.shop.shop.orders
    first = orders.add([("MUG-ENAMEL", 2), ("MAP-CASE", 1)])
    second = orders.add([("LANTERN-LED", 1)])
    pull(ws, "shop")
    sheet = tmp_path / "shipped.csv"
    sheet.write_text(
        "channel,order,sku,quantity,carrier,tracking_number,tracking_url,shipped_at\n"
        "shop,#1001,MUG-ENAMEL,2,UPS,1ZA,,2026-12-01T10:00:00Z\n"
        "shop,#1001,MAP-CASE,1,UPS,1ZA,,2026-12-01T10:00:00Z\n"
        "shop,#1002,LANTERN-LED,1,,,,\n"
        "shop,#1003,LANTERN-LED,1,UPS,1ZC,,\n"
        "shop,#1002,MUG-ENAMEL,x,UPS,1ZD,,\n",
        encoding="utf-8",
    )
    result = run_cli("-w", ws, "import", "shipments", sheet, "--json")
    assert result.code == 4, result.output  # two rows named, the rest recorded
    body = json.loads(result.stdout)
    assert [(r["line"], r["order"]) for r in body["rejected"]] == [(6, "#1002"), (5, "#1003")]
    assert "quantity 'x'" in body["rejected"][0]["reason"]
    assert "no order '#1003'" in body["rejected"][1]["reason"]
    assert sorted(p["order"] for p in body["recorded"]) == ["#1001", "#1002"]
    assert level(ws, "MUG-ENAMEL") == (38, 0, 38) and level(ws, "LANTERN-LED")[1] == 0
    again = json.loads(run_cli("-w", ws, "import", "shipments", sheet, "--json").stdout)
    assert (again["recorded"], again["unchanged"]) == ([], 2)  # the same file: nothing twice
    assert sync(ws)[1]["shipments"]["sent"] == 2
    assert [u for u, _ in fulfillments(servers, first)] == [{"MUG-ENAMEL": 2, "MAP-CASE": 1}]
    assert [t for _, t in fulfillments(servers, second)] == [[]]
