"""The Square channel: every request checked against Square's published contract (Prism), the
ids, versions and counts a real store would end up with (the Square double), batch limits from
Square's documentation, and the split of failures into rejections, Retriable and Fatal."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from multichan.channels import registry, square_orders
from multichan.channels.base import Channel, Fatal, Retriable, retry_after
from multichan.channels.square import (
    NOT_LISTED,
    Square,
    description_html,
    minor_units,
    names,
)
from multichan.offers import Offer
from multichan.testing import ChannelConformance, OrdersConformance, sample_offers
from tests.channels.square_conftest import TOKEN, SquareDouble
from tests.prism import Prism

UPSERT, RETRIEVE = "/v2/catalog/batch-upsert", "/v2/catalog/batch-retrieve"
INVENTORY = "/v2/inventory/changes/batch-create"
# ids in the examples of Square's contract, which Prism answers with: Tea (one variation), Coffee
TEA, TEA_MUG = "W62UWFY35CWMYGVWK6TWJDNI", "2TZFAOHWGG7PAK2QEXWYPZSP"
COFFEE, COFFEE_VARS = (
    "AA27W3M2GGTF3H6AVPNB77CK",
    ["LBTYIHNHU52WOIHWT7SNRIYH", "PKYIC7HGGKW5CYVSCVDEIMHY"],
)


def make(url: str, session: Any, **extra: Any) -> Square:
    raw = {"base_url": url, "token": "${SQUARE_TOKEN}", "location_id": "L8XQ2", **extra}
    cls = registry.load("square")  # through the entry point, as channels.yaml would
    settings, problems = cls.validate_settings(raw, "channels.yaml:12: channels.pos.settings")
    assert problems == []
    channel = cls("pos", settings, session=session)
    assert isinstance(channel, Square)
    channel.sleep = lambda seconds: None  # the client's waits between attempts
    return channel


def variants(group: str, colours: list[str], price: str = "40.00") -> list[Offer]:
    base = sample_offers(1)[0]
    return [
        dataclasses.replace(base, sku=f"{group}-{c[:3].upper()}", item_group_id=group,
                            title=f"Trail Jacket - {c} / M", color=c, size="M",
                            price=Decimal(price), sale_price=None, quantity=3 + i)
        for i, c in enumerate(colours)
    ]  # fmt: skip


class Strict(requests.Session):
    """A session that records what it sent, and every answer of 400 or above as a request
    that broke the contract; with ``drop_auth`` it sends no Authorization header at all."""

    def __init__(self, drop_auth: bool = False) -> None:
        super().__init__()
        self.drop_auth = drop_auth
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.refused: list[str] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if self.drop_auth:
            kwargs["headers"] = {k: v for k, v in kwargs["headers"].items() if k != "Authorization"}
        response = super().request(method, url, *args, **kwargs)
        self.sent.append((urlsplit(str(url)).path, kwargs["json"]))
        if response.status_code >= 400:
            violations = response.headers.get("sl-violations") or response.text[:400]
            self.refused.append(f"{response.status_code} {url}: {violations}")
        return response


@pytest.fixture
def square_double(shared_square: SquareDouble, monkeypatch: pytest.MonkeyPatch) -> SquareDouble:
    """The session's Square double, emptied, checking nothing; ``SQUARE_TOKEN`` is set."""
    shared_square.reset()
    monkeypatch.setenv("SQUARE_TOKEN", TOKEN)
    return shared_square


@pytest.fixture
def square_api(square_double: SquareDouble, square_prism: Prism) -> Iterator[SquareDouble]:
    """The double checking every request against Square's contract (Prism) before answering;
    the test fails when any request broke the contract."""
    square_double.reset(validate=square_prism.url)
    yield square_double
    assert square_double.violations == []


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


@pytest.fixture
def strict(monkeypatch: pytest.MonkeyPatch) -> Iterator[Strict]:
    monkeypatch.setenv("SQUARE_TOKEN", TOKEN)
    with Strict() as s:
        yield s
    assert s.refused == []  # Prism found no request that breaks Square's contract


# --- against Square's contract, served by Prism ------------------------------------------------
class TestSquareConformance(ChannelConformance):
    sample_size = 8

    @pytest.fixture
    def channel_class(self) -> type[Channel]:
        return registry.load("square")

    @pytest.fixture
    def channel(self, square_prism: Prism, strict: Strict) -> Channel:
        return make(square_prism.url, strict)


