"""What the Meta channel reads back for drift (``remote_listings``), against the Meta double: the
catalog's products edge read with the fields Meta's ProductItem spec has and the edge's own
params, page by page through Graph cursors; prices as Meta shows them ("$1,299.00", "12.00
USD", minor units) normalised to decimal strings; what a seller changed, hid or deleted in
Commerce Manager showing up in the next read."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import requests

from multichan.channels.base import Fatal
from multichan.channels.meta_catalog import MetaCatalogApi, _amount
from multichan.offers import Offer
from multichan.testing import sample_offers
from tests.channels.meta_conftest import CATALOG, TOKEN, MetaDouble

PRODUCTS = f"/v25.0/{CATALOG}/products"


@pytest.fixture
def meta(shared_meta: MetaDouble, monkeypatch: pytest.MonkeyPatch) -> MetaDouble:
    monkeypatch.setenv("META_ACCESS_TOKEN", TOKEN)
    shared_meta.reset()
    return shared_meta


def make(double: MetaDouble) -> MetaCatalogApi:
    raw = {"catalog_id": CATALOG, "token": "${META_ACCESS_TOKEN}", "base_url": double.url,
           "timeout": 5}  # fmt: skip
    settings, problems = MetaCatalogApi.validate_settings(raw, "channels.meta.settings")
    assert problems == []
    channel = MetaCatalogApi("meta", settings, session=requests.Session())
    channel.sleep = lambda seconds: None
    channel.backoff = lambda n: 0.0
    return channel


def push(channel: MetaCatalogApi, offers: list[Offer]) -> None:
    assert all(r.ok for r in channel.send("listings", offers))


def reads(meta: MetaDouble) -> list[dict[str, Any]]:
    return [r for r in meta.requests if r["method"] == "GET" and r["path"] == PRODUCTS]


def test_every_pushed_item_reads_back_with_the_contracts_fields_and_types(
    meta: MetaDouble,
) -> None:
    channel = make(meta)
    offers = sample_offers(4)
    offers[1].sale_price = Decimal("19.00")
    offers[2].price = Decimal("1299.00")  # shown by Meta as "$1,299.00"
    offers[3].quantity, offers[3].availability = 0, "out_of_stock"
    push(channel, offers)
    meta.requests.clear()

    remote = dict(channel.remote_listings())
    assert list(remote) == sorted(o.sku for o in offers)
    for o in offers:
        assert remote[o.sku] == {
            "title": o.title, "price": f"{o.price:.2f}",
            "sale_price": f"{o.sale_price:.2f}" if o.sale_price else None,
            "quantity": o.quantity, "listed": True,  # out of stock is still listed
        }  # fmt: skip
    assert remote[offers[2].sku]["price"] == "1299.00"
    [read] = reads(meta)
    assert read["query"]["bulk_pagination"] == "true" and read["query"]["limit"] == "250"
    assert "retailer_id" in read["query"]["fields"].split(",")
    assert meta.violations == [] and meta.posts() == []  # a read writes nothing


def test_pages_follow_the_after_cursor_until_there_is_no_next(meta: MetaDouble) -> None:
    channel = make(meta)
    offers = sample_offers(7)
    push(channel, offers)
    meta.max_page = 3
    meta.price_format = "code"  # "12.00 USD", as written
    meta.requests.clear()

    remote = list(channel.remote_listings())
    assert [sku for sku, _ in remote] == sorted(o.sku for o in offers)
    assert {f["price"] for _, f in remote} == {f"{o.price:.2f}" for o in offers}
    pages = reads(meta)
    assert len(pages) == 3
    assert "after" not in pages[0]["query"] and all(p["query"]["after"] for p in pages[1:])
    # the next link (which would carry the token) is not followed: the same call, a cursor
    assert {p["path"] for p in pages} == {PRODUCTS}
    assert meta.violations == []


def test_a_change_in_commerce_manager_shows_and_a_deleted_item_is_absent(
    meta: MetaDouble,
) -> None:
    channel = make(meta)
    offers = sample_offers(4)
    push(channel, offers)
    changed, deleted, hidden, ended = (o.sku for o in offers)
    meta.change_behind(changed, price="9.99 USD", sale_price="7.50 USD", title="Renamed",
                       quantity_to_sell_on_facebook=40)  # fmt: skip
    meta.change_behind(hidden, visibility="staging")
    meta.change_behind(ended, availability="discontinued")
    meta.delete_behind(deleted)

    remote = dict(channel.remote_listings())
    assert set(remote) == {changed, hidden, ended}
    assert remote[changed] == {
        "title": "Renamed", "price": "9.99", "sale_price": "7.50", "quantity": 40, "listed": True
    }  # fmt: skip
    assert remote[hidden]["listed"] is False and remote[ended]["listed"] is False


def test_an_empty_catalog_is_one_read_and_nothing(meta: MetaDouble) -> None:
    channel = make(meta)
    assert list(channel.remote_listings()) == []
    assert len(reads(meta)) == 1 and meta.violations == []


@pytest.mark.parametrize(
    ("shown", "currency", "expected"),
    [
        ("$1,299.00", "USD", "1299.00"),
        ("12.00 USD", "USD", "12.00"),
        ("12.00 USD", None, "12.00"),
        ("\u20ac1.299,50", "EUR", "1299.50"),
        ("\u00a51,500", "JPY", "1500"),
        (1250, "USD", "12.50"),  # minor units
        ("", "USD", None),
        ("free", "USD", None),  # not an amount: left out, not guessed
    ],
)
def test_prices_as_meta_shows_them_become_the_contracts_decimal_strings(
    shown: Any, currency: str | None, expected: str | None
) -> None:
    assert _amount(shown, currency) == expected


def test_a_refused_token_stops_the_read_without_showing_it(
    meta: MetaDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("META_ACCESS_TOKEN", "EAAG-wrong-token-123")
    channel = make(meta)
    with pytest.raises(Fatal) as caught:
        list(channel.remote_listings())
    assert "META_ACCESS_TOKEN" in str(caught.value)
    assert "EAAG-wrong-token-123" not in str(caught.value)


def test_the_double_refuses_a_read_metas_specs_do_not_have(meta: MetaDouble) -> None:
    url = f"{meta.url}{PRODUCTS}"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    bad_field = requests.get(url, params={"fields": "retailer_id,stock_level"}, headers=auth)
    bad_param = requests.get(url, params={"fields": "name", "page": "2"}, headers=auth)
    assert bad_field.status_code == bad_param.status_code == 400
    assert meta.violations == [
        "GET products: fields ['stock_level'] are not fields of a ProductItem",
        "GET products: unknown parameter(s) ['page'] for GET products",
    ]
