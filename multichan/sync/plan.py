"""The plan: one channel's current offers diffed against what it last confirmed (push_state),
walked as a merge, a range of SKUs at a time, so memory stays flat however large the catalog.

Each kind is diffed on its own fields, so a price change sends a price update only:
listings (title, description, images, identifiers, attributes), prices (price, sale price,
currency), quantities (absolute quantity). A SKU with no confirmed listing is a *create*; a SKU
the channel has listed but no longer gets an offer for (archived, filtered out, excluded) is a
*delist*, sent as quantity 0. Offers come from the rules engine, never computed here.

Offers (SKU order) and the channel's push_state (read ``RANGE`` SKUs at a time, in SKU order,
``state.ranges``) are walked together (``walk``): a SKU in both is diffed, an offer alone is a
create, a state row alone may be a delist; nothing else of either is held. ``stream`` gives a
plan's changes SKU by SKU for ``plan`` (printed, or written as JSON, as they come); the plan's
counts are final once the walk is over. ``make_plan``, for ``push``, spills the changes into a
``Spill`` (a private temporary SQLite database, deleted when closed) a range at a time, keyed
by kind and SKU, with what the safety limits need, so the push can check them before sending
anything and then read each kind back in SKU order, a batch at a time.
"""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from typing import Any

import sqlite_utils

from multichan.config import Channel, Config
from multichan.offers import Offer, Skipped, build, load_overrides, offers_for, rules_for
from multichan.sync import changes as ch
from multichan.sync import state as st

RANGE = 5_000  # SKUs walked, and changes spilled, at a time
ORDER = {"update": 0, "delist": 1, "create": 2}  # a SKU's action: the strongest of its kinds

FIELDS: dict[str, tuple[str, ...]] = {
    "listings": (
        "title", "description", "link", "image_link", "additional_image_links", "brand",
        "gtin", "mpn", "condition", "item_group_id", "product_type",
        "google_product_category", "color", "size", "material", "pattern", "gender",
        "age_group", "weight_grams",
    ),
    "prices": ("price", "sale_price", "currency"),
    "quantities": ("quantity",),
}  # fmt: skip


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any

    def __str__(self) -> str:
        if self.field in ("description",) or isinstance(self.new, list):
            return f"{self.field} changed"
        return f"{self.field} {_show(self.old)} -> {_show(self.new)}"

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass
class Change:
    """One SKU and kind to send: the offer, the snapshot the channel will hold, its hash."""

    sku: str
    kind: str
    action: str  # create, update, delist
    offer: Offer
    snapshot: dict[str, Any]
    hash: str
    fields: list[FieldChange] = field(default_factory=list)

    @property
    def group(self) -> str | None:
        """The product (item group) the SKU is a variant of, for batching."""
        return self.offer.item_group_id

    @property
    def decrease(self) -> bool:
        """A stock change that lowers what the channel offers (a delist included)."""
        if self.kind != "quantities" or self.action == "create":
            return False
        old = next((f.old for f in self.fields if f.field == "quantity"), None)
        new = self.snapshot.get("quantity")
        return isinstance(old, int) and isinstance(new, int) and new < old

    def as_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "kind": self.kind,
            "action": self.action,
            "fields": [f.as_dict() for f in self.fields],
        }


SkuChanges = tuple[str, str, list[Change]]  # (sku, its action, its changes in KINDS order)


@dataclass
class Plan:
    """A channel's plan: its counts (final once its changes were walked) and, for a push,
    its changes spilled to disk (``spill``), read back by kind or by SKU."""

    channel: str
    offered: int = 0
    listed: int = 0  # SKUs the channel currently shows (confirmed listing, not delisted)
    skipped: list[Skipped] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ORDER, 0))
    spill: Spill | None = None
    # a push's plan made from what changed since the channel's last complete push
    # (``multichan.sync.changes``): ``offered`` counts only the SKUs it looked at
    incremental: bool = False
    mark: ch.Mark | None = None  # where the next plan may start, once this one is pushed
    by_location: bool = False  # stock is planned per location (Channel.stock_by_location)

    def totals(self) -> dict[str, int]:
        counts = {a: self.counts[a] for a in ("create", "update", "delist")}
        counts["unchanged"] = self.offered - counts["create"] - counts["update"]
        if self.incremental:
            counts["looked_at"] = self.offered + counts["delist"]
        return counts

    def skus(self) -> Iterator[SkuChanges]:
        """The spilled changes, SKU by SKU in SKU order."""
        return _by_sku(self.spill.changes() if self.spill else iter(()))

    def iter_kind(self, kind: str) -> Iterator[Change]:
        return self.spill.kind(kind) if self.spill else iter(())

    @property
    def changes(self) -> list[Change]:
        """Every change, in SKU order: all held at once, for small plans (tests, benches)."""
        return list(self.spill.changes()) if self.spill else []

    def by_kind(self, kind: str) -> list[Change]:
        return list(self.iter_kind(kind))

    def action_of(self) -> dict[str, str]:
        """SKU -> create / update / delist (the strongest of its kinds); all held at once."""
        return {sku: action for sku, action, _ in self.skus()}

    def as_dict(self) -> dict[str, Any]:
        """The whole plan as one document (held at once; ``plan --json`` streams instead)."""
        return {
            "channel": self.channel,
            "totals": self.totals(),
            "changes": [c.as_dict() for c in self.spill.changes()] if self.spill else [],
            "skipped": skipped_dicts(self.skipped),
        }


