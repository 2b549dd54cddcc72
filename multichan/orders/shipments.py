"""Shipments: a parcel multichan records for an order it pulled (which lines, how many units,
carrier and tracking), the stock it takes off the shelf at once, and its way back to the
channel that sold it.

- **Recording** (``record``): a shipment names the order by number or id and, by default, every
  unit still to send; ``lines`` picks SKUs and quantities. Its units leave on hand and release
  their commitment in the same transaction (the stock ledger says ``ship``), before the channel
  hears of them; the next pull applies only what the channel reports beyond that
  (``orders.pull.line_targets``), so nothing moves twice.
- **Exactly once**: a shipment is keyed by (channel, order, key); the key is the tracking number
  unless given, so recording the same parcel again (a rerun of ``import shipments``) changes
  nothing. Tracking given later for an order whose last shipment had none is added to that
  shipment (and sent then), not recorded as a second parcel.
- **Parcels the channel shipped itself** (``orders.parcels``, recorded by the pull): a
  shipment naming one of them by tracking number, or an order whose every unit left with
  them, records and sends nothing (``Recorded`` status ``channel``).
- **Sending** (``send_due``): every shipment not yet sent, rejected before, or whose tracking
  changed since it was sent, goes to its channel's ``ship`` method, which finds a fulfillment
  it already made for that parcel before making one, so a run killed after the channel
  answered sends nothing twice. A rejection keeps the shipment with the channel's message
  (``multichan status``), retried on the next run.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from multichan import errors
from multichan.catalog.schema import transaction
from multichan.catalog.store import now
from multichan.channels.base import Retriable
from multichan.errors import MultichanError, UsageError
from multichan.orders import parcels
from multichan.orders.model import HOLDING, iso, parse_time
from multichan.orders.pull import apply_line, line_targets, shipped_by


@dataclass
class ShipmentLine:
    line_id: str
    sku: str | None  # the catalog's SKU (None: a line no catalog SKU matched)
    quantity: int
    channel_sku: str | None = None
    remote_ids: dict[str, str] = field(default_factory=dict)  # the channel's ids of the line


@dataclass
class Shipment:
    """One parcel, as a channel module sends it: ``remote_id`` is the channel's id of the
    fulfillment once sent (then ``ship`` updates its tracking instead of making one)."""

    id: int
    channel: str
    order_id: str
    number: str
    key: str
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    shipped_at: datetime
    lines: list[ShipmentLine]
    remote_id: str | None = None
    sent_tracking: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel, "order_id": self.order_id, "order": self.number,
            "shipment": self.key, "carrier": self.carrier,
            "tracking_number": self.tracking_number, "tracking_url": self.tracking_url,
            "shipped_at": iso(self.shipped_at), "remote_id": self.remote_id,
            "lines": [{"line_id": x.line_id, "sku": x.sku or x.channel_sku,
                       "quantity": x.quantity} for x in self.lines],
        }  # fmt: skip


@dataclass
class Recorded:
    """What ``record`` did: ``recorded`` (a new parcel), ``tracking`` (tracking added to the
    order's last shipment), ``unchanged`` (this parcel was recorded before), or ``channel``
    (nothing recorded: the channel reports this parcel, or every unit, shipped itself;
    ``shipment`` is that parcel, or its last one)."""

    status: str
    shipment: Shipment

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, **self.shipment.as_dict()}


def find_order(db: sqlite_utils.Database, channel: str, ref: str) -> tuple[str, str, str]:
    """(order_id, number, status) of the channel's order named by number (``#1001`` or
    ``1001``) or id; a usage error when there is none."""
    rows = db.conn.execute(
        "SELECT order_id, number, status FROM orders WHERE channel = ? AND (order_id = ? OR"
        " number = ? OR number = ?) ORDER BY order_id = ? DESC LIMIT 1",
        [channel, ref, ref, f"#{ref.lstrip('#')}", ref],
    ).fetchall()
    if not rows:
        raise UsageError(
            f"no order {ref!r} of channel {channel} in the catalog; run 'multichan pull "
            f"{channel}' first"
        )
    order_id, number, status = rows[0]
    return str(order_id), str(number or order_id), str(status)


def open_units(db: sqlite_utils.Database, channel: str, order_id: str) -> list[dict[str, Any]]:
    """The order's lines with the units still to send (after what multichan shipped)."""
    rows = db.conn.execute(
        "SELECT line_id, sku, channel_sku, remote_ids, unshipped, shipped, title FROM"
        " order_lines WHERE channel = ? AND order_id = ? ORDER BY line_id",
        [channel, order_id],
    ).fetchall()
    out = []
    for line_id, sku, channel_sku, ids, unshipped, shipped, title in rows:
        here, there = shipped_by(db, channel, order_id, line_id)
        committed, _ = line_targets(unshipped, shipped, here, 0, "open", there)
        out.append({"line_id": line_id, "sku": sku, "channel_sku": channel_sku,
                    "remote_ids": json.loads(ids or "{}"), "open": committed,
                    "title": title})  # fmt: skip
    return out


