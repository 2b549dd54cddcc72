"""Sales and stock reports: the SQL that aggregates the orders tables, the arithmetic on top of
it (shares, units sold per day, days of cover, suggested transfers and reorders) and the
charts of the same numbers. Read-only over the catalog; never prints.

Which orders count (said in every report, never silently): orders in status ``open`` or
``closed`` (paid or authorised) are sales, whether or not they were recorded before a
channel's baseline; ``pending`` (unpaid) and ``cancelled`` orders are counted apart. Units are
the lines' ``ordered``; ``returned`` (back in stock) and ``refunded`` (refunded, not restocked)
are the refunds, and ``net`` what is left. Times are the orders' ``created_at``, in UTC; a day
is a UTC day and a week starts on Monday.

Revenue is what the channels said the buyer pays (``order_lines.line_total``, recorded by pulls
from schema version 8 on), never estimated from catalog prices: per line its total less the
share of its refunded and returned units, summed exactly in thousandths of a unit. Amounts in
the shop currency count as they are, others through the rates the channels' ``price.rates``
give (``shop_rates``); an amount with no rate is listed apart under its own currency, and lines
pulled before amounts were recorded are counted in the note, not guessed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlite_utils

from multichan.errors import UsageError
from multichan.orders.model import iso

SALES = ("open", "closed")  # paid or authorised: what a report counts as sold
APART = ("pending", "cancelled")  # counted, and shown apart from sales
GROUPS = ("channel", "sku", "product", "day", "week", "location")
ORDER_LEVEL = ("channel", "day", "week")  # a key each order has one of
CHART_FORMATS = ("png", "svg")
REVENUE_NOTE = (
    "what the buyers pay for the units they kept (each line's total after discounts, tax "
    "aside, less its refunded and returned units' share), in the shop currency; orders in "
    "another currency are converted with the channels' price.rates, else listed apart"
)
NO_LINES, NOT_IN_CATALOG, NO_LOCATION = "(no lines)", "(SKU not in the catalog)", "(no location)"

# (key, special) per grouping: special names the rows that have no key of their own
KEYS = {
    "channel": ("o.channel", "NULL"),
    "day": ("substr(o.created_at, 1, 10)", "NULL"),
    "week": ("date(substr(o.created_at, 1, 10), 'weekday 0', '-6 days')", "NULL"),
    "sku": ("l.sku", f"CASE WHEN l.line_id IS NULL THEN '{NO_LINES}' "
                     f"WHEN l.sku IS NULL THEN '{NOT_IN_CATALOG}' END"),
    "product": ("COALESCE(p.item_group_id, l.sku)",
                f"CASE WHEN l.line_id IS NULL THEN '{NO_LINES}' "
                f"WHEN l.sku IS NULL THEN '{NOT_IN_CATALOG}' END"),
    "location": ("l.location", f"CASE WHEN l.line_id IS NULL THEN '{NO_LINES}' "
                               f"WHEN l.location IS NULL THEN '{NO_LOCATION}' END"),
}  # fmt: skip

SALE = "o.status IN ('open', 'closed')"
# order-level groupings (channel, day, week): one row per order (its lines summed, walking the
# primary keys in order, no sort), then one per key and channel (the channels' totals too)
ORDER_SQL = """
SELECT key, NULL AS special, channel,
       SUM(sale AND units > 0) AS orders, SUM(sale AND units > 0 AND baseline) AS baseline,
       SUM(sale * units) AS units, SUM(sale * returned) AS returned,
       SUM(sale * refunded) AS refunded, SUM(status = 'pending') AS pending_orders,
       SUM((status = 'pending') * units) AS pending_units,
       SUM(status = 'cancelled') AS cancelled_orders,
       SUM((status = 'cancelled') * units) AS cancelled_units,
       SUM(status = 'open') AS open_orders, SUM(status = 'closed') AS closed_orders,
       SUM(sale * unmatched) AS unmatched, SUM(sale * problems) AS problems,
       SUM(sale AND units = 0) AS empty
