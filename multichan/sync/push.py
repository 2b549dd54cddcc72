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
A channel that takes jobs (``Channel.job_batch``) gets its batches of an operation as
asynchronous jobs when ``use_job`` says so (``multichan.sync.jobs``): the jobs earlier runs
left are collected first, and their SKUs are not sent again while they run. Daily quotas
(``multichan.sync.quotas``) decide what waits when a channel's day cannot take everything.
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
from multichan.sync import jobs, quotas
from multichan.sync import state as st
from multichan.sync.batching import Ref, sends
from multichan.sync.pacing import PacedSession, Pacing, paced
from multichan.sync.plan import Change, Plan, Spill


class _BudgetSpent(Exception):
    """The day's requests the push may spend are gone: what is left waits for the next run."""


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
            ("requests", "batches", "ok", "rejected", "failed", "deferred", "pending"), 0
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
    held: int = 0  # changes a daily quota kept for a later run (multichan.sync.quotas)

    def as_dict(self, plan: bool = True) -> dict[str, Any]:
        """The result as a document; ``plan=False`` leaves the plan out (the caller writes it
        as it reads it back)."""
        doc = {
            "channel": self.channel, "status": self.status, "counts": self.counts,
            "rejected": self.rejected, "deferred": self.deferred, "notes": self.notes,
            "shipments": self.shipments, "held": self.held,
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
    if not isinstance(channel.session, PacedSession):
        channel.session = paced(channel, rate, pacing, result.counts)
    channel.sleep, channel.backoff = pacing.sleep, pacing.backoff  # the client's retries too
    scrub = channel.redact
    spill = plan.spill or Spill()
    pulled = st.pulled_to(db, channel.name) if channel.compare_and_set else None
    refused = st.rejected_skus(db, channel.name)  # refused last time, of any kind
    run_id = st.start_run(db, channel.name, "push")
    blocked: set[str] = set()  # SKUs whose listing does not exist on the channel yet
    answered: dict[str, dict[str, str]] = {}  # remote ids answered, not yet in push_state
    batch_no = 0
    recorded = result.counts["requests"]  # requests already in the catalog's usage
    quotas.prune(db)
    budget = None
    if channel.daily_requests:
        budget = quotas.Budget(channel.daily_requests, quotas.requests_used(db, channel.name))
    revising = (
        quotas.near_limit(db, channel.name, channel.daily_revisions)
        if channel.daily_revisions else {}
    )  # fmt: skip
    revision_held = 0
    # asynchronous jobs: what earlier runs' jobs just answered for, (sku, kind) -> the hash
    # sent, and what jobs still running carry (neither is sent again by this run)
    collected: dict[tuple[str, str], str | None] = {}
    waiting: set[tuple[str, str]] = set()
    job_held = 0

    def listing(change: Change) -> str:
        """What a revision is counted on: the listing (item group) or the SKU."""
        return (change.group if channel.revision_unit == "group" else None) or change.sku

    def allowed(change: Change, partner: Change | None) -> bool:
        """Whether a listing near its daily revisions may take ``change`` now: only a stock
        decrease (with its price, when they go in one write)."""
        nonlocal revision_held
        if (
            change.kind not in channel.revision_kinds
            or listing(change) not in revising
            or change.decrease
            or (partner and partner.decrease)
        ):
            return True
        revision_held += 1 + (partner is not None)
        return False

    def fresh(change: Change, partner: Change | None) -> bool:
        """Whether ``change`` (and its partner) is neither in a job still running nor what a
        job collected at the start of this run already set."""
        nonlocal job_held
        both = [change] if partner is None else [change, partner]
        if any((c.sku, c.kind) in waiting for c in both):
            job_held += len(both)
            return False
        return not all(collected.get((c.sku, c.kind), "-") == c.hash for c in both)

    def drain(
        op: str, fresh: Iterator[tuple[list[Change], dict[str, Change]]], job: bool = False
    ) -> set[str]:
        """Send the batches of ``fresh`` (each with its ``partners``: the quantities change of
        each SKU a JOINT send answers for too) as ``op``, sending again what the channel calls
        retriable, before the next fresh batch. Returns the SKUs a JOINT send had refused: the
        caller sends their price and stock apart, so one kind's problem never holds the other
        back. With ``job``, each batch goes as an asynchronous job (``multichan.sync.jobs``)."""
        nonlocal batch_no, recorded
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
            if budget is not None and budget.spent(result.counts["requests"]):
                raise _BudgetSpent
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
            job_id = None
            if job:
                results, attempts, job_id = _send_job(
                    db, channel, op, batch, pacing, result, known, partners, run_id
                )
                if results is None:  # still running: the next run collects it
                    pending: dict[str, list[st.Line]] = {}
                    _lines(pending, [*batch, *partners.values()], "submitted", f"job {job_id}")
                    result.counts["pending"] += sum(len(v) for v in pending.values())
                    with st.batch_written(db):
                        for kind, lines in pending.items():
                            st.journal_items(db, run_id, kind, batch_no, attempts, lines)
                        quotas.record_requests(db, channel.name,
                                               result.counts["requests"] - recorded)  # fmt: skip
                    recorded = result.counts["requests"]
                    continue
            else:
                groups = None
                if op == "listings":  # a new variant finds its product's listing by these
                    grouped = {c.group for c in batch if c.group}
                    groups = st.group_ids(db, channel.name, grouped) if grouped else {}
                results, attempts = _send(
                    channel, op, batch, pacing, result, known, partners, expected, groups
                )
            outcomes: dict[str, list[st.Outcome]] = {}
            revised: list[str] = []  # listings written, for a channel that counts revisions
            stale: set[str] = set()
            items: dict[str, list[st.Line]] = {}
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
                if r.ok and channel.daily_revisions and op in channel.revision_kinds:
                    revised.append(listing(first))
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
            carried = _carried(op, outcomes)  # price and stock a new listing was made with
            with st.batch_written(db):  # confirmed: state and journal, one transaction
                delisted = {c.sku for c in batch if c.action == "delist"}
                for kind, done in outcomes.items():
                    st.save_outcomes(db, channel.name, kind, done, previous, delisted,
                                     stale=stale, held=held)  # fmt: skip
                for kind, lines in items.items():
                    st.journal_items(db, run_id, kind, batch_no, attempts, lines)
                for kind, found in carried.items():
                    done = [(c.sku, True, c.hash, c.snapshot, {}, None) for c in found]
                    st.save_outcomes(db, channel.name, kind, done, previous)
                    st.journal_items(db, run_id, kind, batch_no, attempts,
                                     [(c.sku, c.action, "ok", "with its listing", c.snapshot)
                                      for c in found])  # fmt: skip
                quotas.record_revisions(db, channel.name, revised)
                quotas.record_requests(db, channel.name, result.counts["requests"] - recorded)
                if job_id is not None:
                    jobs.finish(db, job_id)
                recorded = result.counts["requests"]
            for kind, found in carried.items():  # sent: not again on their own
                spill.drop(kind, [c.sku for c in found])
                result.counts["ok"] += len(found)
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
        op: str, kind: str, where: str, partner: str | None = None, job: bool = False
    ) -> Iterator[tuple[list[Change], dict[str, Change]]]:
        """The batches of ``kind``'s changes (``where``: which of them), as ``op`` packs them
        (as jobs: ``job_batch`` a job, in SKU order), read a batch at a time; with
        ``partner``, each SKU's change of that kind too."""
        size = channel.job_batch[op] if job else channel.max_batch.get(op, 1)
        if op in channel.grouped and not job:
            for window in _windows(spill.refs(kind, where), blocked):
                for packed in sends(channel, op, window):
                    found = spill.get(kind, [r.sku for r in packed])
                    yield from _allowed([found[r.sku] for r in packed], partner)
            return
        batch: list[Change] = []
        for change in spill.kind(kind, where):
            if change.sku in blocked:
                continue
            batch.append(change)
            if len(batch) >= max(size, 1):
                yield from _allowed(batch, partner)
                batch = []
        if batch:
            yield from _allowed(batch, partner)

    def _allowed(
        batch: list[Change], partner: str | None
    ) -> Iterator[tuple[list[Change], dict[str, Change]]]:
        """``batch`` (with its partners) less what a listing near its revisions must not take."""
        partners = _partners(partner, batch)
        if revising:
            batch = [c for c in batch if allowed(c, partners.get(c.sku))]
        if collected or waiting:
            batch = [c for c in batch if fresh(c, partners.get(c.sku))]
        if batch:
            yield batch, {c.sku: partners[c.sku] for c in batch if c.sku in partners}

    def _partners(partner: str | None, batch: Sequence[Ref | Change]) -> dict[str, Change]:
        return spill.get(partner, [c.sku for c in batch]) if partner else {}

    tiers = [""]  # everything at once, unless a day's budget cannot cover the plan
    if budget is not None and budget.short(_least_requests(channel, spill, kinds)):
        spill.set_tiers()
        tiers = [f"AND c.tier = {tier}" for tier in (0, 1, 2)]
        result.notes.append(
            f"{channel.name} has {budget.spendable} of its {budget.daily} daily requests left "
            "for this push: stock decreases go first, then prices, then the rest"
        )

    def _carried(op: str, outcomes: dict[str, list[st.Outcome]]) -> dict[str, list[Change]]:
        """For a channel whose new listings carry their price and stock
        (``Channel.listing_carries``): the planned changes of those kinds of the SKUs whose
        listing this batch created, as the listing was made from the same offer."""
        if op != "listings" or not channel.listing_carries:
            return {}
        made = [o[0] for o in outcomes.get("listings", []) if o[1]]
        found: dict[str, list[Change]] = {}
        for kind in channel.listing_carries & set(kinds):
            changes = spill.get(kind, made)
            found[kind] = [c for c in changes.values() if c.action == "create"]
        return {k: v for k, v in found.items() if v}

    def as_job(op: str, kind: str, where: str) -> bool:
        return op in channel.job_batch and channel.use_job(
            op, spill.count(f"kind = ? {where}", [kind])
        )

    try:
        if channel.job_batch:
            collected, waiting = _collect_jobs(db, channel, pacing, result, run_id)
        spill.reset_joint()
        for tier in tiers:
            for kind in kinds:
                if kind == "prices" and "quantities" in kinds and JOINT in channel.supports:
                    # price and stock both changed (a delist stays a quantities send), and the
                    # channel refused neither kind last time
                    spill.mark_joint(blocked | refused)
                    where = f"AND c.joint = 1 {tier}"
                    job = as_job(JOINT, "prices", where)
                    split = drain(JOINT, batches(JOINT, "prices", where, "quantities", job), job)
                    spill.unmark_joint(split)
                where = f"AND c.joint = 0 {tier}"
                job = as_job(kind, kind, where)
                drain(kind, batches(kind, kind, where, job=job), job)
    except _BudgetSpent:
        done = sum(result.counts[k] for k in ("ok", "rejected", "deferred"))
        marks = ", ".join("?" * len(kinds))
        result.held += max(0, spill.count(f"kind IN ({marks})", kinds) - done)
        result.notes.append(
            f"{channel.name}'s daily request budget ({channel.daily_requests}) is spent: "
            f"{result.held} change(s) wait for the next run"
        )
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
                lines = [(c.sku, c.action, "failed", result.message, c.snapshot)
                         for c in failed if c.kind == kind]  # fmt: skip
                st.journal_items(db, run_id, kind, batch_no, exc.attempts, lines)
    except BaseException as exc:  # Ctrl-C or a bug: mark the run, then let the CLI report it
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "crashed"
        st.end_run(db, run_id, status, errors.UNEXPECTED, result.counts, type(exc).__name__)
        raise
    if job_held:
        result.held += job_held
        result.notes.append(
            f"{job_held} change(s) wait for {channel.name}'s answer to a job still running"
        )
    if revision_held:
        result.held += revision_held
        result.notes.append(
            f"{revision_held} change(s) to {len(revising)} listing(s) near {channel.name}'s "
            f"{channel.daily_revisions} revisions a day wait for the next day; their stock "
            "decreases were sent"
        )
    with st.batch_written(db):  # what the run's last requests (a failed batch's) used
        quotas.record_requests(db, channel.name, result.counts["requests"] - recorded)
    if result.exit_code == errors.OK and result.exhausted:
        result.status, result.exit_code = "exhausted", errors.RETRIES_EXHAUSTED
        result.message = f"{result.exhausted} item(s) still failing after retries"
    elif result.exit_code == errors.OK and result.rejected:
        result.status, result.exit_code = "rejected", errors.REJECTED
        result.message = f"{len(result.rejected)} item(s) rejected by {channel.name}"
    st.end_run(db, run_id, result.status, result.exit_code, result.counts, result.message)
    return result


