"""The BigCommerce channel's catalog side: products with variants, options and images, prices and
stock at a location, every request checked against BigCommerce's published contracts (Prism
behind the BigCommerce double), the documented limits (10 products, 50 variants, 2,000
inventory items a request), the store's rate-limit headers, and rejections with BigCommerce's
own message."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from multichan.channels import registry
from multichan.channels.base import Channel, Fatal, Retriable
from multichan.channels.bigcommerce import NOT_LISTED, BigCommerce
from multichan.offers import Offer
from multichan.testing import ChannelConformance, sample_offers
from tests.channels.bigcommerce_conftest import STORE, TOKEN, BigCommerceDouble
from tests.prism import Prism


def make(double: BigCommerceDouble, **extra: Any) -> BigCommerce:
    raw = {"store_hash": STORE, "base_url": double.url, "token": "${BIGCOMMERCE_TOKEN}",
           "timeout": 5, **extra}  # fmt: skip
    cls = registry.load("bigcommerce")  # through the entry point, as channels.yaml would
    settings, problems = cls.validate_settings(raw, "channels.yaml:20: channels.bc.settings")
    assert problems == []
    channel = cls("bc", settings)
    assert isinstance(channel, BigCommerce)
    channel.sleep = double.sleep  # waits move the double's rate-limit clock, never real time
    return channel


def jackets(colours: list[str], group: str = "JKT", price: str = "80.00") -> list[Offer]:
    base = sample_offers(1)[0]
    return [
        dataclasses.replace(base, sku=f"{group}-{c[:3].upper()}", item_group_id=group,
                            title=f"Trail Jacket - {c} / M", color=c, size="M",
                            price=Decimal(price), sale_price=None, quantity=2 + i,
                            image_link=f"https://cdn.example.com/jkt/{c.lower()}.jpg")
        for i, c in enumerate(colours)
    ]  # fmt: skip


def simple(sku: str, price: str = "12.00", quantity: int = 4) -> Offer:
    base = sample_offers(1)[0]
    return dataclasses.replace(base, sku=sku, item_group_id=None, title=f"Gift card {sku}",
                               price=Decimal(price), sale_price=None, quantity=quantity,
                               color=None, size=None)  # fmt: skip


def waits(slept: list[float], double: BigCommerceDouble) -> Callable[[float], None]:
    """A fake sleep that records each wait and moves the double's rate-limit clock."""

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        double.sleep(seconds)

    return sleep


def ids(results: list[Any]) -> dict[str, dict[str, str]]:
    return {r.sku: r.remote_ids for r in results if r.ok}


@pytest.fixture
def bc(shared_bigcommerce: BigCommerceDouble, monkeypatch: pytest.MonkeyPatch) -> BigCommerceDouble:
    """The session's BigCommerce double, emptied, checking nothing; the token is set."""
    shared_bigcommerce.reset()
    monkeypatch.setenv("BIGCOMMERCE_TOKEN", TOKEN)
    return shared_bigcommerce


@pytest.fixture
def store(
    bc: BigCommerceDouble, bigcommerce_products_prism: Prism, bigcommerce_variants_prism: Prism,
    bigcommerce_inventory_prism: Prism, bigcommerce_orders_prism: Prism,
) -> Iterator[BigCommerceDouble]:  # fmt: skip
    """The double checking every request against BigCommerce's contracts first; the test
    fails when any request broke them or went over a documented limit."""
    bc.reset(validate={"products": bigcommerce_products_prism.url,
                       "variants": bigcommerce_variants_prism.url,
                       "inventory": bigcommerce_inventory_prism.url,
                       "orders": bigcommerce_orders_prism.url})  # fmt: skip
    yield bc
    assert bc.violations == []
    assert bc.breaches == []
    assert bc.throttled == []


class TestBigCommerceConformance(ChannelConformance):
    sample_size = 8

    @pytest.fixture
    def channel_class(self) -> type[Channel]:
        return registry.load("bigcommerce")

    @pytest.fixture
    def channel(self, store: BigCommerceDouble) -> Channel:
        return make(store)


