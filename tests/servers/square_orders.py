"""The POS's orders, behind the Square double (tests/channels/square_conftest.py): their state,
the calls a test makes to ring them up and change them (``double.orders.add(...)``,
``.set_state``, ``.add_return``, ``.edit``) and the answers of ``POST /v2/orders/search``
(SearchOrders), ``GET /v2/orders/{order_id}`` (RetrieveOrder) and ``PUT /v2/orders/{order_id}``
(UpdateOrder), written from Square's contract (``../shared/specs/square/api.offline.json``,
2025-08-20: SearchOrdersRequest, SearchOrdersQuery, SearchOrdersFilter,
SearchOrdersDateTimeFilter, SearchOrdersSort, Order, OrderLineItem, OrderReturn,
OrderReturnLineItem, Fulfillment, FulfillmentShipmentDetails, UpdateOrderRequest) and the
Search Orders guide where the contract points to it.

Orders. An order is at one location, in state DRAFT, OPEN, COMPLETED or CANCELED (the last two
terminal: ``closed_at`` is set when an order reaches them). ``version`` starts at 1 and grows
by one with every change. Line ``quantity`` is a decimal string as Square writes it ("2",
"1.5"); a line's ``catalog_object_id`` is an ITEM_VARIATION id; name, variation name and price
are copied from the double's catalog when the order is rung up (``Item <id>`` and a zero price
for an id the catalog does not hold; a line without an id is a CUSTOM_AMOUNT). A return is its
own order (Square: "There is exactly one Return object per sale Order being referenced"): no
``line_items``, one ``returns[]`` entry naming the sale order and, per returned line,
``source_line_item_uid`` and the variation; at most the units sold, less those of earlier
returns that were not cancelled, can be returned. The sale order itself is not changed by a
return (its ``updated_at`` stays), so a poller on ``updated_at`` sees a return as a new order.
Fulfillments (SHIPMENT or PICKUP, at most one per order as the API creates them) follow the
order: PROPOSED while DRAFT or OPEN, COMPLETED or CANCELED with it. An order placed online is
``add(..., state="OPEN", fulfillment="SHIPMENT", source="Square Online")``.

RetrieveOrder answers ``{"order": ...}`` as SearchOrders shows it, 404 NOT_FOUND for an
unknown id. UpdateOrder takes a sparse order: ``version`` is required (absent: 400
BAD_REQUEST "Missing required parameter." on ``order.version``) and must be the current one
(else 400 VERSION_MISMATCH "Supplied version 1 does not match the current version 2 of order
...", as Square answers it, quoted on Square's developer forum); a COMPLETED or CANCELED order
"cannot be updated" (400); ``location_id`` cannot change. ``fulfillments[]`` entries name an
existing fulfillment by ``uid`` (its state moves forward only, PROPOSED -> RESERVED ->
PREPARED -> COMPLETED/CANCELED/FAILED, and the last three are final; COMPLETED stamps
``shipped_at``) or add one, with ``type`` and, for SHIPMENT, ``shipment_details``, to an order
that has none ("Orders cannot be created with more than one fulfillment.", as the forum quotes
Square). Of ``shipment_details`` only the fields an app writes are kept (carrier,
tracking_number, tracking_url, shipping_note, shipping_type, within their maxLength); the
read-only ``line_item_application`` and ``entries`` are refused (Prism does not enforce
readOnly). ``state`` may move the order as ``set_state`` does, COMPLETED only once every
fulfillment is done. Each update bumps ``version`` and ``updated_at``; idempotency keys replay
the first answer (the double's own handling, for every endpoint). Any other field is refused
loudly, so a test never passes on something the double ignored.

Clock. Every change stamps ``updated_at`` from ``now`` (injectable; aware datetimes; real UTC
time by default), at millisecond precision as Square writes it (``2016-09-04T23:59:33.123Z``).
Stamps strictly increase across the POS, 1 ms after the last one when the clock has not moved.
``add`` may set ``created_at``/``updated_at`` in the past: an offline POS sale that reaches
Square up to 72 h late with its original ``created_at`` (SearchOrders' description), after
later orders were already served. With only ``created_at`` given, ``updated_at`` is the same
(the hard case for a poller on ``updated_at``); pass ``updated_at`` too for a sale stamped on
arrival.

Search (SearchOrders). ``location_ids``: 1 to 10. ``limit``: 500 by default, 1 to 1,000 (the
description's "Max: 1000"; the schema has no maximum, so Prism lets 1,001 through and the
double answers 400 VALUE_TOO_HIGH). Filters are ANDed; every one of them is applied:
``state_filter.states`` (not empty), ``date_time_filter`` (one of ``created_at``,
``updated_at``, ``closed_at``: "You can filter for only one time range at a time"),
``fulfillment_filter`` (an order matches when one of its fulfillments is of a listed type and
in a listed state), ``source_filter.source_names`` and ``customer_filter.customer_ids`` (orders
here have no customer, so a non-empty list matches none). Sort: ``sort_field`` CREATED_AT by
default, ``sort_order`` DESC by default; the sort field must be the field of the time range,
and CLOSED_AT needs a state filter of closed states only (COMPLETED, CANCELED), else 400 with
``errors[]``, as the contract and guide say. Ties on the sort field are ordered by order id.

Time ranges: ``start_at`` and ``end_at`` are both inclusive, because the contract's
SearchOrdersDateTimeFilter says "For each time range, the start time and end time are
inclusive". Both are RFC 3339 date-times with an offset (``Z`` or ``+02:00``, any fraction of
a second); anything else is 400 INVALID_TIME, a start after the end 400 INVALID_TIME_RANGE. An
absent ``end_at`` "defaults to the time of the first request for the cursor": the first page
fixes it (the later of the clock and the latest stamp handed out, so nothing already written
is left out) and later pages of the same cursor keep it, so an order changed while a client
pages is not in that run (it is in the next search from the same start).

Cursors are opaque (base64 of JSON) and keyset: they carry the last order's sort value and id,
the fixed end of the range and a digest of the original query (``location_ids``, ``query``,
``return_entries``; "when retrieving additional pages using a cursor, you must use the
original query", else 400 INVALID_CURSOR); ``limit`` may change between pages. A late order
whose stamp sorts before a cursor's position is therefore not on that run's later pages (only a
new search from an earlier start finds it), and one that sorts after it is. The answer is
``{"orders": [...], "cursor": ...}`` (``order_entries`` of ``order_id``, ``version``,
``location_id`` with ``return_entries``), ``cursor`` only when more orders remain; empty
fields are left out, as Square leaves them out, so no match answers ``{}``.

Approximated or not modelled: error codes for the refusals the contract only describes in
prose (mismatched sort field, CLOSED_AT without closed states, empty states: INVALID_VALUE /
ARRAY_EMPTY here; an update of a closed order, a second fulfillment, a backward fulfillment
state: BAD_REQUEST / INVALID_VALUE here); orders without a ``version`` (not created through the
API, which Square lets no app update); money beyond base price times quantity (no taxes,
discounts, tips, service charges, tenders, refunds, ``net_amounts``); customers; the merchant's
set of locations (any location id is accepted); the 72 h delay itself (a test decides what
arrives late); ``source.name`` "Square Point of Sale" for a till sale (an assumption;
``add(source=...)``).
``clear()`` (the double's ``reset()``) drops every order and puts the default clock back.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import itertools
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

Row = dict[str, Any]
Answer = tuple[int, Row]
Lines = Iterable[tuple[str | None, str | int]] | Mapping[str, str | int]

STATES = ("OPEN", "COMPLETED", "CANCELED", "DRAFT")  # OrderState
TERMINAL = frozenset(("COMPLETED", "CANCELED"))
MOVES = {"DRAFT": ("OPEN", "CANCELED"), "OPEN": ("COMPLETED", "CANCELED")}
FULFILLMENT_TYPES = ("SHIPMENT", "PICKUP")  # what add() makes
ALL_TYPES = ("PICKUP", "SHIPMENT", "DELIVERY")  # FulfillmentType
FULFILLMENT_STATES = ("PROPOSED", "RESERVED", "PREPARED", "COMPLETED", "CANCELED", "FAILED")
SORT_FIELDS = {"CREATED_AT": "created_at", "UPDATED_AT": "updated_at", "CLOSED_AT": "closed_at"}
TIME_FIELDS = tuple(SORT_FIELDS.values())  # SearchOrdersDateTimeFilter's ranges
SORT_ORDERS = ("DESC", "ASC")
MAX_LOCATIONS, DEFAULT_LIMIT, MAX_LIMIT, MAX_NAMES = 10, 500, 1000, 10
SOURCE = "Square Point of Sale"  # source.name of a till sale (an assumption: POS orders)
QUANTITY = re.compile(r"\d+(\.\d+)?")
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)
FULFILLMENT_DONE = frozenset(("COMPLETED", "CANCELED", "FAILED"))  # a fulfillment's last states
# FulfillmentShipmentDetails fields an app writes, with their maxLength (the rest are read-only)
SHIPMENT_FIELDS = {"carrier": 50, "tracking_number": 100, "tracking_url": 2000,
                   "shipping_note": 500, "shipping_type": 50}  # fmt: skip
UPDATABLE = frozenset(("version", "location_id", "state", "fulfillments"))  # what update() models


class Catalog(Protocol):
    """What orders need of the double (SquareDouble): its catalog and currency."""

    currency: str
    items: dict[str, dict[str, Any]]

    def variation(self, var_id: str) -> dict[str, Any] | None: ...


class Refused(Exception):
    """A request Square refuses: HTTP ``status`` (400 unless said) with this one entry of
    ``errors[]``."""

    def __init__(self, code: str, detail: str, field: str | None = None, status: int = 400):
        super().__init__(detail)
        self.status = status
        self.entry: Row = {"category": "INVALID_REQUEST_ERROR", "code": code, "detail": detail}
        if field:
            self.entry["field"] = field


def utc_now() -> datetime:
    return datetime.now(UTC)


def rfc3339(at: datetime | None) -> str | None:
    """Square's timestamps: UTC, milliseconds, ``Z`` ("2016-09-04T23:59:33.123Z")."""
    if at is None:
        return None
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _ms(at: datetime, what: str) -> datetime:
    """``at`` in UTC, cut to the millisecond; refuses naive datetimes."""
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise ValueError(f"{what} must be an aware datetime, not {at!r}")
    at = at.astimezone(UTC)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def _quantity(value: str | int) -> str:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not QUANTITY.fullmatch(text) or len(text) > 12:
        raise ValueError(f"a quantity is a decimal string such as '2' or '1.5', not {value!r}")
    if Decimal(text) <= 0:
        raise ValueError(f"a quantity must be positive, not {value!r}")
    return text