PACK_WINDOW = 20_000  # changes packed at a time: whole products, a window's worth of refs held


def _windows(refs: Iterator[tuple[str, str | None]], blocked: set[str]) -> Iterator[list[Ref]]:
    """The (sku, product) references of ``refs`` (a product's SKUs together) in windows of
    about ``PACK_WINDOW``, never splitting a product, leaving out ``blocked`` SKUs as they
    stand when each window is cut: packing holds one window, however large the plan. Each
    window packs to its own minimum; a large plan may take one more batch per window."""
    window: list[Ref] = []
    for sku, grp in refs:
        if len(window) >= PACK_WINDOW and (grp is None or grp != window[-1].group):
            yield [r for r in window if r.sku not in blocked]
            window = []
        window.append(Ref(sku, grp))
    if window:
        yield [r for r in window if r.sku not in blocked]


def _least_requests(channel: Channel, spill: Spill, kinds: Sequence[str]) -> int:
    """The fewest requests the plan's changes can take: a request per full batch of each
    kind (a module may make more; never fewer)."""
    total = 0
    for kind in kinds:
        count = spill.count("kind = ?", [kind])
        size = max(channel.max_batch.get(kind, 1), 1)
        total += -(-count // size)
    return total


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
    items: dict[str, list[st.Line]],
    changes: list[Change],
    outcome: str,
    message: str | None,
) -> None:
    """Journal lines (sku, action, outcome, message, the snapshot sent) for ``changes``, by
    kind."""
    for c in changes:
        items.setdefault(c.kind, []).append((c.sku, c.action, outcome, message, c.snapshot))


