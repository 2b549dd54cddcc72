"""A listing the seller took off sale on the channel by hand, through the CLI against the
contract-checked servers (Shopify's schema-checked GraphQL endpoint, the strict WooCommerce
shop): ``drift`` names it missing/listed (exit 4), ``drift --fix`` puts it back on sale
(Shopify ACTIVE, WooCommerce publish, a variation's parent too) and drift then finds nothing;
a plain ``push`` of a changed listing keeps the status the seller set (only a fix relists)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.e2e.conftest import Servers, write_channels
from tests.e2e.test_drift import drift, findings

pytestmark = pytest.mark.slow  # the servers fixture loads Square's contract in Prism once

SIMPLE = "MUG-ENAMEL"
GROUP, VARIANT = "TEE-MERINO", "TEE-MERINO-BLA-M"  # a variant of a product with 12
OTHER = "HOODIE-FLEECE-GRE-M"  # WooCommerce: a variation unpublished on its own


class ShopifyStatus:
    """A product's status on the Shopify double, as the seller sets it in the admin."""

    on_sale, off_sale, archived = "ACTIVE", "DRAFT", "ARCHIVED"

    def __init__(self, servers: Servers) -> None:
        self.shop = servers.shop.shop
        self.server = servers.shop

    def _product(self, sku: str) -> dict[str, Any]:
        return dict(self.shop.products[self.shop.by_sku(sku)["product"]])

    def status(self, sku: str) -> str:
        return str(self._product(sku)["status"])

    def set(self, sku: str, status: str) -> None:
        self.shop.products[self.shop.by_sku(sku)["product"]]["status"] = status

    def title(self, sku: str) -> str:
        return str(self._product(sku)["title"])

    def listing_writes(self) -> int:
        return len(self.server.calls("productSet"))

    def group(self, sku: str) -> set[str]:
        """The SKUs sharing ``sku``'s product (a product's status is all of them)."""
        ids = self.shop.products[self.shop.by_sku(sku)["product"]]["variants"]
        return {str(self.shop.variants[v]["sku"]) for v in ids}


class WooStatus:
    """A product's or variation's status on the WooCommerce shop, as the seller sets it."""

    on_sale, off_sale, archived = "publish", "draft", "private"

    def __init__(self, servers: Servers) -> None:
        self.woo = servers.woo

    def _obj(self, sku: str) -> dict[str, Any]:
        found = self.woo.by_sku(sku)
        assert found is not None, sku
        return found

    def status(self, sku: str) -> str:
        return str(self._obj(sku)["status"])

    def set(self, sku: str, status: str) -> None:
        self._obj(sku)["status"] = status

    def title(self, sku: str) -> str:
        return str(self._obj(sku)["name"])

    def listing_writes(self) -> int:
        return sum(1 for e in self.woo.log if e.method == "POST" and e.path.endswith("/batch"))

    def group(self, sku: str) -> set[str]:
        parent = self.woo.parent_of[int(self._obj(sku)["id"])]
        return {str(v["sku"]) for v in self.woo.variations_of(parent)}


STATUSES = {"shop": ShopifyStatus, "woo": WooStatus}


def _pushed(servers: Servers, new_demo: Any, name: str) -> Path:
    ws = new_demo()
    write_channels(ws, servers.urls())
    result = run_cli("-w", ws, "push", name)
    assert result.code == 0, result.output
    return ws


def _off_sale(doc: dict[str, Any], name: str) -> set[str]:
    found = findings(doc, name)
    assert {(finding, field) for _, finding, field, *_ in found} <= {("missing", "listed")}, found
    return {sku for sku, *_ in found}


@pytest.mark.parametrize("name", ["shop", "woo"])
def test_fix_puts_a_listing_taken_off_sale_back_on_sale(
    servers: Servers, new_demo: Any, name: str
) -> None:
    ws = _pushed(servers, new_demo, name)
    remote = STATUSES[name](servers)
    remote.set(SIMPLE, remote.off_sale)  # the seller unpublished a simple product...
    remote.set(GROUP if name == "woo" else VARIANT, remote.archived)  # ... and a whole group
    off = {SIMPLE} | remote.group(VARIANT)
    if name == "woo":
        remote.set(OTHER, remote.off_sale)  # ... and one variation of a published product
        off.add(OTHER)
    assert VARIANT in off and len(off) > 3

    code, doc, text = drift(ws, name)
    assert code == 4, text
    assert _off_sale(doc, name) == off
    [row] = [f for f in doc["channels"][0]["drift"] if f["sku"] == SIMPLE]
    assert (row["finding"], row["field"], row["pushed"], row["remote"]) == (
        "missing", "listed", True, False,
    )  # fmt: skip

    code, fixed, fixing = drift(ws, name, "--fix")
    assert code == 0, fixing
    fix = fixed["channels"][0]["fix"]
    assert fix["status"] == "ok" and fix["counts"]["rejected"] == 0, fix
    for sku in sorted(off):
        assert remote.status(sku) == remote.on_sale, sku
    if name == "woo":
        assert remote.status(GROUP) == remote.on_sale  # the variable product itself

    code, after, text = drift(ws, name)
    assert code == 0, text
    assert findings(after, name) == set() and after["drift"] == 0
    assert servers.violations()[name] == []


@pytest.mark.parametrize("name", ["shop", "woo"])
def test_a_plain_push_keeps_the_status_the_seller_set(
    servers: Servers, new_demo: Any, name: str
) -> None:
    """Outside ``drift --fix`` a listing update keeps the status: a product the seller set to
    draft gets its new title and stays draft (a simple product and a variant's product)."""
    ws = _pushed(servers, new_demo, name)
    remote = STATUSES[name](servers)
    remote.set(SIMPLE, remote.off_sale)
    held = VARIANT if name == "shop" else OTHER  # Shopify: the product; Woo: the variation
    remote.set(held, remote.off_sale)
    for sku, title in ((SIMPLE, "Enamel Mug, Speckled"), (held, "Renamed variant - M")):
        result = run_cli("-w", ws, "catalog", "set", sku, f"title={title}")
        assert result.code == 0, result.output
    writes = remote.listing_writes()

    result = run_cli("-w", ws, "push", name)
    assert result.code == 0, result.output
    assert remote.listing_writes() > writes  # the listings were updated...
    assert remote.title(SIMPLE) == "Enamel Mug, Speckled"
    assert remote.status(SIMPLE) == remote.off_sale  # ... and kept off sale
    assert remote.status(held) == remote.off_sale
    code, doc, text = drift(ws, name)
    assert code == 4, text
    assert {SIMPLE, held} <= _off_sale(doc, name)  # still reported until a fix
    assert servers.violations()[name] == []
