"""Drift: where a channel's live listings no longer match what multichan last pushed there, and
``--fix``, which turns those differences into one push of the SKUs concerned.

For each API channel, ``Channel.remote_listings`` is streamed (page by page, paced like a push)
and each SKU it shows is compared with the channel's push_state (the last snapshot the channel
confirmed, per kind) and with today's offer for it. Findings, one per SKU and field:

- ``changed``: a field the channel shows (``title``, ``price``, ``sale_price``, ``quantity``)
  differs from the last confirmed value. A channel that shows one price and no ``sale_price``
  (Square) shows what it charges: the sale price pushed when there was one. A quantity is
  compared with what the channel should hold now, when its orders are pulled: the confirmed
  number less what the channel's own orders took since (``state.expected_quantities`` where
  the channel compares-and-sets, else the units of the orders it took after the quantity was
  confirmed), so a pulled sale is no drift;
- ``missing``: multichan's confirmed listing is not on the channel (``field`` None), or is there
  but not for sale (``field`` "listed": pushed True, remote False), while it still has an offer;
- ``unknown``: on the channel, but multichan never had it confirmed there (``field`` None).

A channel's exit code is 4 when it has changed or missing findings (unknown listings alone are
reported, not alerted on: a seller may keep listings multichan does not manage), 5 (or the
error's own code) when it could not be read, and after ``--fix`` the push's. A channel type
without ``remote_listings`` is reported as "cannot read its live listings": exit 0 when drift
ran over every channel, 5 when it was named.

Memory stays flat: remote SKUs are compared a page of ``CHUNK`` at a time, and the SKUs seen go
into a TEMP table, from which the missing ones are found by one query, never a set in Python.

``--fix``: the changed and missing SKU/kinds get their push_state hash cleared (a missing
listing also its remote ids, so it is created again; a changed quantity its compare-and-set
baseline, so the count is set over what the channel holds) and the SKUs are stamped changed
(``dirty_skus``), then the same push engine as ``multichan push`` (``push.push_plan``, after
``push.refusal``: the same safety limits) runs a plan of those SKUs only. A push that stops
half way leaves them cleared and stamped: the next push sends them. Unknown SKUs are reported,
never deleted. Everything runs under the workspace lock, so a push never moves state under a
comparison. This module never prints.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import Any

import requests
import sqlite_utils

from multichan import errors
from multichan.catalog.schema import transaction
from multichan.channels.base import Channel
from multichan.errors import MultichanError, worst
from multichan.offers import Offer, build, load_overrides, rules_for
from multichan.orders.model import parse_time
from multichan.sync import changes as ch
from multichan.sync import state as st
from multichan.sync.pacing import Pacing
from multichan.sync.push import PushResult

CHUNK = 500  # remote SKUs compared at a time
FIELD_KIND = {"title": "listings", "price": "prices", "sale_price": "prices",
              "quantity": "quantities", "location_quantities": "quantities"}  # fmt: skip
SEEN = "drift_seen"  # the TEMP table of the remote SKUs seen, per channel
FOUND = "drift_found"  # the TEMP table of the findings (Findings)


@dataclass(frozen=True)
class Finding:
    """One SKU and field where the channel differs: ``finding`` is changed, missing or
    unknown; ``pushed`` the last confirmed value, ``remote`` what the channel shows, ``offer``
    today's offer's value (None when the SKU has no offer today); ``expected`` (quantities
    only) what the channel should hold now, after the sales pulled from it."""

    sku: str
    finding: str
    field: str | None = None
    pushed: Any = None
    remote: Any = None
    offer: Any = None
    expected: Any = None

    def as_dict(self) -> dict[str, Any]:
        doc = {
            "sku": self.sku, "finding": self.finding, "field": self.field,
            "pushed": self.pushed, "remote": self.remote, "offer": self.offer,
        }  # fmt: skip
        if self.field == "quantity":
            doc["expected"] = self.expected
        return doc


FIXABLE = ("changed", "missing")


class Findings:
    """One channel's findings, in a TEMP table of the run's connection (``FOUND``), never a
    list in memory: appended as they are found, counted by kind, read back in the order found
    (or per SKU, for the fix) a chunk at a time. A channel whose every listing drifted costs
    the same memory as one with none."""

    def __init__(self, db: sqlite_utils.Database, channel: str) -> None:
        self.db, self.channel = db, channel
        self.counts = {"changed": 0, "missing": 0, "unknown": 0}
        db.conn.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {FOUND} (channel TEXT NOT NULL, n INTEGER NOT "
            "NULL, sku TEXT NOT NULL, finding TEXT NOT NULL, field TEXT, doc TEXT NOT NULL, "
            "PRIMARY KEY (channel, n))"
        )
        db.conn.execute(
            f"CREATE INDEX IF NOT EXISTS temp.{FOUND}_sku ON {FOUND} (channel, sku, finding)"
        )
        db.conn.execute(f"DELETE FROM {FOUND} WHERE channel = ?", [channel])

    def append(self, f: Finding) -> None:
        n = sum(self.counts.values())
        doc = {"pushed": f.pushed, "remote": f.remote, "offer": f.offer, "expected": f.expected}
        self.db.conn.execute(
            f"INSERT INTO {FOUND} VALUES (?, ?, ?, ?, ?, ?)",
            [self.channel, n, f.sku, f.finding, f.field, json.dumps(doc, default=str)],
        )
        self.counts[f.finding] += 1

    def extend(self, found: Iterable[Finding]) -> None:
        for f in found:
            self.append(f)

    def __len__(self) -> int:
        return sum(self.counts.values())

    def fixable(self) -> int:
        return sum(self.counts[k] for k in FIXABLE)

    def __iter__(self) -> Iterator[Finding]:
        """Every finding, in the order found."""
        return self._read(f"SELECT * FROM {FOUND} WHERE channel = ? ORDER BY n", [self.channel])

    def to_fix(self) -> Iterator[Finding]:
        """The changed and missing findings, in SKU order."""
        marks = ", ".join("?" * len(FIXABLE))
        return self._read(
            f"SELECT * FROM {FOUND} WHERE channel = ? AND finding IN ({marks}) ORDER BY sku, n",
            [self.channel, *FIXABLE],
        )

    def relisted(self, sku: str) -> bool:
        """Whether ``sku`` is there but not for sale (``missing``, field ``listed``)."""
        return self.db.conn.execute(
            f"SELECT 1 FROM {FOUND} WHERE channel = ? AND sku = ? AND finding = 'missing' "
            "AND field = 'listed'", [self.channel, sku],
        ).fetchone() is not None  # fmt: skip

    def _read(self, query: str, params: list[Any]) -> Iterator[Finding]:
        cursor = self.db.conn.execute(query, params)
        while rows := cursor.fetchmany(CHUNK):
            for _, _, sku, finding, name, doc in rows:
                values = json.loads(doc)
                yield Finding(sku, finding, name, values["pushed"], values["remote"],
                              values["offer"], values["expected"])  # fmt: skip


class _Relisting:
    """``Channel.relisting`` for a fix: the SKUs of ``findings`` there but not for sale,
    looked up in the findings' table instead of held in a set."""

    def __init__(self, findings: Findings) -> None:
        self.findings = findings

    def __contains__(self, sku: object) -> bool:
        return isinstance(sku, str) and self.findings.relisted(sku)

    def __bool__(self) -> bool:
        return self.findings.counts["missing"] > 0


