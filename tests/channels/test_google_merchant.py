"""The Google Merchant API channel against the Google double: every request checked against
Google's discovery documents, product inputs and local inventories as Google would hold them,
service-account and OAuth credentials through google-auth, quota groups, and the split of
failures into per-SKU rejections, Retriable and Fatal."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from multichan.channels import registry
from multichan.channels.base import Channel, Fatal
from multichan.channels.google_merchant import (
    NOT_LISTED,
    UNPROCESSED,
    GoogleMerchantApi,
    encode,
)
from multichan.offers import Offer
from multichan.testing import ChannelConformance, sample_offers
from tests.channels.google_conftest import (
    ACCOUNT,
    CLIENT_ID,
    CLIENT_SECRET,
    DATA_SOURCE,
    REFRESH_TOKEN,
    GoogleDouble,
    discovery,
    service_account_info,
)

INSERT = f"/products/v1/accounts/{ACCOUNT}/productInputs:insert"


@pytest.fixture
def google(shared_google: GoogleDouble) -> GoogleDouble:
    shared_google.reset()
    return shared_google


@pytest.fixture
def key_file(google: GoogleDouble, tmp_path: Path) -> Path:
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(service_account_info(google.token_uri)), encoding="utf-8")
    return path


def make(google: GoogleDouble, key_file: Path | None, **extra: Any) -> GoogleMerchantApi:
    raw: dict[str, Any] = {"base_url": google.url, "account": ACCOUNT, "data_source": "10001",
                           "stores": {"store": "STORE-7"}, "timeout": 5, **extra}  # fmt: skip
    if key_file is not None:
        raw["service_account_file"] = str(key_file)
    cls = registry.load("google_merchant_api")  # through the entry point, as channels.yaml does
    settings, problems = cls.validate_settings(raw, "channels.yaml:20: channels.google.settings")
    assert problems == []
    channel = cls("google", settings, session=requests.Session())
    assert isinstance(channel, GoogleMerchantApi)
    channel.sleep = lambda seconds: None
    return channel


def offers(n: int = 3) -> list[Offer]:
    found = sample_offers(n)
    for o in found:
        o.gtin = "4006381333931"
        o.location_quantities = {"warehouse": o.quantity, "store": 2}
    return found


def pid(sku: str) -> str:
    return f"en~US~{sku}"


class TestGoogleConformance(ChannelConformance):
    @pytest.fixture
    def channel_class(self) -> type[Channel]:
        return GoogleMerchantApi

    @pytest.fixture
    def channel(self, google: GoogleDouble, key_file: Path) -> Channel:
        return make(google, key_file)


def test_a_listing_is_one_insert_of_the_whole_product_as_the_feed_sends_it(
    google: GoogleDouble, key_file: Path
) -> None:
    channel = make(google, key_file)
    batch = offers(2)
    batch[1].sale_price = Decimal("19.00")
    results = channel.send("listings", batch)
    assert [r.ok for r in results] == [True, True]
    assert results[0].remote_ids == {"product": encode(pid(batch[0].sku))}
    inserts = google.calls("POST", INSERT)
    assert len(inserts) == 2 and google.violations == []
    assert {r["query"]["dataSource"] for r in inserts} == {DATA_SOURCE}
    attrs = google.inputs[pid(batch[1].sku)]["productAttributes"]
    o = batch[1]
    assert attrs == {
        "title": o.title, "description": o.description, "link": o.link,
        "imageLink": o.image_link, "additionalImageLinks": o.additional_image_links,
        "brand": o.brand, "gtins": ["4006381333931"], "mpn": o.mpn, "condition": "NEW",
        "itemGroupId": o.item_group_id, "productTypes": [o.product_type], "color": o.color,
        "size": "M", "shippingWeight": {"value": o.weight_grams, "unit": "g"},
        "price": {"amountMicros": "64500000", "currencyCode": "USD"},
        "salePrice": {"amountMicros": "19000000", "currencyCode": "USD"},
        "availability": "IN_STOCK",
    }  # fmt: skip
    # the price and stock sends right after write nothing the insert wrote; stock goes to
    # the store (local inventory) only
    assert all(r.ok for r in channel.send("prices", batch))
    assert all(r.ok for r in channel.send("quantities", batch))
    assert google.calls("PATCH") == []
    assert google.local[pid(o.sku)]["STORE-7"]["localInventoryAttributes"] == {
        "quantity": "2", "availability": "IN_STOCK"
    }  # fmt: skip


def test_prices_and_stock_are_patches_of_their_attributes_only(
    google: GoogleDouble, key_file: Path
) -> None:
    first = make(google, key_file)
    batch = offers(2)
    batch[0].sale_price = Decimal("20.00")
    ids = {o.sku: r.remote_ids for o, r in zip(batch, first.send("listings", batch), strict=True)}
    later = make(google, key_file)  # the next run: it knows the products by their ids only
    changed = [dataclasses.replace(batch[0], price=Decimal("27.50"), sale_price=None,
                                   quantity=0, availability="out_of_stock",
                                   location_quantities={"store": 0})]  # fmt: skip
    [result] = later.send("prices+quantities", changed, known_ids=ids)
    assert result.ok
    [patch] = google.calls("PATCH")
    assert patch["query"]["updateMask"] == "price,salePrice,availability"
    attrs = google.inputs[pid(batch[0].sku)]["productAttributes"]
    assert attrs["price"] == {"amountMicros": "27500000", "currencyCode": "USD"}
    assert "salePrice" not in attrs  # the sale ended: the mask deleted it
    assert attrs["availability"] == "OUT_OF_STOCK" and attrs["title"] == batch[0].title
    assert google.local[pid(batch[0].sku)]["STORE-7"]["localInventoryAttributes"] == {
        "quantity": "0", "availability": "OUT_OF_STOCK"
    }  # fmt: skip
    assert google.violations == []
    # a SKU never listed is refused without a call
    [unknown] = later.send("prices", sample_offers(6)[5:])
    assert unknown.message == NOT_LISTED and len(google.calls("PATCH")) == 1


def test_one_bad_item_is_rejected_with_googles_message_and_the_rest_go(
    google: GoogleDouble, key_file: Path
) -> None:
    google.currency = "EUR"
    batch = offers(3)
    for o in batch:
        o.currency = "EUR"
    batch[1] = dataclasses.replace(batch[1], currency="USD")
    batch[2] = dataclasses.replace(batch[2], sku="X" * 51)
    results = make(google, key_file).send("listings", batch)
    assert [r.ok for r in results] == [True, False, False]
    assert results[1].message == (
        "Google: [price] Invalid currency code 'USD': the account sells in EUR (INVALID_ARGUMENT)"
    )
    assert "offerId of at most 50" in str(results[2].message)
    assert set(google.inputs) == {pid(batch[0].sku)}


def test_items_google_disapproves_later_are_read_from_the_processed_product(
    google: GoogleDouble, key_file: Path
) -> None:
    channel = make(google, key_file)
    batch = offers(2)
    batch[1].image_link = None
    assert all(r.ok for r in channel.send("listings", batch))  # Google checks later
    assert channel.issues([o.sku for o in batch]) == {
        batch[1].sku: ["DISAPPROVED: Missing value [imageLink] (imageLink)"]
    }
    remote = channel.fetch_remote([batch[0].sku, "NEVER-PUSHED"])
    assert remote == {batch[0].sku: {
        "title": batch[0].title, "link": batch[0].link, "price": "29.00", "sale_price": None,
        "currency": "USD", "availability": "out_of_stock", "issues": [],
    }}  # fmt: skip


def test_the_double_refuses_what_googles_discovery_documents_refuse() -> None:
    d = discovery()
    route, _ = d.route("POST", INSERT) or (None, ())
    assert route is not None
    good = {
        "offerId": "A",
        "contentLanguage": "en",
        "feedLabel": "US",
        "productAttributes": {"price": {"amountMicros": "1000000", "currencyCode": "USD"}},
    }
    assert d.check(route, {"dataSource": DATA_SOURCE}, good) == []
    bad = {"offerId": "A", "contentLanguage": "en",
           "productAttributes": {"quantity": 3, "availability": "in stock",
                                 "price": {"amountMicros": 1.5}}}  # fmt: skip
    assert d.check(route, {"colour": "x"}, bad) == [
        "unknown query parameter 'colour' for merchantapi.accounts.productInputs.insert",
        "merchantapi.accounts.productInputs.insert: query parameter 'dataSource' is required",
        "ProductInput.productAttributes: unknown field 'quantity' (ProductAttributes has no "
        "such field)",
        "ProductInput.productAttributes.availability: 'in stock' is not one of "
        "['AVAILABILITY_UNSPECIFIED', 'IN_STOCK', 'OUT_OF_STOCK', 'PREORDER', "
        "'LIMITED_AVAILABILITY', 'BACKORDER']",
        "ProductInput.productAttributes.price.amountMicros: expected a string, not 1.5",
        "ProductInput.feedLabel is required",
    ]


def test_oauth_user_credentials_and_a_401_mint_a_new_token_never_shown(
    google: GoogleDouble, key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_REFRESH_TOKEN", REFRESH_TOKEN)
    monkeypatch.setenv("GOOGLE_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("GOOGLE_CLIENT_SECRET", CLIENT_SECRET)
    channel = make(google, None, refresh_token="${GOOGLE_REFRESH_TOKEN}",
                   client_id="${GOOGLE_CLIENT_ID}", client_secret="${GOOGLE_CLIENT_SECRET}",
                   token_uri=google.token_uri)  # fmt: skip
    assert all(r.ok for r in channel.send("listings", offers(1)))
    assert google.grants == 1
    google.tokens.clear()  # Google revoked the token: the next call gets 401, then a new one
    assert all(r.ok for r in channel.send("listings", offers(2)))
    assert google.grants == 2
    monkeypatch.setenv("GOOGLE_REFRESH_TOKEN", "1//revoked")
    google.tokens.clear()
    with pytest.raises(Fatal) as caught:
        make(google, None, refresh_token="${GOOGLE_REFRESH_TOKEN}", token_uri=google.token_uri,
             client_id="${GOOGLE_CLIENT_ID}", client_secret="${GOOGLE_CLIENT_SECRET}",
             ).send("listings", offers(1))  # fmt: skip
    text = str(caught.value)
    assert "Google refused $GOOGLE_REFRESH_TOKEN" in text and caught.value.exit_code == 5
    assert "1//revoked" not in text and CLIENT_SECRET not in text


def test_a_bad_service_account_key_fails_the_channel_without_showing_the_key(
    google: GoogleDouble, tmp_path: Path
) -> None:
    info = service_account_info(google.token_uri)
    info["client_email"] = "someone-else@shop-project.iam.gserviceaccount.com"
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps(info), encoding="utf-8")
    with pytest.raises(Fatal) as caught:
        make(google, wrong).send("listings", offers(1))
    assert f"the service-account key file {wrong}" in str(caught.value)
    assert "PRIVATE KEY" not in str(caught.value)
    missing = tmp_path / "missing.json"
    with pytest.raises(Fatal, match="cannot read the service-account key file"):
        make(google, missing).send("listings", offers(1))
    assert google.calls("POST", INSERT) == []


def test_throttling_and_outages_are_retriable_and_leave_the_rest_unsent(
    google: GoogleDouble, key_file: Path
) -> None:
    channel = make(google, key_file)
    channel.request_attempts = 1
    body = {"error": {"code": 503, "message": "The service is currently unavailable.",
                      "status": "UNAVAILABLE"}}  # fmt: skip
    channel.quotas()  # the quota read is done
    google.fail_next.append((503, {}, body))
    results = channel.send("listings", offers(3))
    assert [(r.ok, r.retriable) for r in results] == [(False, True)] * 3
    assert "The service is currently unavailable" in str(results[0].message)
    assert google.inputs == {}  # nothing after the failure was sent
    rate = {"error": {"code": 429, "message": "[quota/request_rate_too_high] Too many requests",
                      "status": "RESOURCE_EXHAUSTED"}}  # fmt: skip
    google.fail_next.append((429, {}, rate))
    results = channel.send("listings", offers(1))
    assert results[0].retriable and results[0].retry_after == 60.0


def test_a_spent_daily_quota_stops_before_google_refuses(
    google: GoogleDouble, key_file: Path
) -> None:
    google.daily["products_insert"] = 4
    google.usage["products_insert"] = 2  # earlier today
    channel = make(google, key_file)
    with pytest.raises(Fatal) as caught:
        channel.send("listings", offers(3))
    assert "daily quota of 4 calls for products/v1/productInputs.insert is spent" in str(
        caught.value
    )
    assert len(google.inputs) == 2 and google.usage["products_insert"] == 4
    assert all(r["status"] < 400 for r in google.requests)  # Google never had to refuse


def test_a_spent_minute_quota_waits_for_the_next_minute(
    google: GoogleDouble, key_file: Path
) -> None:
    google.minute["products_insert"] = 2
    channel = make(google, key_file)
    now = [1000.0]
    waits: list[float] = []
    channel.clock = lambda: now[0]

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    channel.sleep = sleep
    assert all(r.ok for r in channel.send("listings", offers(5)))
    assert waits == [60.0, 60.0]  # after the 2nd and the 4th insert


def test_settings_need_one_kind_of_credentials() -> None:
    where = "channels.yaml:20: channels.google.settings"
    base = {"account": ACCOUNT, "data_source": "10001"}
    _, problems = GoogleMerchantApi.validate_settings(base, where)
    assert problems == [
        f"{where}: set one of service_account_file, service_account_key (${{VAR}}) or "
        "refresh_token (with client_id and client_secret), not 0"
    ]
    raw = {**base, "refresh_token": "${GOOGLE_REFRESH_TOKEN}", "feed_label": "us store",
           "account": "shop"}  # fmt: skip
    _, problems = GoogleMerchantApi.validate_settings(raw, where)
    assert problems == [
        f"{where}.client_id is required with refresh_token (${{VAR}})",
        f"{where}.client_secret is required with refresh_token (${{VAR}})",
        f"{where}.feed_label 'us store': at most 20 of A-Z, 0-9, - and _",
        f"{where}.account 'shop': the Merchant Center id (digits)",
    ]


def test_store_stock_of_a_product_google_has_not_processed_yet_is_sent_again(
    google: GoogleDouble, key_file: Path
) -> None:
    channel = make(google, key_file)
    batch = offers(2)
    ids = {o.sku: r.remote_ids for o, r in zip(batch, channel.send("listings", batch), strict=True)}
    google.unprocessed.add(pid(batch[0].sku))  # the insert was taken; processing takes minutes
    later = make(google, key_file)
    results = later.send("quantities", batch, known_ids=ids)
    assert [(r.ok, r.retriable, r.message) for r in results] == [
        (False, True, UNPROCESSED), (True, False, None)
    ]  # fmt: skip
    google.unprocessed.clear()
    assert later.send("quantities", batch[:1], known_ids=ids)[0].ok
    assert set(google.local) == {pid(o.sku) for o in batch}


def test_a_key_held_in_a_variable_works_and_never_shows(
    google: GoogleDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = service_account_info(google.token_uri)
    monkeypatch.setenv("GOOGLE_SERVICE_ACCOUNT_KEY", json.dumps(info))
    channel = make(google, None, service_account_key="${GOOGLE_SERVICE_ACCOUNT_KEY}")
    assert all(r.ok for r in channel.send("listings", offers(1)))
    google.currency = "EUR"
    [refused] = channel.send("listings", offers(1))
    google.tokens.clear()
    info["client_email"] = "gone@shop-project.iam.gserviceaccount.com"
    monkeypatch.setenv("GOOGLE_SERVICE_ACCOUNT_KEY", json.dumps(info))
    fresh = make(google, None, service_account_key="${GOOGLE_SERVICE_ACCOUNT_KEY}")
    with pytest.raises(Fatal) as caught:
        fresh.send("listings", offers(1))
    shown = f"{refused.message} {caught.value} {channel!r} {fresh!r}"
    assert "Google refused the service-account key in $GOOGLE_SERVICE_ACCOUNT_KEY" in shown
    body = "".join(info["private_key"].splitlines()[1:-1])
    for secret in (body[:40], body[-40:], info["private_key_id"], *google.tokens):
        assert secret not in shown


def test_a_listing_job_takes_its_results_from_the_processed_products(
    google: GoogleDouble, key_file: Path
) -> None:
    """Google checks an accepted insert later: a listings job's result for each SKU is what
    Google then says of the processed product, so a disapproval is that SKU's rejection, and
    the job waits while Google has not processed a product yet."""
    channel = make(google, key_file)
    batch = offers(3)
    batch[1].image_link = None  # Google disapproves it once processed
    google.unprocessed.add(pid(batch[2].sku))
    ticket = channel.start_job("listings", batch)
    skus = [o.sku for o in batch]
    assert channel.job_results("listings", ticket, skus) is None  # still processing
    google.unprocessed.clear()
    results = channel.job_results("listings", ticket, skus)
    assert results is not None
    assert [(r.sku, r.ok) for r in results] == [(s, s != skus[1]) for s in skus]
    assert results[1].message == (
        "Google disapproved it: DISAPPROVED: Missing value [imageLink] (imageLink)"
    )
    assert results[0].remote_ids == {"product": channel.product_id(skus[0])}


def test_an_insert_refused_at_once_is_rejected_in_the_jobs_results(
    google: GoogleDouble, key_file: Path
) -> None:
    channel = make(google, key_file)
    batch = offers(2)
    batch[0].currency = "EUR"  # the data source sells in USD
    ticket = channel.start_job("listings", batch)
    results = channel.job_results("listings", ticket, [o.sku for o in batch])
    assert results is not None and [r.ok for r in results] == [False, True]
    assert results[0].message and results[0].message.startswith("Google: ")
