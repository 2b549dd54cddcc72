"""Shipments to the Square POS through the CLI, against the Square double checked by Prism
against Square's contract: `multichan ship` takes the units off the shelf at once, `sync` sends
each parcel once as the order's SHIPMENT fulfillment (completed, with carrier and tracking) at
the version it read, tracking given later updates that fulfillment, a send whose answer was
lost is not made twice, a version conflict is read again and retried, and a parcel Square
cannot take (a till sale, part of an order, a refusal of Square's own) stays visible with the
reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

from multichan.sync.run import push_all
from multichan.workspace import resolve
from tests.conftest import run_cli
from tests.e2e.conftest import SQUARE_LOCATION, Servers
from tests.e2e.test_pull_shopify import cli_json, level, pull
from tests.e2e.test_pull_square import pos_ready, variation
from tests.sync.conftest import FakeTime


def online(servers: Servers, lines: list[tuple[str, str]], fulfillment: str = "SHIPMENT") -> str:
    """An order placed on Square Online: OPEN (paid, not sent) with one PROPOSED fulfillment."""
    return servers.pos.orders.add(SQUARE_LOCATION, lines, state="OPEN", fulfillment=fulfillment,
                                  source="Square Online")  # fmt: skip


def shipments(servers: Servers, order_id: str) -> list[dict[str, Any]]:
    """The order's SHIPMENT fulfillments as Square shows them."""
    order = servers.pos.orders.get(order_id)
    return [f for f in order.get("fulfillments") or [] if f["type"] == "SHIPMENT"]


def updates(servers: Servers, order_id: str) -> int:
    """How many UpdateOrder calls the order received."""
    return len(servers.pos.calls("PUT", f"/v2/orders/{order_id}"))


def sync(ws: Path) -> tuple[int, dict[str, Any]]:
    code, body = cli_json(ws, "sync", "pos")
    [pos] = body["pushed"]
    return code, pos


def test_a_shipment_leaves_stock_at_once_and_reaches_square_once(
    servers: Servers, new_demo: Any
) -> None:
    ws = pos_ready(servers, new_demo)
    mug, lantern = variation(ws, "MUG-ENAMEL"), variation(ws, "LANTERN-LED")
    order = online(servers, [(mug, "2"), (lantern, "1")])
    pull(ws, "pos")
    assert level(ws, "MUG-ENAMEL", "store") == (12, 2, 10)
    code, done = cli_json(ws, "ship", "pos", order, "--carrier", "ups", "--tracking",
                          "1Z999AA10123456784", "--url", "https://ups.example/1Z999")  # fmt: skip
    assert code == 0 and done["status"] == "recorded", done
    assert level(ws, "MUG-ENAMEL", "store") == (10, 0, 10)  # off the shelf before Square knows
    assert level(ws, "LANTERN-LED", "store") == (2, 0, 2)
    version = servers.pos.orders.get(order)["version"]
    code, pos = sync(ws)
    assert code == 0 and pos["shipments"]["sent"] == 1, pos
    [parcel] = shipments(servers, order)
    assert parcel["state"] == "COMPLETED"
    details = parcel["shipment_details"]
    assert (details["carrier"], details["tracking_number"], details["tracking_url"]) == (
        "UPS", "1Z999AA10123456784", "https://ups.example/1Z999",
    )  # fmt: skip
    assert "shipped_at" in details  # Square's stamp
    after = servers.pos.orders.get(order)
    assert (after["state"], after["version"]) == ("OPEN", version + 1)  # one update
    [put] = servers.pos.calls("PUT", f"/v2/orders/{order}")
    assert put["order"]["version"] == version and put["idempotency_key"]
    code, pos = sync(ws)  # Square now says shipped: nothing moves, nothing is sent again
    assert code == 0 and pos["shipments"]["sent"] == 0
    assert updates(servers, order) == 1
    assert level(ws, "MUG-ENAMEL", "store") == (10, 0, 10)
    assert level(ws, "LANTERN-LED", "store") == (2, 0, 2)
    moves = json.loads(run_cli("-w", ws, "orders", "show", "pos", order, "--json").stdout)
    assert sorted((m["sku"], m["reason"]) for m in moves["moves"]) == [
        ("LANTERN-LED", "order"), ("LANTERN-LED", "ship"), ("MUG-ENAMEL", "order"),
        ("MUG-ENAMEL", "ship"),
    ]  # fmt: skip
    assert servers.violations()["pos"] == []


