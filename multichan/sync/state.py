"""Push state and the push journal (schema V3): what each channel last accepted, and what each
run did.

``push_state`` holds, per channel, SKU and kind (listings / prices / quantities), the hash and
a JSON snapshot of the fields the channel last *confirmed*, its remote ids, and the status and
last error of the latest attempt. A row's hash moves forward only when the channel accepted that
SKU in a batch; a rejection keeps the old hash (so the next push tries again) and records the
channel's message. A quantity the channel refused as *stale* (compare-and-set: its count changed
since multichan last knew it) keeps the old hash too, with status ``stale``.

Compare-and-set (``expected_quantities``): a channel that keeps its own count takes units from
it for every order placed there and gives back what it restocks, before multichan pulls the
order. Its order lines say how many units it has taken: ``unshipped + shipped - returned``
(units not back on its shelf, whatever the order's status). A confirmed quantity row keeps that
sum as ``channel_held``; the channel then holds the confirmed number less what its orders took
since (held now - held then), and the next push compares against that.

The journal (``journal_runs``, ``journal_items``) keeps every line a push writes, each with the
snapshot of the fields it sent (schema V11), accepted or not: ``multichan replay`` reads it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from multichan.catalog.schema import transaction
from multichan.catalog.store import now
from multichan.orders.model import parse_time

KINDS = ("listings", "prices", "quantities")
STATE_COLUMNS = (
    "channel", "sku", "kind", "hash", "snapshot", "remote_ids", "status", "last_error",
    "updated_at", "channel_held",
)  # fmt: skip
UPSERT_STATE = (
    f"INSERT INTO push_state ({', '.join(STATE_COLUMNS)}) VALUES "
    f"({', '.join('?' * len(STATE_COLUMNS))}) "
    "ON CONFLICT (channel, sku, kind) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in STATE_COLUMNS[3:])
)
INSERT_ITEM = (
    "INSERT INTO journal_items (run_id, sku, kind, action, batch, attempts, outcome, message,"
    " at, snapshot) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def batch_written(db: sqlite_utils.Database) -> contextlib.AbstractContextManager[None]:
    """One transaction for what a confirmed batch writes (``save_outcomes``,
    ``journal_items``): committed together, or rolled back together."""
    return transaction(db, "batch_written")


# (sku, accepted, hash, snapshot, remote_ids, error message)
Outcome = tuple[str, bool, str | None, dict[str, Any] | None, dict[str, str], str | None]
# a journal line: (sku, action, outcome, message, the snapshot of the fields sent)
Line = tuple[str, str, str, str | None, dict[str, Any] | None]
State = dict[str, dict[str, dict[str, Any]]]  # sku -> kind -> row (snapshot/remote_ids decoded)


def fingerprint(snapshot: Mapping[str, Any]) -> str:
    """A stable hash of a snapshot of pushed fields."""
    text = json.dumps(snapshot, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _decoded(row: Mapping[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["snapshot"] = json.loads(row["snapshot"]) if row["snapshot"] else None
    row["remote_ids"] = json.loads(row["remote_ids"] or "{}")
    return row


def load(db: sqlite_utils.Database, channel: str, skus: Sequence[str] | None = None) -> State:
    """The push_state rows of ``channel`` (of ``skus`` only, when given), by SKU and kind."""
    state: State = {}
    if skus is None:
        rows: Iterable[Mapping[str, Any]] = db.query(
            "SELECT * FROM push_state WHERE channel = ?", [channel]
        )
    else:
        rows = []
        for start in range(0, len(skus), 500):
            part = list(skus[start : start + 500])
            marks = ", ".join("?" * len(part))
            rows.extend(db.query(
                f"SELECT * FROM push_state WHERE channel = ? AND sku IN ({marks})",
                [channel, *part],
            ))  # fmt: skip
    for row in rows:
        state.setdefault(row["sku"], {})[row["kind"]] = _decoded(row)
    return state


def ranges(
    db: sqlite_utils.Database, channel: str, size: int = 5_000
) -> Iterator[tuple[str, dict[str, dict[str, Any]]]]:
    """Every push_state row of ``channel`` as (sku, kind -> row), in SKU order, read ``size``
    SKUs at a time (two index range scans each), so only one range is held."""
    after: str | None = None
    while True:
        beyond = "" if after is None else "AND sku > ?"
        bounds = db.conn.execute(
            "SELECT min(sku), max(sku) FROM (SELECT DISTINCT sku FROM push_state"
            f" WHERE channel = ? {beyond} ORDER BY sku LIMIT ?)",
            [channel, *([] if after is None else [after]), size],
        ).fetchone()
        if bounds[0] is None:
            return
        state: State = {}
        for row in db.query(
            "SELECT * FROM push_state WHERE channel = ? AND sku BETWEEN ? AND ? ORDER BY sku",
            [channel, *bounds],
        ):
            state.setdefault(row["sku"], {})[row["kind"]] = _decoded(row)
        yield from state.items()
        after = bounds[1]


def group_ids(
    db: sqlite_utils.Database, channel: str, groups: Iterable[str]
) -> dict[str, dict[str, str]]:
    """Per item group, the remote ids ``channel``'s confirmed listings of its SKUs hold."""
    wanted = sorted(set(groups))
    found: dict[str, dict[str, str]] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        marks = ", ".join("?" * len(part))
        for group, ids in db.conn.execute(
            "SELECT p.item_group_id, s.remote_ids FROM products p JOIN push_state s"
            " ON s.channel = ? AND s.sku = p.sku AND s.kind = 'listings'"
            f" WHERE p.item_group_id IN ({marks}) AND s.hash IS NOT NULL ORDER BY p.sku",
            [channel, *part],
        ):
            found.setdefault(group, {}).update(json.loads(ids))
    return found