def _money(amount: int, currency: str) -> Row:
    return {"amount": amount, "currency": currency}


def _times(price: Row, quantity: str) -> Row:
    total = (Decimal(price["amount"]) * Decimal(quantity)).quantize(Decimal(1), ROUND_HALF_UP)
    return _money(int(total), price["currency"])


def _pairs(lines: Lines) -> list[tuple[str | None, str]]:
    pairs = list(lines.items()) if isinstance(lines, Mapping) else list(lines)
    if not pairs:
        raise ValueError("an order needs at least one line")
    return [(key, _quantity(quantity)) for key, quantity in pairs]


@dataclass
class Line:
    """An OrderLineItem: what the till rang up, names and price as they were then."""

    uid: str
    quantity: str
    catalog_object_id: str | None
    name: str
    variation_name: str | None
    base_price_money: Row


@dataclass
class ReturnLine:
    """An OrderReturnLineItem: units of one line of the sale order."""

    uid: str
    source_line_item_uid: str
    quantity: str
    line: Line  # the sale order's line


@dataclass
class Return:
    uid: str
    source_order_id: str
    lines: list[ReturnLine]


@dataclass
class Fulfillment:
    uid: str
    type: str  # SHIPMENT or PICKUP
    state: str
    placed_at: datetime
    done_at: datetime | None = None  # shipped_at / picked_up_at
    canceled_at: datetime | None = None
    details: dict[str, str] = field(default_factory=dict)  # carrier, tracking_number...


