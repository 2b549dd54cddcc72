"""Replay: what a past push or export run planned and sent, read back from the catalog, and
how it compares with what would be sent today (``--against now``).

A run is named as ``replay --list`` shows it: a push run by its journal id (``12``), an
export run by its export id (``export-3``). Everything is read as it goes, a few thousand
rows at a time, so a run of a million items is never held in memory.

- A push run: ``journal_runs`` for the run, ``journal_items`` for every line it wrote (each
  SKU and kind sent, with its outcome and, since schema V11, the snapshot of the fields
  sent: the one push_state takes on acceptance). The plan is each SKU's strongest action.
  A line written before V11 has no snapshot: its values were not recorded, and replay says
  so instead of guessing them.
- Against now: today's plan for the same channel (``plan.stream``, the whole catalog, as
  ``multichan plan --full``), the run's last line of each SKU and kind, and the channel's
  push state, merged in SKU order. "Now" is what the channel holds once today's push is
  done: the value today's plan sends, else what the channel confirmed (which today's offer
  equals, or the plan would send it).
- An export run: the feed it wrote, kept under the workspace's state folder
  (``exports.kept_path``, the last few per channel: ``feeds.export.KEEP_EXPORTS``), read
  back by its format (``feeds.readback``); against now, today's feed is rendered into a
  temporary file and both are diffed item by item, by id, through a temporary SQLite file.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby, zip_longest
from pathlib import Path
from typing import Any

import sqlite_utils

from multichan.errors import UsageError
from multichan.sync import state as st
from multichan.sync.plan import FIELDS

ROWS = 500  # rows read at a time (a snapshot can be kilobytes: a description)
ACTIONS = {"update": 0, "delist": 1, "create": 2}  # a SKU's plan action: its strongest
# an export item's field that only says where it sits in its file (it moves when any item
# before it comes or goes): shown, never counted as a difference
POSITIONAL = frozenset({"messageId"})
NOT_RECORDED = (
    "the values sent were not recorded for this run (it ran before multichan recorded them)"
)


@dataclass
class Run:
    """One past run: a push (``journal_runs``) or an export (``exports``)."""

    ref: str  # as --list shows it: "12", "export-3"
    id: int
    command: str  # push, export
    channel: str
    started_at: str
    ended_at: str | None
    status: str
    exit_code: int | None
    counts: dict[str, Any]
    message: str | None = None
    export: dict[str, Any] = field(default_factory=dict)  # the exports row, of an export

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.ref, "channel": self.channel, "command": self.command,
            "started_at": self.started_at, "ended_at": self.ended_at, "status": self.status,
            "exit_code": self.exit_code, "counts": self.counts, "message": self.message,
        }  # fmt: skip


def _journal_run(row: Any) -> Run:
    rid, channel, command, started, ended, status, code, counts, message = row
    return Run(str(rid), rid, command, channel, started, ended, status, code,
               json.loads(counts or "{}"), message)  # fmt: skip


def _export_run(row: dict[str, Any]) -> Run:
    counts = {"items": row["items"], "left_out": row["left_out"]}
    status = "uploaded" if row["uploaded_to"] else "written"
    return Run(f"export-{row['id']}", row["id"], "export", row["channel"], row["started_at"],
               None, status, 0, counts, None, row)  # fmt: skip


JOURNAL_RUN = (
    "SELECT id, channel, command, started_at, ended_at, status, exit_code, counts, message"
    " FROM journal_runs"
)


def recent(db: sqlite_utils.Database, limit: int = 20) -> list[Run]:
    """The ``limit`` newest runs, pushes and exports together, newest first."""
    runs = [_journal_run(r) for r in
            db.conn.execute(f"{JOURNAL_RUN} ORDER BY id DESC LIMIT ?", [limit])]  # fmt: skip
    runs += [_export_run(r) for r in db.query(
        "SELECT * FROM exports ORDER BY id DESC LIMIT ?", [limit])]  # fmt: skip
    runs.sort(key=lambda r: (r.started_at, r.command == "export", r.id), reverse=True)
    return runs[:limit]


def find(db: sqlite_utils.Database, ref: str) -> Run:
    """The run ``ref`` names (``12``, ``push-12``, ``export-3``, ``e3``); a usage error (exit
    2) when there is no such run."""
    match = re.fullmatch(r"(?:(push|run|export|e)-?)?(\d+)", ref.strip().lower())
    hint = "multichan replay --list shows the recent runs"
    if match is None:
        raise UsageError(f"{ref!r} is no run: give a push run's id (12) or an export's "
                         "(export-3)", hint=hint)  # fmt: skip
    number = int(match[2])
    if match[1] in ("export", "e"):
        rows = list(db.query("SELECT * FROM exports WHERE id = ?", [number]))
        if rows:
            return _export_run(rows[0])
        raise UsageError(f"no export run {ref} in this catalog", hint=hint)
    row = db.conn.execute(f"{JOURNAL_RUN} WHERE id = ?", [number]).fetchone()
    if row is None:
        raise UsageError(f"no run {ref} in this catalog's journal", hint=hint)
    return _journal_run(row)


# --- push runs ----------------------------------------------------------------------------
def summary(db: sqlite_utils.Database, run: Run) -> dict[str, Any]:
    """A push run as a document: the run, its plan (SKUs per action, lines per kind), how
    many lines it wrote, and whether the values sent were recorded (``recorded``: all, none,
    or ``partly``)."""
    doc = run.as_dict()
    strongest = (
        "SELECT sku, max(CASE action WHEN 'create' THEN 2 WHEN 'delist' THEN 1 ELSE 0 END) AS a"
        " FROM journal_items WHERE run_id = ? GROUP BY sku"
    )
    by_action = dict.fromkeys(ACTIONS, 0)
    names = {v: k for k, v in ACTIONS.items()}
    for a, n in db.conn.execute(f"SELECT a, count(*) FROM ({strongest}) GROUP BY a", [run.id]):
        by_action[names[a]] = n
    kinds = dict(db.conn.execute(
        "SELECT kind, count(DISTINCT sku) FROM journal_items WHERE run_id = ? GROUP BY kind"
        " ORDER BY kind", [run.id]).fetchall())  # fmt: skip
    lines, missing = db.conn.execute(
        "SELECT count(*), count(*) - count(snapshot) FROM journal_items WHERE run_id = ?",
        [run.id],
    ).fetchone()
    doc["plan"] = {"skus": by_action, "kinds": kinds}
    doc["lines"] = lines
    doc["recorded"] = "partly" if 0 < missing < lines else not missing
    return doc


def _decoded(snapshot: str | None) -> dict[str, Any] | None:
    return None if snapshot is None else json.loads(snapshot)


def _line(row: Iterable[Any]) -> dict[str, Any]:
    _, sku, kind, action, batch, attempts, outcome, message, at, snap = row
    return {"sku": sku, "kind": kind, "action": action, "batch": batch, "attempts": attempts,
            "outcome": outcome, "message": message, "at": at,
            "snapshot": _decoded(snap)}  # fmt: skip


LINE = "SELECT id, sku, kind, action, batch, attempts, outcome, message, at, snapshot"


def _read(cursor: sqlite3.Cursor) -> Iterator[dict[str, Any]]:
    while rows := cursor.fetchmany(ROWS):
        for row in rows:
            yield _line(row)


def sent(db: sqlite_utils.Database, run: Run) -> Iterator[dict[str, Any]]:
    """Every line the push run wrote, in SKU order (a SKU's kinds, then its sends in the
    order made): what it sent of each SKU (``snapshot``: None when not recorded), how the
    channel answered, in which batch, after how many attempts."""
    return _read(db.conn.execute(
        f"{LINE} FROM journal_items WHERE run_id = ? ORDER BY sku, kind, id", [run.id]
    ))  # fmt: skip


def finals(db: sqlite_utils.Database, run: Run) -> Iterator[dict[str, Any]]:
    """The run's last line of each SKU and kind (the answer that stands), in SKU order."""
    return _read(db.conn.execute(
        f"{LINE} FROM journal_items WHERE id IN (SELECT max(id) FROM journal_items"
        " WHERE run_id = ? GROUP BY sku, kind) ORDER BY sku, kind", [run.id]
    ))  # fmt: skip


