"""Export one channel's feed: offers -> validation -> template -> atomic file + record -> upload.

Guards keep the previous feed when the new one looks like a mistake: an empty feed, and a
channel's first feed that leaves out most of the products it offers, are refused unless
``allow_empty``; the shrink guard refuses a feed that lost more than ``max_shrink_percent`` of
the items of the last successful export (unless forced): a broken import must not delist a
catalog overnight.

The export is recorded in the ``exports`` table in the same step as the file is renamed into
place (the row is inserted under the write lock, the file renamed, then the row committed),
so the file, the export history and the shrink guard never disagree: a catalog that cannot
be written leaves the previous feed where it was. Stale temp files of the feed, left by a run
that was killed, are removed before writing and named in the result's notes.

Each written feed is then kept for ``multichan replay`` (``keep``): a hard link under the
workspace's state folder, the last KEEP_EXPORTS per channel, never uploaded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlite_utils

from multichan import errors
from multichan.catalog.store import iter_batches, now
from multichan.config import Channel, Config
from multichan.feeds import macros, parallel, render, withdrawn, writer
from multichan.feeds.formats import FORMATS, FeedFormat
from multichan.feeds.parallel import Diagnostic, checked
from multichan.offers import Offer, load_overrides, rules_for
from multichan.workspace import Workspace, shipped

__all__ = ["ChannelResult", "Diagnostic", "export_channel", "record_upload", "require_writable"]

# a channel's first feed (no earlier export with items) may leave out at most this share of
# the products it offers; more looks like a broken import or a missing column, not a shop
FIRST_EXPORT_MAX_LEFT_OUT_PERCENT = 50
# each written feed is kept, for `multichan replay`, under the workspace's state folder
# (.multichan/exports/<channel>/<export id><suffix>): the last KEEP_EXPORTS of each channel;
# MULTICHAN_KEEP_EXPORTS sets another number (0 keeps none). Kept copies are never uploaded.
KEEP_EXPORTS = 5


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
    record_id: int | None = None  # the row of ``exports`` that records this feed
    withdrawn: int = 0  # SKUs an updating feed sent with quantity 0: no longer offered
    updates: bool = False  # the feed's SKUs are recorded, for the next one to withdraw

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel, "status": self.status,
            "path": str(self.path) if self.path else None, "items": self.items,
            "left_out": [d.as_dict() for d in self.left_out],
            "notes": [d.as_dict() for d in self.notes], "bytes": self.bytes,
            "sha256": self.sha256, "duration_ms": self.duration_ms,
            "uploaded_to": self.uploaded_to, "message": self.message,
            "exit_code": self.exit_code, "withdrawn": self.withdrawn,
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
    allow_empty: bool = False,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    started_at: str | None = None,
    render_to: Path | None = None,
) -> ChannelResult:
    """Export one channel; problems become the result's status and exit code, not exceptions,
    so one channel's failure never stops the others (template errors raise TemplateError).
    A written feed is recorded in ``exports`` (as started at ``started_at``, default now).

    A template written as header/item/footer macros renders on ``workers`` processes
    (default: one per core; see feeds.parallel), any other template in this one.

    ``render_to`` renders the feed into that file only (status ``rendered``): no guard, no
    record, no kept copy, no upload; what ``multichan replay --against now`` compares."""
    started_at = started_at or now()
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
        """A template that loops over ``offers`` itself: one pass, one process. For an
        updating feed it loops over ``withdrawn`` after the offers, as (sku, stores)."""
        finished = False

        def counted(offers: Iterator[Offer]) -> Iterator[Offer]:
            nonlocal finished
            pairs: list[tuple[str, str]] = []
            for offer in offers:
                result.items += 1
                if progress:
                    progress(result.items)
                if fmt.updates:
                    stores = offer.location_quantities if fmt.per_location else [""]
                    pairs.extend((offer.sku, store) for store in stores)
                    if len(pairs) >= 1000:
                        withdrawn.add(db, pairs)
                        pairs = []
                yield offer
            if fmt.updates:
                withdrawn.add(db, pairs)
            finished = True

        def gone() -> Iterator[tuple[str, list[str]]]:
            if not finished:
                raise errors.TemplateError(
                    f"{template_name} reads withdrawn before it has looped over every offer"
                )
            result.updates = True
            for item in withdrawn.gone(db, channel.name):
                result.withdrawn += 1
                yield item
            withdrawn_note()

        batches = iter_batches(db, rules.columns)
        offers = checked(
            batches, rules, overrides, fmt.validate, channel.name, result.left_out, result.notes
        )
        if fmt.updates:
            withdrawn.start(db)
        extra = {"withdrawn": gone()} if fmt.updates else {}
        yield from render.generate(template, {**context, "offers": counted(offers), **extra})

    def withdrawn_note() -> None:
        if result.withdrawn:
            result.notes.append(Diagnostic(
                channel.name, "-", "withdrawn",
                f"{result.withdrawn} SKU(s) the last feed sent are no longer offered: sent "
                "with quantity 0",
            ))  # fmt: skip

    def engine(parts: macros.Parts) -> Iterator[str | bytes]:
        per_location = fmt.per_location or parts.reads_locations
        summed = None if per_location else rules.totals()
        exported = ("store" if fmt.per_location else "sku") if fmt.updates else None
        job = parallel.Job(
            db_path(db), channel.name, rules, overrides, fmt.validate, template, parts, summed,
            exported,
        )  # fmt: skip
        total = db.execute("SELECT count(*) FROM products").fetchone()[0]
        if exported:
            withdrawn.start(db)
        yield parts.header
        for chunk in parallel.chunks(job, db, total, workers):
            result.left_out.extend(chunk.left_out)
            result.notes.extend(chunk.notes)
            result.items += chunk.items
            if exported:
                withdrawn.add(db, chunk.exported)
            if progress:
                progress(result.items)
            yield chunk.data
        if exported:
            yield from withdrawals(parts)
        yield parts.footer

    def withdrawals(parts: macros.Parts) -> Iterator[str]:
        """The items of what the last feed sent and this one does not offer: quantity 0."""
        macro = parts.withdrawn
        assert macro is not None
        result.updates = True
        with render.located(template):
            for sku, stores in withdrawn.gone(db, channel.name):
                result.withdrawn += 1
                yield macro(sku, stores, result.items + result.withdrawn)
        withdrawn_note()

    if fmt.updates and (
        parts.withdrawn is None if parts is not None else not macros.mentions(template, "withdrawn")
    ):
        raise errors.TemplateError(
            f"{template_name} renders a {fmt.type} feed, which changes what {channel.name} "
            "holds instead of replacing it, but has no withdrawn(sku, stores, index) macro "
            "(or, looping over offers itself, no loop over withdrawn after them): a SKU it "
            "stops offering would keep selling its last quantity; see multichan's "
            f"{fmt.template}"
        )
    text = classic() if parts is None else engine(parts)
    target = output_path(ws, channel)
    result.path = target
    if render_to is not None:
        written = writer.write_temp(render_to, text)
        os.replace(written.temp, render_to)
        result.path, result.bytes, result.sha256 = render_to, written.bytes, written.sha256
        result.status = "rendered"
    elif check:
        for _ in text:
            pass
        result.status = "checked"
        refusal = refusal_of(db, channel, result, force=force, allow_empty=allow_empty)
        if refusal:  # say now what tonight's export would refuse
            result.message = refusal.replace(
                "the previous feed was kept", "an export would keep the previous feed"
            ).replace("nothing was written", "an export would write nothing")
            result.exit_code = errors.REJECTED
    else:
        result.notes.extend(swept(channel.name, target))
        written = writer.write_temp(target, text)
        refusal = refusal_of(db, channel, result, force=force, allow_empty=allow_empty)
        if refusal:
            writer.discard(written.temp)
            result.status, result.message = "refused", refusal
            result.exit_code = errors.REJECTED
        else:
            result.bytes, result.sha256 = written.bytes, written.sha256
            result.duration_ms = int((time.monotonic() - started) * 1000)
            try:
                publish(ws, db, result, written, started_at)
            except errors.MultichanError as exc:
                result.bytes, result.sha256 = 0, ""
                result.status, result.message = "failed", exc.message
                result.exit_code = exc.exit_code
            else:
                result.status = "written"
                keep(ws, db, result)
    if result.left_out and result.exit_code == errors.OK:
        result.exit_code = errors.REJECTED
    if result.status != "written":  # a written feed keeps the duration it was recorded with
        result.duration_ms = int((time.monotonic() - started) * 1000)
    return result


def swept(channel: str, target: Path) -> list[Diagnostic]:
    """Remove the feed's stale temp files (``writer.sweep``); one note for each."""
    notes = []
    for stale in writer.sweep(target):
        size = f"{stale.bytes / 1e6:.1f} MB" if stale.bytes >= 1e6 else f"{stale.bytes:,} bytes"
        notes.append(
            Diagnostic(
                channel,
                "",
                "temp file",
                f"removed {stale.path.name} ({size}), left by an export that did not finish",
            )
        )
    return notes


