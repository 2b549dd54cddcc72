"""A real ``multichan push`` to the WooCommerce test shop when a SKU's price and stock both
changed: one write carries both (``prices+quantities``), one request per parent product, and
push state and journal move for both kinds; a price alone is still a price update alone."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from tests.channels import woocommerce_conftest as fx
from tests.conftest import run_cli, write_config
from tests.servers.woocommerce import API, WooServer

_shop, shop = fx._shop, fx.shop
GROUPS = ("TEE-MERINO", "SOCK-HIKE")  # two variable products of the demo catalog
SIMPLE = ("MUG-ENAMEL", "LANTERN-LED")


def _sql(ws: Path, query: str, *args: object) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as conn, conn:
        return conn.execute(query, args).fetchall()


@pytest.fixture
def pushed(demo: Path, shop: WooServer) -> Path:
    write_config(demo, f"""shop:
  link_template: "https://shop.example.com/products/{{{{handle}}}}"
channels:
  woo:
    type: woocommerce
    settings:
      base_url: {shop.url}
      consumer_key: ${{{fx.KEY_ENV}}}
      consumer_secret: ${{{fx.SECRET_ENV}}}
""")  # fmt: skip
    result = run_cli("-w", demo, "push")
    assert result.code == 0, result.output
    shop.log.clear()
    return demo


def test_price_and_stock_changed_together_go_in_one_request_per_parent(
    pushed: Path, shop: WooServer
) -> None:
    skus = [s for (s,) in _sql(pushed, "SELECT sku FROM products WHERE item_group_id IN (?, ?)",
                               *GROUPS)] + list(SIMPLE)  # fmt: skip
    marks = ",".join("?" * len(skus))
    _sql(pushed, f"UPDATE products SET price = printf('%.2f', price + 1) WHERE sku IN ({marks})",
         *skus)  # fmt: skip
    _sql(pushed, f"UPDATE stock SET quantity = quantity + 3 WHERE sku IN ({marks})", *skus)
    result = run_cli("-w", pushed, "push")
    assert result.code == 0, result.output
    writes = [e for e in shop.log if e.method == "POST"]
    parents = {shop.by_sku(g)["id"] for g in GROUPS}
    assert sorted(e.path for e in writes) == sorted(
        [f"{API}/products/batch"] + [f"{API}/products/{p}/variations/batch" for p in parents]
    )  # one request per parent, one for the simple products: not one per kind
    sent = [entry for e in writes for entry in e.body["update"]]
    assert len(sent) == len(skus)
    assert all({"regular_price", "stock_quantity"} <= set(entry) for entry in sent)
    for sku in skus:
        on_shop = shop.by_sku(sku)
        [(price, qty)] = _sql(pushed, "SELECT price, (SELECT sum(quantity) FROM stock s WHERE "
                              "s.sku = p.sku) FROM products p WHERE sku = ?", sku)  # fmt: skip
        assert (on_shop["regular_price"], on_shop["stock_quantity"]) == (price, qty)
    journal = _sql(pushed, "SELECT kind, outcome, count(*) FROM journal_items WHERE run_id = "
                   "(SELECT max(id) FROM journal_runs) GROUP BY kind, outcome")  # fmt: skip
    assert sorted(journal) == [("prices", "ok", len(skus)), ("quantities", "ok", len(skus))]
    shop.log.clear()
    again = run_cli("-w", pushed, "push")
    assert again.code == 0 and shop.log == []  # both kinds recorded: nothing left to send


def test_a_price_alone_is_sent_as_a_price_update(pushed: Path, shop: WooServer) -> None:
    _sql(pushed, "UPDATE products SET price = '15.50' WHERE sku = ?", SIMPLE[0])
    assert run_cli("-w", pushed, "push").code == 0
    [write] = [e for e in shop.log if e.method == "POST"]
    [entry] = write.body["update"]
    assert entry["regular_price"] == "15.50" and "stock_quantity" not in entry


def test_a_fault_in_the_middle_of_a_joint_send_is_sent_again_with_both_kinds(
    pushed: Path, shop: WooServer
) -> None:
    """The first parent's request goes through, the next one fails: the API client sends it
    again (price and stock together), and state ends with both kinds confirmed for every SKU,
    with no SKU sent twice by the engine."""
    skus = [s for (s,) in _sql(pushed, "SELECT sku FROM products WHERE item_group_id IN (?, ?)",
                               *GROUPS)]  # fmt: skip
    marks = ",".join("?" * len(skus))
    _sql(pushed, f"UPDATE products SET price = printf('%.2f', price + 1) WHERE sku IN ({marks})",
         *skus)  # fmt: skip
    _sql(pushed, f"UPDATE stock SET quantity = quantity + 3 WHERE sku IN ({marks})", *skus)
    shop.fail_next(None)
    shop.fail_next(503)
    result = run_cli("-w", pushed, "push")
    assert result.code == 0, result.output
    writes = [e for e in shop.log if e.method == "POST"]
    assert [e.status for e in writes] == [200, 503, 200]
    assert writes[1].path == writes[2].path  # the lost parent, sent again
    lines = _sql(pushed, "SELECT kind, outcome, count(*) FROM journal_items WHERE run_id = "
                 "(SELECT max(id) FROM journal_runs) GROUP BY kind, outcome")  # fmt: skip
    assert writes[1].objects == writes[2].objects
    assert sorted(lines) == [("prices", "ok", len(skus)), ("quantities", "ok", len(skus))]
    states = _sql(pushed, f"SELECT kind, status FROM push_state WHERE sku IN ({marks})", *skus)
    assert {k for k, status in states if status == "ok"} >= {"prices", "quantities"}
    assert all(status == "ok" for _, status in states)
