"""plan and push against the Acme Market test server: what a seller sees and what is sent."""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
from collections import Counter
from typing import Any

import pytest
import requests

from multichan.channels import registry
from multichan.sync.batching import group_chunks
from multichan.sync.plan import Change
from multichan.sync.run import push_all
from multichan.testing import sample_offers
from multichan.workspace import resolve
from tests.channels.conftest import TOKEN
from tests.conftest import write_config
from tests.sync.conftest import FakeTime, Shop

BATCH = {"/v1/listings/batch": 20, "/v1/prices/batch": 50, "/v1/inventory/batch": 50}


def _counts(shop: Shop) -> dict[str, int]:
    paths = shop.paths()
    return {p: paths.count(p) for p in BATCH if paths.count(p)}


def test_plan_on_fresh_state_creates_every_offered_sku(shop: Shop) -> None:
    result = shop.cli("plan", "--json")
    assert result.code == 0, result.output
    plan = json.loads(result.stdout)["channels"][0]
    n = len(shop.skus())
    assert plan["totals"] == {"create": n, "update": 0, "delist": 0, "unchanged": 0}
    assert {c["sku"] for c in plan["changes"]} == set(shop.skus())
    text = shop.cli("plan")
    assert f"acme: {n} to create, 0 to update, 0 to delist" in text.stdout
    assert shop.server.requests == []  # plan sends nothing


def test_push_batches_then_a_second_push_sends_nothing(shop: Shop) -> None:
    n = len(shop.skus())
    result = shop.cli("push")
    assert result.code == 0, result.output
    assert _counts(shop) == {p: math.ceil(n / size) for p, size in BATCH.items()}
    assert len(shop.server.listings) == n
    shop.server.requests.clear()
    again = shop.cli("push")
    assert again.code == 0, again.output
    assert shop.server.requests == []
    assert "0 request(s)" in again.stdout


def test_one_price_change_is_planned_and_pushed_alone(shop: Shop) -> None:
    assert shop.cli("push").code == 0
    shop.server.requests.clear()
    assert shop.cli("price", "set", "MUG-ENAMEL", "12.00").code == 0
    plan = shop.cli("plan")
    assert "acme update MUG-ENAMEL: price 14.00 -> 12.00" in plan.stdout
    assert "0 to create, 1 to update, 0 to delist" in plan.stdout
    assert plan.stdout.count(" update ") == 1
    result = shop.cli("push")
    assert result.code == 0, result.output
    assert [(r["path"], [i["sku"] for i in r["body"]["items"]]) for r in shop.server.requests] == [
        ("/v1/prices/batch", ["MUG-ENAMEL"])
    ]
    assert shop.server.listings["MUG-ENAMEL"]["price"] == "12.00"


def test_a_rejected_item_is_recorded_and_the_others_advance(shop: Shop) -> None:
    shop.sql("UPDATE products SET title = '' WHERE sku = 'MUG-ENAMEL'")
    result = shop.cli("push")
    assert result.code == 4, result.output
    assert "MUG-ENAMEL (listings): title: required" in result.stderr
    assert len(shop.server.listings) == len(shop.skus()) - 1
    db = shop.db()
    row = db.execute(
        "SELECT status, last_error, hash FROM push_state WHERE sku = 'MUG-ENAMEL'"
    ).fetchone()
    assert row == ("rejected", "title: required", None)
    item = db.execute(
        "SELECT outcome, message FROM journal_items WHERE sku = 'MUG-ENAMEL'"
    ).fetchone()
    assert item == ("rejected", "title: required")
    # its price and stock wait for the listing; the next push retries only that SKU
    assert "MUG-ENAMEL" not in json.dumps([r["body"] for r in shop.server.requests[3:]])
    shop.sql("UPDATE products SET title = 'Enamel Mug' WHERE sku = 'MUG-ENAMEL'")
    shop.server.requests.clear()
    assert shop.cli("push").code == 0
    assert {i["sku"] for r in shop.server.requests for i in r["body"]["items"]} == {"MUG-ENAMEL"}


def test_429_with_retry_after_converges(shop: Shop, fake_time: FakeTime) -> None:
    shop.server.fail_next.extend([(429, {"Retry-After": "3"}), (503, {})])
    results = push_all(resolve(shop.root), ["acme"], pacing=fake_time.pacing())
    assert results[0].exit_code == 0, results[0].message
    assert results[0].sleeps[0] == 3.0 and len(results[0].sleeps) == 2
    assert fake_time.sleeps[:2] == results[0].sleeps
    assert len(shop.server.listings) == len(shop.skus())