def record(
    db: sqlite_utils.Database,
    channel: str,
    order_ref: str,
    *,
    carrier: str | None = None,
    tracking_number: str | None = None,
    tracking_url: str | None = None,
    lines: Mapping[str, int] | None = None,
    shipped_at: datetime | None = None,
    key: str | None = None,
    restock_refunds: bool = False,
) -> Recorded:
    """Record a shipment of the channel's order (see the module docstring). ``lines``: units
    per SKU (the catalog's or the channel's); default every unit still to send."""
    tracking_number = (tracking_number or "").strip() or None
    key = (key or "").strip() or tracking_number
    with transaction(db, "shipment"):
        order_id, number, status = find_order(db, channel, order_ref)
        if key is not None:
            found = _load(db, "s.channel = ? AND s.order_id = ? AND s.shipment_key = ?",
                          [channel, order_id, key])  # fmt: skip
            if found:
                return Recorded("unchanged", found[0])
        theirs = parcels.find(db, channel, order_id, tracking_number) if tracking_number else None
        if theirs is not None:  # the channel shipped this parcel itself: pulled, not sent again
            return Recorded("channel", _load(db, "s.id = ?", [theirs])[0])
        if lines is None and tracking_number:  # tracking for a parcel recorded without it
            untracked = _load(db, "s.channel = ? AND s.order_id = ? AND s.source = 'multichan'"
                              " AND s.tracking_number IS NULL", [channel, order_id])  # fmt: skip
            if untracked and not any(x["open"] for x in open_units(db, channel, order_id)):
                last = untracked[-1]
                db.conn.execute(
                    "UPDATE shipments SET carrier = coalesce(?, carrier), tracking_number = ?,"
                    " tracking_url = coalesce(?, tracking_url), updated_at = ? WHERE id = ?",
                    [carrier, tracking_number, tracking_url, now(), last.id],
                )
                return Recorded("tracking", _load(db, "s.id = ?", [last.id])[0])
        if status not in HOLDING:
            raise UsageError(f"{channel} order {number} is {status}: nothing to ship")
        units = open_units(db, channel, order_id)
        reported = parcels.reported(db, channel, order_id)
        if lines is None and reported and not any(x["open"] > 0 for x in units):
            # every unit left with parcels the channel reports itself: nothing to send
            theirs_last = _load(db, "s.channel = ? AND s.order_id = ? AND s.shipment_key = ?",
                                [channel, order_id, reported[-1]["shipment"]])  # fmt: skip
            return Recorded("channel", theirs_last[0])
        try:
            chosen = _choose(units, lines, channel, number)
        except UsageError as exc:
            said = ", ".join(parcels.describe(x) for x in reported)
            if said:
                why = f"{channel} reports {len(reported)} parcel(s) shipped itself: {said}"
            else:
                sent = db.conn.execute(
                    "SELECT coalesce(sum(shipped), 0) FROM order_lines WHERE channel = ? AND"
                    " order_id = ?", [channel, order_id],
                ).fetchone()[0]  # fmt: skip
                if not sent:
                    raise
                why = f"{channel} reports {sent} unit(s) of it shipped"
            raise UsageError(f"{exc.message} ({why})") from None
        stamp = now()
        cursor = db.conn.execute(
            "INSERT INTO shipments (channel, order_id, shipment_key, carrier, tracking_number,"
            " tracking_url, shipped_at, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
            [channel, order_id, key or f"pending-{uuid.uuid4().hex}", carrier, tracking_number,
             tracking_url, iso(shipped_at or datetime.now(UTC)), stamp, stamp],
        )  # fmt: skip
        shipment_id = int(cursor.lastrowid or 0)
        if key is None:  # no tracking: a key of its own, unique within the order
            db.conn.execute("UPDATE shipments SET shipment_key = ? WHERE id = ?",
                            [f"shipment-{shipment_id}", shipment_id])  # fmt: skip
        db.conn.executemany(
            "INSERT INTO shipment_lines (shipment_id, line_id, sku, quantity) VALUES (?,?,?,?)",
            [(shipment_id, x["line_id"], x["sku"] or x["channel_sku"], units)
             for x, units in chosen],
        )  # fmt: skip
        for x, _ in chosen:
            apply_line(db, channel, order_id, x["line_id"], status, number, restock_refunds)
        return Recorded("recorded", _load(db, "s.id = ?", [shipment_id])[0])


