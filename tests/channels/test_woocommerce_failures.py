"""The woocommerce channel when things go wrong: rate limits, outages and dropped connections
(Retriable), refused keys and a wrong base URL (Fatal, without ever showing a secret), and a
connection lost in the middle of a send (before or after the shop applied a batch): what was
confirmed is kept, and only the rest is sent again."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from typing import Any, cast

import pytest
import requests

from multichan.channels.base import Fatal, Retriable
from multichan.channels.woocommerce import WooCommerce
from tests.channels import woocommerce_conftest as fx
from tests.channels.woocommerce_conftest import KEY_ENV, SECRET_ENV, ids, offer, woo
from tests.servers.woocommerce import API, KEY, SECRET, WooServer

_shop, shop, session = fx._shop, fx.shop, fx.session


# --- whole-batch failures ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fault", "retry_after", "expected", "match"),
    [
        (429, "7", 7.0, "HTTP 429"),
        (429, "HTTP date 30 s ahead", 30.0, "HTTP 429"),
        (503, None, None, "HTTP 503"),
        ("drop", None, None, "unreachable"),
        ("reset", None, None, "unreachable"),
        ("stall", None, None, "did not answer within 1 s"),
    ],
)
def test_rate_limits_outages_and_dropped_connections_are_retriable(
    shop: WooServer, session, fault: Any, retry_after: str | None, expected: Any, match: str
) -> None:
    if retry_after and retry_after.startswith("HTTP date"):
        retry_after = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    channel = woo(shop, session, timeout=1)
    waits: list[float] = []
    channel.sleep = waits.append
    shop.fail_next(fault, retry_after=retry_after, seconds=1.5)  # once: the client sends again
    assert channel.send("listings", [offer("MUG-1")])[0].ok
    assert len(waits) == 1 and (waits[0] == expected if expected not in (None, 30.0) else True)
    shop.fail_next(fault, times=channel.request_attempts, retry_after=retry_after, seconds=1.5)
    with pytest.raises(Retriable, match=match) as caught:  # every attempt: the batch fails
        channel.send("listings", [offer("MUG-2")])
    after = caught.value.retry_after
    assert after == expected if expected != 30.0 else after and 27 < after <= 30
    assert channel.send("listings", [offer("MUG-2")])[0].ok  # the next attempt goes through


def test_an_unreachable_shop_is_retriable(shop: WooServer, session) -> None:
    with pytest.raises(Retriable, match="unreachable"):
        woo(shop, session, url="http://127.0.0.1:9").send("listings", [offer("MUG-1")])


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({SECRET_ENV: "cs_wrong0000000000000000000000000000000"}, None),
        ({KEY_ENV: "ck_wrong0000000000000000000000000000000"}, "Consumer key is invalid."),
        ({}, "The API key provided does not have write permissions."),
    ],
)
def test_refused_keys_are_fatal_and_name_the_variables_not_the_values(
    shop: WooServer, session, monkeypatch: pytest.MonkeyPatch, scheme: str,
    change: dict[str, str], message: str | None,
) -> None:  # fmt: skip
    for var, value in change.items():
        monkeypatch.setenv(var, value)
    if not change:
        shop.permissions = "read"
    url = shop.url.replace("http", scheme, 1)
    channel = woo(shop, session, url=url)
    with pytest.raises(Fatal) as caught:
        channel.send("listings", [offer("MUG-1")])
    text = f"{caught.value} {caught.value!r} {channel!r} {channel!s}"
    assert f"${KEY_ENV}" in text and f"${SECRET_ENV}" in text and "HTTP 401" in text
    wrong_secret = {"http": "Invalid signature", "https": "Consumer secret is invalid."}[scheme]
    assert (message or wrong_secret) in text
    for secret in (KEY, SECRET, *change.values()):
        assert secret not in text
    assert caught.value.exit_code == 5


def test_https_sends_basic_auth_and_plain_http_a_signature(shop: WooServer, session) -> None:
    woo(shop, session, url=shop.url.replace("http", "https", 1)).send("listings", [offer("A-1")])
    woo(shop, session).send("listings", [offer("B-1")])
    secure, plain = shop.log
    assert (
        secure.headers["Authorization"].startswith("Basic ")
        and "oauth_signature" not in secure.query
    )
    assert "Authorization" not in plain.headers
    assert plain.query["oauth_signature_method"] == "HMAC-SHA256"
    assert SECRET not in str(plain.query) + str(plain.headers)  # the secret never travels


def test_a_wrong_base_url_says_what_it_should_be(shop: WooServer, session) -> None:
    with pytest.raises(Fatal, match="pretty permalinks"):
        woo(shop, session, url=shop.url + "/shop").send("listings", [offer("A-1")])


# --- a fault in the middle of a send ------------------------------------------------------------
class Flaky:
    """A session whose chosen requests (1-based) end in a reset connection: ``before`` the shop
    saw them, or ``after`` it applied them (the answer is lost). ``strip`` drops the
    ``resource_id`` WooCommerce puts in a duplicate-SKU error, as an older shop might."""

    def __init__(
        self, session: requests.Session, fail: dict[int, str], strip: bool = False
    ) -> None:
        self.session, self.fail, self.strip, self.calls = session, fail, strip, 0

    def request(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        phase = self.fail.get(self.calls)
        if phase == "before":
            raise requests.ConnectionError("connection reset by peer")
        response = self.session.request(*args, **kwargs)
        if phase == "after":
            raise requests.ConnectionError("connection reset by peer")
        if self.strip and "batch" in str(response.url):
            body = response.json()
            for out in body.get("create", []):
                out.get("error", {}).get("data", {}).pop("resource_id", None)
            response._content = json.dumps(body).encode()
        return response


def gets(shop: WooServer) -> list[tuple[str, dict[str, str]]]:
    """The lookups: path and query (without the OAuth parameters) of each GET."""
    return [
        (r.path.removeprefix(API), {k: v for k, v in r.query.items() if not k.startswith("oauth")})
        for r in shop.log if r.method == "GET"
    ]  # fmt: skip


@pytest.mark.parametrize("phase", ["before", "after"])
def test_a_fault_after_a_batch_went_through_is_sent_again_by_the_client(
    shop: WooServer, session, phase: str
) -> None:
    """The third request of a send fails once, before WooCommerce saw it or after it applied
    it (the answer lost): the API client sends that request again and the send completes,
    without repeating the two requests that went through and without a duplicate."""
    offers = [
        offer("MUG-1"), offer("TEE-BLK", "NW-TEE", "Black"), offer("CAP-RED", "NW-CAP", "Red"),
        offer("TEE-NAV", "NW-TEE", "Navy"),
    ]  # fmt: skip
    # 1: products/batch, 2: NW-TEE's variations batch, 3: NW-CAP's (fails once)
    flaky: Any = Flaky(session, {3: phase})
    results = woo(shop, flaky).send("listings", offers)
    assert all(r.ok for r in results)
    cap = shop.by_sku("NW-CAP")
    assert cap and results[2].remote_ids["parent_id"] == str(cap["id"])
    assert len(shop.products) == 2 + 1 and [v["sku"] for v in shop.variations_of(cap["id"])] == [
        "CAP-RED"]  # fmt: skip
    writes = [(r.method, r.path.removeprefix(API)) for r in shop.log if r.method == "POST"]
    tee = shop.by_sku("NW-TEE")
    assert tee and writes[:2] == [
        ("POST", "/products/batch"),
        ("POST", f"/products/{tee['id']}/variations/batch"),
    ]
    # the variations batch again; after a lost answer, its create is refused as a duplicate
    # SKU and taken over by one lookup and one update
    repeats = 3 if phase == "after" else 1
    assert writes[2:] == [("POST", f"/products/{cap['id']}/variations/batch")] * repeats


def test_a_lost_answer_is_taken_over_with_one_lookup_for_all_refused_skus(
    shop: WooServer, session
) -> None:
    offers = [
        offer("MUG-1"), offer("BTL-1"), offer("TEE-BLK", "NW-TEE", "Black"),
        offer("TEE-NAV", "NW-TEE", "Navy"),
    ]  # fmt: skip
    flaky: Any = Flaky(session, {1: "after"})  # products/batch applied, its answer lost
    results = woo(shop, flaky).send("listings", offers)
    made: dict[str, Any] = {sku: shop.by_sku(sku) for sku in ("MUG-1", "BTL-1", "NW-TEE")}
    assert all(r.ok for r in results) and len(shop.products) == 3
    assert [results[0].remote_ids, results[1].remote_ids] == [
        {"product_id": str(made[s]["id"])} for s in ("MUG-1", "BTL-1")]  # fmt: skip
    include = ",".join(sorted(str(p["id"]) for p in made.values()))
    assert gets(shop) == [("/products", {"include": include, "per_page": "100"})]
    assert [(r.method, r.path.removeprefix(API)) for r in shop.log] == [
        ("POST", "/products/batch"), ("POST", "/products/batch"), ("GET", "/products"),
        ("POST", "/products/batch"), ("POST", f"/products/{made['NW-TEE']['id']}/variations/batch"),
    ]  # fmt: skip


def test_a_fault_in_the_lookup_is_sent_again(shop: WooServer, session) -> None:
    shop.create(None, {"name": "Mug", "sku": "MUG-1"})  # a create whose answer was lost
    flaky: Any = Flaky(session, {2: "before"})  # 1: products/batch, 2: the lookup of MUG-1
    mug, new = woo(shop, flaky).send("listings", [offer("MUG-1"), offer("NEW-1")])
    assert flaky.calls == 4  # the lookup again, then the takeover
    assert mug.ok and new.ok and len(shop.products) == 2


def test_without_resource_ids_each_refused_sku_is_looked_up(shop: WooServer, session) -> None:
    for sku in ("MUG-1", "BTL-1"):
        shop.create(None, {"name": sku, "sku": sku})
    results = woo(shop, cast(Any, Flaky(session, {}, strip=True))).send(
        "listings", [offer("MUG-1"), offer("BTL-1")]
    )
    assert all(r.ok for r in results) and len(shop.products) == 2
    assert gets(shop) == [("/products", {"sku": "MUG-1"}), ("/products", {"sku": "BTL-1"})]


def test_a_fault_between_price_batches_keeps_the_prices_set(shop: WooServer, session) -> None:
    listed = [offer("MUG-1"), offer("TEE-BLK", "NW-TEE", "Black"), offer("CAP", "NW-CAP", "Red")]
    known = ids(woo(shop, session).send("listings", listed))
    priced = [dataclasses.replace(o, price=Decimal("33.00")) for o in listed]
    # 1: products, 2: NW-TEE's variations, 3: NW-CAP's; the second fails at every attempt
    attempts = WooCommerce.request_attempts
    failing = {n: "after" for n in range(2, 2 + attempts)}
    with pytest.raises(Retriable):  # the client gave up: the batch is the engine's to retry
        woo(shop, cast(Any, Flaky(session, failing))).send("prices", priced, known_ids=known)
    flaky: Any = Flaky(session, {2: "after"})  # once: the client sends it again
    results = woo(shop, flaky).send("prices", priced, known_ids=known)
    assert flaky.calls == 4 and all(r.ok for r in results)
    assert results[0].remote_ids == known["MUG-1"]
    assert {(shop.by_sku(o.sku) or {}).get("regular_price") for o in listed} == {"33.00"}
