"""What the Google channel reads back for drift (``remote_listings``), against the Google double:
the processed products Google lists page by page (every call checked against Google's
discovery documents), prices from micros as decimal strings, each product's stock summed over
the mapped stores' local inventories, and what a seller changed or deleted in Merchant Center
showing up in the next read."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from multichan.channels.base import Fatal
from multichan.channels.google_merchant import GoogleMerchantApi
from multichan.offers import Offer
from multichan.testing import sample_offers
from tests.channels.google_conftest import ACCOUNT, GoogleDouble, service_account_info

LIST = f"/products/v1/accounts/{ACCOUNT}/products"


@pytest.fixture
def google(shared_google: GoogleDouble) -> GoogleDouble:
    shared_google.reset()
    return shared_google


@pytest.fixture
def key_file(google: GoogleDouble, tmp_path: Path) -> Path:
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(service_account_info(google.token_uri)), encoding="utf-8")
    return path


def make(google: GoogleDouble, key_file: Path, **extra: Any) -> GoogleMerchantApi:
    raw: dict[str, Any] = {"base_url": google.url, "account": ACCOUNT, "data_source": "10001",
                           "service_account_file": str(key_file), "timeout": 5,
                           "stores": {"store": "STORE-7", "mall": "STORE-9"}, **extra}  # fmt: skip
    settings, problems = GoogleMerchantApi.validate_settings(raw, "channels.google.settings")
    assert problems == []
    channel = GoogleMerchantApi("google", settings, session=requests.Session())
    channel.sleep = lambda seconds: None
    return channel


def offers(n: int) -> list[Offer]:
    found = sample_offers(n)
    for i, o in enumerate(found):
        o.gtin = "4006381333931"
        o.location_quantities = {"store": i + 1, "mall": 2, "warehouse": 50}
    return found


def push(channel: GoogleMerchantApi, batch: list[Offer]) -> None:
    assert all(r.ok for r in channel.send("listings", batch))
    known = {o.sku: {"product": channel.product_id(o.sku)} for o in batch}
    assert all(r.ok for r in channel.send("quantities", batch, known_ids=known))


def test_every_pushed_product_reads_back_with_the_contracts_fields_and_types(
    google: GoogleDouble, key_file: Path
) -> None:
    channel = make(google, key_file)
    batch = offers(3)
    batch[1].sale_price = Decimal("19.00")
    push(channel, batch)
    google.requests.clear()

    remote = dict(channel.remote_listings())
    assert list(remote) == sorted(o.sku for o in batch)  # each SKU once
    for i, o in enumerate(batch):
        assert remote[o.sku] == {
            "title": o.title, "price": f"{o.price:.2f}",
            "sale_price": "19.00" if i == 1 else None,
            # each mapped store by its location; the warehouse is no store
            "location_quantities": {"store": i + 1, "mall": 2},
            "listed": True,
        }  # fmt: skip
    lists = google.calls("GET", LIST)
    assert len(lists) == 1 and lists[0]["query"] == {"pageSize": "1000"}
    # one local inventory read per product, nothing written
    assert len(google.calls("GET", "/inventories/")) == 3
    assert google.calls("POST") == [] and google.violations == []


def test_pages_are_followed_by_their_token(google: GoogleDouble, key_file: Path) -> None:
    channel = make(google, key_file, stores={})  # no stores: Google shows no count
    batch = offers(7)
    assert all(r.ok for r in channel.send("listings", batch))
    google.list_page = 3  # Google may answer fewer than pageSize
    google.requests.clear()

    remote = list(channel.remote_listings())
    assert [sku for sku, _ in remote] == sorted(o.sku for o in batch)
    assert all(set(fields) == {"title", "price", "sale_price", "listed"} for _, fields in remote)
    pages = google.calls("GET", LIST)
    assert len(pages) == 3
    assert "pageToken" not in pages[0]["query"]
    assert all(p["query"]["pageToken"] for p in pages[1:])
    assert google.calls("GET", "/inventories/") == [] and google.violations == []


def test_a_change_in_merchant_center_shows_and_a_deleted_product_is_absent(
    google: GoogleDouble, key_file: Path
) -> None:
    channel = make(google, key_file)
    batch = offers(3)
    push(channel, batch)
    changed, deleted, paused = (o.sku for o in batch)
    google.change_behind(changed, price="9.99", salePrice="7.50", title="Renamed",
                         store_quantity={"STORE-7": 40, "STORE-OTHER": 99})  # fmt: skip
    google.change_behind(paused, pause="ALL")
    google.delete_behind(deleted)

    remote = dict(channel.remote_listings())
    assert set(remote) == {changed, paused}
    assert remote[changed] == {
        "title": "Renamed", "price": "9.99", "sale_price": "7.50",
        "location_quantities": {"store": 40, "mall": 2}, "listed": True,
    }  # fmt: skip  # a store multichan does not map is not counted
    assert remote[paused]["listed"] is False
    assert google.violations == []


def test_products_of_another_feed_label_are_not_this_channels(
    google: GoogleDouble, key_file: Path
) -> None:
    channel = make(google, key_file)
    push(channel, offers(1))
    other = make(google, key_file, feed_label="CA")
    assert list(other.remote_listings()) == []
    assert len(list(channel.remote_listings())) == 1


def test_a_spent_daily_quota_stops_the_read_with_a_clear_error(
    google: GoogleDouble, key_file: Path
) -> None:
    channel = make(google, key_file)
    push(channel, offers(1))
    google.daily["products_get"], google.usage["products_get"] = 500, 500  # spent today
    reader = make(google, key_file)  # a new run reads the quotas afresh
    with pytest.raises(Fatal, match=r"daily quota .* products/v1/products\.list is spent"):
        list(reader.remote_listings())
    assert google.calls("GET", LIST) == []  # refused before Google refused it
