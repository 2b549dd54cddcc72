"""A whole push or plan run: pick the configured API channels, hold the workspace lock, build
each channel's plan, apply the safety limits, and push through ``push.push_plan``. One
channel's failure never stops the others."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from multichan import errors
from multichan.channels.base import Channel, RateLimit
from multichan.errors import MultichanError
from multichan.sync import state as st
from multichan.sync.plan import Plan
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
    """Plans for the chosen channels; sends nothing and writes nothing."""
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


def push_all(
    ws: Any,
    names: Sequence[str],
    *,
    only: str | None = None,
    dry_run: bool = False,
    force: bool = False,
    pacing: Pacing | None = None,
    session: Any = None,
) -> list[PushResult]:
    """Push every chosen channel; one channel's failure never stops the others."""
    from multichan.channels import registry
    from multichan.feeds.run import load_config
    from multichan.sync.plan import make_plan

    config = load_config(ws)
    chosen = select(config, names)
    db = ws.db()
    results: list[PushResult] = []
    try:
        with ws.lock():
            for cfg in chosen:
                try:
                    channel = registry.create(cfg, config.path.name, session=session)
                except MultichanError as exc:  # this channel's settings or plugin
                    results.append(PushResult(cfg.name, "failed", message=exc.message,
                                              exit_code=exc.exit_code))  # fmt: skip
                    continue
                kinds = kinds_for(channel, only)
                plan = make_plan(db, cfg, config, kinds)
                why = None if force else refusal(
                    plan,
                    Decimal(cfg.max_delist_percent),
                    Decimal(cfg.max_price_change_percent),
                )  # fmt: skip
                if why:
                    results.append(
                        PushResult(cfg.name, "refused", message=why,
                                   exit_code=errors.REJECTED, plan=plan)
                    )  # fmt: skip
                elif dry_run:
                    results.append(PushResult(cfg.name, "dry-run", plan=plan))
                else:
                    rate = configured_rate(cfg, channel)
                    results.append(push_plan(db, channel, plan, kinds, pacing, rate))
    finally:
        db.close()
    return results
