"""The Shopify channel against a test endpoint that checks every request with Shopify's own
2025-01 schema (tests/servers/shopify.py): listings, prices and stock of demo-like offers with
zero contract violations, the 250-item input limit, cost-based throttling, userErrors, auth and
outages, the conformance suite, and a real ``multichan push`` of the demo catalog."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from multichan.channels import registry
from multichan.channels.base import Channel, Fatal, Retriable
from multichan.channels.shopify import Shopify
from multichan.offers import Offer
from multichan.testing import ChannelConformance, sample_offers
from tests.conftest import run_cli, write_config
from tests.servers.shopify import (
    API_PATH,
    LOCATION,
    SCHEMA_FILE,
    TOKEN,
    Bucket,
    Clock,
    ShopifyServer,
    serve,
)

IDS = {"product_id", "variant_id", "inventory_item_id"}


@pytest.fixture(scope="session")
def _shopify_session() -> Iterator[ShopifyServer]:
    if not SCHEMA_FILE.exists():
        pytest.skip(f"Shopify's schema is not at {SCHEMA_FILE} (../shared/specs); skipped")
    with serve() as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server(
    _shopify_session: ShopifyServer, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> ShopifyServer:
    """The endpoint with an empty shop, a 2,000-point bucket on ``clock`` and the token set."""
    _shopify_session.reset(clock=clock)
    monkeypatch.setenv("SHOPIFY_TOKEN", TOKEN)
    return _shopify_session


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def make(server: ShopifyServer, clock: Clock, session: Any, **settings: Any) -> Shopify:
    raw = {"base_url": server.url, "token": "${SHOPIFY_TOKEN}", "location_id": LOCATION,
           "timeout": 5, **settings}  # fmt: skip
    values, problems = Shopify.validate_settings(raw, "channels.yaml:7: channels.shop.settings")
    assert problems == []
    channel = Shopify("shop", values, session=session)
    channel.sleep, channel.clock = clock.sleep, clock
    return channel


@pytest.fixture
def channel(server: ShopifyServer, clock: Clock, session: requests.Session) -> Shopify:
    return make(server, clock, session)


def jackets() -> list[Offer]:
    """A size x colour group: 2 colours x 3 sizes, the olive ones on sale, with barcodes."""
    base = sample_offers(1)[0]
    return [
        dataclasses.replace(
            base, sku=f"NW-JKT-{color[:3].upper()}-{size}", item_group_id="NW-JKT",
            title=f"Rain Jacket - {color} / {size}", color=color, size=size,
            price=Decimal("120.00"), sale_price=Decimal("99.00") if color == "Olive" else None,
            gtin=f"40063813339{i}", quantity=i + 2, product_type="Apparel > Jackets",
            image_link=f"https://cdn.example.com/jkt/{color.lower()}.jpg",
            additional_image_links=["https://cdn.example.com/jkt/detail.jpg"],
        )
        for i, (color, size) in enumerate((c, s) for c in ("Black", "Olive") for s in "SML")
    ]  # fmt: skip


def ids_of(results: list[Any]) -> dict[str, dict[str, str]]:
    return {r.sku: r.remote_ids for r in results}


def test_demo_like_offers_follow_shopifys_contract(server: ShopifyServer, channel: Shopify) -> None:
    offers = sample_offers(5) + jackets()
    listed = channel.send("listings", offers)
    assert [r.message for r in listed if not r.ok] == []
    ids = ids_of(listed)
    assert all(set(i) == IDS and all(v.startswith("gid://shopify/") for v in i.values())
               for i in ids.values())  # fmt: skip
    assert len(server.shop.products) == 6 and len(server.calls("productSet")) == 6
    jacket = server.shop.products[ids["NW-JKT-BLA-S"]["product_id"]]
    assert (jacket["title"], jacket["handle"]) == ("Rain Jacket", "nw-jkt")
    assert jacket["options"] == [("Color", ["Black", "Olive"]), ("Size", ["S", "M", "L"])]
    assert len(jacket["variants"]) == 6
    assert jacket["files"] == [f"https://cdn.example.com/jkt/{c}.jpg"
                               for c in ("black", "detail", "olive")]  # fmt: skip
    olive, black = server.shop.by_sku("NW-JKT-OLI-M"), server.shop.by_sku("NW-JKT-BLA-M")
    assert (olive["price"], olive["compareAtPrice"]) == ("99.00", "120.00")  # was 120, now 99
    assert (black["price"], black["compareAtPrice"], black["barcode"]) == (
        "120.00",
        None,
        "400638133391",
    )
    assert server.shop.items[black["item"]]["tracked"] is True

    offers[0].sale_price = Decimal("19.00")
    priced = channel.send("prices", offers, ids)
    assert all(r.ok for r in priced) and ids_of(priced) == ids
    tee = server.shop.by_sku(offers[0].sku)
    assert (tee["price"], tee["compareAtPrice"]) == ("19.00", "29.00")
    assert len(server.calls("productVariantsBulkUpdate")) == 6  # one call per product

    stocked = channel.send("quantities", offers, ids)
    assert all(r.ok for r in stocked)
    assert {o.sku: server.shop.available(o.sku) for o in offers} == {
        o.sku: o.quantity for o in offers
    }
    [call] = server.calls("inventorySetQuantities")
    sent = call["variables"]["input"]
    assert (sent["name"], sent["reason"], sent["ignoreCompareQuantity"]) == (
        "available",
        "correction",
        True,
    )
    assert server.violations == []
    assert {e["outcome"] for e in server.log} == {"ok"}


def test_a_partial_push_keeps_the_other_variants_in_their_order(
    server: ShopifyServer, channel: Shopify
) -> None:
    offers = jackets()
    ids = ids_of(channel.send("listings", offers))
    product = server.shop.products[ids[offers[0].sku]["product_id"]]
    order = list(product["variants"])
    changed = dataclasses.replace(offers[1], price=Decimal("130.00"))
    [again] = channel.send("listings", [changed], {changed.sku: ids[changed.sku]})
    assert again.ok and again.remote_ids == ids[changed.sku]
    assert product["variants"] == order and len(server.shop.products) == 1
    assert server.shop.by_sku(changed.sku)["price"] == "130.00"
    assert server.shop.by_sku(offers[4].sku)["price"] == "99.00"  # untouched
    assert server.violations == []


def test_split_batches_lost_state_and_admin_made_products_make_no_duplicates(
    server: ShopifyServer, channel: Shopify
) -> None:
    offers = jackets()
    first = channel.send("listings", offers[:3])
    second = channel.send("listings", offers[3:])  # no ids known: found by handle
    assert len(server.shop.products) == 1
    [product] = server.shop.products.values()
    assert len(product["variants"]) == 6
    assert {r.remote_ids["product_id"] for r in first + second} == {product["id"]}
    made_in_admin = server.shop.seed("Enamel Mug", ["NW-MUG-BLA-002"])
    [mug] = channel.send("listings", [sample_offers(3)[2]])  # found by its SKU
    assert mug.ok and mug.remote_ids["product_id"] == made_in_admin["id"]
    plain = [dataclasses.replace(o, item_group_id="PLAIN", color=None, size=None)
             for o in sample_offers(2)]  # fmt: skip
    assert all(r.ok for r in channel.send("listings", plain))
    assert channel.send("listings", plain[1:])[0].ok  # one variant alone: options still fit
    assert len(server.shop.products) == 3 and server.violations == []
    assert server.shop.products[server.shop.by_sku(plain[0].sku)["product"]]["options"] == [
        ("Variant", [o.sku for o in plain])]  # fmt: skip


def test_no_argument_list_ever_exceeds_250(server: ShopifyServer, channel: Shopify) -> None:
    skus = [f"BULK-{i:03d}" for i in range(600)]
    server.shop.seed("Bulk", skus)
    base = sample_offers(1)[0]
    offers = [dataclasses.replace(base, sku=s, item_group_id="BULK", quantity=i % 9)
              for i, s in enumerate(skus)]  # fmt: skip
    with pytest.raises(ValueError, match="takes at most 250"):
        channel.send("quantities", offers[:251])
    assert server.log == []
    # a caller that bypasses max_batch still never sends more than 250 per argument
    assert all(r.ok for r in channel.update_quantities(offers))
    assert all(r.ok for r in channel.update_prices(offers))
    sizes = [len(c["variables"]["input"]["quantities"])
             for c in server.calls("inventorySetQuantities")]  # fmt: skip
    assert sizes == [250, 250, 100]
    sizes = [len(c["variables"]["variants"]) for c in server.calls("productVariantsBulkUpdate")]
    assert sizes == [250, 250, 100]
    assert max(e["largest_list"] for e in server.log) == 250
    assert server.shop.available("BULK-599") == 599 % 9
    assert server.violations == []


def test_a_low_cost_bucket_makes_the_channel_wait_instead_of_failing(
    server: ShopifyServer, clock: Clock, session: requests.Session
) -> None:
    offers = sample_offers(5)  # five products: five price calls of 10 points
    ids = ids_of(make(server, clock, session).send("listings", offers))
    server.bucket = Bucket(maximum=30, restore=10, available=30)
    clock.sleeps.clear()
    server.log.clear()
    results = make(server, clock, session).send("prices", offers, ids)
    assert all(r.ok for r in results)
    assert clock.sleeps == [1.0, 1.0]  # 30 points for 3 calls, then 10 points = 1 s each
    assert [e["outcome"] for e in server.log] == ["ok"] * 5  # never THROTTLED
    assert server.violations == []


def test_throttled_is_retriable_with_the_time_the_bucket_needs(
    server: ShopifyServer, clock: Clock, channel: Shopify
) -> None:
    offers = sample_offers(1)
    ids = ids_of(channel.send("listings", offers))
    server.bucket = Bucket(maximum=30, restore=10, available=5)
    fresh = make(server, clock, channel.session)
    with pytest.raises(Retriable, match="throttled") as caught:
        fresh.send("prices", offers, ids)
    assert caught.value.retry_after == 0.5  # (10 requested - 5 available) / 10 per second
    assert server.log[-1]["outcome"] == "throttled"
    assert server.log[-1]["response"]["errors"][0]["extensions"]["code"] == "THROTTLED"
    clock.sleep(caught.value.retry_after)  # what the engine does with retry_after
    assert fresh.send("prices", offers, ids)[0].ok
    assert server.violations == []


def test_user_errors_become_rejections_of_the_skus_they_name(
    server: ShopifyServer, channel: Shopify
) -> None:
    offers = [*jackets(), sample_offers(3)[2]]
    ids = ids_of(channel.send("listings", offers))
    offers[2].price = Decimal("-1.00")
    results = {r.sku: r for r in channel.send("prices", offers, ids)}
    assert results[offers[2].sku].message == "Price must be greater than or equal to 0"
    others = [results[o.sku] for o in offers[:6] if o is not offers[2]]
    assert all(not r.ok and r.retriable and "not saved" in (r.message or "") for r in others)
    assert results[offers[6].sku].ok  # another product's call went through
    stale = {**ids, offers[0].sku: {**ids[offers[0].sku], "inventory_item_id":
                                    "gid://shopify/InventoryItem/999999"}}  # fmt: skip
    stock = channel.send("quantities", offers[:2], stale)
    assert stock[0].message == "The specified inventory item could not be found."
    assert stock[1].retriable
    untitled = [dataclasses.replace(o, sku=o.sku + "-X", item_group_id="NEW", title="")
                for o in offers[:2]]  # fmt: skip
    listed = channel.send("listings", [*untitled, sample_offers(2)[1]])
    assert [r.message for r in listed[:2]] == ["Title can't be blank (input.title)"] * 2
    assert listed[2].ok
    assert server.violations == []


def test_a_refused_token_is_fatal_and_never_shown(
    server: ShopifyServer, channel: Shopify, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPIFY_TOKEN", "shpat_revoked_0000111122223333")
    with pytest.raises(Fatal) as caught:
        channel.send("quantities", sample_offers(1), {"NW-TEE-BLA-000": {"product_id": "p"}})
    assert "$SHOPIFY_TOKEN" in str(caught.value) and "HTTP 401" in str(caught.value)
    assert "shpat_" not in str(caught.value) and caught.value.exit_code == 5
    assert server.log[-1]["outcome"] == "unauthorized"


@pytest.mark.parametrize(
    ("fault", "retry_after", "words"),
    [(429, 2.0, "HTTP 429"), (503, None, "HTTP 503"), ("reset", None, "unreachable")],
)
def test_outages_are_retriable(
    server: ShopifyServer, channel: Shopify, fault: int | str, retry_after: float | None,
    words: str,
) -> None:  # fmt: skip
    server.fail_next.append(fault)
    with pytest.raises(Retriable, match=words) as caught:
        channel.send("listings", sample_offers(1))
    assert caught.value.retry_after == retry_after
    assert channel.send("listings", sample_offers(1))[0].ok  # the next attempt works


def test_a_timeout_is_retriable(server: ShopifyServer, clock: Clock) -> None:
    class TimingOut:
        def post(self, *args: Any, **kwargs: Any) -> Any:
            assert kwargs["timeout"] == 5
            raise requests.ReadTimeout("read timed out")

    with pytest.raises(Retriable, match="did not answer within 5 s"):
        make(server, clock, TimingOut()).send("listings", sample_offers(1))


def test_settings_are_checked_and_used(
    server: ShopifyServer, clock: Clock, session: requests.Session
) -> None:
    _, problems = Shopify.validate_settings({"token": "shpat_literal"}, "channels.yaml:7: x")
    assert problems == [
        "channels.yaml:7: x.base_url is required (url): https://my-shop.myshopify.com",
        "channels.yaml:7: x.token must name an environment variable as ${VAR}, never hold the "
        "secret itself",
    ]
    settings, _ = Shopify.validate_settings(
        {"base_url": server.url + "/", "token": "${SHOPIFY_TOKEN}"}, "x"
    )
    assert settings["api_version"] == "2025-01" and not settings["location_id"]
    assert Shopify("s", settings, session=session).endpoint == server.url + API_PATH
    nowhere = make(server, clock, session, location_id=None)
    with pytest.raises(Fatal, match="location_id is required"):
        nowhere.send("quantities", sample_offers(1))
    numeric = make(server, clock, session, location_id="1")
    ids = ids_of(numeric.send("listings", sample_offers(1)))
    assert numeric.send("quantities", sample_offers(1), ids)[0].ok  # "1" -> the Location gid
    with pytest.raises(Fatal, match="HTTP 404"):
        make(server, clock, session, api_version="1999-01").send("listings", sample_offers(1))


def test_the_endpoint_refuses_what_shopify_refuses(server: ShopifyServer) -> None:
    """The checks behind every "zero violations" above really bite."""
    mutation = ("mutation Q($input: InventorySetQuantitiesInput!) { inventorySetQuantities("
                "input: $input) { userErrors { field message } } }")  # fmt: skip
    item = {"inventoryItemId": "gid://shopify/InventoryItem/1", "locationId": LOCATION,
            "quantity": 1}  # fmt: skip
    bad = [
        ("{ shop { nonsense } }", {}),
        ("query V($n: Int!) { productVariants(first: $n) { nodes { id } } }", {}),
        ("mutation P($id: ID!, $v: [ProductVariantsBulkInput!]!) { productVariantsBulkUpdate("
         "productId: $id, variants: $v) { userErrors { message } } }",
         {"id": "gid://shopify/Product/1", "v": [{"id": "x", "price": 12.5}]}),
        (mutation, {"input": {"name": "available", "reason": "correction",
                              "quantities": [item] * 251}}),
        ("query { productVariants(first: 250) { nodes { product { variants(first: 250) { "
         "nodes { id } } } } } }", {}),
    ]  # fmt: skip
    for query, variables in bad:
        status, body = server.answer(
            TOKEN, json.dumps({"query": query, "variables": variables}).encode()
        )
        assert status == 200 and body["errors"], query
    codes = [v["errors"][0]["extensions"]["code"] for v in server.violations]
    assert codes == [
        "GRAPHQL_VALIDATION_FAILED",
        "INVALID_VARIABLE",
        "INVALID_VARIABLE",
        "MAX_INPUT_SIZE_EXCEEDED",
        "MAX_COST_EXCEEDED",
    ]
    assert "greater than the maximum allowed of 250" in server.violations[3]["errors"][0][
        "message"]  # fmt: skip


class TestShopifyConformance(ChannelConformance):
    @pytest.fixture
    def channel_class(self) -> type[Channel]:
        return registry.load("shopify")

    @pytest.fixture
    def channel(self, server: ShopifyServer, clock: Clock, session: requests.Session) -> Channel:
        return make(server, clock, session)

    def test_and_nothing_broke_the_contract(self, channel: Channel, server: Any) -> None:
        self.test_batches(channel)
        assert server.violations == []


def test_push_of_the_demo_catalog(
    demo: Path, server: ShopifyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.reset(maximum=1e9, restore=1e9)  # real clock; this test is about the whole flow
    write_config(demo, f"""shop:
  link_template: "https://shop.example.com/products/{{{{handle}}}}"
