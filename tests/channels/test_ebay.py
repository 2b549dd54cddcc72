"""The eBay channel's listings, prices and stock: every request checked against eBay's Sell
Inventory contract (Prism), the items, groups, offers and listings a seller ends up with (the
eBay double), eBay's 25-per-call limit, per-SKU errors in bulk answers, and the OAuth 2 token
from the refresh token that never shows up anywhere."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

from multichan.channels import registry
from multichan.channels.base import JOINT, Channel, Fatal, Retriable
from multichan.channels.ebay import NOT_LISTED, Ebay
from multichan.offers import Offer
from multichan.testing import ChannelConformance, sample_offers
from tests.channels.ebay_conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    FULFILLMENT,
    INVENTORY,
    REFRESH_TOKEN,
    TOKEN_PATH,
    EbayDouble,
    error,
)
from tests.prism import Prism

CATEGORIES = {"Apparel": "15687", "Home > Kitchen": "20625", "Outdoor": "159043"}
SECRETS = (CLIENT_SECRET, REFRESH_TOKEN)
ITEMS, OFFERS = (
    f"{INVENTORY}/bulk_create_or_replace_inventory_item",
    f"{INVENTORY}/bulk_create_offer",
)
PUBLISH, PRICE_QTY = f"{INVENTORY}/bulk_publish_offer", f"{INVENTORY}/bulk_update_price_quantity"
GROUP_PUBLISH = f"{INVENTORY}/offer/publish_by_inventory_item_group"


def make(double_url: str, session: Any = None, **extra: Any) -> Ebay:
    raw = {
        "api_url": double_url,
        "client_id": "${EBAY_CLIENT_ID}",
        "client_secret": "${EBAY_CLIENT_SECRET}",
        "refresh_token": "${EBAY_REFRESH_TOKEN}",
        "merchant_location_key": "warehouse-1",
        "fulfillment_policy_id": "6196932000",
        "payment_policy_id": "6196933000",
        "return_policy_id": "6196934000",
        "category_ids": dict(CATEGORIES),
        "timeout": 5,
        **extra,
    }
    cls = registry.load("ebay")  # through the entry point, as channels.yaml would
    settings, problems = cls.validate_settings(raw, "channels.yaml:20: channels.ebay.settings")
    assert problems == []
    channel = cls("ebay", settings, session=session or requests.Session())
    assert isinstance(channel, Ebay)
    channel.sleep = lambda seconds: None
    return channel


def variants(group: str, colours: list[str], price: str = "40.00") -> list[Offer]:
    base = sample_offers(1)[0]
    return [
        dataclasses.replace(
            base,
            sku=f"{group}-{c[:3].upper()}",
            item_group_id=group,
            title=f"Trail Jacket - {c} / M",
            color=c,
            size="M",
            price=Decimal(price),
            sale_price=None,
            quantity=3 + i,
        )
        for i, c in enumerate(colours)
    ]


def singles(n: int) -> list[Offer]:
    return [dataclasses.replace(o, item_group_id=None) for o in sample_offers(n)]


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EBAY_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("EBAY_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("EBAY_REFRESH_TOKEN", REFRESH_TOKEN)


@pytest.fixture
def ebay_double(shared_ebay: EbayDouble) -> EbayDouble:
    """The session's eBay double, emptied, checking nothing."""
    shared_ebay.reset()
    return shared_ebay


@pytest.fixture
def ebay_api(
    ebay_double: EbayDouble, ebay_inventory_prism: Prism, ebay_fulfillment_prism: Prism
) -> Iterator[EbayDouble]:
    """The double checking every request against eBay's contracts (Prism) before answering;
    the test fails when any request broke a contract."""
    ebay_double.reset(
        validate={"inventory": ebay_inventory_prism.url, "fulfillment": ebay_fulfillment_prism.url}
    )
    yield ebay_double
    assert ebay_double.violations == []


def listed(double: EbayDouble, offers: list[Offer]) -> Ebay:
    """A channel whose ``offers`` are listed; known ids as the engine would hand them over."""
    channel = make(double.url)
    results = channel.send("listings", offers)
    assert all(r.ok for r in results), [r.message for r in results if not r.ok]
    channel.known = {r.sku: r.remote_ids for r in results}  # type: ignore[attr-defined]
    return channel