def count_listed(db: sqlite_utils.Database, channel: str) -> int:
    """The SKUs ``channel`` shows: a confirmed listing whose stock was not delisted."""
    return int(
        db.execute(
            "SELECT count(*) FROM push_state l WHERE l.channel = ? AND l.kind = 'listings'"
            " AND l.hash IS NOT NULL AND NOT EXISTS (SELECT 1 FROM push_state q"
            " WHERE q.channel = l.channel AND q.sku = l.sku AND q.kind = 'quantities'"
            " AND q.status = 'delisted')",
            [channel],
        ).fetchone()[0]
    )


def rejected_skus(db: sqlite_utils.Database, channel: str) -> set[str]:
    """The SKUs of ``channel`` whose latest attempt of some kind was rejected (no DISTINCT:
    SQLite would then walk every row of the channel in SKU order instead of the status index,
    0.13 s at 100,000 SKUs on every push)."""
    return {
        r[0]
        for r in db.conn.execute(
            "SELECT sku FROM push_state WHERE channel = ? AND status = 'rejected'",
            [channel],
        )
    }


def save_outcomes(
    db: sqlite_utils.Database,
    channel: str,
    kind: str,
    outcomes: Iterable[Outcome],
    previous: State,
    delisted: set[str] | frozenset[str] = frozenset(),
    *,
    stale: set[str] | frozenset[str] = frozenset(),
    held: Mapping[str, int] | None = None,
) -> None:
    """Write the confirmed outcome of one batch: (sku, ok, hash, snapshot, remote_ids, error).
    Accepted rows take the new hash and snapshot; rejected rows keep the old ones, with status
    ``stale`` for the SKUs in ``stale``. Accepted quantities keep what the channel's orders
    had taken of each SKU then (``held``). Call inside ``batch_written``, with the batch's
    journal items."""
    stamp = now()
    rows = []
    for sku, ok, digest, snapshot, remote_ids, error in outcomes:
        old = previous.get(sku, {}).get(kind)
        ids = {**(old["remote_ids"] if old else {}), **remote_ids}
        if ok:
            status = "delisted" if sku in delisted else "ok"
            row_hash, row_snap, last_error = digest, snapshot, None
            row_held = held.get(sku, 0) if held is not None and kind == "quantities" else None
        else:
            status, last_error = ("stale" if sku in stale else "rejected"), error
            row_hash = old["hash"] if old else None
            row_snap = old["snapshot"] if old else None
            row_held = old.get("channel_held") if old else None
        snap = None if row_snap is None else json.dumps(row_snap, sort_keys=True)
        rows.append((channel, sku, kind, row_hash, snap, json.dumps(ids, sort_keys=True),
                     status, last_error, stamp, row_held))  # fmt: skip
    db.conn.executemany(UPSERT_STATE, rows)


def held_by_orders(db: sqlite_utils.Database, channel: str, skus: Sequence[str]) -> dict[str, int]:
    """How many units of each SKU the channel's own orders have taken from its count."""
    if not skus:
        return {}
    marks = ", ".join("?" * len(skus))
    return {
        sku: int(units)
        for sku, units in db.conn.execute(
            "SELECT sku, sum(unshipped + shipped - returned) FROM order_lines "
            f"WHERE channel = ? AND sku IN ({marks}) GROUP BY sku",
            [channel, *skus],
        )
    }


def pulled_to(db: sqlite_utils.Database, channel: str) -> datetime | None:
    """When the channel's last complete pull began (every order it had changed by then was
    read), or None when no pull has completed."""
    row = db.conn.execute(
        "SELECT pulled_at FROM order_cursors WHERE channel = ?", [channel]
    ).fetchone()
    return parse_time(row[0]) if row and row[0] else None


