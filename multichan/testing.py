"""The channel conformance suite: checks any Channel module (ours or a third party's) can run.

Two ways to use it. As a function, ``check_channel(cls, make_channel, offers)`` returns the
problems found, one readable line each, [] when the module conforms. From pytest, subclass
:class:`ChannelConformance` in a ``Test...`` class and provide two fixtures::

    class TestAcme(ChannelConformance):
        @pytest.fixture
        def channel_class(self):
            return AcmeMarket

        @pytest.fixture
        def channel(self, acme_server):
            return AcmeMarket("acme", {"base_url": acme_server.url, ...})

The checks send real batches through ``channel.send``, so point the channel at a test server.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

from multichan.channels.base import (
    CAPABILITIES,
    KINDS,
    OPERATIONS,
    Channel,
    RateLimit,
    SettingSpec,
    result_problems,
)
from multichan.offers import Offer

_PRODUCTS = [
    ("TEE", "Organic Cotton Tee", "Apparel > Shirts", "29.00", "Northwind"),
    ("HOOD", "Heavyweight Hoodie", "Apparel > Sweatshirts", "64.50", "Northwind"),
    ("MUG", "Enamel Camp Mug 350 ml", "Home > Kitchen", "14.95", "Trailhead"),
    ("CAP", "Waxed Canvas Cap", "Apparel > Hats", "24.00", "Northwind"),
    ("BTL", "Insulated Bottle 750 ml", "Outdoor > Hydration", "32.99", "Trailhead"),
]
_COLORS = ["Black", "Navy", "Olive", "Sand"]


def sample_offers(n: int = 5, currency: str = "USD") -> list[Offer]:
    """``n`` realistic offers with distinct SKUs, as the rules engine would build them."""
    offers = []
    for i in range(n):
        code, title, ptype, price, brand = _PRODUCTS[i % len(_PRODUCTS)]
        color = _COLORS[(i // len(_PRODUCTS)) % len(_COLORS)]
        sku = f"NW-{code}-{color[:3].upper()}-{i:03d}"
        quantity = (i * 7) % 13
        offers.append(
            Offer(
                sku=sku, item_group_id=f"NW-{code}", title=f"{title} - {color}",
                description=f"{title} in {color.lower()}. Made to last; ships in 2 days.",
                link=f"https://shop.example.com/products/{code.lower()}?variant={sku}",
                image_link=f"https://cdn.example.com/{code.lower()}/{color.lower()}.jpg",
                additional_image_links=[f"https://cdn.example.com/{code.lower()}/detail.jpg"],
                brand=brand, gtin=None, mpn=sku, condition="new", price=Decimal(price),
                sale_price=Decimal(price) - Decimal("5.00") if i % 4 == 3 else None,
                currency=currency, quantity=quantity,
                availability="in_stock" if quantity > 0 else "out_of_stock",
                location_quantities={"warehouse": quantity}, product_type=ptype,
                google_product_category=None, color=color, size="M" if "Apparel" in ptype else None,
                material=None, pattern=None, gender=None, age_group=None, weight_grams=250 + i,
                tags=["sample"],
            )
        )  # fmt: skip
    return offers


def declaration_problems(cls: type[Channel]) -> list[str]:
    """What is wrong with the class attributes a channel declares."""
    problems: list[str] = []
    name = getattr(cls, "type", None)
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        problems.append(f"type {name!r} must be a non-empty lower-case identifier")
    supports = getattr(cls, "supports", None)
    if not isinstance(supports, frozenset | set) or not supports <= CAPABILITIES:
        problems.append(f"supports {supports!r} must be a subset of {sorted(CAPABILITIES)}")
        supports = frozenset()
    for op in sorted(supports & set(OPERATIONS)):
        size = cls.max_batch.get(op) if isinstance(cls.max_batch, Mapping) else None
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            problems.append(f"max_batch[{op!r}] must be a positive whole number, not {size!r}")
        method = OPERATIONS[op]
        if getattr(cls, method) is getattr(Channel, method):
            problems.append(f"supports {op} but does not implement {method}")
    caps = getattr(cls, "max_groups", {})
    for op, cap in caps.items() if isinstance(caps, Mapping) else [("*", caps)]:
        if op not in supports or not isinstance(cap, int) or isinstance(cap, bool) or cap < 1:
            problems.append(f"max_groups[{op!r}] must be a positive whole number for a "
                            f"supported operation, not {cap!r}")  # fmt: skip
    grouped: object = getattr(cls, "grouped", frozenset())
    if not isinstance(grouped, frozenset | set) or not set(grouped) <= set(OPERATIONS):
        problems.append(f"grouped {grouped!r} must be a set of operations {sorted(OPERATIONS)}")
    rate = getattr(cls, "rate_limit", None)
    if not isinstance(rate, RateLimit) or rate.requests_per_second <= 0 or rate.burst < 1:
        problems.append(f"rate_limit {rate!r} must be a RateLimit with positive values")
    for key, spec in dict(getattr(cls, "settings_schema", {}) or {}).items():
        if not isinstance(spec, SettingSpec):
            problems.append(f"settings_schema[{key!r}] is not a SettingSpec")
        elif not str(key).isidentifier():
            problems.append(f"settings_schema key {key!r} is not an identifier")
        elif spec.kind not in KINDS:
            problems.append(f"settings_schema[{key!r}].kind {spec.kind!r} not in {KINDS}")
        elif spec.kind == "secret" and spec.default is not None:
            problems.append(f"settings_schema[{key!r}] is a secret and must have no default")
    env = getattr(cls, "credential_env", ())
    if not isinstance(env, tuple) or not all(isinstance(v, str) and v.isidentifier() for v in env):
        problems.append(f"credential_env {env!r} must be a tuple of variable names")
    return problems


def secrets_problems(channel: Channel) -> list[str]:
    shown = f"{channel!r} {channel!s}"
    if any(secret in shown for secret in channel.secret_values()):
        return ["repr(channel) shows a secret from its settings"]
    return []


def _more(offers: Sequence[Offer], n: int) -> list[Offer]:
    """``n`` offers with distinct SKUs, repeating ``offers`` when there are fewer."""
    base = list(offers) or sample_offers(1)
    return [
        dataclasses.replace(base[i % len(base)], sku=f"{base[i % len(base)].sku}-{i}")
        if i >= len(base)
        else base[i]
        for i in range(n)
    ]


def batch_problems(channel: Channel, offers: Sequence[Offer]) -> list[str]:
    """Send one batch per supported operation and check the answers."""
    problems: list[str] = []
    secrets = channel.secret_values()
    for op in sorted(channel.supports & set(OPERATIONS)):
        method = OPERATIONS[op]
        limit = channel.max_batch.get(op, 0)
        if not isinstance(limit, int) or limit < 1:
            continue  # reported by declaration_problems
        batch = _more(offers, min(len(offers), limit)) if offers else []
        try:
            results = getattr(channel, method)(batch)
        except Exception as exc:
            problems.append(f"{op}: {method} raised {type(exc).__name__}: {exc}")
            continue
        problems += [
            f"{op}: {method} {p}" for p in result_problems([o.sku for o in batch], results)
        ]
        for r in results if isinstance(results, list) else []:
            if any(s in str(getattr(r, "message", "")) for s in secrets):
                problems.append(f"{op}: the result for {r.sku} shows a secret in its message")
        try:
            if channel.send(op, []) != []:
                problems.append(f"{op}: an empty batch must return []")
        except Exception as exc:
            problems.append(f"{op}: an empty batch raised {type(exc).__name__}: {exc}")
        try:
            channel.send(op, _more(offers, limit + 1))
            problems.append(f"{op}: a batch of {limit + 1} (max_batch + 1) was accepted")
        except ValueError:
            pass
        except Exception as exc:
            problems.append(f"{op}: max_batch + 1 raised {type(exc).__name__}, not ValueError")
    return problems


LISTING_FIELDS = frozenset(
    {"title", "price", "sale_price", "quantity", "location_quantities", "listed"}
)


def _field_problems(sku: object, fields: object) -> list[str]:
    """What is wrong with one ``(sku, fields)`` of ``remote_listings``."""
    if not isinstance(sku, str) or not sku:
        return [f"remote_listings yielded the SKU {sku!r}, not a non-empty str"]
    if not isinstance(fields, Mapping):
        return [f"remote_listings: {sku}: fields are a {type(fields).__name__}, not a mapping"]
    problems = [f"remote_listings: {sku}: unknown field {k!r}" for k in fields
                if k not in LISTING_FIELDS]  # fmt: skip
    for name in ("price", "sale_price"):
        value = fields.get(name)
        if name in fields and value is not None and not _decimal_text(value):
            problems.append(f"remote_listings: {sku}: {name} {value!r} is not a decimal string")
    quantity = fields.get("quantity")
    if quantity is not None and (isinstance(quantity, bool) or not isinstance(quantity, int)):
        problems.append(f"remote_listings: {sku}: quantity {quantity!r} is not an int")
    by_location = fields.get("location_quantities")
    if by_location is not None and not (
        isinstance(by_location, Mapping)
        and all(isinstance(k, str) and type(v) is int for k, v in by_location.items())
    ):
        problems.append(
            f"remote_listings: {sku}: location_quantities {by_location!r} is not a mapping of "
            "location to int"
        )
    if "listed" in fields and not isinstance(fields["listed"], bool):
        problems.append(f"remote_listings: {sku}: listed {fields['listed']!r} is not a bool")
    if "title" in fields and not isinstance(fields["title"], str | None):
        problems.append(f"remote_listings: {sku}: title {fields['title']!r} is not a str")
    return problems


def _decimal_text(value: object) -> bool:
    try:
        return isinstance(value, str) and Decimal(value).is_finite()
    except ArithmeticError:
        return False


def listing_problems(channel: Channel, offers: Sequence[Offer]) -> list[str]:
    """Push ``offers`` (each supported kind, with the ids the channel answered), then read
    ``remote_listings``: every SKU the channel accepted must be there once, with its price
    (``price`` the regular one and ``sale_price`` the sale, or, for a channel that shows one
    price, what is charged) and its quantity (or, for a channel that shows stock per
    location, each location's), and listed; every entry well typed. A channel whose type does
    not implement ``remote_listings`` (drift cannot read it) fails."""
    if type(channel).remote_listings is Channel.remote_listings:
        return [f"{channel.type} does not implement remote_listings (multichan drift)"]
    ids: dict[str, dict[str, str]] = {}
    accepted = {o.sku for o in offers}
    for kind in ("listings", "prices", "quantities"):
        if kind not in channel.supports:
            continue
        limit = channel.max_batch.get(kind, 1)
        for start in range(0, len(offers), limit):
            part = list(offers[start : start + limit])
            for r in channel.send(kind, part, known_ids=ids):
                ids.setdefault(r.sku, {}).update(r.remote_ids)
                if not r.ok:
                    accepted.discard(r.sku)
    problems: list[str] = []
    found: dict[str, Mapping[str, object]] = {}
    for sku, fields in channel.remote_listings():
        problems += _field_problems(sku, fields)
        if sku in accepted and isinstance(fields, Mapping):
            found.setdefault(sku, fields)
    for offer in offers:
        if offer.sku not in accepted:
            continue
        shown = found.get(offer.sku)
        if shown is None:
            problems.append(f"remote_listings: {offer.sku} was accepted but is not listed")
            continue
        problems += _pushed_problems(offer, shown, channel.supports)
    return problems


def _pushed_problems(
    offer: Offer, fields: Mapping[str, object], supports: frozenset[str]
) -> list[str]:
    problems = []
    price = fields.get("price")
    if "prices" in supports and "price" in fields:
        want = offer.price if "sale_price" in fields else (offer.sale_price or offer.price)
        if not _decimal_text(price) or Decimal(str(price)) != want:
            problems.append(f"remote_listings: {offer.sku}: price {price!r}, pushed {want}")
        sale = fields.get("sale_price")
        if "sale_price" in fields and (
            (sale is None) != (offer.sale_price is None)
            or (sale is not None and Decimal(str(sale)) != offer.sale_price)
        ):
            problems.append(
                f"remote_listings: {offer.sku}: sale_price {sale!r}, pushed {offer.sale_price}"
            )
    if "quantities" in supports and "quantity" in fields and fields["quantity"] != offer.quantity:
        problems.append(
            f"remote_listings: {offer.sku}: quantity {fields['quantity']!r}, pushed "
            f"{offer.quantity}"
        )
    shown = fields.get("location_quantities")
    if "quantities" in supports and isinstance(shown, Mapping):
        for loc, qty in shown.items():
            if qty != max(offer.location_quantities.get(str(loc), 0), 0):
                problems.append(
                    f"remote_listings: {offer.sku}: quantity at {loc} {qty!r}, pushed "
                    f"{offer.location_quantities.get(str(loc), 0)}"
                )
    if fields.get("listed") is False and offer.quantity > 0:
        problems.append(f"remote_listings: {offer.sku}: pushed, in stock, but not listed")
    return problems


def check_channel(
    channel_cls: type[Channel],
    make_channel: Callable[[], Channel],
    sample: Sequence[Offer] | None = None,
) -> list[str]:
    """Every conformance problem of ``channel_cls``; [] when it conforms."""
    problems = declaration_problems(channel_cls)
    channel = make_channel()
    if not isinstance(channel, channel_cls):
        return [*problems, f"make_channel() returned {type(channel).__name__}, not the class"]
    offers = list(sample) if sample is not None else sample_offers(5)
    return problems + secrets_problems(channel) + batch_problems(channel, offers)


class ChannelConformance:
    """Mix into a ``Test...`` class; provide ``channel_class`` and ``channel`` fixtures.
    Override ``sample`` to send other offers (default: five from :func:`sample_offers`)."""

    sample_size = 5

    def sample(self) -> list[Offer]:
        return sample_offers(self.sample_size)

    def test_declarations(self, channel_class: type[Channel]) -> None:
        assert declaration_problems(channel_class) == []

    def test_secrets_stay_hidden(self, channel: Channel) -> None:
        assert secrets_problems(channel) == []

    def test_batches(self, channel: Channel) -> None:
        assert batch_problems(channel, self.sample()) == []

    def test_remote_listings(self, channel: Channel) -> None:
        """What drift reads: every pushed SKU with its price and quantity (see
        :func:`listing_problems`; nothing to check for a channel that cannot read them)."""
        problems = listing_problems(channel, self.sample())
        assert problems == [], "\n".join(problems)

    def test_send_refuses_unsupported_operations(self, channel: Channel) -> None:
        for op in set(OPERATIONS) - channel.supports:
            try:
                channel.send(op, self.sample()[:1])
            except ValueError:
                continue
            raise AssertionError(f"send({op!r}) was accepted but {op} is not supported")


# --- orders -----------------------------------------------------------------------------------
PlaceOrder = Callable[[list[tuple[str, int]], str], str | None]


def order_problems(
    channel: Channel, place: PlaceOrder, skus: Sequence[str], per_page: int
) -> list[str]:
    """Check ``fetch_orders`` of an orders channel against a test server holding no orders
    yet. ``place(lines, status)`` places an order on the server (lines of (SKU, units);
    ``status`` one of pending, open, cancelled) and returns the channel's order id, or None
    for a status the channel has no orders of (a till has no unpaid orders);
    ``per_page`` is how many orders one page of the channel holds, so that the check can
    place enough of them to need several pages."""
    from datetime import UTC, datetime, timedelta

    from multichan.orders.model import HOLDING, STATUSES, Order

    problems: list[str] = []
    if "orders" not in channel.supports:
        return ["the channel does not declare 'orders' in supports"]
    if (
        not isinstance(channel.order_overlap, timedelta)
        or channel.order_overlap.total_seconds() < 0
    ):
        problems.append("order_overlap must be a timedelta of zero or more")
    start = datetime.now(UTC) - timedelta(minutes=1)
    wanted = {"pending": "pending", "open": "open", "cancelled": "cancelled"}
    placed: dict[str, str] = {}
    for i in range(per_page * 2 + 1):  # three pages at least
        status = list(wanted)[i % 3]
        order_id = place([(skus[i % len(skus)], 1 + i % 3)], status)
        if order_id is not None:
            placed[order_id] = status

    def read(since: datetime) -> tuple[list[Order], int, list[str]]:
        seen: list[Order] = []
        pages = 0
        found: list[str] = []
        try:
            for page in channel.fetch_orders(since):
                pages += 1
                if not isinstance(page, list):
                    found.append(f"fetch_orders yielded a {type(page).__name__}, not a list")
                    break
                seen += page
        except Exception as exc:
            found.append(f"fetch_orders raised {type(exc).__name__}: {exc}")
        return seen, pages, found

    seen, pages, found = read(start)
    problems += found
    ids = [o.order_id for o in seen if isinstance(o, Order)]
    if len(seen) != len(ids):
        problems.append("fetch_orders yielded something that is not an Order")
    missing = sorted(set(placed) - set(ids))
    if missing:
        problems.append(f"{len(missing)} placed order(s) never came back, e.g. {missing[0]}")
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        problems.append(f"order {repeated[0]} came back on more than one page")
    if pages < 2 and len(placed) > per_page:
        problems.append(f"{len(placed)} orders came in {pages} page(s); per_page is {per_page}")
    orders = [o for o in seen if isinstance(o, Order)]
    stamps = [o.updated_at for o in orders]
    if channel.orders_sorted and stamps != sorted(stamps):
        problems.append("orders_sorted is declared but pages are not oldest change first")
    for o in orders:
        if o.status not in STATUSES:
            problems.append(f"order {o.order_id}: status {o.status!r} is not one of {STATUSES}")
        expected = placed.get(o.order_id)
        if expected and (o.status in HOLDING) != (wanted[expected] in HOLDING):
            problems.append(f"order {o.order_id} was placed {expected} but maps to {o.status}")
        if expected == "cancelled" and o.status != "cancelled":
            problems.append(f"order {o.order_id} was cancelled but maps to {o.status}")
        line_ids = [line.line_id for line in o.lines]
        if len(set(line_ids)) != len(line_ids):
            problems.append(f"order {o.order_id} repeats a line id")
        for line in o.lines:
            counts = (line.ordered, line.unshipped, line.shipped, line.returned, line.refunded)
            if any(not isinstance(n, int) or n < 0 for n in counts):
                problems.append(f"order {o.order_id} line {line.line_id}: counts {counts} must "
                                "be whole numbers of zero or more")  # fmt: skip
            if line.sku not in skus and not line.problem and line.sku is not None:
                problems.append(f"order {o.order_id} line {line.line_id}: SKU {line.sku!r} "
                                "was never ordered")  # fmt: skip
    later = max(stamps, default=start) + timedelta(seconds=1)
    again, _, found = read(later + channel.order_overlap)
    problems += found
    if again:
        problems.append(
            f"fetch_orders(after the last change) returned {len(again)} order(s); the cursor "
            "must skip orders that did not change since"
        )
    return problems


class OrdersConformance:
    """Mix into a ``Test...`` class for a channel that supports orders; provide the fixtures
    ``order_channel`` (a channel on a test server holding no orders), ``place_order`` (see
    :func:`order_problems`) and ``order_skus`` (SKUs the server knows), and set ``per_page``."""

    per_page = 10

    def test_orders(
        self, order_channel: Channel, place_order: PlaceOrder, order_skus: Sequence[str]
    ) -> None:
        problems = order_problems(order_channel, place_order, order_skus, self.per_page)
        assert not problems, "\n".join(problems)
