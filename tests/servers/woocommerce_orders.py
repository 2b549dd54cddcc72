"""The shop's orders and their refunds, behind the WooCommerce test server
(tests/servers/woocommerce.py): their state, the calls a test makes to place and change them
(``shop.orders.add``, ``.set_status``, ``.edit``, ``.refund``, ``.delete``) and the answers of
``GET orders``, ``orders/<id>``, ``orders/<id>/refunds`` and ``orders/<id>/refunds/<refund_id>``,
``PUT orders/<id>`` (``status`` and ``meta_data``: what a shipment writes; other writable
fields are refused as unsupported) and ``GET``/``POST orders/<id>/notes``, written from
``../shared/specs/woocommerce/rest-api-docs/_orders.md``, ``_order-refunds.md`` and
``_order-notes.md``. Where the docs are silent, WooCommerce core's behaviour is modelled and
marked "core:" (CPT order storage, WP_Query/WP_Date_Query underneath).

Objects are the docs' (all documented order fields; money as strings with ``dp`` decimals, 2 by
default; no taxes, shipping, fees or coupons, so ``total`` is the sum of the lines). Dates are
the docs' format, ``2017-03-22T16:28:02`` without a zone, in the site's timezone (``timezone``,
by default UTC-3 as in the docs' examples, where 16:28:02 local is 19:28:02 GMT) or, for the
``_gmt`` fields, in GMT. An order's ``refunds`` is the docs' summary, newest first: ``{"id",
"reason", "total": "-10.00"}`` (the table's ``reason``; one example of the docs says
``refund``). A refund's ``line_items`` have negative quantities and totals and the meta
``_refunded_item_id`` (the order's line item id, a string), as the docs' example shows.

Stock, as the docs say (``set_paid`` reduces stock; ``api_restock`` restocks the refunded lines)
and as core does it: entering processing, completed or on-hold reduces the stock of every line
whose product (or variation, or the variation's parent when only the parent manages stock)
manages stock, once per order, and marks the line item with meta ``_reduced_stock`` (units
taken); cancelled or pending gives back what ``_reduced_stock`` holds and removes it; an edit
of a line in processing/completed/on-hold moves stock by the difference. A refund with
``restock`` puts back its units only on lines with ``_reduced_stock`` (decreased by them) and
adds them to line meta ``_restock_refunded_items``. What a client can read afterwards is that
line item meta in ``GET orders/<id>`` (core: the REST answer carries every line item meta, the
underscored ones too) and the products' ``stock_quantity``: the docs themselves document
``api_restock`` as write-only and nothing readable about it, and the refund object carries no
trace of it. A refund that leaves nothing to refund makes the order ``refunded``; setting
``refunded`` refunds what is left in one refund without lines, "Order fully refunded." (core).

Notes: a status change adds core's internal note ("Order status changed from Processing to
Completed."); ``GET notes`` lists every note, newest first, without paging (core), ``type``
any/customer/internal; ``customer_notes(order)`` is what the buyer was mailed.

Every change (add, status change, edit, refund, PUT) stamps the order's ``date_modified`` from
``now`` (injectable: aware datetimes; whole seconds): stamps strictly increase across the shop,
a second after the last one when the clock has not moved, because clients poll with
``modified_after``. ``add`` may override ``date_created_gmt``/``date_modified_gmt`` (a late
order, older than what a client has already read).

Lists (core: WP_Query and WP_Date_Query): ``after``/``before`` (date_created) and
``modified_after``/``modified_before`` are exclusive (``>``, ``<``; the docs say only "after"
and "before"), compared to whole seconds in the site's time, or in GMT with ``dates_are_gmt``.
A value without a zone is read in that frame; a value with one (``Z``, ``+02:00``) is first
converted to the site's local time, even with ``dates_are_gmt`` (WP_Date_Query does so), so
with ``dates_are_gmt`` send GMT without a zone. ``status`` ``any`` (the default) leaves out
``trash`` (core). Documented parameters the shop does not apply (``search``; for refunds also
``parent``, ``parent_exclude``) are refused with HTTP 400 ``woo_test_server_unsupported``, so a
test never relies on a filter the shop ignores; undocumented ones are ignored, as WordPress
ignores them.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from tests.servers.woocommerce_shop import Json, WooError, WooShop

STATUSES = (
    "pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "trash",
)  # fmt: skip
ORDERBY = ("date", "id", "include", "title", "slug")  # the docs' enum: no "modified"
SITE_TZ = timezone(timedelta(hours=-3))  # the docs' examples: 16:28:02 local is 19:28:02 GMT
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
VERSION = "8.6.1"  # "Version of WooCommerce which last updated the order"
REDUCING = ("processing", "completed", "on-hold")  # core: wc_maybe_reduce_stock_levels
RESTORING = ("cancelled", "pending")  # core: wc_maybe_increase_stock_levels
PAID = ("processing", "completed")  # core: woocommerce_order_is_paid_statuses
FULLY_REFUNDED = "Order fully refunded."
ADDRESS = ("first_name", "last_name", "company", "address_1", "address_2", "city", "state",
           "postcode", "country")  # fmt: skip
# WordPress's rest_parse_date(): what a date-time parameter must look like
DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,]\d+)?"
    r"(?:(?P<z>[Zz])|(?P<sign>[+-])(?P<hh>\d{2})(?::(?P<mm>\d{2}))?)?"
)


# the order properties of the docs' table that a request may write (the rest are read-only)
ORDER_FIELDS = (
    "parent_id", "status", "currency", "customer_id", "customer_note", "billing", "shipping",
    "payment_method", "payment_method_title", "transaction_id", "meta_data", "line_items",
    "shipping_lines", "fee_lines", "coupon_lines", "set_paid",
)  # fmt: skip


def _label(status: str) -> str:
    """core: wc_get_order_status_name ("on-hold" -> "On hold")."""
    return {"pending": "Pending payment", "on-hold": "On hold"}.get(status, status.capitalize())


def utc_now() -> datetime:
    return datetime.now(UTC)


def _aware(at: datetime, what: str) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"{what} must be an aware datetime, not {at!r}")
    return at.astimezone(UTC).replace(microsecond=0)


def _money(value: Decimal, dp: int) -> str:
    """wc_format_decimal(value, dp): fixed ``dp`` decimals."""
    return str(value.quantize(Decimal(1).scaleb(-dp), rounding=ROUND_HALF_UP))


def _number(value: Decimal) -> int | float:
    """A JSON number, as the docs' ``"price": 3``."""
    return int(value) if value == value.to_integral_value() else float(value)


