"""The drift engine around the channels: a third-party channel that reads its live listings is
checked, and one that cannot is reported, not a crash (exit 0 when it was not asked for by
name, 5 when it was); the conformance check of ``remote_listings`` finds a channel that
misreports what it holds; and the engine's rules as a seller meets them: a listing the channel
ended at 0 is no drift, a channel that shows one price shows what it charges, a sale taken
after the count was confirmed is no drift once pulled."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

from multichan.channels.woocommerce import WooCommerce
from multichan.sync import drift
from multichan.sync.drift import _differences
from multichan.testing import listing_problems, sample_offers
from tests.channels import woocommerce_conftest as fx
from tests.servers.woocommerce import KEY, SECRET, WooServer
from tests.sync.conftest import Shop

_shop = fx._shop  # the session's WooCommerce shop, passed through


@pytest.fixture
def woo_shop(_shop: WooServer, monkeypatch: pytest.MonkeyPatch) -> WooServer:
    """The WooCommerce shop, emptied, its key in the environment (``shop`` here is Acme's)."""
    _shop.reset()
    monkeypatch.setenv(fx.KEY_ENV, KEY)
    monkeypatch.setenv(fx.SECRET_ENV, SECRET)
    return _shop


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def test_a_third_party_channel_that_reads_its_listings_is_checked(shop: Shop) -> None:
    assert shop.cli("push").code == 0
    every = shop.cli("drift", "--json")
    assert every.code == 0, every.output
    [doc] = json.loads(every.stdout)["channels"]
    assert doc["error"] is None and doc["checked"] > 10 and doc["drift"] == []


def test_a_channel_that_cannot_read_its_listings_is_reported_not_a_crash(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    from multichan.channels import registry
    from multichan.channels.base import Channel

    # the Acme plugin as it was before it read its listings (any plugin that does not)
    monkeypatch.setattr(registry.load("acme_market"), "remote_listings", Channel.remote_listings)
    assert shop.cli("push").code == 0
    every = shop.cli("drift", "--json")
    assert every.code == 0, every.output  # nothing asked of it by name: nothing failed
    [doc] = json.loads(every.stdout)["channels"]
    assert (doc["channel"], doc["type"], doc["checked"], doc["drift"]) == (
        "acme", "acme_market", 0, []
    )  # fmt: skip
    assert doc["error"] == "cannot read its live listings (acme_market has no remote_listings)"
    named = shop.cli("drift", "acme")
    assert named.code == 5
    assert "acme: not checked" in named.stdout and "cannot read its live listings" in named.stderr
    assert "Traceback" not in named.output
    assert shop.cli("drift", "--dry-run").code == 2  # --dry-run goes with --fix


class _Misreporting(WooCommerce):
    """WooCommerce as a buggy module would read it: a cent off one price, one SKU left out,
    one count as text."""

    def remote_listings(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for n, (sku, fields) in enumerate(super().remote_listings()):
            if n == 0:
                fields["price"] = f"{float(fields['price']) + 0.01:.2f}"
            if n == 1:
                continue
            if n == 2:
                fields["quantity"] = str(fields["quantity"])
            yield sku, fields


def test_the_conformance_check_reads_back_what_was_pushed(
    woo_shop: WooServer, session: requests.Session
) -> None:
    offers = sample_offers(5)
    assert listing_problems(fx.woo(woo_shop, session), offers) == []
    assert {woo_shop.by_sku(o.sku) is not None for o in offers} == {True}  # it did push
    woo_shop.reset()
    bad = _Misreporting("woo", fx.woo(woo_shop, session).settings, session=session)
    problems = listing_problems(bad, offers)
    first, second, third = (o.sku for o in offers[:3])
    assert f"remote_listings: {first}: price '{offers[0].price + Decimal('0.01')}'" in "\n".join(
        problems
    )
    assert f"remote_listings: {second} was accepted but is not listed" in problems
    assert any(p.startswith(f"remote_listings: {third}: quantity '") for p in problems)


def _rows(price: str = "89.00", sale: str | None = "79.00", quantity: int = 5) -> Any:
    return {
        "listings": {"snapshot": {"title": "Merino Wool Picnic Blanket"}, "status": "ok"},
        "prices": {"snapshot": {"price": price, "sale_price": sale, "currency": "USD"}},
        "quantities": {"snapshot": {"quantity": quantity}, "status": "ok"},
    }


def test_rules_of_comparison() -> None:
    offer = None  # what today's offer holds only fills the report's "offer" column
    # a till with one price shows the sale price multichan sent it: no drift
    assert _differences("B", {"price": "79.00", "quantity": 5}, _rows(), offer, None) == []
    # ... but a channel that shows both prices shows the regular one as "price"
    found = _differences("B", {"price": "79.00", "sale_price": None}, _rows(), offer, None)
    assert {(f.field, f.pushed, f.remote) for f in found} == {
        ("price", "89.00", "79.00"), ("sale_price", "79.00", None)
    }  # fmt: skip
    # 89 and 89.0 are one price; a title re-spaced by the channel is the same title
    fields = {"price": "89.0", "sale_price": "79", "title": "Merino  Wool Picnic Blanket "}
    assert _differences("B", fields, _rows(), offer, None) == []
    # a count that sales pulled since explain (expected 3 of the 5 confirmed) is no drift
    assert _differences("B", {"quantity": 3}, _rows(), offer, 3) == []
    [count] = _differences("B", {"quantity": 5}, _rows(), offer, 3)
    assert (count.field, count.pushed, count.expected, count.remote) == ("quantity", 5, 3, 5)
    assert count.as_dict()["expected"] == 3


def test_not_for_sale_is_missing_only_while_multichan_offers_stock() -> None:
    offer = sample_offers(1)[0]
    [gone] = _differences(offer.sku, {"listed": False}, _rows(quantity=4), offer, None)
    assert (gone.finding, gone.field, gone.pushed, gone.remote) == (
        "missing",
        "listed",
        True,
        False,
    )
    # sold out: a channel may end the listing by itself, that is no drift
    assert _differences(offer.sku, {"listed": False}, _rows(quantity=0), offer, None) == []
    # no offer today (archived, filtered out): multichan delists it anyway
    assert _differences(offer.sku, {"listed": False}, _rows(quantity=4), None, None) == []


class _Counted(drift.Finding):
    """A Finding that counts how many are alive at once."""

    alive = peak = 0

    def __post_init__(self) -> None:
        _Counted.alive += 1
        _Counted.peak = max(_Counted.peak, _Counted.alive)

    def __del__(self) -> None:
        _Counted.alive -= 1


def test_a_channel_whose_every_listing_drifted_is_never_held_in_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sqlite_utils

    monkeypatch.setattr(drift, "Finding", _Counted)
    _Counted.alive = _Counted.peak = 0
    db = sqlite_utils.Database(memory=True)
    found = drift.Findings(db, "shop")
    n = 20_000
    found.extend(
        drift.Finding(f"S{i:06d}", "changed", "price", "10.00", "9.00", "10.00") for i in range(n)
    )
    found.extend(drift.Finding(f"S{i:06d}", "missing", "listed", True, False, True)
                 for i in range(0, n, 4))  # fmt: skip
    found.append(drift.Finding("HANDMADE", "unknown"))
    assert found.counts == {"changed": n, "missing": n // 4, "unknown": 1}
    assert _Counted.peak <= 2  # appended one at a time, each gone once stored
    assert sum(1 for _ in found) == n + n // 4 + 1  # read back in the order found
    assert _Counted.peak <= drift.CHUNK + 2
    clears = list(drift._clears(found.to_fix()))  # the fix: per SKU, in SKU order
    assert len(clears) == n and clears[0] == ("S000000", ({"listings", "prices",
                                                           "quantities"}, False))  # fmt: skip
    assert clears[1] == ("S000001", ({"prices"}, False))
    assert _Counted.peak <= drift.CHUNK + 2
    relisting = drift._Relisting(found)
    assert "S000004" in relisting and "S000005" not in relisting
    doc = drift.ChannelDrift("shop", "shopify", found).as_dict()
    assert not isinstance(doc["drift"], list)  # written as it is read (cli.sync_cmd.write_json)