@dataclass
class Order:
    id: str
    location_id: str
    state: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    source: str | None
    currency: str
    version: int = 1
    lines: list[Line] = field(default_factory=list)
    returns: list[Return] = field(default_factory=list)
    fulfillments: list[Fulfillment] = field(default_factory=list)

    def stamp(self, field_name: str) -> datetime | None:
        value: datetime | None = getattr(self, field_name)
        return value


@dataclass
class Query:
    """A SearchOrders query read: the sort, the time range on the sort field, the filters."""

    sort_on: str  # the Order attribute sorted on (and filtered on by a time range)
    descending: bool
    ranged: bool = False  # a date_time_filter is set
    start: datetime | None = None
    end: datetime | None = None
    tests: list[Callable[[Order], bool]] = field(default_factory=list)

    def matches(self, order: Order) -> bool:
        return all(test(order) for test in self.tests)


class SquareOrders:
    """The POS's orders: the test-facing calls, and ``search(body)`` for the double."""

    def __init__(self, catalog: Catalog, now: Callable[[], datetime] | None = None) -> None:
        self.catalog = catalog
        self.default_now: Callable[[], datetime] = now or utc_now
        self.lock = threading.RLock()
        self.clear()

    def clear(self) -> None:
        """No orders, ids from the start, and the clock back to the default one."""
        with self.lock:
            self.now: Callable[[], datetime] = self.default_now  # reassign freely in a test
            self.by_id: dict[str, Order] = {}
            self._orders = itertools.count(1)
            self._uids = itertools.count(1)
            self._last = EPOCH  # the latest stamp handed out: the next one is later

    # --- test-facing calls ---------------------------------------------------------------
    def add(
        self,
        location_id: str,
        lines: Lines,
        *,
        state: str = "COMPLETED",
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
        fulfillment: str | None = None,
        source: str | None = SOURCE,
    ) -> str:
        """A sale at ``location_id`` of ``(catalog_object_id, quantity)`` lines (quantity a
        decimal string; an id may repeat, as two lines; None is a custom amount); returns the
        order id. ``state`` COMPLETED by default (a till sale is paid at once: ``closed_at``
        is ``created_at``). ``created_at``/``updated_at`` (aware) place it in the past, e.g.
        an offline sale arriving late. ``fulfillment``: SHIPMENT or PICKUP, one of them."""
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}, not {state!r}")
        if fulfillment is not None and fulfillment not in FULFILLMENT_TYPES:
            raise ValueError(f"fulfillment must be one of {FULFILLMENT_TYPES}")
        pairs = _pairs(lines)
        with self.lock:
            created, updated = self._created(created_at, updated_at)
            order = Order(
                id=f"ORDER{next(self._orders):06d}",
                location_id=location_id,
                state=state,
                created_at=created,
                updated_at=updated,
                closed_at=created if state in TERMINAL else None,
                source=source,
                currency=self.catalog.currency,
            )
            order.lines = [self._line(key, quantity) for key, quantity in pairs]
            if fulfillment:
                order.fulfillments.append(
                    Fulfillment(self._uid("FUL"), fulfillment, "PROPOSED", created)
                )
                self._follow(order, created)
            self.by_id[order.id] = order
            return order.id

    def set_state(self, order_id: str, state: str) -> None:
        """DRAFT -> OPEN or CANCELED, OPEN -> COMPLETED or CANCELED (COMPLETED and CANCELED are
        terminal); bumps ``version`` and ``updated_at``, sets ``closed_at`` on a terminal
        state and takes the fulfillments along."""
        with self.lock:
            order = self._get(order_id)
            if state not in MOVES.get(order.state, ()):
                raise ValueError(f"order {order_id} cannot go from {order.state} to {state}")
            at = self._touch(order)
            order.state = state
            if state in TERMINAL:
                order.closed_at = at
            self._follow(order, at)

    def add_return(
        self,
        source_order_id: str,
        lines: Lines,
        *,
        state: str = "COMPLETED",
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
    ) -> str:
        """A return order, at the sale's location, of ``(key, quantity)`` where key is the
        ``uid`` of a line of the (COMPLETED) sale order or a ``catalog_object_id`` on it (its
        first line with units left to return); returns the return order's id."""
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}, not {state!r}")
        pairs = _pairs(lines)
        with self.lock:
            sale = self._get(source_order_id)
            if sale.state != "COMPLETED" or sale.returns:
                raise ValueError(f"order {source_order_id} is not a completed sale")
            left = {
                line.uid: Decimal(line.quantity) - self._returned(line.uid) for line in sale.lines
            }
            parts = []
            for key, quantity in pairs:
                units = Decimal(quantity)
                line = next((x for x in sale.lines if x.uid == key), None) or next(
                    (x for x in sale.lines if x.catalog_object_id == key and left[x.uid] >= units),
                    None,
                )
                if line is None or left[line.uid] < units:
                    room = left[line.uid] if line else 0
                    raise ValueError(
                        f"order {source_order_id}: cannot return {quantity} of {key!r} "
                        f"(at most {room})"
                    )
                left[line.uid] -= units
                parts.append(ReturnLine(self._uid("RLI"), line.uid, quantity, line))
            created, updated = self._created(created_at, updated_at)
            order = Order(
                id=f"ORDER{next(self._orders):06d}",
                location_id=sale.location_id,
                state=state,
                created_at=created,
                updated_at=updated,
                closed_at=created if state in TERMINAL else None,
                source=sale.source,
                currency=sale.currency,
                returns=[Return(self._uid("RET"), sale.id, parts)],
            )
            self.by_id[order.id] = order
            return order.id

    def get(self, order_id: str) -> Row:
        """The order as SearchOrders shows it (a copy)."""
        with self.lock:
            return self._view(self._get(order_id))

    def edit(self, order_id: str) -> None:
        """A change the seller makes on Square (a note, a line): ``version`` and ``updated_at``
        move, nothing a channel reads changes; what makes a client's next update conflict."""
        with self.lock:
            self._touch(self._get(order_id))

    # --- RetrieveOrder and UpdateOrder -----------------------------------------------------
    def retrieve(self, order_id: str) -> Answer:
        """The answer of ``GET /v2/orders/{order_id}``."""
        with self.lock:
            order = self.by_id.get(order_id)
            if order is None:
                return 404, {"errors": [Refused("NOT_FOUND", f"Order {order_id} not found.",
                                                status=404).entry]}  # fmt: skip
            return 200, {"order": self._view(order)}

    def update(self, order_id: str, body: Any) -> Answer:
        """The answer of ``PUT /v2/orders/{order_id}`` (a sparse order and its version)."""
        with self.lock:
            try:
                return 200, {"order": self._update(order_id, body)}
            except Refused as exc:
                return exc.status, {"errors": [exc.entry]}

    def _update(self, order_id: str, body: Any) -> Row:
        if not isinstance(body, dict) or not isinstance(body.get("order"), dict):
            raise Refused("MISSING_REQUIRED_PARAMETER", "order is required", "order")
        sparse: Row = body["order"]
        current = self.by_id.get(order_id)
        if current is None:
            raise Refused("NOT_FOUND", f"Order {order_id} not found.", status=404)
        version = sparse.get("version")
        if version is None:
            raise Refused("BAD_REQUEST", "Missing required parameter.", "order.version")
        if version != current.version:
            raise Refused(
                "VERSION_MISMATCH",
                f"Supplied version {version} does not match the current version "
                f"{current.version} of order {order_id}.",
                "order.version",
            )
        if current.state in TERMINAL:
            raise Refused(
                "BAD_REQUEST",
                f"Order {order_id} is {current.state}: orders with a COMPLETED or CANCELED state"
                " cannot be updated.",
                "order.state",
            )
        if sparse.get("location_id") not in (None, current.location_id):
            raise Refused("INVALID_VALUE", "location_id cannot be updated", "order.location_id")
        unmodelled = sorted(set(sparse) - UPDATABLE)
        if unmodelled:  # loud, so a test never passes on a field the double ignored
            raise Refused("BAD_REQUEST", f"the double does not model updating {unmodelled}")
        order = copy.deepcopy(current)
        at = self._stamp()
        for n, given in enumerate(sparse.get("fulfillments") or []):
            self._fulfil(order, _object(given, f"order.fulfillments[{n}]"), n, at)
        state = sparse.get("state")
        if state is not None and state != order.state:
            if state not in MOVES.get(order.state, ()):
                raise Refused("INVALID_VALUE", f"order cannot go from {order.state} to {state}",
                              "order.state")  # fmt: skip
            if state == "COMPLETED" and any(
                f.state not in FULFILLMENT_DONE for f in order.fulfillments
            ):
                raise Refused(
                    "BAD_REQUEST",
                    "All fulfillments must have a state of COMPLETED, CANCELED, or FAILED for an"
                    " order to be able to have a state of COMPLETED.",
                    "order.state",
                )
            order.state = state
            order.closed_at = at if state in TERMINAL else None
            self._follow(order, at)
        order.version += 1
        order.updated_at = at
        self.by_id[order_id] = order
        return self._view(order)

    def _fulfil(self, order: Order, given: Row, n: int, at: datetime) -> None:
        """One fulfillment of a sparse order: an existing one (by ``uid``) changed, or a new one
        (Square: "Orders can only be created with at most one fulfillment using the API")."""
        where = f"order.fulfillments[{n}]"
        for name in ("line_item_application", "entries"):
            if given.get(name) is not None:
                raise Refused("INVALID_VALUE", f"{name} is read-only", f"{where}.{name}")
        uid = given.get("uid")
        found = next((f for f in order.fulfillments if uid and f.uid == uid), None)
        if found is None:
            if order.fulfillments:
                raise Refused("BAD_REQUEST",
                              "Orders cannot be created with more than one fulfillment.",
                              f"{where}")  # fmt: skip
            kind = given.get("type")
            if kind not in FULFILLMENT_TYPES:
                raise Refused("INVALID_VALUE", f"type must be one of {FULFILLMENT_TYPES}",
                              f"{where}.type")  # fmt: skip
            if kind == "SHIPMENT" and given.get("shipment_details") is None:
                raise Refused("MISSING_REQUIRED_PARAMETER", "shipment_details is required",
                              f"{where}.shipment_details")  # fmt: skip
            found = Fulfillment(str(uid or self._uid("FUL")), kind, "PROPOSED", at)
            order.fulfillments.append(found)
        details = given.get("shipment_details")
        if details is not None:
            if found.type != "SHIPMENT":
                raise Refused("INVALID_VALUE", f"a {found.type} fulfillment has no "
                              "shipment_details", f"{where}.shipment_details")  # fmt: skip
            for name, value in _object(details, f"{where}.shipment_details").items():
                if name in SHIPMENT_FIELDS and value is not None:
                    if not isinstance(value, str) or len(value) > SHIPMENT_FIELDS[name]:
                        raise Refused("INVALID_VALUE", f"{name} must be text of at most "
                                      f"{SHIPMENT_FIELDS[name]} characters",
                                      f"{where}.shipment_details.{name}")  # fmt: skip
                    found.details[name] = value
        state = given.get("state")
        if state is not None and state != found.state:
            if state not in FULFILLMENT_STATES:
                raise Refused("INVALID_ENUM_VALUE", f"{state!r} is not a fulfillment state",
                              f"{where}.state")  # fmt: skip
            ladder = FULFILLMENT_STATES.index
            if found.state in FULFILLMENT_DONE or (
                state not in FULFILLMENT_DONE and ladder(state) < ladder(found.state)
            ):
                raise Refused("INVALID_VALUE", f"fulfillment {found.uid} cannot go from "
                              f"{found.state} to {state}", f"{where}.state")  # fmt: skip
            found.state = state
            if state == "COMPLETED":
                found.done_at = at
            elif state == "CANCELED":
                found.canceled_at = at

    # --- SearchOrders --------------------------------------------------------------------
    def search(self, body: Any) -> Answer:
        """The answer of ``POST /v2/orders/search`` to ``body``."""
        with self.lock:
            try:
                return 200, self._search(body)
            except Refused as exc:
                return 400, {"errors": [exc.entry]}

    def _search(self, body: Any) -> Row:
        if not isinstance(body, dict):
            raise Refused("BAD_REQUEST", "the request body must be a JSON object")
        locations = body.get("location_ids")
        if locations is None:
            raise Refused("MISSING_REQUIRED_PARAMETER", "location_ids is required", "location_ids")
        if not isinstance(locations, list) or not all(isinstance(x, str) for x in locations):
            raise Refused("EXPECTED_ARRAY", "location_ids must be strings", "location_ids")
        if not locations:
            raise Refused("ARRAY_LENGTH_TOO_SHORT", "at least 1 location id", "location_ids")
        if len(locations) > MAX_LOCATIONS:
            raise Refused(
                "ARRAY_LENGTH_TOO_LONG", f"at most {MAX_LOCATIONS} location ids", "location_ids"
            )
        limit = body.get("limit", DEFAULT_LIMIT)
        if not isinstance(limit, int) or isinstance(limit, bool):
            raise Refused("INVALID_VALUE", "limit must be an integer", "limit")
        if limit < 1:
            raise Refused("VALUE_TOO_LOW", "limit must be at least 1", "limit")
        if limit > MAX_LIMIT:
            raise Refused("VALUE_TOO_HIGH", f"limit must be at most {MAX_LIMIT}", "limit")
        entries = bool(body.get("return_entries"))
        query = _object(body.get("query"), "query")
        q = self._query(query)
        digest = hashlib.sha256(
            json.dumps([locations, query, entries], sort_keys=True).encode()
        ).hexdigest()[:16]
        after: list[str] | None = None
        default_end: datetime | None = None  # an absent end_at, fixed by the first page
        if body.get("cursor") is not None:
            mark = _decode(body["cursor"])
            if mark["q"] != digest:
                raise Refused("INVALID_CURSOR", "the cursor belongs to another query", "cursor")
            after, default_end = mark["after"], _time(mark["end"], "cursor")
        elif q.ranged and q.end is None:
            default_end = max(_ms(self.now(), "now()"), self._last)  # the first request's time
        start, stop = q.start, q.end if q.end is not None else default_end

        def key(o: Order) -> list[str]:
            return [rfc3339(o.stamp(q.sort_on)) or "", o.id]

        rows = []
        for order in self.by_id.values():
            value = order.stamp(q.sort_on)
            if order.location_id not in locations or value is None or not q.matches(order):
                continue
            if (start is not None and value < start) or (stop is not None and value > stop):
                continue
            rows.append(order)
        rows.sort(key=key, reverse=q.descending)
        if after is not None:
            rows = [o for o in rows if (key(o) < after if q.descending else key(o) > after)]
        page, more = rows[:limit], len(rows) > limit
        out: Row = {}
        if page and entries:
            out["order_entries"] = [
                {"order_id": o.id, "version": o.version, "location_id": o.location_id} for o in page
            ]
        elif page:
            out["orders"] = [self._view(o) for o in page]
        if more:
            mark = {"q": digest, "after": key(page[-1]), "end": rfc3339(default_end)}
            out["cursor"] = base64.urlsafe_b64encode(json.dumps(mark).encode()).decode()
        return out

    def _query(self, query: Row) -> Query:
        filters = _object(query.get("filter"), "query.filter")
        sort = _object(query.get("sort"), "query.sort")
        sort_field = sort.get("sort_field", "CREATED_AT")
        if sort_field not in SORT_FIELDS:
            raise Refused(
                "INVALID_ENUM_VALUE",
                f"sort_field {sort_field!r} is not one of {list(SORT_FIELDS)}",
                "query.sort.sort_field",
            )
        sort_order = sort.get("sort_order") or "DESC"
        if sort_order not in SORT_ORDERS:
            raise Refused(
                "INVALID_ENUM_VALUE",
                f"sort_order {sort_order!r} is not ASC or DESC",
                "query.sort.sort_order",
            )
        found = Query(SORT_FIELDS[sort_field], sort_order == "DESC")
        where = "query.filter.state_filter"
        states: list[str] | None = None
        if filters.get("state_filter") is not None:
            given = _object(filters["state_filter"], where)
            states = _names(given.get("states"), STATES, f"{where}.states")
            if not states:
                raise Refused("ARRAY_EMPTY", "states must not be empty", f"{where}.states")
            wanted = frozenset(states)
            found.tests.append(lambda o: o.state in wanted)
        if sort_field == "CLOSED_AT" and (states is None or set(states) - TERMINAL):
            raise Refused(
                "INVALID_VALUE",
                "sorting by CLOSED_AT needs a state_filter of closed states (COMPLETED, CANCELED)",
                "query.sort.sort_field",
            )
        dates = _object(filters.get("date_time_filter"), "query.filter.date_time_filter")
        ranges = {k: v for k, v in dates.items() if k in TIME_FIELDS and v is not None}
        if len(ranges) > 1:
            raise Refused(
                "INVALID_VALUE",
                "filter for only one time range at a time",
                "query.filter.date_time_filter",
            )
        for name, given in ranges.items():
            if found.sort_on != name:
                raise Refused(
                    "INVALID_VALUE",
                    f"the date_time_filter is on {name}: sort_field must be {name.upper()}, "
                    f"not {sort_field}",
                    "query.sort.sort_field",
                )
            where = f"query.filter.date_time_filter.{name}"
            given = _object(given, where)
            found.ranged = True
            found.start = _time(given.get("start_at"), f"{where}.start_at")
            found.end = _time(given.get("end_at"), f"{where}.end_at")
            if found.start and found.end and found.start > found.end:
                raise Refused("INVALID_TIME_RANGE", "start_at is after end_at", where)
        where = "query.filter.fulfillment_filter"
        given = _object(filters.get("fulfillment_filter"), where)
        kinds = _names(given.get("fulfillment_types"), ALL_TYPES, f"{where}.fulfillment_types")
        steps = _names(
            given.get("fulfillment_states"), FULFILLMENT_STATES, f"{where}.fulfillment_states"
        )
        if kinds or steps:
            found.tests.append(
                lambda o: any(
                    (not kinds or f.type in kinds) and (not steps or f.state in steps)
                    for f in o.fulfillments
                )
            )
        where = "query.filter.source_filter"
        given = _object(filters.get("source_filter"), where)
        names = _names(given.get("source_names"), None, f"{where}.source_names")
        if names:
            found.tests.append(lambda o: o.source in names)
        where = "query.filter.customer_filter"
        given = _object(filters.get("customer_filter"), where)
        if _names(given.get("customer_ids"), None, f"{where}.customer_ids"):
            found.tests.append(lambda o: False)  # no order here has a customer
        return found

    # --- helpers -------------------------------------------------------------------------
    def _get(self, order_id: str) -> Order:
        try:
            return self.by_id[order_id]
        except KeyError:
            raise ValueError(f"no order {order_id!r}") from None

    def _uid(self, prefix: str) -> str:
        return f"{prefix}{next(self._uids):06d}"

    def _stamp(self) -> datetime:
        """The next ``updated_at``: now, or 1 ms after the last stamp if that is later."""
        self._last = max(_ms(self.now(), "now()"), self._last + MS)
        return self._last

    def _touch(self, order: Order) -> datetime:
        order.version += 1
        order.updated_at = self._stamp()
        return order.updated_at

    def _created(
        self, created_at: datetime | None, updated_at: datetime | None
    ) -> tuple[datetime, datetime]:
        if created_at is None and updated_at is None:
            at = self._stamp()
            return at, at
        given = created_at if created_at is not None else updated_at
        assert given is not None
        created = _ms(given, "created_at")
        updated = created if updated_at is None else _ms(updated_at, "updated_at")
        if updated < created:
            raise ValueError("updated_at is before created_at")
        self._last = max(self._last, updated)
        return created, updated

    def _line(self, catalog_object_id: str | None, quantity: str) -> Line:
        currency = self.catalog.currency
        if catalog_object_id is None:
            return Line(self._uid("LI"), quantity, None, "Custom Amount", None, _money(0, currency))
        var = self.catalog.variation(catalog_object_id)
        if var is None:
            return Line(
                self._uid("LI"),
                quantity,
                catalog_object_id,
                f"Item {catalog_object_id}",
                "Regular",
                _money(0, currency),
            )
        data = var.get("item_variation_data") or {}
        item = self.catalog.items.get(data.get("item_id") or "") or {}
        name = (item.get("item_data") or {}).get("name") or f"Item {catalog_object_id}"
        price = data.get("price_money") or _money(0, currency)
        money = _money(price["amount"], price["currency"])
        return Line(self._uid("LI"), quantity, catalog_object_id, name, data.get("name"), money)

    def _returned(self, line_uid: str) -> Decimal:
        """Units of a sale line in return orders not cancelled."""
        return sum(
            (
                Decimal(part.quantity)
                for o in self.by_id.values()
                if o.state != "CANCELED"
                for ret in o.returns
                for part in ret.lines
                if part.source_line_item_uid == line_uid
            ),
            Decimal(0),
        )

    @staticmethod
    def _follow(order: Order, at: datetime) -> None:
        """Fulfillments follow the order's state."""
        for f in order.fulfillments:
            if f.state in TERMINAL or order.state not in TERMINAL:
                continue
            f.state = order.state
            if order.state == "COMPLETED":
                f.done_at = at
            else:
                f.canceled_at = at

    # --- views ---------------------------------------------------------------------------
    def _view(self, o: Order) -> Row:
        zero = _money(0, o.currency)
        view: Row = {
            "id": o.id,
            "location_id": o.location_id,
            "source": {"name": o.source} if o.source else None,
            "line_items": [_line_view(line) for line in o.lines] or None,
            "fulfillments": [_fulfillment_view(f) for f in o.fulfillments] or None,
            "returns": [_return_view(r) for r in o.returns] or None,
            "created_at": rfc3339(o.created_at),
            "updated_at": rfc3339(o.updated_at),
            "closed_at": rfc3339(o.closed_at),
            "state": o.state,
            "version": o.version,
            "total_money": _money(
                sum(_times(x.base_price_money, x.quantity)["amount"] for x in o.lines), o.currency
            ),
        }
        if o.returns:
            returned = sum(
                _times(p.line.base_price_money, p.quantity)["amount"]
                for r in o.returns
                for p in r.lines
            )
            view["return_amounts"] = {
                "total_money": _money(returned, o.currency),
                "tax_money": zero,
            }
        return copy.deepcopy({k: v for k, v in view.items() if v is not None})