def test_every_request_is_valid_for_squares_contract(square_prism: Prism, strict: Strict) -> None:
    channel = make(square_prism.url, strict)
    offers = sample_offers(12) + variants("JKT", ["Black", "Moss", "Rust"])
    new = channel.send("listings", offers)
    # Prism answers with the contract's example, whose id_mappings are not ours: nothing recorded
    assert {r.ok for r in new} == {False} and all(r.retriable for r in new)
    assert new[0].message == "Square's answer has no id for #NW-TEE-BLA-000; nothing recorded"
    [(path, body)] = strict.sent
    assert path == UPSERT and re.fullmatch(r"[0-9a-f]{64}", body["idempotency_key"])
    items = [b["objects"][0] for b in body["batches"]]
    assert len(items) == 6  # five sample groups and the jacket, one batch each
    jacket = items[-1]
    assert jacket["id"] == "#item:JKT" and jacket["item_data"]["name"] == "Trail Jacket"
    [black, *_] = jacket["item_data"]["variations"]
    assert black["id"] == "#JKT-BLA" and black["item_variation_data"] == {
        "item_id": "#item:JKT", "name": "Black / M", "sku": "JKT-BLA",
        "pricing_type": "FIXED_PRICING", "price_money": {"amount": 4000, "currency": "USD"},
        "track_inventory": True,
    }  # fmt: skip
    tee = items[0]["item_data"]
    assert tee["description_html"] == (
        "<p>Organic Cotton Tee in black. Made to last; ships in 2 days.</p>"
    )
    sale = next(o for o in offers if o.sale_price is not None)
    sale_var = next(i for i in items if i["id"] == f"#item:{sale.item_group_id}")
    [sale_variation] = [v for v in sale_var["item_data"]["variations"] if v["id"] == f"#{sale.sku}"]
    money = sale_variation["item_variation_data"]["price_money"]
    assert money["amount"] == int(sale.sale_price * 100)  # the till charges the sale price

    # SKUs whose ids an earlier push recorded: read from Square first, then written back
    known = {offers[0].sku: {"item_id": TEA, "variation_id": TEA_MUG}}
    known |= {
        o.sku: {"item_id": COFFEE, "variation_id": v}
        for o, v in zip(offers[1:3], COFFEE_VARS, strict=True)
    }
    strict.sent.clear()
    for op in ("listings", "prices", "quantities"):
        results = channel.send(op, offers[:4], known)
        assert [r.ok for r in results] == [True, True, True, False]  # the cap was never listed
        assert results[1].remote_ids["variation_id"] == COFFEE_VARS[0]
    assert [p for p, _ in strict.sent] == [RETRIEVE, UPSERT, RETRIEVE, UPSERT, INVENTORY]
    coffee = strict.sent[1][1]["batches"][1]["objects"][0]
    assert coffee["version"] == 1479335124878  # the version Square holds, as Square requires
    assert [v["id"] for v in coffee["item_data"]["variations"]] == COFFEE_VARS
    prices = [b["objects"][0] for b in strict.sent[3][1]["batches"]]
    assert [p["type"] for p in prices] == ["ITEM_VARIATION"] * 3
    changes = strict.sent[4][1]["changes"]
    assert changes[0]["physical_count"] | {"occurred_at": "-"} == {
        "catalog_object_id": TEA_MUG, "state": "IN_STOCK", "location_id": "L8XQ2",
        "quantity": str(offers[0].quantity), "occurred_at": "-", "reference_id": offers[0].sku,
    }  # fmt: skip