def _send(
    channel: Channel,
    kind: str,
    batch: list[Change],
    pacing: Pacing,
    result: PushResult,
    known: dict[str, dict[str, str]],
    partners: dict[str, Change],
    expected: dict[str, int],
    groups: dict[str, dict[str, str]] | None = None,
) -> tuple[list[Any], int]:
    """One batch, retried; raises the last Retriable when retries are exhausted (with the
    batch's ``partners``, the quantities changes of a JOINT send). ``expected``: what a
    compare-and-set channel should hold now, per SKU; ``groups``: the remote ids of each
    item group's listed SKUs."""
    ids = {c.sku: known[c.sku] for c in batch if known.get(c.sku)}
    offers = [c.offer for c in batch]
    delisting = {c.sku for c in (*batch, *partners.values()) if c.action == "delist"}
    return _retrying(
        lambda: channel.send(kind, offers, ids, expected, delisting, groups), channel, kind,
        batch, pacing, result, partners,
    )  # fmt: skip


def _send_job(
    db: sqlite_utils.Database,
    channel: Channel,
    operation: str,
    batch: list[Change],
    pacing: Pacing,
    result: PushResult,
    known: dict[str, dict[str, str]],
    partners: dict[str, Change],
    run_id: int,
) -> tuple[list[Any] | None, int, int]:
    """One batch as an asynchronous job: recorded, submitted (retried like a batch), its
    ticket recorded, then waited on. Returns its results (None while it still runs), the
    attempts and the job's id."""
    items = []
    for position, change in enumerate(batch):
        for c in (change, partners.get(change.sku)):
            if c is not None:
                items.append((position, c.sku, c.kind, c.action, c.hash, c.snapshot))
    job_id = jobs.record(db, channel.name, operation, run_id, items)
    ids = {c.sku: known[c.sku] for c in batch if known.get(c.sku)}
    offers = [c.offer for c in batch]
    try:
        ticket, attempts = _retrying(
            lambda: channel.start_job(operation, offers, ids), channel, operation, batch,
            pacing, result, partners,
        )  # fmt: skip
    except _BatchFailed as exc:
        if not isinstance(exc.cause, Retriable):  # refused: the channel has no such job
            jobs.drop(db, job_id)
        raise  # exhausted: a timeout may have reached it; the next run sends it as lost
    jobs.submitted(db, job_id, ticket)
    job = jobs.Job(job_id, channel.name, operation, ticket,
                   [jobs.JobItem(p, s, k, a, h, None) for p, s, k, a, h, _ in items])  # fmt: skip
    try:
        return jobs.wait(channel, job, pacing, result.sleeps), attempts, job_id
    except MultichanError as exc:  # the job is the channel's now: the next run collects it
        raise _BatchFailed(exc, operation, batch, attempts, partners) from exc