def test_retriable_forever_exits_6_and_keeps_state(shop: Shop, fake_time: FakeTime) -> None:
    shop.server.fail_next.extend([(503, {})] * 50)
    results = push_all(resolve(shop.root), ["acme"], pacing=fake_time.pacing(max_retries=3))
    assert results[0].exit_code == 6
    assert "gave up after 4 attempts" in (results[0].message or "")
    assert len(shop.server.requests) == 4
    assert len(fake_time.sleeps) == 3 and fake_time.sleeps == sorted(fake_time.sleeps)
    db = shop.db()
    assert db.execute("SELECT count(*) FROM push_state").fetchone()[0] == 0
    run = db.execute("SELECT status, exit_code FROM journal_runs").fetchone()
    assert run == ("exhausted", 6)


def test_status_shows_a_push_that_failed_as_a_whole_and_refuses_an_unknown_channel(
    shop: Shop, fake_time: FakeTime
) -> None:
    shop.server.fail_next.extend([(503, {})] * 50)
    push_all(resolve(shop.root), ["acme"], pacing=fake_time.pacing(max_retries=1))
    shown = shop.cli("status")  # no push state at all: the run is what there is to show
    assert shown.code == 0
    assert "acme: last push" in shown.stdout and "exhausted, exit 6" in shown.stdout
    assert "gave up after 2 attempts" in shown.stdout
    [acme] = json.loads(shop.cli("status", "acme", "--json").stdout)["channels"]
    assert acme["state"] == [] and acme["last_run"]["exit_code"] == 6
    shop.server.fail_next.clear()
    shop.sql("UPDATE products SET title = '' WHERE sku = 'MUG-ENAMEL'")
    push_all(resolve(shop.root), ["acme"], pacing=fake_time.pacing())
    [acme] = json.loads(shop.cli("status", "acme", "--json").stdout)["channels"]
    assert [(p["sku"], p["kind"], p["message"]) for p in acme["problems"]] == [
        ("MUG-ENAMEL", "listings", "title: required")
    ]
    assert "rejected MUG-ENAMEL (listings): title: required" in shop.cli("status").stdout
    unknown = shop.cli("status", "acmee")
    assert unknown.code == 2 and "did you mean 'acme'" in unknown.output