@dataclass
class ChannelDrift:
    """One channel's check: how many remote SKUs were read (``checked``), the findings, the
    error that stopped the read (None when it was read through), and the fix, when asked."""

    channel: str
    type: str
    drift: Findings
    checked: int = 0
    error: str | None = None
    exit_code: int = errors.OK
    requests: int = 0
    fix: PushResult | None = None

    def fixable(self) -> int:
        """How many findings are changed or missing (what ``--fix`` pushes and exit 4 reports)."""
        return self.drift.fixable()

    def as_dict(self) -> dict[str, Any]:
        """The check as JSON: ``drift`` is an iterator (written as it is read)."""
        doc: dict[str, Any] = {
            "channel": self.channel, "type": self.type, "checked": self.checked,
            "error": self.error, "drift": (f.as_dict() for f in self.drift),
            "exit_code": self.exit_code,
        }  # fmt: skip
        if self.fix is not None:
            fix = self.fix.as_dict(plan=False)
            fix["plan"] = self.fix.plan.as_dict() if self.fix.plan is not None else None
            doc["fix"] = fix
        return doc


@dataclass
class DriftRun:
    channels: list[ChannelDrift]

    @property
    def findings(self) -> int:
        """Changed and missing findings: what ``--fix`` would push and exit 4 reports."""
        return sum(c.fixable() for c in self.channels)

    @property
    def unknown(self) -> int:
        return sum(c.drift.counts["unknown"] for c in self.channels)

    @property
    def exit_code(self) -> int:
        return worst([c.exit_code for c in self.channels])

    def as_dict(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "channels": [c.as_dict() for c in self.channels],
            "drift": self.findings,
            "unknown": self.unknown,
        }


