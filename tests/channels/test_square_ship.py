"""Square shipments at the channel level: carrier names, what a completed SHIPMENT fulfillment
means for the pull, and the answers ``ship`` gives for orders Square holds in other states,
against the Square double checked by Prism (the CLI round trips: tests/e2e/test_ship_square.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from multichan.channels import square_orders as so
from multichan.channels.base import Retriable
from multichan.channels.square import Square
from multichan.orders.shipments import Shipment, ShipmentLine
from tests.channels.square_conftest import TOKEN, SquareDouble, serve_double
from tests.prism import Prism

LOCATION = "L8XQ2"


@pytest.fixture(scope="module")
def _double() -> Iterator[SquareDouble]:
    with serve_double() as double:  # a thread on 127.0.0.1: cheap to start per module
        yield double


@pytest.fixture
def pos(
    _double: SquareDouble, square_prism: Prism, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SquareDouble]:
    """The double, emptied, checking every request against Square's contract."""
    monkeypatch.setenv("SQUARE_TOKEN", TOKEN)
    _double.reset(validate=square_prism.url)
    yield _double
    assert _double.violations == []


def channel(double: SquareDouble, session: Any = None) -> Square:
    settings, problems = Square.validate_settings(
        {"base_url": double.url, "token": "${SQUARE_TOKEN}", "location_id": LOCATION}, "test"
    )
    assert problems == []
    found = Square("pos", settings, session=session or requests.Session())
    found.sleep = lambda seconds: None
    return found


def parcel(double: SquareDouble, order: str, tracking: str | None = "TRK-1", **kw: Any) -> Any:
    """A Shipment of every unit of ``order``, as ``multichan ship`` records it."""
    lines = [ShipmentLine(x["uid"], "SKU", int(x["quantity"]))
             for x in double.orders.get(order)["line_items"]]  # fmt: skip
    values: dict[str, Any] = {"id": 1, "channel": "pos", "order_id": order,
                              "number": order, "key": tracking or "shipment-1",
                              "carrier": "usps", "tracking_number": tracking,
                              "tracking_url": None, "shipped_at": datetime.now(UTC),
                              "lines": lines}  # fmt: skip
    return Shipment(**{**values, **kw})


def test_carriers_are_named_as_the_carriers_name_themselves() -> None:
    assert so.carrier_name("ups") == "UPS"
    assert so.carrier_name("  Royal   MAIL ") == "Royal Mail"
    assert so.carrier_name("dhl express") == "DHL Express"
    assert so.carrier_name("Bob's Bikes") == "Bob's Bikes"  # free text, as written
    assert so.carrier_name("x" * 60) == "x" * 50  # Square's maxLength
    assert so.carrier_name(None) is None and so.carrier_name(" ") is None


def test_a_completed_shipment_fulfillment_has_sent_its_lines() -> None:
    order = {
        "id": "O1", "state": "OPEN", "created_at": "2026-01-01T00:00:00.000Z",
        "line_items": [{"uid": "A", "quantity": "2"}, {"uid": "B", "quantity": "1"}],
        "fulfillments": [{"uid": "F", "type": "SHIPMENT", "state": "COMPLETED"}],
    }  # fmt: skip
    assert [(x.unshipped, x.shipped) for x in so.to_order(order).lines] == [(0, 2), (0, 1)]
    order["fulfillments"] = [{"uid": "F", "type": "SHIPMENT", "state": "COMPLETED",
                              "line_item_application": "ENTRY_LIST",
                              "entries": [{"line_item_uid": "A", "quantity": "1"}]}]  # fmt: skip
    assert [(x.unshipped, x.shipped) for x in so.to_order(order).lines] == [(1, 1), (1, 0)]
    order["fulfillments"][0]["state"] = "PROPOSED"
    assert [(x.unshipped, x.shipped) for x in so.to_order(order).lines] == [(2, 0), (1, 0)]


def test_orders_square_holds_in_other_states(pos: SquareDouble) -> None:
    square = channel(pos)
    var = "VAR-UNKNOWN"
    online = pos.orders.add(LOCATION, [(var, "1")], state="OPEN", fulfillment="SHIPMENT")
    missing = square.ship(parcel(pos, online, order_id="NOPE"))
    assert not missing.ok and "NOT_FOUND" in (missing.message or "")
    long = square.ship(parcel(pos, online, tracking="9" * 101))
    assert not long.ok and "at most 100 characters" in (long.message or "")
    assert pos.calls("PUT", f"/v2/orders/{online}") == []
    sent = square.ship(parcel(pos, online))
    assert sent.ok and sent.remote_ids["fulfillment_id"] == pos.orders.get(online)[
        "fulfillments"][0]["uid"]  # fmt: skip
    assert pos.orders.get(online)["fulfillments"][0]["shipment_details"]["carrier"] == "USPS"
    pos.orders.set_state(online, "COMPLETED")  # completed on Square: the parcel is there
    assert square.ship(parcel(pos, online)).ok
    late = square.ship(parcel(pos, online, tracking="TRK-2",
                              remote_id=sent.remote_ids["fulfillment_id"]))  # fmt: skip
    assert not late.ok and "changes no completed order" in (late.message or "")
    cancelled = pos.orders.add(LOCATION, [(var, "1")], state="OPEN", fulfillment="SHIPMENT")
    pos.orders.set_state(cancelled, "CANCELED")
    said = square.ship(parcel(pos, cancelled))
    assert not said.ok and "cancelled on Square" in (said.message or "")


def test_an_order_that_keeps_changing_is_sent_again_next_run(pos: SquareDouble) -> None:
    order = pos.orders.add(LOCATION, [("VAR-UNKNOWN", "1")], state="OPEN", fulfillment="SHIPMENT")

    class Busy(requests.Session):
        """The seller edits the order after every read."""

        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            answer = super().request(method, url, *args, **kwargs)
            if method.upper() == "GET":
                pos.orders.edit(order)
            return answer

    with pytest.raises(Retriable, match="changed while it was being shipped"):
        channel(pos, Busy()).ship(parcel(pos, order))
    assert len(pos.calls("PUT", f"/v2/orders/{order}")) == 2  # retried once, then left
    assert pos.orders.get(order)["fulfillments"][0]["state"] == "PROPOSED"
    assert pos.violations == []
