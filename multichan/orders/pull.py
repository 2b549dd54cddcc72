"""Pull: read one channel's new and changed orders since its cursor, record them, and move
stock exactly once.

Per order line the catalog keeps what the channel last reported (ordered, unshipped, shipped,
returned, refunded) and what of it was applied to stock (units committed, units taken off the
shelf). Each time an order is seen, the engine computes what the line should hold now and
applies only the difference through the stock ledger, so an order seen again moves nothing,
an edit from 2 to 3 units moves 1, pending -> paid -> shipped commits once and ships once, and
an order first seen cancelled moves nothing at all. Orders, lines, stock moves and the cursor
advance in one transaction per page: a pull killed at any point and run again gives the same
stock.

- **Baseline**: the first pull of a channel records the moment; orders created before it are
  recorded (for reports) but never move stock, since stock already reflects them.
- **Cursor**: the newest change seen, or once every page was read the moment the pull began;
  the next pull starts there less the channel's overlap window (orders that became visible a
  little late, clock skew): an order already recorded applies only its difference. A channel
  whose orders can arrive late with their original times (Square's offline POS: 72 h) is read
  that far back once an hour.
- **Unmatched lines** (a SKU the catalog does not have, matched by SKU, then by the remote ids
  push recorded) are recorded with the reason, reported, and matched again on later pulls;
  they never stop the other lines.
- **Parcels the channel shipped itself** (``Order.parcels``) are recorded as shipments of
  source ``channel`` (``orders.parcels``) before the lines are applied: never sent, they move
  no stock of their own; their units tell multichan's own parcels the channel has not
  reported yet from those it shipped itself (``line_targets``).
- **Oversold**: a SKU whose available units fall below zero at the channel's location is
  reported with the orders holding it; the orders are always recorded.
- **Bundles** (``catalog.bundles``): a line for a bundle keeps its applied state in bundle
  units and moves each component by those units times its quantity, in the same step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlite_utils

from multichan import errors
from multichan.catalog import bundles, ledger
from multichan.catalog.schema import transaction
from multichan.catalog.store import now as stamp_now
from multichan.channels.base import Channel, Retriable
from multichan.errors import ConfigError, MultichanError
from multichan.money import quantize, to_text
from multichan.orders import parcels
from multichan.orders.model import HOLDING, Order, OrderLine, iso, parse_time

LATE_SWEEP_EVERY = timedelta(hours=1)
LINE_COLUMNS = (
    "channel", "order_id", "line_id", "channel_sku", "remote_ids", "title", "ordered",
    "unshipped", "shipped", "returned", "refunded", "problem", "sku", "location",
    "unit_price", "line_total",
)  # fmt: skip
UPSERT_LINE = (
    f"INSERT INTO order_lines ({', '.join(LINE_COLUMNS)}) VALUES "
    f"({', '.join('?' * len(LINE_COLUMNS))}) "
    "ON CONFLICT (channel, order_id, line_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in LINE_COLUMNS[3:])
)


@dataclass
class PullResult:
    """What one channel's pull did."""

    channel: str
    status: str = "ok"  # ok, baseline, dry-run, failed, exhausted
    pages: int = 0
    requests: int = 0
    orders: int = 0  # orders seen
    new: int = 0  # orders seen for the first time
    moves: int = 0  # stock moves written
    since: str | None = None
    cursor: str | None = None
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    oversold: list[dict[str, Any]] = field(default_factory=list)
    message: str | None = None
    exit_code: int = errors.OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel, "status": self.status, "pages": self.pages,
            "requests": self.requests, "orders": self.orders, "new": self.new,
            "moves": self.moves, "since": self.since, "cursor": self.cursor,
            "unmatched": self.unmatched, "oversold": self.oversold, "message": self.message,
            "exit_code": self.exit_code,
        }  # fmt: skip


def order_location(db: sqlite_utils.Database, cfg: Any, config_file: str) -> str:
    """Where ``cfg``'s orders take stock: ``orders.location``, else the first of the channel's
    ``stock.locations``, else the catalog's only location; else a config error naming the key."""
    where = f"{config_file}:{cfg.line}: channels.{cfg.name}.orders.location"
    known = [r[0] for r in db.execute("SELECT code FROM locations ORDER BY code")]
    chosen = (cfg.orders or {}).get("location") or (cfg.stock.get("locations") or [None])[0]
    if chosen:
        if known and chosen not in known:
            raise ConfigError(f"{where}: no location {chosen!r} in the catalog "
                              f"(known: {', '.join(known)})")  # fmt: skip
        return str(chosen)
    if len(known) == 1:
        return known[0]
    if not known:
        return "default"  # the location a plain `quantity` column imports to
    raise ConfigError(
        f"{where} is required: the catalog has {len(known)} locations ({', '.join(known)}); "
        "name the one this channel's orders ship from"
    )


