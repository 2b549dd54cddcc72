"""Per-channel overrides of one SKU (``multichan override``): a title, a description or a
price that one channel shows instead of what its rules make, or the SKU kept off that channel.

Owns checking an override before it is written to the ``overrides`` table (schema V1): the
channel is one channels.yaml configures (with a "did you mean"), the SKU is in the catalog, a
price is an amount above zero in the channel's currency with that currency's minor units (JPY
1500, USD 12.50, KWD 1.250), which the offers use as given (no markup, no rounding: read by
``offers.override_price``), and a title or description fits the channel's limit once the
channel's own cleaning ran (HTML stripped where the channel takes none, spaces collapsed). A
longer one is refused, not cut: an override is the exact text the seller wants on that
channel, and the rules would cut it at a word without asking. A row with nothing left to
override is deleted. Rows of a channel channels.yaml no longer has can still be listed and
unset (``catalog check`` reports them as never used).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from multichan.catalog.schema import transaction
from multichan.catalog.store import require_product
from multichan.config import Config
from multichan.errors import NotFound, UsageError, did_you_mean

FIELDS = ("title", "description", "price", "excluded")


@dataclass(frozen=True)
class Override:
    """One row of the overrides table, with the channel's currency (None: the channel is not
    in channels.yaml, so the row is never used)."""

    channel: str
    sku: str
    title: str | None = None
    description: str | None = None
    price: str | None = None
    excluded: bool = False
    currency: str | None = None

    @property
    def configured(self) -> bool:
        return self.currency is not None

    @property
    def empty(self) -> bool:
        return not (self.title or self.description or self.price or self.excluded)

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel, "sku": self.sku, "title": self.title,
            "description": self.description, "price": self.price, "currency": self.currency,
            "excluded": self.excluded, "configured": self.configured,
        }  # fmt: skip


@dataclass(frozen=True)
class Changed:
    """What ``set_override`` or ``unset_override`` did: the row before and after (None: no
    row)."""

    before: Override | None
    after: Override | None

    def fields(self) -> list[tuple[str, Any, Any]]:
        """(field, old, new) of each field that changed (no row: nothing overridden)."""
        changed = []
        for name in FIELDS:
            old, new = (getattr(row or Override("", ""), name) for row in (self.before, self.after))
            if old != new:
                changed.append((name, old, new))
        return changed

    def as_dict(self) -> dict[str, Any]:
        return {
            "before": self.before.as_dict() if self.before else None,
            "after": self.after.as_dict() if self.after else None,
            "changed": [{"field": f, "old": o, "new": n} for f, o, n in self.fields()],
        }


def channel_currency(config: Config, channel: str) -> str:
    """The one currency ``channel`` sells in (its ``price.currency``, else the shop's), as its
    offers price it."""
    cfg = config.channels[channel]
    return (cfg.price.get("currency") or config.shop.get("currency") or "USD").upper()


def set_override(
    db: sqlite_utils.Database,
    config: Config,
    channel: str,
    sku: str,
    *,
    title: str | None = None,
    description: str | None = None,
    price: str | None = None,
    excluded: bool | None = None,
) -> Changed:
    """Check and write the given fields of the override of ``sku`` on ``channel`` (the
    others stay as they are); NotFound for a channel or SKU that does not exist, UsageError
    for a value the channel cannot use, nothing written then."""
    values = checked(db, config, channel, sku, title, description, price)
    if excluded is not None:
        values["excluded"] = 1 if excluded else 0
    if not values:
        raise UsageError(
            "nothing to set: give --title, --description, --price, --exclude or --include"
        )
    with transaction(db, "override"):
        before = _row(db, config, channel, sku)
        names = list(values)
        sets = ", ".join(f"{name} = excluded.{name}" for name in names)
        db.conn.execute(
            f"INSERT INTO overrides (channel, sku, {', '.join(names)}) "
            f"VALUES (?, ?, {', '.join('?' * len(names))}) "
            f"ON CONFLICT (channel, sku) DO UPDATE SET {sets}",
            [channel, sku, *values.values()],
        )
        after = _row(db, config, channel, sku)
        if after is not None and after.empty:  # --include on a row holding nothing else
            _delete(db, channel, sku)
            after = None
    return Changed(before, after)


def checked(
    db: sqlite_utils.Database,
    config: Config,
    channel: str,
    sku: str,
    title: str | None,
    description: str | None,
    price: str | None,
) -> dict[str, Any]:
    """The columns to write for the given values, each checked as the channel uses it."""
    from multichan.money import parse_money, to_text
    from multichan.offers import rules_for

    cfg = config.channel(channel)  # NotFound with a "did you mean"
    require_product(db, sku)
    values: dict[str, Any] = {}
    if title is None and description is None and price is None:
        return values
    rules = rules_for(cfg, config)
    if title is not None:
        text = title.strip()
        if not text:
            raise UsageError(_empty("title", channel, sku))
        rules.title(text)
        if rules.title_cut:
            raise UsageError(
                f"--title is {rules.title_cut} characters; {channel} allows {rules.max_title}"
                " (an override is not cut: shorten it)"
            )
        values["title"] = text
    if description is not None:
        text = description.strip()
        if not text:
            raise UsageError(_empty("description", channel, sku))
        rules.description(text)
        if rules.description_cut:
            raise UsageError(
                f"--description is {rules.description_cut} characters; {channel} allows "
                f"{rules.max_description} (an override is not cut: shorten it)"
            )
        values["description"] = text
    if price is not None:
        currency = rules.target_currency
        try:
            amount = parse_money(price, currency)
        except ValueError as exc:
            raise UsageError(
                f"--price {price!r} is not a {currency} price ({exc}); {channel} sells in "
                f"{currency}"
            ) from None
        if amount is None:
            raise UsageError(_empty("price", channel, sku))
        if amount <= 0:
            raise UsageError(f"--price {price!r} must be above zero")
        values["price"] = to_text(amount, currency)
    return values


def _empty(name: str, channel: str, sku: str) -> str:
    return (
        f"--{name} is empty; 'multichan override unset {channel} {sku} --{name}' removes an "
        f"override {name}"
    )


def unset_override(
    db: sqlite_utils.Database,
    config: Config,
    channel: str,
    sku: str,
    fields: Collection[str] | None = None,
) -> Changed:
    """Drop ``fields`` (None: all) of the override of ``sku`` on ``channel``: that channel
    gets its rules' title, description or price again (``excluded``: it offers the SKU
    again). A channel channels.yaml does not have may be named when it has rows."""
    unknown = sorted(set(fields or ()) - set(FIELDS))
    if unknown:
        raise UsageError(f"no override field {unknown[0]!r} (fields: {', '.join(FIELDS)})")
    stray = db.execute("SELECT 1 FROM overrides WHERE channel = ? LIMIT 1", [channel]).fetchone()
    if channel not in config.channels and stray is None:
        config.channel(channel)  # NotFound with a "did you mean"
    require_product(db, sku)
    with transaction(db, "override"):
        before = _row(db, config, channel, sku)
        if before is None:
            return Changed(None, None)
        if fields is None or set(fields) >= set(FIELDS):
            _delete(db, channel, sku)
            return Changed(before, None)
        sets = ", ".join(f"{name} = {'0' if name == 'excluded' else 'NULL'}" for name in fields)
        db.conn.execute(
            f"UPDATE overrides SET {sets} WHERE channel = ? AND sku = ?", [channel, sku]
        )
        after = _row(db, config, channel, sku)
        if after is not None and after.empty:
            _delete(db, channel, sku)
            after = None
    return Changed(before, after)


def list_overrides(
    db: sqlite_utils.Database, config: Config, channel: str | None = None
) -> list[Override]:
    """The overrides of ``channel`` (None: of every channel), by channel and SKU; a channel
    that is neither configured nor has rows is NotFound."""
    where, params = "", []
    if channel is not None:
        where, params = "WHERE channel = ?", [channel]
    rows = _rows(db, config, where, params)
    if channel is not None and not rows and channel not in config.channels:
        known = sorted({*config.channels, *_channels_with_rows(db)})
        raise NotFound(
            f"no channel {channel!r} in {config.path.name} and no overrides for it "
            f"(channels: {', '.join(known) or 'none'}){did_you_mean(channel, known)}"
        )
    return rows


def _channels_with_rows(db: sqlite_utils.Database) -> list[str]:
    return [r[0] for r in db.execute("SELECT DISTINCT channel FROM overrides ORDER BY 1")]


def _row(db: sqlite_utils.Database, config: Config, channel: str, sku: str) -> Override | None:
    rows = _rows(db, config, "WHERE channel = ? AND sku = ?", [channel, sku])
    return rows[0] if rows else None


def _rows(
    db: sqlite_utils.Database, config: Config, where: str, params: list[Any]
) -> list[Override]:
    currencies: dict[str, str | None] = {}
    found = []
    for channel, sku, title, description, price, excluded in db.execute(
        "SELECT channel, sku, title, description, price, excluded FROM overrides "
        f"{where} ORDER BY channel, sku",
        params,
    ):
        if channel not in currencies:
            configured = channel in config.channels
            currencies[channel] = channel_currency(config, channel) if configured else None
        found.append(
            Override(channel, sku, title, description, price, bool(excluded), currencies[channel])
        )
    return found


def _delete(db: sqlite_utils.Database, channel: str, sku: str) -> None:
    db.conn.execute("DELETE FROM overrides WHERE channel = ? AND sku = ?", [channel, sku])
