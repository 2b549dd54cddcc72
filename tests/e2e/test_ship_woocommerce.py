"""Shipments to WooCommerce through the CLI, against the shop written from WooCommerce's REST
docs and the Shipment Tracking extension's: `multichan ship` takes the units off the shelf at
once, `sync` sends each parcel once (a customer note, or a tracking item where the extension
is configured) and completes the order only once every unit has left, tracking given later
reaches the buyer, a send whose answer was lost is not made twice, and a parcel the shop
refuses stays visible with the shop's message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from multichan.sync.run import push_all
from multichan.workspace import resolve
from tests.conftest import run_cli
from tests.e2e.conftest import Servers, write_channels
from tests.e2e.test_pull_shopify import cli_json, level, pull

UPS = "https://ups.example/1Z999"


def woo_ready(servers: Servers, new_demo: Any, extension: bool = False) -> Path:
    """A demo workspace pushed to the shop and pulled once; ``extension``: the shop has the
    Shipment Tracking extension and the channel is set to use it."""
    ws = new_demo()
    write_channels(ws, servers.urls())
    if extension:
        text = (ws / "channels.yaml").read_text(encoding="utf-8")
        text = text.replace(
            "    orders: {location: warehouse}\n  pos:",
            "      shipment_tracking: true\n    orders: {location: warehouse}\n  pos:",
        )
        (ws / "channels.yaml").write_text(text, encoding="utf-8")
        servers.woo.tracking.installed = True
    assert run_cli("-w", ws, "push", "woo").code == 0
    assert pull(ws, "woo")[0] == 0
    return ws


def sync(ws: Path) -> tuple[int, dict[str, Any]]:
    code, body = cli_json(ws, "sync", "woo")
    [woo] = body["pushed"]
    return code, woo


def status_of(servers: Servers, order: int) -> str:
    return servers.woo.orders.order(order).status


def test_a_parcel_reaches_the_buyer_once_as_a_note_and_completes_the_order(
    servers: Servers, new_demo: Any
) -> None:
    ws = woo_ready(servers, new_demo)
    orders = servers.woo.orders
    order = orders.add([("MUG-ENAMEL", 2), ("MAP-CASE", 1)])
    pull(ws, "woo")
    assert level(ws, "MUG-ENAMEL") == (40, 2, 38)
    code, done = cli_json(ws, "ship", "woo", f"#{order}", "--carrier", "ups", "--tracking",
                          "1Z999AA10123456784", "--url", UPS)  # fmt: skip
    assert code == 0 and done["status"] == "recorded", done
    assert level(ws, "MUG-ENAMEL") == (38, 0, 38)  # off the shelf before WooCommerce knows
    assert orders.customer_notes(order) == []
    code, woo = sync(ws)
    assert code == 0 and woo["shipments"]["sent"] == 1, woo
    [note] = orders.customer_notes(order)  # mailed to the buyer, with the shop's item names
    assert f"Your order #{order} has shipped: 2 x Enamel Camp Mug 350 ml, 1 x Waterproof" in note
    assert "Carrier: UPS" in note and "Tracking number: 1Z999AA10123456784" in note
    assert UPS in note and "[multichan: 1Z999AA10123456784]" in note
    assert status_of(servers, order) == "completed"
    code, woo = sync(ws)  # WooCommerce now says completed: nothing moves, nothing is sent
    assert code == 0 and woo["shipments"]["sent"] == 0
    assert level(ws, "MUG-ENAMEL") == (38, 0, 38)
    assert level(ws, "MAP-CASE")[1] == 0
    assert len(orders.customer_notes(order)) == 1
    code, shown = cli_json(ws, "orders", "show", "woo", str(order))
    assert sorted((m["sku"], m["reason"]) for m in shown["moves"]) == [
        ("MAP-CASE", "order"), ("MAP-CASE", "ship"), ("MUG-ENAMEL", "order"),
        ("MUG-ENAMEL", "ship"),
    ]  # fmt: skip
    assert servers.violations()["woo"] == []


def test_with_the_extension_the_tracking_is_an_item_of_a_known_provider(
    servers: Servers, new_demo: Any
) -> None:
    ws = woo_ready(servers, new_demo, extension=True)
    order = servers.woo.orders.add([("MUG-ENAMEL", 1)])
    pull(ws, "woo")
    cli_json(ws, "ship", "woo", f"#{order}", "--carrier", "royal mail", "--tracking", "RM123GB")
    assert sync(ws)[1]["shipments"]["sent"] == 1
    [(provider, number, link)] = servers.woo.tracking.shown(order)
    assert (provider, number) == ("Royal Mail", "RM123GB") and link.endswith("/RM123GB")
    assert servers.woo.orders.customer_notes(order) == []  # the extension tells the buyer
    assert status_of(servers, order) == "completed"
    assert sync(ws)[1]["shipments"]["sent"] == 0
    assert len(servers.woo.tracking.shown(order)) == 1
    assert level(ws, "MUG-ENAMEL") == (39, 0, 39)
    assert servers.violations()["woo"] == []


def test_part_of_an_order_leaves_it_processing_until_every_unit_is_sent(
    servers: Servers, new_demo: Any
) -> None:
    ws = woo_ready(servers, new_demo, extension=True)
    orders = servers.woo.orders
    order = orders.add([("MUG-ENAMEL", 3)])
    pull(ws, "woo")
    code, first = cli_json(ws, "ship", "woo", f"#{order}", "--line", "MUG-ENAMEL:1")
    assert code == 0 and first["tracking_number"] is None
    assert sync(ws)[1]["shipments"]["sent"] == 1
    assert status_of(servers, order) == "processing"  # core would ship all three
    [note] = orders.customer_notes(order)  # no tracking number: the extension cannot take it
    assert "1 x" in note and "[multichan: " in note
    assert pull(ws, "woo")[0] == 0
    assert level(ws, "MUG-ENAMEL") == (39, 2, 37)
    cli_json(ws, "ship", "woo", f"#{order}", "--carrier", "Acme Couriers", "--tracking",
             "AC-77", "--url", "https://acme.example/t/AC-77")  # fmt: skip
    assert sync(ws)[1]["shipments"]["sent"] == 1
    assert servers.woo.tracking.shown(order) == [
        ("Acme Couriers", "AC-77", "https://acme.example/t/AC-77")  # a custom provider
    ]
    assert status_of(servers, order) == "completed"
    pull(ws, "woo")
    pull(ws, "woo")
    assert level(ws, "MUG-ENAMEL") == (37, 0, 37)  # completed there: nothing moves twice
    assert servers.violations()["woo"] == []


@pytest.mark.parametrize("extension", [False, True], ids=["note", "extension"])
def test_tracking_given_after_the_parcel_was_sent_reaches_the_buyer(
    servers: Servers, new_demo: Any, extension: bool
) -> None:
    ws = woo_ready(servers, new_demo, extension=extension)
    orders = servers.woo.orders
    order = orders.add([("MAP-CASE", 1)])
    pull(ws, "woo")
    assert cli_json(ws, "ship", "woo", f"#{order}")[0] == 0  # tracking not at hand yet
    assert sync(ws)[1]["shipments"]["sent"] == 1
    assert status_of(servers, order) == "completed"
    [untracked] = orders.customer_notes(order)
    assert "Tracking number" not in untracked
    code, late = cli_json(ws, "ship", "woo", f"#{order}", "--carrier", "DHL", "--tracking",
                          "JD0142")  # fmt: skip
    assert code == 0 and late["status"] == "tracking", late
    assert sync(ws)[1]["shipments"]["sent"] == 1
    if extension:
        assert [x[:2] for x in servers.woo.tracking.shown(order)] == [("DHL", "JD0142")]
    [_, tracked] = orders.customer_notes(order)  # the buyer hears of it (completed already)
    assert "Carrier: DHL" in tracked and "Tracking number: JD0142" in tracked
    assert sync(ws)[1]["shipments"]["sent"] == 0
    assert level(ws, "MAP-CASE")[1] == 0
    assert servers.violations()["woo"] == []


class _LostAnswer(requests.Session):
    """The shop makes the note or tracking item, and its answer never arrives."""

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        answer = super().request(method, url, *args, **kwargs)
        if method == "POST" and url.endswith(("/notes", "/shipment-trackings")):
            raise requests.ConnectionError("connection reset by peer")
        return answer


@pytest.mark.parametrize("extension", [False, True], ids=["note", "extension"])
def test_a_send_whose_answer_was_lost_is_not_made_twice(
    servers: Servers, new_demo: Any, extension: bool
) -> None:
    ws = woo_ready(servers, new_demo, extension=extension)
    orders = servers.woo.orders
    order = orders.add([("MUG-ENAMEL", 1)])
    pull(ws, "woo")
    cli_json(ws, "ship", "woo", f"#{order}", "--carrier", "usps", "--tracking", "9400111")

    def made() -> int:
        return len(servers.woo.tracking.shown(order) if extension else orders.customer_notes(order))

    [lost] = push_all(resolve(ws), ["woo"], only="shipments", session=_LostAnswer())
    assert lost.exit_code != 0 and lost.shipments and lost.shipments["failed"]
    assert made() == 1  # the shop did make it
    assert status_of(servers, order) == "processing"  # the run stopped before completing
    [again] = push_all(resolve(ws), ["woo"], only="shipments")
    assert again.exit_code == 0 and again.shipments == {
        "sent": 1, "rejected": [], "failed": [], "exit_code": 0,
    }  # fmt: skip
    assert made() == 1  # found by its tracking number / marker, not made again
    assert status_of(servers, order) == "completed"


@pytest.mark.parametrize("gone", ["delete", "trash"])
def test_a_parcel_of_an_order_gone_from_the_shop_is_rejected_with_its_message(
    servers: Servers, new_demo: Any, gone: str
) -> None:
    ws = woo_ready(servers, new_demo)
    orders = servers.woo.orders
    order = orders.add([("MUG-ENAMEL", 1)])
    pull(ws, "woo")
    cli_json(ws, "ship", "woo", f"#{order}", "--tracking", "TRK-9")
    if gone == "delete":
        orders.delete(order)
    else:
        orders.set_status(order, "trash")
    said = "Invalid ID. (woocommerce_rest_shop_order_invalid_id)" if gone == "delete" else (
        f"order #{order} is trash on the shop: not marked shipped")  # fmt: skip
    result = run_cli("-w", ws, "push", "woo", "--only", "shipments")
    assert result.code == 4, result.output
    assert said in result.stderr and "TRK-9" in result.stderr
    [woo] = json.loads(run_cli("-w", ws, "status", "woo", "--json").stdout)["channels"]
    [parcel] = woo["shipments"]
    assert (parcel["shipment"], parcel["status"], parcel["attempts"]) == ("TRK-9", "rejected", 1)
    assert said in parcel["last_error"]
    assert run_cli("-w", ws, "push", "woo", "--only", "shipments").code == 4  # tried again
    if gone == "trash":
        assert orders.customer_notes(order) == []  # nothing was written to a trashed order


def test_the_extension_set_but_missing_on_the_shop_fails_the_channel(
    servers: Servers, new_demo: Any
) -> None:
    ws = woo_ready(servers, new_demo, extension=True)
    servers.woo.tracking.installed = False  # deactivated on the shop
    order = servers.woo.orders.add([("MUG-ENAMEL", 1)])
    pull(ws, "woo")
    cli_json(ws, "ship", "woo", f"#{order}", "--carrier", "ups", "--tracking", "1Z1")
    result = run_cli("-w", ws, "push", "woo", "--only", "shipments")
    assert result.code == 5, result.output
    assert "no Shipment Tracking REST API" in result.stderr
    assert "shipment_tracking: false" in result.stderr
    assert status_of(servers, order) == "processing"


def test_every_mapped_carrier_is_a_provider_of_the_extension() -> None:
    from multichan.channels.woocommerce_orders import CARRIERS
    from tests.servers.woocommerce_tracking import BY_SLUG, sanitize_title

    assert sorted({n for n in CARRIERS.values() if sanitize_title(n) not in BY_SLUG}) == []


def test_refunded_units_need_not_ship_for_the_order_to_complete() -> None:
    from multichan.channels.woocommerce_orders import all_sent

    order = {"line_items": [{"id": 300, "quantity": 3}, {"id": 301, "quantity": 1}]}
    assert not all_sent(order, {"TRK-1": {"300": 2}}, {})
    assert not all_sent(order, {"TRK-1": {"300": 2}}, {"300": 1})  # line 301 still to send
    assert all_sent(order, {"TRK-1": {"300": 2}, "TRK-2": {"301": 1}}, {"300": 1})