@dataclass
class Line:
    """A line item of an order. ``meta`` is its meta data ({id, key, value}, values strings)."""

    id: int
    sku: str  # as ordered; the answer shows the product's current SKU while it exists
    name: str
    product_id: int
    variation_id: int
    quantity: int
    price: Decimal
    meta: list[Json] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return self.price * self.quantity

    def meta_value(self, key: str) -> str | None:
        return next((m["value"] for m in self.meta if m["key"] == key), None)

    def meta_int(self, key: str) -> int:
        """The meta as a number, 0 when absent (PHP reads "0" and "" as false, as this 0)."""
        return int(self.meta_value(key) or 0)


@dataclass
class RefundLine:
    """A refund's line item: ``units`` of the order's ``line`` for ``amount``."""

    id: int
    line: Line
    units: int
    amount: Decimal
    meta_id: int  # of its _refunded_item_id


@dataclass
class Refund:
    """An order refund (``lines``: its line items, none for an amount alone)."""

    id: int
    order_id: int
    created: datetime
    amount: Decimal
    reason: str
    restock: bool  # api_restock, as sent: write-only, never in an answer
    refunded_payment: bool
    lines: list[RefundLine] = field(default_factory=list)


@dataclass
class Note:
    """An order note (core: a comment on the order). ``customer_note``: shown and mailed to
    the buyer; ``author`` "system" unless added by the API user."""

    id: int
    created: datetime
    note: str
    customer_note: bool
    author: str = "system"


@dataclass
class Order:
    id: int
    order_key: str
    status: str
    currency: str
    created: datetime
    modified: datetime
    paid: datetime | None = None
    completed: datetime | None = None
    customer_id: int = 0
    parent_id: int = 0
    stock_reduced: bool = False  # core: _order_stock_reduced, internal (not in the answers)
    lines: list[Line] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)  # oldest first
    meta: list[Json] = field(default_factory=list)  # the order's meta_data ({id, key, value})
    notes: list[Note] = field(default_factory=list)  # oldest first

    @property
    def total(self) -> Decimal:
        return sum((line.total for line in self.lines), Decimal(0))

    @property
    def refunded(self) -> Decimal:
        return sum((r.amount for r in self.refunds), Decimal(0))

    def refunded_units(self, line: Line) -> int:
        return sum(x.units for r in self.refunds for x in r.lines if x.line is line)

    def line(self, sku: str) -> Line | None:
        return next((x for x in self.lines if x.sku == sku), None)


@dataclass
class Page:
    """One page of a list answer; tests/servers/woocommerce.py turns it into the body and the
    ``X-WP-Total``, ``X-WP-TotalPages`` and ``Link`` headers."""

    rows: list[Json]
    total: int
    pages: int
    page: int


@dataclass
class Created:
    """The answer of a create: HTTP 201 with ``body`` (core: ``$response->set_status(201)``)."""

    body: Json


