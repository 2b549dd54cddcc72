"""The shop's orders, behind the Shopify test endpoint: their state, the calls a test makes to
place and change them (``shop.orders.add(...)``, ``.fulfill``, ``.refund``, ``.cancel``, ...)
and the resolvers of the ``orders`` and ``order`` root fields (API 2025-01).

Quantities follow the schema's descriptions of LineItem: ``quantity`` is what was ordered
(order edits that add units raise it), ``currentQuantity`` excludes refunded and removed units
(a refund of any restockType, an order edit down, a cancellation), ``refundableQuantity`` is
``currentQuantity``, ``unfulfilledQuantity`` is what still needs fulfilling. A refund line of
restockType CANCEL takes unfulfilled units, RETURN fulfilled ones, NO_RESTOCK fulfilled ones
first and then unfulfilled ones (what Shopify does when the API gives no ``removal`` flag).
Cancelling refunds every unfulfilled unit in one Refund (CANCEL lines, NO_RESTOCK without
restock), closes the order and, with ``refund``, makes it REFUNDED (VOIDED if unpaid).

Every change stamps the order's ``updatedAt`` from ``now`` (injectable; aware datetimes,
whole seconds): stamps strictly increase across the shop, a second after the last one when
the clock has not moved, because clients page on them. ``add`` may override
``createdAt``/``updatedAt`` (a late order: older than what a client has already read).

``orders`` pages with opaque keyset cursors (the sort value and the id), so an order updated
between two pages moves instead of shifting its neighbours; sortKey UPDATED_AT, CREATED_AT,
PROCESSED_AT (the schema's default: the same as createdAt here), ID, ORDER_NUMBER and
``reverse``. The search ``query`` takes terms joined by spaces or AND: ``updated_at``,
``created_at``, ``processed_at`` (``:``, ``:>``, ``:>=``, ``:<``, ``:<=``; a datetime, a date or
``now``, quoted or not), ``id``, ``name``, ``status``, ``financial_status`` and ``sku``; any other
term (OR, NOT, free text, another field) is an error, so a test never relies on a filter the
shop does not apply.

Inventory, as Shopify keeps it for a tracked item at the shop's location: an order (of any
financial status) takes its units from ``available`` when it is placed, and an order edit adding
units takes those; units removed by an edit, cancelled (``cancel(restock=True)``) or refunded
as CANCEL or RETURN go back; NO_RESTOCK refunds and fulfillments leave ``available`` alone.
Not modelled: money, customers, the 60-day window without read_all_orders, several locations
or fulfillment orders.

Cost (tests/servers/shopify.py, Shopify's rule): ``orders(first: n)`` whose nodes select
``lineItems(first: m) { nodes { ... variant { id sku } } }`` costs ``2 + n * (3 + 2m)``;
each further ``refunds { refundLineItems(first: r) { nodes { lineItem { id } ... } } }`` or
``fulfillments { fulfillmentLineItems(first: r) ... }`` adds ``n * (3 + 2r)``, and
``fulfillmentOrders(first: 1) { nodes { lineItems(first: m) { nodes { lineItem { id } } } } }``
adds ``n * (5 + 2m)``. The 1,000-point limit therefore refuses ``first: 250`` with nested
``lineItems(first: 250)`` (125,752), as Shopify does: keep the sum at most 1,000 (lines only:
``n * (3 + 2m) <= 998``, e.g. 50 orders x 8 lines, 20 x 23, 10 x 48).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from graphql import GraphQLError

Row = dict[str, Any]
MAX_PAGE = 250
FINANCIAL = frozenset(
    (
        "PENDING",
        "AUTHORIZED",
        "PARTIALLY_PAID",
        "PAID",
        "PARTIALLY_REFUNDED",
        "REFUNDED",
        "VOIDED",
        "EXPIRED",
    )
)
CAPTURED = frozenset(("PAID", "PARTIALLY_PAID", "PARTIALLY_REFUNDED"))  # money to give back
UNPAID = frozenset(("PENDING", "AUTHORIZED", "EXPIRED", "VOIDED"))
RESTOCK_TYPES = frozenset(("RETURN", "CANCEL", "NO_RESTOCK"))  # LEGACY_RESTOCK: read-only
CANCEL_REASONS = frozenset(("CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "STAFF", "OTHER"))
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CURRENCY = "USD"  # the test shop's currency
TERM = re.compile(
    r"""\s*(?:(?P<and>AND)(?=\s|$)|(?P<field>[a-z_]+):(?P<op><=|>=|<|>)?"""
    r"""(?:'(?P<sq>[^']*)'|"(?P<dq>[^"]*)"|(?P<bare>[^\s'"]+)))\s*"""
)
TIME_FIELDS = {"updated_at": "updated_at", "created_at": "created_at", "processed_at": "created_at"}


