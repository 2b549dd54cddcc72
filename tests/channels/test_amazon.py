"""The Amazon channel's listings, prices and stock: every SP-API request checked against Amazon's
Listings Items and Feeds contracts (Prism), every feed document against Amazon's
JSON_LISTINGS_FEED schemas, and what the seller's listings end up as (the Amazon double):
listings as feeds, a few price or stock changes as patchListingsItem, many as a feed, per-SKU
issues of a processing report as rejections with Amazon's message, and the Login with Amazon
token that never shows up anywhere."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
import requests

from multichan.channels import registry
from multichan.channels.amazon import Amazon
from multichan.channels.base import JOINT, Channel, Fatal, Retriable
from multichan.testing import ChannelConformance, sample_offers
from tests.channels.amazon_conftest import (
    CLIENT_SECRET,
    FEEDS,
    LISTINGS,
    MARKETPLACE,
    REFRESH_TOKEN,
    SELLER_ID,
    TOKEN_PATH,
    AmazonDouble,
    ready,
)
from tests.prism import Prism

SECRETS = (CLIENT_SECRET, REFRESH_TOKEN)
FEED_POST, DOC_POST = f"{FEEDS}/feeds", f"{FEEDS}/documents"
PATCH = rf"{LISTINGS}/items/{SELLER_ID}/.+"


@pytest.fixture
def amazon(
    shared_amazon: AmazonDouble,
    amazon_listings_prism: Prism,
    amazon_feeds_prism: Prism,
    amazon_orders_prism: Prism,
    monkeypatch: pytest.MonkeyPatch,
) -> AmazonDouble:
    return ready(
        shared_amazon, monkeypatch, amazon_listings_prism, amazon_feeds_prism,
        amazon_orders_prism,
    )  # fmt: skip


def make(url: str, **extra: Any) -> Amazon:
    raw = {
        "seller_id": SELLER_ID,
        "marketplace_id": MARKETPLACE,
        "refresh_token": "${AMAZON_REFRESH_TOKEN}",
        "client_id": "${AMAZON_CLIENT_ID}",
        "client_secret": "${AMAZON_CLIENT_SECRET}",
        "api_url": url,
        "token_url": url + TOKEN_PATH,
        "product_types": {"Apparel": "SHIRT", "Home > Kitchen": "DRINKING_CUP"},
        "timeout": 5,
        **extra,
    }
    cls = registry.load("amazon")  # through the entry point, as channels.yaml would
    settings, problems = cls.validate_settings(raw, "channels.yaml:30: channels.amazon.settings")
    assert problems == []
    channel = cls("amazon", settings, session=requests.Session())
    assert isinstance(channel, Amazon)
    channel.sleep = lambda seconds: None
    return channel


def listed(amazon: AmazonDouble, channel: Amazon, n: int = 4) -> list[Any]:
    offers = sample_offers(n)
    assert all(r.ok for r in channel.send("listings", offers))
    amazon.requests.clear()
    return offers


class TestAmazonConformance(ChannelConformance):
    @pytest.fixture
    def channel_class(self) -> type[Channel]:
        return Amazon

    @pytest.fixture
    def channel(self, amazon: AmazonDouble) -> Channel:
        yield make(amazon.url)
        assert amazon.violations == []


def test_listings_go_as_one_feed_valid_against_amazons_schemas(amazon: AmazonDouble) -> None:
    channel = make(amazon.url)
    offers = sample_offers(5)
    results = channel.send("listings", offers)
    assert [r.ok for r in results] == [True] * 5
    assert amazon.violations == []  # requests, the document and the report all valid
    assert len(amazon.calls("POST", FEED_POST)) == 1 and len(amazon.calls("POST", DOC_POST)) == 1
    [feed] = amazon.calls("POST", FEED_POST)
    assert feed["feedType"] == "JSON_LISTINGS_FEED" and feed["marketplaceIds"] == [MARKETPLACE]
    assert sorted(amazon.listings) == sorted(o.sku for o in offers)
    tee = amazon.listings[offers[0].sku]
    assert tee["productType"] == "SHIRT"  # Apparel > Shirts by its start
    assert amazon.listings[offers[2].sku]["productType"] == "DRINKING_CUP"
    assert amazon.listings[offers[4].sku]["productType"] == "PRODUCT"  # no mapping: default
    assert tee["attributes"]["item_name"][0]["value"] == offers[0].title
    assert amazon.shown()[offers[0].sku] == (offers[0].price, offers[0].quantity)
    sale = offers[3]  # sample offer 3 is on sale
    offer = amazon.listings[sale.sku]["attributes"]["purchasable_offer"][0]
    assert (
        Decimal(str(offer["discounted_price"][0]["schedule"][0]["value_with_tax"]))
        == sale.sale_price
    )


def test_use_job_listings_always_prices_and_stock_above_the_threshold(amazon: AmazonDouble) -> None:
    channel = make(amazon.url, feed_threshold=10)
    assert channel.use_job("listings", 1)
    for op in ("prices", "quantities", JOINT):
        assert not channel.use_job(op, 10) and channel.use_job(op, 11)


def test_a_single_price_change_goes_by_patch_listings_item(amazon: AmazonDouble) -> None:
    channel = make(amazon.url)
    offers = listed(amazon, channel)
    changed = dataclasses.replace(offers[1], price=Decimal("59.00"), sale_price=None)
    [result] = channel.send("prices", [changed])
    assert result.ok and result.remote_ids["submission_id"].startswith("sub-")
    assert amazon.count("PATCH", PATCH) == 1 and amazon.calls("POST", FEED_POST) == []
    [sent] = [r for r in amazon.requests if r["method"] == "PATCH"]
    assert sent["body"]["patches"][0]["path"] == "/attributes/purchasable_offer"
    assert f"marketplaceIds={MARKETPLACE}" in sent["query"]
    assert amazon.price_of(changed.sku) == Decimal("59.00")
    [both] = channel.send(JOINT, [dataclasses.replace(changed, quantity=0)])
    assert both.ok and amazon.shown()[changed.sku] == (Decimal("59"), 0)
    assert amazon.violations == []


def test_a_large_change_goes_as_a_feed_of_patch_messages(amazon: AmazonDouble) -> None:
    channel = make(amazon.url, feed_threshold=2)
    offers = listed(amazon, channel, 4)
    moved = [dataclasses.replace(o, quantity=o.quantity + 5) for o in offers]
    assert channel.use_job("quantities", len(moved))
    ticket = channel.start_job("quantities", moved)
    assert set(ticket) == {"feed_id", "feed_document_id"}
    results = channel.job_results("quantities", ticket, [o.sku for o in moved])
    assert results is not None and all(r.ok for r in results)
    assert amazon.count("PATCH", PATCH) == 0
    assert {sku: q for sku, (_, q) in amazon.shown().items()} == {o.sku: o.quantity for o in moved}
    assert amazon.violations == []


def test_a_running_feed_is_none_until_done_and_its_report_may_be_gzipped(
    amazon: AmazonDouble,
) -> None:
    channel = make(amazon.url)
    amazon.looks, amazon.gzip_reports = 2, True
    offers = sample_offers(3)
    ticket = channel.start_job("listings", offers)
    skus = [o.sku for o in offers]
    assert channel.job_results("listings", ticket, skus) is None  # IN_PROGRESS
    assert channel.job_results("listings", ticket, skus) is None
    results = channel.job_results("listings", ticket, skus)
    assert results is not None and [r.ok for r in results] == [True] * 3
    assert len(amazon.calls("POST", FEED_POST)) == 1  # looked at, never sent again


def test_report_issues_reject_their_sku_with_amazons_message(amazon: AmazonDouble) -> None:
    channel = make(amazon.url)
    offers = sample_offers(4)
    amazon.refuse[offers[1].sku] = ("90220", "'[batteries_required]' is required but not supplied.")
    amazon.warn[offers[2].sku] = ("18027", "The image is smaller than 1000 pixels.")
    results = channel.send("listings", offers)
    assert [r.ok for r in results] == [True, False, True, True]
    assert results[1].message == (
        "Amazon: '[batteries_required]' is required but not supplied. (90220)"
    )
    assert not results[1].retriable
    assert results[2].message == "Amazon warned: The image is smaller than 1000 pixels. (18027)"
    assert offers[1].sku not in amazon.listings and amazon.violations == []
    # a patch of a SKU Amazon has no listing for: rejected, named, the others go on
    unknown = sample_offers(6)[5]
    out = channel.send("prices", [offers[0], unknown])
    assert out[0].ok and not out[1].ok
    assert f"The SKU '{unknown.sku}' does not have a listing" in (out[1].message or "")


@pytest.mark.parametrize("end", ["CANCELLED", "FATAL"])
def test_a_cancelled_feed_is_sent_again_a_fatal_one_names_amazons_reason(
    amazon: AmazonDouble, end: str
) -> None:
    channel = make(amazon.url)
    amazon.end = end
    offers = sample_offers(2)
    results = channel.send("listings", offers)
    assert [r.ok for r in results] == [False, False]
    if end == "CANCELLED":
        assert all(r.retriable for r in results)
        assert "ended CANCELLED; sent again" in (results[0].message or "")
    else:
        assert not any(r.retriable for r in results)
        assert "The feed could not be processed: internal error" in (results[0].message or "")
    assert amazon.listings == {}


def test_the_lwa_token_is_granted_once_cached_and_never_shown(amazon: AmazonDouble) -> None:
    channel = make(amazon.url)
    offers = listed(amazon, channel, 2)
    channel.send("quantities", offers)
    assert amazon.grants == 1
    assert not any(r["path"] == TOKEN_PATH for r in amazon.requests)  # cached since the feed
    sent = [r["headers"].get("x-amz-access-token") for r in amazon.requests]
    assert all(t and t.startswith("Atza|") for t in sent)

    bad = make(amazon.url, client_secret="${AMAZON_BAD_SECRET}")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AMAZON_BAD_SECRET", "amzn1.oa2-cs.v1.wrong-secret-value")
        with pytest.raises(Fatal) as caught:
            bad.send("prices", offers[:1])
    text = str(caught.value)
    assert "$AMAZON_REFRESH_TOKEN" in text and "$AMAZON_BAD_SECRET" in text
    assert caught.value.exit_code == 5
    for secret in (*SECRETS, "amzn1.oa2-cs.v1.wrong-secret-value"):
        assert secret not in text


@pytest.mark.parametrize(
    ("status", "headers", "error", "wait"),
    [
        (429, {"Retry-After": "3"}, Retriable, 3.0),
        (503, {}, Retriable, None),
        (403, {}, Fatal, None),
    ],
)
def test_whole_call_failures_are_retriable_or_fatal(
    amazon: AmazonDouble,
    status: int,
    headers: dict[str, str],
    error: type[Exception],
    wait: float | None,
) -> None:
    channel = make(amazon.url)
    channel.request_attempts = 1
    body = {
        "errors": [
            {
                "code": "QuotaExceeded" if status == 429 else "Unauthorized",
                "message": "You exceeded your quota" if status == 429 else "Denied",
            }
        ]
    }
    amazon.fail_next.append((status, headers, body))
    with pytest.raises(error) as caught:
        channel.send("prices", sample_offers(1))
    assert getattr(caught.value, "retry_after", None) == wait
    for secret in SECRETS:
        assert secret not in str(caught.value)


def test_the_double_fails_a_request_that_breaks_amazons_contract(amazon: AmazonDouble) -> None:
    """The check the other tests rely on: a patch without its productType is refused."""
    path = f"{LISTINGS}/items/{SELLER_ID}/NW-TEE-BLA-000?marketplaceIds={MARKETPLACE}"
    answer = requests.patch(amazon.url + path, json={"patches": []}, timeout=10)
    assert answer.status_code in (400, 422) and len(amazon.violations) == 1
    assert "productType" in amazon.violations[0]
    amazon.violations.clear()


def test_a_token_amazon_refuses_with_403_is_minted_again_once(amazon: AmazonDouble) -> None:
    """Amazon answers an expired or revoked access token with 403 Unauthorized (not 401): the
    cached token is replaced and the call sent once more."""
    from multichan.channels.auth import TokenStore

    channel = make(amazon.url)
    offers = listed(amazon, channel, 1)
    channel.tokens = TokenStore()
    stale = "Atza|IwEBIRevokedAccessToken0001"
    channel.tokens.put("amazon:amazon", stale, 4_000_000_000.0)  # the cache thinks it is good
    amazon.tokens[stale] = 0.0  # Amazon: expired
    [result] = channel.send("quantities", offers)
    assert result.ok and amazon.grants == 2  # the feed's grant, then this one
    sent = [r["headers"].get("x-amz-access-token") for r in amazon.requests]
    assert sent[0] == stale and sent[-1] != stale and sent[-1] in amazon.tokens


FEED_AND_API = """
channels:
  amazon_feed:
    type: amazon_listings
    output: feeds/amazon.json
    settings: {seller_id: A2EXAMPLESELLER1, marketplace_id: ATVPDKIKX0DER, product_type: PRODUCT}
  amazon:
    type: amazon
    settings:
      seller_id: A2EXAMPLESELLER1
      refresh_token: ${AMAZON_REFRESH_TOKEN}
      client_id: ${AMAZON_CLIENT_ID}
      client_secret: ${AMAZON_CLIENT_SECRET}
