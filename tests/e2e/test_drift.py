"""`multichan drift` end to end, through the CLI, against the three contract-checked servers
(Shopify's schema-checked GraphQL endpoint, the strict WooCommerce shop, the Square double
checked by Prism): a listing changed behind multichan's back (a price, a count), one deleted
and one made by hand are each named by SKU and field (exit 4); a sale the channel took and
multichan pulled is no drift; ``--fix`` restores them with one push, after which drift finds
nothing; a channel that cannot be read fails alone (exit 5); no credential is ever printed."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from multichan.money import to_minor
from tests.conftest import run_cli, run_subprocess
from tests.e2e.conftest import SQUARE_LOCATION, TOKENS, Servers, write_channels
from tests.e2e.test_push_channels import assert_no_secrets
from tests.servers.shopify_shop import LOCATION

pytestmark = pytest.mark.slow  # Prism (Square's contract) takes ~15 s to load once

CHANGED_PRICE, CHANGED_COUNT, DELETED, SOLD = "MUG-ENAMEL", "LANTERN-LED", "KNIFE-FOLD", "STOVE-GAS"
RENAMED, TITLE = "MAP-CASE", "Waterproof Map Case A4"
HANDMADE = "HANDMADE-SOAP"  # made on the channel by hand: unknown to multichan


# --- what a seller (or a buyer) does on each channel, behind multichan's back ---------------------
class ShopifyRemote:
    def __init__(self, servers: Servers) -> None:
        self.shop = servers.shop.shop

    def price(self, sku: str) -> str:
        return str(self.shop.by_sku(sku)["price"])

    def set_price(self, sku: str, price: str) -> None:
        self.shop.by_sku(sku)["price"] = price

    def count(self, sku: str) -> int:
        return int(self.shop.available(sku))

    def set_count(self, sku: str, units: int) -> None:
        self.shop.items[self.shop.by_sku(sku)["item"]]["levels"][LOCATION]["available"] = units

    def delete(self, sku: str) -> None:
        product = self.shop.products.pop(self.shop.by_sku(sku)["product"])
        for variant in product["variants"]:
            self.shop.items.pop(self.shop.variants.pop(variant)["item"])

    def has(self, sku: str) -> bool:
        return any(v["sku"] == sku for v in self.shop.variants.values())

    def title(self, sku: str) -> str:
        return str(self.shop.products[self.shop.by_sku(sku)["product"]]["title"])

    def set_title(self, sku: str, title: str) -> None:
        self.shop.products[self.shop.by_sku(sku)["product"]]["title"] = title

    def make(self, sku: str) -> None:
        self.shop.seed("Hand-made Soap", [sku], price="6.00")

    def sell(self, ws: Path, sku: str, units: int) -> None:
        self.shop.orders.add([(sku, units)])


class WooRemote:
    def __init__(self, servers: Servers) -> None:
        self.woo = servers.woo

    def _obj(self, sku: str) -> dict[str, Any]:
        found = self.woo.by_sku(sku)
        assert found is not None, sku
        return found

    def price(self, sku: str) -> str:
        return str(self._obj(sku)["regular_price"])

    def set_price(self, sku: str, price: str) -> None:
        obj = self._obj(sku)
        obj["regular_price"] = price
        obj["price"] = obj["sale_price"] or price

    def count(self, sku: str) -> int:
        return int(self._obj(sku)["stock_quantity"])

    def set_count(self, sku: str, units: int) -> None:
        self._obj(sku)["stock_quantity"] = units

    def delete(self, sku: str) -> None:
        self.woo.delete(None, self._obj(sku)["id"])

    def has(self, sku: str) -> bool:
        return self.woo.by_sku(sku) is not None

    def title(self, sku: str) -> str:
        return str(self._obj(sku)["name"])

    def set_title(self, sku: str, title: str) -> None:
        self._obj(sku)["name"] = title

    def make(self, sku: str) -> None:
        self.woo.create(None, {"name": "Hand-made Soap", "type": "simple", "sku": sku,
                               "regular_price": "6.00", "manage_stock": True,
                               "stock_quantity": 4})  # fmt: skip

    def sell(self, ws: Path, sku: str, units: int) -> None:
        self.woo.orders.add([(sku, units)], status="processing")  # takes its units from stock


class SquareRemote:
    def __init__(self, servers: Servers) -> None:
        self.pos = servers.pos

    def _var(self, sku: str) -> dict[str, Any]:
        for item in self.pos.items.values():
            for var in item["item_data"].get("variations") or []:
                if var["item_variation_data"].get("sku") == sku:
                    return dict(var)
        raise AssertionError(f"{sku} is not on Square")

    def price(self, sku: str) -> str:
        amount = self._var(sku)["item_variation_data"]["price_money"]["amount"]
        return f"{Decimal(amount) / 100:.2f}"

    def set_price(self, sku: str, price: str) -> None:
        money = self._var(sku)["item_variation_data"]["price_money"]
        money["amount"] = to_minor(Decimal(price), "USD")

    def count(self, sku: str) -> int:
        return int(self.pos.counts.get((self._var(sku)["id"], SQUARE_LOCATION), "0"))

    def set_count(self, sku: str, units: int) -> None:
        self.pos.counts[(self._var(sku)["id"], SQUARE_LOCATION)] = str(units)

    def delete(self, sku: str) -> None:
        var = self._var(sku)
        self.pos.items.pop(var["item_variation_data"]["item_id"])
        self.pos.counts.pop((var["id"], SQUARE_LOCATION), None)

    def has(self, sku: str) -> bool:
        try:
            self._var(sku)
        except AssertionError:
            return False
        return True

    def title(self, sku: str) -> str:
        return str(self.pos.items[self._var(sku)["item_variation_data"]["item_id"]]["item_data"]
                   ["name"])  # fmt: skip

    def set_title(self, sku: str, title: str) -> None:
        self.pos.items[self._var(sku)["item_variation_data"]["item_id"]]["item_data"]["name"] = (
            title
        )

    def make(self, sku: str) -> None:
        self.pos.items["HANDMADE1"] = {
            "type": "ITEM", "id": "HANDMADE1", "version": 1, "present_at_all_locations": True,
            "item_data": {"name": "Hand-made Soap", "variations": [{
                "type": "ITEM_VARIATION", "id": "HANDMADEV1", "version": 1,
                "present_at_all_locations": True,
                "item_variation_data": {
                    "item_id": "HANDMADE1", "name": "Regular", "sku": sku,
                    "pricing_type": "FIXED_PRICING", "track_inventory": True,
                    "price_money": {"amount": 600, "currency": "USD"},
                },
            }]},
        }  # fmt: skip
        self.pos.counts[("HANDMADEV1", SQUARE_LOCATION)] = "4"

    def sell(self, ws: Path, sku: str, units: int) -> None:
        var_id = self._var(sku)["id"]
        self.pos.orders.add(SQUARE_LOCATION, [(var_id, str(units))])  # a till sale
        self.pos.sell(var_id, SQUARE_LOCATION, units)  # ... takes from Square's own count


REMOTES = {"shop": ShopifyRemote, "woo": WooRemote, "pos": SquareRemote}


# --- helpers --------------------------------------------------------------------------------------
def drift(ws: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    result = run_cli("-w", ws, "drift", "--json", *args)
    assert result.stdout.strip(), result.output
    return result.code, json.loads(result.stdout), result.output


def findings(doc: dict[str, Any], channel: str) -> set[tuple[Any, ...]]:
    [found] = [c for c in doc["channels"] if c["channel"] == channel]
    assert found["error"] is None, found["error"]
    return {(f["sku"], f["finding"], f["field"], f["pushed"], f["remote"]) for f in found["drift"]}


def pushes(ws: Path, channel: str) -> int:
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        query = "SELECT count(*) FROM journal_runs WHERE channel = ? AND command = 'push'"
        return int(db.execute(query, [channel]).fetchone()[0])


def offered(ws: Path, channel: str, sku: str) -> int:
    """The quantity multichan last confirmed on ``channel`` for ``sku``."""
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        (snap,) = db.execute(
            "SELECT snapshot FROM push_state WHERE channel = ? AND sku = ? AND kind = 'quantities'",
            [channel, sku],
        ).fetchone()
    return int(json.loads(snap)["quantity"])


# --- the tests ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["shop", "woo", "pos"])
def test_drift_names_each_change_and_fix_restores_it(
    servers: Servers, new_demo: Any, name: str
) -> None:
    ws = new_demo()
    write_channels(ws, servers.urls())
    first = run_cli("-w", ws, "sync", name)  # baseline the orders, list the catalog
    assert first.code == 0, first.output
    remote = REMOTES[name](servers)

    code, clean, _ = drift(ws, name)
    assert code == 0, clean
    [doc] = clean["channels"]
    assert (doc["channel"], doc["error"], doc["drift"]) == (name, None, [])
    assert doc["checked"] == 60 and clean["drift"] == 0  # every offer of the demo, nothing else

    counted = offered(ws, name, CHANGED_COUNT)
    remote.set_price(CHANGED_PRICE, "9.99")
    remote.set_count(CHANGED_COUNT, counted + 7)
    remote.set_title(RENAMED, "Map case (old stock)")
    remote.delete(DELETED)
    remote.make(HANDMADE)
    sold_before = remote.count(SOLD)
    remote.sell(ws, SOLD, 1)
    assert remote.count(SOLD) == sold_before - 1  # the channel took the unit
    pulled = run_cli("-w", ws, "pull", name)
    assert pulled.code == 0, pulled.output

    code, found, text = drift(ws, name)
    assert code == 4, text
    assert findings(found, name) == {
        (CHANGED_PRICE, "changed", "price", "14.00", "9.99"),
        (CHANGED_COUNT, "changed", "quantity", counted, counted + 7),
        (RENAMED, "changed", "title", TITLE, "Map case (old stock)"),
        (DELETED, "missing", None, None, None),
        (HANDMADE, "unknown", None, None, None),
    }  # the sale pulled from the channel (SOLD) is not there, nor is anything else
    assert found["drift"] == 4 and found["unknown"] == 1
    assert found["channels"][0]["checked"] == 60  # 59 of multichan's and the hand-made one

    table = run_cli("-w", ws, "drift", name)
    assert table.code == 4
    rows = {line.split()[1]: line for line in table.stdout.splitlines() if line.count("│") > 2}
    assert {CHANGED_PRICE, CHANGED_COUNT, DELETED, HANDMADE} <= set(rows)
    assert "9.99" in rows[CHANGED_PRICE] and "not there" in rows[DELETED]
    assert "never" in rows[HANDMADE]
    assert f"{name}: 60 listing(s) checked, 3 changed, 1 missing, 1 unknown" in table.stdout

    before = pushes(ws, name)
    code, fixed, fixing = drift(ws, name, "--fix")
    assert code == 0, fixing
    fix = fixed["channels"][0]["fix"]
    assert fix["status"] == "ok" and fix["counts"]["rejected"] == 0, fix
    assert pushes(ws, name) == before + 1  # one push
    assert remote.price(CHANGED_PRICE) == "14.00"
    assert remote.count(CHANGED_COUNT) == counted
    assert remote.title(RENAMED) == TITLE
    assert remote.has(DELETED) and remote.price(DELETED) == "34.50"
    assert remote.count(DELETED) == offered(ws, name, DELETED)
    assert remote.has(HANDMADE)  # unknown listings are reported, never deleted

    code, after, text = drift(ws, name)
    assert code == 0, text
    assert findings(after, name) == {(HANDMADE, "unknown", None, None, None)}
    assert after["drift"] == 0
    strict, _, _ = drift(ws, name, "--unknown-is-drift")  # no listings of the seller's own
    assert strict == 4
    assert servers.violations() == {"shop": [], "woo": [], "pos": []}
    assert_no_secrets(ws, [first.output, text, table.output, pulled.output, fixing])


def test_a_channel_that_cannot_be_read_fails_alone(
    servers: Servers, new_demo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As cron runs it (a real process, no TTY): Shopify refuses the token, WooCommerce and
    Square are still checked, the exit code is 5 and the JSON names the failure, never a
    token's value."""
    ws = new_demo()
    write_channels(ws, servers.urls())
    assert run_cli("-w", ws, "push").code == 0
    wrong = "shpat_WRONG-0123456789abcdef0123456789"
    result = run_subprocess("-w", ws, "drift", "--json", env={**TOKENS, "SHOPIFY_TOKEN": wrong})
    assert result.code == 5, result.output
    doc = json.loads(result.stdout)
    by_name = {c["channel"]: c for c in doc["channels"]}
    assert set(by_name) == {"shop", "woo", "pos"}
    assert "401" in by_name["shop"]["error"] and "SHOPIFY_TOKEN" in by_name["shop"]["error"]
    assert by_name["shop"]["exit_code"] == 5
    for other in ("woo", "pos"):
        assert by_name[other]["error"] is None and by_name[other]["checked"] == 60
        assert by_name[other]["drift"] == []
    table = run_subprocess("-w", ws, "drift", env={**TOKENS, "SHOPIFY_TOKEN": wrong})
    assert table.code == 5
    assert "shop: not checked" in table.stdout and "SHOPIFY_TOKEN" in table.stderr
    assert "woo: 60 listing(s) checked, 0 changed, 0 missing, 0 unknown" in table.stdout
    assert_no_secrets(ws, [result.output, table.output], extra=(wrong,))


