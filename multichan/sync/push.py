"""Push: send one channel's plan in batches, within its rate limit, with retries, and record
every confirmed batch.

The engine owns everything around ``Channel.send``: chunking to ``max_batch`` (and to the
channel's ``max_groups`` products per batch, where it declares one), a token bucket
for the channel's rate limit, retries of ``Retriable`` with exponential backoff and jitter (or
the channel's Retry-After), the safety limits, dry-run, and writing state + journal in one
transaction per batch, so an interrupted push repeats at most one batch and loses nothing.
Listings go first: prices and quantities of a SKU whose listing could not be created wait.
"""

from __future__ import annotations

import contextlib
import heapq
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import requests
import sqlite_utils

from multichan import errors
from multichan.channels.base import Channel, RateLimit, Retriable
from multichan.config import Secret
from multichan.errors import MultichanError
from multichan.sync import state as st
from multichan.sync.plan import Change, Plan

SPREAD_TRIES = 3  # batch counts tried above the least possible when two limits apply


class _BatchFailed(Exception):
    """A batch that failed as a whole (Fatal, or Retriable after the last retry)."""

    def __init__(self, cause: MultichanError, kind: str, batch: list[Change], attempts: int):
        super().__init__(cause.message)
        self.cause, self.kind, self.batch, self.attempts = cause, kind, batch, attempts


class TokenBucket:
    """``rate.burst`` requests at once, then ``rate.requests_per_second``; waits are recorded."""

    def __init__(
        self, rate: RateLimit, clock: Callable[[], float], sleep: Callable[[float], None]
    ) -> None:
        self.rate, self.clock, self.sleep = rate, clock, sleep
        self.tokens = float(rate.burst)
        self.last = clock()
        self.waits: list[float] = []

    def take(self) -> None:
        now = self.clock()
        rps = self.rate.requests_per_second
        self.tokens = min(float(self.rate.burst), self.tokens + (now - self.last) * rps)
        self.last = now
        if self.tokens < 1:
            wait = (1 - self.tokens) / rps
            self.waits.append(wait)
            self.sleep(wait)
            self.tokens, self.last = 1.0, self.clock()
        self.tokens -= 1


class PacedSession:
    """The channel's HTTP session as the engine hands it over: every request first takes a
    token from the channel's bucket and is counted, however many requests one batch makes."""

    def __init__(self, session: Any, bucket: TokenBucket, counts: dict[str, int]) -> None:
        self._session, self._bucket, self._counts = session, bucket, counts

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        self._bucket.take()
        self._counts["requests"] += 1
        return self._session.request(method, url, *args, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Any:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Any:
        return self.request("DELETE", url, **kwargs)

    def __getattr__(self, name: str) -> Any:  # headers, auth, close ...
        return getattr(self._session, name)


@dataclass
class Pacing:
    """How the engine waits: injectable for tests (no real sleeping, seeded jitter)."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    max_retries: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 60.0

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with equal jitter for retry number ``attempt`` (1-based)."""
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return delay / 2 + self.rng.uniform(0, delay / 2)


@dataclass
class PushResult:
    channel: str
    status: str = "ok"  # ok, rejected, refused, failed, exhausted, dry-run
    counts: dict[str, int] = field(
        default_factory=lambda: {"requests": 0, "batches": 0, "ok": 0, "rejected": 0, "failed": 0}
    )
    rejected: list[dict[str, str]] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)
    message: str | None = None
    exit_code: int = errors.OK
    plan: Plan | None = None
    exhausted: int = 0  # items a channel kept calling retriable until retries ran out

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel, "status": self.status, "counts": self.counts,
            "rejected": self.rejected, "sleeps": self.sleeps, "message": self.message,
            "exit_code": self.exit_code,
            "plan": self.plan.as_dict() if self.plan is not None else None,
        }  # fmt: skip


def refusal(plan: Plan, max_delist: Decimal, max_price_change: Decimal) -> str | None:
    """Why the safety limits refuse this plan, or None."""
    zeroed = {
        c.sku
        for c in plan.by_kind("quantities")
        if c.snapshot["quantity"] == 0
        and c.action != "create"
        and any((f.old or 0) > 0 for f in c.fields)
    }
    if plan.listed and Decimal(len(zeroed)) * 100 / plan.listed > max_delist:
        share = Decimal(len(zeroed)) * 100 / plan.listed
        return (
            f"{plan.channel}: the push would delist or zero {len(zeroed)} of {plan.listed} "
            f"listings ({share:.0f}%; max_delist_percent is {max_delist}); nothing was sent. "
            "Rerun with --force if this is intended"
        )
    big = []
    for c in plan.by_kind("prices"):
        old = next((f.old for f in c.fields if f.field == "price"), None)
        if c.action == "create" or not old or Decimal(old) <= 0:
            continue
        change = abs(Decimal(c.snapshot["price"]) - Decimal(old)) * 100 / Decimal(old)
        if change > max_price_change:
            big.append(f"{c.sku} {old} -> {c.snapshot['price']} ({change:.0f}%)")
    if big:
        return (
            f"{plan.channel}: {len(big)} price change(s) above max_price_change_percent "
            f"({max_price_change}%): {', '.join(big[:3])}; nothing was sent. "
            "Rerun with --force if this is intended"
        )
    return None


