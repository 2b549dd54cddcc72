"""Everything behind one SKU's offer on each channel, for ``multichan explain``.

For a SKU it gathers: the catalog row; its stock per location (on hand and committed from the
stock table, next to what the ledger's newest line says they are); for a bundle, its components
and the whole sets each makes; and per channel: the rule steps the engine applied, traced as it
made the offer (``Rules.tracing``: the very code export and plan run, never a second copy of
it), the offer, what the next push would send of it (the plan's own ``walk`` over this SKU),
what the channel last confirmed (``push_state``) and the journal run that sent it (an API
channel), or the last export (a feed), and the stock ledger lines at the locations it counts.

The product is read as export and full plans read it (``store.iter_batches`` over this one SKU),
so a bundle's stock is derived from its components here as there. Nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from multichan.config import Channel, Config
from multichan.errors import MultichanError
from multichan.offers import Offer, Skipped, Step, rules_for

LEDGER_LINES = 20  # stock moves shown per channel, newest first


@dataclass
class LocationStock:
    """One location's stock row and what the ledger's newest line there says."""

    sku: str
    location: str
    on_hand: int
    committed: int
    available: int
    ledger_on_hand: int | None = None  # None: no ledger line at this location
    ledger_committed: int | None = None

    @property
    def agrees(self) -> bool | None:
        """Whether the stock row is what the ledger's newest line left (None: no line)."""
        if self.ledger_on_hand is None:
            return None
        return (self.ledger_on_hand, self.ledger_committed) == (self.on_hand, self.committed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku, "location": self.location, "on_hand": self.on_hand,
            "committed": self.committed, "available": self.available,
            "ledger_on_hand": self.ledger_on_hand, "ledger_committed": self.ledger_committed,
            "ledger_agrees": self.agrees,
        }  # fmt: skip


@dataclass
class Component:
    """A bundle's component: units per bundle, its available units and the whole sets they
    make, per location (``bundles.derive`` of this one component)."""

    sku: str
    quantity: int
    title: str | None
    available: dict[str, int]
    sets: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {"sku": self.sku, "quantity": self.quantity, "title": self.title,
                "available": self.available, "sets": self.sets}  # fmt: skip


@dataclass
class ChannelExplanation:
    """One channel's side: the steps, the offer, what a push or export does with it."""

    channel: str
    type: str
    feed: bool
    enabled: bool
    steps: list[Step] = field(default_factory=list)
    offer: Offer | None = None
    error: str | None = None  # the rules could not make the offer (a push leaves it out too)
    problems: list[tuple[str, str]] = field(default_factory=list)  # a feed's validator
    sends: dict[str, dict[str, Any]] = field(default_factory=dict)  # kind -> what a push sends
    next_push: list[dict[str, Any]] | None = None  # the plan's changes of this SKU (API)
    last_sent: dict[str, Any] = field(default_factory=dict)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    locations: list[str] | None = None  # the locations the channel counts (None: all)

    @property
    def outcome(self) -> str:
        """One line: what the channel gets for this SKU."""
        if self.error:
            return f"left out: {self.error}"
        if self.offer is None:
            reasons = [s.value for s in self.steps if s.step == "left out"]
            return "left out: " + ("; ".join(reasons) or "the channel's filters")
        if self.problems:
            return "left out of the feed: " + "; ".join(f"{f}: {r}" for f, r in self.problems)
        o = self.offer
        sale = f" (sale {o.sale_price})" if o.sale_price is not None else ""
        return f"price {o.price} {o.currency}{sale}, quantity {o.quantity}, {o.availability}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel, "type": self.type, "feed": self.feed,
            "enabled": self.enabled, "outcome": self.outcome,
            "steps": [s.as_dict() for s in self.steps],
            "offer": self.offer.as_dict() if self.offer is not None else None,
            "error": self.error,
            "problems": [{"field": f, "reason": r} for f, r in self.problems],
            "sends": self.sends, "next_push": self.next_push, "last_sent": self.last_sent,
            "locations": self.locations, "ledger": self.ledger,
        }  # fmt: skip


@dataclass
class Explanation:
    sku: str
    product: dict[str, Any]  # the catalog row
    stock: list[LocationStock]  # the SKU's own rows, or its components' (a bundle)
    components: list[Component]
    overrides: list[dict[str, Any]]
    channels: list[ChannelExplanation]

    def as_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku, "product": self.product,
            "stock": [s.as_dict() for s in self.stock],
            "components": [c.as_dict() for c in self.components],
            "overrides": self.overrides,
            "channels": [c.as_dict() for c in self.channels],
        }  # fmt: skip


