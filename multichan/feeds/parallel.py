"""Render a feed's items on every core, in SKU order, with memory flat.

For a template written as macros (``macros.Parts``: every default template), the catalog is
cut into contiguous SKU ranges of ``CHUNK`` products. A worker process turns a range into
offers, validates them and renders them with the item macro, then sends back the range's UTF-8
text and diagnostics; the parent writes the ranges in order, so the file, its sha256 and the
diagnostics are exactly those of a one-process run. At most ``AHEAD * workers`` ranges are in
flight.

Items are numbered across ranges (``item(o, index)``) through a shared ticket: a worker learns
where its range starts once the ranges before it are validated, not rendered. Templates whose
item macro ignores the index skip the ticket.

Small catalogs, ``MULTICHAN_WORKERS=1`` and systems other than Linux render in-process, through
the same functions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import signal
import sys
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils

from multichan.catalog.store import Batch, Totals, iter_batches
from multichan.errors import MultichanError, TemplateError
from multichan.feeds import macros, render, tuning
from multichan.offers import Offer, Rules, Skipped

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

CHUNK = 1000  # products per range: ~0.7 MB of Google XML; more only costs memory
MIN_PARALLEL = 5000  # products; below this, starting workers costs more than it saves
MAX_WORKERS = 8  # beyond this the parent, hashing and writing every byte, is the bottleneck
AHEAD = 2  # ranges given to each worker ahead of the one written next


@dataclass(frozen=True)
class Diagnostic:
    channel: str
    sku: str
    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def checked(
    batches: Iterable[Batch],
    rules: Rules,
    overrides: dict[str, dict[str, Any]],
    validate: Callable[[Offer], list[tuple[str, str]]],
    channel: str,
    left_out: list[Diagnostic],
    notes: list[Diagnostic],
) -> Iterator[Offer]:
    """The offers of ``batches`` (``iter_batches``) the channel takes, in SKU order. Products the
    rules cannot handle and offers the channel would reject go to ``left_out``; notes (a
    GTIN left out, ...) of the offers kept go to ``notes``."""
    offer_row = rules.offer_row
    for rows, images, stock in batches:
        for row in rows:
            sku = row[0]
            try:
                offer = offer_row(
                    row, images.get(sku) or [], stock.get(sku) or {}, overrides.get(sku)
                )
            except Exception as exc:  # one bad row never stops the rest
                left_out.append(Diagnostic(channel, sku, "-", Skipped.of(sku, exc).reason))
                continue
            if offer is None:
                continue
            problems = validate(offer)
            if problems:
                left_out.extend(Diagnostic(channel, sku, f, r) for f, r in problems)
                continue
            if offer.notes:
                notes.extend(Diagnostic(channel, sku, "note", n) for n in offer.notes)
            yield offer


@dataclass
class Job:
    """Everything that turns a SKU range into feed text; workers inherit it (fork)."""

    db_path: Path
    channel: str
    rules: Rules
    overrides: dict[str, dict[str, Any]]
    validate: Callable[[Offer], list[tuple[str, str]]]
    template: Any  # jinja2.Template, for error locations
    parts: macros.Parts
    summed: Totals | None = None  # stock as one total per SKU: nothing shows it per location
    exported: str | None = None  # "sku" or "store": what of each item an updating feed keeps


@dataclass
class Chunk:
    """One SKU range, rendered: its text, item count and diagnostics in SKU order."""

    data: bytes
    items: int
    left_out: list[Diagnostic] = field(default_factory=list)
    notes: list[Diagnostic] = field(default_factory=list)
    # for an updating feed (FeedFormat.updates): (sku, store) of each item, store "" unless
    # the feed is per location
    exported: list[tuple[str, str]] = field(default_factory=list)


def default_workers() -> int:
    """``MULTICHAN_WORKERS`` if set (1: one process), else one per core, at most MAX_WORKERS."""
    configured = os.environ.get("MULTICHAN_WORKERS", "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(cores or 1, MAX_WORKERS)


def offers_in(job: Job, batches: Iterable[Batch], chunk: Chunk) -> list[Offer]:
    """The valid offers of ``batches``; what was left out goes to ``chunk``'s diagnostics."""
    rules, overrides, left_out, notes = job.rules, job.overrides, chunk.left_out, chunk.notes
    return list(checked(batches, rules, overrides, job.validate, job.channel, left_out, notes))


