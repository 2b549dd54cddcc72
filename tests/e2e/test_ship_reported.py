"""Parcels a channel reports itself (shipped outside multichan: in Shopify's admin, a tracking
item typed into WooCommerce's Shipment Tracking box, an order marked shipped on Square's
Dashboard) are pulled, never sent back: the pull records each once as a shipment of source
``channel`` with the channel's id, carrier, tracking and (where the channel says) units per
line; a re-pull updates it, never adds a second; it moves no stock twice; `multichan ship` for
units the channel already shipped says there is nothing left to ship and sends nothing; and a
parcel multichan sent itself, seen again in a pull, is recognised as its own. Against the
schema-checked Shopify endpoint, the WooCommerce shop with the extension, and the Square
double checked by Prism.

Sellers' failures covered (ORDERS-NOTES §4): 3/4 (the same parcel seen again, a replayed page:
one row), 11 (multichan's own parcel coming back from the channel is not re-imported), 12 (a
parcel already on the channel is not pushed again), 13 (tracking given later on the channel
reaches the catalog)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

from multichan.sync.run import push_all
from multichan.workspace import resolve
from tests.conftest import run_cli
from tests.e2e.conftest import SQUARE_LOCATION, Servers
from tests.e2e.test_pull_shopify import cli_json, level, pull, shop_ready
from tests.e2e.test_pull_square import pos_ready, variation
from tests.e2e.test_ship_square import online
from tests.e2e.test_ship_woocommerce import woo_ready


def parcels(ws: Path, channel: str, order: str) -> list[dict[str, Any]]:
    """The order's shipments as `orders show --json` reports them."""
    code, found = cli_json(ws, "orders", "show", channel, order)
    assert code == 0
    return list(found["shipments"])


def units(parcel: dict[str, Any]) -> dict[str, int]:
    return {x["sku"]: x["quantity"] for x in parcel["lines"]}


def sync(ws: Path, name: str) -> dict[str, Any]:
    code, body = cli_json(ws, "sync", name)
    assert code == 0, body
    [pushed] = body["pushed"]
    return dict(pushed)


# --- Shopify -------------------------------------------------------------------------------------
def test_a_parcel_shopify_shipped_itself_is_pulled_once_and_never_sent(
    servers: Servers, new_demo: Any
) -> None:
    ws = shop_ready(servers, new_demo)
    orders = servers.shop.shop.orders
    order = orders.add([("MUG-ENAMEL", 2), ("MAP-CASE", 1)])
    pull(ws, "shop")
    assert level(ws, "MUG-ENAMEL") == (40, 2, 38)
    fid = orders.fulfill(order, tracking={"company": "UPS", "number": "1Z999AA1",
                                          "url": "https://ups.example/1Z999AA1"})  # fmt: skip
    code, got = pull(ws, "shop")
    assert code == 0 and got["shop"]["moves"] == 2  # each line ships once
    assert level(ws, "MUG-ENAMEL") == (38, 0, 38)
    [parcel] = parcels(ws, "shop", "#1001")
    assert {k: parcel[k] for k in ("source", "status", "carrier", "tracking_number",
                                   "tracking_url", "remote_id")} == {
        "source": "channel", "status": "sent", "carrier": "UPS", "tracking_number": "1Z999AA1",
        "tracking_url": "https://ups.example/1Z999AA1", "remote_id": fid,
    }  # fmt: skip
    assert units(parcel) == {"MUG-ENAMEL": 2, "MAP-CASE": 1}
    # seen again, and every page read again from before the order (a replayed page)
    for args in ((), ("--since", "2020-01-01T00:00:00Z")):
        code, again = cli_json(ws, "pull", "shop", *args)
        assert code == 0 and again["channels"][0]["moves"] == 0
        assert parcels(ws, "shop", "#1001") == [parcel]
    assert level(ws, "MUG-ENAMEL") == (38, 0, 38)
    # the seller ships it in multichan too: nothing left, nothing recorded, nothing sent
    code, done = cli_json(ws, "ship", "shop", "#1001")
    assert (code, done["status"], done["remote_id"]) == (0, "channel", fid), done
    said = run_cli("-w", ws, "ship", "shop", "#1001", "--carrier", "UPS", "--tracking",
                   "1Z999 aa1")  # fmt: skip
    assert said.code == 0 and "nothing left to ship: shop reports order #1001 shipped" in (
        said.stdout
    ), said.output
    assert "UPS 1Z999AA1" in said.stdout
    shop = sync(ws, "shop")
    assert shop["shipments"]["sent"] == 0 and shop["shipments"]["rejected"] == []
    assert servers.shop.calls("fulfillmentCreate") == []
    assert servers.shop.calls("fulfillmentTrackingInfoUpdate") == []
    assert len(orders.get(order).fulfillments) == 1
    assert parcels(ws, "shop", "#1001") == [parcel]
    code, status = cli_json(ws, "status", "shop")
    assert code == 0 and status["channels"][0]["shipments"] == []  # nothing waiting to send
    shown = run_cli("-w", ws, "orders", "show", "shop", "#1001")
    assert shown.code == 0 and "1Z999AA1" in shown.stdout and "Shipments" in shown.stdout
    assert servers.violations()["shop"] == []