def test_a_new_product_is_one_create_with_its_variants_options_and_images(
    store: BigCommerceDouble,
) -> None:
    channel = make(store, category_id=23)
    offers = [*jackets(["Black", "Moss"]), simple("GIFT-25")]
    results = channel.send("listings", offers)
    assert all(r.ok for r in results), results
    [jacket, gift] = store.calls("POST", "/v3/catalog/products")
    assert jacket["name"] == "Trail Jacket" and jacket["sku"] == "JKT"
    assert jacket["inventory_tracking"] == "variant" and jacket["categories"] == [23]
    assert [v["sku"] for v in jacket["variants"]] == ["JKT-BLA", "JKT-MOS"]
    assert jacket["variants"][0]["option_values"] == [
        {"option_display_name": "Color", "label": "Black"},
        {"option_display_name": "Size", "label": "M"},
    ]
    assert jacket["images"][0] == {"image_url": "https://cdn.example.com/jkt/black.jpg",
                                   "is_thumbnail": True, "sort_order": 0}  # fmt: skip
    assert gift["inventory_tracking"] == "product" and "variants" not in gift
    product = store.by_sku("JKT")[0]  # type: ignore[index]
    moss = store.by_sku("JKT-MOS")[1]  # type: ignore[index]
    assert ids(results)["JKT-MOS"] == {"product_id": str(product["id"]),
                                       "variant_id": str(moss["id"])}  # fmt: skip
    gift_product = store.by_sku("GIFT-25")[0]  # type: ignore[index]
    assert ids(results)["GIFT-25"] == {
        "product_id": str(gift_product["id"]),
        "tracked_by": "product",
        "variant_id": str(gift_product["base_variant_id"]),
    }


def test_a_create_whose_answer_was_lost_is_found_by_sku_not_made_twice(
    store: BigCommerceDouble,
) -> None:
    channel = make(store)
    offers = jackets(["Black", "Moss"])
    first = channel.send("listings", offers)
    again = channel.send("listings", offers)  # no ids known: as after a crash before saving
    assert ids(again) == ids(first)
    assert len(store.products) == 1 and len(store.calls("POST", "/v3/catalog/products")) == 1
    [put] = store.calls("PUT", "/v3/catalog/products")
    assert put == [{"id": int(ids(first)["JKT-BLA"]["product_id"]), "name": "Trail Jacket",
                    "description": offers[0].description}]  # fmt: skip


def test_updates_batch_products_and_variants_and_add_new_variants(store: BigCommerceDouble) -> None:
    channel = make(store)
    offers = [*jackets(["Black", "Moss"]), simple("GIFT-25")]
    known = ids(channel.send("listings", offers))
    changed = [*jackets(["Black", "Moss", "Rust"], price="75.00"), simple("GIFT-25", "15.00")]
    results = channel.send("listings", changed, known_ids=known)
    assert all(r.ok for r in results), results
    [products] = store.calls("PUT", "/v3/catalog/products")
    assert len(products) == 2 and products[1]["price"] == 15.0
    [variants] = store.calls("PUT", "/v3/catalog/variants")
    assert [v["price"] for v in variants] == [75.0, 75.0]
    [rust] = store.calls("POST", f"/v3/catalog/products/{known['JKT-BLA']['product_id']}/variants")
    assert rust["sku"] == "JKT-RUS" and rust["option_values"][0]["label"] == "Rust"
    assert ids(results)["JKT-RUS"]["variant_id"] == str(store.by_sku("JKT-RUS")[1]["id"])  # type: ignore[index]


def test_prices_and_stock_reach_the_variants_and_the_location(store: BigCommerceDouble) -> None:
    channel = make(store, location_id=2)
    offers = [*jackets(["Black", "Moss"]), simple("GIFT-25", quantity=9)]
    known = ids(channel.send("listings", offers))
    sale = [dataclasses.replace(o, sale_price=o.price - 10) for o in offers]
    assert all(r.ok for r in channel.send("prices", sale, known_ids=known))
    moss = store.by_sku("JKT-MOS")[1]  # type: ignore[index]
    assert (moss["price"], moss["sale_price"]) == (80.0, 70.0)
    assert store.by_sku("GIFT-25")[0]["sale_price"] == 2.0  # type: ignore[index]
    stock = channel.send("quantities", offers, known_ids=known)
    assert all(r.ok for r in stock)
    assert [store.quantity(o.sku, 2) for o in offers] == [2, 3, 9]
    [body] = store.calls("PUT", "/v3/inventory/adjustments/absolute")
    assert body["items"][2] == {"location_id": 2, "product_id": int(known["GIFT-25"]["product_id"]),
                                "quantity": 9}  # fmt: skip
    assert "variant_id" in body["items"][0]


