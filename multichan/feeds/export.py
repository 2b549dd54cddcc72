"""Export one channel's feed: offers -> validation -> template -> atomic file -> record -> upload.

The shrink guard refuses a feed that lost more than ``max_shrink_percent`` of the items of the
last successful export (unless forced): a broken import must not delist a catalog overnight.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlite_utils

from multichan import errors
from multichan.catalog.store import iter_batches
from multichan.config import Channel, Config
from multichan.feeds import macros, parallel, render, writer
from multichan.feeds.formats import FORMATS, FeedFormat
from multichan.feeds.parallel import Diagnostic, checked
from multichan.offers import Offer, load_overrides, rules_for

__all__ = ["ChannelResult", "Diagnostic", "export_channel", "record"]
from multichan.workspace import Workspace, shipped


@dataclass
class ChannelResult:
    channel: str
    status: str = "pending"  # written, checked, refused, failed
    path: Path | None = None
    items: int = 0
    left_out: list[Diagnostic] = field(default_factory=list)
    notes: list[Diagnostic] = field(default_factory=list)
    bytes: int = 0
    sha256: str = ""
    duration_ms: int = 0
    uploaded_to: str | None = None
    message: str | None = None
    exit_code: int = errors.OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel, "status": self.status,
            "path": str(self.path) if self.path else None, "items": self.items,
            "left_out": [d.as_dict() for d in self.left_out],
            "notes": [d.as_dict() for d in self.notes], "bytes": self.bytes,
            "sha256": self.sha256, "duration_ms": self.duration_ms,
            "uploaded_to": self.uploaded_to, "message": self.message,
            "exit_code": self.exit_code,
        }  # fmt: skip


def feed_format(channel: Channel) -> FeedFormat:
    return FORMATS[channel.type]


def past_exports(
    db: sqlite_utils.Database, channel: str | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """Recorded exports, newest first, of one channel or all."""
    where, params = ("WHERE channel = ?", [channel]) if channel else ("", [])
    sql = f"SELECT * FROM exports {where} ORDER BY id DESC LIMIT ?"
    return list(db.query(sql, [*params, limit]))


def last_export(db: sqlite_utils.Database, channel: str) -> dict[str, Any] | None:
    rows = past_exports(db, channel, 1)
    return rows[0] if rows else None


def output_path(ws: Workspace, channel: Channel) -> Path:
    fmt = feed_format(channel)
    default = f"feeds/{channel.name}{Path(fmt.template.removesuffix('.j2')).suffix}"
    path = Path(channel.output or default)
    return path if path.is_absolute() else ws.root / path


def export_channel(
    ws: Workspace,
    db: sqlite_utils.Database,
    config: Config,
    channel: Channel,
    *,
    check: bool = False,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> ChannelResult:
    """Export one channel; problems become the result's status and exit code, not exceptions,
    so one channel's failure never stops the others (template errors raise TemplateError).

    A template written as header/item/footer macros renders on ``workers`` processes
    (default: one per core; see feeds.parallel), any other template in this one."""
    started = time.monotonic()
    result = ChannelResult(channel.name)
    fmt = feed_format(channel)
    template_name = channel.template or fmt.template
    env = render.environment(
        [ws.templates_dir, shipped("templates")],
        render.escape_for(template_name, fmt.escape),
        formula_guard=channel.content["formula_guard"],
    )
    template = render.load(env, template_name)
    rules = rules_for(channel, config)
    rules.read_columns(d[0] for d in db.execute("SELECT * FROM products LIMIT 0").description)
    overrides = load_overrides(db, channel.name)
    context = {
        "channel": {"name": channel.name, "type": channel.type, "settings": channel.settings},
        "shop": config.shop,
    }
    parts = macros.parts(template, context)

    def classic() -> Iterator[str]:
        """A template that loops over ``offers`` itself: one pass, one process."""

        def counted(offers: Iterator[Offer]) -> Iterator[Offer]:
            for offer in offers:
                result.items += 1
                if progress:
                    progress(result.items)
                yield offer

        batches = iter_batches(db, rules.columns)
        offers = checked(
            batches, rules, overrides, fmt.validate, channel.name, result.left_out, result.notes
        )
        yield from render.generate(template, {**context, "offers": counted(offers)})

    def engine(parts: macros.Parts) -> Iterator[str | bytes]:
        per_location = fmt.per_location or parts.reads_locations
        summed = None if per_location else rules.totals()
        job = parallel.Job(
            db_path(db), channel.name, rules, overrides, fmt.validate, template, parts, summed
        )
        total = db.execute("SELECT count(*) FROM products").fetchone()[0]
        yield parts.header
        for chunk in parallel.chunks(job, db, total, workers):
            result.left_out.extend(chunk.left_out)
            result.notes.extend(chunk.notes)
            result.items += chunk.items
            if progress:
                progress(result.items)
            yield chunk.data
        yield parts.footer

    text = classic() if parts is None else engine(parts)
    target = output_path(ws, channel)
    result.path = target
    if check:
        for _ in text:
            pass
        result.status = "checked"
        refusal = size_refusal(channel, result.items) or (
            None if force else shrink_refusal(db, channel, result.items)
        )
        if refusal:  # say now what tonight's export would refuse
            result.message = refusal.replace(
                "the previous feed was kept", "an export would keep the previous feed"
            )
            result.exit_code = errors.REJECTED
    else:
        written = writer.write_temp(target, text)
        refusal = size_refusal(channel, result.items) or (
            None if force else shrink_refusal(db, channel, result.items)
        )
        if refusal:
            writer.discard(written.temp)
            result.status, result.message = "refused", refusal
            result.exit_code = errors.REJECTED
        else:
            writer.commit(written, target)
            result.status, result.bytes, result.sha256 = "written", written.bytes, written.sha256
    if result.left_out and result.exit_code == errors.OK:
        result.exit_code = errors.REJECTED
    result.duration_ms = int((time.monotonic() - started) * 1000)
    return result


def db_path(db: sqlite_utils.Database) -> Path:
    """The file of an open catalog (workers open their own connection to it)."""
    return Path(db.execute("PRAGMA database_list").fetchone()[2])


def size_refusal(channel: Channel, items: int) -> str | None:
    """A file the channel cannot take, whatever --force says (Amazon: 1 to 25,000 messages)."""
    low, high = feed_format(channel).items_range
    if low <= items <= high:
        return None
    return (
        f"{channel.name}: {channel.type} files hold {low:,} to {high:,} items, this one "
        f"would hold {items:,}; the previous feed was kept"
    )


def shrink_refusal(db: sqlite_utils.Database, channel: Channel, items: int) -> str | None:
    previous = last_export(db, channel.name)
    if not previous or previous["items"] == 0:
        return None
    lost = Decimal(previous["items"] - items) * 100 / previous["items"]
    if lost > channel.max_shrink_percent:
        return (
            f"{channel.name}: the feed would shrink from {previous['items']} to {items} items "
            f"({lost:.0f}% fewer; max_shrink_percent is {channel.max_shrink_percent}); "
            "the previous feed was kept. Rerun with --force if this is intended"
        )
    return None


def record(db: sqlite_utils.Database, result: ChannelResult, started_at: str) -> None:
    with db.conn:
        db.table("exports").insert({
            "channel": result.channel, "started_at": started_at, "path": str(result.path),
            "items": result.items, "left_out": len({d.sku for d in result.left_out}),
            "bytes": result.bytes, "sha256": result.sha256, "duration_ms": result.duration_ms,
            "uploaded_to": result.uploaded_to,
        })  # fmt: skip