# --- against eBay's contract, served by Prism directly ----------------------------------------
class Strict(requests.Session):
    """Records every answer of 400 or above from Prism as a request that broke the contract."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: list[str] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        response = super().request(method, url, *args, **kwargs)
        if response.status_code >= 400 and TOKEN_PATH not in str(url):
            violations = response.headers.get("sl-violations") or response.text[:400]
            self.refused.append(f"{response.status_code} {method} {url}: {violations}")
        return response


class TestEbayConformance(ChannelConformance):
    sample_size = 6

    def sample(self) -> list[Offer]:  # the contract's Product.aspects is a string: none here
        return [dataclasses.replace(o, color=None, size=None, brand=None) for o in singles(6)]

    @pytest.fixture
    def channel_class(self) -> type[Channel]:
        return registry.load("ebay")

    @pytest.fixture
    def channel(self, ebay_inventory_prism: Prism, ebay_double: EbayDouble) -> Iterator[Channel]:
        with Strict() as session:
            yield make(
                "http://127.0.0.1:9",
                session,
                inventory_url=ebay_inventory_prism.url,
                token_url=ebay_double.url + TOKEN_PATH,
            )
            assert session.refused == []


# --- through the double -------------------------------------------------------------------------
def test_singles_become_items_offers_and_listings(ebay_api: EbayDouble) -> None:
    channel = make(ebay_api.url)
    offers = singles(5)
    results = channel.send("listings", offers)
    assert all(r.ok for r in results), [r.message for r in results]
    for o, r in zip(offers, results, strict=True):
        seen = ebay_api.listing(o.sku)
        assert seen["status"] == "PUBLISHED" and seen["listing_id"] == r.remote_ids["listing_id"]
        assert r.remote_ids["offer_id"] in ebay_api.offers
        sale = o.sale_price if o.sale_price is not None else o.price
        assert (seen["title"], seen["quantity"], seen["price"]) == (
            o.title,
            o.quantity,
            f"{sale:.2f}",
        )
    mug = ebay_api.listing("NW-MUG-BLA-002")
    assert mug["category"] == "20625"  # "Home > Kitchen"
    assert (
        ebay_api.listing("NW-TEE-BLA-000")["category"] == "15687"
    )  # "Apparel > Shirts" -> Apparel
    [sent] = ebay_api.calls("POST", ITEMS)
    item = sent["requests"][0]
    assert item["locale"] == "en_US" and item["condition"] == "NEW"
    assert item["product"]["aspects"] == {"Color": ["Black"], "Size": ["M"], "Brand": ["Northwind"]}
    headers = next(r["headers"] for r in ebay_api.requests if r["path"] == ITEMS)
    assert headers["Content-Language"] == "en-US" and headers["Authorization"].startswith("Bearer ")
    assert len(ebay_api.calls("POST", OFFERS)) == 1 and len(ebay_api.calls("POST", PUBLISH)) == 1

    # a second push of the same listings: items replaced, no offer made or published again
    again = channel.send("listings", offers, known_ids={r.sku: r.remote_ids for r in results})
    assert [r.remote_ids for r in again] == [r.remote_ids for r in results]
    assert len(ebay_api.calls("POST", OFFERS)) == 1 and len(ebay_api.calls("POST", PUBLISH)) == 1
    assert len(ebay_api.calls("POST", ITEMS)) == 2
    assert ebay_api.grants == 1  # one token for the whole session of calls


def test_variants_are_one_group_published_as_one_listing(ebay_api: EbayDouble) -> None:
    channel = make(ebay_api.url)
    jacket = variants("JKT", ["Black", "Moss"])
    results = channel.send("listings", jacket)
    assert all(r.ok for r in results), [r.message for r in results]
    group = ebay_api.groups["JKT"]
    assert group["variantSKUs"] == ["JKT-BLA", "JKT-MOS"] and group["title"] == "Trail Jacket"
    assert group["variesBy"]["specifications"] == [
        {"name": "Color", "values": ["Black", "Moss"]},
        {"name": "Size", "values": ["M"]},
    ]
    assert {r.remote_ids["listing_id"] for r in results} == {
        ebay_api.listing("JKT-BLA")["listing_id"]
    }
    assert {r.remote_ids["group"] for r in results} == {"JKT"}
    assert ebay_api.calls("POST", PUBLISH) == [] and len(ebay_api.calls("POST", GROUP_PUBLISH)) == 1

    # a third colour joins later, in a batch of its own: the group keeps the others
    rust = variants("JKT", ["Black", "Moss", "Rust"])[2:]
    [late] = channel.send("listings", rust)
    assert late.ok, late.message
    assert ebay_api.groups["JKT"]["variantSKUs"] == ["JKT-BLA", "JKT-MOS", "JKT-RUS"]
    assert late.remote_ids["listing_id"] == results[0].remote_ids["listing_id"]
    assert ebay_api.listing("JKT-RUS")["status"] == "PUBLISHED"


def test_prices_and_stock_in_one_bulk_call_by_offer_id(ebay_api: EbayDouble) -> None:
    offers = singles(4)
    channel = listed(ebay_api, offers)
    known = channel.known  # type: ignore[attr-defined]
    cheaper = [
        dataclasses.replace(o, price=Decimal("11.50"), sale_price=None, quantity=9) for o in offers
    ]
    assert all(r.ok for r in channel.send(JOINT, cheaper, known_ids=known))
    [body] = ebay_api.calls("POST", PRICE_QTY)
    first = body["requests"][0]
    assert first == {
        "sku": offers[0].sku,
        "shipToLocationAvailability": {"quantity": 9},
        "offers": [
            {
                "offerId": known[offers[0].sku]["offer_id"],
                "availableQuantity": 9,
                "price": {"value": "11.50", "currency": "USD"},
            }
        ],
    }
    seen = ebay_api.listing(offers[0].sku)
    assert (seen["price"], seen["quantity"], seen["offer_quantity"]) == ("11.50", 9, 9)
    assert all(r.ok for r in channel.send("quantities", offers[:2], known_ids=known))
    [_, stock] = ebay_api.calls("POST", PRICE_QTY)
    assert "price" not in stock["requests"][0]["offers"][0]
    assert ebay_api.listing(offers[0].sku)["quantity"] == offers[0].quantity
    assert ebay_api.listing(offers[0].sku)["price"] == "11.50"  # the price was left alone
    assert all(r.ok for r in channel.send("prices", offers[2:], known_ids=known))
    [*_, prices] = ebay_api.calls("POST", PRICE_QTY)
    assert "shipToLocationAvailability" not in prices["requests"][0]
    assert ebay_api.listing(offers[2].sku)["quantity"] == 9  # the stock was left alone
    assert ebay_api.revisions  # live listings were revised, and counted


def test_a_per_sku_error_in_a_bulk_answer_rejects_that_sku_only(ebay_api: EbayDouble) -> None:
    offers = singles(3)
    channel = listed(ebay_api, offers)
    known = channel.known  # type: ignore[attr-defined]
    ebay_api.refuse[offers[1].sku] = error(25004, "Invalid quantity.")
    results = channel.send("quantities", offers, known_ids=known)
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].message == "eBay error 25004: Invalid quantity."
    assert not results[1].retriable

    bad = dataclasses.replace(singles(5)[4], sku="NW-BTL-" + "X" * 60)  # over 50 characters
    fresh = [*singles(2), bad]
    ebay_api.refuse.clear()
    made = make(ebay_api.url).send("listings", fresh)
    assert [r.ok for r in made] == [True, True, False]
    assert made[2].message is not None and "eBay error 25707" in made[2].message
    assert bad.sku not in ebay_api.items and ebay_api.offer_of(bad.sku) is None


def test_a_product_type_without_a_category_is_rejected_before_anything_is_sent(
    ebay_api: EbayDouble,
) -> None:
    offers = singles(5)  # BTL is "Outdoor > Hydration": Outdoor's category
    odd = dataclasses.replace(offers[0], sku="GIFT-1", product_type="Gift Cards")
    results = make(ebay_api.url).send("listings", [odd, offers[4]])
    assert results[0].message == (
        "no eBay category for product type 'Gift Cards': add it under settings.category_ids "
        '(or a "*" entry)'
    )
    assert results[1].ok and ebay_api.listing(offers[4].sku)["category"] == "159043"
    assert "GIFT-1" not in ebay_api.items
    catch_all = make(ebay_api.url, category_ids={**CATEGORIES, "*": "99"})
    assert catch_all.category("Gift Cards") == "99"


def test_publish_refused_keeps_the_offer_so_a_retry_makes_none_twice(ebay_api: EbayDouble) -> None:
    ebay_api.categories = {"15687"}  # the kitchen category is not a leaf on this site
    offers = singles(3)  # TEE (apparel), HOOD (apparel), MUG (kitchen)
    channel = make(ebay_api.url)
    results = channel.send("listings", offers)
    assert [r.ok for r in results] == [True, True, False]
    assert results[2].message == "eBay error 25005: Invalid category. 20625 is not a leaf category."
    offer_id = results[2].remote_ids["offer_id"]
    assert ebay_api.listing(offers[2].sku)["status"] == "UNPUBLISHED"
    ebay_api.categories = None  # the seller fixed the category
    [again] = channel.send("listings", offers[2:], known_ids={offers[2].sku: results[2].remote_ids})
    assert again.ok and again.remote_ids["offer_id"] == offer_id
    assert len(ebay_api.offers) == 3


def test_an_offer_made_by_a_run_whose_answer_was_lost_is_found_not_made_again(
    ebay_api: EbayDouble,
) -> None:
    offers = singles(2)
    first = make(ebay_api.url).send("listings", offers)
    before = dict(ebay_api.offers)
    # the engine never recorded the first answer: the same listings again, without ids
    cheaper = [dataclasses.replace(o, price=Decimal("9.00"), sale_price=None) for o in offers]
    again = make(ebay_api.url).send("listings", cheaper)
    assert all(r.ok for r in again)
    assert [r.remote_ids["offer_id"] for r in again] == [r.remote_ids["offer_id"] for r in first]
    assert ebay_api.offers.keys() == before.keys()  # no second offer
    assert [r.remote_ids["listing_id"] for r in again] == [
        r.remote_ids["listing_id"] for r in first
    ]
    assert len(ebay_api.calls("POST", PUBLISH)) == 1  # live already: not published again
    assert ebay_api.listing(offers[0].sku)["price"] == "9.00"  # replaced with what is current


def test_not_listed_yet_is_a_rejection_without_a_request(ebay_api: EbayDouble) -> None:
    [result] = make(ebay_api.url).send("quantities", singles(1))
    assert result.message == NOT_LISTED
    assert ebay_api.calls("POST", PRICE_QTY) == []


def test_the_double_refuses_more_than_25_per_bulk_call_like_ebay(ebay_double: EbayDouble) -> None:
    channel = make(ebay_double.url)
    with pytest.raises(ValueError, match="takes at most 25"):
        channel.send(
            "listings",
            singles(5) * 0 + [dataclasses.replace(singles(1)[0], sku=f"S{i}") for i in range(26)],
        )
    token = channel.inventory.auth.apply(channel.inventory, "GET", "", {}, headers := {})
    assert token is None and headers["Authorization"].startswith("Bearer ")
    body = {"requests": [{"sku": f"S{i}", "locale": "en_US"} for i in range(26)]}
    answer = requests.post(
        ebay_double.url + ITEMS,
        json=body,
        timeout=5,
        headers={**headers, "Content-Language": "en-US"},
    )
    assert answer.status_code == 400 and answer.json()["errors"][0]["errorId"] == 25727


# --- OAuth ------------------------------------------------------------------------------------
def test_the_token_is_refreshed_once_and_again_after_a_401(ebay_api: EbayDouble) -> None:
    offers = singles(2)
    channel = listed(ebay_api, offers)
    known = channel.known  # type: ignore[attr-defined]
    assert ebay_api.grants == 1
    [grant] = [r for r in ebay_api.requests if r["path"] == TOKEN_PATH]
    assert grant["headers"]["Authorization"].startswith("Basic ")
    ebay_api.tokens.clear()  # eBay revoked the access token
    assert all(r.ok for r in channel.send("quantities", offers, known_ids=known))
    assert ebay_api.grants == 2


@pytest.mark.parametrize("wrong", ["EBAY_CLIENT_SECRET", "EBAY_REFRESH_TOKEN"])
def test_refused_credentials_fail_the_channel_naming_the_variables_never_the_values(
    ebay_api: EbayDouble, monkeypatch: pytest.MonkeyPatch, wrong: str
) -> None:
    monkeypatch.setenv(wrong, "not-the-right-one-7f3a")
    with pytest.raises(Fatal) as caught:
        make(ebay_api.url).send("listings", singles(1))
    text = str(caught.value)
    assert caught.value.exit_code == 5 and "$EBAY_REFRESH_TOKEN" in text
    assert "eBay refused to refresh the access token" in text
    for secret in (*SECRETS, "not-the-right-one-7f3a"):
        assert secret not in text
    assert ebay_api.items == {}


def test_an_access_token_never_shows_in_a_rejection(ebay_api: EbayDouble) -> None:
    offers = singles(1)
    channel = listed(ebay_api, offers)
    [token] = ebay_api.tokens
    ebay_api.fail_next.append(
        (400, {}, {"errors": [error(25002, f"echo {token} {CLIENT_SECRET}")]})
    )
    [result] = channel.send("prices", offers, known_ids=channel.known)  # type: ignore[attr-defined]
    assert not result.ok and result.message is not None and "eBay error 25002" in result.message
    assert token not in result.message and CLIENT_SECRET not in result.message


def test_settings_name_what_is_wrong() -> None:
    raw = {
        "client_id": "${EBAY_CLIENT_ID}",
        "client_secret": "plain-text-secret",
        "refresh_token": "${EBAY_REFRESH_TOKEN}",
        "merchant_location_key": "w",
        "fulfillment_policy_id": "1",
        "payment_policy_id": "2",
        "return_policy_id": "3",
        "category_ids": ["15687"],
    }
    _, problems = Ebay.validate_settings(raw, "channels.yaml:20: channels.ebay.settings")
    assert problems == [
        "channels.yaml:20: channels.ebay.settings.client_secret must name an environment "
        "variable as ${VAR}, never hold the secret itself",
        "channels.yaml:20: channels.ebay.settings.category_ids must be a mapping of names to "
        "values, not ['15687']",
    ]
    good, problems = Ebay.validate_settings(
        {**raw, "client_secret": "${EBAY_CLIENT_SECRET}", "category_ids": {"Apparel": 15687}},
        "x",
    )
    assert problems == [] and good["category_ids"] == {"Apparel": "15687"}
    assert good["marketplace_id"] == "EBAY_US" and good["content_language"] == "en-US"
    assert FULFILLMENT not in str(good)  # the default URLs are built from api_url


def test_the_double_reports_what_breaks_ebays_contract(ebay_api: EbayDouble) -> None:
    """The check the other tests rely on: a request Prism refuses is recorded and refused."""
    channel = make(ebay_api.url)
    headers: dict[str, str] = {}
    channel.inventory.auth.apply(channel.inventory, "POST", "", {}, headers)
    body = {"requests": [{"sku": "S1", "locale": "en_US", "product": {"title": "T"}}]}
    answer = requests.post(ebay_api.url + ITEMS, json=body, headers=headers, timeout=10)
    assert answer.status_code >= 400  # no Content-Language: the contract requires it
    assert len(ebay_api.violations) == 1 and "content-language" in ebay_api.violations[0]
    assert ebay_api.items == {}
    ebay_api.violations.clear()  # this test meant it


def test_a_listing_out_of_revisions_for_the_day_is_rejected_alone(ebay_api: EbayDouble) -> None:
    """eBay takes 250 revisions of a listing a day (the channel declares it for the engine's
    counting); past them eBay refuses the change, which names the SKU, and the rest go on."""
    assert Ebay.daily_revisions == 250
    offers = singles(2)
    channel = listed(ebay_api, offers)
    known = channel.known  # type: ignore[attr-defined]
    ebay_api.revisions[known[offers[0].sku]["listing_id"]] = 250
    results = channel.send("quantities", offers, known_ids=known)
    assert [r.ok for r in results] == [False, True]
    assert results[0].message is not None and "250 revisions for today" in results[0].message


def test_a_busy_token_endpoint_is_retried_not_a_refusal(ebay_api: EbayDouble) -> None:
    ebay_api.token_busy = 1
    assert all(r.ok for r in make(ebay_api.url).send("listings", singles(1)))
    assert ebay_api.grants == 1
    ebay_api.tokens.clear()
    ebay_api.token_busy = 10  # still busy after the client's attempts: the engine retries
    with pytest.raises(Retriable, match="eBay token endpoint: HTTP 503"):
        make(ebay_api.url).send("listings", singles(1))
