"""Helpers of the push benchmark: a recording HTTP session, what each request is (a write of
which kind, or a read), the engine's clock and sleep seen from outside, and the write requests
the APIs allow at the least (``floor``) and the channels' design makes (``design_writes``).

Nothing here changes what multichan sends: the session is a plain ``requests.Session`` that
notes method, path, kind and timing of each request it passes on; the pacing hooks wrap the
engine's own clock and sleep (optionally running time ``scale`` times faster for ``--fast``).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from multichan.channels import shopify_queries as q
from multichan.channels.base import JOINT
from multichan.channels.woocommerce import LIMIT as WOO_LIMIT
from multichan.sync.batching import joint_pairs
from multichan.sync.batching import sends as engine_sends

KINDS = ("listings", "prices", "quantities")


def rows(cls: Any, plan: Any) -> list[tuple[str, list[Any], list[Any]]]:
    """(kind, its changes, the changes sent as that kind) per table row. A channel that writes
    price and stock in one call (JOINT) gets the SKUs whose both changed in a row of their
    own, sent neither as prices nor as quantities; the issue's minimum stays per kind."""
    joined: set[str] = set()
    if JOINT in cls.supports:  # nothing was refused before in the bench
        pairs = joint_pairs(plan.by_kind("prices"), plan.by_kind("quantities"), lambda _: False)
        joined = set(pairs)
    found = []
    for kind in KINDS:
        changes = plan.by_kind(kind)
        found.append(
            (kind, changes, [c for c in changes if kind == "listings" or c.sku not in joined])
        )
    if joined:
        found.append((JOINT, [], [c for c in plan.by_kind("prices") if c.sku in joined]))
    return found


Classify = Callable[[str, str, Any], tuple[str, str | None]]  # -> ("write"|"read", kind|None)


@dataclass
class Call:
    start: float
    end: float
    method: str
    path: str
    what: str  # write or read
    kind: str | None  # the kind of a write; a read gets the kind of the send it served
    status: int


class Recorder(requests.Session):
    """A requests.Session that records every request the channel makes through it."""

    def __init__(self, classify: Classify) -> None:
        super().__init__()
        self.classify = classify
        self.calls: list[Call] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        start = time.monotonic()
        status = 0
        try:
            response = super().request(method, url, *args, **kwargs)
            status = response.status_code
            return response
        finally:
            path = urlsplit(str(url)).path
            what, kind = self.classify(str(method).upper(), path, kwargs.get("json"))
            self.calls.append(Call(start, time.monotonic(), str(method), path, what, kind, status))

    def attributed(self) -> list[Call]:
        """The calls, each read given the kind of the next write (else of the last one): every
        channel reads what it needs for a send before that send's write. A read whose
        classifier named its kind already (the marketplaces' operation tag) keeps it."""
        calls = list(self.calls)
        following: str | None = None
        for call in reversed(calls):
            if call.what == "write":
                following = call.kind
            elif following is not None and call.kind is None:  # a tagged read keeps its kind
                call.kind = following
        last: str | None = None
        for call in calls:
            if call.kind is None:
                call.kind = last
            last = call.kind
        return calls


# --- what a request is, per channel ---------------------------------------------------------------
def shopify(method: str, path: str, body: Any) -> tuple[str, str | None]:
    op = str((body or {}).get("operationName"))
    if op.startswith("MultichanPrices"):  # MultichanPrices<n>: n products' prices
        return "write", "prices"
    writes = {"MultichanProductSet": "listings", "MultichanQuantities": "quantities"}
    return ("write", writes[op]) if op in writes else ("read", None)


def woocommerce(method: str, path: str, body: Any) -> tuple[str, str | None]:
    if method == "GET" or not path.endswith("/batch") or not isinstance(body, dict):
        return "read", None
    objects = [*(body.get("create") or []), *(body.get("update") or [])]
    keys = set().union(*(set(o) for o in objects)) - {"id"} if objects else set()
    prices, stock = {"regular_price", "sale_price"}, {"manage_stock", "stock_quantity"}
    if keys and keys <= prices:
        return "write", "prices"
    if keys and keys <= stock:
        return "write", "quantities"
    if keys and keys <= prices | stock:
        return "write", JOINT
    return "write", "listings"