def test_tracking_given_later_on_shopify_updates_the_pulled_parcel(
    servers: Servers, new_demo: Any
) -> None:
    ws = shop_ready(servers, new_demo)
    orders = servers.shop.shop.orders
    order = orders.add([("LANTERN-LED", 1)])
    pull(ws, "shop")
    fid = orders.fulfill(order)  # packed and sent, the label comes later
    pull(ws, "shop")
    [parcel] = parcels(ws, "shop", "#1001")
    assert (parcel["remote_id"], parcel["tracking_number"]) == (fid, None)
    orders.track(fid, {"company": "DHL Express", "number": "JD0142", "url": None})
    code, got = pull(ws, "shop")
    assert code == 0 and got["shop"]["moves"] == 0
    [later] = parcels(ws, "shop", "#1001")
    assert (later["carrier"], later["tracking_number"], later["remote_id"]) == (
        "DHL Express", "JD0142", fid,
    )  # fmt: skip
    assert units(later) == {"LANTERN-LED": 1}
    assert sync(ws, "shop")["shipments"]["sent"] == 0
    assert servers.shop.calls("fulfillmentTrackingInfoUpdate") == []  # never sent back


def test_part_shipped_on_shopify_leaves_only_the_rest_to_ship(
    servers: Servers, new_demo: Any
) -> None:
    ws = shop_ready(servers, new_demo)
    orders = servers.shop.shop.orders
    order = orders.add([("MUG-ENAMEL", 3)])
    pull(ws, "shop")
    orders.fulfill(order, {"MUG-ENAMEL": 1}, tracking={"company": "UPS", "number": "1ZA"})
    pull(ws, "shop")
    assert level(ws, "MUG-ENAMEL") == (39, 2, 37)
    too_many = run_cli("-w", ws, "ship", "shop", "#1001", "--line", "MUG-ENAMEL:3")
    assert too_many.code == 2
    assert "cannot ship 3 of MUG-ENAMEL; 2 left to ship" in too_many.stderr
    assert "shop reports 1 parcel(s) shipped itself: UPS 1ZA" in too_many.stderr
    code, rest = cli_json(ws, "ship", "shop", "#1001", "--carrier", "UPS", "--tracking", "1ZB")
    assert code == 0 and rest["status"] == "recorded" and units(rest) == {"MUG-ENAMEL": 2}
    assert level(ws, "MUG-ENAMEL") == (37, 0, 37)
    assert sync(ws, "shop")["shipments"]["sent"] == 1
    sync(ws, "shop")  # pulled back: multichan's own parcel is not recorded a second time
    shipped = sorted(parcels(ws, "shop", "#1001"), key=lambda p: str(p["tracking_number"]))
    assert [(p["source"], p["tracking_number"], units(p)) for p in shipped] == [
        ("channel", "1ZA", {"MUG-ENAMEL": 1}), ("multichan", "1ZB", {"MUG-ENAMEL": 2}),
    ]  # fmt: skip
    on_shopify = [f.id for f in orders.get(order).fulfillments]
    assert [p["remote_id"] for p in shipped] == on_shopify
    assert all(p["status"] == "sent" for p in shipped)
    assert level(ws, "MUG-ENAMEL") == (37, 0, 37)