def skipped_dicts(skipped: Iterable[Skipped]) -> list[dict[str, str]]:
    return [{"sku": s.sku, "reason": s.reason} for s in skipped]


def _by_sku(changes: Iterator[Change]) -> Iterator[SkuChanges]:
    """Changes in SKU order, grouped by SKU, each with its strongest action."""
    group: list[Change] = []
    for change in changes:
        if group and change.sku != group[0].sku:
            yield group[0].sku, _action(group), group
            group = []
        group.append(change)
    if group:
        yield group[0].sku, _action(group), group


def _action(changes: list[Change]) -> str:
    return max((c.action for c in changes), key=ORDER.__getitem__)


def _show(value: Any) -> str:
    return "-" if value is None else str(value)


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


def snapshot(offer: Offer, kind: str, by_location: bool = False) -> dict[str, Any]:
    """What ``kind`` sends of ``offer``; with ``by_location`` (``Channel.stock_by_location``),
    stock is each location's count besides the total."""
    snap = {name: _json(getattr(offer, name)) for name in FIELDS[kind]}
    if by_location and kind == "quantities":
        snap["location_quantities"] = dict(sorted(offer.location_quantities.items()))
    return snap


def channel_offers(
    db: sqlite_utils.Database, channel: Channel, config: Config, skipped: list[Skipped]
) -> Iterator[Offer]:
    """The channel's offers: the same rules engine, and the same call, as its feeds use."""
    return offers_for(db, channel, config, skipped.append)


def stub_offer(sku: str, rows: dict[str, dict[str, Any]]) -> Offer:
    """An offer for a SKU that is no longer offered, rebuilt from what was pushed, at 0."""
    data: dict[str, Any] = {}
    for kind in ("listings", "prices"):
        data.update((rows.get(kind) or {}).get("snapshot") or {})
    price = data.get("price")
    sale = data.get("sale_price")
    return Offer(
        sku=sku, item_group_id=data.get("item_group_id"), title=data.get("title") or sku,
        description=data.get("description") or "", link=data.get("link"),
        image_link=data.get("image_link"),
        additional_image_links=list(data.get("additional_image_links") or []),
        brand=data.get("brand"), gtin=data.get("gtin"), mpn=data.get("mpn"),
        condition=data.get("condition") or "new", price=Decimal(price or 0),
        sale_price=Decimal(sale) if sale else None, currency=data.get("currency") or "USD",
        quantity=0, availability="out_of_stock", location_quantities={},
        product_type=data.get("product_type"),
        google_product_category=data.get("google_product_category"), color=data.get("color"),
        size=data.get("size"), material=data.get("material"), pattern=data.get("pattern"),
        gender=data.get("gender"), age_group=data.get("age_group"),
        weight_grams=data.get("weight_grams"),
    )  # fmt: skip


def _confirmed(rows: dict[str, dict[str, Any]], kind: str) -> bool:
    row = rows.get(kind)
    return bool(row and row["hash"])


def walk(
    offers: Iterable[Offer],
    state: Iterable[tuple[str, dict[str, dict[str, Any]]]],
    plan: Plan,
    kinds: tuple[str, ...],
) -> Iterator[SkuChanges]:
    """The changes of every SKU that has any, in SKU order: ``offers`` and ``state`` (each
    in SKU order: (sku, kind -> push_state row)) merged. ``plan``'s counts move as the walk
    goes; they are final when it ends. A state row with no offer is a delist (where
    quantities are planned and the channel still shows it)."""
    rows_of = iter(state)
    pending = next(rows_of, None)
    last = ""
    for offer in offers:
        if offer.sku <= last and plan.offered:
            raise RuntimeError(f"offers out of SKU order: {offer.sku!r} after {last!r}")
        last = offer.sku
        rows: dict[str, dict[str, Any]] = {}
        while pending is not None and pending[0] <= offer.sku:
            sku, found = pending
            _count_listed(plan, found)
            if sku == offer.sku:
                rows = found
            else:
                yield from _delist(plan, sku, found, kinds)
            pending = next(rows_of, None)
        plan.offered += 1
        changes = _diff(offer, rows, kinds, plan.by_location)
        if changes:
            action = changes[0].action
            plan.counts[action] += 1
            yield offer.sku, action, changes
    while pending is not None:
        _count_listed(plan, pending[1])
        yield from _delist(plan, pending[0], pending[1], kinds)
        pending = next(rows_of, None)