def implements(cls: type[Channel]) -> bool:
    """Whether the channel type can read its live listings."""
    return cls.remote_listings is not Channel.remote_listings


@contextlib.contextmanager
def drift_all(
    ws: Any,
    names: Sequence[str],
    *,
    fix: bool = False,
    dry_run: bool = False,
    force: bool = False,
    pacing: Pacing | None = None,
    session: Any = None,
    unknown_is_drift: bool = False,
) -> Iterator[DriftRun]:
    """Check every chosen API channel (default: every enabled one) under the workspace lock;
    one channel's failure never stops the others. With ``fix``, each channel's changed and
    missing SKUs are pushed again (``dry_run``: only planned; ``force``: past the safety
    limits). ``unknown_is_drift``: listings unknown to multichan make the exit code 4 too
    (a seller who keeps no listing of their own on the channels). The run is yielded while
    its connection is open: its findings are read from it."""
    from multichan.feeds.run import load_config
    from multichan.sync.run import select

    config = load_config(ws)
    chosen = select(config, names)
    db = ws.db()
    try:
        with ws.lock():
            found = []
            for cfg in chosen:
                result = _one(db, config, cfg, bool(names), fix, dry_run, force, pacing, session)
                unknown = result.drift.counts["unknown"]
                if unknown_is_drift and unknown and result.exit_code == errors.OK:
                    result.exit_code = errors.REJECTED
                found.append(result)
            yield DriftRun(found)
    finally:
        db.close()