class _LostAnswer(requests.Session):
    """Shopify makes the fulfillment, and its answer never arrives."""

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        answer = super().request(method, url, *args, **kwargs)
        if "MultichanFulfilmentCreate" in json.dumps(kwargs.get("json") or {}):
            raise requests.ConnectionError("connection reset by peer")
        return answer


def test_a_lost_answer_pulled_before_the_rerun_is_one_parcel_of_multichan(
    servers: Servers, new_demo: Any
) -> None:
    """A parcel without tracking whose answer was lost: the next sync's pull sees it on
    Shopify before multichan knows its id (recorded as the channel's for the moment); the send
    that follows finds it there, takes its id, and the two rows are one again."""
    ws = shop_ready(servers, new_demo)
    orders = servers.shop.shop.orders
    order = orders.add([("MAP-CASE", 2)])
    pull(ws, "shop")
    on_hand, _, available = level(ws, "MAP-CASE")
    assert cli_json(ws, "ship", "shop", "#1001")[1]["status"] == "recorded"
    [lost] = push_all(resolve(ws), ["shop"], only="shipments", session=_LostAnswer())
    assert lost.shipments and lost.shipments["failed"]
    [made] = orders.get(order).fulfillments
    assert sync(ws, "shop")["shipments"]["sent"] == 1  # pull, then the send finds it made
    [parcel] = parcels(ws, "shop", "#1001")
    assert (parcel["source"], parcel["status"], parcel["remote_id"]) == (
        "multichan", "sent", made.id,
    )  # fmt: skip
    assert len(orders.get(order).fulfillments) == 1
    assert servers.shop.calls("fulfillmentCreate")  # made once, by the lost send
    assert len(servers.shop.calls("fulfillmentCreate")) == 1
    assert level(ws, "MAP-CASE") == (on_hand - 2, 0, available)  # taken once
    assert sync(ws, "shop")["shipments"]["sent"] == 0
    assert parcels(ws, "shop", "#1001") == [parcel]


# --- WooCommerce ---------------------------------------------------------------------------------
def test_a_tracking_item_the_seller_added_on_woocommerce_is_pulled_not_sent(
    servers: Servers, new_demo: Any
) -> None:
    ws = woo_ready(servers, new_demo, extension=True)
    orders, tracking = servers.woo.orders, servers.woo.tracking
    order = orders.add([("MUG-ENAMEL", 2)])
    pull(ws, "woo")
    assert level(ws, "MUG-ENAMEL") == (40, 2, 38)
    item = tracking.create(
        order,
        {
            "tracking_provider": "Royal Mail",
            "tracking_number": "RM1234GB",
            "date_shipped": "2026-12-01",
        },
    )
    orders.set_status(order, "completed")  # fmt: skip
    code, got = pull(ws, "woo")
    assert code == 0 and got["woo"]["moves"] == 1
    assert level(ws, "MUG-ENAMEL") == (38, 0, 38)
    [parcel] = parcels(ws, "woo", f"#{order}")
    assert {k: parcel[k] for k in ("source", "status", "carrier", "tracking_number",
                                   "remote_id", "shipped_at")} == {
        "source": "channel", "status": "sent", "carrier": "Royal Mail",
        "tracking_number": "RM1234GB", "remote_id": item["tracking_id"],
        "shipped_at": "2026-12-01T00:00:00.000Z",
    }  # fmt: skip
    assert parcel["tracking_url"] and "RM1234GB" in parcel["tracking_url"]
    assert parcel["lines"] == []  # the extension says no units per line
    pull(ws, "woo")
    assert parcels(ws, "woo", f"#{order}") == [parcel]
    code, done = cli_json(ws, "ship", "woo", f"#{order}", "--tracking", "RM1234GB")
    assert (code, done["status"]) == (0, "channel")
    code, done = cli_json(ws, "ship", "woo", f"#{order}")
    assert (code, done["status"]) == (0, "channel")
    assert sync(ws, "woo")["shipments"]["sent"] == 0
    assert len(tracking.items[order]) == 1 and orders.customer_notes(order) == []
    assert level(ws, "MUG-ENAMEL") == (38, 0, 38)
    # multichan's own tracking item, pulled back: recognised, not a second parcel
    mine = orders.add([("MAP-CASE", 1)])
    pull(ws, "woo")
    cli_json(ws, "ship", "woo", f"#{mine}", "--carrier", "ups", "--tracking", "1Z77")
    assert sync(ws, "woo")["shipments"]["sent"] == 1
    sync(ws, "woo")
    [own] = parcels(ws, "woo", f"#{mine}")
    assert (own["source"], own["status"], own["remote_id"]) == (
        "multichan", "sent", tracking.items[mine][0]["tracking_id"],
    )  # fmt: skip
    assert servers.violations()["woo"] == []


