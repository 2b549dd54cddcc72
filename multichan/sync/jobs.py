"""Asynchronous jobs in the catalog: a batch a channel takes as a job (Amazon's listings feeds,
Meta's items_batch) is written down before it is submitted, gets its ticket as soon as the
channel gives one, and moves push state only with its results.

A job's life, and what a kill -9 at each point leaves:
- ``record``: the job and its items (SKU, kind, action, the hash and snapshot sent) are
  committed with status ``submitting``, before anything is sent. Killed before the channel
  answered, the job is ``lost`` at the next run (``forget_unsent``): nobody knows whether the
  channel has it, so its changes go again with that run's plan. They are absolute values
  (this price, this count), so a job the channel did get sets the same numbers twice.
- ``submitted``: the ticket is committed. Killed while waiting, the next run collects the
  same job (``open_jobs``) instead of submitting again.
- ``finish``: the results are saved with the job marked ``done``, in one transaction with
  the push state and the journal (the caller's ``batch_written``).

``wait`` looks at a job every ``Channel.job_poll`` seconds for at most ``Channel.job_wait``;
a job still running then stays open for the next run, and its SKUs are not sent again
meanwhile (``in_flight``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from multichan.channels.base import Channel, ItemResult, Retriable
from multichan.sync.pacing import Pacing
from multichan.sync.state import now


@dataclass(frozen=True)
class JobItem:
    """One change a job carries: what state it moves to when the channel accepts it."""

    position: int  # the SKU's place in the job (a JOINT job: both kinds share it)
    sku: str
    kind: str
    action: str
    hash: str | None
    snapshot: dict[str, Any] | None


@dataclass
class Job:
    id: int
    channel: str
    operation: str
    ticket: dict[str, str]
    items: list[JobItem]

    @property
    def skus(self) -> list[str]:
        """The job's SKUs in the order they were submitted."""
        seen: dict[int, str] = {}
        for item in self.items:
            seen.setdefault(item.position, item.sku)
        return [seen[p] for p in sorted(seen)]


def record(
    db: sqlite_utils.Database,
    channel: str,
    operation: str,
    run_id: int,
    items: Iterable[tuple[int, str, str, str, str | None, dict[str, Any] | None]],
) -> int:
    """Write a job about to be submitted (status ``submitting``) and its items
    (position, sku, kind, action, hash, snapshot); committed before the call."""
    stamp = now()
    with db.conn:
        cursor = db.conn.execute(
            "INSERT INTO push_jobs (channel, operation, status, run_id, created_at, updated_at)"
            " VALUES (?, ?, 'submitting', ?, ?, ?)",
            [channel, operation, run_id, stamp, stamp],
        )
        job_id = int(cursor.lastrowid or 0)
        db.conn.executemany(
            "INSERT INTO push_job_items (job_id, position, sku, kind, action, hash, snapshot)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (job_id, pos, sku, kind, action, digest,
                 None if snap is None else json.dumps(snap, sort_keys=True))
                for pos, sku, kind, action, digest, snap in items
            ],
        )  # fmt: skip
    return job_id


def submitted(db: sqlite_utils.Database, job_id: int, ticket: dict[str, str]) -> None:
    """The channel took the job: keep its ticket (committed at once)."""
    with db.conn:
        db.conn.execute(
            "UPDATE push_jobs SET status = 'submitted', ticket = ?, updated_at = ? WHERE id = ?",
            [json.dumps(ticket, sort_keys=True), now(), job_id],
        )


def drop(db: sqlite_utils.Database, job_id: int) -> None:
    """The submission failed before the channel took it: the job never existed."""
    with db.conn:
        db.conn.execute("DELETE FROM push_jobs WHERE id = ?", [job_id])


def finish(db: sqlite_utils.Database, job_id: int) -> None:
    """Mark the job done; call inside the transaction that saves its results."""
    db.conn.execute(
        "UPDATE push_jobs SET status = 'done', updated_at = ? WHERE id = ?", [now(), job_id]
    )


def forget_unsent(db: sqlite_utils.Database, channel: str) -> int:
    """Jobs a killed run recorded but has no ticket of become ``lost``; their changes go
    again with the plan. Returns how many."""
    with db.conn:
        cursor = db.conn.execute(
            "UPDATE push_jobs SET status = 'lost', updated_at = ?"
            " WHERE channel = ? AND status = 'submitting'",
            [now(), channel],
        )
    return int(cursor.rowcount)


def open_jobs(db: sqlite_utils.Database, channel: str) -> list[Job]:
    """The channel's submitted jobs without results yet, oldest first."""
    jobs = []
    for job_id, operation, ticket in db.execute(
        "SELECT id, operation, ticket FROM push_jobs WHERE channel = ? AND status = 'submitted'"
        " ORDER BY id",
        [channel],
    ).fetchall():
        items = [
            JobItem(pos, sku, kind, action, digest, None if snap is None else json.loads(snap))
            for pos, sku, kind, action, digest, snap in db.execute(
                "SELECT position, sku, kind, action, hash, snapshot FROM push_job_items"
                " WHERE job_id = ? ORDER BY position, kind",
                [job_id],
            ).fetchall()
        ]
        jobs.append(Job(job_id, channel, operation, json.loads(ticket), items))
    return jobs


def wait(
    channel: Channel, job: Job, pacing: Pacing, sleeps: list[float]
) -> list[ItemResult] | None:
    """Look at ``job`` until it is done (its results, one per SKU) or ``channel.job_wait``
    seconds passed (None). A look that fails for a reason that may pass is one more wait."""
    start = pacing.clock()
    while True:
        try:
            results = channel.job_results(job.operation, job.ticket, job.skus)
        except Retriable:
            results = None
        if results is not None:
            return results
        if pacing.clock() - start >= channel.job_wait:
            return None
        sleeps.append(channel.job_poll)
        pacing.sleep(channel.job_poll)


def in_flight(jobs: Sequence[Job]) -> set[tuple[str, str]]:
    """(sku, kind) of every change the open ``jobs`` carry."""
    return {(item.sku, item.kind) for job in jobs for item in job.items}