class Catalog(Protocol):
    """What orders need of the shop (shopify_shop.Shop): its variants and ids."""

    products: dict[str, Row]
    variants: dict[str, Row]
    items: dict[str, Row]

    def gid(self, kind: str) -> str: ...

    def variant_view(self, v: Row) -> Row: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(at: datetime | None) -> str | None:
    """Shopify's DateTime: ISO-8601 in UTC, whole seconds, ``Z``."""
    return None if at is None else at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _aware(at: datetime, what: str) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"{what} must be an aware datetime, not {at!r}")
    return at.astimezone(UTC).replace(microsecond=0)


@dataclass
class Line:
    """A LineItem. Units move from unfulfilled to fulfilled; refunds and removals take them."""

    id: str
    fulfillment_order_line_id: str
    sku: str
    variant: str | None  # the variant's gid when ordered; null in answers once it is deleted
    title: str
    variant_title: str | None
    quantity: int  # ordered, plus units added by order edits
    price: str = "0.00"  # the variant's price when ordered (no discounts in the test shop)
    removed: int = 0  # by order edits down
    fulfilled: int = 0
    refunded_fulfilled: int = 0  # RETURN, NO_RESTOCK
    refunded_unfulfilled: int = 0  # CANCEL, NO_RESTOCK beyond the fulfilled units, cancellation

    @property
    def name(self) -> str:
        return f"{self.title} - {self.variant_title}" if self.variant_title else self.title

    @property
    def current(self) -> int:
        return self.quantity - self.removed - self.refunded_fulfilled - self.refunded_unfulfilled

    @property
    def unfulfilled(self) -> int:
        return self.quantity - self.removed - self.refunded_unfulfilled - self.fulfilled

    @property
    def kept(self) -> int:
        """Fulfilled units not refunded since."""
        return self.fulfilled - self.refunded_fulfilled


@dataclass
class Refund:
    id: str
    created_at: datetime
    lines: list[tuple[str, Line, int, str]]  # (RefundLineItem id, line, quantity, restockType)


@dataclass
class Fulfillment:
    id: str
    name: str
    created_at: datetime
    lines: list[tuple[str, Line, int]]  # (FulfillmentLineItem id, line, quantity)
    tracking: list[Row] = field(default_factory=list)  # {company, number, url}


@dataclass
class Order:
    id: str
    number: int
    created_at: datetime
    updated_at: datetime
    financial_status: str
    fulfillment_order_id: str
    lines: list[Line] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    fulfillments: list[Fulfillment] = field(default_factory=list)
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    closed_at: datetime | None = None

    @property
    def name(self) -> str:
        return f"#{self.number}"

    @property
    def legacy_id(self) -> int:
        return int(self.id.rsplit("/", 1)[1])

    def line(self, sku: str) -> Line:
        found = next((line for line in self.lines if line.sku == sku), None)
        if found is None:
            raise ValueError(f"order {self.name} has no line with SKU {sku!r}")
        return found

    @property
    def fulfillment_status(self) -> str:
        """displayFulfillmentStatus. An order whose units were all refunded or cancelled before
        any was fulfilled shows UNFULFILLED, which the schema says replaced RESTOCKED."""
        fulfilled = sum(line.fulfilled for line in self.lines)
        unfulfilled = sum(line.unfulfilled for line in self.lines)
        if fulfilled and unfulfilled:
            return "PARTIALLY_FULFILLED"
        return "FULFILLED" if fulfilled else "UNFULFILLED"

    @property
    def fulfillment_order_status(self) -> str:
        """One fulfillment order per order (one location): OPEN, IN_PROGRESS once partly
        fulfilled, CLOSED once nothing remains, CANCELLED if cancelled before any fulfilment."""
        fulfilled = sum(line.fulfilled for line in self.lines)
        if sum(line.unfulfilled for line in self.lines):
            return "IN_PROGRESS" if fulfilled else "OPEN"
        return "CANCELLED" if self.cancelled_at and not fulfilled else "CLOSED"