class _Params:
    """A request's documented parameters, checked as WordPress checks them: every bad one is
    named in one HTTP 400 ``rest_invalid_param``."""

    def __init__(self, query: Mapping[str, str]) -> None:
        self.query = query
        self.bad: dict[str, str] = {}

    def given(self, name: str) -> bool:
        return name in self.query

    def integer(self, name: str, default: int | None, lo: int | None = None,
                hi: int | None = None) -> int | None:  # fmt: skip
        if name not in self.query:
            return default
        try:
            number = Decimal(self.query[name].strip())
            if number != number.to_integral_value():
                raise InvalidOperation
        except InvalidOperation:
            self.bad[name] = f"{name} is not of type integer."
            return default
        value = int(number)
        if lo is not None and hi is not None and not lo <= value <= hi:
            self.bad[name] = f"{name} must be between {lo} (inclusive) and {hi} (inclusive)"
        elif lo is not None and value < lo:
            self.bad[name] = f"{name} must be greater than or equal to {lo}"
        return value

    def boolean(self, name: str) -> bool:
        value = self.query.get(name, "false").lower()
        if value not in ("true", "false", "1", "0"):
            self.bad[name] = f"{name} is not of type boolean."
        return value in ("true", "1")

    def enum(self, name: str, options: Sequence[str], default: str) -> str:
        value = self.query.get(name, default)
        if value not in options:
            self.bad[name] = f"{name} is not one of {', '.join(options)}."
        return value

    def items(self, name: str) -> list[str]:
        """An array parameter: ``a,b`` (wp_parse_list) or ``name[]=a&name[]=b``."""
        return [v for v in re.split(r"[\s,]+", self.query.get(name, "")) if v]

    def ids(self, name: str) -> list[int] | None:
        if name not in self.query:
            return None
        values = self.items(name)
        for i, value in enumerate(values):
            if not value.isdigit():
                self.bad[name] = f"{name}[{i}] is not of type integer."
                return None
        return [int(v) for v in values]

    def statuses(self) -> list[str]:
        values = self.items("status") or ["any"]
        for i, value in enumerate(values):
            if value not in ("any", *STATUSES):
                self.bad["status"] = f"status[{i}] is not one of {', '.join(('any', *STATUSES))}."
        return values

    def date(self, name: str) -> datetime | None:
        """A date-time parameter: naive, or aware when it names its zone."""
        if name not in self.query:
            return None
        found = DATE_TIME.fullmatch(self.query[name])
        try:
            if found is None:
                raise ValueError
            year, month, day, hour, minute, second = (int(found[i]) for i in range(1, 7))
            at = datetime(year, month, day, hour, minute, second)
        except ValueError:
            self.bad[name] = "Invalid date."
            return None
        if found["z"]:
            return at.replace(tzinfo=UTC)
        if found["sign"]:
            offset = timedelta(hours=int(found["hh"]), minutes=int(found["mm"] or 0))
            return at.replace(tzinfo=timezone(offset if found["sign"] == "+" else -offset))
        return at

    def refuse(self, *names: str) -> None:
        """Documented parameters the test shop does not apply."""
        for name in names:
            if name in self.query:
                raise WooError(
                    "woo_test_server_unsupported",
                    f"{name} is documented but this test shop does not apply it", 400,
                )  # fmt: skip

    def check(self) -> None:
        if self.bad:
            raise WooError(
                "rest_invalid_param", f"Invalid parameter(s): {', '.join(self.bad)}",
                params=self.bad,
            )  # fmt: skip


