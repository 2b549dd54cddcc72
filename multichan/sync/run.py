"""Whole runs over the configured API channels, each under the workspace lock: plan, push
(each channel's plan, the safety limits, ``push.push_plan``), pull (each order channel's
``orders.pull.pull_channel``), and sync (pull every order channel, then push every channel).
One channel's failure never stops the others; the run's exit code is the worst outcome by an
explicit ranking, not the largest number."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from multichan import errors
from multichan.channels.auth import CatalogTokens
from multichan.channels.base import Channel, RateLimit
from multichan.errors import MultichanError, worst
from multichan.orders.pull import PullResult
from multichan.sync import state as st
from multichan.sync.plan import Plan, SkuChanges
from multichan.sync.push import Pacing, PushResult, push_plan, refusal


def configured_rate(cfg: Any, channel: Channel) -> RateLimit | None:
    """channels.yaml's ``rate_limit`` for this channel, filled in from the type's default."""
    given = getattr(cfg, "rate_limit", None) or {}
    if given.get("requests_per_second") is None and given.get("burst") is None:
        return None
    rps = given.get("requests_per_second") or channel.rate_limit.requests_per_second
    return RateLimit(float(rps), int(given.get("burst") or channel.rate_limit.burst))


def select(config: Any, names: Sequence[str]) -> list[Any]:
    """The configured API channels named (default: every enabled one)."""
    from multichan.errors import ConfigError
    from multichan.feeds.formats import FORMATS

    if names:
        chosen = [config.channel(n) for n in names]
        for c in chosen:
            if c.type in FORMATS:
                raise ConfigError(f"channel {c.name} ({c.type}) is a feed; use 'multichan export'")
        return chosen
    chosen = [c for c in config.channels.values() if c.enabled and c.type not in FORMATS]
    if not chosen:
        raise ConfigError(f"no enabled API channel in {config.path.name}")
    return chosen


def kinds_for(channel: Channel | type[Channel], only: str | None) -> tuple[str, ...]:
    return tuple(k for k in st.KINDS if k in channel.supports and (only is None or k == only))


def plan_all(ws: Any, names: Sequence[str], only: str | None = None) -> list[Plan]:
    """Plans for the chosen channels, their changes spilled (``plan.make_plan``); sends
    nothing and writes nothing to the catalog."""
    from multichan.channels import registry
    from multichan.feeds.run import load_config
    from multichan.sync.plan import make_plan

    config = load_config(ws)
    db = ws.db()
    try:
        return [
            make_plan(db, c, config, kinds_for(registry.load(c.type), only))
            for c in select(config, names)
        ]
    finally:
        db.close()


def plan_each(
    ws: Any, names: Sequence[str], only: str | None = None, full: bool = False
) -> Iterator[tuple[Plan, Iterator[SkuChanges]]]:
    """Each chosen channel's plan with its changes SKU by SKU, made as they are consumed
    (``plan.stream``): consume one channel's changes before asking for the next channel.
    Like a push's, incremental unless ``full`` or ``only``. Sends nothing, writes nothing."""
    from multichan.channels import registry
    from multichan.feeds.run import load_config
    from multichan.sync.plan import stream

    config = load_config(ws)
    chosen = select(config, names)
    db = ws.db()
    try:
        for c in chosen:
            kinds = kinds_for(registry.load(c.type), only)
            yield stream(db, c, config, kinds, incremental=only is None and not full)
    finally:
        db.close()


def push_all(
    ws: Any,
    names: Sequence[str],
    *,
    only: str | None = None,
    dry_run: bool = False,
    force: bool = False,
    pacing: Pacing | None = None,
    session: Any = None,
    full: bool = False,
) -> list[PushResult]:
    """Push every chosen channel; one channel's failure never stops the others. ``full``
    plans from the whole catalog instead of what changed since the last complete push."""
    from multichan.feeds.run import load_config

    config = load_config(ws)
    chosen = select(config, names)
    db = ws.db()
    try:
        with ws.lock():
            return [
                _push_one(db, config, cfg, only, dry_run, force, pacing, session, full)
                for cfg in chosen
            ]
    finally:
        db.close()


