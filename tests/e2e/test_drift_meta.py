"""``multichan drift`` against the Meta double, through the CLI: the demo catalog pushed (as
items_batch jobs), then in Commerce Manager, behind multichan's back, a price and a count to
sell changed, an item marked discontinued and one deleted; ``drift --json`` names each SKU and
field (exit 4), ``drift --fix`` restores them with one push, and ``drift`` then finds nothing
(exit 0). The token never shows."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.channels.meta_conftest import CATALOG, TOKEN, MetaDouble
from tests.conftest import run_cli
from tests.e2e.conftest import drift_findings, drift_json, push_runs

CONFIG = """\
shop:
  link_template: "https://shop.example.com/products/{{{{handle}}}}"
channels:
  meta:
    type: meta_catalog_api
    settings:
      catalog_id: "{catalog}"
      token: ${{META_ACCESS_TOKEN}}
      base_url: {url}
      timeout: 5
"""
PRICED, STOCKED, ENDED, DELETED = "MUG-ENAMEL", "LANTERN-LED", "HOODIE-FLEECE-RED-L", "BLANKET-WOOL"


@pytest.fixture
def meta(shared_meta: MetaDouble, monkeypatch: pytest.MonkeyPatch) -> MetaDouble:
    monkeypatch.setenv("META_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("MULTICHAN_LOCK_TIMEOUT", "3")
    shared_meta.reset()
    shared_meta.looks = 0  # each job done at its first look: the real CLI never waits
    return shared_meta


def drift(ws: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    return drift_json(ws, "meta", *args)


def findings(doc: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return drift_findings(doc, ("sku", "finding", "field"))


pushes = push_runs


def test_drift_names_what_changed_on_meta_and_fix_restores_it_with_one_push(
    meta: MetaDouble, new_demo: Any
) -> None:
    ws = new_demo("drift-meta")
    (ws / "channels.yaml").write_text(CONFIG.format(catalog=CATALOG, url=meta.url), "utf-8")
    pushed = run_cli("-w", ws, "push", "meta")
    assert pushed.code == 0, pushed.output
    before = copy.deepcopy(meta.items)
    count = meta.items[STOCKED]["quantity_to_sell_on_facebook"]

    code, doc, first = drift(ws)  # right after a push: nothing differs
    assert code == 0, first
    assert doc["drift"] == 0 and doc["channels"][0]["checked"] == len(meta.items)

    meta.change_behind(PRICED, price="1.99 USD")
    meta.change_behind(STOCKED, quantity_to_sell_on_facebook=count + 40)
    meta.change_behind(ENDED, availability="discontinued")
    meta.delete_behind(DELETED)
    code, doc, second = drift(ws)
    assert code == 4, second
    found = findings(doc)
    assert set(found) == {
        (PRICED, "changed", "price"), (STOCKED, "changed", "quantity"),
        (ENDED, "missing", "listed"), (DELETED, "missing", None),
    }  # fmt: skip
    price = found[(PRICED, "changed", "price")]
    assert price["remote"] == "1.99" and f"{price['pushed']} USD" == before[PRICED]["price"]
    stock = found[(STOCKED, "changed", "quantity")]
    assert (stock["pushed"], stock["remote"]) == (count, count + 40)
    assert (found[(ENDED, "missing", "listed")]["remote"]) is False

    table = run_cli("-w", ws, "drift", "meta")  # for people: a table, the same exit
    assert table.code == 4, table.output
    assert PRICED in table.stdout and "price" in table.stdout and "1.99" in table.stdout
    meta.requests.clear()
    code, doc, fixed = drift(ws, "--fix")
    assert code == 0, fixed
    fix = doc["channels"][0]["fix"]
    assert fix["exit_code"] == 0 and fix["counts"]["rejected"] == 0
    assert {c["sku"] for c in fix["plan"]["changes"]} == {PRICED, STOCKED, ENDED, DELETED}
    assert pushes(ws) == ["ok", "ok"]  # the first push, then the fix's one push
    sent = [r["data"]["id"] for p in meta.posts() for r in p["requests"]]
    assert sorted(set(sent)) == sorted({PRICED, STOCKED, ENDED, DELETED})
    assert meta.items == before and meta.violations == []

    code, doc, last = drift(ws)
    assert code == 0 and doc["drift"] == 0, last
    table = run_cli("-w", ws, "drift", "meta")
    assert table.code == 0 and PRICED not in table.stdout, table.output
    for text in (pushed.output, first, second, fixed, last, table.output):
        assert TOKEN not in text