class WooOrders:
    """The shop's orders: the test-facing calls, and the answers of the order routes."""

    def __init__(
        self, shop: WooShop, now: Callable[[], datetime] | None = None,
        tz: tzinfo = SITE_TZ, lock: threading.RLock | None = None,
    ) -> None:  # fmt: skip
        """``shop``: the products and variations lines refer to (and whose stock moves);
        ``now``: the clock (aware datetimes; real UTC time by default); ``tz``: the site's
        timezone; ``lock``: the server's, held by every change."""
        self.shop = shop
        self.now: Callable[[], datetime] = now or utc_now  # reassign freely in a test
        self.timezone: tzinfo = tz
        self.lock = lock or threading.RLock()
        self.by_id: dict[int, Order] = {}
        self._items = itertools.count(300)  # order item ids: their own table
        self._notes = itertools.count(280)  # note ids (core: comment ids)
        self._metas = itertools.count(2000)  # meta ids
        self._last = EPOCH  # the latest stamp handed out: the next one is later

    # --- test-facing calls ---------------------------------------------------------------
    def add(
        self,
        lines: Iterable[tuple[str, int] | tuple[str, int, str]] | Mapping[str, int],
        *,
        status: str = "processing",
        date_created_gmt: datetime | None = None,
        date_modified_gmt: datetime | None = None,
        currency: str = "USD",
    ) -> int:
        """A new order of ``(sku, quantity)`` lines (or ``(sku, quantity, price)``); returns
        its id. A line's product_id/variation_id, name and price are the shop's product or
        variation with that SKU, else 0, the SKU and "0". Entering ``status`` does what it
        does (processing/completed/on-hold reduce stock; processing/completed set date_paid;
        completed sets date_completed)."""
        pairs: list[tuple[Any, ...]] = (
            list(lines.items()) if isinstance(lines, Mapping) else [tuple(x) for x in lines]
        )
        skus = [x[0] for x in pairs]
        if not pairs or len(set(skus)) < len(skus) or any(int(x[1]) <= 0 for x in pairs):
            raise ValueError(
                f"an order needs lines of distinct SKUs and positive quantities, not {pairs!r}"
            )
        self._check_status(status)
        with self.lock:
            if date_created_gmt is None and date_modified_gmt is None:
                created = modified = self._stamp(None)
            else:
                given = date_created_gmt if date_created_gmt is not None else date_modified_gmt
                assert given is not None
                created = _aware(given, "date_created_gmt")
                modified = (
                    created
                    if date_modified_gmt is None
                    else _aware(date_modified_gmt, "date_modified_gmt")
                )
                if modified < created:
                    raise ValueError("date_modified_gmt is before date_created_gmt")
                self._last = max(self._last, modified)
            order_id = self.shop._id()  # core (CPT): orders are posts, ids shared with products
            key = hashlib.sha1(f"order-{order_id}".encode()).hexdigest()[:13]
            order = Order(order_id, f"wc_order_{key}", "pending", currency, created, modified)
            for sku, quantity, *price in pairs:
                order.lines.append(self._new_line(str(sku), int(quantity), *price))
            self.by_id[order.id] = order
            self._enter(order, status, created)
            if status == "completed":
                order.completed = modified
            return order.id

    def order(self, order_id: int) -> Order:
        """The order's state (read it; change it only through the calls here)."""
        try:
            return self.by_id[order_id]
        except KeyError:
            raise ValueError(f"no order {order_id!r}") from None

    def set_status(self, order_id: int, status: str) -> None:
        """The order's status becomes ``status`` (any of the eight; the same one changes
        nothing), with what core does on entering it: stock (see the module docstring),
        date_paid, date_completed, and for ``refunded`` one refund of what is left."""
        self._check_status(status)
        with self.lock:
            order = self.order(order_id)
            if status != order.status:
                self._enter(order, status, self._stamp(order))

    def delete(self, order_id: int) -> None:
        """The order is deleted for good (``DELETE orders/<id>?force=true``): every route then
        answers 404 for it."""
        with self.lock:
            self.order(order_id)
            del self.by_id[order_id]

    def customer_notes(self, order_id: int) -> list[str]:
        """The texts of the order's customer notes (each one mailed to the buyer), oldest
        first."""
        with self.lock:
            return [n.note for n in self.order(order_id).notes if n.customer_note]

    def edit(self, order_id: int, sku: str, quantity: int) -> None:
        """The line with ``sku`` gets ``quantity`` units (0 removes it; a SKU the order does
        not have becomes a new line), as an edit in the admin does: totals follow, and in
        processing/completed/on-hold the stock moves by the difference (core:
        wc_maybe_adjust_line_item_product_stock)."""
        with self.lock:
            order = self.order(order_id)
            line = order.line(sku)
            if quantity < 0:
                raise ValueError("an edit cannot set a negative quantity")
            if line is None:
                if quantity == 0:
                    raise ValueError(f"order {order_id} has no line with SKU {sku!r}")
                line = self._new_line(sku, quantity)
                order.lines.append(line)
            elif quantity < order.refunded_units(line):
                raise ValueError(f"{sku}: {order.refunded_units(line)} units are refunded")
            if quantity == 0:  # core: a removed line gives back what it took, whatever the status
                self._adjust_stock(order, line, 0)
                order.lines.remove(line)
            else:
                line.quantity = quantity
                if order.status in REDUCING:
                    self._adjust_stock(order, line, quantity)
            self._stamp(order)

    def refund(
        self,
        order_id: int,
        lines: Mapping[str, int] | Iterable[tuple[str, int]],
        *,
        restock: bool = True,
        amount: Decimal | str | None = None,
        reason: str = "",
        refunded_payment: bool = False,
    ) -> int:
        """One refund of ``{sku: units}`` (``restock`` as ``api_restock``, whose documented
        default is true); returns its id. ``amount`` is by default what the units cost; it
        may not exceed what is left to refund. With ``restock``, units go back to stock on
        lines whose stock was reduced (see the module docstring). A refund that leaves nothing
        to refund makes the order ``refunded`` (core)."""
        parts = list(lines.items()) if isinstance(lines, Mapping) else list(lines)
        with self.lock:
            order = self.order(order_id)
            taken = []
            for sku, units in parts:
                line = order.line(sku)
                if line is None:
                    raise ValueError(f"order {order_id} has no line with SKU {sku!r}")
                room = line.quantity - order.refunded_units(line)
                if not 0 < units <= room:
                    raise ValueError(f"{sku}: cannot refund {units} units (at most {room})")
                taken.append((line, units, line.price * units))
            value = sum((t[2] for t in taken), Decimal(0)) if amount is None else Decimal(amount)
            left = order.total - order.refunded
            if not (taken or value) or not Decimal(0) <= value <= left:
                raise ValueError(f"Invalid refund amount: {value} (left to refund: {left})")
            items_left = sum(x.quantity for x in order.lines) - sum(
                x.units for r in order.refunds for x in r.lines
            )
            at = self._stamp(order)
            refund = Refund(self.shop._id(), order.id, at, value, reason, restock,
                            refunded_payment)  # fmt: skip
            refund.lines = [
                RefundLine(next(self._items), line, units, cost, next(self._metas))
                for line, units, cost in taken
            ]
            order.refunds.append(refund)
            if restock:
                for line, units, _ in taken:
                    self._restock(line, units)
            units = sum(t[1] for t in taken)
            free = any(not x.total for x in order.lines)  # core: has_free_item()
            partial = left - value > 0 or (free and items_left - units > 0)
            if not partial and order.status != "refunded":
                self._enter(order, "refunded", at)
            return refund.id

    # --- state changes ---------------------------------------------------------------------
    def _stamp(self, order: Order | None) -> datetime:
        """The time of a change: ``now`` in whole seconds, later than every stamp before."""
        at = _aware(self.now(), "now()")
        floor = self._last if order is None else max(self._last, order.modified)
        if at <= floor:
            at = floor + timedelta(seconds=1)
        self._last = at
        if order is not None:
            order.modified = at
        return at

    @staticmethod
    def _check_status(status: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")

    def _enter(self, order: Order, status: str, at: datetime) -> None:
        """Core's status transition: date_paid, date_completed, stock, a full refund, and the
        internal note saying so."""
        before, order.status = order.status, status
        if before != status:  # core: "Order status changed from Processing to Completed."
            text = f"Order status changed from {_label(before)} to {_label(status)}."
            order.notes.append(Note(next(self._notes), at, text, False))
        if status in PAID and order.paid is None:
            order.paid = at
        if status == "completed":
            order.completed = at
        if status in REDUCING and not order.stock_reduced:  # core: wc_reduce_stock_levels
            for line in order.lines:
                target = self._stock_of(line)
                if target is None or line.meta_int("_reduced_stock"):
                    continue
                self._move_stock(target, -line.quantity)
                self._set_meta(line, "_reduced_stock", line.quantity)
            order.stock_reduced = True
        if status in RESTORING and order.stock_reduced:  # core: wc_increase_stock_levels
            for line in order.lines:
                target, reduced = self._stock_of(line), line.meta_int("_reduced_stock")
                if target is None or not reduced:
                    continue
                self._move_stock(target, reduced)
                line.meta = [m for m in line.meta if m["key"] != "_reduced_stock"]
            order.stock_reduced = False
        left = order.total - order.refunded
        if status == "refunded" and left > 0:  # core: wc_order_fully_refunded
            refund = Refund(self.shop._id(), order.id, at, left, FULLY_REFUNDED, False, False)
            order.refunds.append(refund)

    def _adjust_stock(self, order: Order, line: Line, quantity: int) -> None:
        """core: wc_maybe_adjust_line_item_product_stock(item, quantity)."""
        target = self._stock_of(line)
        if target is None:
            return
        reduced = line.meta_int("_reduced_stock")
        restocked = line.meta_int("_restock_refunded_items")
        diff = -reduced if quantity == 0 else quantity - restocked - reduced
        if diff:
            self._move_stock(target, -diff)
            self._set_meta(line, "_reduced_stock", quantity - restocked)
            order.stock_reduced = order.stock_reduced or quantity > 0

    def _restock(self, line: Line, units: int) -> None:
        """core: wc_restock_refunded_items, for one line."""
        target, reduced = self._stock_of(line), line.meta_int("_reduced_stock")
        if target is None or not reduced:
            return
        self._move_stock(target, units)
        self._set_meta(line, "_reduced_stock", reduced - units)
        restocked = line.meta_int("_restock_refunded_items")
        self._set_meta(line, "_restock_refunded_items", restocked + units)

    def _stock_of(self, line: Line) -> Json | None:
        """The product or variation whose stock the line moves, if it manages stock (core: a
        variation that does not manage its own uses its parent's)."""
        obj = self.shop.posts.get(line.variation_id or line.product_id)
        if obj is not None and not obj.get("manage_stock") and line.variation_id:
            obj = self.shop.posts.get(line.product_id)
        return obj if obj is not None and obj.get("manage_stock") else None

    @staticmethod
    def _move_stock(obj: Json, delta: int) -> None:
        obj["stock_quantity"] = (obj.get("stock_quantity") or 0) + delta
        if obj["stock_quantity"] > 0:
            obj["stock_status"] = "instock"
        else:  # core: validate_props()
            backorders = obj.get("backorders", "no") != "no"
            obj["stock_status"] = "onbackorder" if backorders else "outofstock"

    def _set_meta(self, line: Line, key: str, value: int | str) -> None:
        found = next((m for m in line.meta if m["key"] == key), None)
        if found is None:
            line.meta.append({"id": next(self._metas), "key": key, "value": str(value)})
        else:
            found["value"] = str(value)

    def _new_line(self, sku: str, quantity: int, price: Any = None) -> Line:
        if quantity <= 0:
            raise ValueError(f"{sku}: a line needs a positive quantity, not {quantity}")
        obj = self.shop.by_sku(sku)
        product_id = variation_id = 0
        name, meta = sku, []
        if obj is not None and obj["id"] in self.shop.parent_of:
            parent = self.shop.posts[self.shop.parent_of[obj["id"]]]
            product_id, variation_id = parent["id"], obj["id"]
            options = [a["option"] for a in obj["attributes"] if a.get("option")]
            name = " - ".join(x for x in (parent["name"], ", ".join(options)) if x) or sku
            for a in obj["attributes"]:  # as the docs' example: pa_color=black, size=M Test
                slug = re.sub(r"[^a-z0-9]+", "-", a["name"].lower()).strip("-")
                key = f"pa_{slug}" if a["id"] else slug
                value = a["option"].lower().replace(" ", "-") if a["id"] else a["option"]
                meta.append({"id": next(self._metas), "key": key, "value": value})
        elif obj is not None:
            product_id, name = obj["id"], obj["name"] or sku
        if price is None:
            price = (obj or {}).get("price") or "0"
        return Line(next(self._items), sku, name, product_id, variation_id, quantity,
                    Decimal(str(price)), meta)  # fmt: skip

    # --- answers ---------------------------------------------------------------------------
    def list_orders(self, query: Mapping[str, str], base: str) -> Page:
        """GET /orders."""
        p = _Params(query)
        p.refuse("search")
        statuses = p.statuses()
        customer = p.integer("customer", None)
        product = p.integer("product", None)
        parent, parent_exclude = p.ids("parent"), p.ids("parent_exclude")
        with self.lock:
            rows = [
                o
                for o in self.by_id.values()
                if (o.status != "trash" if "any" in statuses else o.status in statuses)
                and (customer is None or o.customer_id == customer)
                and (product is None or any(x.product_id == product for x in o.lines))
                and (parent is None or o.parent_id in parent)
                and (parent_exclude is None or o.parent_id not in parent_exclude)
            ]
            return self._page(p, rows, lambda o: (o.created, o.modified), self._order_json, base)

    def order_json(self, order_id: int, query: Mapping[str, str], base: str) -> Json:
        """GET /orders/<id>."""
        p = _Params(query)
        dp = self._dp(p)
        p.check()
        with self.lock:
            order = self.by_id.get(order_id)
            if order is None:
                raise WooError("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
            return self._order_json(order, dp, base)

    def update_order(self, order_id: int, body: Any, base: str) -> Json:
        """PUT /orders/<id>: the fields a shipment changes, ``status`` (entered as core does)
        and ``meta_data`` (core: update_meta_data, by ``id`` or else by ``key``). Any other
        documented field is refused as unsupported here; an undocumented one is not writable."""
        if not isinstance(body, dict):
            raise WooError("rest_invalid_json", "Invalid JSON body passed.")
        bad = {k: f"{k} is not a writable property." for k in body if k not in ORDER_FIELDS}
        if bad:
            raise WooError(
                "rest_invalid_param", f"Invalid parameter(s): {', '.join(bad)}", params=bad
            )
        unsupported = sorted(set(body) - {"status", "meta_data"})
        if unsupported:
            raise WooError(
                "woo_test_server_unsupported",
                f"{unsupported[0]} is documented but this test shop does not apply it",
                400,
            )
        status, meta = body.get("status"), body.get("meta_data", [])
        if "status" in body and status not in STATUSES:
            message = f"status is not one of {', '.join(STATUSES)}."
            raise WooError(
                "rest_invalid_param", "Invalid parameter(s): status", params={"status": message}
            )
        if not isinstance(meta, list) or not all(
            isinstance(m, dict)
            and set(m) <= {"id", "key", "value"}
            and isinstance(m.get("key"), str)
            and isinstance(m.get("value"), str)
            for m in meta
        ):
            message = "meta_data items are {id, key, value}, key and value strings"
            raise WooError(
                "rest_invalid_param",
                "Invalid parameter(s): meta_data",
                params={"meta_data": message},
            )
        with self.lock:
            order = self.by_id.get(order_id)
            if order is None:  # core: WC_REST_CRUD_Controller::update_item says 400
                raise WooError("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 400)
            for m in meta:
                found = next(
                    (
                        x
                        for x in order.meta
                        if ("id" in m and x["id"] == m["id"])
                        or ("id" not in m and x["key"] == m["key"])
                    ),
                    None,
                )
                if found is None:
                    order.meta.append(
                        {"id": next(self._metas), "key": m["key"], "value": m["value"]}
                    )
                else:
                    found.update(key=m["key"], value=m["value"])
            at = self._stamp(order)
            if status is not None and status != order.status:
                self._enter(order, status, at)
            return self._order_json(order, 2, base)

    def list_notes(self, order_id: int, query: Mapping[str, str], base: str) -> list[Json]:
        """GET /orders/<id>/notes (core: every note, newest first, no paging)."""
        p = _Params(query)
        p.enum("context", ("view", "edit"), "view")
        kind = p.enum("type", ("any", "customer", "internal"), "any")
        p.check()
        with self.lock:
            order = self._noted(order_id)
            notes = [
                n
                for n in reversed(order.notes)
                if kind == "any" or n.customer_note == (kind == "customer")
            ]
            return [self._note_json(order, n, base) for n in notes]

    def add_note(self, order_id: int, body: Any, base: str) -> Created:
        """POST /orders/<id>/notes: ``note`` (mandatory), ``customer_note``, ``added_by_user``."""
        if not isinstance(body, dict):
            raise WooError("rest_invalid_json", "Invalid JSON body passed.")
        writable = {"note": str, "customer_note": bool, "added_by_user": bool}
        bad = {k: f"{k} is not a writable property." for k in body if k not in writable}
        bad |= {
            k: f"{k} is not of type {'string' if t is str else 'boolean'}."
            for k, t in writable.items()
            if k in body and not isinstance(body[k], t)
        }
        if bad:
            raise WooError(
                "rest_invalid_param", f"Invalid parameter(s): {', '.join(bad)}", params=bad
            )
        if not body.get("note"):
            raise WooError(
                "rest_missing_callback_param", "Missing parameter(s): note", params=["note"]
            )
        with self.lock:
            order = self._noted(order_id)
            author = "admin" if body.get("added_by_user") else "system"
            note = Note(
                next(self._notes),
                self._stamp(None),
                body["note"],
                bool(body.get("customer_note")),
                author,
            )
            order.notes.append(note)
            return Created(self._note_json(order, note, base))

    def _noted(self, order_id: int) -> Order:
        order = self.by_id.get(order_id)
        if order is None:  # core: WC_REST_Order_Notes_Controller
            raise WooError("woocommerce_rest_shop_order_invalid_id", "Invalid order ID.", 404)
        return order

    def _note_json(self, order: Order, n: Note, base: str) -> Json:
        up = f"{base}/wp-json/wc/v3/orders/{order.id}"
        return {
            "id": n.id,
            "author": n.author,
            "date_created": self._local(n.created),
            "date_created_gmt": self._gmt(n.created),
            "note": n.note,
            "customer_note": n.customer_note,
            "_links": {
                "self": [{"href": f"{up}/notes/{n.id}"}],
                "collection": [{"href": f"{up}/notes"}],
                "up": [{"href": up}],
            },
        }

    def list_refunds(self, order_id: int, query: Mapping[str, str], base: str) -> Page:
        """GET /orders/<id>/refunds (core: an unknown order has no refunds: [])."""
        p = _Params(query)
        p.refuse("search", "parent", "parent_exclude")
        with self.lock:
            order = self.by_id.get(order_id)
            rows = list(order.refunds) if order else []
            return self._page(p, rows, lambda r: (r.created, r.created), self._refund_json, base)

    def refund_json(self, order_id: int, refund_id: int, query: Mapping[str, str],
                    base: str) -> Json:  # fmt: skip
        """GET /orders/<id>/refunds/<refund_id>."""
        p = _Params(query)
        dp = self._dp(p)
        p.check()
        with self.lock:
            refunds = {r.id: r for o in self.by_id.values() for r in o.refunds}
            if refund_id not in refunds:
                code = "woocommerce_rest_shop_order_refund_invalid_id"
                raise WooError(code, "Invalid ID.", 404)
            if order_id not in self.by_id:
                raise WooError("woocommerce_rest_invalid_order_id", "Invalid order ID.", 404)
            if refunds[refund_id].order_id != order_id:
                code = "woocommerce_rest_invalid_order_refund_id"
                raise WooError(code, "Invalid order refund ID.", 404)
            return self._refund_json(refunds[refund_id], dp, base)

    def _dp(self, p: _Params) -> int:
        p.enum("context", ("view", "edit"), "view")
        return p.integer("dp", 2, lo=0) or 0

    def _page(
        self,
        p: _Params,
        rows: Sequence[Any],
        dates: Callable[[Any], tuple[datetime, datetime]],
        view: Callable[[Any, int, str], Json],
        base: str,
    ) -> Page:
        """The shared list parameters (core: WC_REST_CRUD_Controller::prepare_objects_query)
        over ``rows`` (orders or refunds; ``dates`` gives created and modified)."""
        page = p.integer("page", 1, lo=1) or 1
        per_page = p.integer("per_page", 10, lo=1, hi=100) or 10
        offset = p.integer("offset", None)
        order = p.enum("order", ("asc", "desc"), "desc")
        orderby = p.enum("orderby", ORDERBY, "date")
        include, exclude = p.ids("include"), p.ids("exclude")
        gmt = p.boolean("dates_are_gmt")
        bounds = [(name, p.date(name)) for name in
                  ("after", "before", "modified_after", "modified_before")]  # fmt: skip
        dp = self._dp(p)
        p.check()

        def kept(row: Any) -> bool:
            for name, bound in bounds:
                if bound is None:
                    continue
                if bound.tzinfo is not None:  # core: WP_Date_Query reads it in the site's time
                    bound = bound.astimezone(self.timezone).replace(tzinfo=None)
                at = dates(row)[name.startswith("modified")]
                value = (at.astimezone(UTC) if gmt else at.astimezone(self.timezone)).replace(
                    tzinfo=None
                )
                if not (value > bound if name.endswith("after") else value < bound):
                    return False
            return (include is None or row.id in include) and (
                exclude is None or row.id not in exclude
            )

        found = [row for row in rows if kept(row)]
        if orderby == "include" and include:  # core: post__in order, `order` ignored
            found.sort(key=lambda r: include.index(r.id))
        else:
            found.sort(key=lambda r: self._sort_key(r, orderby, dates), reverse=order == "desc")
        start = abs(offset) if offset is not None else (page - 1) * per_page
        window = found[start : start + per_page]
        pages = math.ceil(len(found) / per_page)  # core: 0 when nothing matches
        return Page([view(row, dp, base) for row in window], len(found), pages, page)

    def _sort_key(
        self, row: Any, orderby: str, dates: Callable[[Any], tuple[datetime, datetime]]
    ) -> tuple[Any, int]:
        """core: "date" is post_date then ID; "title"/"slug" the CPT post's title and name
        ("Order &ndash; Mar 22, 2017 @ 07:28 PM", "order-mar-22-2017-0728-pm", from the
        creation time in UTC; approximated: no -2 suffix for equal slugs), then ID here."""
        created = dates(row)[0].astimezone(UTC)
        if orderby == "title":
            return (f"Order &ndash; {created:%b %d, %Y @ %I:%M %p}", row.id)
        if orderby == "slug":
            return (f"order-{created:%b-%d-%Y-%I%M-%p}".lower(), row.id)
        if orderby == "id":
            return (0, row.id)
        return (created.astimezone(self.timezone).replace(tzinfo=None), row.id)

    def _local(self, at: datetime | None) -> str | None:
        return None if at is None else at.astimezone(self.timezone).strftime("%Y-%m-%dT%H:%M:%S")

    @staticmethod
    def _gmt(at: datetime | None) -> str | None:
        return None if at is None else at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")

    def _sku(self, line: Line) -> str:
        """core: the product's current SKU (a variation without one shows its parent's); the
        SKU as ordered once the product is gone or when there was none (core: null there)."""
        obj = self.shop.posts.get(line.variation_id or line.product_id)
        if obj is not None and not obj["sku"] and line.variation_id:
            obj = self.shop.posts.get(line.product_id)
        return obj["sku"] if obj is not None and obj["sku"] else line.sku

    def _order_json(self, o: Order, dp: int, base: str) -> Json:
        zero = _money(Decimal(0), dp)
        lines = [
            {
                "id": x.id, "name": x.name, "product_id": x.product_id,
                "variation_id": x.variation_id, "quantity": x.quantity, "tax_class": "",
                "subtotal": _money(x.total, dp), "subtotal_tax": zero,
                "total": _money(x.total, dp), "total_tax": zero, "taxes": [],
                "meta_data": [dict(m) for m in x.meta], "sku": self._sku(x),
                "price": _number(x.price),
            }
            for x in o.lines
        ]  # fmt: skip
        return {
            "id": o.id, "parent_id": o.parent_id, "number": str(o.id), "order_key": o.order_key,
            "created_via": "checkout", "version": VERSION, "status": o.status,
            "currency": o.currency,
            "date_created": self._local(o.created), "date_created_gmt": self._gmt(o.created),
            "date_modified": self._local(o.modified), "date_modified_gmt": self._gmt(o.modified),
            "discount_total": zero, "discount_tax": zero, "shipping_total": zero,
            "shipping_tax": zero, "cart_tax": zero, "total": _money(o.total, dp),
            "total_tax": zero, "prices_include_tax": False, "customer_id": o.customer_id,
            "customer_ip_address": "", "customer_user_agent": "", "customer_note": "",
            "billing": {**dict.fromkeys(ADDRESS, ""), "email": "", "phone": ""},
            "shipping": dict.fromkeys(ADDRESS, ""),
            "payment_method": "", "payment_method_title": "", "transaction_id": "",
            "date_paid": self._local(o.paid), "date_paid_gmt": self._gmt(o.paid),
            "date_completed": self._local(o.completed),
            "date_completed_gmt": self._gmt(o.completed),
            "cart_hash": "", "meta_data": [dict(m) for m in o.meta], "line_items": lines,
            "tax_lines": [],
            "shipping_lines": [], "fee_lines": [], "coupon_lines": [],
            "refunds": [
                {"id": r.id, "reason": r.reason, "total": "-" + _money(r.amount, dp)}
                for r in reversed(o.refunds)
            ],
            "_links": {
                "self": [{"href": f"{base}/wp-json/wc/v3/orders/{o.id}"}],
                "collection": [{"href": f"{base}/wp-json/wc/v3/orders"}],
            },
        }  # fmt: skip

    def _refund_json(self, r: Refund, dp: int, base: str) -> Json:
        zero = _money(Decimal(0), dp)
        lines = [
            {
                "id": x.id, "name": x.line.name, "product_id": x.line.product_id,
                "variation_id": x.line.variation_id, "quantity": -x.units, "tax_class": "",
                "subtotal": _money(-x.amount, dp), "subtotal_tax": zero,
                "total": _money(-x.amount, dp), "total_tax": zero, "taxes": [],
                "meta_data": [{"id": x.meta_id, "key": "_refunded_item_id",
                               "value": str(x.line.id)}],
                "sku": self._sku(x.line), "price": _number(-x.amount / x.units),  # docs: -9
            }
            for x in r.lines
        ]  # fmt: skip
        up = f"{base}/wp-json/wc/v3/orders/{r.order_id}"
        return {
            "id": r.id, "date_created": self._local(r.created),
            "date_created_gmt": self._gmt(r.created), "amount": _money(r.amount, dp),
            "reason": r.reason, "refunded_by": 1, "refunded_payment": r.refunded_payment,
            "meta_data": [], "line_items": lines,
            "_links": {
                "self": [{"href": f"{up}/refunds/{r.id}"}],
                "collection": [{"href": f"{up}/refunds"}],
                "up": [{"href": up}],
            },
        }  # fmt: skip