def _line_view(line: Line) -> Row:
    view = {
        "uid": line.uid,
        "name": line.name,
        "quantity": line.quantity,
        "catalog_object_id": line.catalog_object_id,
        "variation_name": line.variation_name,
        "item_type": "ITEM" if line.catalog_object_id else "CUSTOM_AMOUNT",
        "base_price_money": line.base_price_money,
        "variation_total_price_money": _times(line.base_price_money, line.quantity),
        "total_money": _times(line.base_price_money, line.quantity),
    }
    return {k: v for k, v in view.items() if v is not None}


def _return_view(r: Return) -> Row:
    lines = []
    for part in r.lines:
        view = {
            "uid": part.uid,
            "source_line_item_uid": part.source_line_item_uid,
            "name": part.line.name,
            "quantity": part.quantity,
            "catalog_object_id": part.line.catalog_object_id,
            "variation_name": part.line.variation_name,
            "item_type": "ITEM" if part.line.catalog_object_id else "CUSTOM_AMOUNT",
            "base_price_money": part.line.base_price_money,
            "total_money": _times(part.line.base_price_money, part.quantity),
        }
        lines.append({k: v for k, v in view.items() if v is not None})
    return {"uid": r.uid, "source_order_id": r.source_order_id, "return_line_items": lines}


