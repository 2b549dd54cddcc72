"""The eBay channel's live listings (``remote_listings``, what ``multichan drift`` reads):
getInventoryItems pages and getOffers per SKU, each request checked against eBay's Sell
Inventory contract (Prism) and each of the double's answers against the contract's schemas,
and what comes back per SKU after a push, after the seller revised, ended or deleted a listing
in Seller Hub, and across pages."""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from multichan.channels import registry
from multichan.channels.base import Fatal
from multichan.channels.ebay import Ebay
from multichan.money import to_text
from multichan.offers import Offer
from multichan.testing import sample_offers
from tests.channels.ebay_conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    INVENTORY,
    REFRESH_TOKEN,
    EbayDouble,
    error,
)
from tests.prism import Prism

CATEGORIES = {"Apparel": "15687", "Home > Kitchen": "20625", "*": "99"}
ITEMS, OFFERS = f"{INVENTORY}/inventory_item", f"{INVENTORY}/offer"


@pytest.fixture
def ebay(
    shared_ebay: EbayDouble,
    ebay_inventory_prism: Prism,
    ebay_fulfillment_prism: Prism,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[EbayDouble]:
    monkeypatch.setenv("EBAY_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("EBAY_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("EBAY_REFRESH_TOKEN", REFRESH_TOKEN)
    shared_ebay.reset(
        validate={"inventory": ebay_inventory_prism.url, "fulfillment": ebay_fulfillment_prism.url}
    )
    yield shared_ebay
    assert shared_ebay.violations == []  # every request, and every answer, in contract


def make(url: str) -> Ebay:
    raw = {
        "api_url": url,
        "client_id": "${EBAY_CLIENT_ID}",
        "client_secret": "${EBAY_CLIENT_SECRET}",
        "refresh_token": "${EBAY_REFRESH_TOKEN}",
        "merchant_location_key": "warehouse-1",
        "fulfillment_policy_id": "6196932000",
        "payment_policy_id": "6196933000",
        "return_policy_id": "6196934000",
        "category_ids": dict(CATEGORIES),
        "timeout": 5,
    }
    cls = registry.load("ebay")
    settings, problems = cls.validate_settings(raw, "channels.yaml:9: channels.ebay.settings")
    assert problems == []
    channel = cls("ebay", settings, session=requests.Session())
    assert isinstance(channel, Ebay)
    channel.sleep = lambda seconds: None
    return channel


def pushed(ebay: EbayDouble, channel: Ebay, offers: list[Offer]) -> list[Offer]:
    results = channel.send("listings", offers)
    assert all(r.ok for r in results), [r.message for r in results if not r.ok]
    ebay.requests.clear()
    return offers


def singles(n: int) -> list[Offer]:
    return [dataclasses.replace(o, item_group_id=None) for o in sample_offers(n)]


def read(channel: Ebay) -> dict[str, dict[str, Any]]:
    """Every listing read, checking each SKU comes once."""
    seen: dict[str, dict[str, Any]] = {}
    for sku, fields in channel.remote_listings():
        assert sku not in seen, f"{sku} read twice"
        seen[sku] = fields
    return seen


def queries(ebay: EbayDouble, path: str) -> list[dict[str, str]]:
    return [
        {k: v[0] for k, v in urllib.parse.parse_qs(r["query"]).items()}
        for r in ebay.requests
        if (r["method"], r["path"]) == ("GET", path)
    ]


def test_after_a_push_each_sku_reads_back_as_buyers_see_it_in_the_contracts_types(
    ebay: EbayDouble,
) -> None:
    channel = make(ebay.url)
    offers = pushed(ebay, channel, singles(5))
    remote = read(channel)
    assert sorted(remote) == sorted(o.sku for o in offers)
    for o in offers:
        fields = remote[o.sku]
        assert fields["title"] == o.title
        pays = o.sale_price if o.sale_price is not None else o.price  # eBay's one price
        assert fields["price"] == to_text(pays, o.currency)
        assert "sale_price" not in fields  # eBay shows no sale price of its own
        assert fields["quantity"] == o.quantity and type(fields["quantity"]) is int
        assert fields["listed"] is True
    assert offers[3].sale_price is not None  # sample offer 3 is on sale...
    assert remote[offers[3].sku]["price"] == to_text(offers[3].sale_price, "USD")
    [page] = queries(ebay, ITEMS)
    assert page == {"limit": "200"}  # getInventoryItems' largest page
    asked = queries(ebay, OFFERS)
    assert sorted(q["sku"] for q in asked) == sorted(o.sku for o in offers)
    assert {q["marketplace_id"] for q in asked} == {"EBAY_US"}


def test_pages_are_followed_by_the_next_ebay_names(ebay: EbayDouble) -> None:
    channel = make(ebay.url)
    offers = pushed(ebay, channel, singles(5))
    ebay.page_cap = 2  # eBay gives fewer than asked: its ``next`` still says where to go
    assert sorted(read(channel)) == sorted(o.sku for o in offers)
    pages = queries(ebay, ITEMS)
    assert [p.get("offset") for p in pages] == [None, "1", "2"]  # page numbers, as eBay says


def test_variants_of_a_group_are_each_read(ebay: EbayDouble) -> None:
    channel = make(ebay.url)
    base = sample_offers(1)[0]
    jackets = [
        dataclasses.replace(
            base, sku=f"JK-{c}", item_group_id="JK", title=f"Jacket - {c}", color=c, quantity=2 + i
        )
        for i, c in enumerate(["Red", "Blue", "Green"])
    ]
    pushed(ebay, channel, jackets)
    remote = read(channel)
    assert {s: (f["quantity"], f["listed"]) for s, f in remote.items()} == {
        "JK-Red": (2, True),
        "JK-Blue": (3, True),
        "JK-Green": (4, True),
    }


def test_what_the_seller_changed_in_seller_hub_reads_as_changed(ebay: EbayDouble) -> None:
    channel = make(ebay.url)
    offers = pushed(ebay, channel, singles(6))
    a, b, c, d, e = (o.sku for o in offers[1:6])
    ebay.set_price(a, "9.99")
    ebay.set_quantity(b, 17)
    ebay.set_title(c, "Renamed in Seller Hub")
    ebay.end_listing(d)
    ebay.delete(e)
    remote = read(channel)
    assert remote[a]["price"] == "9.99"
    assert remote[b]["quantity"] == 17
    assert remote[c]["title"] == "Renamed in Seller Hub"
    assert remote[d]["listed"] is False and remote[d]["price"]  # ended: there, not for sale
    assert e not in remote  # deleted: absent
    assert [s for s, f in remote.items() if not f["listed"]] == [d]


def test_an_item_without_an_offer_is_not_listed(ebay: EbayDouble) -> None:
    channel = make(ebay.url)
    offers = pushed(ebay, channel, singles(2))
    [offer_id] = [k for k, o in ebay.offers.items() if o["sku"] == offers[0].sku]
    del ebay.offers[offer_id]  # the item stays, its offer was withdrawn and deleted
    remote = read(channel)
    assert remote[offers[0].sku] == {
        "title": offers[0].title,
        "quantity": offers[0].quantity,
        "listed": False,
    }
    assert remote[offers[1].sku]["listed"] is True


def test_offers_ebay_refuses_to_show_fail_the_read_naming_the_sku(ebay: EbayDouble) -> None:
    channel = make(ebay.url)
    offers = pushed(ebay, channel, singles(2))
    ebay.refuse_call[f"GET {OFFERS}"] = error(25709, "Invalid value for sku.")
    with pytest.raises(Fatal, match=f"offers of SKU {offers[0].sku} .*25709: Invalid value"):
        read(channel)  # never a partial read that would call the rest missing


def test_fetch_remote_gives_only_the_skus_asked(ebay: EbayDouble) -> None:
    channel = make(ebay.url)
    offers = pushed(ebay, channel, singles(3))
    found = channel.fetch_remote([offers[1].sku, "NOT-ON-EBAY"])
    assert list(found) == [offers[1].sku] and found[offers[1].sku]["listed"] is True