def _count_listed(plan: Plan, rows: dict[str, dict[str, Any]]) -> None:
    if _confirmed(rows, "listings") and (rows.get("quantities") or {}).get("status") != "delisted":
        plan.listed += 1


def _diff(
    offer: Offer, rows: dict[str, dict[str, Any]], kinds: tuple[str, ...], by_location: bool
) -> list[Change]:
    """The changes of one offered SKU: every kind whose snapshot differs from its state row."""
    action = "update" if _confirmed(rows, "listings") else "create"
    changes = []
    for kind in kinds:
        snap = snapshot(offer, kind, by_location)
        digest = st.fingerprint(snap)
        row = rows.get(kind)
        if row and row["hash"] == digest:
            continue
        old = (row or {}).get("snapshot") or {}
        fields = [
            FieldChange(name, old.get(name), value)
            for name, value in snap.items()
            if not row or old.get(name) != value
        ]
        changes.append(Change(offer.sku, kind, action, offer, snap, digest, fields))
    return changes


def _delist(
    plan: Plan, sku: str, rows: dict[str, dict[str, Any]], kinds: tuple[str, ...]
) -> Iterator[SkuChanges]:
    """A SKU no longer offered: its stock set to 0, if the channel still shows any."""
    if "quantities" not in kinds:
        return
    qty = rows.get("quantities")
    if not _confirmed(rows, "listings") or (qty and qty["snapshot"] == {"quantity": 0}):
        return
    old = ((qty or {}).get("snapshot") or {}).get("quantity")
    snap = {"quantity": 0}
    plan.counts["delist"] += 1
    yield sku, "delist", [
        Change(sku, "quantities", "delist", stub_offer(sku, rows), snap, st.fingerprint(snap),
               [FieldChange("quantity", old, 0)])
    ]  # fmt: skip


def diff(offers: Iterable[Offer], state: st.State, channel: str, kinds: tuple[str, ...]) -> Plan:
    """The plan for ``channel`` from ``state`` held in a dict (``state.load``), spilled."""
    plan = Plan(channel)
    rows = ((sku, state[sku]) for sku in sorted(state))
    plan.spill = Spill.of(walk(offers, rows, plan, kinds))
    return plan


def stream(
    db: sqlite_utils.Database,
    channel: Channel,
    config: Config,
    kinds: tuple[str, ...],
    incremental: bool = False,
) -> tuple[Plan, Iterator[SkuChanges]]:
    """The plan of ``channel`` and its changes SKU by SKU, made as they are read: the plan's
    counts and ``skipped`` are final once the changes are exhausted. With ``incremental``
    (every kind planned), it looks only at what changed since the channel's last complete
    push where ``changes.usable`` allows, and carries the mark a push records once it is
    done (``Plan.mark``); otherwise it walks the whole catalog."""
    by_location = _by_location(channel)
    mark = None
    if incremental:
        now_basis = ch.basis(db, channel, config, kinds)
        last, seq = ch.mark_of(db, channel.name), ch.top(db)
        if last is not None and ch.usable(db, last, now_basis):
            plan = Plan(channel.name, incremental=True, by_location=by_location,
                        mark=ch.Mark(now_basis, seq, last.full_at))  # fmt: skip
            return plan, _changed(db, channel, config, kinds, plan, last)
        mark = ch.Mark(now_basis, seq, ch.now_text())
    plan = Plan(channel.name, by_location=by_location, mark=mark)
    offers = channel_offers(db, channel, config, plan.skipped)
    return plan, walk(offers, st.ranges(db, channel.name, RANGE), plan, kinds)


def _by_location(channel: Channel) -> bool:
    from multichan.channels import registry

    try:
        return bool(registry.load(channel.type).stock_by_location)
    except Exception:  # a feed type, or a plugin the push will report
        return False