def test_unlisted_skus_are_rejected_without_a_request(store: BigCommerceDouble) -> None:
    channel = make(store)
    for op in ("prices", "quantities"):
        [result] = channel.send(op, [simple("NEW-1")])
        assert (result.ok, result.message) == (False, NOT_LISTED)
    assert store.requests == []


def test_one_invalid_product_is_rejected_with_bigcommerces_message_the_rest_saved(
    store: BigCommerceDouble,
) -> None:
    channel = make(store)
    store.refuse["MUG-1"] = {"price": "The price must be greater than 0.01"}
    results = channel.send("listings", [simple("CAP-1"), simple("MUG-1"), simple("BTL-1")])
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].message == (
        "BigCommerce refused product MUG-1: JSON data is missing or invalid "
        "(price: The price must be greater than 0.01)"
    )
    known = ids(results)
    # in a batch update BigCommerce refuses the whole batch: each product is sent again alone
    store.refuse["BTL-1"] = {"name": "The name is not valid"}
    again = channel.send("listings", [simple("CAP-1", "13.00"), simple("BTL-1", "14.00")],
                         known_ids=known)  # fmt: skip
    assert [r.ok for r in again] == [True, False]
    assert "BTL-1: JSON data is missing or invalid (0.name: The name is not valid)" in str(
        again[1].message
    )
    assert store.by_sku("CAP-1")[0]["price"] == 13.0  # type: ignore[index]
    assert [len(b) for b in store.calls("PUT", "/v3/catalog/products")] == [2, 1, 1]


def test_stock_items_bigcommerce_names_are_rejected_the_others_written(
    store: BigCommerceDouble,
) -> None:
    channel = make(store)
    known = ids(channel.send("listings", [*jackets(["Black", "Moss"]), simple("GIFT-25")]))
    # the gift card's product tracks stock by product; written by its variant id it is refused
    known["GIFT-25"] = {k: v for k, v in known["GIFT-25"].items() if k != "tracked_by"}
    offers = [*jackets(["Black", "Moss"]), simple("GIFT-25")]
    results = channel.send("quantities", offers, known_ids=known)
    assert [r.ok for r in results] == [True, True, False]
    assert "is tracked by product, please update stock by product id" in str(results[2].message)
    assert store.quantity("JKT-MOS") == 3 and store.quantity("GIFT-25") is None


def test_limits_are_never_exceeded_and_the_engine_cuts_to_them() -> None:
    assert BigCommerce.max_batch == {"listings": 50, "prices": 50, "quantities": 2000}
    assert BigCommerce.max_groups == {"listings": 10}


def test_the_double_refuses_what_bigcommerce_refuses_over_its_limits(
    bc: BigCommerceDouble,
) -> None:
    """The limits the channel keeps are real: the double answers as BigCommerce does."""
    channel = make(bc)
    known = ids(channel.send("listings", [simple(f"S-{i}") for i in range(11)]))
    with pytest.raises(Fatal, match="maximum items allowed in the array is 10"):
        channel.api.request(
            "PUT",
            "/v3/catalog/products",
            json=[{"id": int(k["product_id"])} for k in known.values()],
        )
    items = [{"location_id": 1, "product_id": 1, "quantity": 1}] * 2001
    with pytest.raises(Fatal, match="2000"):
        channel.api.request("PUT", "/v3/inventory/adjustments/absolute", json={"items": items})
    assert len(bc.breaches) == 2