FROM (
    SELECT {key} AS key, o.channel AS channel, o.status AS status, {sale} AS sale,
           o.baseline AS baseline,
           COALESCE(SUM(l.ordered), 0) AS units, COALESCE(SUM(l.returned), 0) AS returned,
           COALESCE(SUM(l.refunded), 0) AS refunded,
           COALESCE(SUM(l.sku IS NULL AND l.problem IS NULL), 0) AS unmatched,
           COALESCE(SUM(l.problem IS NOT NULL), 0) AS problems
    FROM orders o LEFT JOIN order_lines l ON l.channel = o.channel AND l.order_id = o.order_id
    {where}
    GROUP BY o.channel, o.order_id
)
GROUP BY key, channel
"""
# line-level groupings (sku, product, location): one row per key straight from the lines; an
# order counts once in a group however many of its lines fall there (distinct order rowids)
LINE_SQL = """
SELECT {key} AS key, {special} AS special,
       COUNT(DISTINCT CASE WHEN {sale} AND l.ordered > 0 THEN o.rowid END) AS orders,
       COUNT(DISTINCT CASE WHEN {sale} AND l.ordered > 0 AND o.baseline THEN o.rowid END)
           AS baseline,
       COALESCE(SUM(CASE WHEN {sale} THEN l.ordered END), 0) AS units,
       COALESCE(SUM(CASE WHEN {sale} THEN l.returned END), 0) AS returned,
       COALESCE(SUM(CASE WHEN {sale} THEN l.refunded END), 0) AS refunded,
       COUNT(DISTINCT CASE WHEN o.status = 'pending' THEN o.rowid END) AS pending_orders,
       COALESCE(SUM(CASE WHEN o.status = 'pending' THEN l.ordered END), 0) AS pending_units,
       COUNT(DISTINCT CASE WHEN o.status = 'cancelled' THEN o.rowid END) AS cancelled_orders,
       COALESCE(SUM(CASE WHEN o.status = 'cancelled' THEN l.ordered END), 0) AS cancelled_units
FROM orders o LEFT JOIN order_lines l ON l.channel = o.channel AND l.order_id = o.order_id
{join}
{where}
GROUP BY key, special
"""

REVENUE_SQL = """
SELECT {key} AS key, {special} AS special, o.channel AS channel,
       COALESCE(o.currency, '') AS currency,
       SUM(CAST(ROUND(CAST(l.line_total AS REAL) * 1000) AS INTEGER)) AS gross,
       SUM(CAST(ROUND(CAST(l.line_total AS REAL) * 1000
                      * (l.ordered - l.returned - l.refunded) / l.ordered) AS INTEGER)) AS net,
       SUM(l.line_total IS NULL) AS unpriced
FROM orders o JOIN order_lines l ON l.channel = o.channel AND l.order_id = o.order_id
{join}
{where}
GROUP BY key, special, o.channel, COALESCE(o.currency, '')
"""
THOUSAND = Decimal(1000)

SOLD_SQL = """
SELECT l.sku, l.location, SUM(l.ordered) AS ordered, SUM(l.returned) AS returned
FROM orders o JOIN order_lines l ON l.channel = o.channel AND l.order_id = o.order_id
WHERE o.status IN ('open', 'closed') AND o.created_at >= ? AND o.created_at < ?
      AND l.sku IS NOT NULL
GROUP BY l.sku, l.location
"""

LEVELS_SQL = """
SELECT s.sku, s.location, s.on_hand, s.committed, s.available, p.title, p.status,
       COALESCE(p.stock_tracking, 'tracked') AS stock_tracking
