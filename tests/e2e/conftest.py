"""Fixtures for end-to-end push tests: the three API channels of one demo workspace pushing to
the test servers (Shopify's schema-checked GraphQL endpoint, the strict WooCommerce shop, the
Square double checking every request against Square's contract in Prism), optionally through
a fault-injecting proxy; the remote state of each server by SKU, to compare runs.

Servers are tests/conftest.py's session-scoped ones (Prism takes ~20 s to load Square's contract),
emptied per test. Tests skip, with the reason, when ../shared/specs or Prism are absent (in CI
they fail).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from multichan.sync.push import PushResult
from multichan.sync.run import push_all
from multichan.workspace import resolve
from tests.channels import square_conftest as sq
from tests.conftest import run_cli
from tests.prism import Prism
from tests.servers import shopify as shopify_srv
from tests.servers import woocommerce as woo_srv
from tests.sync.conftest import FakeTime

# the values of the ${VARS} channels.yaml names: recognisable, so a leak is found by grep
TOKENS = {
    "SHOPIFY_TOKEN": shopify_srv.TOKEN,
    "WOOCOMMERCE_CONSUMER_KEY": woo_srv.KEY,
    "WOOCOMMERCE_CONSUMER_SECRET": woo_srv.SECRET,
    "SQUARE_TOKEN": sq.TOKEN,
}
TYPES = {"shop": "shopify", "woo": "woocommerce", "pos": "square"}
SQUARE_LOCATION = "L8Z5EXAMPLE"

CONFIG = """\
shop:
  link_template: "https://shop.example.com/products/{{handle}}"
channels:
  shop:
    type: shopify
    settings:
      base_url: {shop}
      token: ${{SHOPIFY_TOKEN}}
      location_id: "{location}"
      timeout: {timeout}
    orders: {{location: warehouse}}
  woo:
    type: woocommerce
    settings:
      base_url: {woo}
      consumer_key: ${{WOOCOMMERCE_CONSUMER_KEY}}
      consumer_secret: ${{WOOCOMMERCE_CONSUMER_SECRET}}
      timeout: {timeout}
    orders: {{location: warehouse}}
  pos:
    type: square
    settings:
      base_url: {pos}
      token: ${{SQUARE_TOKEN}}
      location_id: {square_location}
      timeout: {timeout}
    stock: {{locations: [store]}}
"""


def write_channels(ws: Path, urls: dict[str, str], timeout: int = 5) -> None:
    """channels.yaml with the three API channels at ``urls`` (channel name -> base_url)."""
    text = CONFIG.format(
        timeout=timeout, location=shopify_srv.LOCATION, square_location=SQUARE_LOCATION, **urls
    )
    (ws / "channels.yaml").write_text(text, encoding="utf-8")


def push_fast(ws: Path, names: list[str], max_retries: int = 5) -> list[PushResult]:
    """``multichan push NAMES`` in-process with the engine's pacing on a fake clock."""
    return push_all(resolve(ws), names, pacing=FakeTime().pacing(max_retries))


# --- the servers --------------------------------------------------------------------------------
@dataclass
class Servers:
    shop: shopify_srv.ShopifyServer
    woo: woo_srv.WooServer
    pos: sq.SquareDouble
    prism: Prism

    def reset(self) -> None:
        self.shop.reset(maximum=1e9, restore=1e9)  # real clock; cost pacing is tested elsewhere
        self.woo.reset()
        self.pos.reset(validate=self.prism.url)

    def urls(self) -> dict[str, str]:
        return {"shop": self.shop.url, "woo": self.woo.url, "pos": self.pos.url}

    def get(self, name: str) -> Any:
        return getattr(self, name)

    def requests(self, name: str) -> int:
        """How many requests the server ``name`` received."""
        server = self.get(name)
        return len(server.requests if name == "pos" else server.log)

    def clear_logs(self) -> None:
        self.shop.log.clear()
        self.woo.log.clear()
        self.pos.requests.clear()

    def violations(self) -> dict[str, Any]:
        """Contract violations seen so far, by channel (empty lists when none)."""
        woo = [f"{r.method} {r.path}: HTTP {r.status}" for r in self.woo.log
               if r.status >= 400 and r.status not in (429, 500, 503)]  # fmt: skip
        return {"shop": list(self.shop.violations), "woo": woo, "pos": list(self.pos.violations)}

    def state(self, name: str) -> dict[str, Any]:
        return {"shop": shopify_state, "woo": woo_state, "pos": square_state}[name](self.get(name))


@pytest.fixture
def servers(
    shared_shopify: shopify_srv.ShopifyServer,
    shared_woo: woo_srv.WooServer,
    shared_square: sq.SquareDouble,
    square_prism: Prism,
    monkeypatch: pytest.MonkeyPatch,
) -> Servers:
    """All three servers (tests/conftest.py's, shared with the channel tests), emptied, the
    Square double checking each request with Prism; the credential variables set to the values
    the servers accept."""
    for var, value in TOKENS.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("MULTICHAN_LOCK_TIMEOUT", "3")
    found = Servers(shared_shopify, shared_woo, shared_square, square_prism)
    found.reset()
    return found


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("demo-template") / "ws"
    result = run_cli("init", "--demo", ws)
    assert result.code == 0, result.output
    return ws


