"""Quotas that outlast one run: a channel's requests in a day (``Channel.daily_requests``,
Etsy's 10,000) and the writes ("revisions") of one listing in a day
(``Channel.daily_revisions``, eBay's 250), counted in the catalog so every run of the day
sees what the earlier ones spent.

Both are counted in hour buckets and summed over the last 24 of them, so a count is right
whatever day the channel means (a calendar day in its own time zone or a rolling one): no
calendar day can hold more than a window that ends with it. Every request of a push, pull or
shipment send is counted (``record_requests``, in the transaction of what it confirmed where
there is one); a listing's revisions when the channel accepted a write of it
(``record_revisions``, in the batch's transaction).

What the push does with them:
- **Requests.** ``Budget`` says whether the day's remaining requests cover the plan's batches.
  When they do not, the push sends the most urgent changes first (``Spill.set_tiers``: SKUs
  whose stock goes down, then SKUs whose price changes, then the rest), and stops before the
  budget is gone, keeping ``RESERVE_SHARE`` of it for pulls and shipments; what it did not send
  waits in the plan of the next run. The run's notes say so.
- **Revisions.** A listing within ``REVISION_RESERVE`` writes of the limit gets only its stock
  decreases (an oversell costs more than a stale price); its other changes wait for the next
  day, and the run's notes say how many.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlite_utils

RESERVE_SHARE = 0.05  # of a day's requests, kept for pulling orders and sending shipments
REVISION_RESERVE = 0.1  # of a listing's daily revisions, kept for stock decreases
WINDOW_HOURS = 24
KEEP_HOURS = 48  # older buckets are dropped


def _hour(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H")


def _window_start(now: datetime) -> str:
    return _hour(now - timedelta(hours=WINDOW_HOURS - 1))


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def record_requests(
    db: sqlite_utils.Database, channel: str, requests: int, now: datetime | None = None
) -> None:
    """Add ``requests`` to ``channel``'s count for this hour (call inside the transaction of
    what they achieved, where there is one)."""
    if requests <= 0:
        return
    db.execute(
        "INSERT INTO channel_usage (channel, hour, requests) VALUES (?, ?, ?)"
        " ON CONFLICT (channel, hour) DO UPDATE SET requests = requests + excluded.requests",
        [channel, _hour(_now(now)), requests],
    )


def requests_used(db: sqlite_utils.Database, channel: str, now: datetime | None = None) -> int:
    """The requests ``channel`` was sent in the last 24 hours (this one included)."""
    row = db.execute(
        "SELECT coalesce(sum(requests), 0) FROM channel_usage WHERE channel = ? AND hour >= ?",
        [channel, _window_start(_now(now))],
    ).fetchone()
    return int(row[0])


def record_revisions(
    db: sqlite_utils.Database, channel: str, listings: Iterable[str], now: datetime | None = None
) -> None:
    """Count one revision of each of ``listings`` (a listing twice: two revisions)."""
    hour = _hour(_now(now))
    counts: dict[str, int] = {}
    for listing in listings:
        counts[listing] = counts.get(listing, 0) + 1
    db.conn.executemany(
        "INSERT INTO listing_revisions (channel, listing, hour, revisions) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (channel, listing, hour) DO UPDATE"
        " SET revisions = revisions + excluded.revisions",
        [(channel, listing, hour, n) for listing, n in counts.items()],
    )


def near_limit(
    db: sqlite_utils.Database, channel: str, limit: int, now: datetime | None = None
) -> dict[str, int]:
    """The listings of ``channel`` within the reserve of ``limit`` revisions in the last 24
    hours, with their counts. A run writes a listing a few times at most (once per kind), so
    the set taken at its start holds for the run."""
    threshold = limit - max(1, int(limit * REVISION_RESERVE))
    rows = db.execute(
        "SELECT listing, sum(revisions) FROM listing_revisions WHERE channel = ? AND hour >= ?"
        " GROUP BY listing HAVING sum(revisions) >= ?",
        [channel, _window_start(_now(now)), threshold],
    ).fetchall()
    return {listing: int(n) for listing, n in rows}


def prune(db: sqlite_utils.Database, now: datetime | None = None) -> None:
    """Drop the buckets no window reaches any more."""
    oldest = _hour(_now(now) - timedelta(hours=KEEP_HOURS))
    db.execute("DELETE FROM channel_usage WHERE hour < ?", [oldest])
    db.execute("DELETE FROM listing_revisions WHERE hour < ?", [oldest])


@dataclass
class Budget:
    """A channel's requests left for the day as a push starts: ``daily`` less what the last 24
    hours used; the push may spend all but the reserve."""

    daily: int
    used: int

    @property
    def reserve(self) -> int:
        return max(1, int(self.daily * RESERVE_SHARE))

    @property
    def spendable(self) -> int:
        return max(0, self.daily - self.reserve - self.used)

    def short(self, batches: int) -> bool:
        """Whether a plan of at least ``batches`` requests would not fit."""
        return batches > self.spendable

    def spent(self, sent: int) -> bool:
        """Whether ``sent`` requests this run used up what the push may spend."""
        return sent >= self.spendable