def _fulfillment_view(f: Fulfillment) -> Row:
    done = "shipped_at" if f.type == "SHIPMENT" else "picked_up_at"
    details = {
        "placed_at": rfc3339(f.placed_at),
        done: rfc3339(f.done_at),
        "canceled_at": rfc3339(f.canceled_at),
    }
    kind = "shipment_details" if f.type == "SHIPMENT" else "pickup_details"
    shown = {**f.details, **{k: v for k, v in details.items() if v is not None}}
    return {
        "uid": f.uid,
        "type": f.type,
        "state": f.state,
        "line_item_application": "ALL",
        kind: shown,
    }


def _object(value: Any, where: str) -> Row:
    """A nested request object; absent or null is empty."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Refused("INVALID_VALUE", f"{where} must be an object", where)
    return value


def _names(value: Any, allowed: Iterable[str] | None, where: str) -> list[str]:
    """A list of strings (of ``allowed`` ones when given); absent or null is empty."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise Refused("EXPECTED_ARRAY", f"{where} must be a list of strings", where)
    if allowed is not None:
        bad = [x for x in value if x not in tuple(allowed)]
        if bad:
            raise Refused("INVALID_ENUM_VALUE", f"{bad[0]!r} is not a valid value", where)
    elif len(value) > MAX_NAMES:
        raise Refused("ARRAY_LENGTH_TOO_LONG", f"at most {MAX_NAMES} values", where)
    return value


def _time(value: Any, where: str) -> datetime | None:
    """An RFC 3339 date-time with an offset; absent or null is None."""
    if value is None:
        return None
    if not isinstance(value, str) or not RFC3339.fullmatch(value):
        raise Refused("INVALID_TIME", f"{value!r} is not an RFC 3339 date-time", where)
    head, dot, tail = value.partition(".")
    if dot:  # fromisoformat reads at most 6 digits of a fraction
        digits = re.match(r"\d+", tail)
        assert digits is not None
        value = f"{head}.{digits.group()[:6].ljust(6, '0')}{tail[digits.end() :]}"
    try:
        return datetime.fromisoformat(value.upper().replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise Refused("INVALID_TIME", f"{value!r} is not a valid date-time", where) from None


def _decode(cursor: Any) -> Row:
    try:
        found = json.loads(base64.urlsafe_b64decode(str(cursor).encode()))
    except (ValueError, binascii.Error):
        found = None
    if (
        not isinstance(found, dict)
        or set(found) != {"q", "after", "end"}
        or not isinstance(found["after"], list)
        or not all(isinstance(part, str) for part in found["after"])
    ):
        raise Refused("INVALID_CURSOR", f"invalid cursor {cursor!r}", "cursor")
    return found