def make_plan(
    db: sqlite_utils.Database,
    channel: Channel,
    config: Config,
    kinds: tuple[str, ...],
    incremental: bool = False,
) -> Plan:
    """The plan of ``channel`` (``stream``) with its changes spilled (``Plan.spill``), for a
    push."""
    plan, found = stream(db, channel, config, kinds, incremental)
    plan.spill = Spill.of(found)
    if plan.incremental and plan.spill.count("zeroed = 1"):
        plan.listed = st.count_listed(db, channel.name)  # the safety limit's share needs it
    return plan


def _changed(
    db: sqlite_utils.Database,
    channel: Channel,
    config: Config,
    kinds: tuple[str, ...],
    plan: Plan,
    mark: ch.Mark,
) -> Iterator[SkuChanges]:
    """The changes among the SKUs ``changes.incremental_skus`` names, ``RANGE`` at a time:
    their offers (the same rules as a full plan) walked against their push_state rows."""
    rules, overrides = rules_for(channel, config), load_overrides(db, channel.name)
    skus = ch.incremental_skus(db, channel.name, mark)
    while chunk := list(islice(skus, RANGE)):
        offers = build(ch.record_rows(db, iter(chunk)), rules, overrides, plan.skipped.append)
        state = st.load(db, channel.name, chunk)
        yield from walk(offers, ((s, state[s]) for s in chunk if s in state), plan, kinds)