def scrubber(channel: Channel) -> Callable[[str | None], str | None]:
    """Removes the values of the channel's secrets from a message before it is stored."""
    secrets = []
    for value in channel.settings.values():
        if isinstance(value, Secret):
            with contextlib.suppress(errors.ConfigError):
                secrets.append(value.value())

    def scrub(text: str | None) -> str | None:
        for secret in secrets:
            if text and secret:
                text = text.replace(secret, "***")
        return text

    return scrub


def chunks(items: Sequence[Change], size: int) -> list[list[Change]]:
    return [list(items[i : i + size]) for i in range(0, len(items), max(size, 1))]


def sends(
    channel: Channel | type[Channel], kind: str, changes: Sequence[Change]
) -> list[list[Change]]:
    """The batches the engine cuts ``changes`` of ``kind`` into for ``channel``: whole products
    (``group_chunks``) for the operations it writes per product (``grouped``), else any
    ``max_batch`` SKUs in SKU order."""
    size = channel.max_batch.get(kind, 1)
    if kind in channel.grouped:
        return group_chunks(changes, size, channel.max_groups.get(kind))
    return chunks(changes, size)


def group_chunks(
    items: Sequence[Change], size: int, max_groups: int | None = None
) -> list[list[Change]]:
    """Batches of at most ``size`` that keep the variants of one product (item group)
    together, so a channel creates a product with all its variants in one go; with
    ``max_groups``, also at most that many groups (a part of a split group counts as one).

    First-fit decreasing: groups, largest first, go into the first batch with room. With groups
    small next to ``size`` this reaches the minimum number of batches; a group larger than
    ``size`` is split, as it must be. With two limits first fit can fill batches by one and
    leave them short by the other; then the parts are also spread over fewer batches, each to
    the emptiest one with room, and the fewest batches win. Deterministic: ties go by SKU.
    """
    size = max(size, 1)
    groups: dict[str, list[Change]] = {}
    for change in items:
        groups.setdefault(change.offer.item_group_id or f"\0{change.sku}", []).append(change)
    parts = [part for members in groups.values() for part in chunks(members, size)]
    parts.sort(key=lambda part: (-len(part), part[0].sku))
    cap = max(max_groups or len(parts), 1)
    bins: list[list[list[Change]]] = []
    loads: list[int] = []
    for part in parts:
        for i, batch in enumerate(bins):
            if loads[i] + len(part) <= size and len(batch) < cap:
                batch.append(part)
                loads[i] += len(part)
                break
        else:
            bins.append([part])
            loads.append(len(part))
    if max_groups:
        fewest = max(math.ceil(len(items) / size), math.ceil(len(parts) / cap))
        for count in range(fewest, min(len(bins), fewest + SPREAD_TRIES)):
            spread = _spread(parts, count, size, cap)
            if spread is not None:
                bins = spread
                break
    return [[change for part in batch for change in part] for batch in bins]


def _spread(
    parts: list[list[Change]], count: int, size: int, cap: int
) -> list[list[list[Change]]] | None:
    """``parts`` (largest first) over ``count`` batches, each to the one least full by both
    limits that has room; None when a part fits nowhere. A heap keeps it O(parts log count)."""
    bins: list[list[list[Change]]] = [[] for _ in range(count)]
    loads = [0] * count
    heap = [(0.0, i) for i in range(count)]
    for part in parts:
        full = []  # batches without room for this part: back on the heap afterwards
        while heap:
            fill, i = heapq.heappop(heap)
            if loads[i] + len(part) <= size and len(bins[i]) < cap:
                bins[i].append(part)
                loads[i] += len(part)
                heapq.heappush(heap, (loads[i] / size + len(bins[i]) / cap, i))
                break
            full.append((fill, i))
        else:
            return None
        for entry in full:
            heapq.heappush(heap, entry)
    return [batch for batch in bins if batch]