def explain(
    db: sqlite_utils.Database,
    config: Config,
    sku: str,
    channels: Iterable[Channel] | None = None,
    ledger_lines: int = LEDGER_LINES,
) -> Explanation:
    """The explanation of ``sku`` on ``channels`` (default: every enabled channel);
    NotFound (exit 2) for a SKU the catalog does not have."""
    from multichan.catalog import bundles
    from multichan.catalog.store import require_product

    product = require_product(db, sku)
    record = _record(db, sku)
    parts = bundles.components(db, sku)
    held = [c for c, _ in parts] or [sku]  # whose stock rows make this SKU's stock
    stock = [line for s in held for line in _stock_lines(db, s)]
    components = _components(db, parts)
    overrides = {r["channel"]: r for r in db.query("SELECT * FROM overrides WHERE sku = ?", [sku])}
    chosen = list(channels) if channels is not None else [
        c for c in config.channels.values() if c.enabled
    ]  # fmt: skip
    journal = _journal(db, sku)
    found = []
    for channel in chosen:
        ex = _channel(db, config, channel, record, overrides.get(channel.name), journal)
        ex.steps[:0] = _stock_steps(stock, components, parts, ex.locations)
        ex.ledger = _ledger(db, held, ex.locations, ledger_lines)
        found.append(ex)
    return Explanation(sku, product, stock, components, list(overrides.values()), found)


def _record(db: sqlite_utils.Database, sku: str) -> dict[str, Any]:
    """The product as ``iter_catalog`` gives it to export and plan (the same reads, over this
    one SKU: a bundle's stock is its components')."""
    from multichan.catalog.store import iter_batches

    columns = [d[0] for d in db.conn.execute("SELECT * FROM products LIMIT 0").description]
    for rows, images, stock in iter_batches(db, columns, start=sku, stop=sku + "\x00"):
        for row in rows:
            if row[0] == sku:
                record = dict(zip(columns, row, strict=True))
                record["images"] = images.get(sku) or []
                record["stock"] = stock.get(sku) or {}
                return record
    from multichan.errors import NotFound

    raise NotFound(f"no product with SKU {sku!r} in the catalog")


def _stock_lines(db: sqlite_utils.Database, sku: str) -> list[LocationStock]:
    lines = []
    for location, on_hand, committed in db.conn.execute(
        "SELECT location, quantity, committed FROM stock WHERE sku = ? ORDER BY location", [sku]
    ):
        line = LocationStock(sku, location, int(on_hand), int(committed), on_hand - committed)
        last = db.conn.execute(
            "SELECT on_hand_after, committed_after FROM stock_moves WHERE sku = ? AND location = ?"
            " ORDER BY id DESC LIMIT 1",
            [sku, location],
        ).fetchone()
        if last is not None:
            line.ledger_on_hand, line.ledger_committed = int(last[0]), int(last[1])
        lines.append(line)
    return lines


def _components(db: sqlite_utils.Database, parts: list[tuple[str, int]]) -> list[Component]:
    from multichan.catalog import bundles
    from multichan.catalog.store import stock_of

    found = []
    for component, quantity in parts:
        available = stock_of(db, component)
        sets = bundles.derive([(component, quantity)], {component: available})
        title = db.conn.execute("SELECT title FROM products WHERE sku = ?", [component]).fetchone()
        found.append(Component(component, quantity, title[0] if title else None, available, sets))
    return found


def _counted(locations: list[str] | None, location: str) -> bool:
    return locations is None or location in locations


def _stock_steps(
    stock: list[LocationStock],
    components: list[Component],
    parts: list[tuple[str, int]],
    locations: list[str] | None,
) -> list[Step]:
    """The stock rows behind the engine's input (the catalog's numbers, as stored): on hand
    and committed per location, or, for a bundle, the sets each component makes."""
    if components:
        from multichan.catalog import bundles

        steps = [
            Step(f"component {c.sku} x{c.quantity}", _levels(c.available), c.sets)
            for c in components
        ]
        derived = bundles.derive(parts, {c.sku: c.available for c in components})
        steps.append(Step("bundle: fewest sets", bundles.describe(parts), derived))
        return steps
    return [
        Step("on hand", "stock table", {s.location: s.on_hand for s in stock}),
        Step("committed", "open order lines", {s.location: s.committed for s in stock}),
    ]


def _levels(levels: dict[str, int]) -> str:
    return ", ".join(f"{loc} {q}" for loc, q in levels.items()) or "no stock rows"