FROM stock_levels s LEFT JOIN products p ON p.sku = s.sku
"""


# --- sales -----------------------------------------------------------------------------------
@dataclass
class Figures:
    """What a report says about one group (or all of them): sales, refunds, and the orders
    counted apart."""

    orders: int = 0  # sales orders (open, closed) with at least one unit here
    units: int = 0
    returned: int = 0
    refunded: int = 0
    baseline_orders: int = 0  # of ``orders``: recorded before the channel's baseline
    pending_orders: int = 0
    pending_units: int = 0
    cancelled_orders: int = 0
    cancelled_units: int = 0
    unit_share: float = 0.0  # of the report's units
    order_share: float = 0.0  # of the report's sales orders
    revenue: Decimal = Decimal(0)  # net, in the shop currency
    gross_revenue: Decimal = Decimal(0)
    unconverted: dict[str, Decimal] = field(default_factory=dict)  # net, per currency
    by_currency: dict[str, Decimal] = field(default_factory=dict)  # net, as the orders paid

    @property
    def net_units(self) -> int:
        return self.units - self.returned - self.refunded

    def add(self, row: dict[str, Any]) -> None:
        self.orders += row["orders"]
        self.units += row["units"]
        self.returned += row["returned"]
        self.refunded += row["refunded"]
        self.baseline_orders += row["baseline"]
        self.pending_orders += row["pending_orders"]
        self.pending_units += row["pending_units"]
        self.cancelled_orders += row["cancelled_orders"]
        self.cancelled_units += row["cancelled_units"]

    def shares(self, total: Figures) -> None:
        self.unit_share = round(self.units / total.units, 4) if total.units else 0.0
        self.order_share = round(self.orders / total.orders, 4) if total.orders else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "orders": self.orders, "units": self.units, "returned": self.returned,
            "refunded": self.refunded, "net_units": self.net_units,
            "baseline_orders": self.baseline_orders, "pending_orders": self.pending_orders,
            "pending_units": self.pending_units, "cancelled_orders": self.cancelled_orders,
            "cancelled_units": self.cancelled_units, "unit_share": self.unit_share,
            "order_share": self.order_share, "revenue": _cents(self.revenue),
            "gross_revenue": _cents(self.gross_revenue),
            "revenue_unconverted": {c: _cents(v) for c, v in sorted(self.unconverted.items())},
            "revenue_by_currency": {c: _cents(v) for c, v in sorted(self.by_currency.items())},
        }  # fmt: skip

    def earn(self, net: Decimal, gross: Decimal, currency: str, rates: dict[str, Decimal],
             shop: str) -> None:  # fmt: skip
        """Add a net and gross amount in ``currency`` (converted when a rate says how)."""
        paid = currency or shop
        self.by_currency[paid] = self.by_currency.get(paid, Decimal(0)) + net
        rate = Decimal(1) if currency in (shop, "") else rates.get(currency)
        if rate is None:
            self.unconverted[currency] = self.unconverted.get(currency, Decimal(0)) + net
            return
        self.revenue += (net * rate).quantize(Decimal("0.001"))
        self.gross_revenue += (gross * rate).quantize(Decimal("0.001"))


@dataclass
class SalesRow:
    key: str | None  # the channel, SKU, product, location or day; None for the rows below
    label: str  # what a person reads: the key, a product's title, "(SKU not in the catalog)"
    figures: Figures = field(default_factory=Figures)

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, **self.figures.as_dict()}


@dataclass
class SalesReport:
    by: str
    since: datetime | None
    until: datetime | None  # exclusive
    channel: str | None
    rows: list[SalesRow]
    total: Figures
    channels: list[SalesRow]  # each channel's share, whatever the grouping
    statuses: dict[str, int]  # orders per status in the period: everything that was read
    notes: list[str]
    currency: str = "USD"  # of the revenue

    def counted(self) -> str:
        """Which orders the numbers are made of, in one sentence."""
        t = self.total
        where = f" from {self.channel}" if self.channel else ""
        text = (
            f"{t.orders} sales order(s){where} (status open or closed; "
            f"{t.baseline_orders} recorded before a channel's baseline, counted too); "
            f"{t.pending_orders} pending (unpaid) and {t.cancelled_orders} cancelled counted "
            f"apart; created {period_text(self.since, self.until)}"
        )
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "since": iso(self.since) if self.since else None,
            "until": iso(self.until) if self.until else None,
            "until_exclusive": True,
            "channel": self.channel,
            "counted": {
                "statuses": list(SALES),
                "apart": list(APART),
                "orders_by_status": self.statuses,
                "baseline_orders": self.total.baseline_orders,
                "summary": self.counted(),
            },
            "revenue": {
                "currency": self.currency,
                "net": _cents(self.total.revenue),
                "gross": _cents(self.total.gross_revenue),
                "unconverted": {c: _cents(v) for c, v in sorted(self.total.unconverted.items())},
                "by_currency": {c: _cents(v) for c, v in sorted(self.total.by_currency.items())},
            },
            "revenue_note": REVENUE_NOTE,
            "total": self.total.as_dict(),
            "channels": [{"channel": c.key, **c.figures.as_dict()} for c in self.channels],
            "rows": [r.as_dict() for r in self.rows],
            "notes": self.notes,
        }


def period_text(since: datetime | None, until: datetime | None) -> str:
    """The period in words: whole UTC days as dates (both included), else the times."""
    if since is None and until is None:
        return "all time"
    midnight = all(t is None or t.time() == time(0) for t in (since, until))
    if midnight:
        start = since.date().isoformat() if since else "the first order"
        end = (until - timedelta(days=1)).date().isoformat() if until else "now"
        return f"{start} to {end} (UTC days, both included)"
    start = iso(since) if since else "the first order"
    return f"{start} to {f'before {iso(until)}' if until else 'now'}"


def _where(
    since: datetime | None, until: datetime | None, channel: str | None
) -> tuple[str, list[Any]]:
    clauses, params = [], []
    for clause, value in (("o.created_at >= ?", iso(since) if since else None),
                          ("o.created_at < ?", iso(until) if until else None),
                          ("o.channel = ?", channel)):  # fmt: skip
        if value is not None:
            clauses.append(clause)
            params.append(value)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


def _aggregate(
    db: sqlite_utils.Database, by: str, where: str, params: list[Any]
) -> list[dict[str, Any]]:
    key, special = KEYS[by]
    if by in ORDER_LEVEL:
        sql = ORDER_SQL.format(key=key, sale=SALE, where=where)
    else:
        join = "LEFT JOIN products p ON p.sku = l.sku" if by == "product" else ""
        sql = LINE_SQL.format(key=key, special=special, sale=SALE, join=join, where=where)
    return [dict(row) for row in db.query(sql, params)]


def _by_channel(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows per key and channel added up per channel."""
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        into = found.setdefault(row["channel"], {"key": row["channel"], "special": None})
        for name, value in row.items():
            if name not in ("key", "special", "channel"):
                into[name] = into.get(name, 0) + value
    return list(found.values())


