"""Push: send one channel's plan in batches, within its rate limit, with retries, and record
every confirmed batch.

The engine owns everything around ``Channel.send``: batches (``batching.sends``), a token
bucket for the channel's rate limit, retries of ``Retriable`` with exponential backoff and
jitter (or the channel's Retry-After), the safety limits, dry-run, and writing state + journal
in one transaction per batch, so an interrupted push repeats at most one batch and loses
nothing. The plan's changes are read back from its spill (``plan.Spill``) a batch at a time,
and each batch's push state just before it is sent, so a push holds no whole plan or state.
Listings go first: prices and quantities of a SKU whose listing could not be created wait.
Where the channel supports ``prices+quantities`` (JOINT), a SKU whose price and stock both
changed is sent once with both, and its state and journal move for both kinds.
A compare-and-set channel gets, with each stock batch, what it should hold now
(``state.expected_quantities``); a SKU it answers stale is *deferred*: kept for the next run,
after the next pull has read the sale behind it (not a rejection: exit 0). A count still
stale after a pull that began later was changed on the channel by hand: it is sent again at
once without comparing, and the run's notes say so.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import requests
import sqlite_utils

from multichan import errors
from multichan.channels.base import JOINT, Channel, RateLimit, Retriable
from multichan.errors import MultichanError
from multichan.sync import state as st
from multichan.sync.batching import Ref, sends
from multichan.sync.pacing import PacedSession, Pacing, TokenBucket
from multichan.sync.plan import Change, Plan, Spill


class _BatchFailed(Exception):
    """A batch that failed as a whole (Fatal, or Retriable after the last retry)."""

    def __init__(
        self, cause: MultichanError, kind: str, batch: list[Change], attempts: int,
        partners: dict[str, Change],
    ) -> None:  # fmt: skip
        super().__init__(cause.message)
        self.cause, self.kind, self.batch, self.attempts = cause, kind, batch, attempts
        self.partners = [partners[c.sku] for c in batch if c.sku in partners]


@dataclass
class PushResult:
    channel: str
    status: str = "ok"  # ok, rejected, refused, failed, exhausted, dry-run
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("requests", "batches", "ok", "rejected", "failed", "deferred"), 0
        )
    )
    rejected: list[dict[str, str]] = field(default_factory=list)
    deferred: list[dict[str, str]] = field(default_factory=list)  # stale counts, sent later
    notes: list[str] = field(default_factory=list)
    shipments: dict[str, Any] | None = None  # orders.shipments.SendResult, or what is due
    sleeps: list[float] = field(default_factory=list)
    message: str | None = None
    exit_code: int = errors.OK
    plan: Plan | None = None
    exhausted: int = 0  # items a channel kept calling retriable until retries ran out

    def as_dict(self, plan: bool = True) -> dict[str, Any]:
        """The result as a document; ``plan=False`` leaves the plan out (the caller writes it
        as it reads it back)."""
        doc = {
            "channel": self.channel, "status": self.status, "counts": self.counts,
            "rejected": self.rejected, "deferred": self.deferred, "notes": self.notes,
            "shipments": self.shipments,
            "sleeps": self.sleeps, "message": self.message,
            "exit_code": self.exit_code,
        }  # fmt: skip
        if plan:
            doc["plan"] = self.plan.as_dict() if self.plan is not None else None
        return doc


def refusal(plan: Plan, max_delist: Decimal, max_price_change: Decimal) -> str | None:
    """Why the safety limits refuse this plan, or None: counted over its spilled changes,
    which keep the old and new numbers, so nothing but counts and three examples is held."""
    spill = plan.spill
    if spill is None:
        return None
    zeroed = spill.count("kind = 'quantities' AND zeroed = 1")
    if plan.listed and Decimal(zeroed) * 100 / plan.listed > max_delist:
        share = Decimal(zeroed) * 100 / plan.listed
        return (
            f"{plan.channel}: the push would delist or zero {zeroed} of {plan.listed} "
            f"listings ({share:.0f}%; max_delist_percent is {max_delist}); nothing was sent. "
            "Rerun with --force if this is intended"
        )
    big, examples = 0, list[str]()
    for sku, action, old, new in spill.prices():
        if action == "create" or not old or Decimal(old) <= 0:
            continue
        change = abs(Decimal(new) - Decimal(old)) * 100 / Decimal(old)
        if change > max_price_change:
            big += 1
            if len(examples) < 3:
                examples.append(f"{sku} {old} -> {new} ({change:.0f}%)")
    if big:
        return (
            f"{plan.channel}: {big} price change(s) above max_price_change_percent "
            f"({max_price_change}%): {', '.join(examples)}; nothing was sent. "
            "Rerun with --force if this is intended"
        )
    return None


Queued = tuple[list[Change], int, float | None, frozenset[str], dict[str, Change]]


def push_plan(
    db: sqlite_utils.Database,
    channel: Channel,
    plan: Plan,
    kinds: tuple[str, ...],
    pacing: Pacing | None = None,
    rate: RateLimit | None = None,
) -> PushResult:
    """Send ``plan`` through ``channel``; state and journal advance per confirmed batch.
    ``rate`` overrides the channel type's declared limit (channels.yaml ``rate_limit``).

    The plan's changes are read back from its spill one kind at a time, in SKU order, a
    batch at a time (a product-grouped kind is packed from (sku, product) references first);
    the push state of a batch's SKUs is read just before it is sent. A (SKU, kind) row is
    written at most once per push, so that read is what the run began with, as before."""
    pacing = pacing or Pacing()
    result = PushResult(channel.name, plan=plan)
    bucket = TokenBucket(rate or channel.rate_limit, pacing.clock, pacing.sleep)
    if not isinstance(channel.session, PacedSession):
        channel.session = PacedSession(channel.session, bucket, result.counts)
    channel.sleep, channel.backoff = pacing.sleep, pacing.backoff  # the client's retries too
    scrub = channel.redact
    spill = plan.spill or Spill()
    pulled = st.pulled_to(db, channel.name) if channel.compare_and_set else None
    refused = st.rejected_skus(db, channel.name)  # refused last time, of any kind
    run_id = st.start_run(db, channel.name, "push")
    blocked: set[str] = set()  # SKUs whose listing does not exist on the channel yet
    answered: dict[str, dict[str, str]] = {}  # remote ids answered, not yet in push_state
    batch_no = 0

    def drain(op: str, fresh: Iterator[tuple[list[Change], dict[str, Change]]]) -> set[str]:
        """Send the batches of ``fresh`` (each with its ``partners``: the quantities change of
        each SKU a JOINT send answers for too) as ``op``, sending again what the channel calls
        retriable, before the next fresh batch. Returns the SKUs a JOINT send had refused: the
        caller sends their price and stock apart, so one kind's problem never holds the other
        back."""
        nonlocal batch_no
        split: set[str] = set()
        # (changes, times sent before, seconds the channel asked to wait, SKUs whose stock is
        # set without comparing, partners)
        queue: list[Queued] = []
        while True:
            if not queue:
                nxt = next(fresh, None)
                if nxt is None:
                    return split
                queue.append((nxt[0], 0, None, frozenset(), nxt[1]))
            batch, tries, wait, absolute, partners = queue.pop(0)
            if tries:  # items the channel said may pass: wait as it asked (or back off)
                delay = wait if wait is not None else pacing.backoff(tries)
                result.sleeps.append(delay)
                pacing.sleep(delay)
            batch_no += 1
            previous = st.load(db, channel.name, [c.sku for c in batch])
            known = _remote_ids(previous, answered)
            stock = [partners.get(c.sku, c) for c in batch]
            stock = [c for c in stock if c.kind == "quantities"]
            held = None  # what the channel's own orders took of each SKU, where it compares
            expected: dict[str, int] = {}
            pulled_since: set[str] = set()  # stale before the last pull: stale again -> set
            if channel.compare_and_set:
                held = st.held_by_orders(db, channel.name, [c.sku for c in stock])
                expected, pulled_since = st.expected_quantities(
                    [c.sku for c in stock], previous, held, pulled
                )
                expected = {k: v for k, v in expected.items() if k not in absolute}
            results, attempts = _send(channel, op, batch, pacing, result, known, partners, expected)
            outcomes: dict[str, list[st.Outcome]] = {}
            stale: set[str] = set()
            items: dict[str, list[tuple[str, str, str, str | None]]] = {}
            again: list[Change] = []
            waits: list[float] = []  # the Retry-After of the items sent again
            forced: list[Change] = []  # stale again after a pull explained nothing
            for first, r in zip(batch, results, strict=True):
                message = scrub(r.message)
                answered.setdefault(first.sku, {}).update(r.remote_ids)
                both = [first, partners[first.sku]] if first.sku in partners else [first]
                if not r.ok and r.retriable and tries < pacing.max_retries:
                    again.append(first)
                    if r.retry_after is not None:
                        waits.append(r.retry_after)
                    _lines(items, both, "retry", message)
                    continue
                if not r.ok and not r.retriable and op == JOINT:
                    split.add(first.sku)
                    _lines(items, both, "split", message)
                    continue
                if r.stale and first.sku in pulled_since and first.sku not in absolute:
                    forced.append(first)
                    _lines(items, both, "stale", message)
                    continue
                if r.stale:  # the channel's count moved: a sale the next pull reads first
                    stale.add(first.sku)
                    _lines(items, both, "stale", message)
                    outcomes.setdefault(first.kind, []).append(
                        (first.sku, False, first.hash, first.snapshot, r.remote_ids, message)
                    )
                    result.counts["deferred"] += 1
                    result.deferred.append({"sku": first.sku, "message": message or ""})
                    continue
                if r.ok and first.sku in absolute:
                    message = (
                        f"set over a count changed on {channel.name} that no pulled order explains"
                    )
                    result.notes.append(f"{first.sku}: {message}")
                if not r.ok and r.retriable:
                    message = f"{message} (still failing after {tries + 1} attempts)"
                    result.exhausted += len(both)
                outcome = "ok" if r.ok else "rejected"
                _lines(items, both, outcome, message)
                for change in both:
                    outcomes.setdefault(change.kind, []).append(
                        (change.sku, r.ok, change.hash, change.snapshot, r.remote_ids, message)
                    )
                    result.counts[outcome] += 1
                    if r.ok:
                        continue
                    result.rejected.append(
                        {"sku": change.sku, "kind": change.kind, "message": message or ""}
                    )
                    if change.kind == "listings" and change.action == "create":
                        blocked.add(change.sku)
            with st.batch_written(db):  # confirmed: state and journal, one transaction
                delisted = {c.sku for c in batch if c.action == "delist"}
                for kind, done in outcomes.items():
                    st.save_outcomes(db, channel.name, kind, done, previous, delisted,
                                     stale=stale, held=held)  # fmt: skip
                for kind, lines in items.items():
                    st.journal_items(db, run_id, kind, batch_no, attempts, lines)
            kept = {c.sku for c in (*again, *forced)} | split  # not in push_state yet
            for sku in {c.sku for c in batch} - kept:  # in push_state now
                answered.pop(sku, None)
            if again:
                queue.insert(0, (again, tries + 1, max(waits) if waits else None, absolute,
                                 partners))  # fmt: skip
            if forced:  # at once, without comparing
                queue.insert(0, (forced, tries, None, frozenset(c.sku for c in forced),
                                 partners))  # fmt: skip

    def batches(
        op: str, kind: str, where: str, partner: str | None = None
    ) -> Iterator[tuple[list[Change], dict[str, Change]]]:
        """The batches of ``kind``'s changes (``where``: which of them), as ``op`` packs them,
        read a batch at a time; with ``partner``, each SKU's change of that kind too."""
        size = channel.max_batch.get(op, 1)
        if op in channel.grouped:
            refs = [Ref(sku, grp) for sku, grp in spill.refs(kind, where) if sku not in blocked]
            for packed in sends(channel, op, refs):
                found = spill.get(kind, [r.sku for r in packed])
                yield [found[r.sku] for r in packed], _partners(partner, packed)
            return
        batch: list[Change] = []
        for change in spill.kind(kind, where):
            if change.sku in blocked:
                continue
            batch.append(change)
            if len(batch) >= max(size, 1):
                yield batch, _partners(partner, batch)
                batch = []
        if batch:
            yield batch, _partners(partner, batch)

    def _partners(partner: str | None, batch: Sequence[Ref | Change]) -> dict[str, Change]:
        return spill.get(partner, [c.sku for c in batch]) if partner else {}

    try:
        spill.reset_joint()
        for kind in kinds:
            if kind == "prices" and "quantities" in kinds and JOINT in channel.supports:
                # price and stock both changed (a delist stays a quantities send), and the
                # channel refused neither kind last time
                spill.mark_joint(blocked | refused)
                split = drain(JOINT, batches(JOINT, "prices", "AND c.joint = 1", "quantities"))
                spill.unmark_joint(split)
            drain(kind, batches(kind, kind, "AND c.joint = 0"))
    except _BatchFailed as exc:
        exhausted = isinstance(exc.cause, Retriable)
        result.status = "exhausted" if exhausted else "failed"
        # Retriable: 6; Fatal: 5; anything else the channel raised (a missing ${VAR}: 3)
        result.exit_code = exc.cause.exit_code
        result.message = scrub(str(exc))
        failed = [*exc.batch, *exc.partners]
        result.counts["failed"] = len(failed)
        with st.batch_written(db):
            for kind in st.KINDS:
                lines = [(c.sku, c.action, "failed", result.message) for c in failed
                         if c.kind == kind]  # fmt: skip
                st.journal_items(db, run_id, kind, batch_no, exc.attempts, lines)
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


