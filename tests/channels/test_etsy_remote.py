"""What the Etsy channel reads back for ``multichan drift`` (``remote_listings``): every SKU of
the shop's listings in every state, through getListingsByShop with their inventory (checked
against Etsy's contract in Prism), a page of 100 listings per request; changes the seller made
on Etsy.com show, a deleted listing is gone, a deactivated one is not listed."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from multichan.channels.etsy import Etsy
from multichan.offers import Offer
from multichan.testing import sample_offers
from tests.channels.etsy_conftest import SHOP_ID, EtsyDouble, etsy, make

__all__ = ["etsy"]  # the fixture
LISTINGS = f"/v3/application/shops/{SHOP_ID}/listings"


def jacket(group: str = "JKT") -> list[Offer]:
    base = sample_offers(1)[0]
    return [
        dataclasses.replace(base, sku=f"{group}-{c[:3].upper()}", item_group_id=group,
                            title=f"Trail Jacket - {c}", color=c, size="M",
                            price=Decimal("40.00"), sale_price=None, quantity=3 + i,
                            image_link=None, additional_image_links=[])
        for i, c in enumerate(["Black", "Navy"])
    ]  # fmt: skip


def mug() -> Offer:
    return dataclasses.replace(
        sample_offers(1)[0], sku="MUG-1", item_group_id=None, title="Enamel Camp Mug",
        price=Decimal("24.00"), sale_price=Decimal("19.50"), quantity=7, image_link=None,
        additional_image_links=[],
    )  # fmt: skip


def pushed(etsy: EtsyDouble) -> Etsy:
    """A channel that pushed the jacket (two variants) and the mug to the double."""
    channel = make(etsy.url, upload_images=False)
    results = channel.send("listings", [*jacket(), mug()])
    assert all(r.ok for r in results), [r.message for r in results]
    etsy.requests.clear()
    return channel


def remote(channel: Etsy) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for sku, fields in channel.remote_listings():
        assert sku not in found, f"{sku} yielded twice"
        found[sku] = fields
    return found


def listing_pages(etsy: EtsyDouble) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(r["path"]).query) for r in etsy.calls("GET", LISTINGS)]


def test_every_pushed_sku_comes_back_with_the_contracts_fields_and_types(
    etsy: EtsyDouble,
) -> None:
    channel = pushed(etsy)
    found = remote(channel)
    assert found == {
        "JKT-BLA": {"price": "40.00", "quantity": 3, "listed": True},
        "JKT-NAV": {"price": "40.00", "quantity": 4, "listed": True},
        # Etsy's one price is what the buyer pays: the sale price multichan wrote
        "MUG-1": {"price": "19.50", "quantity": 7, "listed": True, "title": "Enamel Camp Mug"},
    }
    for fields in found.values():
        assert isinstance(fields["price"], str) and Decimal(fields["price"]) > 0
        assert type(fields["quantity"]) is int and type(fields["listed"]) is bool
    # one page per state, each with the listings' inventory: no request per listing
    pages = listing_pages(etsy)
    assert sorted(p["state"][0] for p in pages) == sorted(
        ["draft", "active", "inactive", "sold_out", "expired"]
    )
    assert all(p["includes"] == ["Inventory"] and p["limit"] == ["100"] for p in pages)
    assert len(etsy.api_calls()) == len(pages) == 5


def test_listings_page_by_100_in_each_state(etsy: EtsyDouble) -> None:
    for n in range(230):
        etsy.seed(f"OWN-{n:03d}", f"Seller listing {n}", "12.00", n % 5)
    etsy.seed("OLD-1", "Expired listing", "5.00", 2, state="expired")
    etsy.seed("OFF-1", "Inactive listing", "6.00", 1, state="inactive")
    channel = make(etsy.url, upload_images=False)
    found = remote(channel)
    assert len(found) == 232
    assert found["OWN-229"] == {"price": "12.00", "quantity": 4, "listed": True,
                                "title": "Seller listing 229"}  # fmt: skip
    assert found["OLD-1"]["listed"] is found["OFF-1"]["listed"] is False
    active = [p for p in listing_pages(etsy) if p["state"] == ["active"]]
    assert [p["offset"] for p in active] == [["0"], ["100"], ["200"]]


def test_a_price_and_a_quantity_changed_on_etsy_show_their_new_values(
    etsy: EtsyDouble,
) -> None:
    channel = pushed(etsy)
    etsy.tamper("JKT-NAV", price="31.99")
    etsy.tamper("MUG-1", quantity=2)
    found = remote(channel)
    assert found["JKT-NAV"]["price"] == "31.99" and found["JKT-NAV"]["quantity"] == 4
    assert found["MUG-1"]["quantity"] == 2 and found["MUG-1"]["price"] == "19.50"
    assert found["JKT-BLA"] == {"price": "40.00", "quantity": 3, "listed": True}
    # the default fetch_remote answers from the same reading
    assert channel.fetch_remote(["JKT-NAV", "NOPE"]) == {"JKT-NAV": found["JKT-NAV"]}


def test_a_deleted_listing_is_absent_and_the_others_remain(etsy: EtsyDouble) -> None:
    channel = pushed(etsy)
    etsy.delete_listing("JKT-BLA")  # the whole jacket listing
    assert set(remote(channel)) == {"MUG-1"}


def test_an_inactive_listing_or_a_disabled_variant_is_not_listed(etsy: EtsyDouble) -> None:
    channel = pushed(etsy)
    etsy.set_state("MUG-1", "inactive")  # deactivated on Etsy.com
    etsy.tamper("JKT-BLA", enabled=False)  # one variant switched off
    found = remote(channel)
    assert found["MUG-1"]["listed"] is False and found["MUG-1"]["quantity"] == 7
    assert found["JKT-BLA"]["listed"] is False
    assert found["JKT-NAV"]["listed"] is True  # a draft: where multichan leaves its listings
    etsy.set_state("MUG-1", "active")  # published by the seller: still listed
    assert remote(channel)["MUG-1"]["listed"] is True


def test_a_sku_on_two_listings_is_yielded_once_the_live_one_first(etsy: EtsyDouble) -> None:
    etsy.seed("TWIN", "A draft", "12.00", 3, state="draft")
    etsy.seed("TWIN", "First", "10.00", 1)
    etsy.seed("TWIN", "Second", "11.00", 2)
    found = list(make(etsy.url, upload_images=False).remote_listings())
    assert [s for s, _ in found] == ["TWIN"] and found[0][1]["title"] == "First"


def test_a_title_etsy_sends_with_html_entities_is_read_as_text(etsy: EtsyDouble) -> None:
    etsy.seed("MUG-2", "Tom &amp; Jerry&#39;s Mug", "10.00", 1)  # as Etsy encodes some text
    [(sku, fields)] = list(make(etsy.url, upload_images=False).remote_listings())
    assert (sku, fields["title"]) == ("MUG-2", "Tom & Jerry's Mug")