class _DiesAfter(requests.Session):
    """A transport whose token stops working after ``ok`` requests (a Fatal 401)."""

    def __init__(self, server: Any, ok: int) -> None:
        super().__init__()
        self.server, self.left = server, ok

    def request(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if self.left == 0:
            self.server.fail_next.append((401, {}))
        self.left -= 1
        return super().request(*args, **kwargs)


def test_a_push_killed_midway_resumes_with_what_remained(shop: Shop) -> None:
    n = len(shop.skus())
    session = _DiesAfter(shop.server, ok=1)
    results = push_all(resolve(shop.root), ["acme"], session=session)
    session.close()
    assert results[0].exit_code == 5 and "refused the token" in (results[0].message or "")
    first = shop.server.requests[0]["body"]["items"]
    assert len(first) == 20
    shop.server.requests.clear()
    assert shop.cli("push").code == 0
    sent = [
        i["sku"]
        for r in shop.server.requests
        if "listings" in r["path"]
        for i in r["body"]["items"]
    ]
    assert len(sent) == n - 20 and not {i["sku"] for i in first} & set(sent)


def test_archiving_half_the_catalog_is_refused_unless_forced(shop: Shop) -> None:
    assert shop.cli("push").code == 0
    half = shop.skus()[::2]
    shop.sql(
        f"UPDATE products SET status = 'archived' WHERE sku IN ({','.join('?' * len(half))})",
        tuple(half),
    )
    shop.server.requests.clear()
    refused = shop.cli("push")
    assert refused.code == 4
    assert "max_delist_percent is 20" in refused.stderr and "--force" in refused.stderr
    assert shop.server.requests == []
    forced = shop.cli("push", "--force")
    assert forced.code == 0, forced.output
    zeroed = [i for r in shop.server.requests for i in r["body"]["items"]]
    assert {i["sku"] for i in zeroed} == set(half) and {i["quantity"] for i in zeroed} == {0}
    assert "0 to delist" in shop.cli("plan").stdout


def test_a_90_percent_price_cut_is_refused(shop: Shop) -> None:
    assert shop.cli("push").code == 0
    assert shop.cli("price", "set", "BLANKET-WOOL", "8.90", "--sale", "").code == 0
    shop.server.requests.clear()
    refused = shop.cli("push")
    assert refused.code == 4
    assert "BLANKET-WOOL 89.00 -> 8.90 (90%)" in refused.stderr
    assert shop.server.requests == []
    assert shop.cli("push", "--force").code == 0


def test_dry_run_sends_nothing_and_only_limits_kinds(shop: Shop) -> None:
    dry = shop.cli("push", "--dry-run")
    assert dry.code == 0 and "dry run, nothing sent" in dry.stdout
    assert shop.server.requests == []
    assert shop.cli("push", "--only", "listings").code == 0
    assert set(shop.paths()) == {"/v1/listings/batch"}


def test_the_token_never_shows(shop: Shop) -> None:
    shop.sql("UPDATE products SET title = '' WHERE sku = 'MUG-ENAMEL'")
    outputs = [shop.cli("push", "--json"), shop.cli("plan", "--json"), shop.cli("status")]
    shop.server.fail_next.append((401, {}))
    shop.sql("UPDATE products SET price = '35.00' WHERE sku = 'LANTERN-LED'")
    outputs.append(shop.cli("push"))
    assert outputs[-1].code == 5
    for result in outputs:
        assert TOKEN not in result.output
    dump = "\n".join(sqlite3.connect(shop.root / "catalog.db").iterdump())
    assert TOKEN not in dump
    assert "journal_items" in dump


def test_safety_limits_come_from_channels_yaml(shop: Shop) -> None:
    assert shop.cli("push").code == 0
    config = shop.root / "channels.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text + "    max_delist_percent: 60\n", encoding="utf-8")
    half = shop.skus()[::2]
    shop.sql(
        f"UPDATE products SET status = 'archived' WHERE sku IN ({','.join('?' * len(half))})",
        tuple(half),
    )
    result = shop.cli("push", "--json")
    assert result.code == 0, result.output
    assert json.loads(result.stdout)["channels"][0]["counts"]["ok"] == len(half)
    status = shop.cli("status", "--json")
    [channel] = json.loads(status.stdout)["channels"]
    rows = {(r["kind"], r["status"]): r["skus"] for r in channel["state"]}
    assert rows[("quantities", "delisted")] == len(half)


def test_rate_limit_paces_every_http_request_and_channels_yaml_can_lower_it(
    shop: Shop, fake_time: FakeTime
) -> None:
    """Acme declares 5 requests/s with a burst of 10; a host that allows 1 a second gets
    exactly that: after the first request, every request waits its one-second turn."""
    text = (shop.root / "channels.yaml").read_text()
    write_config(shop.root, text + "    rate_limit: {requests_per_second: 1, burst: 1}\n")
    results = push_all(resolve(shop.root), ["acme"], pacing=fake_time.pacing())
    assert results[0].exit_code == 0, results[0].message
    requests = len(shop.server.requests)
    assert results[0].counts["requests"] == requests >= 3
    assert fake_time.sleeps == [pytest.approx(1.0)] * (requests - 1)


def test_unknown_rate_limit_key_is_a_config_error_with_its_line(shop: Shop) -> None:
    text = (shop.root / "channels.yaml").read_text()
    write_config(shop.root, text + "    rate_limit: {request_per_second: 1}\n")
    result = shop.cli("plan")
    assert result.code == 3
    assert "did you mean 'requests_per_second'" in result.stderr


def test_a_channels_cap_on_products_per_batch_shapes_the_batches(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A channel that takes a whole batch in one request only up to so many products (Shopify's
    aliased price mutations) declares ``max_groups``; the engine's batches keep to it and are
    still as few as both limits allow."""
    assert shop.cli("push").code == 0
    groups = dict(shop.db().execute("SELECT sku, COALESCE(item_group_id, sku) FROM products"))
    acme = registry.load("acme_market")
    monkeypatch.setattr(acme, "max_groups", {"prices": 4})
    shop.sql("UPDATE products SET price = printf('%.2f', CAST(price AS REAL) + 1.0)")
    shop.server.requests.clear()
    assert shop.cli("push").code == 0
    batches = [[i["sku"] for i in r["body"]["items"]] for r in shop.server.requests]
    skus = shop.skus()  # 60 SKUs of 18 products: 50 a batch and 4 products a batch
    assert sorted(s for b in batches for s in b) == skus
    assert all(len(b) <= 50 and len({groups[s] for s in b}) <= 4 for b in batches)
    assert len(batches) == max(math.ceil(len(skus) / 50), math.ceil(len(set(groups.values())) / 4))


def test_an_operation_written_per_variant_is_batched_in_sku_order_to_the_minimum(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where a channel writes prices per variant (``grouped`` leaves them out, as Square's
    and Shopify's stock), batches are any max_batch SKUs in SKU order: exactly
    ceil(changed / max_batch) requests. Grouped, whole products fill batches less well."""
    assert shop.cli("push").code == 0
    acme = registry.load("acme_market")
    monkeypatch.setattr(acme, "max_batch", {**acme.max_batch, "prices": 7})
    sent = []
    for grouped in (frozenset({"listings", "prices"}), frozenset({"listings"})):
        monkeypatch.setattr(acme, "grouped", grouped)
        shop.sql("UPDATE products SET price = printf('%.2f', CAST(price AS REAL) + 1.0)")
        shop.server.requests.clear()
        assert shop.cli("push").code == 0
        sent.append([[i["sku"] for i in r["body"]["items"]] for r in shop.server.requests])
    skus = shop.skus()
    groups = dict(shop.db().execute("SELECT sku, COALESCE(item_group_id, sku) FROM products"))
    size = Counter(groups.values())

    def split(batches: list[list[str]]) -> set[str]:
        seen: dict[str, set[int]] = {}
        for n, batch in enumerate(batches):
            for sku in batch:
                seen.setdefault(groups[sku], set()).add(n)
        return {g for g, numbers in seen.items() if len(numbers) > 1}

    assert all(size[g] > 7 for g in split(sent[0]))  # grouped: only products over 7 SKUs
    assert any(size[g] <= 7 for g in split(sent[1]))  # SKU order: any product may straddle
    assert sent[1] == [skus[i : i + 7] for i in range(0, len(skus), 7)]
    assert len(sent[1]) == math.ceil(len(skus) / 7)


def test_two_limits_need_no_more_batches_than_the_larger_floor() -> None:
    """1,250 products with 1 to 4 changed variants each (as in bench/push_bench.py): first
    fit alone fills the first batches with the big products and needs 14 batches; spread
    over 13 they fit 250 variants and 100 products each."""
    counts = [4] * 47 + [3] * 488 + [2] * 601 + [1] * 114
    offers = {n: dataclasses.replace(sample_offers(1)[0], item_group_id=f"G{n:04d}")
              for n in range(len(counts))}  # fmt: skip
    changes = [
        Change(f"G{n:04d}-{v}", "prices", "update", offers[n], {}, "")
        for n, count in enumerate(counts) for v in range(count)
    ]  # fmt: skip
    batches = group_chunks(changes, 250, 100)
    assert len(batches) == max(math.ceil(len(changes) / 250), math.ceil(len(counts) / 100)) == 13
    for batch in batches:
        products = [c.offer.item_group_id for c in batch]
        assert len(batch) <= 250 and len(set(products)) <= 100
        assert all(products.count(p) == counts[int(p[1:])] for p in products)  # kept together
    assert sorted(c.sku for b in batches for c in b) == sorted(c.sku for c in changes)
    assert len(group_chunks(changes, 250)) == 12  # without the cap: first fit, as before


def test_items_a_channel_calls_busy_are_sent_again_after_the_wait_it_asked(
    shop: Shop, fake_time: FakeTime
) -> None:
    """An item rejected as retriable with a Retry-After is sent again once that wait has
    passed (the longest asked within the batch), not after the engine's own short backoff."""
    assert shop.cli("push").code == 0
    for sku, price in (("MUG-ENAMEL", "15.00"), ("BOTTLE-STEEL-750", "31.00")):
        assert shop.cli("price", "set", sku, price).code == 0
    shop.server.busy.update({"MUG-ENAMEL": 12.0, "BOTTLE-STEEL-750": 20.0})
    shop.server.requests.clear()
    results = push_all(resolve(shop.root), ["acme"], pacing=fake_time.pacing())
    assert results[0].exit_code == 0, results[0].message
    assert results[0].sleeps == [20.0] and fake_time.sleeps == [20.0]
    assert _counts(shop) == {"/v1/prices/batch": 2}
    assert shop.server.listings["MUG-ENAMEL"]["price"] == "15.00"
    assert shop.server.listings["BOTTLE-STEEL-750"]["price"] == "31.00"


def test_a_crash_while_recording_a_batch_leaves_neither_state_nor_journal_of_it(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's state and journal rows are one transaction: a crash between the two writes
    leaves neither, so the rerun sends that batch again and the journal never lies."""
    from multichan.sync import state

    real = state.journal_items

    def crashing(*args: Any, **kwargs: Any) -> None:
        real(*args, **kwargs)
        raise RuntimeError("disk gone")

    monkeypatch.setattr(state, "journal_items", crashing)
    with pytest.raises(RuntimeError, match="disk gone"):
        push_all(resolve(shop.root), ["acme"])
    db = shop.db()
    assert db.execute("SELECT count(*) FROM push_state").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM journal_items").fetchone()[0] == 0
    assert db.execute("SELECT status FROM journal_runs").fetchone() == ("crashed",)
    monkeypatch.setattr(state, "journal_items", real)
    assert push_all(resolve(shop.root), ["acme"])[0].exit_code == 0
    assert db.execute("SELECT count(*) FROM push_state WHERE status = 'ok'").fetchone()[0] > 0


def test_a_joint_write_refused_for_one_kind_is_split_and_never_paired_again(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A channel that writes price and stock together (prices+quantities) refuses a SKU's
    stock: that SKU's price and stock are sent apart in the same run, so the price still
    gets there; later runs send that SKU's two kinds apart from the start."""
    acme = registry.load("acme_market")

    def joint(self: Any, offers: list[Any]) -> list[Any]:
        items = [{"sku": o.sku, "price": str(o.price), "quantity": o.quantity} for o in offers]
        return self._batch("/v1/offers/batch", offers, items)

    monkeypatch.setattr(acme, "supports", acme.supports | {"prices+quantities"})
    monkeypatch.setattr(acme, "max_batch", {**acme.max_batch, "prices+quantities": 50})
    monkeypatch.setattr(acme, "update_prices_and_quantities", joint, raising=False)
    assert shop.cli("push").code == 0
    x, y = "MUG-ENAMEL", "BOTTLE-STEEL-750"
    shop.server.refuse_stock.add(x)
    for price in ("15.00", "16.00"):
        for sku in (x, y):
            assert shop.cli("price", "set", sku, price).code == 0
            assert shop.cli("stock", "adjust", sku, "+1", "--location", "store").code == 0
        shop.server.requests.clear()
        result = shop.cli("push")
        assert result.code == 4 and "managed elsewhere" in result.stderr + result.stdout
        sent = [(r["path"], sorted(i["sku"] for i in r["body"]["items"]))
                for r in shop.server.requests]  # fmt: skip
        together = sorted([x, y]) if price == "15.00" else [y]  # then x was refused before
        apart = [("/v1/prices/batch", [x]), ("/v1/inventory/batch", [x])]
        assert sent == [("/v1/offers/batch", together), *apart]
        assert shop.server.listings[x]["price"] == price  # the price got there all the same
    query = "SELECT kind, status FROM push_state WHERE sku = ? AND kind != 'listings'"
    states = dict(shop.db().execute(query, [x]))
    assert states == {"prices": "ok", "quantities": "rejected"}


def test_a_plan_packed_window_by_window_never_splits_a_product(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Packing holds one window of references at a time (memory flat however large the
    plan); a window ends only between products, so every product still goes in one send."""
    from multichan.sync import push

    monkeypatch.setattr(push, "PACK_WINDOW", 7)
    acme = registry.load("acme_market")
    monkeypatch.setattr(acme, "max_groups", {"prices": 3})
    assert shop.cli("push").code == 0
    groups = dict(shop.db().execute("SELECT sku, COALESCE(item_group_id, sku) FROM products"))
    shop.sql("UPDATE products SET price = printf('%.2f', CAST(price AS REAL) + 1.0)")
    shop.server.requests.clear()
    assert shop.cli("push").code == 0
    batches = [[i["sku"] for i in r["body"]["items"]] for r in shop.server.requests]
    assert sorted(s for b in batches for s in b) == shop.skus()
    home = {}
    for n, batch in enumerate(batches):
        assert len({groups[s] for s in batch}) <= 3
        for sku in batch:
            assert home.setdefault(groups[sku], n) == n, f"{groups[sku]} split over sends"


def test_a_new_variant_of_a_listed_product_is_sent_with_its_siblings_ids(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A channel that lists a product once (Etsy, eBay groups) finds the listing a new
    variant joins by the ids its siblings' listings were given, not by searching."""
    assert shop.cli("push").code == 0
    group, sku = (
        shop.db()
        .execute("SELECT item_group_id, sku FROM products WHERE item_group_id IS NOT NULL LIMIT 1")
        .fetchone()
    )
    siblings = {r["listing_id"] for s, r in shop.server.listings.items()
                if shop.db().execute("SELECT item_group_id FROM products WHERE sku = ?",
                                     (s,)).fetchone()[0] == group}  # fmt: skip
    shop.sql(
        "INSERT INTO products (sku, item_group_id, handle, title, price, currency, status)"
        " SELECT ?, item_group_id, handle, title || ' XL', price, currency, status"
        " FROM products WHERE sku = ?",
        (sku + "-NEW", sku),
    )
    acme = registry.load("acme_market")
    seen: list[dict[str, dict[str, str]]] = []
    original = acme.upsert_listings

    def spy(self: Any, offers: list[Any]) -> Any:
        seen.append(dict(self.group_ids))
        return original(self, offers)

    monkeypatch.setattr(acme, "upsert_listings", spy)
    assert shop.cli("push").code == 0
    assert len(seen) == 1 and set(seen[0]) == {group}
    assert seen[0][group]["listing_id"] in siblings


def test_a_listing_made_with_its_price_and_stock_is_not_written_again(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """eBay's offer is created with its price and stock: a revision each if sent again."""
    acme = registry.load("acme_market")
    monkeypatch.setattr(acme, "listing_carries", frozenset({"prices", "quantities"}))
    result = shop.cli("push", "--json")
    assert result.code == 0, result.output
    assert {r["path"] for r in shop.server.requests} == {"/v1/listings/batch"}
    doc = json.loads(result.stdout)["channels"][0]
    assert doc["counts"]["ok"] == 3 * len(shop.skus())
    rows = shop.db().execute("SELECT kind, status, count(*) FROM push_state GROUP BY kind, status")
    assert {(k, s): n for k, s, n in rows} == {
        (k, "ok"): len(shop.skus()) for k in ("listings", "prices", "quantities")
    }
    shop.server.requests.clear()
    assert shop.cli("push").code == 0 and shop.server.requests == []
    sku = shop.skus()[0]  # a later price change is a price write as usual
    shop.sql("UPDATE products SET price = printf('%.2f', price + 1) WHERE sku = ?", (sku,))
    assert shop.cli("push").code == 0
    assert [r["path"] for r in shop.server.requests] == ["/v1/prices/batch"]


def test_an_operation_with_its_own_limit_is_paced_by_it(
    shop: Shop, fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Amazon's getOrders takes 0.0167 a second while its patches take 5: an operation the
    channel declares a limit for has its own bucket; every other request keeps the channel's."""
    from multichan.channels.base import RateLimit

    acme = registry.load("acme_market")
    monkeypatch.setattr(acme, "max_batch", {"listings": 20, "prices": 50, "quantities": 1})
    monkeypatch.setattr(acme, "rate_limits", {r"^POST /v1/inventory/batch$": RateLimit(0.5, 2)})
    results = push_all(resolve(shop.root), ["acme"], pacing=fake_time.pacing())
    assert results[0].exit_code == 0, results[0].message
    stock = [r for r in shop.server.requests if r["path"] == "/v1/inventory/batch"]
    assert len(stock) == len(shop.skus())
    # 60 stock writes at 0.5 a second after a burst of 2: 116 s of waiting, all theirs (the
    # 3 + 2 other requests fit Acme's own burst of 10)
    assert sum(fake_time.sleeps) == pytest.approx((len(stock) - 2) / 0.5)