def _labels(db: sqlite_utils.Database, by: str) -> dict[str, str]:
    """A product's title for its key (item group or SKU), the first of its variants' titles."""
    if by != "product":
        return {}
    sql = "SELECT COALESCE(item_group_id, sku) AS k, MIN(title) AS t FROM products GROUP BY k"
    return {row["k"]: row["t"] for row in db.query(sql)}


def _days(first: date, last: date, step: int) -> list[str]:
    found, day = [], first
    while day <= last:
        found.append(day.isoformat())
        day += timedelta(days=step)
    return found


def sales_report(
    db: sqlite_utils.Database,
    *,
    by: str = "channel",
    since: datetime | None = None,
    until: datetime | None = None,
    channel: str | None = None,
    currency: str = "USD",
    rates: Mapping[str, Decimal] | None = None,
) -> SalesReport:
    """Orders, units, revenue, refunds and cancellations per ``by`` for orders created in
    [``since``, ``until``), and each channel's share. ``currency`` is the shop's, ``rates``
    what one unit of another currency is worth in it (``shop_rates``)."""
    if by not in GROUPS:
        raise UsageError(f"--by {by!r}: one of {', '.join(GROUPS)}")
    if since and until and since >= until:
        raise UsageError(f"the period is empty: {iso(since)} is not before {iso(until)}")
    where, params = _where(since, until, channel)
    if by in ORDER_LEVEL:  # one query: its rows per key and channel add up to each channel's
        rows = _aggregate(db, by, where, params)
        per_channel = rows if by == "channel" else _by_channel(rows)
    else:  # an order holds several SKUs: the totals count orders, from a query of their own
        per_channel = _aggregate(db, "channel", where, params)
        rows = _aggregate(db, by, where, params)

    total, statuses = Figures(), dict.fromkeys((*SALES, *APART), 0)
    unmatched = problems = empty = 0
    channels: dict[str, SalesRow] = {}
    for row in per_channel:
        total.add(row)
        channels.setdefault(row["key"], SalesRow(row["key"], row["key"])).figures.add(row)
        for status in statuses:
            statuses[status] += row[f"{status}_orders"]
        unmatched += row["unmatched"]
        problems += row["problems"]
        empty += row["empty"]

    labels = _labels(db, by)
    groups: dict[tuple[str | None, str | None], SalesRow] = {}
    for row in rows:
        name = row["special"] or labels.get(row["key"]) or row["key"]
        found = groups.setdefault((row["key"], row["special"]), SalesRow(row["key"], name))
        found.figures.add(row)
    if by in ("day", "week") and groups:
        # every day (or week) of the period, so a quiet one shows as zero, not as a gap
        keys = sorted(k for k, _ in groups if k is not None)
        step = 7 if by == "week" else 1
        first = date.fromisoformat(keys[0])
        last = date.fromisoformat(keys[-1])
        if since:
            first = min(first, _start_of(since.date(), by))
        if until:
            last = max(last, _start_of((until - timedelta(microseconds=1)).date(), by))
        for day in _days(first, last, step):
            groups.setdefault((day, None), SalesRow(day, day))
    unpriced = _revenue(db, by, where, params, groups, channels, total, currency, dict(rates or {}))
    ordered = list(groups.values())
    if by in ("day", "week"):
        ordered.sort(key=lambda r: (r.key is None, r.key or ""))
    else:
        ordered.sort(key=lambda r: (r.key is None, -r.figures.units, -r.figures.orders,
                                    r.label))  # fmt: skip
    for r in [*ordered, *channels.values()]:
        r.figures.shares(total)
    total.shares(total)
    by_channel = sorted(channels.values(), key=lambda r: (-r.figures.units, r.label))

    notes = []
    if unmatched:
        notes.append(
            f"{unmatched} sales line(s) have a SKU that is not in the catalog: counted in "
            "the totals, under (SKU not in the catalog) by SKU, product or location"
        )
    if problems:
        notes.append(
            f"{problems} sales line(s) have a quantity that is not a whole number of units "
            "(see `multichan orders show`): counted with 0 units"
        )
    if empty:
        notes.append(
            f"{empty} sales order(s) order no units (returns recorded as orders of their "
            "own, as Square does): their refunds count, they do not count as orders"
        )
    if unpriced:
        notes.append(
            f"{unpriced} sales line(s) were pulled before multichan recorded amounts (or the "
            "channel gave none): their units count, their revenue is unknown"
        )
    if total.unconverted:
        apart = ", ".join(f"{_cents(v)} {c}" for c, v in sorted(total.unconverted.items()))
        notes.append(f"revenue in currencies with no rate to {currency}, not in the totals: "
                     f"{apart} (add price.rates to the channels that sell in them)")  # fmt: skip
    if since or until:
        undated = db.execute("SELECT COUNT(*) FROM orders WHERE created_at IS NULL").fetchone()[0]
        if undated:
            notes.append(f"{undated} order(s) have no creation time and are outside any period")
    return SalesReport(by, since, until, channel, ordered, total, by_channel, statuses, notes,
                       currency)  # fmt: skip