"""


def test_api_listings_carry_the_feed_templates_attributes(demo: Any) -> None:
    """The API's UPDATE messages and the ``amazon_listings`` feed file say the same thing
    about each SKU: one message shape, built from the same offers."""
    import json as jsonlib

    from multichan.feeds.run import load_config
    from multichan.offers import offers_for
    from multichan.workspace import resolve
    from tests.conftest import run_cli, write_config

    write_config(demo, FEED_AND_API)
    assert run_cli("-w", demo, "export", "amazon_feed").code == 0
    feed = jsonlib.loads((demo / "feeds" / "amazon.json").read_text(encoding="utf-8"))
    ws = resolve(demo)
    config = load_config(ws)
    offers = list(offers_for(ws.db(), config.channels["amazon"], config, print))
    settings, problems = Amazon.validate_settings(config.channels["amazon"].settings, "here")
    assert problems == []
    channel = Amazon("amazon", settings, session=object())
    ours = {o.sku: channel.message("listings", o, 1) for o in offers}
    assert len(feed["messages"]) == len(ours) > 20
    for message in feed["messages"]:
        mine = ours[message["sku"]]
        assert {**mine, "messageId": message["messageId"]} == message, message["sku"]


def test_a_429_without_retry_after_waits_the_operations_rate(amazon: AmazonDouble) -> None:
    """getOrderItems takes 0.5 requests a second: Amazon's 429 names that rate, not a wait."""
    channel = make(amazon.url)
    waits: list[float] = []
    channel.sleep = waits.append
    offers = listed(amazon, channel, 1)
    throttled = {"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota"}]}
    amazon.fail_next += [(429, {"x-amzn-RateLimit-Limit": "0.5"}, throttled)] * 2
    [result] = channel.send("prices", offers)
    assert result.ok and waits == [2.0, 2.0]