def db_path(db: sqlite_utils.Database) -> Path:
    """The file of an open catalog (workers open their own connection to it)."""
    return Path(db.execute("PRAGMA database_list").fetchone()[2])


def refusal_of(
    db: sqlite_utils.Database,
    channel: Channel,
    result: ChannelResult,
    *,
    force: bool = False,
    allow_empty: bool = False,
) -> str | None:
    """Why the feed of ``result`` must not replace the previous one, or None, first match
    first: it holds more or fewer items than the channel takes (whatever the flags say), it is
    empty, it is the channel's first feed and leaves out most products it offers (both pass
    with ``allow_empty``), or it shrank too much (passes with ``force``)."""
    exists = result.path is not None and result.path.exists()
    kept = "the previous feed was kept" if exists else "nothing was written"
    size = size_refusal(channel, result.items)
    if size:
        return size
    shrink = None if force else shrink_refusal(db, channel, result.items)
    if not allow_empty and result.items == 0:
        flags = "--allow-empty --force" if shrink else "--allow-empty"
        return (
            f"{channel.name}: the feed would hold no items ({why_empty(db, result)}); {kept}. "
            f"Rerun with {flags} if this is intended"
        )
    first = None if allow_empty else first_export_refusal(db, channel, result)
    if first:
        return f"{first}; {kept}. Fix the catalog, or rerun with --allow-empty if this is intended"
    return shrink


