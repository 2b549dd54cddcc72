"""Fixtures and helpers shared by the Shopify channel tests (test_shopify.py,
test_shopify_failures.py): the schema-checked endpoint of tests/servers/shopify.py emptied per
test, a fake clock that refills its cost bucket, channels pointed at it, and offers for it.

A test module binds the fixtures by assignment (``server = shopify_conftest.server``), which
pytest registers exactly like a definition in the module itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

from multichan.channels.shopify import Shopify
from multichan.offers import Offer
from multichan.testing import sample_offers
from tests.servers.shopify import LOCATION, TOKEN, Clock, ShopifyServer

IDS = {"product_id", "variant_id", "inventory_item_id"}


@pytest.fixture(scope="session")
def _shopify_session(shared_shopify: ShopifyServer) -> ShopifyServer:
    """tests/conftest.py's one endpoint of the session, passed through: each module that binds
    this by assignment gets its own fixture, so it must not start a server itself."""
    return shared_shopify


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server(
    _shopify_session: ShopifyServer, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> ShopifyServer:
    """The endpoint with an empty shop, a 2,000-point bucket on ``clock`` and the token set."""
    _shopify_session.reset(clock=clock)
    monkeypatch.setenv("SHOPIFY_TOKEN", TOKEN)
    return _shopify_session


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def make(server: ShopifyServer, clock: Clock, session: Any, **settings: Any) -> Shopify:
    raw = {"base_url": server.url, "token": "${SHOPIFY_TOKEN}", "location_id": LOCATION,
           "timeout": 5, **settings}  # fmt: skip
    values, problems = Shopify.validate_settings(raw, "channels.yaml:7: channels.shop.settings")
    assert problems == []
    channel = Shopify("shop", values, session=session)
    channel.sleep, channel.clock = clock.sleep, clock
    return channel


@pytest.fixture
def channel(server: ShopifyServer, clock: Clock, session: requests.Session) -> Shopify:
    return make(server, clock, session)


def jackets() -> list[Offer]:
    """A size x colour group: 2 colours x 3 sizes, the olive ones on sale, with barcodes."""
    base = sample_offers(1)[0]
    return [
        dataclasses.replace(
            base, sku=f"NW-JKT-{color[:3].upper()}-{size}", item_group_id="NW-JKT",
            title=f"Rain Jacket - {color} / {size}", color=color, size=size,
            price=Decimal("120.00"), sale_price=Decimal("99.00") if color == "Olive" else None,
            gtin=f"40063813339{i}", quantity=i + 2, product_type="Apparel > Jackets",
            image_link=f"https://cdn.example.com/jkt/{color.lower()}.jpg",
            additional_image_links=["https://cdn.example.com/jkt/detail.jpg"],
        )
        for i, (color, size) in enumerate((c, s) for c in ("Black", "Olive") for s in "SML")
    ]  # fmt: skip


def ids_of(results: list[Any]) -> dict[str, dict[str, str]]:
    return {r.sku: r.remote_ids for r in results}


def seeded(
    server: ShopifyServer, products: int, variants: int, price: str = "10.00"
) -> tuple[list[Offer], dict[str, dict[str, str]]]:
    """``products`` products of ``variants`` variants made in the shop's admin, and an offer
    (item group = product, a new price) plus the recorded remote ids of each variant."""
    base = sample_offers(1)[0]
    offers, ids = [], {}
    for p in range(products):
        skus = [f"P{p:03d}-V{v:03d}" for v in range(variants)]
        product = server.shop.seed(f"Product {p}", skus, price)
        for sku in skus:
            row = server.shop.by_sku(sku)
            ids[sku] = {"product_id": product["id"], "variant_id": row["id"],
                        "inventory_item_id": row["item"]}  # fmt: skip
            offers.append(dataclasses.replace(base, sku=sku, item_group_id=f"P{p:03d}",
                                              price=Decimal("12.50"), sale_price=None))  # fmt: skip
    return offers, ids


class Flaky:
    """A session whose chosen requests (1-based) end in a reset connection: ``before`` the
    server saw them, or ``after`` it applied them (the answer is lost)."""

    def __init__(self, session: requests.Session, fail: dict[int, str]) -> None:
        self.session, self.fail, self.calls = session, fail, 0

    def request(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        phase = self.fail.get(self.calls)
        if phase == "before":
            raise requests.ConnectionError("connection reset by peer")
        response = self.session.request(*args, **kwargs)
        if phase == "after":
            raise requests.ConnectionError("connection reset by peer")
        return response