def test_without_the_extension_setting_no_parcels_are_read(servers: Servers, new_demo: Any) -> None:
    ws = woo_ready(servers, new_demo)  # shipment_tracking not set
    servers.woo.tracking.installed = True
    order = servers.woo.orders.add([("MUG-ENAMEL", 1)])
    pull(ws, "woo")
    servers.woo.tracking.create(order, {"tracking_provider": "UPS", "tracking_number": "1Z5"})
    servers.woo.orders.set_status(order, "completed")
    servers.woo.log.clear()
    assert pull(ws, "woo")[0] == 0
    assert parcels(ws, "woo", f"#{order}") == []
    assert not any("shipment-trackings" in r.path for r in servers.woo.log)
    assert level(ws, "MUG-ENAMEL") == (39, 0, 39)  # the order's units left all the same
    refused = run_cli("-w", ws, "ship", "woo", f"#{order}")  # no parcel known: says why
    assert refused.code == 2, refused.output
    assert "has no units left to ship (woo reports 1 unit(s) of it shipped)" in refused.stderr
    assert sync(ws, "woo")["shipments"]["sent"] == 0
    assert servers.woo.orders.customer_notes(order) == []


# --- Square --------------------------------------------------------------------------------------
def test_an_order_marked_shipped_on_square_is_pulled_once_and_not_sent(
    servers: Servers, new_demo: Any
) -> None:
    ws = pos_ready(servers, new_demo)
    mug = variation(ws, "MUG-ENAMEL")
    order = online(servers, [(mug, "2")])
    pull(ws, "pos")
    assert level(ws, "MUG-ENAMEL", "store") == (12, 2, 10)
    shown = servers.pos.orders.get(order)
    [waiting] = shown["fulfillments"]
    status, _ = servers.pos.orders.update(order, {  # the seller, on Square's Dashboard
        "idempotency_key": "dashboard-1",
        "order": {"location_id": SQUARE_LOCATION, "version": shown["version"], "fulfillments": [
            {"uid": waiting["uid"], "state": "COMPLETED",
             "shipment_details": {"carrier": "USPS", "tracking_number": "9400111"}}]},
    })  # fmt: skip
    assert status == 200
    code, got = pull(ws, "pos")
    assert code == 0 and got["pos"]["moves"] == 1
    assert level(ws, "MUG-ENAMEL", "store") == (10, 0, 10)
    [parcel] = parcels(ws, "pos", order)
    assert {k: parcel[k] for k in ("source", "status", "carrier", "tracking_number",
                                   "remote_id")} == {
        "source": "channel", "status": "sent", "carrier": "USPS", "tracking_number": "9400111",
        "remote_id": waiting["uid"],
    }  # fmt: skip
    assert units(parcel) == {"MUG-ENAMEL": 2}
    pull(ws, "pos")
    assert parcels(ws, "pos", order) == [parcel]
    code, done = cli_json(ws, "ship", "pos", order, "--carrier", "USPS", "--tracking", "9400111")
    assert (code, done["status"]) == (0, "channel")
    assert sync(ws, "pos")["shipments"]["sent"] == 0
    assert servers.pos.calls("PUT", f"/v2/orders/{order}") == []
    assert level(ws, "MUG-ENAMEL", "store") == (10, 0, 10)
    assert servers.violations()["pos"] == []