def _choose(
    units: list[dict[str, Any]], lines: Mapping[str, int] | None, channel: str, number: str
) -> list[tuple[dict[str, Any], int]]:
    """The (line, units) a shipment takes: every open unit, or the SKUs asked for."""
    if lines is None:
        chosen = [(x, x["open"]) for x in units if x["open"] > 0]
        if not chosen:
            raise UsageError(f"{channel} order {number} has no units left to ship")
        return chosen
    chosen = []
    for sku, quantity in lines.items():
        match = [x for x in units if sku in (x["sku"], x["channel_sku"])]
        if not match:
            raise UsageError(f"{channel} order {number} has no line with SKU {sku}")
        left = quantity
        for x in match:  # a SKU on several lines: fill them in order
            take = min(left, x["open"])
            if take > 0:
                chosen.append((x, take))
                left -= take
        if quantity <= 0 or left > 0:
            room = sum(x["open"] for x in match)
            raise UsageError(
                f"{channel} order {number}: cannot ship {quantity} of {sku}; {room} left to ship"
            )
    return chosen


def _load(db: sqlite_utils.Database, where: str, params: list[Any]) -> list[Shipment]:
    shipments: dict[int, Shipment] = {}
    for row in db.conn.execute(
        "SELECT s.id, s.channel, s.order_id, o.number, s.shipment_key, s.carrier,"
        " s.tracking_number, s.tracking_url, s.shipped_at, s.remote_id, s.sent_tracking,"
        " sl.line_id, sl.sku, sl.quantity, l.channel_sku, l.remote_ids FROM shipments s"
        " JOIN orders o USING (channel, order_id) LEFT JOIN shipment_lines sl ON"
        " sl.shipment_id = s.id LEFT JOIN order_lines l ON l.channel = s.channel AND"
        f" l.order_id = s.order_id AND l.line_id = sl.line_id WHERE {where}"
        " ORDER BY s.id, sl.line_id",
        params,
    ):
        (sid, channel, order_id, number, key, carrier, tracking, url, shipped_at, remote_id,
         sent, line_id, sku, quantity, channel_sku, ids) = row  # fmt: skip
        shipment = shipments.get(sid)
        if shipment is None:
            shipment = shipments[sid] = Shipment(
                sid, channel, order_id, number or order_id, key, carrier, tracking, url,
                parse_time(shipped_at), [], remote_id, sent,
            )  # fmt: skip
        if line_id is not None:
            shipment.lines.append(ShipmentLine(line_id, sku, int(quantity), channel_sku,
                                               json.loads(ids or "{}")))  # fmt: skip
    return list(shipments.values())