@pytest.fixture
def new_demo(_demo_template: Path, tmp_path: Path) -> Iterator[Any]:
    """A factory of fresh demo workspaces (copies of one ``init --demo``)."""
    count = 0

    def make(name: str = "ws") -> Path:
        nonlocal count
        count += 1
        target = tmp_path / f"{name}-{count}"
        shutil.copytree(_demo_template, target)
        return target

    yield make


# --- remote state by SKU ------------------------------------------------------------------------
def _with_dupes(skus: list[str], rows: dict[str, Any], containers: int) -> dict[str, Any]:
    dupes = sorted({s for s in skus if skus.count(s) > 1})
    return {"containers": containers, "duplicate_skus": dupes, "skus": rows}


def shopify_state(server: shopify_srv.ShopifyServer) -> dict[str, Any]:
    shop = server.shop
    skus, rows = [], {}
    for v in shop.variants.values():
        product = shop.products[v["product"]]
        level = shop.items[v["item"]]["levels"][shopify_srv.LOCATION]
        siblings = sorted(str(shop.variants[x]["sku"]) for x in product["variants"])
        skus.append(v["sku"])
        rows[v["sku"]] = {
            "product": product.get("title"), "handle": product["handle"],
            "siblings": siblings, "options": v["options"], "price": v["price"],
            "compare_at": v["compareAtPrice"], "barcode": v["barcode"],
            "available": level["available"],
        }  # fmt: skip
    return _with_dupes(skus, rows, len(shop.products))


def woo_state(server: woo_srv.WooServer) -> dict[str, Any]:
    skus, rows = [], {}
    for post_id, obj in server.posts.items():
        parent = server.posts.get(server.parent_of.get(post_id, -1))
        skus.append(obj["sku"])
        rows[obj["sku"]] = {
            "type": obj.get("type", "variation"), "name": obj.get("name"),
            "parent": parent["sku"] if parent else None, "status": obj["status"],
            "regular_price": obj["regular_price"], "sale_price": obj["sale_price"],
            "manage_stock": obj["manage_stock"], "stock_quantity": obj["stock_quantity"],
            "attributes": [(a.get("name"), a.get("option") or a.get("options"))
                           for a in obj["attributes"]],
            "variations": sorted(server.posts[v]["sku"] for v in obj.get("variations", [])),
        }  # fmt: skip
    return _with_dupes(skus, rows, len(server.products))


def square_state(double: sq.SquareDouble) -> dict[str, Any]:
    skus, rows = [], {}
    for item in double.items.values():
        variations = item["item_data"].get("variations") or []
        for var in variations:
            data = var["item_variation_data"]
            skus.append(data["sku"])
            rows[data["sku"]] = {
                "item": item["item_data"]["name"], "name": data.get("name"),
                "siblings": sorted(v["item_variation_data"]["sku"] for v in variations),
                "price": data.get("price_money"), "upc": data.get("upc"),
                "count": double.counts.get((var["id"], SQUARE_LOCATION)),
            }  # fmt: skip
    return _with_dupes(skus, rows, len(double.items))


def push_killed_at(
    proxy: Any, ws: Path, args: list[str], n: int, tmp_path: Path, timeout: float = 120
) -> tuple[Path, Path]:
    """``multichan -w WS push ARGS`` as a real process (no TTY, no stdin) through ``proxy``
    (tests/servers/faults.py), SIGKILLed right after the proxy's ``n``-th applied request,
    before the push could read the answer; returns the files holding its stdout and stderr.
    Fails the test unless the process died of that SIGKILL."""
    victim: dict[str, subprocess.Popen[bytes]] = {}

    def kill_at_n(count: int, entry: Any) -> bool:
        if count != n:
            return False
        victim["proc"].send_signal(signal.SIGKILL)
        victim["proc"].wait(timeout=30)
        return True

    out, err = tmp_path / "stdout", tmp_path / "stderr"
    proxy.on_applied = kill_at_n
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    try:
        with out.open("wb") as stdout, err.open("wb") as stderr:
            victim["proc"] = subprocess.Popen(
                [sys.executable, "-m", "multichan", "-w", str(ws), "push", *args],
                stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, env=env,
            )  # fmt: skip
            code = victim["proc"].wait(timeout=timeout)
    finally:
        proxy.on_applied = None
    assert code == -signal.SIGKILL, (code, err.read_text())
    return out, err


# --- drift, through the CLI --------------------------------------------------------------------
def drift_json(ws: Path, channel: str, *args: str) -> tuple[int, dict[str, Any], str]:
    """``multichan drift CHANNEL --json ARGS``: its exit code, its document and its output."""
    import json

    result = run_cli("-w", ws, "drift", channel, "--json", *args)
    assert result.stdout.strip(), result.output
    return result.code, json.loads(result.stdout), result.output


def drift_findings(
    doc: dict[str, Any], key: tuple[str, ...] = ("sku", "field")
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The one channel's findings of a ``drift --json`` document, by the fields ``key``
    names; the channel must have been read."""
    [channel] = doc["channels"]
    assert channel["error"] is None, channel["error"]
    return {tuple(f[k] for k in key): f for f in channel["drift"]}


def push_runs(ws: Path) -> list[str]:
    """The status of every push run the workspace's journal holds, oldest first."""
    import contextlib
    import sqlite3

    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        query = "SELECT status FROM journal_runs WHERE command = 'push' ORDER BY id"
        return [row[0] for row in db.execute(query)]
