"""The common order model every channel maps its orders to.

A channel module reads its API's orders and says, per order, one of four statuses and, per
line, how many units are still owed, sent and back; the pull engine alone decides what that
means for stock. The statuses:

- ``pending``: not paid (or not authorised) yet: it holds no stock;
- ``open``: paid or authorised and not all sent: its unsent units are committed;
- ``closed``: complete (all sent, or done at a till): it holds nothing more;
- ``cancelled``: cancelled: it holds nothing; units it had sent stay sent unless returned.

Per line: ``ordered`` (units the buyer has ordered, after edits), ``unshipped`` (units still
to send), ``shipped`` (units that left stock: sent, or written off by a refund that did not
restock them), ``returned`` (units the channel says came back to stock) and ``refunded``
(units refunded without a restock; ``restock_refunds: true`` counts them as returned), and
where the channel says, what the buyer pays: ``unit_price`` and ``line_total`` in the order's
``currency``, for revenue in reports.

Per order, where the channel's mapping reads them, ``parcels``: the fulfillments the channel
itself reports as shipped (its id, carrier, tracking, units per line where it says), which the
pull records as shipments of source ``channel`` (``orders.parcels``); ``None``: the mapping
does not read them, and what was recorded before stays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

STATUSES = ("pending", "open", "closed", "cancelled")
HOLDING = frozenset({"open", "closed"})  # statuses whose unsent units are committed


@dataclass
class OrderLine:
    line_id: str
    sku: str | None
    ordered: int
    unshipped: int = 0
    shipped: int = 0
    returned: int = 0
    refunded: int = 0
    title: str = ""
    remote_ids: dict[str, str] = field(default_factory=dict)  # to match by push's ids
    problem: str | None = None  # a line the channel reported in a way stock cannot use
    # what the buyer pays, in the order's currency (None: the channel did not say)
    unit_price: Decimal | None = None
    line_total: Decimal | None = None  # for the ordered units, after discounts, tax aside


@dataclass
class Parcel:
    """A parcel the channel reports as shipped: ``remote_id`` is the channel's id of it (a
    fulfillment, a tracking item), ``lines`` its units per order line id where the channel
    says (empty: it does not)."""

    remote_id: str
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    shipped_at: datetime | None = None
    lines: dict[str, int] = field(default_factory=dict)


@dataclass
class Order:
    order_id: str
    number: str
    status: str
    channel_status: str
    created_at: datetime
    updated_at: datetime
    lines: list[OrderLine] = field(default_factory=list)
    currency: str | None = None  # of the lines' amounts
    parcels: list[Parcel] | None = None  # what the channel shipped itself (None: not read)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"order status {self.status!r} is not one of {', '.join(STATUSES)}")
        for stamp in (self.created_at, self.updated_at):
            if stamp.tzinfo is None:
                raise ValueError("order times must carry their time zone")


def units(value: Any) -> tuple[int, str | None]:
    """A quantity as whole units, and why not when it is not one (Square sends decimal strings
    such as "1.5" for goods sold by weight; stock counts whole units)."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return 0, f"quantity {value!r} is not a number"
    if not amount.is_finite() or amount != amount.to_integral_value() or abs(amount) > 10**9:
        return 0, f"quantity {value} is not a whole number of units; stock was not moved"
    return int(amount), None


def parse_time(value: Any, assume_utc: bool = True) -> datetime:
    """An ISO 8601 timestamp (``Z``, an offset, or none: read as UTC when ``assume_utc``) or
    Unix seconds, as an aware datetime."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        if not assume_utc:
            raise ValueError(f"time {value!r} has no time zone")
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.astimezone(UTC)


def iso(stamp: datetime) -> str:
    """How order times are stored: UTC, milliseconds, ``Z`` (sorts as text)."""
    return stamp.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