def _woo_ready(servers: Servers, new_demo: Any) -> tuple[Path, WooRemote]:
    ws = new_demo()
    write_channels(ws, servers.urls())
    result = run_cli("-w", ws, "sync", "woo")
    assert result.code == 0, result.output
    return ws, WooRemote(servers)


def test_fix_dry_run_shows_the_plan_and_sends_nothing(servers: Servers, new_demo: Any) -> None:
    ws, remote = _woo_ready(servers, new_demo)
    remote.set_price(CHANGED_PRICE, "9.99")
    remote.delete(DELETED)
    servers.clear_logs()
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        state = db.execute("SELECT * FROM push_state ORDER BY sku, kind").fetchall()
    result = run_cli("-w", ws, "drift", "woo", "--fix", "--dry-run")
    assert result.code == 4, result.output  # drift found, nothing fixed
    assert f"woo update {CHANGED_PRICE}" in result.stdout
    assert (
        f"woo create {DELETED}" in result.stdout and "woo: dry run, nothing sent" in result.stdout
    )
    assert [e.method for e in servers.woo.log] == ["GET"] * len(servers.woo.log)  # reads only
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        assert db.execute("SELECT * FROM push_state ORDER BY sku, kind").fetchall() == state
    code, doc, _ = drift(ws, "woo", "--fix", "--dry-run")
    fix = doc["channels"][0]["fix"]
    assert (code, fix["status"]) == (4, "dry-run")
    assert {(c["sku"], c["kind"], c["action"]) for c in fix["plan"]["changes"]} == {
        (CHANGED_PRICE, "prices", "update"), (DELETED, "listings", "create"),
        (DELETED, "prices", "create"), (DELETED, "quantities", "create"),
    }  # fmt: skip
    assert remote.price(CHANGED_PRICE) == "9.99" and not remote.has(DELETED)


