"""What the TikTok Shop channel reads back for ``multichan drift`` (``remote_listings``): every
SKU of the shop's products through products/search (signed, status ALL, 100 a page, page
tokens), against the TikTok test server written from TikTok's pages; a seller's edits in
Seller Center show, a deleted product is gone, a deactivated one is not listed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests

from multichan.channels.base import Channel
from tests.channels.test_tiktok import listed, make, offer, session, tee, tiktok
from tests.servers import tiktok as srv

__all__ = ["session", "tiktok"]  # the fixtures
SEARCH = "/product/202309/products/search"


def pushed(tiktok: srv.TikTokServer, session: requests.Session) -> Channel:
    """A channel that pushed a tee (two variants) and a mug on sale."""
    channel = make(tiktok, session)
    listed(channel, [tee("Black", 4), tee("White", 6)])
    listed(channel, [offer("MUG-1", price=Decimal("24.00"), sale_price=Decimal("19.50"))])
    tiktok.log.clear()
    return channel


def remote(channel: Channel) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for sku, fields in channel.remote_listings():
        assert sku not in found, f"{sku} yielded twice"
        found[sku] = fields
    return found


def test_every_pushed_sku_comes_back_with_the_contracts_fields_and_types(
    tiktok: srv.TikTokServer, session: requests.Session
) -> None:
    found = remote(pushed(tiktok, session))
    assert found == {
        "TEE-BLACK": {"price": "29.00", "quantity": 4, "listed": True},
        "TEE-WHITE": {"price": "29.00", "quantity": 6, "listed": True},
        # TikTok's one price is what the buyer pays: the sale price multichan wrote
        "MUG-1": {"price": "19.50", "quantity": 5, "listed": True, "title": "Product MUG-1"},
    }
    for fields in found.values():
        assert isinstance(fields["price"], str) and Decimal(fields["price"]) > 0
        assert type(fields["quantity"]) is int and type(fields["listed"]) is bool
    [search] = tiktok.log
    assert (search.method, search.path, search.status, search.code) == ("POST", SEARCH, 200, 0)
    assert search.body == {"status": "ALL"} and search.query["page_size"] == "100"


def test_products_page_by_100_with_page_tokens(
    tiktok: srv.TikTokServer, session: requests.Session
) -> None:
    for n in range(230):
        tiktok.seed(f"OWN-{n:03d}", f"Seller product {n}", "15.00", n % 4)
    found = remote(make(tiktok, session))
    assert len(found) == 230
    assert found["OWN-229"] == {"price": "15.00", "quantity": 1, "listed": True,
                                "title": "Seller product 229"}  # fmt: skip
    searches = tiktok.calls(SEARCH)
    assert len(searches) == 3 and all(e.code == 0 for e in searches)
    assert "page_token" not in searches[0].query
    assert searches[1].query["page_token"] and searches[2].query["page_token"]


def test_a_price_and_stock_changed_in_seller_center_show_their_new_values(
    tiktok: srv.TikTokServer, session: requests.Session
) -> None:
    channel = pushed(tiktok, session)
    tiktok.tamper("TEE-WHITE", price="27.99")
    tiktok.tamper("MUG-1", quantity=2)
    found = remote(channel)
    assert found["TEE-WHITE"]["price"] == "27.99" and found["TEE-WHITE"]["quantity"] == 6
    assert found["MUG-1"]["quantity"] == 2 and found["MUG-1"]["price"] == "19.50"
    assert found["TEE-BLACK"] == {"price": "29.00", "quantity": 4, "listed": True}


def test_only_the_channels_warehouse_counts(
    tiktok: srv.TikTokServer, session: requests.Session
) -> None:
    channel = pushed(tiktok, session)
    _, sku = tiktok._holding("MUG-1")  # a second warehouse, the seller's
    sku["inventory"].append({"warehouse_id": srv.OTHER_WAREHOUSE, "quantity": 40})
    assert remote(channel)["MUG-1"]["quantity"] == 5


def test_a_deleted_product_is_absent_and_the_others_remain(
    tiktok: srv.TikTokServer, session: requests.Session
) -> None:
    channel = pushed(tiktok, session)
    tiktok.product_status("TEE-BLACK", "DELETED")  # the tee, both variants
    assert set(remote(channel)) == {"MUG-1"}


def test_a_deactivated_product_is_not_listed_and_offers_nothing(
    tiktok: srv.TikTokServer, session: requests.Session
) -> None:
    channel = pushed(tiktok, session)
    tiktok.product_status("MUG-1", "SELLER_DEACTIVATED")
    found = remote(channel)
    assert found["MUG-1"]["listed"] is False and found["MUG-1"]["quantity"] == 0
    assert found["TEE-BLACK"]["listed"] is True