def why_empty(db: sqlite_utils.Database, result: ChannelResult) -> str:
    """Why a feed holds no items, in a few words."""
    left = len({d.sku for d in result.left_out})
    if left:
        return f"all {left} products offered were left out, most often {most_common(result)}"
    total = db.execute("SELECT count(*) FROM products").fetchone()[0]
    if not total:
        return "the catalog has no products"
    return (
        f"none of the catalog's {total} products is offered: check the products' status and "
        "the channel's filters"
    )


def first_export_refusal(
    db: sqlite_utils.Database, channel: Channel, result: ChannelResult
) -> str | None:
    """A channel with no earlier feed holding items (so no shrink guard) whose feed leaves out
    more than FIRST_EXPORT_MAX_LEFT_OUT_PERCENT of the products it offers."""
    previous = last_export(db, channel.name)
    if previous and previous["items"] > 0:
        return None
    left = len({d.sku for d in result.left_out})
    offered = result.items + left
    if left * 100 <= offered * FIRST_EXPORT_MAX_LEFT_OUT_PERCENT:
        return None
    return (
        f"{channel.name}: this first feed would leave out {left} of the {offered} products "
        f"offered (more than {FIRST_EXPORT_MAX_LEFT_OUT_PERCENT}%), most often "
        f"{most_common(result)}"
    )


def most_common(result: ChannelResult) -> str:
    """The reason most products were left out for, and for how many: "brand is required
    (41 products)"."""
    counts = Counter((d.field, d.reason) for d in set(result.left_out))
    (field_name, reason), n = counts.most_common(1)[0]
    label = reason if reason.startswith(field_name) else f"{field_name}: {reason}"
    return f"{label!r} ({n} product{'s' if n != 1 else ''})"


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


def publish(
    ws: Workspace,
    db: sqlite_utils.Database,
    result: ChannelResult,
    written: writer.Written,
    started_at: str,
) -> None:
    """Record the export and put its file in place as one step: the row is inserted under the
    catalog's write lock, the file renamed over the previous feed, then the row committed. A
    failure at any step leaves the previous feed and the export history as they were and
    raises WorkspaceError (exit 3) or Locked (7); an OSError of the rename is re-raised."""
    assert result.path is not None
    kept = "the previous feed was kept" if result.path.exists() else "no feed was written"
    conn = db.conn
    try:
        conn.execute("BEGIN IMMEDIATE")
        cursor = conn.execute(
            "INSERT INTO exports (channel, started_at, path, items, left_out, bytes, sha256,"
            " duration_ms, uploaded_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            [
                result.channel,
                started_at,
                str(result.path),
                result.items,
                len({d.sku for d in result.left_out}),
                result.bytes,
                result.sha256,
                result.duration_ms,
            ],
        )
        if result.updates:
            withdrawn.record(conn, result.channel)
        writer.commit(written, result.path, then=lambda: conn.execute("COMMIT"))
    except sqlite3.Error as exc:
        _rollback(conn)
        writer.discard(written.temp)
        raise catalog_error(ws, exc, f"the export was not recorded and {kept}") from None
    except BaseException:
        _rollback(conn)
        raise
    result.record_id = cursor.lastrowid