def _push_one(
    db: Any, config: Any, cfg: Any, only: str | None, dry_run: bool, force: bool,
    pacing: Pacing | None, session: Any, full: bool = False,
) -> PushResult:  # fmt: skip
    from multichan.channels import registry
    from multichan.sync.pacing import paced
    from multichan.sync.plan import make_plan

    try:
        channel = registry.create(cfg, config.path.name, session=session)
    except MultichanError as exc:  # this channel's settings or plugin
        return PushResult(cfg.name, "failed", message=exc.message, exit_code=exc.exit_code)
    channel.tokens = CatalogTokens(db)
    ships = "shipments" in channel.supports and only in (None, "shipments")
    if only == "shipments":
        result = PushResult(cfg.name, "dry-run" if dry_run else "ok")
        pacing = pacing or Pacing()
        channel.session = paced(channel, configured_rate(cfg, channel), pacing, result.counts)
        channel.sleep, channel.backoff = pacing.sleep, pacing.backoff
    else:
        kinds = kinds_for(channel, only)
        plan = make_plan(db, cfg, config, kinds, incremental=only is None and not full)
        why = None if force else refusal(
            plan, Decimal(cfg.max_delist_percent), Decimal(cfg.max_price_change_percent)
        )  # fmt: skip
        if why:
            result = PushResult(cfg.name, "refused", message=why, exit_code=errors.REJECTED,
                                plan=plan)  # fmt: skip
        elif dry_run:
            result = PushResult(cfg.name, "dry-run", plan=plan)
        else:
            result = push_plan(db, channel, plan, kinds, pacing, configured_rate(cfg, channel))
            if plan.mark is not None and _complete(result):
                from multichan.sync import changes

                changes.advance(db, cfg.name, plan.mark)
    if ships and result.status not in ("failed", "exhausted"):
        _ship(db, channel, result, dry_run)
    return result


def _complete(result: PushResult) -> bool:
    """Whether a push left nothing of its plan behind (rejected and deferred SKUs are in
    push_state, so the next plan looks at them again): the next plan may start after it."""
    c = result.counts
    return result.status in ("ok", "rejected") and not (
        result.held or result.exhausted or c["pending"] or c["failed"]
    )


def _ship(db: Any, channel: Channel, result: PushResult, dry_run: bool) -> None:
    """Send the channel's due shipments (a refused plan holds back listings, not parcels);
    on a dry run, list them."""
    from multichan.orders import shipments

    if dry_run:
        result.shipments = {"due": [s.as_dict() for s in shipments.due(db, channel.name)]}
        return
    before = result.counts["requests"]
    sent = shipments.send_due(db, channel)
    _record_requests(db, channel.name, result.counts["requests"] - before)
    result.shipments = sent.as_dict()
    for item in sent.rejected + sent.failed:
        result.rejected.append({"sku": f"{item['order']} {item['shipment']}",
                                "kind": "shipments", "message": item["message"]})  # fmt: skip
    result.exit_code = worst([result.exit_code, sent.exit_code])
    if sent.exit_code != errors.OK and result.status == "ok":
        result.status = "rejected" if sent.exit_code == errors.REJECTED else "failed"
        result.message = result.message or (
            f"{len(sent.rejected) + len(sent.failed)} shipment(s) not sent to {channel.name}"
        )


def status_all(ws: Any, channel: str | None = None) -> list[dict[str, Any]]:
    """``state.summary`` of every channel, or of ``channel``: a channel neither configured
    nor in the catalog's push history is a usage error (exit 2)."""
    from multichan.feeds.run import load_config
    from multichan.orders.shipments import listing

    db = ws.db()
    try:
        rows = st.summary(db)
        waiting: dict[str, list[dict[str, Any]]] = {}
        for parcel in listing(db):  # shipments not sent yet, or refused
            waiting.setdefault(parcel["channel"], []).append(parcel)
        known = {r["channel"] for r in rows}
        rows += [st.summary(db, name)[0] for name in sorted(set(waiting) - known)]
        for row in rows:
            row["shipments"] = waiting.get(row["channel"], [])
        if channel is None:
            return rows
        known = {r["channel"] for r in rows}
        with contextlib.suppress(MultichanError):  # a broken channels.yaml: history only
            known |= set(load_config(ws).channels)
        if channel not in known:
            raise errors.UsageError(
                f"no channel {channel!r} in channels.yaml or the push history"
                + errors.did_you_mean(channel, sorted(known))
            )
        return [r for r in rows if r["channel"] == channel] or [
            {**st.summary(db, channel)[0], "shipments": []}
        ]
    finally:
        db.close()


def order_channels(config: Any, names: Sequence[str]) -> list[Any]:
    """The chosen API channels whose type supports orders (named ones must)."""
    from multichan.channels import registry

    chosen = select(config, names)
    found = []
    for cfg in chosen:
        try:
            supported = "orders" in registry.load(cfg.type).supports
        except MultichanError:
            supported = True  # let the pull report the broken plugin as that channel's failure
        if supported:
            found.append(cfg)
        elif names:
            raise errors.UsageError(f"channel {cfg.name} ({cfg.type}) does not supply orders")
    return found