def test_fix_keeps_the_safety_limits(servers: Servers, new_demo: Any) -> None:
    """A drifted SKU whose catalog price also fell by 90% since the last push: the fix is the
    next push, so the price-change limit refuses it (exit 4, nothing sent) until --force."""
    ws, remote = _woo_ready(servers, new_demo)
    remote.set_price(CHANGED_PRICE, "13.00")
    assert run_cli("-w", ws, "price", "set", CHANGED_PRICE, "1.40").code == 0
    servers.clear_logs()
    code, doc, text = drift(ws, "woo", "--fix")
    fix = doc["channels"][0]["fix"]
    assert (code, fix["status"]) == (4, "refused"), text
    assert "max_price_change_percent" in fix["message"] and CHANGED_PRICE in fix["message"]
    assert [e.method for e in servers.woo.log] == ["GET"] * len(servers.woo.log)
    assert remote.price(CHANGED_PRICE) == "13.00"
    code, doc, text = drift(ws, "woo", "--fix", "--force")
    assert (code, doc["channels"][0]["fix"]["status"]) == (0, "ok"), text
    assert remote.price(CHANGED_PRICE) == "1.40"
    assert drift(ws, "woo")[0] == 0


def test_a_listing_taken_off_sale_is_missing(servers: Servers, new_demo: Any) -> None:
    ws, remote = _woo_ready(servers, new_demo)
    remote._obj(CHANGED_PRICE)["status"] = "draft"  # the seller unpublished it
    parent = servers.woo.by_sku("TEE-MERINO")
    assert parent is not None
    parent["status"] = "private"  # ... and a whole variable product: its variations with it
    code, doc, text = drift(ws, "woo")
    assert code == 4, text
    gone = {sku for sku, finding, field, *_ in findings(doc, "woo") if field == "listed"}
    assert gone == {CHANGED_PRICE} | {s for s in remote_skus(servers) if s.startswith("TEE-")}
    [row] = [f for f in doc["channels"][0]["drift"] if f["sku"] == CHANGED_PRICE]
    assert row == {"sku": CHANGED_PRICE, "finding": "missing", "field": "listed",
                   "pushed": True, "remote": False, "offer": True}  # fmt: skip
    code, doc, text = drift(ws, "woo", "--fix")  # puts them back on sale
    assert code == 0, text
    assert remote._obj(CHANGED_PRICE)["status"] == "publish" and parent["status"] == "publish"
    code, doc, text = drift(ws, "woo")
    assert (code, findings(doc, "woo")) == (0, set()), text