def _revenue(
    db: sqlite_utils.Database, by: str, where: str, params: list[Any],
    groups: dict[tuple[str | None, str | None], SalesRow], channels: dict[str, SalesRow],
    total: Figures, currency: str, rates: dict[str, Decimal],
) -> int:  # fmt: skip
    """Add each sales line's revenue to its group, its channel and the total; returns the
    number of sales lines with no amount."""
    key, special = KEYS[by]
    join = "LEFT JOIN products p ON p.sku = l.sku" if by == "product" else ""
    sale = f"{SALE} AND l.ordered > 0"
    where = f"{where} AND {sale}" if where else f"WHERE {sale}"
    unpriced = 0
    for row in db.query(REVENUE_SQL.format(key=key, special=special, join=join, where=where),
                        params):  # fmt: skip
        unpriced += row["unpriced"] or 0
        if row["gross"] is None:
            continue
        net, gross = Decimal(row["net"]) / THOUSAND, Decimal(row["gross"]) / THOUSAND
        amounts = (net, gross, row["currency"], rates, currency)
        total.earn(*amounts)
        if row["channel"] in channels:
            channels[row["channel"]].figures.earn(*amounts)
        name = (row["key"], row["special"])
        if name in groups:
            groups[name].figures.earn(*amounts)
    return unpriced