def due(db: sqlite_utils.Database, channel: str) -> list[Shipment]:
    """The channel's shipments to send: never sent, refused before, or whose tracking
    changed since it was sent."""
    return _load(
        db,
        "s.channel = ? AND s.source = 'multichan' AND (s.status != 'sent' OR"
        " coalesce(s.sent_tracking, '') != coalesce(s.tracking_number, ''))",
        [channel],
    )


@dataclass
class SendResult:
    """What sending one channel's shipments did."""

    sent: int = 0
    rejected: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)  # may pass: sent next run
    exit_code: int = errors.OK

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "rejected": self.rejected, "failed": self.failed,
                "exit_code": self.exit_code}  # fmt: skip


def send_due(db: sqlite_utils.Database, channel: Any) -> SendResult:
    """Send every due shipment of ``channel`` (a channel object supporting "shipments"),
    each recorded as it is answered; a failure of the whole channel (authentication) stops
    the rest, which wait for the next run."""
    result = SendResult()
    for shipment in due(db, channel.name):
        where = {"order": shipment.number, "shipment": shipment.key}
        try:
            answer = channel.send_shipment(shipment)
        except MultichanError as exc:
            message = channel.redact(exc.message) or ""
            result.failed.append({**where, "message": message})
            result.exit_code = errors.worst([result.exit_code, exc.exit_code])
            _attempted(db, shipment, "pending", None, message)
            if not isinstance(exc, Retriable):
                break
            continue
        if answer.ok:
            result.sent += 1
            _attempted(db, shipment, "sent", answer.remote_ids.get("fulfillment_id"), None)
        else:
            message = channel.redact(answer.message) or ""
            result.rejected.append({**where, "message": message})
            result.exit_code = errors.worst([result.exit_code, errors.REJECTED])
            _attempted(db, shipment, "rejected", None, message)
    return result


def _attempted(
    db: sqlite_utils.Database, shipment: Shipment, status: str, remote_id: str | None,
    error: str | None,
) -> None:  # fmt: skip
    with transaction(db, "shipment"):
        if remote_id:  # the pull may have seen it first (an answer lost): it is ours
            parcels.claim(db, shipment.channel, shipment.order_id, remote_id)
        db.conn.execute(
            "UPDATE shipments SET status = ?, remote_id = coalesce(?, remote_id),"
            " sent_tracking = CASE WHEN ? = 'sent' THEN tracking_number ELSE sent_tracking END,"
            " attempts = attempts + 1, last_error = ?, updated_at = ? WHERE id = ?",
            [status, remote_id, status, error, now(), shipment.id],
        )


def listing(db: sqlite_utils.Database, channel: str | None = None) -> list[dict[str, Any]]:
    """Shipments not sent yet or refused, newest first, for ``status``."""
    where, params = ("AND s.channel = ?", [channel]) if channel else ("", [])
    keys = ("channel", "order_id", "order", "shipment", "status", "last_error", "attempts")
    return [
        dict(zip(keys, r, strict=True))
        for r in db.conn.execute(
            "SELECT s.channel, s.order_id, o.number, s.shipment_key, s.status, s.last_error,"
            " s.attempts FROM shipments s JOIN orders o USING (channel, order_id)"
            f" WHERE s.source = 'multichan' AND s.status != 'sent' {where} ORDER BY s.id DESC",
            params,
        )
    ]


