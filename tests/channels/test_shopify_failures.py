"""The Shopify channel when things go wrong: a refused token, outages and timeouts, a
connection lost in the middle of a send (before or after Shopify applied a request), and the
test endpoint refusing what Shopify refuses. Each send either fails as a whole (nothing
confirmed) or says per SKU what was confirmed, so the engine sends only the rest again."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from multichan.channels.base import Fatal, Retriable
from multichan.channels.shopify import Shopify
from multichan.testing import sample_offers
from tests.channels import shopify_conftest as fx
from tests.channels.shopify_conftest import Flaky, make, seeded
from tests.servers.shopify import LOCATION, TOKEN, Clock, ShopifyServer

_shopify_session, clock, server, session, channel = (
    fx._shopify_session, fx.clock, fx.server, fx.session, fx.channel)  # fmt: skip


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
    [
        (429, 2.0, "HTTP 429"),
        (503, None, "HTTP 503"),
        (408, None, "HTTP 408"),
        ("reset", None, "unreachable"),
    ],
)
def test_outages_are_retriable(
    server: ShopifyServer, channel: Shopify, fault: int | str, retry_after: float | None,
    words: str,
) -> None:  # fmt: skip
    """Once: the API client sends the call again (after Shopify's Retry-After); at every
    attempt: the batch fails, for the engine to retry."""
    server.fail_next.append(fault)
    assert channel.send("listings", sample_offers(1))[0].ok
    server.fail_next.extend([fault] * Shopify.request_attempts)
    with pytest.raises(Retriable, match=words) as caught:
        channel.send("listings", sample_offers(2)[1:])
    assert caught.value.retry_after == retry_after
    assert channel.send("listings", sample_offers(2)[1:])[0].ok  # the next attempt works


def test_a_timeout_is_retriable(server: ShopifyServer, clock: Clock) -> None:
    class TimingOut:
        def request(self, *args: Any, **kwargs: Any) -> Any:
            assert kwargs["timeout"] == 5
            raise requests.ReadTimeout("read timed out")

    with pytest.raises(Retriable, match="did not answer within 5 s"):
        make(server, clock, TimingOut()).send("listings", sample_offers(1))


def test_the_endpoint_refuses_what_shopify_refuses(server: ShopifyServer) -> None:
    """The checks behind every "zero violations" above really bite."""
    mutation = ("mutation Q($input: InventorySetQuantitiesInput!) { inventorySetQuantities("
                "input: $input) { userErrors { field message } } }")  # fmt: skip
    item = {"inventoryItemId": "gid://shopify/InventoryItem/1", "locationId": LOCATION,
            "quantity": 1}  # fmt: skip
    aliased = "mutation M($p: ID!, $v: [ProductVariantsBulkInput!]!) {" + "".join(
        f" a{i}: productVariantsBulkUpdate(productId: $p, variants: $v) {{ userErrors {{ code }} }}"
        for i in range(101)) + " }"  # fmt: skip
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
        (aliased, {"p": "gid://shopify/Product/1", "v": []}),  # 101 mutations: 1,010 points
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
        "MAX_COST_EXCEEDED",
    ]
    assert "greater than the maximum allowed of 250" in server.violations[3]["errors"][0][
        "message"]  # fmt: skip


# --- a fault in the middle of a send ---------------------------------------------------------
@pytest.mark.parametrize("phase", ["before", "after"])
def test_a_fault_when_a_product_is_created_fails_the_batch_without_duplicates(
    server: ShopifyServer, clock: Clock, session: requests.Session, phase: str
) -> None:
    """A productSet that creates a product is never sent twice in one send (a lost answer
    would make a duplicate): the batch fails, and the engine's retry finds what was made."""
    offers = sample_offers(3)  # three products: a SKU search, then a read + a productSet each
    flaky = Flaky(session, {5: phase})  # the second productSet
    with pytest.raises(Retriable, match="unreachable"):
        make(server, clock, flaky).send("listings", offers)
    assert flaky.calls == 5  # nothing sent after the fault
    assert len(server.shop.products) == (2 if phase == "after" else 1)
    # what the engine does: send the batch again, with the ids it recorded (none)
    again = make(server, clock, session).send("listings", offers)
    assert all(r.ok for r in again) and {r.remote_ids["product_id"] for r in again} == set(
        server.shop.products)  # fmt: skip
    assert len(server.shop.products) == 3 and len(server.shop.variants) == 3  # no duplicate
    assert server.violations == []


@pytest.mark.parametrize(("fail", "phase"), [(1, "before"), (1, "after"), (2, "after")])
def test_a_fault_in_a_read_is_sent_again_by_the_client(
    server: ShopifyServer, clock: Clock, session: requests.Session, fail: int, phase: str
) -> None:
    offers = sample_offers(3)  # 1: the search, 2: a read, 3: the first productSet
    flaky = Flaky(session, {fail: phase})
    assert all(r.ok for r in make(server, clock, flaky).send("listings", offers))
    assert flaky.calls == 1 + 2 * 3 + 1  # one call more than without the fault
    assert len(server.shop.products) == 3 and len(server.shop.variants) == 3
    assert server.violations == []


@pytest.mark.parametrize("phase", ["before", "after"])
def test_a_fault_between_price_requests_is_sent_again(
    server: ShopifyServer, clock: Clock, session: requests.Session, phase: str
) -> None:
    offers, ids = seeded(server, 120, 2)  # 120 products: 100 in one request, 20 in another
    flaky = Flaky(session, {2: phase})
    results = make(server, clock, flaky).send("prices", offers, ids)
    assert flaky.calls == 3
    assert all(r.ok and r.remote_ids == ids[r.sku] for r in results)
    assert {server.shop.by_sku(o.sku)["price"] for o in offers} == {"12.50"}
    assert server.violations == []


def test_a_429_between_price_requests_waits_its_retry_after(
    server: ShopifyServer, clock: Clock, channel: Shopify
) -> None:
    """The client waits Shopify's Retry-After before it sends the call again, not its own
    short backoff."""
    offers, ids = seeded(server, 120, 2)
    server.fail_next.extend([None, 429])  # the first request goes through, the second: 429
    results = channel.send("prices", offers, ids)
    assert all(r.ok for r in results)
    assert clock.sleeps == [2.0]
