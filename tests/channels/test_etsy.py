"""The Etsy channel's listings and inventory: every request checked against Etsy's published
contract (Prism), the listings, products and images a real shop would end up with (the Etsy
double), a whole-listing inventory write that never drops a variant, rejections per listing
with Etsy's message, tokens and keys that never show."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import pytest

from multichan.channels import registry
from multichan.channels.auth import TokenStore
from multichan.channels.base import JOINT, Channel, Fatal, Retriable
from multichan.channels.etsy import NOT_LISTED, Etsy
from multichan.offers import Offer
from multichan.testing import ChannelConformance, sample_offers
from tests.channels.etsy_conftest import (
    KEYSTRING,
    REFRESH_TOKEN,
    SHARED_SECRET,
    SHOP_ID,
    EtsyDouble,
    etsy,
    make,
)

SECRETS = (KEYSTRING, SHARED_SECRET, REFRESH_TOKEN)
__all__ = ["etsy"]  # the fixture
INVENTORY = r"/v3/application/listings/\d+/inventory"


def images(double: EtsyDouble, name: str) -> tuple[str, list[str]]:
    return f"{double.url}/cdn/{name}.png", [f"{double.url}/cdn/{name}-detail.png"]


def variants(
    double: EtsyDouble, group: str, colours: list[str], price: str = "40.00",
    product: str = "Trail Jacket",
) -> list[Offer]:  # fmt: skip
    base = sample_offers(1)[0]
    link, more = images(double, group.lower())
    return [
        dataclasses.replace(base, sku=f"{group}-{c[:3].upper()}", item_group_id=group,
                            title=f"{product} - {c} / M", color=c, size="M",
                            price=Decimal(price), sale_price=None, quantity=3 + i,
                            image_link=link, additional_image_links=more)
        for i, c in enumerate(colours)
    ]  # fmt: skip


def known(results: list[Any]) -> dict[str, dict[str, str]]:
    return {r.sku: r.remote_ids for r in results if r.ok}


def listed(etsy: EtsyDouble, channel: Etsy, offers: list[Offer]) -> dict[str, dict[str, str]]:
    results = channel.send("listings", offers)
    assert all(r.ok for r in results), [r.message for r in results]
    return known(results)


class TestEtsyConformance(ChannelConformance):
    @pytest.fixture
    def channel_class(self) -> type[Channel]:
        return registry.load("etsy")

    @pytest.fixture
    def channel(self, etsy: EtsyDouble) -> Channel:
        return make(etsy.url, upload_images=False)


def test_declarations_carry_etsys_limits() -> None:
    assert Etsy.rate_limit.requests_per_second == 10
    assert Etsy.daily_requests == 10_000
    assert Etsy.max_title == 140
    assert {"listings", "prices", "quantities", JOINT, "orders", "shipments"} == Etsy.supports
    assert Etsy.grouped >= {"prices", "quantities", JOINT}  # a listing's variants in one send


def test_new_group_is_one_draft_listing_with_every_variant_and_its_images(
    etsy: EtsyDouble,
) -> None:
    channel = make(etsy.url)
    offers = variants(etsy, "JKT", ["Black", "Navy", "Olive"])
    ids = listed(etsy, channel, offers)
    [listing] = etsy.listings.values()
    assert listing["state"] == "draft" and listing["title"] == "Trail Jacket"
    state = etsy.by_sku()
    assert set(state) == {"JKT-BLA", "JKT-NAV", "JKT-OLI"}  # Etsy's placeholder product went
    assert [state[s]["quantity"] for s in ("JKT-BLA", "JKT-NAV", "JKT-OLI")] == [3, 4, 5]
    assert {s["price"] for s in state.values()} == {40.0}
    assert state["JKT-NAV"]["values"] == [("Color", "Navy"), ("Size", "M")]
    assert {i["listing_id"] for i in ids.values()} == {str(listing["listing_id"])}
    ranks = etsy.images[listing["listing_id"]]
    assert sorted(ranks) == [1, 2] and all(r["size"] > 0 for r in ranks.values())
    # the access token came from the refresh grant once, with the keystring as client_id
    assert etsy.grants == 1
    sent = [r for r in etsy.requests if r["path"].startswith("/v3/application")]
    assert all(r["headers"]["x-api-key"] == f"{KEYSTRING}:{SHARED_SECRET}" for r in sent)

    # again, with nothing new: one PATCH, no inventory write, no image upload
    etsy.requests.clear()
    again = channel.send("listings", offers, ids)
    assert all(r.ok for r in again)
    assert [(r["method"], r["path"].split("?")[0]) for r in etsy.api_calls()] == [
        ("PATCH", f"/v3/application/shops/{SHOP_ID}/listings/{listing['listing_id']}")
    ]


def test_one_variant_price_change_rewrites_the_whole_listing_keeping_the_others(
    etsy: EtsyDouble,
) -> None:
    channel = make(etsy.url)
    offers = variants(etsy, "JKT", ["Black", "Navy", "Olive"])
    ids = listed(etsy, channel, offers)
    before = etsy.by_sku()
    cheaper = dataclasses.replace(offers[1], price=Decimal("35.50"))
    etsy.requests.clear()
    [result] = channel.send("prices", [cheaper], ids)
    assert result.ok
    after = etsy.by_sku()
    assert set(after) == set(before)  # no variant deleted
    assert after["JKT-NAV"]["price"] == 35.5
    assert after["JKT-BLA"]["price"] == after["JKT-OLI"]["price"] == 40.0
    assert [after[s]["quantity"] for s in ("JKT-BLA", "JKT-NAV", "JKT-OLI")] == [3, 4, 5]
    assert [v for s in after.values() for v in s["values"]] == [
        v for s in before.values() for v in s["values"]
    ]
    [put] = etsy.calls("PUT", INVENTORY)
    assert len(put_products(put)) == 3  # every product of the listing, not just the one
    assert len(etsy.calls("GET", INVENTORY)) == 1


def put_products(request: dict[str, Any]) -> list[Any]:
    import json

    return list(json.loads(request["body"])["products"])


def test_a_sellers_own_variant_on_etsy_is_never_dropped(etsy: EtsyDouble) -> None:
    channel = make(etsy.url)
    offers = variants(etsy, "JKT", ["Black", "Navy"])
    ids = listed(etsy, channel, offers)
    listing_id = int(ids["JKT-BLA"]["listing_id"])
    inventory = etsy.inventories[listing_id]
    mine = {**inventory["products"][0], "sku": "HANDMADE-ONE", "product_id": 99}
    mine["property_values"] = [
        {**v, "values": ["Red"] if v["property_name"] == "Color" else v["values"]}
        for v in mine["property_values"]
    ]
    inventory["products"].append(mine)  # added by the seller on Etsy.com
    [result] = channel.send("quantities", [dataclasses.replace(offers[0], quantity=0)], ids)
    assert result.ok
    state = etsy.by_sku()
    assert set(state) == {"JKT-BLA", "JKT-NAV", "HANDMADE-ONE"}
    assert state["JKT-BLA"]["quantity"] == 0 and state["JKT-NAV"]["quantity"] == 4


def test_joint_price_and_stock_of_two_variants_is_one_read_and_one_write(
    etsy: EtsyDouble,
) -> None:
    channel = make(etsy.url)
    offers = variants(etsy, "JKT", ["Black", "Navy", "Olive"])
    ids = listed(etsy, channel, offers)
    etsy.requests.clear()
    changed = [dataclasses.replace(o, price=Decimal("42.00"), quantity=9) for o in offers[:2]]
    results = channel.send(JOINT, changed, ids)
    assert all(r.ok for r in results)
    assert len(etsy.calls("GET", INVENTORY)) == len(etsy.calls("PUT", INVENTORY)) == 1
    state = etsy.by_sku()
    skus = ("JKT-BLA", "JKT-NAV", "JKT-OLI")
    assert [(state[s]["price"], state[s]["quantity"]) for s in skus] == [
        (42.0, 9), (42.0, 9), (40.0, 5)
    ]  # fmt: skip
    # sending the same numbers again writes nothing (a rerun after a kill)
    etsy.requests.clear()
    assert all(r.ok for r in channel.send(JOINT, changed, ids))
    assert etsy.calls("PUT", INVENTORY) == []


def test_an_etsy_400_rejects_that_listings_skus_with_etsys_message(etsy: EtsyDouble) -> None:
    channel = make(etsy.url)
    good = variants(etsy, "JKT", ["Black", "Navy"])
    bad = [dataclasses.replace(o, sku=f"BAD-{o.sku}", item_group_id="BAD",
                               title="Salt & Pepper & Co - Black") for o in good]  # fmt: skip
    single = dataclasses.replace(sample_offers(1)[0], image_link=None, additional_image_links=[])
    results = channel.send("listings", [*bad, *good, single])
    by = {r.sku: r for r in results}
    assert [by[o.sku].ok for o in bad] == [False, False]
    assert "'&' appears 2 times" in str(by["BAD-JKT-BLA"].message)
    assert all(by[o.sku].ok for o in [*good, single])
    assert set(etsy.by_sku()) == {"JKT-BLA", "JKT-NAV", single.sku}


def test_prices_for_unlisted_skus_and_wrong_currency_are_rejected_per_sku(
    etsy: EtsyDouble,
) -> None:
    channel = make(etsy.url)
    offers = variants(etsy, "JKT", ["Black", "Navy"])
    ids = listed(etsy, channel, offers)
    euro = dataclasses.replace(offers[0], currency="EUR")
    stranger = dataclasses.replace(offers[1], sku="NEVER-LISTED")
    results = channel.send("prices", [euro, stranger, offers[1]], ids)
    assert [r.ok for r in results] == [False, False, True]
    assert "in USD" in str(results[0].message) and "price currency to USD" in str(
        results[0].message
    )
    assert results[1].message == NOT_LISTED


def test_a_new_variant_joins_its_existing_listing(etsy: EtsyDouble) -> None:
    channel = make(etsy.url)
    offers = variants(etsy, "JKT", ["Black", "Navy", "Olive"])
    ids = listed(etsy, channel, offers[:2])
    results = channel.send("listings", [offers[2]], ids)
    assert results[0].ok
    assert len(etsy.listings) == 1
    state = etsy.by_sku()
    assert set(state) == {"JKT-BLA", "JKT-NAV", "JKT-OLI"}
    assert state["JKT-OLI"]["values"] == [("Color", "Olive"), ("Size", "M")]


def test_a_draft_made_by_a_run_that_died_is_taken_over_not_made_twice(
    etsy: EtsyDouble,
) -> None:
    offers = variants(etsy, "JKT", ["Black", "Navy"])
    listed(etsy, make(etsy.url), offers)  # the answer was lost: nothing recorded
    etsy.fail_on.append(("PUT", INVENTORY, 500))  # ... and the inventory write of another died
    other = variants(etsy, "CAP", ["Sand"], product="Waxed Cap")
    dying = make(etsy.url)
    dying.request_attempts = 1
    with pytest.raises(Retriable):
        dying.send("listings", other)
    assert len(etsy.listings) == 2  # its draft was made, without its SKU
    fresh = make(etsy.url)  # the rerun, with no ids recorded
    results = fresh.send("listings", [*offers, *other])
    assert all(r.ok for r in results), [r.message for r in results]
    assert len(etsy.listings) == 2  # JKT once, CAP once
    assert set(etsy.by_sku()) == {"JKT-BLA", "JKT-NAV", "CAP-SAN"}


def test_a_broken_image_link_rejects_the_listing_and_a_rerun_makes_no_second_draft(
    etsy: EtsyDouble,
) -> None:
    offers = [dataclasses.replace(o, image_link=f"{etsy.url}/cdn/missing.png")
              for o in variants(etsy, "JKT", ["Black"])]  # fmt: skip
    [result] = make(etsy.url).send("listings", offers)
    assert not result.ok and "missing.png" in str(result.message) and "404" in str(result.message)
    fixed = variants(etsy, "JKT", ["Black"])
    [again] = make(etsy.url).send("listings", fixed)
    assert again.ok and len(etsy.listings) == 1


def test_an_expired_access_token_is_refreshed_once(etsy: EtsyDouble) -> None:
    channel = make(etsy.url)
    offers = variants(etsy, "JKT", ["Black"])
    ids = listed(etsy, channel, offers)
    etsy.expire_tokens()
    [result] = channel.send("quantities", [dataclasses.replace(offers[0], quantity=1)], ids)
    assert result.ok and etsy.grants == 2


def test_a_refused_refresh_token_fails_the_channel_naming_the_variable(
    etsy: EtsyDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETSY_REFRESH_TOKEN", "12345678.revoked")
    with pytest.raises(Fatal) as caught:
        make(etsy.url).send("listings", variants(etsy, "JKT", ["Black"]))
    message = str(caught.value)
    assert "$ETSY_REFRESH_TOKEN" in message and "Invalid refresh token" in message
    assert caught.value.exit_code == 5
    assert not any(s in message for s in (*SECRETS, "12345678.revoked"))


def test_429_before_anything_was_written_is_retriable_with_retry_after(
    etsy: EtsyDouble,
) -> None:
    channel = make(etsy.url)
    channel.request_attempts = 1
    etsy.fail_next.append((429, {"Retry-After": "3"}, None))
    with pytest.raises(Retriable) as caught:
        channel.send("listings", variants(etsy, "JKT", ["Black"]))
    assert caught.value.retry_after == 3.0
    assert not any(s in str(caught.value) for s in SECRETS)


def test_the_refresh_token_etsy_rotates_is_kept_so_the_channel_outlives_the_first_one(
    etsy: EtsyDouble,
) -> None:
    store = TokenStore()  # the catalog's token cache, shared by the runs
    first = make(etsy.url)
    first.tokens = store
    offers = variants(etsy, "JKT", ["Black"])
    ids = listed(etsy, first, offers)
    sent = [parse_qs(r["body"].decode())["refresh_token"][0] for r in etsy.requests
            if r["path"] == "/v3/public/oauth/token"]  # fmt: skip
    assert sent == [REFRESH_TOKEN]
    # 91 days on: the refresh token in the environment has expired; a later run uses the one
    # the last grant answered
    etsy.refresh_tokens[REFRESH_TOKEN] -= 91 * 86400
    etsy.expire_tokens()
    later = make(etsy.url)
    later.tokens = store
    [result] = later.send("quantities", [dataclasses.replace(offers[0], quantity=2)], ids)
    assert result.ok and etsy.grants == 2
    # without it, the seller is told which variable to renew
    fresh = make(etsy.url)
    fresh.tokens = TokenStore()
    with pytest.raises(Fatal, match=r"refresh_token expired.*\$ETSY_REFRESH_TOKEN"):
        fresh.send("quantities", [offers[0]], ids)


def test_changed_image_links_replace_the_images_at_their_ranks(etsy: EtsyDouble) -> None:
    channel = make(etsy.url)
    offers = variants(etsy, "JKT", ["Black", "Navy"])
    ids = listed(etsy, channel, offers)
    listing_id = int(ids["JKT-BLA"]["listing_id"])
    first = {r: i["listing_image_id"] for r, i in etsy.images[listing_id].items()}
    moved = [dataclasses.replace(o, image_link=f"{etsy.url}/cdn/jkt-new.png") for o in offers]
    results = channel.send("listings", moved, ids)
    assert all(r.ok for r in results)
    after = etsy.images[listing_id]
    assert sorted(after) == [1, 2]  # replaced in place, not added
    assert after[1]["listing_image_id"] != first[1]
    assert {r.remote_ids["images"] for r in results} != {ids["JKT-BLA"]["images"]}
    # a variant joining the listing later leaves the listing's images alone
    uploads = len(etsy.calls("POST", rf"/v3/application/shops/{SHOP_ID}/listings/\d+/images"))
    newcomer = variants(etsy, "JKT", ["Olive"])[0]
    [joined] = channel.send("listings", [dataclasses.replace(newcomer, image_link=None)], {})
    assert joined.ok and joined.remote_ids["listing_id"] == str(listing_id)
    calls = etsy.calls("POST", rf"/v3/application/shops/{SHOP_ID}/listings/\d+/images")
    assert len(calls) == uploads


def test_settings_problems_name_the_key_and_never_hold_a_secret() -> None:
    raw = {"shop_id": "my-shop", "keystring": "etsykeyLITERAL", "refresh_token": "${X}"}
    _, problems = Etsy.validate_settings(raw, "channels.yaml:20: channels.etsy.settings")
    assert (
        "channels.yaml:20: channels.etsy.settings.shop_id must be a whole number, not 'my-shop'"
        in problems
    )
    assert any(p.startswith("channels.yaml:20: channels.etsy.settings.keystring must name an "
                            "environment variable") for p in problems)  # fmt: skip
    assert not any("etsykeyLITERAL" in p for p in problems)


def test_listings_without_a_taxonomy_id_fail_the_channel_with_what_to_set(
    etsy: EtsyDouble,
) -> None:
    channel = make(etsy.url, taxonomy_id=None)
    with pytest.raises(Fatal, match=r"settings\.taxonomy_id is needed") as caught:
        channel.send("listings", variants(etsy, "JKT", ["Black"]))
    assert caught.value.exit_code == 5
    assert etsy.listings == {}


def test_a_new_listing_in_another_currency_than_the_shops_is_refused_before_it_is_made(
    etsy: EtsyDouble,
) -> None:
    etsy.currency = "EUR"
    results = make(etsy.url).send("listings", variants(etsy, "JKT", ["Black", "Navy"]))
    assert [r.ok for r in results] == [False, False]
    assert results[0].message == (
        "the Etsy shop sells in EUR, this offer is in USD: set the channel's price currency to EUR"
    )
    assert etsy.listings == {}


def test_a_new_single_product_reads_only_the_shops_drafts_before_it_is_made(
    etsy: EtsyDouble,
) -> None:
    single = dataclasses.replace(sample_offers(1)[0], item_group_id=None, image_link=None,
                                 additional_image_links=[])  # fmt: skip
    [result] = make(etsy.url).send("listings", [single])
    assert result.ok
    scans = [r["path"] for r in etsy.calls("GET", rf"/v3/application/shops/{SHOP_ID}/listings")]
    assert len(scans) == 1 and "state=draft" in scans[0] and "limit=100" in scans[0]
    assert etsy.by_sku()[single.sku]["values"] == []  # one product, no variations
