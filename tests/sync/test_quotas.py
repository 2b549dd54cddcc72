"""Daily quotas against the Acme Market test server: a channel's requests in a day (Etsy's
10,000) and a listing's revisions in a day (eBay's 250), counted in the catalog across runs.

The Acme channel is given the quota under test (as Etsy and eBay declare theirs) and one SKU a
request, so the counts are small and every request is one change."""

from __future__ import annotations

import json
from typing import Any

import pytest

from multichan.channels import registry
from tests.conftest import write_config
from tests.sync.conftest import ACME, Shop

PRICES, INVENTORY = "/v1/prices/batch", "/v1/inventory/batch"


@pytest.fixture(autouse=True)
def _unpaced(shop: Shop) -> None:
    """Quotas are counted, not timed: Acme's 5 requests a second on the real clock would only
    make these tests wait."""
    rate = "    rate_limit: {requests_per_second: 1000, burst: 100}\n"
    write_config(shop.root, ACME.format(url=shop.server.url) + rate)


def _one_a_request(monkeypatch: pytest.MonkeyPatch, **quota: int) -> Any:
    acme = registry.load("acme_market")
    monkeypatch.setattr(acme, "max_batch", {"listings": 20, "prices": 1, "quantities": 1})
    for name, value in quota.items():
        monkeypatch.setattr(acme, name, value)
    return acme


def _sent(shop: Shop) -> list[tuple[str, str, Any]]:
    return [
        (r["path"], i["sku"], i.get("price", i.get("quantity")))
        for r in shop.server.requests
        for i in r["body"]["items"]
    ]


def _quantities(shop: Shop) -> dict[str, int]:
    rows = shop.db().execute("SELECT sku, sum(quantity) FROM stock GROUP BY sku")
    return {sku: int(n) for sku, n in rows}


def _next_day(shop: Shop) -> None:
    """Move every counted request and revision a day back, as if a day had passed."""
    with shop.db() as conn:
        for table in ("channel_usage", "listing_revisions"):
            conn.execute(
                f"UPDATE {table} SET hour = strftime('%Y-%m-%dT%H', datetime(replace(hour, 'T',"
                " ' ') || ':00:00', '-25 hours'))"
            )