def expected_quantities(
    skus: Sequence[str],
    previous: State,
    held: Mapping[str, int],
    pulled: datetime | None,
) -> tuple[dict[str, int], set[str]]:
    """What the channel should hold now for each of ``skus`` (see the module docstring;
    ``held``: what its orders have taken of each, from ``held_by_orders``), and the SKUs it
    refused as stale before a pull that began after the refusal: if their count is stale
    again, that pull brought no order to explain the difference, so the count was changed on
    the channel by hand and multichan's number is set over it.

    A SKU with no confirmed quantity, or a channel whose orders are not pulled, has no
    expectation: its number is set as it is."""
    if pulled is None:
        return {}, set()
    expected: dict[str, int] = {}
    pulled_since: set[str] = set()
    for sku in skus:
        row = previous.get(sku, {}).get("quantities")
        if not row or row["snapshot"] is None or row.get("channel_held") is None:
            continue
        refused = parse_time(row["updated_at"]) + timedelta(seconds=1)  # stamped to the second
        if row["status"] == "stale" and pulled >= refused:
            pulled_since.add(sku)
        taken = held.get(sku, 0) - int(row["channel_held"])
        expected[sku] = int(row["snapshot"]["quantity"]) - taken
    return expected, pulled_since


def start_run(db: sqlite_utils.Database, channel: str, command: str) -> int:
    with db.conn:
        table = db.table("journal_runs")
        table.insert(
            {"channel": channel, "command": command, "started_at": now(), "status": "running"}
        )
    return int(table.last_pk)  # type: ignore[arg-type]


def end_run(
    db: sqlite_utils.Database,
    run_id: int,
    status: str,
    exit_code: int,
    counts: Mapping[str, int],
    message: str | None,
) -> None:
    with db.conn:
        db.table("journal_runs").update(
            run_id,
            {
                "ended_at": now(),
                "status": status,
                "exit_code": exit_code,
                "counts": json.dumps(dict(counts), sort_keys=True),
                "message": message,
            },
        )


def journal_items(
    db: sqlite_utils.Database,
    run_id: int,
    kind: str,
    batch: int,
    attempts: int,
    items: Iterable[Line],
) -> None:
    """Record (sku, action, outcome, message, snapshot) for every SKU of one request (inside
    ``batch_written``). The snapshot is what was sent of the SKU's fields, whatever the
    channel answered (``Change.snapshot``, the one push_state takes on acceptance): what
    ``multichan replay`` reads back."""
    stamp = now()
    db.conn.executemany(
        INSERT_ITEM,
        [(run_id, sku, kind, action, batch, attempts, outcome, message, stamp,
          None if snap is None else json.dumps(snap, sort_keys=True))
         for sku, action, outcome, message, snap in items],
    )  # fmt: skip


def summary(
    db: sqlite_utils.Database, channel: str | None = None, problems: int = 5
) -> list[dict[str, Any]]:
    """Per channel that holds push state or has tried to push: SKUs per kind and status
    (``state``), its last run (with the run's message: a push that failed as a whole leaves no
    state, only its run), and up to ``problems`` SKUs whose latest attempt was refused or
    deferred, with the channel's message (``problems``; ``problem_count`` all of them)."""
    names = [channel] if channel else [
        r[0] for r in db.conn.execute(
            "SELECT channel FROM push_state UNION SELECT channel FROM journal_runs "
            "WHERE command = 'push' ORDER BY 1"
        )
    ]  # fmt: skip
    out = []
    for name in names:
        state = [
            dict(r)
            for r in db.query(
                "SELECT kind, status, count(*) AS skus FROM push_state WHERE channel = ? "
                "GROUP BY kind, status ORDER BY kind, status",
                [name],
            )
        ]
        last = list(
            db.query(
                "SELECT started_at, ended_at, status, exit_code, counts, message FROM journal_runs"
                " WHERE channel = ? AND command = 'push' ORDER BY id DESC LIMIT 1",
                [name],
            )
        )
        run = dict(last[0]) if last else None
        if run is not None:
            run["counts"] = json.loads(run["counts"]) if run["counts"] else None
        refused = "channel = ? AND status IN ('rejected', 'stale')"
        count = db.conn.execute(f"SELECT count(*) FROM push_state WHERE {refused}", [name])
        rows = db.query(
            f"SELECT sku, kind, status, last_error AS message, updated_at FROM push_state "
            f"WHERE {refused} ORDER BY updated_at DESC, sku LIMIT ?",
            [name, problems],
        )
        out.append({
            "channel": name, "state": state, "last_run": run,
            "problems": [dict(r) for r in rows], "problem_count": count.fetchone()[0],
        })  # fmt: skip
    return out