def _one(
    db: sqlite_utils.Database, config: Any, cfg: Any, named: bool, fix: bool, dry_run: bool,
    force: bool, pacing: Pacing | None, session: Any,
) -> ChannelDrift:  # fmt: skip
    from multichan.channels import registry
    from multichan.channels.auth import CatalogTokens
    from multichan.sync.pacing import paced
    from multichan.sync.run import configured_rate

    result = ChannelDrift(cfg.name, cfg.type, Findings(db, cfg.name))
    try:
        channel = registry.create(cfg, config.path.name, session=session)
    except MultichanError as exc:  # its settings, or its plugin
        result.error, result.exit_code = exc.message, exc.exit_code
        return result
    if not implements(type(channel)):
        result.error = f"cannot read its live listings ({cfg.type} has no remote_listings)"
        result.exit_code = errors.CHANNEL_FAILED if named else errors.OK
        return result
    pacing = pacing or Pacing()
    raw = channel.session
    counts = {"requests": 0}
    channel.session = paced(channel, configured_rate(cfg, channel), pacing, counts)
    channel.sleep, channel.backoff = pacing.sleep, pacing.backoff
    channel.tokens = CatalogTokens(db)
    try:
        check(db, channel, cfg, config, result)
    except MultichanError as exc:
        result.error = channel.redact(exc.message)
        result.exit_code = exc.exit_code
    except NotImplementedError as exc:  # a module's helper it does not have
        result.error = f"cannot read its live listings ({exc})"
        result.exit_code = errors.CHANNEL_FAILED
    except requests.RequestException as exc:  # a transport error the module let through
        result.error = channel.redact(f"{cfg.name}: {type(exc).__name__}: {exc}")
        result.exit_code = errors.CHANNEL_FAILED
    except Exception as exc:  # a bug in the channel module: the other channels still run
        result.error = channel.redact(
            f"{cfg.name}: reading its listings failed: {type(exc).__name__}: {exc} "
            "(a bug in the channel module)"
        )
        result.exit_code = errors.UNEXPECTED
    finally:
        result.requests = counts["requests"]
        _record_requests(db, cfg.name, counts["requests"])
    if result.error is not None:
        return result
    if result.fixable():  # unknown listings are reported, never an alert: not multichan's
        result.exit_code = errors.REJECTED
    if fix and result.fixable():
        channel.session = raw  # the push paces it anew, counting its own requests
        result.fix = fix_channel(db, channel, cfg, config, result.drift, dry_run=dry_run,
                                 force=force, pacing=pacing)  # fmt: skip
        if result.fix.status not in ("dry-run", "refused"):
            result.exit_code = result.fix.exit_code
    return result


def _record_requests(db: sqlite_utils.Database, channel: str, requests: int) -> None:
    """Count the read's requests against the channel's daily quota (``sync.quotas``)."""
    from multichan.sync import quotas

    if requests:
        with st.batch_written(db):
            quotas.record_requests(db, channel, requests)


# --- the comparison -----------------------------------------------------------------------------
def check(
    db: sqlite_utils.Database, channel: Channel, cfg: Any, config: Any, result: ChannelDrift
) -> None:
    """Compare ``channel``'s live listings with its push_state and today's offers, adding the
    findings to ``result`` as they are found. Raises what reading the channel raised (the
    findings of the pages read before stay; nothing is called missing from a partial read)."""
    offers = _Offers(db, cfg, config)
    pulled = st.pulled_to(db, channel.name) if "orders" in channel.supports else None
    db.conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {SEEN} (sku TEXT PRIMARY KEY)")
    db.conn.execute(f"DELETE FROM {SEEN}")
    try:
        remote = iter(channel.remote_listings())
        while page := list(islice(remote, CHUNK)):
            fresh = _first_seen(db, page)
            db.conn.commit()  # the TEMP table only: no write lock held while reading
            result.checked += len(fresh)
            _compare(db, channel, fresh, offers, pulled, result)
        for skus in _chunks(_unseen(db, channel.name), CHUNK):
            known = offers.of(skus)
            result.drift.extend(Finding(s, "missing") for s in skus if s in known)
    finally:
        db.conn.execute(f"DELETE FROM {SEEN}")
        db.conn.commit()


def _first_seen(
    db: sqlite_utils.Database, page: list[tuple[str, dict[str, Any]]]
) -> list[tuple[str, dict[str, Any]]]:
    """The (sku, fields) of ``page`` not seen before (a SKU is compared once), now recorded."""
    fresh = []
    for sku, fields in page:
        cursor = db.conn.execute(f"INSERT OR IGNORE INTO {SEEN} VALUES (?)", [str(sku)])
        if cursor.rowcount:
            fresh.append((str(sku), dict(fields)))
    return fresh