def _remote_ids(
    previous: st.State, answered: dict[str, dict[str, str]]
) -> dict[str, dict[str, str]]:
    """Each SKU's remote ids: from its push_state rows, then what this run was answered."""
    known: dict[str, dict[str, str]] = {}
    for sku, rows in previous.items():
        for row in rows.values():
            known.setdefault(sku, {}).update(row["remote_ids"])
    for sku, ids in answered.items():
        known.setdefault(sku, {}).update(ids)
    return known


def _lines(
    items: dict[str, list[tuple[str, str, str, str | None]]],
    changes: list[Change],
    outcome: str,
    message: str | None,
) -> None:
    """Journal lines (sku, action, outcome, message) for ``changes``, by kind."""
    for change in changes:
        items.setdefault(change.kind, []).append((change.sku, change.action, outcome, message))


def _send(
    channel: Channel,
    kind: str,
    batch: list[Change],
    pacing: Pacing,
    result: PushResult,
    known: dict[str, dict[str, str]],
    partners: dict[str, Change],
    expected: dict[str, int],
) -> tuple[list[Any], int]:
    """One batch, retried; raises the last Retriable when retries are exhausted (with the
    batch's ``partners``, the quantities changes of a JOINT send). ``expected``: what a
    compare-and-set channel should hold now, per SKU."""
    attempt = 0
    while True:
        attempt += 1
        result.counts["batches"] += 1
        try:
            ids = {c.sku: known[c.sku] for c in batch if known.get(c.sku)}
            return channel.send(kind, [c.offer for c in batch], ids, expected), attempt
        except MultichanError as failure:
            exc = failure
        except requests.RequestException as failure:  # a transport error the module let through
            exc = Retriable(f"{channel.name}: {type(failure).__name__}: {failure}")
        if not isinstance(exc, Retriable):  # Fatal, or e.g. an unset ${VAR}: no retry
            raise _BatchFailed(exc, kind, batch, attempt, partners) from exc
        if attempt > pacing.max_retries:
            exc.message = f"{exc.message} (gave up after {attempt} attempts)"
            raise _BatchFailed(exc, kind, batch, attempt, partners) from exc
        delay = exc.retry_after if exc.retry_after is not None else pacing.backoff(attempt)
        result.sleeps.append(delay)
        pacing.sleep(delay)
