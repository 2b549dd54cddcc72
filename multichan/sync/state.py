"""Push state and the push journal (schema V3): what each channel last accepted, and what each
run did.

``push_state`` holds, per channel, SKU and kind (listings / prices / quantities), the hash and
a JSON snapshot of the fields the channel last *confirmed*, its remote ids, and the status and
last error of the latest attempt. A row's hash moves forward only when the channel accepted that
SKU in a batch; a rejection keeps the old hash (so the next push tries again) and records the
channel's message.

``journal_runs`` has one row per push (start, end, exit code, counts); ``journal_items`` one row
per SKU and request outcome. Messages are scrubbed of secret values before they are stored.

A batch's state rows and journal items are written in one transaction (``batch_written``):
a crash leaves both or neither.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import sqlite_utils

from multichan.catalog.schema import transaction
from multichan.catalog.store import now

KINDS = ("listings", "prices", "quantities")
STATE_COLUMNS = (
    "channel", "sku", "kind", "hash", "snapshot", "remote_ids", "status", "last_error",
    "updated_at",
)  # fmt: skip
UPSERT_STATE = (
    f"INSERT INTO push_state ({', '.join(STATE_COLUMNS)}) VALUES ({', '.join('?' * 9)}) "
    "ON CONFLICT (channel, sku, kind) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in STATE_COLUMNS[3:])
)
INSERT_ITEM = (
    "INSERT INTO journal_items (run_id, sku, kind, action, batch, attempts, outcome, message, at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def batch_written(db: sqlite_utils.Database) -> contextlib.AbstractContextManager[None]:
    """One transaction for what a confirmed batch writes (``save_outcomes``,
    ``journal_items``): committed together, or rolled back together."""
    return transaction(db, "batch_written")


# (sku, accepted, hash, snapshot, remote_ids, error message)
Outcome = tuple[str, bool, str | None, dict[str, Any] | None, dict[str, str], str | None]
State = dict[str, dict[str, dict[str, Any]]]  # sku -> kind -> row (snapshot/remote_ids decoded)


def fingerprint(snapshot: Mapping[str, Any]) -> str:
    """A stable hash of a snapshot of pushed fields."""
    text = json.dumps(snapshot, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def load(db: sqlite_utils.Database, channel: str) -> State:
    """Every push_state row of ``channel``, by SKU and kind."""
    state: State = {}
    for row in db.query("SELECT * FROM push_state WHERE channel = ?", [channel]):
        row = dict(row)
        row["snapshot"] = json.loads(row["snapshot"]) if row["snapshot"] else None
        row["remote_ids"] = json.loads(row["remote_ids"] or "{}")
        state.setdefault(row["sku"], {})[row["kind"]] = row
    return state


def save_outcomes(
    db: sqlite_utils.Database,
    channel: str,
    kind: str,
    outcomes: Iterable[Outcome],
    previous: State,
    delisted: set[str] | frozenset[str] = frozenset(),
) -> None:
    """Write the confirmed outcome of one batch: (sku, ok, hash, snapshot, remote_ids, error).
    Accepted rows take the new hash and snapshot; rejected rows keep the old ones. Call inside
    ``batch_written``, with the batch's journal items."""
    stamp = now()
    rows = []
    for sku, ok, digest, snapshot, remote_ids, error in outcomes:
        old = previous.get(sku, {}).get(kind)
        ids = {**(old["remote_ids"] if old else {}), **remote_ids}
        if ok:
            status = "delisted" if sku in delisted else "ok"
            row_hash, row_snap, last_error = digest, snapshot, None
        else:
            status, last_error = "rejected", error
            row_hash = old["hash"] if old else None
            row_snap = old["snapshot"] if old else None
        snap = None if row_snap is None else json.dumps(row_snap, sort_keys=True)
        rows.append((channel, sku, kind, row_hash, snap, json.dumps(ids, sort_keys=True),
                     status, last_error, stamp))  # fmt: skip
    db.conn.executemany(UPSERT_STATE, rows)


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
    items: Iterable[tuple[str, str, str, str | None]],
) -> None:
    """Record (sku, action, outcome, message) for every SKU of one request (inside
    ``batch_written``)."""
    stamp = now()
    db.conn.executemany(
        INSERT_ITEM,
        [(run_id, sku, kind, action, batch, attempts, outcome, message, stamp)
         for sku, action, outcome, message in items],
    )  # fmt: skip


def summary(db: sqlite_utils.Database, channel: str | None = None) -> list[dict[str, Any]]:
    """Counts of push_state rows per channel, kind and status, plus each channel's last run."""
    where, params = ("WHERE channel = ?", [channel]) if channel else ("", [])
    rows = [
        dict(r)
        for r in db.query(
            f"SELECT channel, kind, status, count(*) AS skus FROM push_state {where} "
            "GROUP BY channel, kind, status ORDER BY channel, kind, status",
            params,
        )
    ]
    for row in rows:
        last = list(
            db.query(
                "SELECT started_at, ended_at, status, exit_code FROM journal_runs "
                "WHERE channel = ? ORDER BY id DESC LIMIT 1",
                [row["channel"]],
            )
        )
        row["last_run"] = dict(last[0]) if last else None
    return rows