def render_items(job: Job, offers: list[Offer], first: int, chunk: Chunk) -> Chunk:
    """Render ``offers`` with the item macro, each under the time budget of an item
    (``render.Watch``: the offer being rendered is the watch's item)."""
    item, watch = job.parts.item, render.WATCH
    texts: list[str] = []
    append = texts.append
    with render.located(job.template):
        for index, o in enumerate(offers, first):
            watch.item = o
            append(item(o, index))
        text = "".join(texts)
    chunk.data, chunk.items = text.encode(), len(offers)
    if job.exported == "sku":
        chunk.exported = [(o.sku, "") for o in offers]
    elif job.exported == "store":
        chunk.exported = [(o.sku, store) for o in offers for store in o.location_quantities]
    return chunk


def chunks(
    job: Job, db: sqlite_utils.Database, total: int, workers: int | None = None
) -> Iterator[Chunk]:
    """The feed's items as chunks in SKU order, rendered on ``workers`` processes."""
    workers = default_workers() if workers is None else workers
    if sys.platform.startswith("linux"):
        tuning.keep_freed_memory()  # before forking: the workers inherit it
    parallel = workers > 1 and total >= MIN_PARALLEL
    if parallel and _can_fork():
        yield from _parallel(job, db, workers)
        return
    first = 1
    with tuning.collect_per_chunk():
        for batch in iter_batches(db, job.rules.columns, size=CHUNK, summed=job.summed):
            chunk = Chunk(b"", 0)
            offers = offers_in(job, [batch], chunk)
            yield render_items(job, offers, first, chunk)
            first += chunk.items
            del offers
            tuning.collect_if_piled_up()


def _can_fork() -> bool:
    """Workers are forked, inheriting the compiled template and rules: Linux only (macOS's
    system libraries are not safe to use in a forked child)."""
    import multiprocessing

    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def _ranges(db: sqlite_utils.Database) -> Iterator[tuple[str, str | None]]:
    """[start, stop) SKU ranges of CHUNK products each: SQLite steps through the SKU index,
    Python sees one SKU per range."""
    start = db.conn.execute("SELECT min(sku) FROM products").fetchone()[0]
    while start is not None:
        stop = db.conn.execute(
            "SELECT sku FROM products WHERE sku >= ? ORDER BY sku LIMIT 1 OFFSET ?", (start, CHUNK)
        ).fetchone()
        yield start, stop and stop[0]
        start = stop and stop[0]