def _cents(amount: Decimal) -> str:
    """An amount as reports show money: to the cent (sums are kept in thousandths)."""
    return str(amount.quantize(Decimal("0.01")))


def shop_rates(config: Any) -> tuple[str, dict[str, Decimal]]:
    """The shop's currency, and what one unit of each currency a channel sells in is worth in
    it: a channel with ``price.currency: EUR`` and ``price.rates: {USD: 0.92}`` (1 USD = 0.92
    EUR) makes 1 EUR = 1 / 0.92 USD."""
    shop = str(config.shop.get("currency") or "USD")
    rates: dict[str, Decimal] = {}
    for channel in config.channels.values():
        target, rate = channel.price.get("currency"), channel.price.get("rates", {}).get(shop)
        if target and target != shop and rate:
            rates.setdefault(str(target), Decimal(1) / Decimal(str(rate)))
    return shop, rates


def _start_of(day: date, by: str) -> date:
    return day - timedelta(days=day.weekday()) if by == "week" else day


# --- stock -----------------------------------------------------------------------------------
@dataclass
class StockRow:
    sku: str
    location: str
    title: str | None
    product_status: str | None
    on_hand: int
    committed: int
    available: int
    sold: int  # units that left stock in the window: ordered, less returned
    per_day: float
    cover_days: float | None  # None: nothing sold, so no end in sight
    transfers: list[dict[str, Any]] = field(default_factory=list)  # [{"from", "units"}]
    reorder: int = 0
    stock_tracking: str = "tracked"  # untracked: not counted, so no cover and no suggestion

    @property
    def suggestion(self) -> str:
        parts = [f"transfer {t['units']} from {t['from']}" for t in self.transfers]
        if self.reorder:
            parts.append(f"reorder {self.reorder}")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku, "location": self.location, "title": self.title,
            "product_status": self.product_status, "on_hand": self.on_hand,
            "committed": self.committed, "available": self.available, "sold": self.sold,
            "per_day": self.per_day, "cover_days": self.cover_days,
            "transfers": self.transfers, "reorder": self.reorder,
            "suggestion": self.suggestion or None, "stock_tracking": self.stock_tracking,
        }  # fmt: skip


@dataclass
class StockReport:
    since: datetime
    until: datetime
    days: int
    target_days: int
    rows: list[StockRow]
    notes: list[str]

    def counted(self) -> str:
        return (
            f"units sold per day over {self.days} day(s), {period_text(self.since, self.until)}"
            f": units ordered less units returned, on open and closed orders "
            f"(baseline orders too; pending and cancelled ones do not take stock); "
            f"suggestions keep {self.target_days} day(s) of cover at every location"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": iso(self.since), "until": iso(self.until), "days": self.days,
            "target_cover_days": self.target_days, "counted": self.counted(),
            "rows": [r.as_dict() for r in self.rows], "notes": self.notes,
        }  # fmt: skip


