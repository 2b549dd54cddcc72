"""The Channel interface: what an API channel declares, the batch methods it implements, the
results and errors it returns, and validation of its ``settings`` from channels.yaml.

A channel module declares its capabilities as class attributes and implements one method per
supported operation. The engine calls ``channel.send(operation, offers)``, which the base class
owns: it checks the capability and the batch size, calls the module's method and checks that
exactly one result came back per SKU, in order. Chunking (to ``max_batch`` offers and, where
declared, ``max_groups`` products per batch), rate limiting, retries, state and dry-run belong
to the engine, never to a channel module. A channel that can write a SKU's price and stock in
one call supports ``prices+quantities`` too (JOINT): the engine then sends the SKUs whose
price and stock both changed once, instead of once per kind.

Compare-and-set: a channel whose API can refuse a stock write when its count is not the one
expected (Shopify's ``compareQuantity``) sets ``compare_and_set``; the engine then hands it,
per SKU where it knows, the quantity the channel should hold now (``self.expected``), and the
channel answers ``ItemResult.stale`` for a SKU whose count differed: a sale not pulled yet, so
its number waits for the next pull instead of overwriting the sale.

Jobs: an API that takes a large change as an asynchronous job (Amazon's listings feeds,
Meta's items_batch) declares ``job_batch`` (the most offers per job) and implements
``submit_job`` (send, return a ticket) and ``collect_job`` (look once: None while running,
else one result per SKU). The engine records each job in the catalog before submitting it and
its ticket as soon as the channel gives it, polls within ``job_wait``, and advances state
only with the results; a job still running when the run ends, or whose run was killed, is
collected by the next run instead of being submitted again (``multichan.sync.jobs``).

Errors come in three kinds (as in Singer/Meltano connectors):
- a per-SKU rejection is an ``ItemResult`` with ``ok=False`` and the channel's own message;
- ``Retriable``: the whole batch failed for a reason that may pass (429, 5xx, timeout, reset);
- ``Fatal``: the whole batch failed and retrying cannot help (authentication, bad config).
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import re
import time
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

from multichan.config import ENV_RE, Secret
from multichan.errors import RETRIES_EXHAUSTED, ChannelFailed, MultichanError, did_you_mean
from multichan.offers import Offer
from multichan.orders.model import Order

JOINT = "prices+quantities"  # price and stock of a SKU in one write
CAPABILITIES = frozenset({"listings", "prices", "quantities", JOINT, "orders", "shipments"})
# operation -> the method a channel implements for it ("orders" is fetched, not sent)
OPERATIONS: dict[str, str] = {
    "listings": "upsert_listings",
    "prices": "update_prices",
    "quantities": "update_quantities",
    JOINT: "update_prices_and_quantities",
}
KINDS = ("str", "int", "bool", "secret", "url", "map")


@dataclass(frozen=True)
class RateLimit:
    """How fast the engine may call this channel: a steady rate and a burst allowance, in HTTP
    requests (the engine paces every request a module makes through ``self.session``)."""

    requests_per_second: float
    burst: int = 1

    def __post_init__(self) -> None:
        if not self.requests_per_second > 0 or self.burst < 1:
            raise ValueError(f"rate limit must be positive, not {self}")


@dataclass(frozen=True)
class SettingSpec:
    """One key under a channel's ``settings:``. ``kind`` is str, int, bool, secret, url or map;
    a ``secret`` must be written as ``${ENV_VAR}`` and becomes a :class:`Secret`; a ``map`` is
    a mapping of names to text (eBay's category id per product type)."""

    kind: str = "str"
    required: bool = False
    default: Any = None
    help: str = ""


@dataclass(frozen=True)
class ItemResult:
    """The outcome for one SKU: accepted (with the channel's ids for it) or rejected with the
    channel's own message. ``retriable`` marks a rejection worth trying again later;
    ``retry_after`` is how long the channel asked to wait first (its Retry-After, in seconds);
    ``stale`` a quantity not written because the channel's count was not the expected one."""

    sku: str
    ok: bool
    remote_ids: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    retriable: bool = False
    retry_after: float | None = None
    stale: bool = False

    @classmethod
    def accepted(cls, sku: str, **remote_ids: str) -> ItemResult:
        return cls(sku, True, dict(remote_ids))

    @classmethod
    def rejected(
        cls, sku: str, message: str, *, retriable: bool = False, retry_after: float | None = None
    ) -> ItemResult:
        return cls(sku, False, {}, message, retriable, retry_after if retriable else None)

    @classmethod
    def stale_count(cls, sku: str, message: str) -> ItemResult:
        """The channel's count of ``sku`` was not the expected one: nothing written."""
        return cls(sku, False, {}, message, stale=True)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "ok": self.ok,
            "remote_ids": self.remote_ids,
            "message": self.message,
            "retriable": self.retriable,
            "retry_after": self.retry_after,
            "stale": self.stale,
        }


