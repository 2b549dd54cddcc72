"""`multichan plan` then `multichan push` of the demo catalog to Shopify, WooCommerce and Square
at once, against the test servers built from each vendor's contract: nothing breaks a
contract, a second push sends nothing, a price or stock change is planned per field and pushed
alone, and no credential shows up in any output, table or file."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli, run_subprocess
from tests.e2e.conftest import TOKENS, Servers, write_channels
from tests.servers.faults import FaultProxy, serve_proxy

pytestmark = pytest.mark.slow  # Prism (Square's contract) takes ~15 s to load once


def _woo_item_errors(proxy: FaultProxy) -> list[Any]:
    """Per-object errors in WooCommerce's batch answers (HTTP 200 with ``error`` entries): the
    strict shop's validation refusals, which a status code alone would not show. A create
    refused as ``product_invalid_sku`` is the channel's documented repair path (a group split
    over two listing batches: the second batch finds the parent and takes it over)."""
    found = []
    for entry in proxy.log:
        if entry.path.split("?")[0].endswith("/batch") and entry.upstream_body:
            answer = json.loads(entry.upstream_body)
            for verb in ("create", "update", "delete"):
                found += [r for r in answer.get(verb) or [] if r.get("error")
                          and r["error"]["code"] != "product_invalid_sku"]  # fmt: skip
    return found


def _quantities(ws: Path, sku: str) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        return dict(db.execute("SELECT location, quantity FROM stock WHERE sku = ?", [sku]))


def test_plan_then_push_all_three_channels(servers: Servers, new_demo: Any) -> None:
    ws = new_demo()
    with serve_proxy(servers.woo.url) as woo_proxy:  # fault-free: it only records the answers
        write_channels(ws, {**servers.urls(), "woo": woo_proxy.url})

        plan = run_cli("-w", ws, "plan", "--json")
        assert plan.code == 0, plan.output
        channels = {c["channel"]: c for c in json.loads(plan.stdout)["channels"]}
        assert set(channels) == {"shop", "woo", "pos"}
        offered = {c["totals"]["create"] for c in channels.values()}
        assert len(offered) == 1 and offered.pop() > 50  # the whole demo catalog, everywhere
        skus = {ch["sku"] for ch in channels["shop"]["changes"]}
        assert {servers.requests(n) for n in ("shop", "woo", "pos")} == {0}  # plan sends nothing

        pushed = run_cli("-w", ws, "push")
        assert pushed.code == 0, pushed.output
        for name in ("shop", "woo", "pos"):
            assert f"{name}: ok, {len(skus) * 3} ok, 0 rejected, 0 failed" in pushed.stdout
            state = servers.state(name)
            assert state["duplicate_skus"] == [] and skus <= set(state["skus"])
            parents = set(state["skus"]) - skus  # WooCommerce: a group is a variable product
            assert all(name == "woo" and state["skus"][p]["type"] == "variable" for p in parents)
        assert servers.violations() == {"shop": [], "woo": [], "pos": []}
        assert _woo_item_errors(woo_proxy) == []
        assert servers.pos.validate and len(servers.pos.requests) >= 3  # each one Prism-checked

        # what a shopper sees: a sale on Shopify is compareAtPrice, on Square the till's price
        assert servers.state("shop")["skus"]["BLANKET-WOOL"]["price"] == "79.00"
        assert servers.state("shop")["skus"]["BLANKET-WOOL"]["compare_at"] == "89.00"
        woo_blanket = servers.state("woo")["skus"]["BLANKET-WOOL"]
        assert (woo_blanket["regular_price"], woo_blanket["sale_price"]) == ("89.00", "79.00")
        assert servers.state("pos")["skus"]["BLANKET-WOOL"]["price"]["amount"] == 7900

        servers.clear_logs()
        woo_proxy.reset()
        again = run_cli("-w", ws, "push")
        assert again.code == 0, again.output
        assert again.stdout.count("0 request(s)") == 3
        assert {servers.requests(n) for n in ("shop", "woo", "pos")} == {0}
        assert woo_proxy.log == []

        before = _quantities(ws, "MUG-ENAMEL")
        assert run_cli("-w", ws, "price", "set", "MUG-ENAMEL", "12.00").code == 0
        assert run_cli("-w", ws, "stock", "set", "MUG-ENAMEL", "9", "--location", "store").code == 0
        total_old, total_new = sum(before.values()), before["warehouse"] + 9
        text = run_cli("-w", ws, "plan")
        assert text.code == 0, text.output
        for name in ("shop", "woo"):
            assert (
                f"{name} update MUG-ENAMEL: price 14.00 -> 12.00, quantity {total_old} -> "
                f"{total_new}" in text.stdout
            )
        assert f"pos update MUG-ENAMEL: price 14.00 -> 12.00, quantity {before['store']} -> 9" in (
            text.stdout
        )  # Square counts the shop floor only
        assert text.stdout.count(" update ") == 3
        assert {servers.requests(n) for n in ("shop", "woo", "pos")} == {0}

        changed = run_cli("-w", ws, "push")
        assert changed.code == 0, changed.output
        shop_calls = [e["fields"] for e in servers.shop.log]
        assert shop_calls and ["productSet"] not in shop_calls  # no listing sent again
        mug = servers.state("shop")["skus"]["MUG-ENAMEL"]
        assert (mug["price"], mug["available"]) == ("12.00", total_new)
        mug = servers.state("woo")["skus"]["MUG-ENAMEL"]
        assert (mug["regular_price"], mug["stock_quantity"]) == ("12.00", total_new)
        mug = servers.state("pos")["skus"]["MUG-ENAMEL"]
        assert (mug["price"]["amount"], mug["count"]) == (1200, "9")
        assert servers.violations() == {"shop": [], "woo": [], "pos": []}
        assert _woo_item_errors(woo_proxy) == []

        servers.clear_logs()
        last = run_cli("-w", ws, "push")
        assert last.code == 0 and last.stdout.count("0 request(s)") == 3
        assert {servers.requests(n) for n in ("shop", "woo", "pos")} == {0}

    outputs = [r.output for r in (plan, pushed, again, text, changed, last)]
    assert_no_secrets(ws, outputs)


# --- secrets ----------------------------------------------------------------------------------
def assert_no_secrets(ws: Path, outputs: list[str], extra: tuple[str, ...] = ()) -> None:
    """No credential value in ``outputs``, in any table of catalog.db, or under feeds/."""
    secrets = [*TOKENS.values(), *extra]
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        dump = "\n".join(db.iterdump())
    assert "journal_items" in dump and "push_state" in dump
    files = {p: p.read_bytes().decode("utf-8", "replace") for p in (ws / "feeds").rglob("*")
             if p.is_file()}  # fmt: skip
    for secret in secrets:
        for i, text in enumerate(outputs):
            assert secret not in text, f"a credential in output {i}"
        assert secret not in dump, "a credential in catalog.db"
        for path, text in files.items():
            assert secret not in text, f"a credential in {path}"


def test_credentials_never_show_in_output_journal_or_feeds(
    servers: Servers, new_demo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cron-like run (a real process, no TTY) where one channel's secret is wrong and one
    channel keeps failing: the messages name the variables, never their values."""
    ws = new_demo()
    wrong = "cs_WRONG-secret-0123456789abcdef"
    always_busy = {("429", "before"): 1.0}
    with serve_proxy(servers.pos.url, rate=1.0, mix=always_busy, retry_after=("0",)) as busy:
        write_channels(ws, {**servers.urls(), "pos": busy.url})
        env = {**TOKENS, "WOOCOMMERCE_CONSUMER_SECRET": wrong}
        first = run_subprocess("-w", ws, "push", env=env, timeout=60)
        assert first.code == 6, first.output  # the worst: Square still busy after retries
        assert "pos: exhausted" in first.stderr and "gave up after" in first.stderr
        assert "WOOCOMMERCE_CONSUMER_SECRET" in first.stderr  # the variable, named
        assert "shop: ok" in first.stdout
        status = run_subprocess("-w", ws, "status", "--json", env=env)
        plan = run_subprocess("-w", ws, "plan", env=env)
        export = run_subprocess("-w", ws, "export", "--all", env=env)
    write_channels(ws, servers.urls())
    second = run_subprocess("-w", ws, "push", "--json", env=TOKENS, timeout=60)
    assert second.code == 0, second.output
    outputs = [r.output for r in (first, status, plan, export, second)]
    assert_no_secrets(ws, outputs, extra=(wrong,))
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        messages = [m for (m,) in db.execute("SELECT message FROM journal_items") if m]
    assert any("gave up after" in m for m in messages)  # the failures are journalled