def test_an_open_ticket_gets_a_shipment_and_tracking_given_later(
    servers: Servers, new_demo: Any
) -> None:
    ws = pos_ready(servers, new_demo)
    mug = variation(ws, "MUG-ENAMEL")
    ticket = servers.pos.orders.add(SQUARE_LOCATION, [(mug, "1")], state="OPEN")  # no fulfillment
    pull(ws, "pos")
    assert cli_json(ws, "ship", "pos", ticket)[0] == 0  # shipped, tracking not at hand
    assert sync(ws)[1]["shipments"]["sent"] == 1
    [parcel] = shipments(servers, ticket)  # a SHIPMENT fulfillment of its own
    assert parcel["state"] == "COMPLETED" and "tracking_number" not in parcel["shipment_details"]
    code, late = cli_json(ws, "ship", "pos", ticket, "--carrier", "royal mail",
                          "--tracking", "RM123GB")  # fmt: skip
    assert code == 0 and late["status"] == "tracking", late
    assert sync(ws)[1]["shipments"]["sent"] == 1
    [tracked] = shipments(servers, ticket)  # the same fulfillment, now tracked
    assert tracked["uid"] == parcel["uid"]
    assert tracked["shipment_details"]["carrier"] == "Royal Mail"
    assert tracked["shipment_details"]["tracking_number"] == "RM123GB"
    assert sync(ws)[1]["shipments"]["sent"] == 0
    assert updates(servers, ticket) == 2
    assert level(ws, "MUG-ENAMEL", "store") == (11, 0, 11)
    assert servers.violations()["pos"] == []


class _LostAnswer(requests.Session):
    """Square applies every UpdateOrder, and its answer never arrives."""

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        answer = super().request(method, url, *args, **kwargs)
        if method.upper() == "PUT":
            raise requests.ConnectionError("connection reset by peer")
        return answer


def test_a_send_whose_answer_was_lost_is_not_made_twice(servers: Servers, new_demo: Any) -> None:
    ws = pos_ready(servers, new_demo)
    order = online(servers, [(variation(ws, "MUG-ENAMEL"), "1")])
    pull(ws, "pos")
    cli_json(ws, "ship", "pos", order, "--tracking", "TRK-1")
    version = servers.pos.orders.get(order)["version"]
    [lost] = push_all(resolve(ws), ["pos"], only="shipments", session=_LostAnswer(),
                      pacing=FakeTime().pacing())  # fmt: skip
    assert lost.exit_code != 0 and lost.shipments and lost.shipments["failed"], lost
    sent = servers.pos.calls("PUT", f"/v2/orders/{order}")
    assert len(sent) >= 2 and len({json.dumps(b, sort_keys=True) for b in sent}) == 1
    assert servers.pos.orders.get(order)["version"] == version + 1  # applied once: the same key
    [again] = push_all(resolve(ws), ["pos"], only="shipments")
    assert again.exit_code == 0 and again.shipments == {
        "sent": 1, "rejected": [], "failed": [], "exit_code": 0,
    }  # fmt: skip
    assert updates(servers, order) == len(sent)  # found by its tracking, not sent again
    [parcel] = shipments(servers, order)
    assert parcel["shipment_details"]["tracking_number"] == "TRK-1"
    assert servers.violations()["pos"] == []