def _pull_one(
    db: Any, config: Any, cfg: Any, since: datetime | None, dry_run: bool,
    pacing: Pacing | None, session: Any,
) -> PullResult:  # fmt: skip
    from multichan.channels import registry
    from multichan.orders.pull import pull_channel
    from multichan.sync.pacing import paced

    pacing = pacing or Pacing()
    try:
        channel = registry.create(cfg, config.path.name, session=session)
    except MultichanError as exc:
        return PullResult(cfg.name, "failed", message=exc.message, exit_code=exc.exit_code)
    counts = {"requests": 0}
    channel.session = paced(channel, configured_rate(cfg, channel), pacing, counts)
    channel.sleep, channel.backoff = pacing.sleep, pacing.backoff
    channel.tokens = CatalogTokens(db)
    try:
        result = pull_channel(db, channel, cfg, config.path.name, since=since, dry_run=dry_run)
    except MultichanError as exc:  # the channel's settings (orders.location)
        result = PullResult(cfg.name, "failed", message=exc.message, exit_code=exc.exit_code)
    result.requests = counts["requests"]
    _record_requests(db, cfg.name, counts["requests"])
    return result


def _record_requests(db: Any, channel: str, requests: int) -> None:
    """Count ``requests`` against the channel's daily quota (``multichan.sync.quotas``)."""
    from multichan.sync import quotas

    with st.batch_written(db):
        quotas.record_requests(db, channel, requests)


def pull_all(
    ws: Any,
    names: Sequence[str],
    *,
    since: datetime | None = None,
    dry_run: bool = False,
    pacing: Pacing | None = None,
    session: Any = None,
) -> list[PullResult]:
    """Pull every chosen channel's orders under the workspace lock; one channel's failure
    never stops the others."""
    return pull_and_alert(ws, names, since=since, dry_run=dry_run, pacing=pacing,
                          session=session, alerts=False)[0]  # fmt: skip


def pull_and_alert(
    ws: Any,
    names: Sequence[str],
    *,
    since: datetime | None = None,
    dry_run: bool = False,
    pacing: Pacing | None = None,
    session: Any = None,
    alerts: bool = True,
) -> tuple[list[PullResult], Any]:
    """``pull_all``, then, under the same lock, the low-stock alerts (``multichan.alerts``:
    their result, or None on a dry run or with ``alerts`` off)."""
    from multichan.alerts import run_alerts
    from multichan.feeds.run import load_config

    config = load_config(ws)
    chosen = order_channels(config, names)
    db = ws.db()
    try:
        with ws.lock():
            pulls = [_pull_one(db, config, c, since, dry_run, pacing, session) for c in chosen]
            sent = run_alerts(db, config, send=True) if alerts and not dry_run else None
            return pulls, sent
    finally:
        db.close()


@dataclass
class SyncResult:
    pulls: list[PullResult]
    pushes: list[PushResult]
    alerts: Any = None  # multichan.alerts.AlertResult, None on a dry run

    @property
    def exit_code(self) -> int:
        codes = [r.exit_code for r in self.pulls] + [r.exit_code for r in self.pushes]
        return worst(codes + ([self.alerts.exit_code] if self.alerts is not None else []))

    def as_dict(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "pulled": [r.as_dict() for r in self.pulls],
            "pushed": [r.as_dict() for r in self.pushes],
            "alerts": self.alerts.as_dict() if self.alerts is not None else None,
        }


def sync_all(
    ws: Any,
    names: Sequence[str],
    *,
    dry_run: bool = False,
    force: bool = False,
    pacing: Pacing | None = None,
    session: Any = None,
    full: bool = False,
) -> SyncResult:
    """Under one workspace lock: pull every chosen order channel, then push every chosen API
    channel (all at once), so each channel is pushed after its own orders were read in the
    same run; then the low-stock alerts (``multichan.alerts``)."""
    from multichan.alerts import run_alerts
    from multichan.feeds.run import load_config

    config = load_config(ws)
    chosen = select(config, names)
    pulling = order_channels(config, [])
    pulling = [c for c in pulling if c in chosen]
    db = ws.db()
    try:
        with ws.lock():
            pulls = [_pull_one(db, config, c, None, dry_run, pacing, session) for c in pulling]
            pushes = _push_each(ws, config, chosen, dry_run, force, pacing, session, full)
            alerts = None if dry_run else run_alerts(db, config, send=True)
    finally:
        db.close()
    return SyncResult(pulls, pushes, alerts)


def _push_each(
    ws: Any, config: Any, chosen: list[Any], dry_run: bool, force: bool,
    pacing: Pacing | None, session: Any, full: bool = False,
) -> list[PushResult]:  # fmt: skip
    """Push the channels at the same time, each on its own connection to the catalog: each
    waits on its own API's rate limit, not on the others' (a sale reaches every channel in the
    time of the slowest, not of all of them in a row). Results in the channels' order."""
    from concurrent.futures import ThreadPoolExecutor

    def one(cfg: Any) -> PushResult:
        db = ws.db()
        try:
            return _push_one(db, config, cfg, None, dry_run, force, pacing, session, full)
        finally:
            db.close()

    if len(chosen) < 2:
        return [one(cfg) for cfg in chosen]
    with ThreadPoolExecutor(max_workers=len(chosen), thread_name_prefix="push") as pool:
        return list(pool.map(one, chosen))