def _unseen(db: sqlite_utils.Database, channel: str) -> Iterator[str]:
    """The SKUs ``channel`` confirmed once and still shows (not delisted by multichan) that
    its live listings did not include, in SKU order."""
    cursor = db.conn.execute(
        "SELECT DISTINCT s.sku FROM push_state s WHERE s.channel = ? AND s.snapshot IS NOT NULL"
        f" AND s.sku NOT IN (SELECT sku FROM {SEEN}) AND NOT EXISTS (SELECT 1 FROM push_state q"
        " WHERE q.channel = s.channel AND q.sku = s.sku AND q.kind = 'quantities'"
        " AND q.status = 'delisted') ORDER BY s.sku",
        [channel],
    )
    while rows := cursor.fetchmany(1000):
        for (sku,) in rows:
            yield sku


def _chunks(items: Iterable[str], size: int) -> Iterator[list[str]]:
    it = iter(items)
    while part := list(islice(it, size)):
        yield part


class _Offers:
    """Today's offers of the channel for a few SKUs at a time: the same rules as a plan."""

    def __init__(self, db: sqlite_utils.Database, cfg: Any, config: Any) -> None:
        self.db = db
        self.rules = rules_for(cfg, config)
        self.overrides = load_overrides(db, cfg.name)

    def of(self, skus: Iterable[str]) -> dict[str, Offer]:
        rows = ch.record_rows(self.db, iter(sorted(set(skus))))
        return {o.sku: o for o in build(rows, self.rules, self.overrides, lambda _: None)}


def _compare(
    db: sqlite_utils.Database,
    channel: Channel,
    page: list[tuple[str, dict[str, Any]]],
    offers: _Offers,
    pulled: Any,
    result: ChannelDrift,
) -> None:
    skus = [sku for sku, _ in page]
    state = st.load(db, channel.name, skus)
    today = offers.of(skus)
    expected = _expected(db, channel, skus, state, pulled)
    for sku, fields in page:
        rows = state.get(sku, {})
        offer = today.get(sku)
        if not any(r.get("snapshot") is not None for r in rows.values()):
            result.drift.append(Finding(sku, "unknown"))
            continue
        result.drift.extend(_differences(sku, fields, rows, offer, expected.get(sku)))


def _differences(
    sku: str,
    fields: dict[str, Any],
    rows: dict[str, dict[str, Any]],
    offer: Offer | None,
    expected: int | None,
) -> list[Finding]:
    """The findings of one SKU the channel shows and multichan confirmed there."""
    quantity = (rows.get("quantities") or {}).get("snapshot") or {}
    delisted = (rows.get("quantities") or {}).get("status") == "delisted"
    if fields.get("listed") is False and offer is not None and not delisted:
        # what it should hold after the sales pulled from it: sold out there is no drift
        held = expected if expected is not None else quantity.get("quantity")
        if held is None or int(held) > 0:  # at 0 a channel may end a listing by itself
            return [Finding(sku, "missing", "listed", True, False, True)]
    found = []
    if "location_quantities" in fields and "location_quantities" in quantity:
        found += _by_location(sku, fields["location_quantities"], quantity, offer)
    for name in ("title", "price", "sale_price", "quantity"):
        if name not in fields:
            continue
        snap = (rows.get(FIELD_KIND[name]) or {}).get("snapshot")
        if snap is None or name not in snap:
            continue
        pushed, remote = snap[name], fields[name]
        now = _offer_value(offer, name)
        if name == "price" and "sale_price" not in fields:  # one price shown: what is charged
            pushed = snap.get("sale_price") or pushed
            now = _offer_value(offer, "sale_price") or now
        if name == "quantity":
            want = int(pushed) if expected is None else expected
            if _int(remote) != want:
                found.append(Finding(sku, "changed", name, pushed, remote, now, want))
        elif not _same(name, pushed, remote):
            found.append(Finding(sku, "changed", name, pushed, remote, now))
    return found