class Orders:
    """The shop's orders: the test-facing calls, and ``root()`` for the endpoint."""

    def __init__(self, catalog: Catalog, now: Callable[[], datetime] | None = None) -> None:
        self.catalog = catalog
        self.now: Callable[[], datetime] = now or utc_now  # reassign freely in a test
        self.by_id: dict[str, Order] = {}
        self._numbers = itertools.count(1001)
        self._last = EPOCH  # the latest stamp handed out: the next one is later

    # --- test-facing calls ---------------------------------------------------------------
    def add(
        self,
        lines: Iterable[tuple[str, int]] | Mapping[str, int],
        *,
        financial_status: str = "PAID",
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
    ) -> str:
        """A new order of ``(sku, quantity)`` lines; returns its gid. A line's variant is the
        shop's variant with that SKU, else none (the line keeps the SKU)."""
        pairs = list(lines.items()) if isinstance(lines, Mapping) else list(lines)
        skus = [sku for sku, _ in pairs]
        if not pairs or len(set(skus)) < len(skus) or any(q <= 0 for _, q in pairs):
            raise ValueError(
                f"an order needs lines of distinct SKUs and positive quantities, not {pairs!r}"
            )
        self._check_status(financial_status)
        if created_at is None and updated_at is None:
            created = updated = self._stamp(None)
        else:
            given = created_at if created_at is not None else updated_at
            assert given is not None
            created = _aware(given, "created_at")
            updated = created if updated_at is None else _aware(updated_at, "updated_at")
            if updated < created:
                raise ValueError("updated_at is before created_at")
            self._last = max(self._last, updated)
        order = Order(
            id=self.catalog.gid("Order"),
            number=next(self._numbers),
            created_at=created,
            updated_at=updated,
            financial_status=financial_status,
            fulfillment_order_id=self.catalog.gid("FulfillmentOrder"),
        )
        for sku, quantity in pairs:
            order.lines.append(self._new_line(sku, quantity))
            self._take(order.lines[-1], quantity)
        self.by_id[order.id] = order
        return order.id

    def get(self, order_id: str) -> Order:
        """The order's state (read it; change it only through the calls here)."""
        try:
            return self.by_id[order_id]
        except KeyError:
            raise ValueError(f"no order {order_id!r}") from None

    def set_financial_status(self, order_id: str, status: str) -> None:
        """displayFinancialStatus becomes ``status`` (e.g. PENDING -> PAID)."""
        order = self.get(order_id)
        self._check_status(status)
        order.financial_status = status
        self._stamp(order)

    def edit(self, order_id: str, sku: str, quantity: int) -> None:
        """An order edit that sets the line's ``currentQuantity`` to ``quantity``: units added
        raise ``quantity`` too, units removed (unfulfilled ones only) leave it. A SKU the
        order does not have becomes a new line (orderEditAddVariant)."""
        order = self._open(order_id)
        if quantity < 0:
            raise ValueError("an order edit cannot set a negative quantity")
        line = next((x for x in order.lines if x.sku == sku), None)
        if line is None:
            if quantity == 0:
                raise ValueError(f"order {order.name} has no line with SKU {sku!r}")
            order.lines.append(self._new_line(sku, quantity))
            self._take(order.lines[-1], quantity)
        elif quantity > line.current:
            self._take(line, quantity - line.current)
            line.quantity += quantity - line.current
        elif line.current - quantity > line.unfulfilled:
            raise ValueError(
                f"{sku}: only the {line.unfulfilled} unfulfilled units can be "
                "removed by an order edit"
            )
        else:
            self._take(line, quantity - line.current)
            line.removed += line.current - quantity
        self._stamp(order)

    def fulfill(
        self, order_id: str, lines: Mapping[str, int] | None = None,
        tracking: Row | None = None,
    ) -> str:  # fmt: skip
        """One fulfillment (status SUCCESS) of ``{sku: units}``, by default of every
        unfulfilled unit, with ``tracking`` ({company, number, url}); returns its gid."""
        order = self._open(order_id)
        wanted = {x.sku: x.unfulfilled for x in order.lines if x.unfulfilled}
        wanted = dict(lines) if lines is not None else wanted
        parts = []
        for sku, units in wanted.items():
            line = order.line(sku)
            if not 0 < units <= line.unfulfilled:
                raise ValueError(
                    f"{sku}: cannot fulfil {units} of {line.unfulfilled} unfulfilled units"
                )
            parts.append((line, units))
        if not parts:
            raise ValueError(f"order {order.name} has nothing to fulfil")
        at = self._stamp(order)
        name = f"{order.name}.{len(order.fulfillments) + 1}"
        fulfillment = Fulfillment(self.catalog.gid("Fulfillment"), name, at, [],
                                  [tracking] if tracking else [])  # fmt: skip
        for line, units in parts:
            line.fulfilled += units
            fulfillment.lines.append((self.catalog.gid("FulfillmentLineItem"), line, units))
        order.fulfillments.append(fulfillment)
        return fulfillment.id

    def track(self, fulfillment_id: str, tracking: Row) -> None:
        """Tracking ({company, number, url}) given to a fulfillment later, in the admin (what
        ``fulfillmentTrackingInfoUpdate`` does; the order's ``updatedAt`` moves)."""
        answer = self._tracking_update(fulfillment_id, tracking)
        if answer["userErrors"]:
            raise ValueError(answer["userErrors"][0]["message"])

    def refund(self, order_id: str, lines: Mapping[str, int], restock_type: str = "RETURN") -> str:
        """One refund of ``{sku: units}``, every line of ``restock_type`` (RETURN: fulfilled
        units; CANCEL: unfulfilled ones; NO_RESTOCK: fulfilled ones first); returns its gid.
        A paid order becomes PARTIALLY_REFUNDED, or REFUNDED once no unit is left."""
        order = self.get(order_id)
        if restock_type not in RESTOCK_TYPES:
            raise ValueError(f"restockType must be one of {sorted(RESTOCK_TYPES)}")
        parts = []
        for sku, units in lines.items():
            line = order.line(sku)
            rooms = {"RETURN": line.kept, "CANCEL": line.unfulfilled, "NO_RESTOCK": line.current}
            room = rooms[restock_type]
            if not 0 < units <= room:
                raise ValueError(
                    f"{sku}: cannot refund {units} units as {restock_type} (at most {room})"
                )
            parts.append((line, units))
        if not parts:
            raise ValueError("a refund needs at least one line")
        refund = Refund(self.catalog.gid("Refund"), self._stamp(order), [])
        for line, units in parts:
            self._refund_line(refund, line, units, restock_type)
        order.refunds.append(refund)
        if order.financial_status in CAPTURED:
            left = sum(line.current for line in order.lines)
            order.financial_status = "PARTIALLY_REFUNDED" if left else "REFUNDED"
        return refund.id

    def cancel(
        self, order_id: str, *, restock: bool = True, reason: str = "CUSTOMER", refund: bool = True
    ) -> None:
        """orderCancel: every unfulfilled unit is refunded in one Refund (CANCEL lines, or
        NO_RESTOCK without ``restock``), the order is closed and, with ``refund``, a paid
        order becomes REFUNDED and an unpaid one VOIDED. Fulfilled units stay."""
        order = self._open(order_id)
        if reason not in CANCEL_REASONS:
            raise ValueError(f"reason must be one of {sorted(CANCEL_REASONS)}")
        at = self._stamp(order)
        lines = [line for line in order.lines if line.unfulfilled]
        if lines:
            cancelled = Refund(self.catalog.gid("Refund"), at, [])
            for line in lines:
                kind = "CANCEL" if restock else "NO_RESTOCK"
                self._refund_line(cancelled, line, line.unfulfilled, kind, unfulfilled=True)
            order.refunds.append(cancelled)
        order.cancelled_at, order.cancel_reason = at, reason
        order.closed_at = order.closed_at or at
        if refund and order.financial_status in CAPTURED:
            order.financial_status = "REFUNDED"
        elif refund and order.financial_status in ("PENDING", "AUTHORIZED"):
            order.financial_status = "VOIDED"

    def close(self, order_id: str) -> None:
        """orderClose: the order is archived (``closed``); nothing else changes."""
        order = self.get(order_id)
        if order.closed_at is None:
            order.closed_at = self._stamp(order)

    # --- state changes -------------------------------------------------------------------
    def _stamp(self, order: Order | None) -> datetime:
        """The time of a change: ``now`` in whole seconds, later than every stamp before."""
        at = _aware(self.now(), "now()")
        floor = self._last if order is None else max(self._last, order.updated_at)
        if at <= floor:
            at = floor + timedelta(seconds=1)
        self._last = at
        if order is not None:
            order.updated_at = at
        return at

    def _open(self, order_id: str) -> Order:
        order = self.get(order_id)
        if order.cancelled_at is not None:
            raise ValueError(f"order {order.name} is cancelled")
        return order

    @staticmethod
    def _check_status(status: str) -> None:
        if status not in FINANCIAL:
            raise ValueError(f"financial status must be one of {sorted(FINANCIAL)}")

    def _new_line(self, sku: str, quantity: int) -> Line:
        if quantity <= 0:
            raise ValueError(f"{sku}: a line needs a positive quantity, not {quantity}")
        variant = next((v for v in self.catalog.variants.values() if v["sku"] == sku), None)
        title, variant_title = sku, None
        if variant is not None:
            title = self.catalog.products[variant["product"]].get("title") or sku
            variant_title = " / ".join(variant["options"].values())
            variant_title = None if variant_title == "Default Title" else variant_title
        return Line(
            id=self.catalog.gid("LineItem"),
            fulfillment_order_line_id=self.catalog.gid("FulfillmentOrderLineItem"),
            sku=sku,
            variant=variant["id"] if variant else None,
            title=title,
            variant_title=variant_title,
            quantity=quantity,
            price=str(variant.get("price") or "0.00") if variant else "0.00",
        )

    def _take(self, line: Line, units: int) -> None:
        """Shopify's own count: ``units`` leave (negative: come back to) ``available`` of the
        line's tracked inventory item at the shop's location."""
        variant = self.catalog.variants.get(line.variant or "")
        item = self.catalog.items.get(variant["item"]) if variant else None
        if item and item["tracked"] and item["levels"]:
            next(iter(item["levels"].values()))["available"] -= units

    def _refund_line(
        self, refund: Refund, line: Line, units: int, kind: str, unfulfilled: bool = False
    ) -> None:
        if kind in ("CANCEL", "RETURN"):
            self._take(line, -units)
        if kind == "CANCEL" or unfulfilled:
            line.refunded_unfulfilled += units
        elif kind == "RETURN":
            line.refunded_fulfilled += units
        else:  # NO_RESTOCK: Shopify takes fulfilled units first
            taken = min(units, line.kept)
            line.refunded_fulfilled += taken
            line.refunded_unfulfilled += units - taken
        refund.lines.append((self.catalog.gid("RefundLineItem"), line, units, kind))

    # --- resolvers -----------------------------------------------------------------------
    def root(self) -> dict[str, Any]:
        return {
            "orders": lambda info, **a: self._search(**a),
            "order": lambda info, id: self._view(self.by_id[id]) if id in self.by_id else None,
            "fulfillmentCreate": lambda info, fulfillment, message=None: self._create(
                fulfillment),
            "fulfillmentTrackingInfoUpdate": lambda info, **a: self._tracking_update(**a),
        }  # fmt: skip

    def _create(self, data: Row) -> Row:
        """fulfillmentCreate: the units of fulfillment order lines (each at most its
        remainingQuantity; every line of the order's one fulfillment order when none are
        named), with tracking info. userErrors as Shopify words them; all or nothing."""

        def refused(message: str, field: list[str] | None = None) -> Row:
            return {"fulfillment": None, "userErrors": [{"field": field, "message": message}]}

        groups = data["lineItemsByFulfillmentOrder"]
        by_fo = {o.fulfillment_order_id: o for o in self.by_id.values()}
        parts: list[tuple[Order, Line, int]] = []
        for i, group in enumerate(groups):
            order = by_fo.get(group["fulfillmentOrderId"])
            if order is None:
                return refused(
                    "Fulfillment order does not exist.",
                    ["fulfillment", "lineItemsByFulfillmentOrder", str(i)],
                )
            if order.cancelled_at is not None or order.fulfillment_order_status == "CLOSED":
                return refused("Fulfillment order is not in a fulfillable state.")
            items = group.get("fulfillmentOrderLineItems")
            if items is None:
                items = [
                    {"id": x.fulfillment_order_line_id, "quantity": x.unfulfilled}
                    for x in order.lines
                    if x.unfulfilled
                ]
            for item in items:
                line = next(
                    (x for x in order.lines if x.fulfillment_order_line_id == item["id"]), None
                )
                if line is None:
                    return refused(f"Fulfillment order line item {item['id']} does not exist.")
                if not 0 < item["quantity"] <= line.unfulfilled:
                    return refused(
                        f"Invalid fulfillment order line item quantity requested: "
                        f"{item['quantity']} of {line.unfulfilled} remaining."
                    )
                parts.append((order, line, item["quantity"]))
        if not parts or len({o.id for o, _, _ in parts}) != 1:
            return refused("Line items must belong to fulfillment orders of one order.")
        order = parts[0][0]
        tracking = data.get("trackingInfo") or {}
        fid = self.fulfill(
            order.id,
            {line.sku: units for _, line, units in parts},
            {k: tracking.get(k) for k in ("company", "number", "url")}
            if tracking.get("number") or tracking.get("company")
            else None,
        )
        fulfillment = next(f for f in order.fulfillments if f.id == fid)
        return {"fulfillment": self._fulfillment_view(fulfillment), "userErrors": []}

    def _tracking_update(
        self, fulfillmentId: str, trackingInfoInput: Row, notifyCustomer: bool | None = None
    ) -> Row:
        for order in self.by_id.values():
            for f in order.fulfillments:
                if f.id == fulfillmentId:
                    f.tracking = [
                        {k: trackingInfoInput.get(k) for k in ("company", "number", "url")}
                    ]
                    self._stamp(order)
                    return {"fulfillment": self._fulfillment_view(f), "userErrors": []}
        return {
            "fulfillment": None,
            "userErrors": [{"field": ["fulfillmentId"], "message": "Fulfillment does not exist."}],
        }

    def _search(
        self,
        sortKey: str = "PROCESSED_AT",
        reverse: bool = False,
        query: str | None = None,
        savedSearchId: str | None = None,
        **args: Any,
    ) -> Row:
        if savedSearchId is not None:
            raise GraphQLError("savedSearchId is not modelled by the test shop")
        keys: dict[str, Callable[[Order], list[Any]]] = {
            "UPDATED_AT": lambda o: [int(o.updated_at.timestamp()), o.legacy_id],
            "CREATED_AT": lambda o: [int(o.created_at.timestamp()), o.legacy_id],
            "PROCESSED_AT": lambda o: [int(o.created_at.timestamp()), o.legacy_id],
            "ID": lambda o: [o.legacy_id],
            "ORDER_NUMBER": lambda o: [o.number, o.legacy_id],
        }
        if sortKey not in keys:
            raise GraphQLError(f"sortKey {sortKey} is not modelled by the test shop")
        wanted = self._filter(query or "")
        rows = sorted(
            (o for o in self.by_id.values() if wanted(o)), key=keys[sortKey], reverse=reverse
        )
        return page(rows, keys[sortKey], self._view, args, reverse, f"orders/{sortKey}")

    def _filter(self, query: str) -> Callable[[Order], bool]:
        tests: list[Callable[[Order], bool]] = []
        at = 0
        while at < len(query):
            term = TERM.match(query, at)
            if term is None or term.end() == at:
                raise GraphQLError(
                    f"the test shop does not model the search {query[at:]!r} "
                    "(field:value terms joined by spaces or AND only)"
                )
            at = term.end()
            if not term["and"]:
                value = next(v for v in (term["sq"], term["dq"], term["bare"]) if v is not None)
                tests.append(self._term(term["field"], term["op"] or "", value))
        return lambda o: all(test(o) for test in tests)

    def _term(self, name: str, op: str, value: str) -> Callable[[Order], bool]:
        if name in TIME_FIELDS:
            start, end = self._instant(value)
            attr = TIME_FIELDS[name]
            compare: dict[str, Callable[[datetime], bool]] = {
                "": lambda t: start <= t < end, ">": lambda t: t >= end,
                ">=": lambda t: t >= start, "<": lambda t: t < start, "<=": lambda t: t < end,
            }  # fmt: skip
            return lambda o: compare[op](getattr(o, attr))
        if name == "id":
            number = int(value.rsplit("/", 1)[-1]) if value.rsplit("/", 1)[-1].isdigit() else -1
            ops: dict[str, Callable[[int], bool]] = {
                "": lambda n: n == number, ">": lambda n: n > number, ">=": lambda n: n >= number,
                "<": lambda n: n < number, "<=": lambda n: n <= number,
            }  # fmt: skip
            return lambda o: ops[op](o.legacy_id)
        if op:
            raise GraphQLError(f"the test shop does not model {name}:{op}")
        value = value.lower()
        if name == "name":
            return lambda o: o.name.lower() in (value, f"#{value}")
        if name == "financial_status":
            return lambda o: o.financial_status.lower() == value
        if name == "sku":
            return lambda o: any(line.sku.lower() == value for line in o.lines)
        if name == "status" and value in ("open", "closed", "cancelled", "not_closed"):
            return {
                "open": lambda o: o.closed_at is None and o.cancelled_at is None,
                "closed": lambda o: o.closed_at is not None,
                "cancelled": lambda o: o.cancelled_at is not None,
                "not_closed": lambda o: o.closed_at is None,
            }[value]
        raise GraphQLError(f"the test shop does not model the search term {name}:{value}")

    def _instant(self, value: str) -> tuple[datetime, datetime]:
        """The span a time value names: a second (a datetime, ``now``) or a day (a date)."""
        if value.lower() == "now":
            start = _aware(self.now(), "now()")
            return start, start + timedelta(seconds=1)
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                day = datetime.fromisoformat(value).replace(tzinfo=UTC)
                return day, day + timedelta(days=1)
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise GraphQLError(f"the test shop cannot read the time {value!r}") from None
        start = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
        if start.microsecond:  # between two whole seconds: no stamp equals it
            return start, start
        return start, start + timedelta(seconds=1)

    # --- views ---------------------------------------------------------------------------
    def _view(self, o: Order) -> Row:
        return {
            "id": o.id, "legacyResourceId": str(o.legacy_id), "name": o.name,
            "currencyCode": CURRENCY,
            "createdAt": iso(o.created_at), "processedAt": iso(o.created_at),
            "updatedAt": iso(o.updated_at), "cancelledAt": iso(o.cancelled_at),
            "cancelReason": o.cancel_reason, "closed": o.closed_at is not None,
            "closedAt": iso(o.closed_at), "displayFinancialStatus": o.financial_status,
            "displayFulfillmentStatus": o.fulfillment_status,
            "fullyPaid": o.financial_status not in UNPAID | {"PARTIALLY_PAID"},
            "unpaid": o.financial_status in UNPAID,
            "lineItems": lambda info, **a: positional(o.lines, self._line_view, a, "lines"),
            "refunds": lambda info, first=None: [self._refund_view(r) for r in
                                                 o.refunds[:first]],
            "fulfillments": lambda info, first=None: [self._fulfillment_view(f) for f in
                                                      o.fulfillments[:first]],
            "fulfillmentOrders": lambda info, **a: self._fulfillment_orders(o, **a),
        }  # fmt: skip

    def _line_view(self, line: Line) -> Row:
        variant = self.catalog.variants.get(line.variant or "")
        return {
            "id": line.id, "sku": line.sku, "name": line.name, "title": line.title,
            "variantTitle": line.variant_title, "quantity": line.quantity,
            "currentQuantity": line.current, "unfulfilledQuantity": line.unfulfilled,
            "refundableQuantity": line.current,
            "discountedTotalSet": _bag(Decimal(line.price) * line.quantity),
            "originalUnitPriceSet": _bag(Decimal(line.price)),
            "variant": self.catalog.variant_view(variant) if variant else None,
        }  # fmt: skip

    def _refund_view(self, r: Refund) -> Row:
        def node(part: tuple[str, Line, int, str]) -> Row:
            rid, line, units, kind = part
            return {
                "id": rid,
                "lineItem": self._line_view(line),
                "quantity": units,
                "restockType": kind,
                "restocked": kind in ("RETURN", "CANCEL"),
            }

        return {
            "id": r.id,
            "legacyResourceId": r.id.rsplit("/", 1)[1],
            "createdAt": iso(r.created_at),
            "updatedAt": iso(r.created_at),
            "note": None,
            "refundLineItems": lambda info, **a: positional(r.lines, node, a, "refund-lines"),
        }

    def _fulfillment_view(self, f: Fulfillment) -> Row:
        def node(part: tuple[str, Line, int]) -> Row:
            return {"id": part[0], "lineItem": self._line_view(part[1]), "quantity": part[2]}

        return {
            "id": f.id,
            "legacyResourceId": f.id.rsplit("/", 1)[1],
            "name": f.name,
            "status": "SUCCESS",
            "displayStatus": "FULFILLED",
            "requiresShipping": True,
            "createdAt": iso(f.created_at),
            "updatedAt": iso(f.created_at),
            "totalQuantity": sum(part[2] for part in f.lines),
            "trackingInfo": lambda info, first=None: [dict(t) for t in f.tracking[:first]],
            "fulfillmentLineItems": lambda info, **a: positional(
                f.lines, node, a, "fulfillment-lines"
            ),
        }

    def _fulfillment_orders(
        self, o: Order, query: str | None = None, displayable: bool = False, **args: Any
    ) -> Row:
        if query:
            raise GraphQLError("fulfillmentOrders(query:) is not modelled by the test shop")

        def node(line: Line) -> Row:
            variant = self.catalog.variants.get(line.variant or "")
            return {
                "id": line.fulfillment_order_line_id,
                "lineItem": self._line_view(line),
                "sku": line.sku,
                "remainingQuantity": line.unfulfilled,
                "totalQuantity": line.unfulfilled + line.kept,
                "variant": self.catalog.variant_view(variant) if variant else None,
            }

        view = {
            "id": o.fulfillment_order_id,
            "status": o.fulfillment_order_status,
            "createdAt": iso(o.created_at),
            "updatedAt": iso(o.updated_at),
            "lineItems": lambda info, **a: positional(o.lines, node, a, "fo-lines"),
        }
        return positional([view], lambda v: v, args, "fulfillment-orders")