def record_in(ws: Any, channel: str, order_ref: str, **shipment: Any) -> Recorded:
    """``record`` for a configured order channel of the workspace, under its lock."""
    from multichan.feeds.run import load_config

    config = load_config(ws)
    cfg = config.channel(channel)
    with ws.lock():
        db = ws.db()
        try:
            restock = bool((cfg.orders or {}).get("restock_refunds"))
            return record(db, cfg.name, order_ref, restock_refunds=restock, **shipment)
        finally:
            db.close()


CSV_COLUMNS = ("channel", "order", "sku", "quantity", "carrier", "tracking_number",
               "tracking_url", "shipped_at")  # fmt: skip


@dataclass
class Imported:
    """What ``import_file`` did: parcels recorded, parcels recorded before (the same file
    again), and the rows it could not use, each with its line."""

    recorded: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)  # {line, order, reason}

    @property
    def exit_code(self) -> int:
        return errors.REJECTED if self.rejected else errors.OK

    def as_dict(self) -> dict[str, Any]:
        return {"recorded": self.recorded, "unchanged": self.unchanged,
                "rejected": self.rejected, "exit_code": self.exit_code}  # fmt: skip


def import_file(ws: Any, path: Any) -> Imported:
    """``multichan import shipments FILE.csv``: the columns ``CSV_COLUMNS`` (channel, order,
    sku and quantity required), one row per SKU of a parcel; the rows of one order with the
    same tracking number are one parcel. A parcel without tracking is keyed by its content,
    so importing the same file again records nothing twice. A row that cannot be used is
    reported with its line; the other parcels are recorded."""
    import hashlib

    from multichan.catalog.importers.base import read_csv
    from multichan.feeds.run import load_config

    _, rows = read_csv(path, {"channel", "order", "sku", "quantity"}, "shipments CSV")
    result = Imported()
    parcels: dict[tuple[str, str, str], dict[str, Any]] = {}
    for line, row in rows:
        values = {k: (row.get(k) or "").strip() for k in CSV_COLUMNS}
        problem = next((f"{k} is empty" for k in ("channel", "order", "sku", "quantity")
                        if not values[k]), None)  # fmt: skip
        if problem is None and not (values["quantity"].isdigit() and int(values["quantity"])):
            problem = f"quantity {values['quantity']!r} is not a whole number above 0"
        if problem is None and values["shipped_at"]:
            try:
                parse_time(values["shipped_at"])
            except ValueError:
                problem = f"shipped_at {values['shipped_at']!r} is not an ISO date or time"
        if problem:
            result.rejected.append({"line": line, "order": values["order"], "reason": problem})
            continue
        group = (values["channel"], values["order"], values["tracking_number"])
        parcel = parcels.setdefault(group, {**values, "lines": {}, "first_line": line})
        parcel["lines"][values["sku"]] = parcel["lines"].get(values["sku"], 0) + int(
            values["quantity"]
        )
    config = load_config(ws)
    with ws.lock():
        db = ws.db()
        try:
            for (channel, order, tracking), parcel in parcels.items():
                where = {"line": parcel["first_line"], "order": order}
                key = tracking or "csv-" + hashlib.sha256(json.dumps(
                    [channel, order, parcel["shipped_at"], sorted(parcel["lines"].items())]
                ).encode()).hexdigest()[:16]  # fmt: skip
                try:
                    cfg = config.channel(channel)
                    done = record(
                        db, cfg.name, order, carrier=parcel["carrier"] or None,
                        tracking_number=tracking or None,
                        tracking_url=parcel["tracking_url"] or None, lines=parcel["lines"],
                        key=key, restock_refunds=bool((cfg.orders or {}).get("restock_refunds")),
                        shipped_at=parse_time(parcel["shipped_at"]) if parcel["shipped_at"]
                        else None,
                    )  # fmt: skip
                except MultichanError as exc:
                    result.rejected.append({**where, "reason": exc.message})
                    continue
                if done.status in ("unchanged", "channel"):  # nothing new to send
                    result.unchanged += 1
                else:
                    result.recorded.append(done.as_dict())
        finally:
            db.close()
    return result