class Fatal(ChannelFailed):
    """The whole batch failed and retrying cannot help: bad credentials, bad settings, a shop
    that does not exist. Exit code 5."""


class Retriable(MultichanError):
    """The whole batch failed for a reason that may pass: rate limited (429), a 5xx, a timeout,
    a reset connection. ``retry_after`` is the channel's hint in seconds, when it gave one.
    The engine retries with backoff; if one escapes, retries were exhausted (exit code 6)."""

    exit_code = RETRIES_EXHAUSTED

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def transient(status: int, headers: Mapping[str, str], message: str) -> Retriable | None:
    """The Retriable for an HTTP answer worth trying again (408 timeout, 429 rate limited,
    5xx), carrying its Retry-After; None for any other status. Every channel maps these the
    same way; what the other statuses mean is the channel's to say."""
    if status in (408, 429) or status >= 500:
        return Retriable(message, retry_after=retry_after(headers.get("Retry-After")))
    return None


def backoff(attempt: int, base: float = 0.5, cap: float = 60.0) -> float:
    """Exponential backoff with equal jitter before retry number ``attempt`` (1-based)."""
    delay = min(cap, base * 2 ** (attempt - 1))
    return delay / 2 + random.uniform(0, delay / 2)


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (a number or an HTTP date); None when absent/garbled
    (``nan`` and ``inf`` included)."""
    try:
        seconds = float(value or "-")
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    except ValueError:
        pass
    try:
        return max((parsedate_to_datetime(value or "") - datetime.now(UTC)).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return None


class Channel:
    """Base class of every API channel. Subclasses set the class attributes below and implement
    the batch method of each operation in ``supports``; they must not override ``send``."""

    type: ClassVar[str] = ""
    description: ClassVar[str] = ""
    supports: ClassVar[frozenset[str]] = frozenset()
    max_batch: ClassVar[Mapping[str, int]] = {}
    # per operation, the most item groups (products) a batch should span, for an API that
    # takes one call per product and can put only so many calls in one request (Shopify's
    # aliased price mutations); the engine cuts batches to it. Absent: no limit
    max_groups: ClassVar[Mapping[str, int]] = {}
    # the operations whose batches keep a product's variants (an item group) together, for an
    # API that writes them per product; in the others a batch is any max_batch SKUs in SKU
    # order, so the engine sends exactly ceil(changed / max_batch) batches
    grouped: ClassVar[frozenset[str]] = frozenset({"listings", "prices", "quantities", JOINT})
    rate_limit: ClassVar[RateLimit] = RateLimit(1.0, 1)
    # the API's own limits of some operations, each its own bucket: a pattern searched in
    # "METHOD /path" -> its limit (Amazon's getOrders: 0.0167/s with a burst of 20); a
    # request no pattern matches takes from ``rate_limit``
    rate_limits: ClassVar[Mapping[str, RateLimit]] = {}
    settings_schema: ClassVar[Mapping[str, SettingSpec]] = {}
    credential_env: ClassVar[tuple[str, ...]] = ()  # documentation: the variables people set
    accepts_html: ClassVar[bool] = False  # descriptions keep the seller's HTML
    # orders ("orders" in supports): each pull asks again for what changed this long before
    # its cursor (clock skew, late arrivals); pages oldest change first lets the cursor move
    # with each page
    order_overlap: ClassVar[timedelta] = timedelta(minutes=10)
    orders_sorted: ClassVar[bool] = True
    # how late an order can reach the channel with its original times (Square's offline POS:
    # 72 h); the pull reads that far back once an hour
    late_orders: ClassVar[timedelta] = timedelta(0)
    # how many times the API client sends an idempotent request that failed for a reason
    # that may pass (the engine then retries the whole batch, up to its own limit)
    request_attempts: ClassVar[int] = 3
    # stock writes can be compare-and-set against ``self.expected`` (see the module docstring)
    compare_and_set: ClassVar[bool] = False
    # quotas that outlast one run, counted by the engine in the catalog (None: no such quota):
    # the most requests the channel takes in a day (Etsy: 10,000), and the most writes
    # ("revisions") of one listing in a day (eBay: 250); near either, the engine sends the
    # most urgent changes first (stock decreases, then prices, then the rest) and says so
    daily_requests: ClassVar[int | None] = None
    daily_revisions: ClassVar[int | None] = None
    # what a revision is: the kinds whose writes count (Google's "twice a day" spares price
    # and stock), and whether it is counted per listing (item group: eBay) or per SKU
    revision_kinds: ClassVar[frozenset[str]] = frozenset(
        {"listings", "prices", "quantities", "prices+quantities"}
    )
    revision_unit: ClassVar[str] = "group"
    # the kinds a new listing is created with (eBay's offer holds its price and stock): the
    # engine records them as sent with the listing instead of writing them again
    listing_carries: ClassVar[frozenset[str]] = frozenset()
    # stock is written per location (Google local inventory): a move between locations with
    # the same total is a change too
    stock_by_location: ClassVar[bool] = False
    # asynchronous jobs (see "Jobs" in the module docstring): per operation, the most offers
    # one job takes; how long one run waits on a job before leaving it to the next run, and
    # the seconds between two looks at it
    job_batch: ClassVar[Mapping[str, int]] = {}
    job_wait: ClassVar[float] = 300.0
    job_poll: ClassVar[float] = 15.0
    max_title: ClassVar[int] = 150
    max_description: ClassVar[int] = 5000

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "send" in cls.__dict__:
            raise TypeError(f"{cls.__qualname__} must not override Channel.send")

    def __init__(self, name: str, settings: Mapping[str, Any], session: Any = None) -> None:
        """``settings`` come from :meth:`validate_settings`; ``session`` is the HTTP transport
        (a ``requests.Session`` unless a test injects another)."""
        self.name = name
        self.settings = dict(settings)
        if session is None:
            from multichan.channels.api import new_session  # HTTP lives in the API client

            session = new_session()
        self.session = session
        self.known_ids: dict[str, dict[str, str]] = {}
        self.expected: dict[str, int] = {}
        self.delisting: set[str] = set()  # the batch's SKUs sent at 0 as no longer offered
        # SKUs whose listing the channel shows but not for sale (taken off sale there by
        # hand), to be put back on sale by their listing write: set by ``drift --fix`` for the
        # whole push (a module whose listing updates keep the listing's status reads it)
        self.relisting: Container[str] = set()
        # per item group of a listings batch, the remote ids recorded for its other SKUs (a
        # new variant of a product the channel already lists finds the listing by them)
        self.group_ids: dict[str, dict[str, str]] = {}
        # how the API client waits between attempts; the engine swaps in its own (tests: fakes)
        self.sleep: Callable[[float], None] = time.sleep
        self.clock: Callable[[], float] = time.monotonic
        self.backoff: Callable[[int], float] = backoff
        # where OAuth 2 access tokens are cached (channels.auth.TokenStore); the engine hands
        # over the catalog's, so they last between runs
        self.tokens: Any = None

    def secret_values(self) -> list[str]:
        """The values of the secrets in this channel's settings that are set, for redaction."""
        found = []
        for value in self.settings.values():
            if isinstance(value, Secret):
                with contextlib.suppress(MultichanError):
                    found.append(value.value())
        return [v for v in found if v]

    def redact(self, text: str | None, also: Iterable[str] = ()) -> str | None:
        """``text`` with the value of every secret of this channel (and the values ``also``)
        replaced by ``***``."""
        for secret in sorted({*self.secret_values(), *also}, key=len, reverse=True):
            if text and secret:
                text = text.replace(secret, "***")
        return text

    def __repr__(self) -> str:  # never the settings: they may resolve secrets
        return f"<{type(self).__name__} channel {self.name!r} type={self.type!r}>"

    @classmethod
    def validate_settings(cls, raw: Mapping[str, Any] | None, where: str) -> ValidatedSettings:
        return validate_settings(cls.settings_schema, raw, where)

    # --- the engine's entry point -------------------------------------------------------
    def send(
        self,
        operation: str,
        offers: Sequence[Offer],
        known_ids: Mapping[str, Mapping[str, str]] | None = None,
        expected: Mapping[str, int] | None = None,
        delisting: Iterable[str] = (),
        group_ids: Mapping[str, Mapping[str, str]] | None = None,
    ) -> list[ItemResult]:
        """Run one batch: one result per offer, in order. Raises ValueError for an operation
        this channel does not support, a batch above ``max_batch`` or a repeated SKU;
        ``Retriable`` or ``Fatal`` when the whole batch failed.

        ``known_ids`` are the remote ids earlier pushes recorded for these SKUs (product,
        variant, inventory item...); the module reads them as ``self.known_ids`` so it can
        update a listing without looking it up first. ``expected``: the quantity a
        compare-and-set channel should hold now, per SKU where the engine knows it (read as
        ``self.expected``); a SKU without one is written as it is. ``delisting``: the SKUs
        the catalog no longer offers (read as ``self.delisting``), sent with quantity 0; a
        channel that can delete a listing may do so instead. ``group_ids``: per item group
        of the batch, the remote ids recorded for its SKUs (read as ``self.group_ids``)."""
        method = OPERATIONS.get(operation)
        if method is None:
            raise ValueError(f"unknown operation {operation!r}; one of {', '.join(OPERATIONS)}")
        if operation not in self.supports:
            raise ValueError(f"channel type {self.type} does not support {operation}")
        if not offers:
            return []
        limit = self.max_batch.get(operation, 0)
        if len(offers) > limit:
            raise ValueError(
                f"{len(offers)} offers in one {operation} batch; {self.type} takes at most {limit}"
            )
        skus = [o.sku for o in offers]
        if len(set(skus)) != len(skus):
            raise ValueError(f"a {operation} batch repeats a SKU; each SKU must appear once")
        self.known_ids = {sku: dict(known_ids.get(sku, {})) for sku in skus} if known_ids else {}
        self.expected = {s: expected[s] for s in skus if s in expected} if expected else {}
        self.delisting = set(delisting) & set(skus)
        self.group_ids = {g: dict(ids) for g, ids in (group_ids or {}).items()}
        results = getattr(self, method)(list(offers))
        problems = result_problems(skus, results)
        if problems:
            raise Fatal(
                f"channel {self.name} ({self.type}): {method} broke its contract: "
                f"{problems[0]} (a bug in the channel module)"
            )
        return list(results)

    # --- what a channel module implements -------------------------------------------------
    def upsert_listings(self, offers: list[Offer]) -> list[ItemResult]:
        """Create or update the listing of each offer (title, description, images...)."""
        raise NotImplementedError(f"{self.type} does not implement upsert_listings")

    def update_prices(self, offers: list[Offer]) -> list[ItemResult]:
        """Set price (and sale price) of each offer's existing listing."""
        raise NotImplementedError(f"{self.type} does not implement update_prices")

    def update_quantities(self, offers: list[Offer]) -> list[ItemResult]:
        """Set the available quantity of each offer's existing listing."""
        raise NotImplementedError(f"{self.type} does not implement update_quantities")

    def update_prices_and_quantities(self, offers: list[Offer]) -> list[ItemResult]:
        """Set price (and sale price) and available quantity of each offer's existing listing
        in one write; a SKU's result holds for both."""
        raise NotImplementedError(f"{self.type} does not implement update_prices_and_quantities")

    def fetch_orders(self, since: datetime) -> Iterator[list[Order]]:
        """Pages of the orders created or changed at or after ``since``, each mapped to the
        common order model (``multichan.orders.model``); for a channel that supports orders."""
        raise NotImplementedError(f"{self.type} does not implement fetch_orders")

    def send_shipment(self, shipment: Any) -> ItemResult:
        """Send one shipment (``multichan.orders.shipments.Shipment``) through the module's
        ``ship``: the result is the shipment's, keyed by its key, with the channel's id of
        the fulfillment as ``remote_ids["fulfillment_id"]``. Raises ValueError when the
        channel does not take shipments; ``Retriable`` or ``Fatal`` when the call failed."""
        if "shipments" not in self.supports:
            raise ValueError(f"channel type {self.type} does not take shipments")
        result = self.ship(shipment)
        problems = result_problems([shipment.key], [result])
        if problems:
            raise Fatal(
                f"channel {self.name} ({self.type}): ship broke its contract: {problems[0]} "
                "(a bug in the channel module)"
            )
        return result

    def ship(self, shipment: Any) -> ItemResult:
        """For "shipments": tell the channel the parcel left (its lines, units, carrier and
        tracking), or, when ``shipment.remote_id`` is set, update that fulfillment's tracking.
        Idempotent: a fulfillment the channel already has for this parcel (found by its
        tracking number, or by lines left with nothing to fulfil) is answered, not made
        again. ``ItemResult.sku`` is ``shipment.key``."""
        raise NotImplementedError(f"{self.type} does not implement ship")

    # --- asynchronous jobs: the engine's entry points ----------------------------------------
    def use_job(self, operation: str, changes: int) -> bool:
        """Whether a push of ``changes`` changes of ``operation`` goes as jobs. The default:
        whenever the channel takes jobs for it; a channel with a faster call for a few items
        (Amazon's patchListingsItem) overrides this with its threshold."""
        return operation in self.job_batch

    def start_job(
        self,
        operation: str,
        offers: Sequence[Offer],
        known_ids: Mapping[str, Mapping[str, str]] | None = None,
    ) -> dict[str, str]:
        """Submit ``offers`` as one job of ``operation`` through the module's ``submit_job``;
        returns the job's ticket (what ``collect_job`` needs to find it again, str to str).
        Raises ValueError for an operation without jobs, a job above ``job_batch`` or a
        repeated SKU; ``Retriable`` or ``Fatal`` when the submission failed."""
        if operation not in self.job_batch:
            raise ValueError(f"channel type {self.type} takes no {operation} jobs")
        if operation not in self.supports:
            raise ValueError(f"channel type {self.type} does not support {operation}")
        limit = self.job_batch[operation]
        if not offers or len(offers) > limit:
            raise ValueError(
                f"{len(offers)} offers in one {operation} job; {self.type} takes 1 to {limit}"
            )
        skus = [o.sku for o in offers]
        if len(set(skus)) != len(skus):
            raise ValueError(f"a {operation} job repeats a SKU; each SKU must appear once")
        self.known_ids = {sku: dict(known_ids.get(sku, {})) for sku in skus} if known_ids else {}
        ticket = self.submit_job(operation, list(offers))
        if not (
            isinstance(ticket, dict)
            and ticket
            and all(isinstance(k, str) and isinstance(v, str) for k, v in ticket.items())
        ):
            raise Fatal(
                f"channel {self.name} ({self.type}): submit_job broke its contract: it must "
                "return a non-empty ticket mapping str to str (a bug in the channel module)"
            )
        return ticket

    def job_results(
        self, operation: str, ticket: Mapping[str, str], skus: Sequence[str]
    ) -> list[ItemResult] | None:
        """The results of the job ``ticket`` names, one per SKU of ``skus`` in the order it
        was submitted, or None while the channel is still working on it (``collect_job``).
        ``Retriable``/``Fatal`` when asking failed; a job the channel lost or refused as a
        whole is a result per SKU (rejected, retriable where sending again may pass)."""
        results = self.collect_job(operation, dict(ticket), list(skus))
        if results is None:
            return None
        problems = result_problems(list(skus), results)
        if problems:
            raise Fatal(
                f"channel {self.name} ({self.type}): collect_job broke its contract: "
                f"{problems[0]} (a bug in the channel module)"
            )
        return list(results)

    def job_now(self, operation: str, offers: list[Offer]) -> list[ItemResult]:
        """``offers`` as one job, looked at every ``job_poll`` seconds (through ``sleep``, the
        engine's) until done or ``job_wait`` passed (then each SKU retriable): for a module
        whose synchronous methods are its jobs."""
        ticket = self.submit_job(operation, offers)
        skus = [o.sku for o in offers]
        waited = 0.0
        while True:
            results = self.collect_job(operation, ticket, skus)
            if results is not None:
                return results
            if waited >= self.job_wait:
                job = ", ".join(ticket.values())
                why = f"{self.type} was still working on job {job} after {self.job_wait:g} s"
                return [ItemResult.rejected(s, f"{why}; sent again", retriable=True) for s in skus]
            self.sleep(self.job_poll)
            waited += self.job_poll

    # --- asynchronous jobs: what a channel module implements ----------------------------------
    def submit_job(self, operation: str, offers: list[Offer]) -> dict[str, str]:
        """Send ``offers`` as one job (Amazon: create a feed document, upload it, create the
        feed; Meta: one items_batch call) and return its ticket (the channel's job id and what
        else finding it needs). Must not wait for the job to finish."""
        raise NotImplementedError(f"{self.type} does not implement submit_job")

    def collect_job(
        self, operation: str, ticket: dict[str, str], skus: list[str]
    ) -> list[ItemResult] | None:
        """Look at the job once: None while it is still running; when it is done, a result
        per SKU of ``skus`` (the order it was submitted in), mapped from the channel's
        report (Amazon's processing report, Meta's batch status)."""
        raise NotImplementedError(f"{self.type} does not implement collect_job")

    # --- drift: what the channel shows now ---------------------------------------------------
    def remote_listings(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every listing the channel has now, as ``(sku, fields)``, read page by page through
        the shared client's paging helpers (``page_numbers``, ``offsets``, ``cursors``,
        ``next_links``), so at the channel's rate limit and with flat memory. ``fields`` uses
        Offer field names, only those the channel shows: ``title``, ``price`` and
        ``sale_price`` (decimal strings in the channel's currency; ``price`` is the regular
        price, ``sale_price`` the lower one shown, None when there is none), ``quantity``
        (an int, summed over the locations this channel's offers count; a channel with
        ``stock_by_location`` gives ``location_quantities`` instead, each catalog location it
        holds stock for -> its count) and ``listed`` (False
        for a listing that exists but is not for sale: inactive, ended, draft). A SKU on
        several listings is yielded once, the first time. Used by ``multichan drift``."""
        raise NotImplementedError(f"{self.type} cannot read its live listings")

    def fetch_remote(self, skus: Sequence[str]) -> dict[str, dict[str, Any]]:
        """What the channel shows now for ``skus`` (absent: no listing), as
        ``remote_listings`` gives it. A module whose API can look SKUs up directly overrides
        this; the default pages through every listing."""
        wanted, found = set(skus), {}
        for sku, fields in self.remote_listings():
            if sku in wanted and sku not in found:
                found[sku] = fields
                if len(found) == len(wanted):
                    break
        return found


def result_problems(skus: Sequence[str], results: Any) -> list[str]:
    """What is wrong with ``results`` as the answer to a batch of ``skus``; [] when nothing."""
    if not isinstance(results, list):
        return [f"returned {type(results).__name__}, not a list of ItemResult"]
    problems: list[str] = []
    if len(results) != len(skus):
        problems.append(f"returned {len(results)} results for {len(skus)} offers")
    for i, (sku, result) in enumerate(zip(skus, results, strict=False)):
        if not isinstance(result, ItemResult):
            problems.append(f"result {i} is a {type(result).__name__}, not an ItemResult")
            continue
        if result.sku != sku:
            problems.append(f"result {i} is for SKU {result.sku!r}, expected {sku!r}")
        if not isinstance(result.ok, bool):
            problems.append(f"result {i} ({sku}): ok is {result.ok!r}, not a bool")
        if not result.ok and not (isinstance(result.message, str) and result.message.strip()):
            problems.append(f"result {i} ({sku}) is rejected without a message")
        ids = result.remote_ids
        if not isinstance(ids, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in ids.items()
        ):
            problems.append(f"result {i} ({sku}): remote_ids must map str to str")
    return problems


# --- settings ------------------------------------------------------------------------------
ValidatedSettings = tuple[dict[str, Any], list[str]]
URL_RE = re.compile(r"^https?://[^\s/?#]+[^\s]*$")
SECRET_HINT = "must name an environment variable as ${VAR}, never hold the secret itself"


def validate_settings(
    schema: Mapping[str, SettingSpec], raw: Mapping[str, Any] | None, where: str
) -> ValidatedSettings:
    """Check ``raw`` (a channel's ``settings:`` mapping) against ``schema``.

    Returns the settings with defaults filled in and secrets as :class:`Secret`, plus every
    problem found, each starting with ``where`` (e.g. ``channels.yaml:14: channels.acme.settings``).
    A secret's value never appears in a problem.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        return {}, [f"{where} must be a mapping of keys"]
    out: dict[str, Any] = {}
    problems: list[str] = []
    for key in raw:
        if key not in schema:
            tail = did_you_mean(key, schema)
            known = ", ".join(schema) or "none"
            problems.append(f"{where}: unknown key {key!r} (known: {known}){tail}")
    for key, spec in schema.items():
        path = f"{where}.{key}"
        if key not in raw or raw[key] is None:
            if spec.required:
                need = "${VAR}" if spec.kind == "secret" else spec.kind
                problems.append(
                    f"{path} is required ({need}){': ' + spec.help if spec.help else ''}"
                )
            out[key] = spec.default
            continue
        value, problem = _value(spec.kind, raw[key], path)
        if problem:
            problems.append(f"{path} {problem}")
        out[key] = value
    return out, problems


def _value(kind: str, data: Any, path: str) -> tuple[Any, str | None]:
    if kind == "map":
        return _mapping(data)
    if kind == "secret":
        match = ENV_RE.match(data) if isinstance(data, str) else None
        if not match:
            return None, SECRET_HINT
        return Secret(match.group(1), path), None
    if isinstance(data, str) and ENV_RE.match(data):
        var = data[2:-1]
        if var not in os.environ:
            return None, f"names environment variable {var}, which is not set"
        data = os.environ[var]
    if kind == "bool":
        ok = isinstance(data, bool)
        return data, None if ok else f"must be true or false, not {data!r}"
    if kind == "int":
        if isinstance(data, str) and data.strip().isdigit():
            data = int(data)
        ok = isinstance(data, int) and not isinstance(data, bool)
        return data, None if ok else f"must be a whole number, not {data!r}"
    if isinstance(data, bool) or not isinstance(data, str | int | float):
        return None, f"must be text, not {data!r}"
    data = str(data)
    if kind == "url":
        if not URL_RE.match(data):
            return None, f"must be an http:// or https:// URL, not {data!r}"
        return data.rstrip("/"), None
    return data, None


def _mapping(data: Any) -> tuple[Any, str | None]:
    """A ``map`` setting: names to text (numbers are taken as written, e.g. category ids)."""
    if not isinstance(data, Mapping):
        return None, f"must be a mapping of names to values, not {data!r}"
    out: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
            return None, f"[{key!r}] must be text or a whole number, not {value!r}"
        out[str(key)] = str(value).strip()
    return out, None