class Spill:
    """A plan's changes on disk: a private temporary SQLite database (deleted when closed),
    one row per kind and SKU, each offer once. Written a range of SKUs at a time; read back
    per kind in SKU order (``kind``, ``refs``, ``get``) or per SKU (``changes``). Besides the
    change, each row keeps what the safety limits count (``zeroed``: a listed SKU's stock set
    to 0; ``old_price``/``new_price``) and ``joint``: sent with its partner kind in one send."""

    def __init__(self) -> None:
        self.conn = sqlite3.connect("", check_same_thread=False)  # one thread at a time
        self.conn.executescript(
            "CREATE TABLE offers (sku TEXT PRIMARY KEY, offer BLOB NOT NULL) WITHOUT ROWID;"
            "CREATE TABLE changes (kind TEXT NOT NULL, sku TEXT NOT NULL, action TEXT NOT NULL,"
            " grp TEXT, change BLOB NOT NULL, zeroed INTEGER NOT NULL DEFAULT 0,"
            " old_price TEXT, new_price TEXT, joint INTEGER NOT NULL DEFAULT 0,"
            " decrease INTEGER NOT NULL DEFAULT 0, tier INTEGER NOT NULL DEFAULT 0,"
            " PRIMARY KEY (kind, sku)) WITHOUT ROWID;"
            "CREATE INDEX changes_by_sku ON changes (sku, kind);"
        )

    @classmethod
    def of(cls, changes: Iterable[SkuChanges]) -> Spill:
        spill = cls()
        buffer: list[SkuChanges] = []
        for item in changes:
            buffer.append(item)
            if len(buffer) >= RANGE:
                spill.add(buffer)
                buffer = []
        spill.add(buffer)
        return spill

    def add(self, items: list[SkuChanges]) -> None:
        offers, rows = [], []
        for sku, _, changes in items:
            offers.append((sku, pickle.dumps(changes[0].offer, pickle.HIGHEST_PROTOCOL)))
            for c in changes:
                olds = {f.field: f.old for f in c.fields}
                zeroed = (
                    c.kind == "quantities" and c.snapshot["quantity"] == 0
                    and c.action != "create" and any((f.old or 0) > 0 for f in c.fields)
                )  # fmt: skip
                data = (c.action, c.snapshot, c.hash, c.fields)
                rows.append((
                    c.kind, c.sku, c.action, c.offer.item_group_id,
                    pickle.dumps(data, pickle.HIGHEST_PROTOCOL), int(zeroed),
                    None if olds.get("price") is None else str(olds["price"]),
                    c.snapshot.get("price") if c.kind == "prices" else None,
                    int(c.decrease),
                ))  # fmt: skip
        with self.conn:
            self.conn.executemany("INSERT INTO offers VALUES (?, ?)", offers)
            self.conn.executemany(
                "INSERT INTO changes (kind, sku, action, grp, change, zeroed, old_price,"
                " new_price, decrease) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def _changes(self, query: str, params: Iterable[Any]) -> Iterator[Change]:
        """Changes from ``query`` (selecting kind, sku, change, offer), a range at a time."""
        cursor = self.conn.execute(query, list(params))
        while rows := cursor.fetchmany(RANGE):
            for kind, sku, data, offer in rows:
                action, snap, digest, fields = pickle.loads(data)
                yield Change(sku, kind, action, pickle.loads(offer), snap, digest, fields)

    def changes(self) -> Iterator[Change]:
        """Every change, in SKU order, each SKU's kinds in KINDS order."""
        return self._changes(
            "SELECT c.kind, c.sku, c.change, o.offer FROM changes c JOIN offers o USING (sku)"
            " ORDER BY c.sku, c.kind",
            (),
        )

    def kind(self, kind: str, where: str = "", params: Iterable[Any] = ()) -> Iterator[Change]:
        """The changes of ``kind`` in SKU order (``where``: more conditions on ``c``)."""
        return self._changes(
            "SELECT c.kind, c.sku, c.change, o.offer FROM changes c JOIN offers o USING (sku)"
            f" WHERE c.kind = ? {where} ORDER BY c.sku",
            [kind, *params],
        )

    def refs(self, kind: str, where: str = "") -> Iterator[tuple[str, str | None]]:
        """(sku, item group) of the changes of ``kind``, a product's SKUs next to each other
        (by product, then SKU): what packing needs, read as it goes."""
        cursor = self.conn.execute(
            f"SELECT sku, grp FROM changes c WHERE kind = ? {where}"
            " ORDER BY coalesce(grp, char(0) || sku), sku",
            [kind],
        )
        while rows := cursor.fetchmany(RANGE):
            yield from rows

    def get(self, kind: str, skus: list[str]) -> dict[str, Change]:
        """The changes of ``kind`` for ``skus`` (those that have one)."""
        found: dict[str, Change] = {}
        for start in range(0, len(skus), 500):
            part = skus[start : start + 500]
            marks = ", ".join("?" * len(part))
            for c in self.kind(kind, f"AND c.sku IN ({marks})", part):
                found[c.sku] = c
        return found

    def drop(self, kind: str, skus: list[str]) -> None:
        """Forget the changes of ``kind`` of ``skus`` (sent along with another kind)."""
        with self.conn:
            self.conn.executemany("DELETE FROM changes WHERE kind = ? AND sku = ?",
                                  [(kind, sku) for sku in skus])  # fmt: skip

    def count(self, where: str, params: Iterable[Any] = ()) -> int:
        return int(self.conn.execute(f"SELECT count(*) FROM changes c WHERE {where}",
                                     list(params)).fetchone()[0])  # fmt: skip

    def prices(self) -> Iterator[tuple[str, str, str | None, str]]:
        """(sku, action, old price, new price) of every price change, in SKU order."""
        cursor = self.conn.execute(
            "SELECT sku, action, old_price, new_price FROM changes WHERE kind = 'prices'"
            " ORDER BY sku"
        )
        while rows := cursor.fetchmany(RANGE):
            yield from rows

    def set_tiers(self) -> None:
        """Rank the SKUs by urgency, for a push that cannot send everything today: 0 for a SKU
        whose stock goes down (an oversell waits on it), 1 for one whose price changes, 2 for
        the rest; every change of a SKU shares its tier."""
        with self.conn:
            self.conn.execute("UPDATE changes SET tier = 2")
            self.conn.execute(
                "UPDATE changes SET tier = 1 WHERE sku IN"
                " (SELECT sku FROM changes WHERE kind = 'prices')"
            )
            self.conn.execute(
                "UPDATE changes SET tier = 0 WHERE sku IN"
                " (SELECT sku FROM changes WHERE kind = 'quantities' AND decrease = 1)"
            )

    def reset_joint(self) -> None:
        with self.conn:
            self.conn.execute("UPDATE changes SET joint = 0 WHERE joint = 1")

    def mark_joint(self, excluded: Iterable[str]) -> None:
        """Mark the SKUs whose price and stock both change (a delist is no stock change
        here) to go in one send, but those in ``excluded``."""
        with self.conn:
            self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS excluded (sku TEXT PRIMARY KEY)")
            self.conn.execute("DELETE FROM excluded")
            self.conn.executemany("INSERT OR IGNORE INTO excluded VALUES (?)",
                                  [(sku,) for sku in excluded])  # fmt: skip
            self.conn.execute(
                "UPDATE changes SET joint = 1 WHERE kind IN ('prices', 'quantities')"
                " AND sku IN (SELECT sku FROM changes WHERE kind = 'prices')"
                " AND sku IN (SELECT sku FROM changes WHERE kind = 'quantities'"
                " AND action != 'delist') AND sku NOT IN (SELECT sku FROM excluded)"
            )

    def unmark_joint(self, skus: Iterable[str]) -> None:
        with self.conn:
            self.conn.executemany("UPDATE changes SET joint = 0 WHERE sku = ?",
                                  [(sku,) for sku in skus])  # fmt: skip

    def close(self) -> None:
        self.conn.close()
