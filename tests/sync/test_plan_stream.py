"""The streamed plan: the same changes as the whole-state diff it replaced, delists included;
`plan --json` and `--jsonl` written as the plan is walked; and memory bounded by a range of
SKUs, not by the catalog (counted in Change objects alive at once, not timed)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlite_utils

from multichan.channels import registry
from multichan.feeds.run import load_config
from multichan.offers import Offer
from multichan.sync import plan as pl
from multichan.sync import state as st
from multichan.sync.run import kinds_for
from multichan.workspace import resolve
from tests.sync.conftest import Shop


def reference(offers: list[Offer], state: st.State, kinds: tuple[str, ...]) -> list[pl.Change]:
    """The plan as it was made before streaming: the whole state in a dict, offers first,
    then the delists in SKU order."""
    changes: list[pl.Change] = []
    seen: set[str] = set()
    for offer in offers:
        seen.add(offer.sku)
        rows = state.get(offer.sku, {})
        action = "update" if pl._confirmed(rows, "listings") else "create"
        for kind in kinds:
            snap = pl.snapshot(offer, kind)
            digest = st.fingerprint(snap)
            row = rows.get(kind)
            if row and row["hash"] == digest:
                continue
            old = (row or {}).get("snapshot") or {}
            fields = [pl.FieldChange(n, old.get(n), v) for n, v in snap.items()
                      if not row or old.get(n) != v]  # fmt: skip
            changes.append(pl.Change(offer.sku, kind, action, offer, snap, digest, fields))
    for sku in sorted(set(state) - seen):
        rows = state[sku]
        qty = rows.get("quantities")
        if not pl._confirmed(rows, "listings") or (qty and qty["snapshot"] == {"quantity": 0}):
            continue
        old = ((qty or {}).get("snapshot") or {}).get("quantity")
        snap = {"quantity": 0}
        fields = [pl.FieldChange("quantity", old, 0)]
        stub = pl.stub_offer(sku, rows)
        changes.append(
            pl.Change(sku, "quantities", "delist", stub, snap, st.fingerprint(snap), fields)
        )
    return changes


def _key(c: pl.Change) -> tuple[Any, ...]:
    return (c.sku, c.kind, c.action, c.offer, c.snapshot, c.hash, c.fields)


def test_streamed_plan_equals_the_whole_state_diff(shop: Shop) -> None:
    assert shop.cli("push").code == 0
    assert shop.cli("price", "set", "MUG-ENAMEL", "12.00").code == 0
    gone = shop.skus()[:2]  # no longer offered: delists
    for sku in gone:
        shop.sql("UPDATE products SET status = 'archived' WHERE sku = ?", (sku,))
    shop.sql("UPDATE products SET title = title || ' new' WHERE sku = ?", (shop.skus()[-1],))
    ws = resolve(shop.root)
    config = load_config(ws)
    cfg = config.channel("acme")
    kinds = kinds_for(registry.load(cfg.type), None)
    db = ws.db()
    offers = list(pl.channel_offers(db, cfg, config, []))
    expected = reference(offers, st.load(db, "acme"), kinds)
    plan = pl.make_plan(db, cfg, config, kinds)
    assert sorted(map(_key, plan.changes)) == sorted(map(_key, expected))
    assert {c.sku for c in expected if c.action == "delist"} == set(gone)
    assert plan.totals() == {"create": 0, "update": 2, "delist": 2,
                             "unchanged": len(offers) - 2}  # fmt: skip
    assert plan.listed == len(offers) + 2
    streamed, changes = pl.stream(db, cfg, config, kinds)
    assert [_key(c) for _, _, cs in changes for c in cs] == [_key(c) for c in plan.changes]
    assert streamed.totals() == plan.totals() and streamed.listed == plan.listed
    text = shop.cli("plan").stdout
    assert "acme update MUG-ENAMEL: price 14.00 -> 12.00" in text
    assert f"acme delist {gone[0]}: quantity" in text
    db.close()


def test_plan_json_keeps_its_shape_and_jsonl_has_a_change_a_line(shop: Shop) -> None:
    assert shop.cli("push").code == 0
    assert shop.cli("price", "set", "MUG-ENAMEL", "12.00").code == 0
    result = shop.cli("plan", "--json")
    assert result.code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["exit_code"] == 0
    [channel] = doc["channels"]
    assert set(channel) == {"channel", "totals", "changes", "skipped"}
    assert channel["changes"] == [{
        "sku": "MUG-ENAMEL", "kind": "prices", "action": "update",
        "fields": [{"field": "price", "old": "14.00", "new": "12.00"}],
    }]  # fmt: skip
    assert channel["totals"]["update"] == 1 and channel["skipped"] == []
    lines = shop.cli("plan", "--jsonl").stdout.splitlines()
    assert [json.loads(line) for line in lines] == [
        {"channel": "acme", **channel["changes"][0]},
        {"channel": "acme", "totals": channel["totals"], "skipped": []},
    ]
    fresh = shop.cli("push", "--json")
    assert json.loads(fresh.stdout)["channels"][0]["plan"]["changes"] == channel["changes"]


def test_plan_json_of_a_first_push_lists_every_kind(shop: Shop) -> None:
    doc = json.loads(shop.cli("plan", "--json").stdout)["channels"][0]
    lines = [json.loads(x) for x in shop.cli("plan", "--jsonl").stdout.splitlines()]
    assert [{k: v for k, v in x.items() if k != "channel"} for x in lines[:-1]] == doc["changes"]
    assert len(doc["changes"]) == 3 * len(shop.skus())


class Counted(pl.Change):
    """A Change that counts how many of its kind are alive, and the most at once."""

    alive = 0
    peak = 0

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        Counted.alive += 1
        Counted.peak = max(Counted.peak, Counted.alive)

    def __del__(self) -> None:
        Counted.alive -= 1


def _offers(n: int) -> Iterator[Offer]:
    base = Offer(
        sku="", item_group_id=None, title="T", description="", link=None, image_link=None,
        additional_image_links=[], brand=None, gtin=None, mpn=None, condition="new",
        price=pl.Decimal("9.99"), sale_price=None, currency="USD", quantity=3,
        availability="in_stock", location_quantities={}, product_type=None,
        google_product_category=None, color=None, size=None, material=None, pattern=None,
        gender=None, age_group=None, weight_grams=None,
    )  # fmt: skip
    for i in range(n):
        yield dataclasses.replace(base, sku=f"S{i:06d}", item_group_id=f"G{i // 8}")


def _state_db(n: int) -> sqlite_utils.Database:
    """push_state of ``n`` SKUs listed before: every fourth SKU of the first 4 * ``n``."""
    db = sqlite_utils.Database(memory=True)
    db.conn.execute(
        "CREATE TABLE push_state (channel TEXT, sku TEXT, kind TEXT, hash TEXT, snapshot TEXT,"
        " remote_ids TEXT, status TEXT, last_error TEXT, updated_at TEXT, channel_held INTEGER,"
        " PRIMARY KEY (channel, sku, kind))"
    )
    rows = [("c", f"S{i:06d}", kind, "old", json.dumps({"quantity": 5}), "{}", "ok", None, "t", 0)
            for i in range(0, 4 * n, 4) for kind in ("listings", "quantities")]  # fmt: skip
    db.conn.executemany(f"INSERT INTO push_state VALUES ({', '.join('?' * 10)})", rows)
    return db


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> type[Counted]:
    monkeypatch.setattr(pl, "Change", Counted)
    monkeypatch.setattr(pl, "RANGE", 500)
    Counted.alive = Counted.peak = 0
    return Counted


def test_a_plan_of_20k_skus_never_holds_its_changes(counted: type[Counted]) -> None:
    n = 20_000
    db = _state_db(n // 2)  # 10k listed: 5k offered (updates), 5k not (delists)
    plan = pl.Plan("c")
    walked = pl.walk(_offers(n), st.ranges(db, "c", pl.RANGE), plan, st.KINDS)
    total = sum(len(cs) for _, _, cs in walked)
    assert total == 3 * n + n // 4  # every offer in 3 kinds; 5,000 SKUs delisted
    assert plan.totals() == {"create": 15_000, "update": 5_000, "delist": 5_000, "unchanged": 0}
    assert counted.peak <= 10  # a SKU's changes or two at a time
    spilled = pl.Plan("c")
    spilled.spill = pl.Spill.of(pl.walk(_offers(n), st.ranges(db, "c", 500), spilled, st.KINDS))
    assert counted.peak <= 3 * pl.RANGE + 10  # a range of SKUs at a time, not 62,500
    assert sum(1 for _ in spilled.iter_kind("quantities")) == n + n // 4
    assert counted.peak <= 3 * pl.RANGE + 10


def test_offers_out_of_sku_order_are_an_error_not_wrong_delists() -> None:
    offers = list(_offers(3))[::-1]
    with pytest.raises(RuntimeError, match="out of SKU order"):
        list(pl.walk(offers, iter(()), pl.Plan("c"), st.KINDS))
