"""A push plans only what changed since the channel's last complete push: the SKUs the catalog's
triggers stamped, and those the channel did not accept last time. Anything that could shape
every offer (the channel's rules, the shop, the locations) makes it walk the whole catalog
again, and a push that left work behind never moves the mark."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest
import sqlite_utils

from multichan.sync import changes
from multichan.sync.run import push_all
from multichan.workspace import resolve
from tests.conftest import write_config
from tests.sync.conftest import ACME, Shop


def _catalog(shop: Shop) -> sqlite_utils.Database:
    return sqlite_utils.Database(shop.root / "catalog.db")


def _push(shop: Shop) -> Any:
    result = push_all(resolve(shop.root), ["acme"])[0]
    assert result.exit_code in (0, 4), result.message
    return result


def _sent(shop: Shop) -> list[tuple[str, str]]:
    return sorted(
        (r["path"].split("/")[2], i["sku"])
        for r in shop.server.requests
        for i in r["body"]["items"]
    )


def test_after_a_complete_push_one_stock_change_is_all_the_next_plan_looks_at(
    shop: Shop,
) -> None:
    first = _push(shop)
    assert not first.plan.incremental  # no mark yet: the whole catalog
    sku = shop.skus()[3]
    shop.sql("UPDATE stock SET quantity = quantity + 4 WHERE sku = ?", (sku,))  # by hand, too
    shop.server.requests.clear()
    second = _push(shop)
    assert second.plan.incremental
    assert second.plan.totals() == {
        "create": 0, "update": 1, "delist": 0, "unchanged": 0, "looked_at": 1
    }  # fmt: skip
    assert _sent(shop) == [("inventory", sku)]
    # nothing changed: nothing looked at, nothing sent
    shop.server.requests.clear()
    idle = _push(shop)
    assert idle.plan.incremental and idle.plan.totals()["looked_at"] == 0
    assert shop.server.requests == []


def test_a_product_archived_or_deleted_is_delisted_without_walking_the_catalog(
    shop: Shop,
) -> None:
    _push(shop)
    gone, deleted = shop.skus()[0], shop.skus()[1]
    shop.sql("UPDATE products SET status = 'archived' WHERE sku = ?", (gone,))
    shop.sql("DELETE FROM products WHERE sku = ?", (deleted,))
    shop.server.requests.clear()
    result = _push(shop)
    assert result.plan.incremental and result.status == "ok"  # 2 of 60: within the limit
    assert result.plan.listed == len(shop.skus()) + 2
    assert _sent(shop) == sorted([("inventory", gone), ("inventory", deleted)])
    assert all(shop.server.listings[s]["quantity"] == 0 for s in (gone, deleted))


def test_a_rejected_sku_is_looked_at_again_until_accepted(shop: Shop) -> None:
    _push(shop)
    sku = shop.skus()[5]
    shop.server.refuse_stock.add(sku)
    shop.sql("UPDATE stock SET quantity = quantity + 1 WHERE sku = ?", (sku,))
    assert _push(shop).rejected
    shop.server.refuse_stock.clear()
    shop.server.requests.clear()
    again = _push(shop)  # nothing stamped since, but it was not accepted
    assert again.plan.incremental and _sent(shop) == [("inventory", sku)]
    shop.server.requests.clear()
    assert _push(shop).plan.totals()["looked_at"] == 0 and shop.server.requests == []


def test_a_rule_change_walks_the_whole_catalog_again(shop: Shop) -> None:
    _push(shop)
    write_config(shop.root, ACME.format(url=shop.server.url) + "    stock: {buffer: 1}\n")
    shop.server.requests.clear()
    result = _push(shop)
    assert not result.plan.incremental
    stocked = [s for s, n in shop.db().execute(
        "SELECT sku, sum(quantity - committed) FROM stock GROUP BY sku") if n > 0]  # fmt: skip
    assert {s for k, s in _sent(shop) if k == "inventory"} >= set(stocked) - {"GIFT-CARD-50"}


def test_a_push_that_stopped_half_way_moves_no_mark(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    _push(shop)
    mark = changes.mark_of(_catalog(shop), "acme")
    skus = shop.skus()[:30]
    for sku in skus:
        shop.sql("UPDATE stock SET quantity = quantity + 2 WHERE sku = ?", (sku,))
    shop.server.fail_next.extend([(401, {})])  # the first batch fails as a whole: exit 5
    failed = push_all(resolve(shop.root), ["acme"])[0]
    assert failed.exit_code == 5
    assert changes.mark_of(_catalog(shop), "acme") == mark
    shop.server.requests.clear()
    done = _push(shop)
    assert {s for _, s in _sent(shop)} == set(skus)
    assert done.plan.incremental and changes.mark_of(_catalog(shop), "acme") != mark


def test_a_mark_older_than_a_day_or_a_mass_change_walks_everything(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changes, "MIN_LOOK", 0)
    _push(shop)
    with sqlite3.connect(shop.root / "catalog.db") as conn:
        conn.execute("UPDATE plan_marks SET full_at = '2020-01-01T00:00:00+00:00'")
    assert not _push(shop).plan.incremental  # the daily full plan
    assert _push(shop).plan.incremental
    shop.sql("UPDATE products SET title = title || ' v2'")  # every SKU: more than 20%
    assert not _push(shop).plan.incremental


def test_plan_shows_what_the_push_would_look_at_and_full_rechecks_all(shop: Shop) -> None:
    _push(shop)
    sku = shop.skus()[2]
    shop.sql("UPDATE stock SET quantity = quantity + 1 WHERE sku = ?", (sku,))
    out = shop.cli("plan", "--json")
    doc = json.loads(out.stdout)["channels"][0]
    assert doc["totals"]["looked_at"] == 1 and [c["sku"] for c in doc["changes"]] == [sku]
    full = json.loads(shop.cli("plan", "--json", "--full").stdout)["channels"][0]
    assert "looked_at" not in full["totals"] and full["totals"]["unchanged"] == len(shop.skus()) - 1
    assert [c["sku"] for c in full["changes"]] == [sku]
    # a plan moves no mark: the push still sends it
    shop.server.requests.clear()
    assert shop.cli("push", "--full").code == 0 and _sent(shop) == [("inventory", sku)]