def kept_limit() -> int:
    """How many written feeds of each channel are kept (KEEP_EXPORTS, or the number
    MULTICHAN_KEEP_EXPORTS gives)."""
    given = os.environ.get("MULTICHAN_KEEP_EXPORTS", "").strip()
    return int(given) if given.isdigit() else KEEP_EXPORTS


def keep(ws: Workspace, db: sqlite_utils.Database, result: ChannelResult) -> None:
    """Keep the feed just written and recorded, for ``multichan replay``: a hard link under
    ``.multichan/exports/<channel>/`` (costs no space while it is the current feed; a copy
    where that folder is on another disk), its path (relative to the workspace) recorded in
    ``exports.kept_path``; then drop the channel's kept feeds beyond the last
    ``kept_limit()``, and any file there no export row names. A feed that cannot be kept is
    a note, never a failed export."""
    if result.record_id is None or result.path is None:
        return
    limit = kept_limit()
    folder = ws.state_dir / "exports" / result.channel
    try:
        if limit > 0:
            folder.mkdir(parents=True, exist_ok=True)
            kept = folder / f"{result.record_id}{result.path.suffix}"
            kept.unlink(missing_ok=True)  # of an export row a restored catalog lost
            try:
                os.link(result.path, kept)
            except OSError:  # another disk, or a folder without hard links
                temp = folder / f".{kept.name}.tmp"
                shutil.copyfile(result.path, temp)
                os.replace(temp, kept)
            with db.conn:
                db.conn.execute(
                    "UPDATE exports SET kept_path = ? WHERE id = ?",
                    [str(kept.relative_to(ws.root)), result.record_id],
                )
        with db.conn:
            old = db.conn.execute(
                "SELECT id FROM exports WHERE channel = ? AND kept_path IS NOT NULL"
                " ORDER BY id DESC LIMIT -1 OFFSET ?",
                [result.channel, limit],
            ).fetchall()
            db.conn.executemany("UPDATE exports SET kept_path = NULL WHERE id = ?", old)
        named = {
            ws.root / p
            for (p,) in db.conn.execute(
                "SELECT kept_path FROM exports WHERE channel = ? AND kept_path IS NOT NULL",
                [result.channel],
            )
        }
        for entry in folder.iterdir() if folder.is_dir() else ():
            if entry.is_file() and entry not in named:
                entry.unlink(missing_ok=True)
    except (OSError, sqlite3.Error) as exc:
        result.notes.append(Diagnostic(
            result.channel, "", "kept copy",
            f"the feed was written but not kept for multichan replay ({exc})",
        ))  # fmt: skip


def require_writable(ws: Workspace, db: sqlite_utils.Database) -> None:
    """Raise unless the catalog can record exports (it takes the write lock and makes a write
    that changes nothing): checked once before any feed is rendered."""
    conn = db.conn
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM exports WHERE 0")  # a read-only or immutable file refuses it
    except sqlite3.Error as exc:
        raise catalog_error(
            ws, exc, "export records every feed it writes there, so no feed was written"
        ) from None
    finally:
        _rollback(conn)


def catalog_error(ws: Workspace, exc: sqlite3.Error, outcome: str) -> errors.MultichanError:
    """One clear error for a catalog that refused a write: Locked (exit 7) when another
    program holds its write lock, else WorkspaceError (exit 3)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return errors.Locked(f"{ws.db_path} is locked by another program ({exc}); {outcome}")
    return errors.WorkspaceError(f"cannot write to {ws.db_path} ({exc}); {outcome}")


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def record_upload(db: sqlite_utils.Database, result: ChannelResult) -> None:
    """Add where the feed went to its export's row; a failure becomes the result's message."""
    if result.record_id is None or not result.uploaded_to:
        return
    try:
        with db.conn:
            db.conn.execute(
                "UPDATE exports SET uploaded_to = ? WHERE id = ?",
                [result.uploaded_to, result.record_id],
            )
    except sqlite3.Error as exc:
        result.message = f"uploaded, but the upload was not recorded in the catalog ({exc})"
        result.exit_code = errors.worst([result.exit_code, errors.CONFIG])