def test_a_missing_authorization_header_is_fatal_and_names_the_variable(
    square_prism: Prism, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SQUARE_TOKEN", TOKEN)
    with Strict(drop_auth=True) as bare:
        channel = make(square_prism.url, bare)
        with pytest.raises(Fatal) as caught:
            channel.send("quantities", sample_offers(2), {"NW-TEE-BLA-000": {"variation_id": "V"}})
    assert bare.refused and "401" in bare.refused[0]  # Prism enforces the contract's OAuth2
    assert "$SQUARE_TOKEN" in str(caught.value) and TOKEN not in str(caught.value)
    assert caught.value.exit_code == 5


# --- what a store ends up with (the double, every request checked by Prism) -------------------
def test_listings_prices_and_stock_end_up_in_the_store(square_api: SquareDouble, session) -> None:
    channel = make(square_api.url, session)
    jackets, tee = variants("JKT", ["Black", "Moss", "Rust"]), sample_offers(1)
    results = channel.send("listings", jackets + tee)
    assert all(r.ok for r in results), results
    ids = {r.sku: r.remote_ids for r in results}
    assert len({i["item_id"] for i in ids.values()}) == 2  # one item per group
    item = square_api.items[ids["JKT-BLA"]["item_id"]]
    assert [v["item_variation_data"]["sku"] for v in item["item_data"]["variations"]] == [
        "JKT-BLA", "JKT-MOS", "JKT-RUS"
    ]  # fmt: skip

    # one variation changes: the item is read and written whole, its siblings stay
    moss = dataclasses.replace(
        jackets[1], title="Trail Jacket - Moss Green / M", price=Decimal("45")
    )
    assert channel.send("listings", [moss], ids)[0].ok
    item = square_api.items[ids["JKT-BLA"]["item_id"]]
    assert [v["item_variation_data"]["name"] for v in item["item_data"]["variations"]] == [
        "Black / M", "Moss Green / M", "Rust / M"
    ]  # fmt: skip

    cheaper = [dataclasses.replace(o, price=Decimal("31.50")) for o in jackets]
    assert all(r.ok for r in channel.send("prices", cheaper, ids))
    assert square_api.variation(ids["JKT-RUS"]["variation_id"])["item_variation_data"][
        "price_money"
    ] == {"amount": 3150, "currency": "USD"}

    stock = [
        dataclasses.replace(o, quantity=q)
        for o, q in zip(jackets + tee, [0, 12, 250, 4], strict=True)
    ]
    assert all(r.ok for r in channel.send("quantities", stock, ids))
    assert {v: q for (v, _), q in square_api.counts.items()} == {
        ids[o.sku]["variation_id"]: str(o.quantity) for o in stock
    }


def test_a_rerun_after_a_crash_does_not_create_items_twice(square_api: SquareDouble, session):
    offers = variants("JKT", ["Black", "Moss"])
    first = make(square_api.url, session).send("listings", offers)
    # the process died before recording the ids: the rerun sends the same content again
    again = make(square_api.url, session).send("listings", offers)
    assert [r.remote_ids for r in again] == [r.remote_ids for r in first]
    assert len(square_api.items) == 1
    keys = [b["idempotency_key"] for b in square_api.posts(UPSERT)]
    assert keys[0] == keys[1]


def test_one_bad_item_does_not_take_the_batch_down(square_api: SquareDouble, session) -> None:
    euros = dataclasses.replace(sample_offers(2)[1], currency="EUR")
    offers = [sample_offers(1)[0], euros, *variants("JKT", ["Black"])]
    results = make(square_api.url, session).send("listings", offers)
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].message.startswith("INVALID_VALUE: batches[1]: Object #NW-HOOD-BLA-001")
    assert "price currency must be USD" in results[1].message and not results[1].retriable


def test_counts_are_absolute_and_retries_reuse_the_key(square_api: SquareDouble, session) -> None:
    channel = make(square_api.url, session)
    offers = variants("JKT", ["Black", "Moss"])
    ids = {r.sku: r.remote_ids for r in channel.send("listings", offers)}
    channel.send("quantities", offers, ids)
    channel.send("quantities", offers, ids)  # the engine retrying the same batch
    first, retry = square_api.posts(INVENTORY)
    assert first == retry  # same key, same occurred_at: Square replays its answer
    assert {c["type"] for c in first["changes"]} == {"PHYSICAL_COUNT"}  # never adjustments
    stamp = first["changes"][0]["physical_count"]["occurred_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", stamp)
    changed = [dataclasses.replace(offers[0], quantity=9), offers[1]]
    channel.send("quantities", changed, ids)
    assert square_api.posts(INVENTORY)[2]["idempotency_key"] != first["idempotency_key"]


def test_unlisted_skus_are_rejected_without_a_request(square_api: SquareDouble, session) -> None:
    channel = make(square_api.url, session)
    for op in ("prices", "quantities"):
        assert {(r.ok, r.message) for r in channel.send(op, sample_offers(3))} == {
            (False, NOT_LISTED)
        }
    assert square_api.requests == []