def test_a_day_budget_too_small_sends_stock_decreases_first_then_prices_and_waits(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert shop.cli("push").code == 0  # 60 SKUs listed: 3 + 2 + 2 requests
    used = shop.db().execute("SELECT sum(requests) FROM channel_usage").fetchone()[0]
    assert used == len(shop.server.requests) == 7
    skus = [s for s, n in _quantities(shop).items() if n >= 2 and not s.startswith("GIFT")]
    down, up, priced = skus[:5], skus[5:10], skus[10:30]
    for sku in down:
        shop.sql("UPDATE stock SET quantity = quantity - 1 WHERE sku = ? AND quantity > 0", (sku,))
    for sku in up:
        shop.sql("UPDATE stock SET quantity = quantity + 3 WHERE sku = ?", (sku,))
    for sku in priced:
        shop.sql("UPDATE products SET price = printf('%.2f', price + 1) WHERE sku = ?", (sku,))
    # 30 requests wanted; the day allows 7 used + 12 + its 5% reserve of 1 (daily 20)
    _one_a_request(monkeypatch, daily_requests=20)
    shop.server.requests.clear()
    result = shop.cli("push", "--json")
    assert result.code == 0, result.output
    doc = json.loads(result.stdout)["channels"][0]
    sent = _sent(shop)
    assert len(sent) == 12
    assert [s for _, s, _ in sent[:5]] == sorted(down)  # every decrease first
    assert {p for p, _, _ in sent[:5]} == {INVENTORY}
    assert [p for p, _, _ in sent[5:]] == [PRICES] * 7 and {s for _, s, _ in sent[5:]} < set(priced)
    assert doc["held"] == 30 - 12
    assert any("daily request budget (20) is spent: 18 change(s)" in n for n in doc["notes"])
    assert any("stock decreases go first" in n for n in doc["notes"])
    # the same day, a second run has nothing left to spend: it sends nothing
    shop.server.requests.clear()
    again = shop.cli("push")
    assert again.code == 0 and shop.server.requests == []
    assert "18 held for a daily quota" in again.stdout
    assert "daily request budget (20) is spent" in again.stderr
    # the next day the rest goes, once
    _next_day(shop)
    shop.server.requests.clear()
    assert shop.cli("push").code == 0
    rest = _sent(shop)
    assert len(rest) == 18
    assert {s for _, s, _ in rest} | {s for _, s, _ in sent} == set(down + up + priced)
    shop.server.requests.clear()
    assert shop.cli("push").code == 0 and shop.server.requests == []


def test_a_budget_that_covers_the_plan_keeps_the_usual_order(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert shop.cli("push").code == 0
    sku = next(iter(_quantities(shop)))
    shop.sql("UPDATE stock SET quantity = quantity + 1 WHERE sku = ?", (sku,))
    shop.sql("UPDATE products SET price = printf('%.2f', price + 1) WHERE sku = ?", (sku,))
    _one_a_request(monkeypatch, daily_requests=10_000)
    shop.server.requests.clear()
    doc = json.loads(shop.cli("push", "--json").stdout)["channels"][0]
    assert [p for p, _, _ in _sent(shop)] == [PRICES, INVENTORY]
    assert doc["held"] == 0 and not any("daily" in n for n in doc["notes"])


def test_requests_of_pulls_count_against_the_day_too(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every run of the day draws on one budget: a push after others spent it sends nothing."""
    assert shop.cli("push").code == 0
    with shop.db() as conn:  # what pulls and shipments of earlier runs used this hour
        conn.execute("UPDATE channel_usage SET requests = requests + 90")
    sku = next(iter(_quantities(shop)))
    shop.sql("UPDATE products SET price = printf('%.2f', price + 1) WHERE sku = ?", (sku,))
    _one_a_request(monkeypatch, daily_requests=100)  # 97 used, 5 kept in reserve
    shop.server.requests.clear()
    doc = json.loads(shop.cli("push", "--json").stdout)["channels"][0]
    assert shop.server.requests == [] and doc["held"] == 1


def test_a_listing_near_its_daily_revisions_gets_only_its_stock_decreases(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    _one_a_request(monkeypatch, daily_revisions=5)  # the reserve is 1: 4 revisions are "near"
    assert shop.cli("push").code == 0
    groups = dict(shop.db().execute("SELECT sku, coalesce(item_group_id, sku) FROM products"))
    stock = _quantities(shop)
    single = [s for s in stock if stock[s] >= 3 and groups[s] == s and not s.startswith("GIFT")]
    busy, calm = single[:2]  # listings of one SKU each
    counted = dict(shop.db().execute("SELECT listing, revisions FROM listing_revisions"))
    assert counted[busy] == 3  # listing, price, stock: three writes of it so far
    for change in ("price", "stock-up", "stock-down"):
        for sku in (busy, calm) if change != "price" else (busy,):
            if change == "price":
                shop.sql("UPDATE products SET price = printf('%.2f', price + 1) WHERE sku = ?",
                         (sku,))  # fmt: skip
            elif change == "stock-up":
                shop.sql("UPDATE stock SET quantity = quantity + 2 WHERE sku = ?", (sku,))
            else:
                shop.sql("UPDATE stock SET quantity = quantity - 3 WHERE sku = ? AND "
                         "quantity >= 3", (sku,))  # fmt: skip
        shop.server.requests.clear()
        doc = json.loads(shop.cli("push", "--json").stdout)["channels"][0]
        sent = {s for _, s, _ in _sent(shop)}
        if change == "price":  # busy: 3 + 1 = 4 revisions now, calm still 3
            assert sent == {busy} and doc["held"] == 0
        elif change == "stock-up":  # busy is near: its increase waits, calm's goes
            assert sent == {calm} and doc["held"] == 1
            assert any("near acme's 5 revisions a day" in n for n in doc["notes"])
        else:  # a decrease always goes (below the count sent before the waiting increase)
            assert sent == {busy, calm}
    _next_day(shop)
    shop.server.requests.clear()
    assert shop.cli("push").code == 0 and shop.server.requests == []


def test_revisions_count_only_the_kinds_a_channel_says_and_per_sku(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Google's advice spares price and stock: only listing writes count, per product."""
    acme = _one_a_request(monkeypatch, daily_revisions=3)  # near from 2 (a reserve of 1)
    monkeypatch.setattr(acme, "revision_kinds", frozenset({"listings"}))
    monkeypatch.setattr(acme, "revision_unit", "sku")
    assert shop.cli("push").code == 0
    counted = dict(shop.db().execute("SELECT listing, revisions FROM listing_revisions"))
    assert set(counted) == set(shop.skus()) and set(counted.values()) == {1}  # listings only
    sku = shop.skus()[0]
    shop.sql("UPDATE products SET title = title || ' v2', price = printf('%.2f', price + 1)"
             " WHERE sku = ?", (sku,))  # fmt: skip
    shop.server.requests.clear()
    doc = json.loads(shop.cli("push", "--json").stdout)["channels"][0]
    assert {r["path"] for r in shop.server.requests} == {"/v1/listings/batch", PRICES}
    assert doc["held"] == 0  # 1 + 1 = 2 revisions now: near the limit of 3
    shop.sql("UPDATE products SET title = title || ' v3', price = printf('%.2f', price + 1)"
             " WHERE sku = ?", (sku,))  # fmt: skip
    shop.server.requests.clear()
    doc = json.loads(shop.cli("push", "--json").stdout)["channels"][0]
    assert [r["path"] for r in shop.server.requests] == [PRICES]  # the price still goes
    assert doc["held"] == 1


def test_a_delist_is_named_to_the_channel(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    acme = registry.load("acme_market")
    seen: list[set[str]] = []
    original = acme.update_quantities

    def spy(self: Any, offers: list[Any]) -> Any:
        seen.append(set(self.delisting))
        return original(self, offers)

    monkeypatch.setattr(acme, "update_quantities", spy)
    assert shop.cli("push").code == 0
    assert seen and all(s == set() for s in seen)
    sku = shop.skus()[0]
    shop.sql("UPDATE products SET status = 'archived' WHERE sku = ?", (sku,))
    seen.clear()
    assert shop.cli("push").code == 0
    assert seen == [{sku}]