def _bag(amount: Decimal) -> Row:
    """A MoneyBag in the shop's currency (presentment the same)."""
    money = {"amount": str(amount.quantize(Decimal("0.01"))), "currencyCode": CURRENCY}
    return {"shopMoney": money, "presentmentMoney": dict(money)}


def positional(
    rows: Sequence[Any], view: Callable[[Any], Row], args: Mapping[str, Any], tag: str
) -> Row:
    """A connection over a list kept in its own order (``reverse`` turns it round)."""
    ordered = list(enumerate(rows))
    reverse = bool(args.get("reverse"))
    if reverse:
        ordered.reverse()
    return page(ordered, lambda p: [p[0]], lambda p: view(p[1]), args, reverse, tag)


def page(
    rows: list[Any],
    key: Callable[[Any], list[Any]],
    view: Callable[[Any], Row],
    args: Mapping[str, Any],
    descending: bool,
    tag: str,
) -> Row:
    """A Relay connection page over ``rows`` (sorted by ``key``, ``descending`` or not) with
    Shopify's rules: first or last is required, at most 250; cursors are opaque and carry the
    row's key, so ``after``/``before`` resume after/before that key even if rows moved."""
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last")
    for name, size in (("first", first), ("last", last)):
        if size is not None and not 0 <= size <= MAX_PAGE:
            raise GraphQLError(f"{name} must be between 0 and {MAX_PAGE} (got {size})")
    keys = [key(r) for r in rows]
    lo, hi = 0, len(rows)
    if args.get("after"):
        mark = _decode(args["after"], tag)
        lo = next(
            (i for i, k in enumerate(keys) if (k < mark if descending else k > mark)), len(rows)
        )
    if args.get("before"):
        mark = _decode(args["before"], tag)
        hi = next(
            (i for i, k in enumerate(keys) if (k <= mark if descending else k >= mark)), len(rows)
        )
    hi = max(lo, hi)
    start, end = lo, hi if first is None else min(hi, lo + first)
    if last is not None:
        start = max(start, end - last)
    cursors = [_encode(tag, keys[i]) for i in range(start, end)]
    nodes = [view(rows[i]) for i in range(start, end)]
    return {
        "nodes": nodes,
        "edges": [{"cursor": c, "node": n} for c, n in zip(cursors, nodes, strict=True)],
        "pageInfo": {
            "hasNextPage": end < len(rows), "hasPreviousPage": start > 0,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }  # fmt: skip


def _encode(tag: str, key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps([tag, *key]).encode()).decode()


def _decode(cursor: str, tag: str) -> list[Any]:
    try:
        found = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error):
        found = None
    if not isinstance(found, list) or not found or found[0] != tag:
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor!r}")
    return found[1:]