def _channel(
    db: sqlite_utils.Database,
    config: Config,
    channel: Channel,
    record: dict[str, Any],
    override: dict[str, Any] | None,
    journal: list[dict[str, Any]],
) -> ChannelExplanation:
    from multichan.feeds.formats import FORMATS

    fmt = FORMATS.get(channel.type)
    ex = ChannelExplanation(channel.name, channel.type, fmt is not None, channel.enabled)
    loc = channel.stock["locations"]
    ex.locations = sorted(loc) if loc is not None else None
    try:
        rules = rules_for(channel, config)
    except MultichanError as exc:  # a channel type that is not installed or fails to load
        ex.error = exc.message
        return ex
    with rules.tracing() as steps:
        try:
            ex.offer = rules.offer(record, override)
        except Exception as exc:  # the rules' own message, as export and plan report it
            ex.error = Skipped.of(record["sku"], exc).reason
        ex.steps = list(steps)
    if fmt is not None:
        if ex.offer is not None:
            ex.problems = fmt.validate(ex.offer)
        ex.last_sent = {"export": _last_export(db, channel.name)}
        if fmt.updates:  # an updating feed records what it sent: the next one withdraws it
            stores = [r[0] for r in db.conn.execute(
                "SELECT store FROM feed_items WHERE channel = ? AND sku = ? ORDER BY store",
                [channel.name, record["sku"]],
            )]  # fmt: skip
            ex.last_sent["in_last_feed"] = bool(stores)
            ex.last_sent["stores"] = [s for s in stores if s]
        return ex
    _api(db, channel, ex, journal, record["sku"])
    return ex


def _last_export(db: sqlite_utils.Database, channel: str) -> dict[str, Any] | None:
    from multichan.feeds.export import last_export

    row = last_export(db, channel)
    if row is None:
        return None
    keep = ("id", "started_at", "path", "items", "left_out", "sha256", "uploaded_to")
    return {k: row.get(k) for k in keep}


def _api(
    db: sqlite_utils.Database,
    channel: Channel,
    ex: ChannelExplanation,
    journal: list[dict[str, Any]],
    sku: str,
) -> None:
    """What the next push sends of this SKU (the plan's walk over it alone) and what the
    channel last confirmed, with the journal run that sent it."""
    from multichan.channels import registry
    from multichan.sync import state as st
    from multichan.sync.plan import Plan, snapshot, walk
    from multichan.sync.run import kinds_for

    cls = registry.load(channel.type)
    kinds = kinds_for(cls, None)
    by_location = bool(cls.stock_by_location)
    if ex.offer is not None and ex.error is None:
        ex.sends = {kind: snapshot(ex.offer, kind, by_location) for kind in kinds}
    state = st.load(db, channel.name, [sku])
    offers = [ex.offer] if ex.offer is not None and ex.error is None else []
    plan = Plan(channel.name, by_location=by_location)
    ex.next_push = [
        {**c.as_dict(), "snapshot": c.snapshot}
        for _, _, changes in walk(offers, sorted(state.items()), plan, kinds)
        for c in changes
    ]
    rows = state.get(sku, {})
    mine = [j for j in journal if j["channel"] == channel.name]
    for kind in kinds:
        row = rows.get(kind)
        items = [j for j in mine if j["kind"] == kind]
        sent = next((j for j in items if j["outcome"] == "ok"), None)
        latest = items[0] if items else None
        ex.last_sent[kind] = None if row is None and latest is None else {
            "status": row["status"] if row else None,
            "snapshot": row["snapshot"] if row else None,
            "updated_at": row["updated_at"] if row else None,
            "last_error": row["last_error"] if row else None,
            "remote_ids": row["remote_ids"] if row else {},
            "sent_by": _run(sent),
            "last_attempt": _run(latest) if latest is not sent else None,
        }  # fmt: skip


def _run(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    keep = ("run_id", "command", "started_at", "run_status", "action", "outcome", "message", "at")
    return {k: item[k] for k in keep} | {"sent": item.get("snapshot")}


def _journal(db: sqlite_utils.Database, sku: str) -> list[dict[str, Any]]:
    """The SKU's journal lines on every channel, newest first, with their runs."""
    return [
        dict(r)
        for r in db.query(
            "SELECT i.sku, i.kind, i.action, i.outcome, i.message, i.at, i.snapshot, i.run_id,"
            " r.channel, r.command, r.started_at, r.status AS run_status"
            " FROM journal_items i JOIN journal_runs r ON r.id = i.run_id"
            " WHERE i.sku = ? ORDER BY i.id DESC",
            [sku],
        )
    ]


def _ledger(
    db: sqlite_utils.Database, skus: list[str], locations: list[str] | None, limit: int
) -> list[dict[str, Any]]:
    """The newest stock moves of ``skus`` (the SKU, or a bundle's components) at
    ``locations`` (None: all), newest first."""
    marks = ", ".join("?" * len(skus))
    where, params = f"sku IN ({marks})", list(skus)
    if locations is not None:
        where += f" AND location IN ({', '.join('?' * len(locations))})"
        params += locations
    return [
        dict(r)
        for r in db.query(
            f"SELECT * FROM stock_moves WHERE {where} ORDER BY id DESC LIMIT ?", [*params, limit]
        )
    ]