def test_a_deleted_variation_is_reported_and_recreated(square_api: SquareDouble, session):
    channel = make(square_api.url, session)
    offers = variants("JKT", ["Black", "Moss"])
    ids = {r.sku: r.remote_ids for r in channel.send("listings", offers)}
    item = square_api.items[ids["JKT-BLA"]["item_id"]]
    del item["item_data"]["variations"][1]  # someone removed Moss in Square's dashboard
    [gone] = channel.send("prices", offers[1:], ids)
    assert not gone.ok and "no longer on Square" in (gone.message or "")
    [back] = channel.send("listings", offers[1:], ids)
    assert back.ok and back.remote_ids["item_id"] == ids["JKT-BLA"]["item_id"]
    assert back.remote_ids["variation_id"] != ids["JKT-MOS"]["variation_id"]


def test_batches_stay_within_squares_limits(square_api: SquareDouble, session) -> None:
    channel = make(square_api.url, session)
    assert Square.max_batch == {"listings": 100, "prices": 100, "quantities": 100}
    offers = [o for g in range(10) for o in variants(f"G{g}", [f"C{i}x" for i in range(10)])]
    assert all(r.ok for r in channel.send("listings", offers))
    [body] = square_api.posts(UPSERT)
    sizes = [1 + len(b["objects"][0]["item_data"]["variations"]) for b in body["batches"]]
    assert sizes == [11] * 10 and sum(sizes) <= 10_000
    ids = {o.sku: {"variation_id": "V"} for o in sample_offers(101)}
    for op in ("listings", "prices", "quantities"):
        with pytest.raises(ValueError, match="square takes at most 100"):
            channel.send(op, sample_offers(101), ids)
    assert len(square_api.requests) == 1  # nothing was sent for the refused batches


# --- whole-batch failures (the double without Prism) -------------------------------------------
@pytest.mark.parametrize(
    ("status", "headers", "error", "retry"),
    [
        (429, {"Retry-After": "7"}, Retriable, 7.0),
        (429, {}, Retriable, None),
        (500, {}, Retriable, None),
        (503, {"Retry-After": "2"}, Retriable, 2.0),
        (401, {}, Fatal, None),
        (403, {}, Fatal, None),
        (404, {}, Fatal, None),
    ],
)
def test_whole_batch_failures(
    square_double: SquareDouble, session, status: int, headers: dict[str, str], error, retry
) -> None:
    """A failure that may pass is sent again by the API client (waiting Square's Retry-After),
    up to the channel's request attempts, then fails the batch for the engine to retry; a
    fatal one is sent once."""
    codes = {429: "RATE_LIMITED", 401: "ACCESS_TOKEN_EXPIRED", 403: "INSUFFICIENT_SCOPES"}
    body = {"errors": [{"category": "X", "code": codes.get(status, "SERVICE_UNAVAILABLE")}]}
    square_double.fail_next.extend([(status, headers, body)] * Square.request_attempts)
    channel = make(square_double.url, session)
    waits: list[float] = []
    channel.sleep, channel.backoff = waits.append, lambda attempt: 0.25 * attempt
    with pytest.raises(error) as caught:
        channel.send("quantities", sample_offers(2), {"NW-TEE-BLA-000": {"variation_id": "V1"}})
    assert getattr(caught.value, "retry_after", None) == retry
    assert TOKEN not in f"{caught.value} {caught.value!r} {channel!r}"
    sent = len(square_double.requests)
    if error is Retriable:
        assert sent == Square.request_attempts
        assert waits == [retry if retry is not None else 0.25 * n for n in (1, 2)]
    else:
        assert sent == 1 and waits == []
    if status in (401, 403):
        assert "$SQUARE_TOKEN" in str(caught.value) and codes[status] in str(caught.value)


def test_a_failure_that_passes_is_sent_again_by_the_client(
    square_double: SquareDouble, session
) -> None:
    square_double.fail_next.append((429, {"Retry-After": "7"}, {"errors": []}))
    channel = make(square_double.url, session)
    waits: list[float] = []
    channel.sleep = waits.append
    ids = {"NW-TEE-BLA-000": {"variation_id": "V1"}}
    [result] = channel.send("quantities", sample_offers(1), ids)
    assert waits == [7.0] and len(square_double.requests) == 2
    assert not result.retriable and "Item variation not found" in str(result.message)