def test_the_client_waits_the_reset_time_when_no_requests_are_left(
    store: BigCommerceDouble,
) -> None:
    store.quota, store.window_ms = 3, 30_000
    channel = make(store)
    slept: list[float] = []
    channel.sleep = waits(slept, store)
    offers = [simple(f"S-{i}") for i in range(5)]
    results = channel.send("listings", offers)  # one lookup, five creates: six requests
    assert all(r.ok for r in results)
    assert store.throttled == []  # never a request while the window had none left
    assert slept == [30.0]  # before the 4th request: the reset time the 3rd answer named
    assert len(store.requests) == 6  # the 6th answer used the window up again: the next waits
    assert all(r.ok for r in channel.send("prices", offers[:1], known_ids=ids(results)))
    assert slept == [30.0, 30.0] and store.throttled == []


def test_a_429_waits_the_reset_time_then_succeeds(store: BigCommerceDouble) -> None:
    channel = make(store)
    known = ids(channel.send("listings", [simple("S-1")]))
    store.fail_next.append((429, {"status": 429, "title": "Too many requests"}))
    slept: list[float] = []
    channel.sleep = waits(slept, store)
    store.quota = store.used + 1  # the 429's answer says none are left, reset in 30 s
    [result] = channel.send("quantities", [simple("S-1")], known_ids=known)
    assert result.ok and slept[0] == pytest.approx(30.0, abs=0.01)


def test_auth_failure_is_fatal_and_names_the_variable_not_the_token(
    bc: BigCommerceDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIGCOMMERCE_TOKEN", "wrong-token-value")
    with pytest.raises(Fatal) as caught:
        make(bc).send("listings", [simple("S-1")])
    assert "$BIGCOMMERCE_TOKEN" in str(caught.value) and "wrong-token-value" not in str(
        caught.value
    )
    assert caught.value.exit_code == 5


def test_server_errors_are_retriable(bc: BigCommerceDouble) -> None:
    channel = make(bc)
    bc.fail_next.extend([(503, {"title": "busy"})] * 3)
    with pytest.raises(Retriable):
        channel.send("listings", [simple("S-1")])


def test_settings_need_a_store_hash_and_a_known_weight_unit() -> None:
    _, problems = BigCommerce.validate_settings(
        {"token": "${BIGCOMMERCE_TOKEN}", "weight_unit": "stone"}, "channels.yaml:3: x"
    )
    assert "channels.yaml:3: x.store_hash is required (str): the store's hash" in problems[0]
    assert problems[1] == "channels.yaml:3: x.weight_unit must be one of kg, g, lb, oz, not 'stone'"
    settings, _ = BigCommerce.validate_settings(
        {"token": "${BIGCOMMERCE_TOKEN}", "store_hash": "abc123"}, "x"
    )
    channel = BigCommerce("bc", settings)
    assert channel.api.base_url == "https://api.bigcommerce.com/stores/abc123"
    assert channel.api.headers == {"Accept": "application/json", "Content-Type": "application/json"}


def test_a_create_answered_without_its_variants_is_read_back_for_their_ids(
    store: BigCommerceDouble,
) -> None:
    store.created_with_variants = False
    results = make(store).send("listings", jackets(["Black", "Moss"]))
    assert all(r.ok for r in results), results
    moss = store.by_sku("JKT-MOS")[1]  # type: ignore[index]
    assert ids(results)["JKT-MOS"]["variant_id"] == str(moss["id"])
    assert [r["method"] for r in store.requests] == ["GET", "POST", "GET"]


def test_window_pause_reads_the_headers_and_ignores_garbage() -> None:
    from multichan.channels.api import Answer, window_pause

    pause = window_pause("X-Rate-Limit-Requests-Left", "X-Rate-Limit-Time-Reset-Ms", unit=0.001)

    def answer(**headers: str) -> Answer:
        named = {k.replace("_", "-"): v for k, v in headers.items()}
        return Answer(200, named, None, "", "GET", "/v3/catalog/products")

    reset = "X_Rate_Limit_Time_Reset_Ms"
    assert pause(answer(**{"X_Rate_Limit_Requests_Left": "0", reset: "1500"})) == 1.5
    assert pause(answer(**{"X_Rate_Limit_Requests_Left": "3", reset: "1500"})) is None
    assert pause(answer(**{reset: "1500"})) is None  # no count: no pause
    for garbage in ("nan", "inf", "-5", "soon", "99999999999"):
        assert pause(answer(**{"X_Rate_Limit_Requests_Left": "0", reset: garbage})) is None