def _by_location(
    sku: str, remote: Any, snapshot: dict[str, Any], offer: Offer | None
) -> list[Finding]:
    """A channel that holds stock per location (``stock_by_location``: Google's stores)
    shows each location's count: compared with what was pushed there, one finding for the
    locations that differ (pushed, remote and today's count of each)."""
    if not isinstance(remote, dict):
        return []
    pushed = snapshot.get("location_quantities") or {}
    differ = sorted(
        loc for loc, qty in remote.items() if _int(qty) != max(int(pushed.get(loc, 0)), 0)
    )
    if not differ:
        return []
    today = offer.location_quantities if offer is not None else {}
    return [
        Finding(
            sku, "changed", "location_quantities",
            {loc: pushed.get(loc, 0) for loc in differ}, {loc: remote[loc] for loc in differ},
            {loc: today.get(loc, 0) for loc in differ} if offer is not None else None,
        )
    ]  # fmt: skip


def _offer_value(offer: Offer | None, name: str) -> Any:
    if offer is None:
        return None
    value = getattr(offer, name)
    return str(value) if isinstance(value, Decimal) else value


def _same(name: str, pushed: Any, remote: Any) -> bool:
    if name == "title":
        return " ".join(str(pushed or "").split()) == " ".join(str(remote or "").split())
    a, b = _decimal(pushed), _decimal(remote)
    return a == b


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _expected(
    db: sqlite_utils.Database, channel: Channel, skus: list[str], state: st.State, pulled: Any
) -> dict[str, int]:
    """What the channel should hold now of each SKU whose quantity it confirmed, when its
    orders are pulled: the confirmed number less what its own orders took since. A channel
    that compares-and-sets kept what its orders had taken then (``channel_held``); for the
    others, the orders it took after the quantity was confirmed count."""
    if pulled is None:
        return {}
    held = st.held_by_orders(db, channel.name, skus)
    expected, _ = st.expected_quantities(skus, state, held, pulled)
    rest = [
        s for s in skus
        if s not in expected and ((state.get(s, {}).get("quantities") or {}).get("snapshot"))
    ]  # fmt: skip
    if not rest:
        return expected
    marks = ", ".join("?" * len(rest))
    taken: dict[str, int] = {}
    for sku, created, units in db.conn.execute(
        "SELECT l.sku, o.created_at, l.unshipped + l.shipped - l.returned FROM order_lines l"
        " JOIN orders o ON o.channel = l.channel AND o.order_id = l.order_id"
        f" WHERE l.channel = ? AND l.sku IN ({marks}) AND o.baseline = 0"
        " AND o.created_at IS NOT NULL",
        [channel.name, *rest],
    ):
        row = state[sku]["quantities"]
        try:
            # confirmed times are to the second: an order in that second counts as after
            after = parse_time(created) >= parse_time(row["updated_at"])
        except ValueError:
            continue
        if after:
            taken[sku] = taken.get(sku, 0) + int(units)
    for sku in rest:
        snap = state[sku]["quantities"]["snapshot"]
        expected[sku] = int(snap["quantity"]) - taken.get(sku, 0)
    return expected