def push_plan(
    db: sqlite_utils.Database,
    channel: Channel,
    plan: Plan,
    kinds: tuple[str, ...],
    pacing: Pacing | None = None,
    rate: RateLimit | None = None,
) -> PushResult:
    """Send ``plan`` through ``channel``; state and journal advance per confirmed batch.
    ``rate`` overrides the channel type's declared limit (channels.yaml ``rate_limit``)."""
    pacing = pacing or Pacing()
    result = PushResult(channel.name, plan=plan)
    bucket = TokenBucket(rate or channel.rate_limit, pacing.clock, pacing.sleep)
    if not isinstance(channel.session, PacedSession):
        channel.session = PacedSession(channel.session, bucket, result.counts)
    scrub = scrubber(channel)
    previous = st.load(db, channel.name)
    run_id = st.start_run(db, channel.name, "push")
    blocked: set[str] = set()  # SKUs whose listing does not exist on the channel yet
    known: dict[str, dict[str, str]] = {}  # remote ids from earlier pushes, then this one
    for sku, rows in previous.items():
        for row in rows.values():
            known.setdefault(sku, {}).update(row["remote_ids"])
    batch_no = 0
    try:
        for kind in kinds:
            todo = [c for c in plan.by_kind(kind) if c.sku not in blocked]
            # a product's variants travel together where the channel writes per product
            # (listings, and often prices and stock too): ``grouped``
            queue: list[tuple[list[Change], int, float | None]] = [
                (batch, 0, None) for batch in sends(channel, kind, todo)
            ]  # (changes, times sent before, seconds the channel asked to wait)
            while queue:
                batch, tries, wait = queue.pop(0)
                if tries:  # items the channel said may pass: wait as it asked (or back off)
                    delay = wait if wait is not None else pacing.backoff(tries)
                    result.sleeps.append(delay)
                    pacing.sleep(delay)
                batch_no += 1
                results, attempts = _send(channel, kind, batch, pacing, result, known)
                outcomes: list[st.Outcome] = []
                items: list[tuple[str, str, str, str | None]] = []
                again: list[Change] = []
                waits: list[float] = []  # the Retry-After of the items sent again
                for change, r in zip(batch, results, strict=True):
                    message = scrub(r.message)
                    known.setdefault(change.sku, {}).update(r.remote_ids)
                    if not r.ok and r.retriable and tries < pacing.max_retries:
                        again.append(change)
                        if r.retry_after is not None:
                            waits.append(r.retry_after)
                        items.append((change.sku, change.action, "retry", message))
                        continue
                    if not r.ok and r.retriable:
                        message = f"{message} (still failing after {tries + 1} attempts)"
                        result.exhausted += 1
                    outcomes.append(
                        (change.sku, r.ok, change.hash, change.snapshot, r.remote_ids, message)
                    )
                    items.append((change.sku, change.action, "ok" if r.ok else "rejected", message))
                    result.counts["ok" if r.ok else "rejected"] += 1
                    if not r.ok:
                        result.rejected.append(
                            {"sku": change.sku, "kind": kind, "message": message or ""}
                        )
                        if kind == "listings" and change.action == "create":
                            blocked.add(change.sku)
                with st.batch_written(db):  # confirmed: state and journal, one transaction
                    delisted = {c.sku for c in batch if c.action == "delist"}
                    st.save_outcomes(db, channel.name, kind, outcomes, previous, delisted)
                    st.journal_items(db, run_id, kind, batch_no, attempts, items)
                if again:
                    queue.insert(0, (again, tries + 1, max(waits) if waits else None))
    except _BatchFailed as exc:
        exhausted = isinstance(exc.cause, Retriable)
        result.status = "exhausted" if exhausted else "failed"
        # Retriable: 6; Fatal: 5; anything else the channel raised (a missing ${VAR}: 3)
        result.exit_code = exc.cause.exit_code
        result.message = scrub(str(exc))
        result.counts["failed"] = len(exc.batch)
        with st.batch_written(db):
            st.journal_items(
                db, run_id, exc.kind, batch_no, exc.attempts,
                [(c.sku, c.action, "failed", result.message) for c in exc.batch],
            )  # fmt: skip
    except BaseException as exc:  # Ctrl-C or a bug: mark the run, then let the CLI report it
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "crashed"
        st.end_run(db, run_id, status, errors.UNEXPECTED, result.counts, type(exc).__name__)
        raise
    if result.exit_code == errors.OK and result.exhausted:
        result.status, result.exit_code = "exhausted", errors.RETRIES_EXHAUSTED
        result.message = f"{result.exhausted} item(s) still failing after retries"
    elif result.exit_code == errors.OK and result.rejected:
        result.status, result.exit_code = "rejected", errors.REJECTED
        result.message = f"{len(result.rejected)} item(s) rejected by {channel.name}"
    st.end_run(db, run_id, result.status, result.exit_code, result.counts, result.message)
    return result


def _send(
    channel: Channel,
    kind: str,
    batch: list[Change],
    pacing: Pacing,
    result: PushResult,
    known: dict[str, dict[str, str]],
) -> tuple[list[Any], int]:
    """One batch, retried; raises the last Retriable when retries are exhausted."""
    attempt = 0
    while True:
        attempt += 1
        result.counts["batches"] += 1
        try:
            ids = {c.sku: known[c.sku] for c in batch if known.get(c.sku)}
            return channel.send(kind, [c.offer for c in batch], ids), attempt
        except MultichanError as failure:
            exc = failure
        except requests.RequestException as failure:  # a transport error the module let through
            exc = Retriable(f"{channel.name}: {type(failure).__name__}: {failure}")
        if not isinstance(exc, Retriable):  # Fatal, or e.g. an unset ${VAR}: no retry
            raise _BatchFailed(exc, kind, batch, attempt) from exc
        if attempt > pacing.max_retries:
            exc.message = f"{exc.message} (gave up after {attempt} attempts)"
            raise _BatchFailed(exc, kind, batch, attempt) from exc
        delay = exc.retry_after if exc.retry_after is not None else pacing.backoff(attempt)
        result.sleeps.append(delay)
        pacing.sleep(delay)