class _Puller:
    """One channel's pull against an open catalog."""

    def __init__(
        self, db: sqlite_utils.Database, channel: Channel, location: str,
        restock_refunds: bool, result: PullResult,
    ) -> None:  # fmt: skip
        self.db, self.channel, self.name = db, channel, channel.name
        self.location, self.restock_refunds, self.result = location, restock_refunds, result
        self.touched: set[tuple[str, str]] = set()  # (sku, location) whose stock moved
        self.unmatched: list[dict[str, Any]] = []

    # --- one order ----------------------------------------------------------------------------
    def record(self, order: Order, baseline_at: str, seen_at: str) -> None:
        conn = self.db.conn
        row = conn.execute(
            "SELECT baseline FROM orders WHERE channel = ? AND order_id = ?",
            [self.name, order.order_id],
        ).fetchone()
        created = iso(order.created_at)
        baseline = bool(row[0]) if row else created < baseline_at
        if row is None:
            self.result.new += 1
        conn.execute(
            "INSERT INTO orders (channel, order_id, number, status, channel_status, created_at,"
            " updated_at, baseline, first_seen_at, last_seen_at, currency)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (channel, order_id) DO UPDATE SET number = excluded.number,"
            " status = excluded.status, channel_status = excluded.channel_status,"
            " created_at = excluded.created_at, updated_at = excluded.updated_at,"
            " last_seen_at = excluded.last_seen_at, currency = excluded.currency",
            [self.name, order.order_id, order.number, order.status, order.channel_status,
             created, iso(order.updated_at), int(baseline), seen_at, seen_at, order.currency],
        )  # fmt: skip
        reported = {line.line_id for line in order.lines}
        for line in order.lines:
            self._line(order, line)
        gone = [
            r[0]
            for r in conn.execute(
                "SELECT line_id FROM order_lines WHERE channel = ? AND order_id = ?",
                [self.name, order.order_id],
            )
            if r[0] not in reported
        ]
        for line_id in gone:  # a line taken off the order: it holds nothing any more
            conn.execute(
                "UPDATE order_lines SET ordered = 0, unshipped = 0 WHERE channel = ? AND "
                "order_id = ? AND line_id = ?",
                [self.name, order.order_id, line_id],
            )
        if order.parcels is not None:  # what the channel shipped itself: recorded, not sent
            parcels.record(self.db, self.name, order.order_id, order.parcels)
        if not baseline:
            for line_id in sorted(reported | set(gone)):
                self.apply(order.order_id, line_id, order.status, order.number)

    def _line(self, order: Order, line: OrderLine) -> None:
        conn = self.db.conn
        currency = order.currency
        old = conn.execute(
            "SELECT sku, location FROM order_lines WHERE channel = ? AND order_id = ? AND "
            "line_id = ?",
            [self.name, order.order_id, line.line_id],
        ).fetchone()
        sku = old[0] if old and old[0] else self.match(line)
        problem = line.problem or (None if sku else unknown_sku(line))
        location = old[1] if old and old[1] else self.location
        conn.execute(
            UPSERT_LINE,
            [self.name, order.order_id, line.line_id, line.sku,
             json.dumps(line.remote_ids, sort_keys=True), line.title, line.ordered,
             line.unshipped, line.shipped, line.returned, line.refunded, problem,
             sku if not line.problem else None, location, _amount(line.unit_price, currency),
             _amount(line.line_total, currency)],
        )  # fmt: skip

    # --- matching -----------------------------------------------------------------------------
    def match(self, line: OrderLine) -> str | None:
        """The catalog SKU of a line: its own SKU when the catalog has it, else the SKU whose
        remote ids (recorded by push on this channel) include one of the line's."""
        conn = self.db.conn
        if line.sku and conn.execute("SELECT 1 FROM products WHERE sku = ?", [line.sku]).fetchone():
            return line.sku
        for key, value in sorted(line.remote_ids.items()):
            if not key.replace("_", "").isalnum() or not value:
                continue
            found = conn.execute(
                "SELECT sku FROM push_state WHERE channel = ? AND json_extract(remote_ids, ?) = ?"
                " ORDER BY kind LIMIT 1",
                [self.name, f"$.{key}", str(value)],
            ).fetchone()
            if (
                found
                and conn.execute("SELECT 1 FROM products WHERE sku = ?", [found[0]]).fetchone()
            ):
                return str(found[0])
        return None

    def rematch(self) -> None:
        """Lines of this channel still without a catalog SKU: matched again (the SKU may exist
        now); those still unmatched in orders that move stock are reported."""
        conn = self.db.conn
        rows = conn.execute(
            "SELECT l.order_id, l.line_id, l.channel_sku, l.remote_ids, l.problem, o.status,"
            " o.number, o.baseline FROM order_lines l JOIN orders o USING (channel, order_id)"
            " WHERE l.channel = ? AND l.sku IS NULL ORDER BY o.created_at, l.order_id, l.line_id",
            [self.name],
        ).fetchall()
        for order_id, line_id, channel_sku, ids, problem, status, number, baseline in rows:
            probe = OrderLine(line_id, channel_sku, 0, remote_ids=json.loads(ids or "{}"))
            unknown = problem is None or problem == unknown_sku(probe)
            sku = self.match(probe) if unknown else None
            if sku is None:
                if not baseline:
                    self.unmatched.append({
                        "order": number, "order_id": order_id, "line": line_id,
                        "sku": channel_sku, "message": problem or unknown_sku(probe),
                    })  # fmt: skip
                continue
            conn.execute(
                "UPDATE order_lines SET sku = ?, problem = NULL WHERE channel = ? AND "
                "order_id = ? AND line_id = ?",
                [sku, self.name, order_id, line_id],
            )
            if not baseline:
                self.apply(order_id, line_id, status, number)

    # --- stock --------------------------------------------------------------------------------
    def apply(self, order_id: str, line_id: str, status: str, number: str) -> None:
        moved = apply_line(self.db, self.name, order_id, line_id, status, number,
                           self.restock_refunds)  # fmt: skip
        if moved:
            self.result.moves += 1
            self.touched.add(moved)
            parts = bundles.components(self.db, moved[0])  # a bundle: its components moved
            self.touched.update((component, moved[1]) for component, _ in parts)

    def oversold(self) -> list[dict[str, Any]]:
        """The SKUs this pull moved whose available units are below zero, with the orders that
        hold them (their numbers, oldest first)."""
        found = []
        for sku, location in sorted(self.touched):
            on_hand, committed = ledger.level(self.db, sku, location)
            if on_hand - committed >= 0 or bundles.components(self.db, sku):
                continue  # (a bundle's own stock rows are ignored: its components are told)
            orders = [
                f"{channel} {number}"
                for channel, number in self.db.conn.execute(
                    "SELECT o.channel, o.number FROM order_lines l JOIN orders o USING"
                    " (channel, order_id) WHERE (l.sku = ? OR l.sku IN (SELECT bundle FROM"
                    " bundle_components WHERE component = ?)) AND l.location = ? AND"
                    " l.committed_applied > 0 ORDER BY o.created_at, o.channel",
                    [sku, sku, location],
                )
            ]
            found.append({"sku": sku, "location": location, "on_hand": on_hand,
                          "committed": committed, "available": on_hand - committed,
                          "orders": orders})  # fmt: skip
        return found