def square(method: str, path: str, body: Any) -> tuple[str, str | None]:
    if path.endswith("/inventory/changes/batch-create"):
        return "write", "quantities"
    if path.endswith("/catalog/batch-upsert"):
        types = {o.get("type") for b in (body or {}).get("batches", []) for o in b["objects"]}
        return "write", "prices" if types == {"ITEM_VARIATION"} else "listings"
    return "read", None


CLASSIFY: dict[str, Classify] = {
    "shopify": shopify, "woocommerce": woocommerce, "square": square,
}  # fmt: skip


# --- the engine's time -------------------------------------------------------------------------
@dataclass
class EngineTime:
    """Clock and sleep for ``Pacing``: notes when the engine starts sending (its token bucket
    reads the clock first when push_plan begins, after the plan is made) and how long it slept.
    ``scale`` > 1 makes the engine's time run that much faster (rate limits x scale)."""

    scale: float = 1.0
    first: float | None = None
    slept: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        now = time.monotonic()
        if self.first is None:
            self.first = now
        return now * self.scale

    def sleep(self, seconds: float) -> None:
        real = seconds / self.scale
        self.sleeps.append(real)
        self.slept += real
        time.sleep(real)


def bucket_bound(requests_: int, rps: float, burst: int) -> float:
    """Seconds a token bucket (``burst`` at once, then ``rps``) needs for ``requests_`` requests
    that take no time themselves: the floor the declared rate limit puts under a push."""
    return max(0, requests_ - burst) / rps


def minimum(changed: int, max_batch: int) -> int:
    return math.ceil(changed / max_batch) if changed else 0


# --- what the APIs and the channels' design imply ------------------------------------------
def design_writes(cls: Any, kind: str, changes: list[Any]) -> tuple[int, int]:
    """(sends, write requests) the engine and the channel module make for these changes, from
    how they are written: the engine cuts the changes into sends (``sync.push.sends``: a
    product's variants together where the channel writes per product, else in SKU order);
    Shopify packs a send's prices as its module does (q.price_requests: 100 products and 250
    variants a request); WooCommerce one batch per parent (variations) plus one for simple
    products in each send; else one per send. Listings are not modelled (none change here)."""
    total = 0
    sends = engine_sends(cls, kind, changes)
    for part in sends:
        products: dict[str, list[Any]] = {}
        for c in part:
            products.setdefault(c.offer.item_group_id or c.offer.sku, []).append(c.offer)
        if cls.type == "shopify" and kind == "prices":
            total += len(q.price_requests(list(products.values())))
        elif cls.type == "woocommerce" and kind in ("prices", "quantities", JOINT):
            groups = {c.offer.item_group_id for c in part if c.offer.item_group_id}
            total += len(groups) + any(not c.offer.item_group_id for c in part)
        else:
            total += 1
    return len(sends), total


def floor(channel_type: str, kind: str, changes: list[Any], size: int) -> int:
    """The fewest write requests the API itself allows, whatever multichan does. Where it
    batches across products that is the issue's minimum, ceil(changed / max_batch). Shopify's
    price mutation takes one product: 100 aliased in a request (10 points each, 1,000 a
    request) and 250 variants; a productSet (listings) is one product. WooCommerce batches
    variations per parent only (products/<id>/variations/batch; products/batch refuses
    variation ids: woocommerce/woocommerce #29341, #31282), 100 objects a request; parents of
    listings go in products/batch with the simple products."""
    products = Counter(c.offer.item_group_id or c.offer.sku for c in changes)
    if channel_type == "shopify" and kind == "prices":
        return max(minimum(len(changes), q.MAX_INPUT), minimum(len(products), q.MAX_MUTATIONS))
    if channel_type == "shopify" and kind == "listings":
        return len(products)
    if channel_type == "woocommerce":
        parents = Counter(c.offer.item_group_id for c in changes if c.offer.item_group_id)
        simple = len(changes) - sum(parents.values())
        variations = sum(minimum(n, WOO_LIMIT) for n in parents.values())
        objects = simple + (len(parents) if kind == "listings" else 0)
        return variations + minimum(objects, WOO_LIMIT)
    return minimum(len(changes), size)