def _collect_jobs(
    db: sqlite_utils.Database, channel: Channel, pacing: Pacing, result: PushResult, run_id: int
) -> tuple[dict[tuple[str, str], str | None], set[tuple[str, str]]]:
    """Before sending: the jobs earlier runs left. One recorded but never answered is lost
    (its changes go again with the plan); one submitted is collected, its results saved like
    a batch's. Returns what the collected jobs set, (sku, kind) -> hash, and what the jobs
    still running carry."""
    lost = jobs.forget_unsent(db, channel.name)
    if lost:
        result.notes.append(
            f"{lost} job(s) a stopped run had not heard back about are sent again with this "
            "plan (absolute values: a job the channel did get sets the same numbers)"
        )
    collected: dict[tuple[str, str], str | None] = {}
    waiting: set[tuple[str, str]] = set()
    for job in jobs.open_jobs(db, channel.name):
        try:
            results = jobs.wait(channel, job, pacing, result.sleeps)
        except MultichanError as exc:
            raise _BatchFailed(exc, job.operation, [], 0, {}) from exc
        if results is None:
            waiting |= jobs.in_flight([job])
            continue
        by_sku = {r.sku: r for r in results}
        previous = st.load(db, channel.name, job.skus)
        outcomes: dict[str, list[st.Outcome]] = {}
        lines: dict[str, list[st.Line]] = {}
        for item in job.items:
            r = by_sku[item.sku]
            if not r.ok and r.retriable:  # sent again with this run's plan
                lines.setdefault(item.kind, []).append((item.sku, item.action, "retry",
                                                        channel.redact(r.message),
                                                        item.snapshot))  # fmt: skip
                continue
            message = channel.redact(r.message)
            outcomes.setdefault(item.kind, []).append(
                (item.sku, r.ok, item.hash, item.snapshot, r.remote_ids, message)
            )
            outcome = "ok" if r.ok else "rejected"
            lines.setdefault(item.kind, []).append(
                (item.sku, item.action, outcome, message, item.snapshot)
            )
            result.counts[outcome] += 1
            collected[(item.sku, item.kind)] = item.hash
            if not r.ok:
                result.rejected.append(
                    {"sku": item.sku, "kind": item.kind, "message": message or ""}
                )
        delisted = {i.sku for i in job.items if i.action == "delist"}
        with st.batch_written(db):
            for kind, done in outcomes.items():
                st.save_outcomes(db, channel.name, kind, done, previous, delisted)
            for kind, items in lines.items():
                st.journal_items(db, run_id, kind, 0, 1, items)
            jobs.finish(db, job.id)
    return collected, waiting


def _retrying(
    call: Any,
    channel: Channel,
    kind: str,
    batch: list[Change],
    pacing: Pacing,
    result: PushResult,
    partners: dict[str, Change],
) -> tuple[Any, int]:
    """``call()`` (one send or job submission of ``batch``), retried while it raises
    Retriable; raises ``_BatchFailed`` with the last failure when it raised anything else or
    retries ran out."""
    attempt = 0
    while True:
        attempt += 1
        result.counts["batches"] += 1
        try:
            return call(), attempt
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
