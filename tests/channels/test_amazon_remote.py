"""The Amazon channel's live listings (``remote_listings``, what ``multichan drift`` reads):
searchListingsItems requests checked against Amazon's Listings Items contract (Prism), the
double's answers against its ItemSearchResults schema, and what comes back per SKU after a
push, after the seller changed, closed or deleted a listing in Seller Central, and past the
1,000 items one search pages through."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import pytest
import requests

from multichan.channels import registry
from multichan.channels.amazon import Amazon
from multichan.channels.base import Fatal
from multichan.money import to_text
from multichan.offers import Offer
from multichan.testing import sample_offers
from tests.channels.amazon_conftest import (
    LISTINGS,
    MARKETPLACE,
    SELLER_ID,
    TOKEN_PATH,
    AmazonDouble,
    ready,
)
from tests.prism import Prism

SEARCH = f"{LISTINGS}/items/{SELLER_ID}"


@pytest.fixture
def amazon(
    shared_amazon: AmazonDouble,
    amazon_listings_prism: Prism,
    amazon_feeds_prism: Prism,
    amazon_orders_prism: Prism,
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    yield ready(
        shared_amazon, monkeypatch, amazon_listings_prism, amazon_feeds_prism,
        amazon_orders_prism,
    )  # fmt: skip
    assert shared_amazon.violations == []  # every request, and every answer, in contract


def make(url: str) -> Amazon:
    raw = {
        "seller_id": SELLER_ID,
        "marketplace_id": MARKETPLACE,
        "refresh_token": "${AMAZON_REFRESH_TOKEN}",
        "client_id": "${AMAZON_CLIENT_ID}",
        "client_secret": "${AMAZON_CLIENT_SECRET}",
        "api_url": url,
        "token_url": url + TOKEN_PATH,
        "timeout": 5,
    }
    cls = registry.load("amazon")
    settings, problems = cls.validate_settings(raw, "channels.yaml:3: channels.amazon.settings")
    assert problems == []
    channel = cls("amazon", settings, session=requests.Session())
    assert isinstance(channel, Amazon)
    channel.sleep = lambda seconds: None
    return channel


def pushed(amazon: AmazonDouble, channel: Amazon, n: int) -> list[Offer]:
    offers = sample_offers(n)
    assert all(r.ok for r in channel.send("listings", offers))
    amazon.requests.clear()
    return offers


def read(channel: Amazon) -> dict[str, dict[str, Any]]:
    """Every listing read, checking each SKU comes once."""
    seen: dict[str, dict[str, Any]] = {}
    for sku, fields in channel.remote_listings():
        assert sku not in seen, f"{sku} read twice"
        seen[sku] = fields
    return seen


def searches(amazon: AmazonDouble) -> list[dict[str, str]]:
    return [
        {k: v[0] for k, v in urllib.parse.parse_qs(r["query"]).items()}
        for r in amazon.requests
        if (r["method"], r["path"]) == ("GET", SEARCH)
    ]


def test_after_a_push_each_sku_reads_back_as_pushed_in_the_contracts_types(
    amazon: AmazonDouble,
) -> None:
    channel = make(amazon.url)
    offers = pushed(amazon, channel, 5)
    remote = read(channel)
    assert sorted(remote) == sorted(o.sku for o in offers)
    for o in offers:
        fields = remote[o.sku]
        assert fields["title"] == o.title
        assert fields["price"] == to_text(o.price, o.currency)
        assert fields["sale_price"] == to_text(o.sale_price, o.currency)  # None, or "50.00"
        assert fields["quantity"] == o.quantity and type(fields["quantity"]) is int
        assert fields["listed"] is True  # at 0 too: out of stock is not closed
    assert remote[offers[3].sku]["sale_price"] is not None  # sample offer 3 is on sale
    assert offers[0].quantity == 0  # ...and sample offer 0 sold out
    [asked] = searches(amazon)
    assert asked["marketplaceIds"] == MARKETPLACE and asked["pageSize"] == "20"
    assert set(asked["includedData"].split(",")) == {
        "summaries",
        "attributes",
        "offers",
        "fulfillmentAvailability",
    }
    assert (asked["sortBy"], asked["sortOrder"]) == ("createdDate", "ASC")


def test_listings_are_read_a_page_of_20_at_a_time(amazon: AmazonDouble) -> None:
    channel = make(amazon.url)
    offers = pushed(amazon, channel, 45)
    assert sorted(read(channel)) == sorted(o.sku for o in offers)
    asked = searches(amazon)
    assert len(asked) == 3  # 20 + 20 + 5
    assert "pageToken" not in asked[0] and all("pageToken" in a for a in asked[1:])


def test_past_the_items_one_search_pages_through_a_new_search_goes_on(
    amazon: AmazonDouble,
) -> None:
    channel = make(amazon.url)
    offers = pushed(amazon, channel, 45)
    amazon.search_cap = 30  # Amazon's is 1,000: the same rule, smaller
    assert sorted(read(channel)) == sorted(o.sku for o in offers)  # each once, none lost
    asked = searches(amazon)
    assert [("createdAfter" in a, "pageToken" in a) for a in asked] == [
        (False, False),
        (False, True),
        (True, False),
    ]
    thirtieth = sorted(amazon.listings.values(), key=lambda x: x["createdDate"])[29]
    assert asked[2]["createdAfter"] == thirtieth["createdDate"]


def test_a_search_whose_count_stops_at_its_cap_is_read_past_it_too(
    amazon: AmazonDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = make(amazon.url)
    offers = pushed(amazon, channel, 12)
    monkeypatch.setattr("multichan.channels.amazon.SEARCH_CAP", 5)
    amazon.search_cap, amazon.capped_count = 5, True  # numberOfResults: 5, not 12
    assert sorted(read(channel)) == sorted(o.sku for o in offers)


def test_listings_created_at_the_same_instant_as_the_cut_are_each_read_once(
    amazon: AmazonDouble,
) -> None:
    channel = make(amazon.url)
    offers = pushed(amazon, channel, 12)
    by_age = sorted(amazon.listings, key=lambda s: amazon.listings[s]["createdDate"])
    for sku in by_age[3:7]:  # four listings of one feed, stamped alike, across the cut
        amazon.listings[sku]["createdDate"] = amazon.listings[by_age[3]]["createdDate"]
    amazon.search_cap = 5
    assert sorted(read(channel)) == sorted(o.sku for o in offers)


def test_more_listings_at_one_instant_than_a_search_pages_through_fail_the_read(
    amazon: AmazonDouble,
) -> None:
    channel = make(amazon.url)
    pushed(amazon, channel, 8)
    stamp = next(iter(amazon.listings.values()))["createdDate"]
    for listing in amazon.listings.values():
        listing["createdDate"] = stamp
    amazon.search_cap = 5
    with pytest.raises(Fatal, match=r"at most 1000 items .* created at " + re.escape(stamp)):
        read(channel)  # never a partial read that would call the rest missing


def test_what_the_seller_changed_in_seller_central_reads_as_changed(
    amazon: AmazonDouble,
) -> None:
    channel = make(amazon.url)
    offers = pushed(amazon, channel, 6)
    a, b, c, d, e = (o.sku for o in offers[1:6])
    amazon.set_price(a, "9.99")
    amazon.set_price(b, "40.00", sale_price="31.50")
    amazon.set_quantity(c, 17)
    amazon.set_title(d, "Renamed in Seller Central")
    amazon.delete(e)
    remote = read(channel)
    assert (remote[a]["price"], remote[a]["sale_price"]) == ("9.99", None)
    assert (remote[b]["price"], remote[b]["sale_price"]) == ("40.00", "31.50")
    assert remote[c]["quantity"] == 17
    assert remote[d]["title"] == "Renamed in Seller Central"
    assert e not in remote  # deleted: absent
    assert len(remote) == 5


def test_a_closed_listing_with_stock_is_not_listed(amazon: AmazonDouble) -> None:
    channel = make(amazon.url)
    offers = pushed(amazon, channel, 3)
    stocked = next(o for o in offers if o.quantity > 0)
    amazon.deactivate(stocked.sku)
    remote = read(channel)
    assert remote[stocked.sku]["listed"] is False
    assert remote[stocked.sku]["quantity"] == stocked.quantity  # still there, not for sale
    assert [s for s, f in remote.items() if not f["listed"]] == [stocked.sku]


def test_fetch_remote_gives_only_the_skus_asked(amazon: AmazonDouble) -> None:
    channel = make(amazon.url)
    offers = pushed(amazon, channel, 4)
    found = channel.fetch_remote([offers[2].sku, "NOT-ON-AMAZON"])
    assert list(found) == [offers[2].sku]
    assert found[offers[2].sku]["price"] == to_text(offers[2].price, "USD")


def test_the_search_takes_its_own_usage_plan_not_the_patches() -> None:
    plans = [
        (pattern, limit)
        for pattern, limit in Amazon.rate_limits.items()
        if re.search(pattern, f"GET {SEARCH}")
    ]
    assert [(p, (limit.requests_per_second, limit.burst)) for p, limit in plans] == [
        (plans[0][0], (5, 5))
    ]
    assert not re.search(plans[0][0], f"PATCH {SEARCH}/SKU-1")
    assert not re.search(plans[0][0], f"GET {SEARCH}/SKU-1")