def test_retry_after_as_a_date_and_garbage() -> None:
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: now
    assert retry_after("soon") is None and retry_after(None) is None
    assert retry_after("1.5") == 1.5
    assert retry_after("nan") is None and retry_after("inf") is None  # time.sleep would fail


def test_unreachable_hanging_and_unset_token(
    square_double: SquareDouble, session, monkeypatch: pytest.MonkeyPatch
) -> None:
    known = {"NW-TEE-BLA-000": {"variation_id": "V1"}}
    with pytest.raises(Retriable, match="unreachable"):
        make("http://127.0.0.1:9", session).send("quantities", sample_offers(1), known)
    square_double.fail_next.extend([(0, {"sleep": "1.5"}, {})] * Square.request_attempts)
    with pytest.raises(Retriable, match="did not answer"):
        make(square_double.url, session, timeout=1).send("quantities", sample_offers(1), known)
    monkeypatch.delenv("SQUARE_TOKEN")
    with pytest.raises(Fatal, match="SQUARE_TOKEN is not set"):
        make(square_double.url, session).send("quantities", sample_offers(1), known)


def test_refusals_are_attributed_to_the_skus_square_names(square_double: SquareDouble, session):
    channel = make(square_double.url, session)
    offers = variants("JKT", ["Black", "Moss", "Rust"])
    ids = {r.sku: r.remote_ids for r in channel.send("listings", offers)}
    ids["JKT-MOS"] = {"variation_id": "GONE"}
    results = channel.send("quantities", offers, ids)
    assert [r.ok for r in results] == [False, False, False]
    assert results[1].message == (
        "NOT_FOUND: Item variation not found (field changes[1].physical_count.catalog_object_id)"
    )
    assert results[0].message == "not saved: Square refused other items of the same request"
    assert results[0].retriable and not results[1].retriable
    square_double.fail_next.append((400, {}, {"errors": [{"code": "BAD_REQUEST", "detail": "x"}]}))
    assert {r.message for r in channel.send("quantities", offers, ids)} == {"BAD_REQUEST: x"}


# --- pure helpers ------------------------------------------------------------------------------
def test_money_in_minor_units() -> None:
    assert minor_units(Decimal("29.00"), "USD") == 2900
    assert minor_units(Decimal("1200"), "JPY") == 1200
    assert minor_units(Decimal("1.250"), "KWD") == 1250
    for amount, currency in [("0.005", "USD"), ("12.5", "JPY"), ("-1", "USD")]:
        with pytest.raises(ValueError, match="not a valid amount"):
            minor_units(Decimal(amount), currency)


def test_item_and_variation_names_and_descriptions() -> None:
    [jacket] = variants("JKT", ["Black"])
    assert names(jacket) == ("Trail Jacket", "Black / M")
    single = dataclasses.replace(jacket, item_group_id=None, title="Gift Card - Digital")
    assert names(single) == ("Gift Card - Digital", "Regular")
    plain = dataclasses.replace(jacket, title="Trail Jacket", color=None, size=None)
    assert names(plain) == ("Trail Jacket", "JKT-BLA")  # variations stay distinguishable
    assert description_html("Warm & dry.\nPackable.\n\nLifetime repairs.") == (
        "<p>Warm &amp; dry.<br>Packable.</p><p>Lifetime repairs.</p>"
    )
    assert description_html("<p>Already <b>HTML</b></p>") == "<p>Already <b>HTML</b></p>"


class TestSquareOrdersConformance(OrdersConformance):
    per_page = square_orders.PER_PAGE

    @pytest.fixture
    def order_skus(self) -> list[str]:
        return ["VAR-A", "VAR-B", "VAR-C"]  # catalog object ids: Square's lines carry no SKU

    @pytest.fixture
    def order_channel(self, square_double: SquareDouble, session: Any) -> Any:
        return make(square_double.url, session)

    @pytest.fixture
    def place_order(self, square_double: SquareDouble) -> Any:
        def place(lines: list[tuple[str, int]], status: str) -> str | None:
            if status == "pending":
                return None  # a till sale is paid when it is rung up
            state = "COMPLETED" if status == "closed" else "OPEN"
            order = square_double.orders.add(
                "L8XQ2", [(v, str(n)) for v, n in lines], state=state
            )  # fmt: skip
            if status == "cancelled":
                square_double.orders.set_state(order, "CANCELED")
            return order

        return place