def remote_skus(servers: Servers) -> set[str]:
    return {o["sku"] for o in servers.woo.posts.values() if o.get("type") != "variable"}


def test_fix_killed_mid_push_is_finished_by_the_next_push(
    servers: Servers, new_demo: Any, tmp_path: Path
) -> None:
    """``drift --fix`` SIGKILLed right after WooCommerce applied its first write, before
    multichan read the answer: the next plain ``push`` sends what the fix had not recorded
    (no duplicate listing), and drift then finds nothing."""
    import os
    import signal
    import subprocess
    import sys

    from tests.servers.faults import serve_proxy

    ws, remote = _woo_ready(servers, new_demo)
    remote.set_price(CHANGED_PRICE, "9.99")
    remote.delete(DELETED)
    victim: dict[str, subprocess.Popen[bytes]] = {}

    def kill_at_first_write(count: int, entry: Any) -> bool:
        if entry.method != "POST":
            return False
        victim["proc"].send_signal(signal.SIGKILL)
        victim["proc"].wait(timeout=30)
        return True

    with serve_proxy(servers.woo.url) as proxy:
        write_channels(ws, {**servers.urls(), "woo": proxy.url})
        proxy.on_applied = kill_at_first_write
        env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
        with (tmp_path / "out").open("wb") as out, (tmp_path / "err").open("wb") as err:
            victim["proc"] = subprocess.Popen(
                [sys.executable, "-m", "multichan", "-w", str(ws), "drift", "woo", "--fix"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
            )  # fmt: skip
            assert victim["proc"].wait(timeout=120) == -signal.SIGKILL
        proxy.on_applied = None
        assert remote.has(DELETED)  # the create reached WooCommerce; multichan never heard
        again = run_cli("-w", ws, "push", "woo")
        assert again.code == 0, again.output
    write_channels(ws, servers.urls())
    assert servers.state("woo")["duplicate_skus"] == []
    assert remote.price(CHANGED_PRICE) == "14.00" and remote.price(DELETED) == "34.50"
    code, doc, text = drift(ws, "woo")
    assert (code, findings(doc, "woo")) == (0, set()), text