channels:
  shop:
    type: shopify
    settings:
      base_url: {server.url}
      token: ${{SHOPIFY_TOKEN}}
      location_id: "{LOCATION}"
""")  # fmt: skip
    result = run_cli("--workspace", demo, "push")
    assert result.code == 0, result.output
    assert server.violations == [] and server.shop.products
    assert TOKEN not in result.output
    server.log.clear()
    assert run_cli("--workspace", demo, "push").code == 0
    assert server.log == []  # nothing changed, nothing sent
    variant = next(iter(server.shop.variants.values()))
    sku, price = variant["sku"], str(Decimal(variant["price"]) - 1)
    assert run_cli("--workspace", demo, "price", "set", sku, price).code == 0
    assert run_cli("--workspace", demo, "push").code == 0
    [call] = [e for e in server.log if e["outcome"] == "ok"]
    assert call["fields"] == ["productVariantsBulkUpdate"]
    assert server.shop.by_sku(sku)["price"] == price and server.violations == []


# --- a fault in the middle of a send ---------------------------------------------------------
class Flaky:
    """A session whose chosen requests (1-based) end in a reset connection: ``before`` the
    server saw them, or ``after`` it applied them (the answer is lost)."""

    def __init__(self, session: requests.Session, fail: dict[int, str]) -> None:
        self.session, self.fail, self.calls = session, fail, 0

    def post(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        phase = self.fail.get(self.calls)
        if phase == "before":
            raise requests.ConnectionError("connection reset by peer")
        response = self.session.post(*args, **kwargs)
        if phase == "after":
            raise requests.ConnectionError("connection reset by peer")
        return response


@pytest.mark.parametrize("phase", ["before", "after"])
def test_a_fault_after_a_product_was_written_keeps_it_and_sends_the_rest_again(
    server: ShopifyServer, clock: Clock, session: requests.Session, phase: str
) -> None:
    offers = sample_offers(3)  # three products: a SKU search, then a read + a productSet each
    flaky = Flaky(session, {5: phase})  # the second productSet
    results = make(server, clock, flaky).send("listings", offers)
    assert flaky.calls == 5  # nothing sent after the fault
    assert results[0].ok and set(results[0].remote_ids) == IDS
    assert [(r.ok, r.retriable) for r in results[1:]] == [(False, True)] * 2
    assert results[1].message == "not confirmed: Shopify unreachable: ConnectionError"
    assert len(server.shop.products) == (2 if phase == "after" else 1)
    # what the engine does: send the retriable ones again, with the ids it recorded (none)
    again = make(server, clock, session).send("listings", offers[1:])
    assert all(r.ok for r in again)
    assert len(server.shop.products) == 3 and len(server.shop.variants) == 3  # no duplicate
    assert server.violations == []


@pytest.mark.parametrize(("fail", "phase"), [(1, "before"), (2, "after"), (3, "after")])
def test_a_fault_before_anything_was_written_fails_the_whole_batch(
    server: ShopifyServer, clock: Clock, session: requests.Session, fail: int, phase: str
) -> None:
    offers = sample_offers(3)  # 1: the search, 2: a read, 3: the first productSet
    flaky = Flaky(session, {fail: phase})
    with pytest.raises(Retriable, match="unreachable"):
        make(server, clock, flaky).send("listings", offers)
    assert flaky.calls == fail
    assert all(r.ok for r in make(server, clock, session).send("listings", offers))
    assert len(server.shop.products) == 3 and len(server.shop.variants) == 3
    assert server.violations == []


def test_a_fault_between_price_calls_keeps_the_prices_set(
    server: ShopifyServer, clock: Clock, session: requests.Session
) -> None:
    offers = sample_offers(3)
    ids = ids_of(make(server, clock, session).send("listings", offers))
    for o in offers:
        o.price += 1
    with pytest.raises(Retriable):  # the first call: nothing was set
        make(server, clock, Flaky(session, {1: "before"})).send("prices", offers, ids)
    flaky = Flaky(session, {2: "after"})  # one productVariantsBulkUpdate per product
    results = make(server, clock, flaky).send("prices", offers, ids)
    assert flaky.calls == 2
    assert results[0].ok and results[0].remote_ids == ids[offers[0].sku]
    assert [(r.ok, r.retriable) for r in results[1:]] == [(False, True)] * 2
    assert server.shop.by_sku(offers[2].sku)["price"] != str(offers[2].price)  # never sent
    again = make(server, clock, session).send("prices", offers[1:], ids)
    assert all(r.ok for r in again)
    assert [server.shop.by_sku(o.sku)["price"] for o in offers] == [str(o.price) for o in offers]
    assert server.violations == []