# --- the fix ------------------------------------------------------------------------------------
def fix_channel(
    db: sqlite_utils.Database,
    channel: Channel,
    cfg: Any,
    config: Any,
    findings: Findings,
    *,
    dry_run: bool = False,
    force: bool = False,
    pacing: Pacing | None = None,
) -> PushResult:
    """Push the SKU/kinds of the changed and missing ``findings`` again, as the next push
    would after their state was cleared: a plan of those SKUs only, the same safety limits
    (``push.refusal``), the same engine (``push.push_plan``); a listing there but not for
    sale is put back on sale (``Channel.relisting``). ``dry_run`` clears nothing and returns
    the plan. The findings are read a chunk at a time, in SKU order."""
    from multichan.sync.plan import Plan, Spill, walk
    from multichan.sync.push import push_plan, refusal
    from multichan.sync.run import configured_rate, kinds_for

    if not dry_run:
        _clear(db, channel.name, _clears(findings.to_fix()))
    kinds = kinds_for(channel, None)
    plan = Plan(channel.name, by_location=channel.stock_by_location)
    rules, overrides = rules_for(cfg, config), load_overrides(db, cfg.name)
    skus = (sku for sku, _ in _clears(findings.to_fix()))
    offers = build(ch.record_rows(db, skus), rules, overrides, plan.skipped.append)
    plan.spill = Spill.of(walk(offers, _states(db, channel.name, findings, dry_run), plan, kinds))
    plan.listed = st.count_listed(db, channel.name)
    why = None if force else refusal(
        plan, Decimal(cfg.max_delist_percent), Decimal(cfg.max_price_change_percent)
    )  # fmt: skip
    if why:
        return PushResult(channel.name, "refused", message=why, exit_code=errors.REJECTED,
                          plan=plan)  # fmt: skip
    if dry_run:
        return PushResult(channel.name, "dry-run", plan=plan)
    channel.relisting = _Relisting(findings)
    try:
        return push_plan(db, channel, plan, kinds, pacing, configured_rate(cfg, channel))
    finally:
        channel.relisting = set()


Clear = tuple[str, tuple[set[str], bool]]  # sku, (kinds whose state to clear, forget its ids)


def _clears(findings: Iterable[Finding]) -> Iterator[Clear]:
    """Per SKU of ``findings`` (in SKU order), the kinds whose state to clear, and whether to
    forget its remote ids (a listing gone from the channel is created again)."""
    sku: str | None = None
    kinds: set[str] = set()
    forget = False
    for f in findings:
        if f.sku != sku:
            if sku is not None:
                yield sku, (kinds, forget)
            sku, kinds, forget = f.sku, set(), False
        if f.finding == "changed" and f.field in FIELD_KIND:
            kinds.add(FIELD_KIND[f.field])
        elif f.finding == "missing":
            kinds |= set(st.KINDS)
            forget = forget or f.field is None
    if sku is not None:
        yield sku, (kinds, forget)


def _states(
    db: sqlite_utils.Database, channel: str, findings: Findings, dry_run: bool
) -> Iterator[tuple[str, dict[str, dict[str, Any]]]]:
    """The push_state rows of the findings' SKUs, in SKU order, a chunk at a time; for a dry
    run, as the fix would leave them (cleared), without writing."""
    clears = _clears(findings.to_fix())
    while part := list(islice(clears, CHUNK)):
        state = st.load(db, channel, [sku for sku, _ in part])
        for sku, (kinds, forget) in part:
            if sku not in state:
                continue
            if dry_run:
                for kind, row in state[sku].items():
                    if kind in kinds:
                        row.update(hash=None, channel_held=None)
                        if forget:
                            row["remote_ids"] = {}
            yield sku, state[sku]


def _clear(db: sqlite_utils.Database, channel: str, clears: Iterable[Clear]) -> None:
    """Clear the hashes (and, where asked, the remote ids) ``clears`` names, and stamp the
    SKUs changed, in one transaction."""
    with transaction(db, "drift_fix"):
        for sku, (kinds, forget) in clears:
            for kind in sorted(kinds):
                db.conn.execute(
                    "UPDATE push_state SET hash = NULL, channel_held = NULL"
                    + (", remote_ids = ?" if forget else "")
                    + " WHERE channel = ? AND sku = ? AND kind = ?",
                    [*([json.dumps({})] if forget else []), channel, sku, kind],
                )
            db.conn.execute(
                "INSERT INTO dirty_skus VALUES (?, (SELECT coalesce(max(seq), 0) + 1"
                " FROM dirty_skus)) ON CONFLICT (sku) DO UPDATE SET seq = excluded.seq",
                [sku],
            )