def _amount(value: Decimal | None, currency: str | None) -> str | None:
    """An amount as the catalog keeps money: in its currency's decimals."""
    if value is None or not value.is_finite():
        return None
    return to_text(quantize(value, currency), currency)


def line_targets(
    unshipped: int, shipped: int, shipped_here: int, back: int, status: str,
    shipped_there: int = 0,
) -> tuple[int, int]:  # fmt: skip
    """What a line should hold now: (units committed, units taken off the shelf), from what
    the channel reports (``unshipped``, ``shipped``, ``back`` restocked) and the units
    multichan recorded as shipped itself (``shipped_here``), which leave the shelf before the
    channel hears of them; the channel's own count wins once it has caught up. Of the units
    the channel reports shipped, ``shipped_there`` are in parcels it shipped itself (its
    reported parcels, ``orders.parcels``), so not multichan's catching up."""
    known = max(shipped - shipped_there, 0)  # multichan's units the channel reports
    ahead = min(max(shipped_here - known, 0), max(unshipped, 0))  # shipped, not reported yet
    committed = max(unshipped - ahead, 0) if status in HOLDING else 0
    return committed, shipped + ahead - back  # below 0: a return order brings units back


def shipped_here(db: sqlite_utils.Database, channel: str, order_id: str, line_id: str) -> int:
    """Units of the line in shipments multichan recorded (``multichan ship``)."""
    return shipped_by(db, channel, order_id, line_id)[0]