def _suggest(rows: list[StockRow], days: int, target_days: int) -> None:
    """Per SKU: each location short of ``target_days`` of cover (at the units it sold in
    ``days``) takes what other locations hold beyond their own target (most urgent first, from
    the largest surplus), then a reorder for the rest. Whole units, exact arithmetic."""
    wanted = {r.location: max(0, -(-r.sold * target_days // days)) for r in rows}
    surplus = {r.location: max(0, r.available - wanted[r.location]) for r in rows}
    short = [r for r in rows if r.sold > 0 and r.available < wanted[r.location]]
    short.sort(key=lambda r: (r.cover_days if r.cover_days is not None else math.inf, r.location))
    for row in short:
        need = wanted[row.location] - row.available
        surplus[row.location] = 0
        for donor in sorted(surplus, key=lambda loc: (-surplus[loc], loc)):
            if need <= 0 or surplus[donor] <= 0:
                break
            moved = min(need, surplus[donor])
            row.transfers.append({"from": donor, "units": moved})
            surplus[donor] -= moved
            need -= moved
        row.reorder = max(0, need)


def stock_report(
    db: sqlite_utils.Database, *, until: datetime, days: int = 30, target_days: int = 14
) -> StockReport:
    """Per SKU and location: available, units sold per day over the ``days`` before ``until``,
    days of cover, and the transfer or reorder that gives every location ``target_days``."""
    if days < 1 or target_days < 1:
        raise UsageError("--days and --cover must be at least 1")
    since = until - timedelta(days=days)
    sold: dict[tuple[str, str | None], int] = {}
    for line in db.query(SOLD_SQL, [iso(since), iso(until)]):
        sold[(line["sku"], line["location"])] = line["ordered"] - line["returned"]
    rows: dict[tuple[str, str], StockRow] = {}
    levels = list(db.query(LEVELS_SQL))
    titles = {r["sku"]: (r["title"], r["status"]) for r in levels}
    untracked = {r["sku"] for r in levels if r["stock_tracking"] == "untracked"}
    stocked = {(r["sku"], r["location"]) for r in levels}
    extra = [k for k in sold if k not in stocked]
    if extra:  # sold at a location the SKU has no stock row at: nothing on hand there
        for sku, title, status in db.execute(
            "SELECT sku, title, status FROM products WHERE sku IN "
            f"({', '.join('?' * len({k[0] for k in extra}))})",
            sorted({k[0] for k in extra}),
        ):
            titles[sku] = (title, status)
    entries = [
        *((r["sku"], r["location"], r["on_hand"], r["committed"], r["available"]) for r in levels),
        *((sku, loc or NO_LOCATION, 0, 0, 0) for sku, loc in extra),
    ]
    for sku, location, on_hand, committed, available in entries:
        units = sold.get((sku, None if location == NO_LOCATION else location), 0)
        per_day = units / days
        cover = round(max(available, 0) * days / units, 1) if units > 0 else None
        title, status = titles.get(sku, (None, None))
        rows[(sku, location)] = StockRow(sku, location, title, status, on_hand, committed,
                                         available, units, round(per_day, 3), cover)  # fmt: skip
        if sku in untracked:  # its count means nothing: no cover, nothing to reorder
            rows[(sku, location)].stock_tracking, rows[(sku, location)].cover_days = (
                "untracked", None)  # fmt: skip
    by_sku: dict[str, list[StockRow]] = {}
    for found in rows.values():
        by_sku.setdefault(found.sku, []).append(found)
    for sku, group in by_sku.items():
        if sku not in untracked:
            _suggest(group, days, target_days)
    ordered = sorted(rows.values(), key=lambda r: (
        r.cover_days is None, r.cover_days if r.cover_days is not None else 0, r.sku, r.location
    ))  # fmt: skip
    notes = []
    unmatched = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(l.ordered), 0) FROM orders o JOIN order_lines l "
        "ON l.channel = o.channel AND l.order_id = o.order_id WHERE l.sku IS NULL AND "
        "o.status IN ('open', 'closed') AND o.created_at >= ? AND o.created_at < ?",
        [iso(since), iso(until)],
    ).fetchone()
    if unmatched[0]:
        notes.append(
            f"{unmatched[0]} sales line(s) ({unmatched[1]} units) have no catalog SKU "
            "(not in the catalog, or a quantity stock cannot use): not in these numbers"
        )
    if extra:
        notes.append(
            f"{len(extra)} SKU/location pair(s) sold where the catalog holds no stock row: "
            "shown with 0 on hand"
        )
    return StockReport(since, until, days, target_days, ordered, notes)


# --- bars and charts -------------------------------------------------------------------------
BLOCKS = " ▏▎▍▌▋▊▉█"


def bar(fraction: float, width: int = 20) -> str:
    """``fraction`` (0..1) of ``width`` cells as a bar of block characters, in eighths."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return "█" * full + (BLOCKS[part] if part else "")


def chart_format(path: Path) -> str:
    """The chart format named by ``path``'s suffix; a usage error for any other."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in CHART_FORMATS:
        raise UsageError(f"--chart {path}: the file must end in .png or .svg")
    return suffix


def _figure(height_rows: int):  # -> matplotlib.figure.Figure
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageError(
            "--chart needs matplotlib, which is not installed",
            hint="pip install 'multichan[charts]'",
        ) from None
    return Figure(figsize=(10, max(3.5, 1.2 + 0.32 * height_rows)), layout="constrained")


def _save(fig: Any, path: Path) -> Path:
    kind = chart_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"Date": None} if kind == "svg" else None  # the same numbers, the same file
    fig.savefig(path, format=kind, dpi=120, metadata=metadata)
    return path