def test_a_version_conflict_is_read_again_and_retried(servers: Servers, new_demo: Any) -> None:
    ws = pos_ready(servers, new_demo)
    order = online(servers, [(variation(ws, "MUG-ENAMEL"), "2")])
    pull(ws, "pos")
    cli_json(ws, "ship", "pos", order, "--carrier", "FedEx", "--tracking", "7712")
    orders = servers.pos.orders

    class SellerEdits(requests.Session):
        """The seller edits the order on Square between multichan's read and its write."""

        edited = False

        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            answer = super().request(method, url, *args, **kwargs)
            if method.upper() == "GET" and not self.edited:
                self.edited = True
                orders.edit(order)
            return answer

    [result] = push_all(resolve(ws), ["pos"], only="shipments", session=SellerEdits())
    assert result.exit_code == 0 and result.shipments and result.shipments["sent"] == 1, result
    first, second = servers.pos.calls("PUT", f"/v2/orders/{order}")
    assert second["order"]["version"] == first["order"]["version"] + 1  # the version read again
    assert first["idempotency_key"] != second["idempotency_key"]
    assert len(servers.pos.calls("GET", f"/v2/orders/{order}")) == 2
    [parcel] = shipments(servers, order)
    assert parcel["state"] == "COMPLETED"
    assert parcel["shipment_details"]["tracking_number"] == "7712"
    violations = servers.violations()["pos"]
    assert violations == []


def test_parcels_square_cannot_take_stay_visible_with_the_reason(
    servers: Servers, new_demo: Any
) -> None:
    ws = pos_ready(servers, new_demo)
    orders = servers.pos.orders
    mug, lantern = variation(ws, "MUG-ENAMEL"), variation(ws, "LANTERN-LED")
    pickup = online(servers, [(mug, "1")], fulfillment="PICKUP")  # collected at the store
    part = online(servers, [(mug, "2"), (lantern, "1")])
    ticket = orders.add(SQUARE_LOCATION, [(lantern, "1")], state="OPEN")
    sale = orders.add(SQUARE_LOCATION, [(mug, "1")])  # a till sale: the buyer took it home
    pull(ws, "pos")
    refused = run_cli("-w", ws, "ship", "pos", sale)  # nothing left to ship: never recorded
    assert refused.code == 2 and "has no units left to ship" in refused.stderr, refused.output
    assert cli_json(ws, "ship", "pos", pickup, "--tracking", "TRK-P")[0] == 0
    assert (
        cli_json(ws, "ship", "pos", part, "--line", "MUG-ENAMEL:1", "--tracking", "TRK-H")[0] == 0
    )
    assert cli_json(ws, "ship", "pos", ticket, "--tracking", "TRK-T")[0] == 0
    orders.set_state(ticket, "COMPLETED")  # rung up at the till before the sync sent it
    result = run_cli("-w", ws, "push", "pos", "--only", "shipments")
    assert result.code == 4, result.output
    assert "Orders cannot be created with more than one fulfillment" in result.stderr  # Square's
    [pos] = json.loads(run_cli("-w", ws, "status", "pos", "--json").stdout)["channels"]
    said = {p["shipment"]: (p["status"], p["last_error"]) for p in pos["shipments"]}
    assert said["TRK-P"][0] == "rejected" and "BAD_REQUEST" in said["TRK-P"][1]
    assert "ship the whole order at once" in said["TRK-H"][1]
    assert "this parcel has 1 of its 3 units" in said["TRK-H"][1]
    assert "a till sale has nothing to ship" in said["TRK-T"][1]
    assert updates(servers, part) == updates(servers, ticket) == 0  # refused before writing
    assert [f["state"] for f in shipments(servers, part)] == ["PROPOSED"]
    shown = run_cli("-w", ws, "status", "pos").stdout
    assert f"rejected shipment TRK-T of order {ticket}: Square: order {ticket} is a till" in shown
    assert run_cli("-w", ws, "push", "pos", "--only", "shipments").code == 4  # tried again
    assert servers.violations()["pos"] == []