def shipped_by(
    db: sqlite_utils.Database, channel: str, order_id: str, line_id: str
) -> tuple[int, int]:
    """Units of the line in shipments multichan recorded (``multichan ship``), and in the
    parcels the channel reports it shipped itself."""
    row = db.conn.execute(
        "SELECT coalesce(sum(CASE WHEN s.source = 'multichan' THEN sl.quantity END), 0),"
        " coalesce(sum(CASE WHEN s.source = 'channel' THEN sl.quantity END), 0) FROM"
        " shipment_lines sl JOIN shipments s ON s.id = sl.shipment_id WHERE s.channel = ? AND"
        " s.order_id = ? AND sl.line_id = ?",
        [channel, order_id, line_id],
    ).fetchone()
    return int(row[0]), int(row[1])


def apply_line(
    db: sqlite_utils.Database, channel: str, order_id: str, line_id: str, status: str,
    number: str, restock_refunds: bool,
) -> tuple[str, str] | None:  # fmt: skip
    """Move the difference between what the line should hold now (``line_targets``) and what
    was applied; returns the (SKU, location) it moved, or None. In the caller's transaction."""
    conn = db.conn
    row = conn.execute(
        "SELECT sku, location, unshipped, shipped, returned, refunded, committed_applied,"
        " consumed_applied FROM order_lines WHERE channel = ? AND order_id = ? AND"
        " line_id = ?",
        [channel, order_id, line_id],
    ).fetchone()
    sku, location, unshipped, shipped, returned, refunded, committed, consumed = row
    if sku is None:
        return None
    back = returned + (refunded if restock_refunds else 0)
    here, there = shipped_by(db, channel, order_id, line_id)
    want_committed, want_consumed = line_targets(unshipped, shipped, here, back, status, there)
    d_committed, d_consumed = want_committed - committed, want_consumed - consumed
    if not d_committed and not d_consumed:
        return None
    if d_consumed > 0:
        reason = "ship"
    elif d_consumed < 0:
        reason = "restock"
    else:
        reason = "order" if d_committed > 0 else "cancel"
    parts = bundles.components(db, sku)
    if parts:  # a bundle: its components move, each its quantity per bundle
        bundles.move_line(
            db, sku, parts, location, reason=reason, on_hand=-d_consumed, committed=d_committed,
            channel=channel, order_id=order_id, line_id=line_id,
            note=f"{channel} order {number} ({status})",
        )  # fmt: skip
    else:
        ledger.move(
            db, sku, location, reason=reason, on_hand=-d_consumed, committed=d_committed,
            channel=channel, order_id=order_id, line_id=line_id,
            note=f"{channel} order {number} ({status})",
        )  # fmt: skip
    conn.execute(
        "UPDATE order_lines SET committed_applied = ?, consumed_applied = ? WHERE channel = ?"
        " AND order_id = ? AND line_id = ?",
        [want_committed, want_consumed, channel, order_id, line_id],
    )
    if d_committed > 0 or d_consumed > 0:
        # a SKU whose stock is not counted is offered the same number whatever sells, so
        # the plan would see no change while this channel's own count went down: forget
        # what it was last sent, and the next push tops it up again
        conn.execute(
            "UPDATE push_state SET hash = NULL WHERE channel = ? AND sku = ? AND kind ="
            " 'quantities' AND hash IS NOT NULL AND (SELECT stock_tracking FROM products"
            " WHERE sku = ?) IN ('untracked', 'continue')",
            [channel, sku, sku],
        )
    return sku, location


def unknown_sku(line: OrderLine) -> str:
    if line.problem:
        return line.problem
    if line.sku:
        return f"SKU {line.sku} is not in the catalog; its stock was not moved"
    ids = ", ".join(f"{k} {v}" for k, v in sorted(line.remote_ids.items())) or "no SKU"
    return f"the line has no SKU the catalog knows ({ids}); its stock was not moved"