def sales_chart(report: SalesReport, path: Path, top: int = 25) -> Path:
    """Units per group (net units and refunds stacked; the period's days in order for
    ``day`` and ``week``, else the ``top`` groups by units) as a PNG or SVG."""
    chart_format(path)
    over_time = report.by in ("day", "week")
    rows = report.rows if over_time else report.rows[:top]
    fig = _figure(len(rows) if not over_time else 10)
    ax = fig.add_subplot()
    labels = [r.label for r in rows]
    net = [max(0, r.figures.net_units) for r in rows]
    back = [r.figures.returned + r.figures.refunded for r in rows]
    cancelled = [r.figures.cancelled_units for r in rows]
    if over_time:
        xs = range(len(rows))
        ax.bar(xs, net, color="#2b6cb0", label="net units")
        ax.bar(xs, back, bottom=net, color="#ed8936", label="returned or refunded")
        marked = [(x, c) for x, c in zip(xs, cancelled, strict=True) if c]
        if marked:
            ax.scatter(*zip(*marked, strict=True), color="#c53030", marker="x",
                       label="cancelled units", zorder=3)  # fmt: skip
        step = max(1, len(rows) // 12)
        ax.set_xticks(list(xs)[::step], labels[::step], rotation=45, ha="right")
        ax.set_ylabel("units")
    else:
        ys = range(len(rows))
        ax.barh(ys, net, color="#2b6cb0", label="net units")
        ax.barh(ys, back, left=net, color="#ed8936", label="returned or refunded")
        ax.set_yticks(list(ys), [label[:40] for label in labels])
        ax.invert_yaxis()
        ax.set_xlabel("units")
        for y, r in zip(ys, rows, strict=True):
            ax.annotate(f" {r.figures.units} ({r.figures.unit_share:.0%})",
                        (r.figures.units, y), va="center", fontsize=8)  # fmt: skip
        ax.margins(x=0.12)
    ax.legend(loc="best", fontsize=8)
    t = report.total
    where = f"{report.channel}, " if report.channel else ""
    ax.set_title(
        f"Units sold by {report.by}: {where}{period_text(report.since, report.until)}\n"
        f"{t.orders} orders, {t.units} units, {t.returned + t.refunded} refunded, "
        f"{t.cancelled_orders} cancelled (open and closed orders; UTC)",
        fontsize=10,
    )
    return _save(fig, path)


def stock_chart(report: StockReport, path: Path, top: int = 30) -> Path:
    """Days of cover of the ``top`` SKU/locations that sold least long (the line: the target
    cover), as a PNG or SVG."""
    chart_format(path)
    rows = [r for r in report.rows if r.cover_days is not None][:top]
    fig = _figure(len(rows))
    ax = fig.add_subplot()
    ys = range(len(rows))
    covers = [max(0.0, r.cover_days or 0.0) for r in rows]
    limit = 3 * report.target_days  # longer covers are drawn to the edge, their number written
    colours = ["#c53030" if c < report.target_days else "#2f855a" for c in covers]
    ax.barh(ys, [min(c, limit) for c in covers], color=colours)
    ax.set_yticks(list(ys), [f"{r.sku} @ {r.location}"[:40] for r in rows])
    ax.invert_yaxis()
    ax.axvline(report.target_days, color="#4a5568", linestyle="--", linewidth=1)
    for y, r, c in zip(ys, rows, covers, strict=True):
        note = f" {c:g} days: {r.available} left, {r.per_day:g}/day" + (
            f"; {r.suggestion}" if r.suggestion else ""
        )
        ax.annotate(note, (min(c, limit), y), va="center", fontsize=8)
    ax.set_xlim(0, limit * 1.6)
    ax.set_xlabel(f"days of cover (dashed: the {report.target_days}-day target; bars stop at "
                  f"{limit})")  # fmt: skip
    ax.set_title(
        f"Days of cover at the units sold per day, {period_text(report.since, report.until)}"
        + ("" if rows else "\n(nothing sold in the window)"),
        fontsize=10,
    )
    return _save(fig, path)


def now() -> datetime:
    return datetime.now(UTC)