def field_order(kind: str, *snapshots: dict[str, Any] | None) -> list[str]:
    """The field names of ``snapshots``: the plan's order for a push ``kind``, then any
    other sorted; for a feed item (no kind), as the files hold them."""
    if kind not in FIELDS:
        return list(dict.fromkeys(n for s in snapshots if s for n in s))
    names = {n for s in snapshots if s for n in s}
    known = [n for n in FIELDS[kind] if n in names]
    return known + sorted(names - set(known))


def differences(
    kind: str, then: dict[str, Any], now: dict[str, Any], ignore: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """[{field, then, now}] of every field whose value differs."""
    return [
        {"field": n, "then": then.get(n), "now": now.get(n)}
        for n in field_order(kind, then, now)
        if n not in ignore and then.get(n) != now.get(n)
    ]


class _Ahead:
    """An iterator of (key, value) in key order, read up to a key as the merge goes."""

    def __init__(self, pairs: Iterator[tuple[str, Any]]) -> None:
        self.pairs, self.head = pairs, next(pairs, None)

    def take(self, key: str) -> Any:
        while self.head is not None and self.head[0] < key:
            self.head = next(self.pairs, None)
        if self.head is not None and self.head[0] == key:
            return self.head[1]
        return None


@dataclass
class Comparison:
    """A run against now: its diffs (``items``, read as they are consumed), then
    ``totals`` (per status) and ``today`` (today's plan totals), final once they are."""

    items: Iterator[dict[str, Any]]
    totals: dict[str, int]
    today: Any = None  # () -> dict, for a push; None for an export

    def today_totals(self) -> dict[str, int] | None:
        return self.today() if self.today else None


STATUSES = ("same", "changed", "new", "gone", "not recorded")


def push_against_now(ws: Any, db: sqlite_utils.Database, run: Run) -> Comparison:
    """The push run's last line of each SKU and kind next to today's plan of its channel
    (see the module), SKU by SKU: per SKU and kind its ``status`` (same, changed, new:
    today's plan sends it and the run did not, gone: not offered and not held, not
    recorded), ``then`` (the run's line), ``now`` (today's action, None when nothing is to
    send, and the values the channel holds once today's push is done) and the ``fields``
    that differ."""
    from multichan.channels import registry
    from multichan.sync.plan import stream
    from multichan.sync.run import kinds_for

    config, cfg = _channel_config(ws, run)
    plan, changes = stream(db, cfg, config, kinds_for(registry.load(cfg.type), None))
    totals = dict.fromkeys(STATUSES, 0)

    def merged() -> Iterator[dict[str, Any]]:
        held = _Ahead(st.ranges(db, run.channel))
        then = groupby(finals(db, run), key=lambda line: line["sku"])
        now = ((sku, {c.kind: c for c in cs}) for sku, _, cs in changes)
        a = next(then, None)
        b = next(now, None)
        while a is not None or b is not None:
            sku = min(x[0] for x in (a, b) if x is not None)
            lines = {ln["kind"]: ln for ln in a[1]} if a is not None and a[0] == sku else {}
            today = b[1] if b is not None and b[0] == sku else {}
            rows = held.take(sku) or {}
            for kind in st.KINDS:
                if kind in lines or kind in today:
                    doc = _compare(sku, kind, lines.get(kind), today.get(kind), rows.get(kind))
                    totals[doc["status"]] += 1
                    yield doc
            if lines:
                a = next(then, None)
            if today:
                b = next(now, None)

    return Comparison(merged(), totals, plan.totals)


def _compare(
    sku: str, kind: str, line: dict[str, Any] | None, change: Any, row: dict[str, Any] | None
) -> dict[str, Any]:
    if change is not None:
        action, values = change.action, change.snapshot
    else:
        action = None
        values = row["snapshot"] if row and row["hash"] else None
    then = line and {k: line[k] for k in ("action", "outcome", "message", "snapshot")}
    fields: list[dict[str, Any]] = []
    if line is None:
        status = "new"
    elif line["snapshot"] is None:
        status = "not recorded"
    elif values is None:
        status = "gone"
    else:
        fields = differences(kind, line["snapshot"], values)
        status = "changed" if fields else "same"
    return {"sku": sku, "kind": kind, "status": status, "then": then,
            "now": {"action": action, "snapshot": values}, "fields": fields}  # fmt: skip


def _channel_config(ws: Any, run: Run) -> tuple[Any, Any]:
    """The config and the run's channel in it, as long as it is still the same sort of
    channel (a feed for an export run, an API channel for a push run)."""
    from multichan.feeds.formats import FORMATS
    from multichan.feeds.run import load_config

    config = load_config(ws)
    cfg = config.channels.get(run.channel)
    if cfg is None or (cfg.type in FORMATS) != (run.command == "export"):
        now = "no longer has" if cfg is None else f"now has as a {cfg.type} channel"
        raise UsageError(
            f"run {run.ref} was a {run.command} of channel {run.channel}, which "
            f"{config.path.name} {now}: there is no today to compare it with"
        )
    return config, cfg


# --- export runs --------------------------------------------------------------------------
def kept_file(ws: Any, run: Run) -> Path | None:
    """The kept copy of the export's feed, or None when it was not kept (an export from before
    multichan kept feeds, or older than the last few kept) or is gone."""
    kept = run.export.get("kept_path")
    if not kept:
        return None
    path = Path(ws.root) / kept
    return path if path.is_file() else None


def not_kept(run: Run) -> str:
    why = "was removed" if run.export.get("kept_path") else "was not kept"
    return (
        f"the feed of {run.ref} {why} (multichan keeps the last feeds of each channel, and "
        "none from before it kept them): its items cannot be shown"
    )


def export_summary(ws: Any, run: Run) -> dict[str, Any]:
    """An export run as a document: the run, its feed, where its kept copy is, and whether
    that copy is the very file written (its sha256 as recorded)."""
    doc = run.as_dict()
    row = run.export
    path = kept_file(ws, run)
    doc.update({"path": row["path"], "bytes": row["bytes"], "uploaded_to": row["uploaded_to"],
                "sha256": row["sha256"], "kept": str(path) if path else None})  # fmt: skip
    doc["recorded"] = path is not None
    if path is not None:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        doc["intact"] = digest.hexdigest() == row["sha256"]
    return doc


def _feed_kind(ws: Any, run: Run, path: Path) -> str:
    from multichan.feeds import readback
    from multichan.feeds.formats import FORMATS
    from multichan.feeds.run import load_config

    try:
        cfg = load_config(ws).channels.get(run.channel)
    except Exception:  # a broken channels.yaml: the file's name still says how to read it
        cfg = None
    default = FORMATS[cfg.type].escape if cfg is not None and cfg.type in FORMATS else "csv"
    return readback.kind_of(path, default)


def exported(ws: Any, run: Run) -> Iterator[dict[str, Any]]:
    """The export's items as its kept feed holds them, in file order: {id, fields}; nothing
    when the feed was not kept (``kept_file``)."""
    from multichan.feeds import readback

    path = kept_file(ws, run)
    if path is None:
        return iter(())
    return ({"id": key, "fields": fields}
            for key, fields in readback.items(path, _feed_kind(ws, run, path)))  # fmt: skip


def export_against_now(ws: Any, db: sqlite_utils.Database, run: Run) -> Comparison:
    """The export's kept feed next to today's feed of its channel (rendered into a temporary
    file: nothing recorded, kept or uploaded), item by item by id in id order: ``status``
    (same, changed, new: only today, gone: only then), ``then`` and ``now`` (the fields) and
    the ``fields`` that differ (a field that only numbers the item in its file is left out:
    POSITIONAL). A feed that was not kept compares nothing."""
    totals = dict.fromkeys(STATUSES, 0)
    path = kept_file(ws, run)
    if path is None:
        return Comparison(iter(()), totals)
    config, cfg = _channel_config(ws, run)
    from multichan.feeds import readback
    from multichan.feeds.export import export_channel

    kind = _feed_kind(ws, run, path)
    # rendered before anything is shown (a template error is the whole answer); removed once
    # the diffs are read, or when the process ends if they never are
    folder = tempfile.TemporaryDirectory(prefix="multichan-replay-")
    today = Path(folder.name) / f"today{path.suffix}"
    try:
        export_channel(ws, db, config, cfg, render_to=today)
    except BaseException:
        folder.cleanup()
        raise

    def diffs() -> Iterator[dict[str, Any]]:
        spill = sqlite3.connect(Path(folder.name) / "items.db")
        try:
            spill.execute("CREATE TABLE items (key TEXT, side INTEGER, pos INTEGER, data TEXT)")
            for side, source in enumerate((path, today)):
                _spill(spill, side, readback.items(source, kind))
            spill.execute("CREATE INDEX items_key ON items (key, side, pos)")
            cursor = spill.execute("SELECT key, side, data FROM items ORDER BY key, side, pos")
            rows = (r for batch in iter(lambda: cursor.fetchmany(ROWS), []) for r in batch)
            for key, group in groupby(rows, key=lambda r: r[0]):
                found: tuple[list[Any], list[Any]] = ([], [])
                for _, side, data in group:
                    found[side].append(json.loads(data))
                for then, now in zip_longest(*found):
                    doc = _compare_item(key, then, now)
                    totals[doc["status"]] += 1
                    yield doc
        finally:
            spill.close()
            folder.cleanup()

    return Comparison(diffs(), totals)


def _spill(
    conn: sqlite3.Connection, side: int, items: Iterator[tuple[str, dict[str, Any]]]
) -> None:
    batch: list[tuple[str, int, int, str]] = []
    for pos, (key, fields) in enumerate(items):
        batch.append((key, side, pos, json.dumps(fields, ensure_ascii=False)))
        if len(batch) >= ROWS:
            conn.executemany("INSERT INTO items VALUES (?, ?, ?, ?)", batch)
            batch = []
    conn.executemany("INSERT INTO items VALUES (?, ?, ?, ?)", batch)
    conn.commit()


def _compare_item(
    key: str, then: dict[str, Any] | None, now: dict[str, Any] | None
) -> dict[str, Any]:
    fields: list[dict[str, Any]] = []
    if then is None:
        status = "new"
    elif now is None:
        status = "gone"
    else:
        fields = differences("", then, now, POSITIONAL)
        status = "changed" if fields else "same"
    return {"id": key, "status": status, "then": then, "now": now, "fields": fields}
