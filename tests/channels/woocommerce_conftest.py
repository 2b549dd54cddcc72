"""Fixtures and helpers shared by the woocommerce channel tests (test_woocommerce.py,
test_woocommerce_failures.py): the shop of tests/servers/woocommerce.py emptied per test with
its API key in the environment, a session that also reaches it through HTTPS, channels pointed
at it, and offers for it.

A test module binds the fixtures by assignment (``shop = woocommerce_conftest.shop``), which
pytest registers exactly like a definition in the module itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

from multichan.channels.woocommerce import WooCommerce
from multichan.offers import Offer
from multichan.testing import sample_offers
from tests.servers.woocommerce import API, KEY, SECRET, TlsTerminator, WooServer

KEY_ENV, SECRET_ENV = "WOOCOMMERCE_CONSUMER_KEY", "WOOCOMMERCE_CONSUMER_SECRET"


@pytest.fixture(scope="session")
def _shop(shared_woo: WooServer) -> WooServer:
    """tests/conftest.py's one shop of the session, passed through: each module that binds
    this by assignment gets its own fixture, so it must not start a server itself."""
    return shared_woo


@pytest.fixture
def shop(_shop: WooServer, monkeypatch: pytest.MonkeyPatch) -> WooServer:
    """The shop, emptied, with the env vars holding the API key it accepts."""
    _shop.reset()
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return _shop


@pytest.fixture
def session(shop: WooServer) -> Iterator[requests.Session]:
    """A session that also reaches the shop as https://127.0.0.1:PORT (through TLS)."""
    with requests.Session() as s:
        s.mount(shop.url.replace("http://", "https://"), TlsTerminator())
        yield s


def woo(
    shop: WooServer, session: requests.Session, url: str | None = None, timeout: int = 5
) -> WooCommerce:
    raw = {
        "base_url": url or shop.url, "consumer_key": f"${{{KEY_ENV}}}",
        "consumer_secret": f"${{{SECRET_ENV}}}", "timeout": timeout,
    }  # fmt: skip
    settings, problems = WooCommerce.validate_settings(raw, "channels.yaml:7: channels.woo")
    assert problems == []
    channel = WooCommerce("woo", settings, session=session)
    channel.sleep = lambda seconds: None  # the API client's waits between attempts
    return channel


BASE = sample_offers(1)[0]


def offer(sku: str, group: str | None = None, color: str | None = None, **fields: Any) -> Offer:
    title = f"Organic Cotton Tee - {color}" if color else f"Product {sku}"
    values: dict[str, Any] = {"sku": sku, "item_group_id": group, "color": color, "size": None}
    values |= {"title": title, "price": Decimal("29.00"), "sale_price": None, "quantity": 5}
    return dataclasses.replace(BASE, **(values | fields))


def ids(results: list[Any]) -> dict[str, dict[str, str]]:
    return {r.sku: r.remote_ids for r in results}


def posts(shop: WooServer) -> list[tuple[str, int]]:
    return [(r.path.removeprefix(API), r.objects) for r in shop.batches()]