def _parallel(job: Job, db: sqlite_utils.Database, workers: int) -> Iterator[Chunk]:
    """Chunks from ``workers`` forked processes, each fed up to two ranges at a time over its
    own pipe, at most ``AHEAD * workers`` ranges ahead of the one written next."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    ticket = ctx.Condition() if job.parts.uses_index else None
    numbered = ctx.RawArray("q", 2)  # [ranges numbered so far, items numbered so far]
    procs: list[Any] = []
    conns: list[Connection] = []  # results from each worker
    feeds: list[Connection] = []  # ranges to each worker
    gc.freeze()  # keep the parent's objects out of the workers' collections (copy-on-write)
    try:
        for _ in range(workers):
            results, send = ctx.Pipe(duplex=False)  # plain pipes: cheaper than a socket pair
            tuning.widen(send)
            receive, feed = ctx.Pipe(duplex=False)
            inherited = [*conns, *feeds, results, feed]  # the worker closes the parent's ends
            args = (job, receive, send, inherited, ticket, numbered, os.getpid())
            proc = ctx.Process(target=_work, args=args, daemon=True)
            with warnings.catch_warnings():
                # Python 3.12+ warns when other threads exist (a progress bar's): the workers
                # only use what they create themselves, never a lock another thread may hold
                warnings.filterwarnings("ignore", "This process .* is multi-threaded")
                proc.start()
            send.close()
            receive.close()
            procs.append(proc)
            conns.append(results)
            feeds.append(feed)
    finally:
        gc.unfreeze()
    ranges = ((k, start, stop) for k, (start, stop) in enumerate(_ranges(db)))
    load = [0] * workers  # ranges each worker has been given and not sent back
    pending: dict[int, Chunk] = {}
    written = given = 0

    def top_up() -> None:
        nonlocal given
        for w, feed in enumerate(feeds):
            while load[w] < AHEAD and given < written + AHEAD * workers:
                task = next(ranges, None)
                if task is None:
                    return
                feed.send(task)
                load[w] += 1
                given += 1

    done = False
    try:
        top_up()
        while written < given:
            while written not in pending:
                for w, k, chunk in _receive(conns, procs):
                    load[w] -= 1
                    pending[k] = chunk
                top_up()
            chunk = pending.pop(written)
            written += 1
            top_up()
            yield chunk
        done = True
    finally:
        _stop(procs, [*conns, *feeds], feeds if done else [])


def _receive(conns: list[Connection], procs: list[Any]) -> list[tuple[int, int, Chunk]]:
    """Results that have arrived; a worker's error is raised here, in the parent, and so is
    a worker that stopped without one (killed, out of memory)."""
    from multiprocessing.connection import wait

    ready = wait([*conns, *(p.sentinel for p in procs)])
    received = []
    for w, conn in enumerate(conns):
        if conn not in ready:
            continue
        try:
            k, payload = conn.recv()
        except EOFError:
            continue  # its worker has ended: see below
        if isinstance(payload, Chunk):
            try:
                payload.data = conn.recv_bytes()  # sent apart: see _hand_over
            except EOFError:
                continue  # its worker died between the two: see below
            received.append((w, k, payload))
        elif payload[0] == "template":
            raise TemplateError(payload[1])
        else:
            raise MultichanError(f"a feed worker failed:\n{payload[1]}")
    if not received:
        for proc in procs:
            if proc.sentinel in ready:
                proc.join(5)  # reap it, for its exit code
                raise MultichanError(
                    f"a feed worker stopped unexpectedly (exit code {proc.exitcode})"
                )
    return received


def _stop(procs: list[Any], conns: list[Connection], feeds: list[Connection]) -> None:
    """Tell the workers to stop (``feeds``: all went well) or stop them, and close the pipes."""
    for feed in feeds:
        feed.send(None)
    for proc in procs:
        if feeds:
            proc.join(5)
        if proc.is_alive():
            proc.terminate()
            proc.join()
    for conn in conns:
        conn.close()


def _work(
    job: Job,
    receive: Connection,
    send: Connection,
    inherited: list[Connection],
    ticket: Any,
    numbered: Any,
    parent: int,
) -> None:
    """A worker: render the SKU ranges it is given until told to stop (or the parent is
    gone), sending each one back."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    gc.disable()  # see tuning.collect_per_chunk; what the parent had is frozen
    for other in inherited:
        other.close()
    db = sqlite_utils.Database(job.db_path)
    k = -1
    try:
        while (task := receive.recv()) is not None:
            k, start, stop = task
            chunk = Chunk(b"", 0)
            batches = iter_batches(
                db, job.rules.columns, start=start, stop=stop, size=CHUNK, summed=job.summed
            )
            offers = offers_in(job, batches, chunk)
            first = 1  # (not read by an item macro that ignores its index: ticket is None)
            if ticket is not None:
                first = _take_numbers(k, len(offers), ticket, numbered, parent)
            render_items(job, offers, first, chunk)
            data, chunk.data = chunk.data, b""
            _hand_over(send, k, chunk, data)
            del offers, chunk, data
            tuning.collect_if_piled_up()
    except (EOFError, BrokenPipeError):
        pass  # the parent is gone: so are we
    except Exception as exc:
        report = ("template", exc.message) if isinstance(exc, TemplateError) else None
        with contextlib.suppress(OSError):
            send.send((k, report or ("error", traceback.format_exc())))
    finally:
        send.close()
        db.close()


def _hand_over(send: Connection, k: int, chunk: Chunk, data: bytes) -> None:
    """Send range ``k``: its chunk, then its text apart (a pickle would copy it twice more).
    A worker that fails between the two ends without a word: the parent then reports a
    worker that stopped, instead of reading an error as feed text."""
    send.send((k, chunk))
    try:
        send.send_bytes(data)
    except BaseException:
        os._exit(1)


def _take_numbers(k: int, count: int, ticket: Any, numbered: Any, parent: int) -> int:
    """The index of range ``k``'s first item, once ranges 0..k-1 have taken theirs."""
    with ticket:
        while not ticket.wait_for(lambda: numbered[0] == k, timeout=1):
            if os.getppid() != parent:
                raise SystemExit(1)  # orphaned: the range before ours will never come
        first = numbered[1] + 1
        numbered[0], numbered[1] = k + 1, numbered[1] + count
        ticket.notify_all()
    return first
