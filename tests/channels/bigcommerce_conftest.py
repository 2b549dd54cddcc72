"""A BigCommerce store double for the BigCommerce channel tests. Prism serves BigCommerce's own
contracts (``../shared/specs/bigcommerce/*.yml``: Catalog products, Catalog variants,
Inventory, Orders V2); this small stateful double on 127.0.0.1 keeps what Prism's canned
answers cannot (ids, products and their variants, stock per location, orders, shipments) and
what only BigCommerce's prose says (limits, rate-limit headers).

With ``validate`` set (spec name -> Prism URL) every request is first sent to the Prism of its
contract, with the spec's server prefix (``/v3``, ``/v2``) taken off; a request Prism refuses
is answered with Prism's error and recorded in ``violations``. One refusal is a defect of the
published contract, not of the request, and is left out: ``POST /catalog/products`` types its
``variants[]`` as ``productVariant_Full``, the response model, which requires ``id`` and
``product_id`` that a variant being created cannot have (the endpoint's description: "you can
create multiple product variants using the variants array"); any other violation of such a
request still counts.

What the double does, written from the contracts and the docs' prose:
- ``POST /v3/catalog/products``: one product, its ``variants[]`` (options made from their
  ``option_values`` display names and labels); a SKU taken by any product or variant (case
  aside) or a taken name is 409; a negative price, an empty name, a missing weight or type is
  422 ``{status, title, errors: {field: message}}``; ``refuse`` (SKU or product SKU -> field
  -> message) makes the double refuse a product or variant as BigCommerce would.
- ``GET /v3/catalog/products?sku:in=&include=variants``; ``PUT /v3/catalog/products`` (at most
  10 products, else 413 as the contract's example) and ``PUT /v3/catalog/variants`` (at most 50,
  else 413), each all-or-nothing: one invalid object refuses the batch with 422;
  ``POST /v3/catalog/products/{id}/variants``; ``GET /v3/catalog/products`` also by ``id:in``
  with ``include_fields``, and every V3 list paged by ``page``/``limit`` (default 50) with
  ``meta.pagination``.
- ``GET /v3/catalog/variants`` (every variant, a simple product's base variant included, its
  ``inventory_level`` summed over the locations) and ``GET
  /v3/inventory/locations/{id}/items`` (``sku:in``: each item's units at that location).
- What the merchant does in the control panel behind multichan's back: ``tamper`` (a SKU's
  price, sale price or stock at a location), ``hide`` (a product, or purchasing of one
  variant), ``delete_product``, ``seed`` (a product multichan never made).
- ``PUT /v3/inventory/adjustments/absolute``: at most 2,000 items, else 422; an item by
  ``variant_id`` of a product tracked by product is refused as the contract's example ("Item
  with variant_id 106 is tracked by product, please update stock by product id"), unknown ids
  likewise; nothing of a refused request is applied.
- Orders V2 (``orders``, ``add_order``): ``GET /v2/orders`` by ``min_date_modified`` (second
  precision, RFC 2822 dates as V2 writes them), ``sort`` by field name, ``page``/``limit``
  (default 50, at most 250), 204 with no body when a page is empty; ``/products``,
  ``/shipping_addresses``, ``/shipments`` (GET, POST, PUT) of an order; a shipment's items must
  be products of the order with units left to ship; a shipment moves the order to Partially
  Shipped (3) or Shipped (2).
- Every answer carries ``X-Rate-Limit-Requests-Quota``, ``-Requests-Left``, ``-Time-Window-Ms``
  and ``-Time-Reset-Ms`` for a window of ``quota`` requests per ``window_ms`` on the double's
  clock (``now``: tests move it with the channel's fake ``sleep``); a request while none are
  left is 429 and recorded in ``throttled``.
- ``breaches`` records every request over a documented limit; ``fail_next`` answers the next
  requests with a given status; the token must be ``TOKEN`` (else 401).
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from tests.servers import JsonHandler, serve

TOKEN = "bc-tok-7Hq2Lx9Pz4Wm"  # the value of ${BIGCOMMERCE_TOKEN}; must never show up anywhere
STORE = "k3x9abcd"
SPECS = {
    "products": "bigcommerce/products_catalog.v3.yml",
    "variants": "bigcommerce/product-variants_catalog.v3.yml",
    "inventory": "bigcommerce/inventory.v3.yml",
    "orders": "bigcommerce/orders.v2.oas2.yml",
}
SPEC_DEFECT = re.compile(r"^Request body property variants\.\d+ must have required property "
                         r"'(id|product_id)'$")  # fmt: skip
Answer = tuple[int, Any]


def spec_of(path: str) -> str | None:
    """Which contract serves ``path`` (a /v3 or /v2 path)."""
    if path.startswith("/v2/"):
        return "orders"
    if path.startswith("/v3/inventory/"):
        return "inventory"
    if path.startswith("/v3/catalog/variants") or re.match(r"/v3/catalog/products/\d+/variants",
                                                          path):  # fmt: skip
        return "variants"
    if path.startswith("/v3/catalog/products"):
        return "products"
    return None


def problem(status: int, title: str, errors: dict[str, str] | None = None) -> Answer:
    return status, {"status": status, "title": title, "type": "/api-docs/getting-started/"
                    "api-status-codes", "errors": errors or {}}  # fmt: skip


def paged(rows: list[Any], query: dict[str, str]) -> dict[str, Any]:
    """A V3 list answer: the ``page`` of ``limit`` rows (default 50) and its pagination."""
    limit, page = max(int(query.get("limit") or 50), 1), max(int(query.get("page") or 1), 1)
    chosen = rows[(page - 1) * limit : page * limit]
    pages = max(-(-len(rows) // limit), 1)
    return {"data": chosen, "meta": {"pagination": {
        "total": len(rows), "count": len(chosen), "per_page": limit, "current_page": page,
        "total_pages": pages}}}  # fmt: skip


def v2_error(status: int, message: str) -> Answer:
    return status, [{"status": status, "message": message}]


def rfc2822(stamp: datetime) -> str:
    return format_datetime(stamp.astimezone(UTC).replace(microsecond=0))


@dataclass
class BigCommerceDouble:
    url: str = ""
    validate: dict[str, str] | None = None  # spec name -> Prism URL
    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    stock: dict[tuple[int, str], int] = field(default_factory=dict)  # (location, item) -> units
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    order_products: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    shipments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    refuse: dict[str, dict[str, str]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    breaches: list[str] = field(default_factory=list)
    throttled: list[str] = field(default_factory=list)
    fail_next: list[tuple[int, Any]] = field(default_factory=list)
    quota: int = 1_000_000
    window_ms: int = 30_000
    now: float = 0.0  # the rate-limit window's clock, in seconds
    window_start: float = 0.0
    used: int = 0
    serial: int = 100
    clock: datetime | None = None  # order times; None: real time
    created_with_variants: bool = True  # a product create answers with its variants
    lock: threading.RLock = field(default_factory=threading.RLock)

    def reset(self, validate: dict[str, str] | None = None, quota: int = 1_000_000) -> None:
        self.validate, self.quota, self.window_ms = validate, quota, 30_000
        self.now = self.window_start = 0.0
        self.used, self.serial, self.clock = 0, 100, None
        self.created_with_variants = True
        for store in (self.products, self.stock, self.orders, self.order_products,
                      self.shipments, self.refuse):  # fmt: skip
            store.clear()
        for log in (self.requests, self.violations, self.breaches, self.throttled,
                    self.fail_next):  # fmt: skip
            log.clear()

    def sleep(self, seconds: float) -> None:
        """The channel's ``sleep`` in tests: moves the rate-limit window's clock."""
        self.now += seconds

    def next_id(self) -> int:
        self.serial += 1
        return self.serial

    def calls(self, method: str, path: str) -> list[Any]:
        return [r["body"] for r in self.requests if (r["method"], r["path"]) == (method, path)]

    # --- catalog ------------------------------------------------------------------------------
    def variant(self, variant_id: int) -> tuple[dict[str, Any], dict[str, Any]] | None:
        for product in self.products.values():
            for v in product["variants"]:
                if v["id"] == variant_id:
                    return product, v
        return None

    def by_sku(self, sku: str) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
        """The product or variant holding ``sku`` (case aside)."""
        for product in self.products.values():
            if product["sku"].casefold() == sku.casefold():
                return product, None
            for v in product["variants"]:
                if v["sku"].casefold() == sku.casefold() and v["option_values"]:
                    return product, v
        return None

    def _field_errors(self, obj: dict[str, Any], sku: str) -> dict[str, str]:
        errors = dict(self.refuse.get(sku, {}))
        for key in ("price", "sale_price"):
            if isinstance(obj.get(key), int | float) and obj[key] < 0:
                errors[key] = f"{key} must be 0 or more"
        if "name" in obj and not str(obj.get("name") or "").strip():
            errors["name"] = "name must not be empty"
        return errors

    def create_product(self, body: dict[str, Any]) -> Answer:
        for key in ("name", "type", "weight", "price"):
            if key not in body:
                return problem(422, "JSON data is missing or invalid", {key: f"{key} is required"})
        errors = self._field_errors(body, str(body.get("sku") or ""))
        for v in body.get("variants") or []:
            errors.update(
                {f"variants.{k}": m for k, m in self._field_errors(v, str(v.get("sku"))).items()}
            )
        if errors:
            return problem(422, "JSON data is missing or invalid", errors)
        skus = [str(body.get("sku") or "")] + [
            str(v.get("sku")) for v in body.get("variants") or []
        ]
        for sku in filter(None, skus):
            if self.by_sku(sku):
                return problem(409, f"The product sku is a duplicate: {sku}", {"sku": sku})
        if any(p["name"].casefold() == str(body["name"]).casefold()
               for p in self.products.values()):  # fmt: skip
            return problem(409, "The product name is a duplicate", {"name": body["name"]})
        pid = self.next_id()
        product = {k: copy.deepcopy(v) for k, v in body.items() if k != "variants"}
        product.update(id=pid, sku=str(body.get("sku") or ""), variants=[])
        product.setdefault("inventory_tracking", "none")
        product.setdefault("sale_price", 0)
        product["images"] = [{"id": self.next_id(), "product_id": pid, **i}
                             for i in body.get("images") or []]  # fmt: skip
        base = {"id": self.next_id(), "product_id": pid, "sku": product["sku"], "option_values": [],
                "price": body["price"], "sale_price": product["sale_price"]}  # fmt: skip
        product["variants"].append(base)
        product["base_variant_id"] = base["id"]
        self.products[pid] = product
        for v in body.get("variants") or []:
            self._add_variant(product, v)
        shown = self._shown(product)
        if not self.created_with_variants:
            shown.pop("variants")
        return 200, {"data": shown, "meta": {}}

    def _add_variant(self, product: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        options = product.setdefault("options", {})
        values = []
        for ov in body.get("option_values") or []:
            name, label = ov["option_display_name"], ov["label"]
            option = options.setdefault(name, {"id": self.next_id(), "values": {}})
            value_id = option["values"].setdefault(label, self.next_id())
            values.append({"option_display_name": name, "label": label, "id": value_id,
                           "option_id": option["id"]})  # fmt: skip
        variant = {k: copy.deepcopy(v) for k, v in body.items() if k != "option_values"}
        variant.update(id=self.next_id(), product_id=product["id"], option_values=values)
        variant.setdefault("sale_price", None)
        product["variants"].append(variant)
        return variant

    def _shown(self, product: dict[str, Any]) -> dict[str, Any]:
        shown = copy.deepcopy(product)
        shown.pop("options", None)
        if any(v["option_values"] for v in shown["variants"]):  # the base one is not a SKU then
            shown["variants"] = [v for v in shown["variants"] if v["option_values"]]
        return shown

    def list_products(self, query: dict[str, str]) -> Answer:
        wanted = {s.casefold() for s in (query.get("sku:in") or "").split(",") if s}
        ids = {int(i) for i in (query.get("id:in") or "").split(",") if i.strip().isdigit()}
        found = [self._shown(p) for p in self.products.values()
                 if (not wanted or p["sku"].casefold() in wanted)
                 and (not ids or p["id"] in ids)]  # fmt: skip
        if "variants" not in (query.get("include") or ""):
            for p in found:
                p.pop("variants", None)
        if query.get("include_fields"):  # the id and the fields asked for
            keep = {"id", "variants", *query["include_fields"].split(",")}
            found = [{k: v for k, v in p.items() if k in keep} for p in found]
        return 200, paged(found, query)

    def list_variants(self, query: dict[str, str]) -> Answer:
        """``GET /v3/catalog/variants``: every variant of every product (a simple product's
        base variant included), in id order, ``page``/``limit`` (at most 250)."""
        rows = []
        for product in self.products.values():
            for v in self._shown(product)["variants"]:
                row = {"id": v["id"], "product_id": product["id"], "sku": v["sku"],
                       "price": v.get("price"), "sale_price": v.get("sale_price"),
                       "purchasing_disabled": bool(v.get("purchasing_disabled", False)),
                       "inventory_level": self.inventory_level(product, v),
                       "option_values": v["option_values"]}  # fmt: skip
                rows.append(row)
        rows.sort(key=lambda r: r["id"])
        if int(query.get("limit") or 50) > 250:
            self.breaches.append(f"GET /v3/catalog/variants limit={query['limit']}")
        return 200, paged(rows, query)

    def inventory_level(self, product: dict[str, Any], variant: dict[str, Any]) -> int:
        """The catalog's count of a variant: its units at every location."""
        key = (f"product:{product['id']}" if product["inventory_tracking"] == "product"
               else f"variant:{variant['id']}")  # fmt: skip
        return sum(n for (_, item), n in self.stock.items() if item == key)

    def location_items(self, location: int, query: dict[str, str]) -> Answer:
        """``GET /v3/inventory/locations/{id}/items``: the units of each item counted at
        ``location`` (``sku:in``, ``page``/``limit``)."""
        wanted = {s.casefold() for s in (query.get("sku:in") or "").split(",") if s}
        rows = []
        for product in self.products.values():
            for v in self._shown(product)["variants"]:
                if wanted and v["sku"].casefold() not in wanted:
                    continue
                key = (f"product:{product['id']}" if product["inventory_tracking"] == "product"
                       else f"variant:{v['id']}")  # fmt: skip
                if (location, key) not in self.stock:
                    continue
                units = self.stock[(location, key)]
                settings = {"safety_stock": 0, "is_in_stock": units > 0, "warning_level": 0,
                            "bin_picking_number": ""}  # fmt: skip
                rows.append({"identity": {"sku": v["sku"], "variant_id": v["id"],
                                          "product_id": product["id"]},
                             "available_to_sell": units, "total_inventory_onhand": units,
                             "settings": settings})  # fmt: skip
        return 200, paged(rows, query)

    # --- what the merchant does in the control panel, behind multichan's back ---------------
    def tamper(self, sku: str, *, price: float | None = None, sale_price: float | None = None,
               quantity: int | None = None, location: int = 1) -> None:  # fmt: skip
        """The merchant edits a SKU's price, sale price or stock at ``location``."""
        found = self.by_sku(sku)
        assert found is not None, sku
        product, variant = found
        target = variant or product["variants"][0]  # a simple product: its base variant
        for key, value in (("price", price), ("sale_price", sale_price)):
            if value is not None:
                target[key] = value
                if variant is None:
                    product[key] = value
        if quantity is not None:
            item = (f"product:{product['id']}" if product["inventory_tracking"] == "product"
                    else f"variant:{target['id']}")  # fmt: skip
            self.stock[(location, item)] = quantity

    def hide(self, sku: str, *, purchasing_disabled: bool = False) -> None:
        """The merchant hides the product holding ``sku`` (or, with ``purchasing_disabled``,
        only disables buying that variant)."""
        found = self.by_sku(sku)
        assert found is not None, sku
        product, variant = found
        if purchasing_disabled:
            (variant or product["variants"][0])["purchasing_disabled"] = True
        else:
            product["is_visible"] = False

    def delete_product(self, sku: str) -> int:
        """The merchant deletes the product holding ``sku``, with its variants and stock."""
        found = self.by_sku(sku)
        assert found is not None, sku
        pid = int(found[0]["id"])
        ids = {f"product:{pid}", *(f"variant:{v['id']}" for v in found[0]["variants"])}
        del self.products[pid]
        for key in [k for k in self.stock if k[1] in ids]:
            del self.stock[key]
        return pid

    def seed(self, sku: str, name: str, price: float, quantity: int, location: int = 1) -> int:
        """A simple product the merchant made in the control panel, with its stock."""
        pid = self.next_id()
        base = {"id": self.next_id(), "product_id": pid, "sku": sku, "option_values": [],
                "price": price, "sale_price": 0}  # fmt: skip
        self.products[pid] = {"id": pid, "name": name, "type": "physical", "sku": sku,
                              "price": price, "sale_price": 0, "weight": 1,
                              "is_visible": True, "inventory_tracking": "product",
                              "images": [], "variants": [base],
                              "base_variant_id": base["id"]}  # fmt: skip
        self.stock[(location, f"product:{pid}")] = quantity
        return pid

    def update_products(self, body: list[dict[str, Any]]) -> Answer:
        if len(body) > 10:
            self.breaches.append(f"PUT /v3/catalog/products with {len(body)} products")
            return problem(413, "The request payload is too large. The maximum items allowed in "
                           "the array is 10.")  # fmt: skip
        errors: dict[str, str] = {}
        for n, obj in enumerate(body):
            product = self.products.get(int(obj.get("id") or 0))
            if product is None:
                errors[f"{n}.id"] = f"product {obj.get('id')} not found"
                continue
            errors.update({f"{n}.{k}": m for k, m in
                           self._field_errors(obj, product["sku"]).items()})  # fmt: skip
        if errors:
            return problem(422, "JSON data is missing or invalid", errors)
        for obj in body:
            product = self.products[int(obj["id"])]
            product.update({k: v for k, v in obj.items() if k != "id"})
            if product["variants"] and not product["variants"][0]["option_values"]:
                base = product["variants"][0]
                base.update({k: obj[k] for k in ("price", "sale_price") if k in obj})
        return 200, {"data": [self._shown(self.products[int(o["id"])]) for o in body], "meta": {}}

    def update_variants(self, body: list[dict[str, Any]]) -> Answer:
        if len(body) > 50:
            self.breaches.append(f"PUT /v3/catalog/variants with {len(body)} variants")
            return problem(413, "The request payload is too large. The maximum items allowed in "
                           "the array is 50.")  # fmt: skip
        errors: dict[str, str] = {}
        for n, obj in enumerate(body):
            found = self.variant(int(obj.get("id") or 0))
            if found is None:
                errors[f"{n}.id"] = f"variant {obj.get('id')} not found"
                continue
            errors.update({f"{n}.{k}": m for k, m in
                           self._field_errors(obj, found[1]["sku"]).items()})  # fmt: skip
        if errors:
            return problem(422, "JSON data is missing or invalid", errors)
        out = []
        for obj in body:
            product, variant = self.variant(int(obj["id"]))  # type: ignore[misc]
            variant.update({k: v for k, v in obj.items() if k != "id"})
            if not variant["option_values"]:  # a simple product's base variant: its price too
                product.update({k: obj[k] for k in ("price", "sale_price") if k in obj})
            out.append(copy.deepcopy(variant))
        return 200, {"data": out, "meta": {}}

    def create_variant(self, product_id: int, body: dict[str, Any]) -> Answer:
        product = self.products.get(product_id)
        if product is None:
            return problem(404, "The requested resource was not found.")
        errors = self._field_errors(body, str(body.get("sku")))
        if errors:
            return problem(422, "JSON data is missing or invalid", errors)
        if self.by_sku(str(body.get("sku"))):
            return problem(409, f"The variant sku is a duplicate: {body.get('sku')}")
        variant = self._add_variant(product, {k: v for k, v in body.items() if k != "product_id"})
        return 200, {"data": copy.deepcopy(variant), "meta": {}}

    def adjust(self, body: dict[str, Any]) -> Answer:
        items = body.get("items") or []
        if len(items) > 2000:
            self.breaches.append(f"PUT /v3/inventory/adjustments/absolute with {len(items)} items")
            return problem(422, "The maximum items allowed in the payload is 2000.")
        keys = []
        for item in items:
            if "variant_id" in item:
                found = self.variant(int(item["variant_id"]))
                if found is None:
                    return problem(422, f"[Item with variant_id {item['variant_id']} not found]")
                if found[0]["inventory_tracking"] == "product":
                    return problem(422, f"[Item with variant_id {item['variant_id']} is tracked "
                                   "by product, please update stock by product id]")  # fmt: skip
                keys.append((int(item["location_id"]), f"variant:{item['variant_id']}"))
            elif "product_id" in item:
                product = self.products.get(int(item["product_id"]))
                if product is None or product["inventory_tracking"] != "product":
                    return problem(422, f"[Item with product_id {item['product_id']} is not "
                                   "tracked by product]")  # fmt: skip
                keys.append((int(item["location_id"]), f"product:{item['product_id']}"))
        for key, item in zip(keys, items, strict=True):
            self.stock[key] = int(item["quantity"])
        return 200, {"transaction_id": f"tx-{self.next_id()}"}

    def quantity(self, sku: str, location: int = 1) -> int | None:
        """What the store shows for ``sku`` at ``location`` (None: never counted)."""
        found = self.by_sku(sku)
        if found is None:
            return None
        product, variant = found
        key = f"product:{product['id']}" if variant is None else f"variant:{variant['id']}"
        return self.stock.get((location, key))

    # --- orders -------------------------------------------------------------------------------
    def stamp(self) -> datetime:
        return self.clock or datetime.now(UTC).replace(microsecond=0)

    def add_order(self, lines: list[tuple[str, int]], status_id: int = 11,
                  currency: str = "USD", **fields: Any) -> int:  # fmt: skip
        """An order as a shopper places it: each line a product or variant of the catalog by
        SKU (or an unknown SKU: product 0), at the catalog's price."""
        oid = self.next_id()
        when = self.stamp()
        self.orders[oid] = {
            "id": oid, "status_id": status_id, "status": STATUS_NAMES[status_id],
            "date_created": rfc2822(when), "date_modified": rfc2822(when),
            "currency_code": currency, "customer_id": 0, **fields,
        }  # fmt: skip
        rows = []
        for sku, quantity in lines:
            found = self.by_sku(sku)
            product, variant = found if found else ({"id": 0, "price": 0, "name": sku}, None)
            price = float((variant or product).get("price") or 0)
            rows.append({
                "id": self.next_id(), "order_id": oid, "product_id": product["id"],
                "variant_id": (variant or {}).get("id") or product.get("base_variant_id") or 0,
                "order_address_id": oid * 10, "name": product.get("name") or sku, "sku": sku,
                "quantity": quantity, "quantity_shipped": 0, "quantity_refunded": 0,
                "is_refunded": False, "price_ex_tax": f"{price:.4f}",
                "total_ex_tax": f"{price * quantity:.4f}", "base_price": f"{price:.4f}",
            })  # fmt: skip
        self.order_products[oid] = rows
        self.shipments[oid] = []
        return oid

    def touch(self, oid: int, **changes: Any) -> None:
        """Change an order as the store would (status, ...): ``date_modified`` moves."""
        order = self.orders[oid]
        if "status_id" in changes:
            changes["status"] = STATUS_NAMES[changes["status_id"]]
        order.update(changes, date_modified=rfc2822(self.stamp()))

    def refund(self, oid: int, sku: str, units: int) -> None:
        for row in self.order_products[oid]:
            if row["sku"] == sku:
                row["quantity_refunded"] += units
                row["is_refunded"] = row["quantity_refunded"] >= row["quantity"]
        self.touch(oid)

    def list_orders(self, query: dict[str, str]) -> Answer:
        try:
            limit, page = int(query.get("limit") or 50), int(query.get("page") or 1)
        except ValueError:
            return v2_error(400, "limit and page must be numbers")
        if not 1 <= limit <= 250 or page < 1:
            self.breaches.append(f"GET /v2/orders limit={limit} page={page}")
            return v2_error(400, "limit must be 1 to 250")
        rows = list(self.orders.values())
        if query.get("min_date_modified"):
            since = _when(query["min_date_modified"])
            rows = [o for o in rows if parsedate_to_datetime(o["date_modified"]) >= since]
        sort = query.get("sort") or "id"
        field_name, _, direction = sort.partition(":")
        key = (lambda o: (parsedate_to_datetime(o[field_name]), o["id"])) if field_name.startswith(
            "date_") else (lambda o: (o.get(field_name), o["id"]))  # fmt: skip
        rows.sort(key=key, reverse=direction == "desc")
        chosen = rows[(page - 1) * limit : page * limit]
        if not chosen:
            return 204, None
        out = []
        for o in chosen:
            shown = copy.deepcopy(o)
            shown["products"] = {"url": f"{self.url}/v2/orders/{o['id']}/products",
                                 "resource": f"/orders/{o['id']}/products"}  # fmt: skip
            out.append(shown)
        return 200, out

    def order_route(self, method: str, rest: list[str], query: dict[str, str], body: Any) -> Answer:
        oid = int(rest[0]) if rest[0].isdigit() else -1
        if oid not in self.orders:
            return v2_error(404, "The requested resource was not found.")
        order, tail = self.orders[oid], rest[1:]
        if not tail and method == "GET":
            return 200, copy.deepcopy(order)
        if tail == ["products"] and method == "GET":
            limit, page = int(query.get("limit") or 50), int(query.get("page") or 1)
            rows = self.order_products[oid][(page - 1) * limit : page * limit]
            return (200, copy.deepcopy(rows)) if rows else (204, None)
        if tail == ["shipping_addresses"] and method == "GET":
            return 200, [
                {
                    "id": oid * 10,
                    "order_id": oid,
                    "first_name": "Ada",
                    "last_name": "Lovelace",
                    "city": "Austin",
                    "country_iso2": "US",
                }
            ]
        if tail == ["shipments"] and method == "GET":
            found = self.shipments[oid]
            return (200, copy.deepcopy(found)) if found else (204, None)
        if tail == ["shipments"] and method == "POST":
            return self.ship(oid, body)
        if len(tail) == 2 and tail[0] == "shipments" and method == "PUT":
            for s in self.shipments[oid]:
                if str(s["id"]) == tail[1]:
                    s.update({k: v for k, v in body.items() if k != "items"})
                    return 200, copy.deepcopy(s)
            return v2_error(404, "The requested resource was not found.")
        return v2_error(404, f"no route {method} {'/'.join(rest)}")

    def ship(self, oid: int, body: dict[str, Any]) -> Answer:
        order = self.orders[oid]
        if body.get("order_address_id") != oid * 10:
            return v2_error(400, "The field 'order_address_id' is invalid.")
        if order["status_id"] in (0, 1, 4, 5, 6, 7):
            return v2_error(400, f"Order {oid} cannot be shipped: it is {order['status']}.")
        rows = {r["id"]: r for r in self.order_products[oid]}
        items = body.get("items") or []
        for item in items:
            row = rows.get(item.get("order_product_id"))
            left = row["quantity"] - row["quantity_shipped"] if row else 0
            if row is None or not 0 < int(item.get("quantity") or 0) <= left:
                return v2_error(
                    400,
                    f"The item {item.get('order_product_id')} cannot be "
                    "shipped: no such order product or not enough left to ship.",
                )
        if len(str(body.get("tracking_number") or "")) > 50:
            return v2_error(400, "The field 'tracking_number' is too long.")
        for item in items:
            rows[item["order_product_id"]]["quantity_shipped"] += int(item["quantity"])
        done = all(r["quantity_shipped"] >= r["quantity"] - r["quantity_refunded"]
                   for r in rows.values())  # fmt: skip
        self.touch(oid, status_id=2 if done else 3)
        shipment = {"id": self.next_id(), "order_id": oid, "date_created": rfc2822(self.stamp()),
                    **copy.deepcopy(body)}  # fmt: skip
        self.shipments[oid].append(shipment)
        return 201, copy.deepcopy(shipment)

    # --- the wire -----------------------------------------------------------------------------
    def rate_headers(self) -> dict[str, str]:
        if self.now >= self.window_start + self.window_ms / 1000:
            self.window_start, self.used = self.now, 0
        reset = max(int((self.window_start + self.window_ms / 1000 - self.now) * 1000), 1)
        return {
            "X-Rate-Limit-Requests-Quota": str(self.quota),
            "X-Rate-Limit-Requests-Left": str(max(self.quota - self.used, 0)),
            "X-Rate-Limit-Time-Window-Ms": str(self.window_ms),
            "X-Rate-Limit-Time-Reset-Ms": str(reset),
        }

    def check(self, method: str, path: str, query: str, headers: dict[str, str],
              raw: bytes) -> Answer | None:  # fmt: skip
        """Prism's refusal of a request that breaks its contract (recorded), else None."""
        spec = spec_of(path)
        if not self.validate or spec is None or spec not in self.validate:
            return None
        keep = {k: v for k, v in headers.items()
                if k.lower() in ("x-auth-token", "accept", "content-type")}  # fmt: skip
        url = self.validate[spec] + path[3:] + (f"?{query}" if query else "")
        answer = requests.request(method, url, headers=keep, data=raw or None, timeout=30)
        if answer.status_code < 400:
            return None
        try:
            found = json.loads(answer.headers.get("sl-violations") or "[]")
        except ValueError:
            found = []
        real = [v for v in found if not (method == "POST" and path == "/v3/catalog/products"
                                         and SPEC_DEFECT.match(str(v.get("message"))))]  # fmt: skip
        if found and not real:
            return None
        said = "; ".join(str(v.get("message")) for v in real) or answer.text[:400]
        self.violations.append(f"{method} {path}: {answer.status_code} {said}")
        try:
            return answer.status_code, answer.json()
        except ValueError:
            return answer.status_code, {"title": answer.text[:400]}

    def answer(self, method: str, target: str, headers: dict[str, str],
               raw: bytes) -> tuple[int, Any, dict[str, str]]:  # fmt: skip
        parts = urlsplit(target)
        path, query = parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}
        body = json.loads(raw) if raw else None
        self.requests.append({"method": method, "path": path, "query": query,
                              "headers": headers, "body": body})  # fmt: skip
        limits = self.rate_headers()
        if self.used >= self.quota:
            self.throttled.append(f"{method} {path}")
            return (*problem(429, "Too many requests"), limits)
        self.used += 1
        limits = {**limits, "X-Rate-Limit-Requests-Left": str(max(self.quota - self.used, 0))}
        refused = self.check(method, path, parts.query, headers, raw)
        if refused is not None:
            return (*refused, limits)
        if self.fail_next:
            status, payload = self.fail_next.pop(0)
            return status, payload, limits
        if headers.get("X-Auth-Token") != TOKEN:
            return (*problem(401, "Unauthorized"), limits)
        return (*self.route(method, path, query, body), limits)

    def route(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if path == "/v3/catalog/products":
            if method == "GET":
                return self.list_products(query)
            if method == "POST":
                return self.create_product(body)
            if method == "PUT":
                return self.update_products(body)
        match = re.fullmatch(r"/v3/catalog/products/(\d+)/variants", path)
        if match and method == "POST":
            return self.create_variant(int(match.group(1)), body)
        if path == "/v3/catalog/variants" and method == "PUT":
            return self.update_variants(body)
        if path == "/v3/catalog/variants" and method == "GET":
            return self.list_variants(query)
        match = re.fullmatch(r"/v3/inventory/locations/(\d+)/items", path)
        if match and method == "GET":
            return self.location_items(int(match.group(1)), query)
        if path == "/v3/inventory/adjustments/absolute" and method == "PUT":
            return self.adjust(body)
        if path == "/v2/orders" and method == "GET":
            return self.list_orders(query)
        if path.startswith("/v2/orders/"):
            return self.order_route(method, path.split("/")[3:], query, body)
        return problem(404, f"no route {method} {path}")


STATUS_NAMES = {
    0: "Incomplete", 1: "Pending", 2: "Shipped", 3: "Partially Shipped", 4: "Refunded",
    5: "Cancelled", 6: "Declined", 7: "Awaiting Payment", 8: "Awaiting Pickup",
    9: "Awaiting Shipment", 10: "Completed", 11: "Awaiting Fulfillment",
    12: "Manual Verification Required", 13: "Disputed", 14: "Partially Refunded",
}  # fmt: skip


def _when(text: str) -> datetime:
    """A V2 date filter: RFC 2822 or ISO 8601 (read at second precision)."""
    try:
        stamp = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.replace(microsecond=0) - timedelta(0)


def _handler(double: BigCommerceDouble) -> type[JsonHandler]:
    class Handler(JsonHandler):
        def do_GET(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() != "content-length"}
            with double.lock:
                status, payload, extra = double.answer(self.command, self.path, headers, raw)
            if payload is None:  # 204 No Content
                self.send_response(status)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self._send(status, payload, extra)

        do_POST = do_PUT = do_DELETE = do_GET

    return Handler


@contextmanager
def serve_double() -> Iterator[BigCommerceDouble]:
    """A BigCommerce double listening on 127.0.0.1 until the block ends."""
    with serve(BigCommerceDouble(), _handler) as double:
        yield double