def pull_channel(
    db: sqlite_utils.Database,
    channel: Channel,
    cfg: Any,
    config_file: str,
    *,
    since: datetime | None = None,
    dry_run: bool = False,
    clock: Any = None,
) -> PullResult:
    """Pull ``channel``'s orders (see the module docstring). ``since`` reads from that time
    instead of the cursor (older orders are recorded without moving stock); ``dry_run`` does
    everything, then rolls it back."""
    result = PullResult(channel.name)
    moment = (clock or (lambda: datetime.now(UTC)))()
    began = stamp_now()  # this machine's clock, as push_state's stamps
    location = order_location(db, cfg, config_file)
    restock = bool((cfg.orders or {}).get("restock_refunds"))
    puller = _Puller(db, channel, location, restock, result)
    conn = db.conn
    if dry_run:
        conn.execute("BEGIN IMMEDIATE")  # everything below in one transaction, rolled back
    try:
        cursor_row = conn.execute(
            "SELECT baseline_at, cursor, swept_at FROM order_cursors WHERE channel = ?",
            [channel.name],
        ).fetchone()
        first = cursor_row is None
        # whole seconds: channels that stamp orders to the second never date a later order
        # before the baseline
        baseline_at = iso(moment.replace(microsecond=0)) if first else cursor_row[0]
        if first:
            with transaction(db, "pull_page"):
                conn.execute(
                    "INSERT INTO order_cursors (channel, baseline_at, cursor, updated_at)"
                    " VALUES (?, ?, ?, ?)",
                    [channel.name, baseline_at, baseline_at, stamp_now()],
                )
        cursor = cursor_row[1] if cursor_row and cursor_row[1] else baseline_at
        start = since or parse_time(cursor) - channel.order_overlap
        swept = cursor_row[2] if cursor_row else iso(moment)
        sweep = (
            since is None and channel.late_orders > timedelta(0)
            and (swept is None or moment - parse_time(swept) >= LATE_SWEEP_EVERY)
        )  # fmt: skip
        if sweep:  # once an hour, far enough back for orders that reach the channel late
            start = min(start, parse_time(cursor) - channel.late_orders)
        result.since = iso(start)
        newest = cursor
        for page in channel.fetch_orders(start):
            seen_at = stamp_now()
            with transaction(db, "pull_page"):
                for order in page:
                    puller.record(order, baseline_at, seen_at)
                    newest = max(newest, iso(order.updated_at))
                result.orders += len(page)
                result.pages += 1
                if channel.orders_sorted:
                    _advance(conn, channel.name, newest)
        # every page read: whatever the channel changed before this pull began was visible to
        # it, so the next pull starts from that moment (less the overlap), not from the newest
        # order, and a pull with nothing new since costs one request
        newest = max(newest, iso(moment))
        with transaction(db, "pull_page"):
            _advance(conn, channel.name, newest)
            conn.execute("UPDATE order_cursors SET pulled_at = ? WHERE channel = ?",
                         [began, channel.name])  # fmt: skip
            if sweep or first:
                conn.execute("UPDATE order_cursors SET swept_at = ? WHERE channel = ?",
                             [iso(moment), channel.name])  # fmt: skip
            puller.rematch()
        result.cursor = newest
        result.unmatched = puller.unmatched
        result.oversold = puller.oversold()
    except MultichanError as exc:
        result.status = "exhausted" if isinstance(exc, Retriable) else "failed"
        result.message, result.exit_code = channel.redact(exc.message), exc.exit_code
    finally:
        if dry_run and conn.in_transaction:
            conn.execute("ROLLBACK")
    if result.exit_code == errors.OK:
        if dry_run:
            result.status = "dry-run"
        elif first:
            result.status = "baseline"
        if result.unmatched or result.oversold:
            result.exit_code = errors.REJECTED
            parts = []
            if result.unmatched:
                parts.append(f"{len(result.unmatched)} order line(s) with an unknown SKU")
            if result.oversold:
                parts.append(f"{len(result.oversold)} SKU(s) oversold")
            result.message = "; ".join(parts)
    return result


def _advance(conn: Any, channel: str, cursor: str) -> None:
    conn.execute(
        "UPDATE order_cursors SET cursor = max(coalesce(cursor, ''), ?), updated_at = ? "
        "WHERE channel = ?",
        [cursor, stamp_now(), channel],
    )
