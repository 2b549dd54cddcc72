"""BigCommerce: products, variants and images through the V3 Catalog API, stock at one location
through the V3 Inventory API, orders through the V2 Orders API and shipments with tracking as
V2 order shipments (mapping in ``bigcommerce_orders``). Owns how offers become BigCommerce
products and how its answers become one ItemResult per SKU or per parcel.

BigCommerce's rules this module follows (bigcommerce/docs, reference/*.yml):
- One product per ``POST /v3/catalog/products``; its variants come in the same call
  (``variants[]`` with ``option_values`` by ``option_display_name`` and ``label``, which makes
  the options), as the docs say to do for more than one variant. A product is an item group
  (its SKU is the group id) or, for an offer without one, a simple product (its SKU is the
  offer's; stock tracked by product). Before creating, one ``GET /v3/catalog/products?sku:in=``
  finds products that exist already (a create whose answer was lost, or the seller's own), which
  are updated instead, so a rerun never makes a product twice. A create whose answer lists
  not all its variants is read back the same way for their ids.
- Updates: ``PUT /v3/catalog/products`` takes at most 10 products (``max_groups``), ``PUT
  /v3/catalog/variants`` at most 50 variants (``max_batch`` of listings and prices); a SKU new
  to an existing product is ``POST /v3/catalog/products/{id}/variants``. A batch refused as a
  whole (422, 409...) is sent again one object at a time, so one bad product is rejected with
  BigCommerce's message and the others are saved. An update keeps the product's visibility,
  except for a SKU in ``relisting`` (``drift --fix`` of a listing taken off sale by hand): its
  product is sent ``is_visible`` true and ``availability`` available, its variant
  ``purchasing_disabled`` false (a simple product's: its base variant's, in the same PUT).
- Stock: ``PUT /v3/inventory/adjustments/absolute`` at ``location_id``, at most 2,000 items a
  request (``max_batch`` of quantities), by ``variant_id``, or ``product_id`` for a product
  tracked by product. Items a 422 names are rejected with its message; the rest are sent again.
- Prices: ``price`` and ``sale_price`` (0: none) of each variant, the base variant of a simple
  product included, through ``PUT /v3/catalog/variants``.
- Rate limit: 150 requests per 30 s on most plans; every answer says how many are left
  (``X-Rate-Limit-Requests-Left``) and when the window resets (``X-Rate-Limit-Time-Reset-Ms``):
  the API client waits that long once none are left (``api.window_pause``).
- Auth: ``X-Auth-Token`` (a store API account's access token). Paths are ``/v3/...`` and
  ``/v2/...`` under ``base_url`` (``https://api.bigcommerce.com/stores/<store_hash>``).
- Shipments (``ship``): the order's shipments are read first, so a parcel already there (its
  marker in ``comments``, or its tracking number) is answered, not made again; then the order
  (its status must be shippable) and its order products (the ``order_address_id`` each ships
  to: a parcel spanning two addresses is refused; none named: the order's first shipping
  address), then one ``POST
  /v2/orders/{id}/shipments``, which the client does not resend itself (the engine's retry
  reads the shipments again first). Tracking given later is a ``PUT`` of that shipment.
- Drift (``remote_listings``): every variant of the catalog, ``GET /v3/catalog/variants`` 250 a
  page (``page``/``limit``, until a short page), the base variant of a simple product included
  (its SKU is the product's); per page, one ``GET /v3/catalog/products?id:in=`` for the
  products' name, visibility, tracking and default prices, and one ``GET
  /v3/inventory/locations/{location_id}/items?sku:in=`` for the count at the location
  multichan writes (``total_inventory_onhand``, what the absolute adjustment sets: the
  catalog's ``inventory_level`` sums every location; a SKU with a comma, which ``sku:in``
  cannot name, shows no quantity). So three requests per 250 variants (more when the SKUs
  are long: the filter is cut to keep URLs short).
  Fields: ``price`` and ``sale_price`` (the variant's, else its product's; 0 is no sale),
  ``quantity`` (none for a product that does not track stock), ``title`` only for a simple
  product (a variant has no name of its own), ``listed``: False for a hidden product
  (``is_visible`` false), one whose ``availability`` is ``disabled`` or a variant whose
  purchasing is disabled.
Not pushed: categories (set ``category_id`` for new products), weight only on creation (in the
store's ``weight_unit``), custom fields, SEO fields.
"""

from __future__ import annotations

import functools
import re
import urllib.parse
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from multichan.channels import bigcommerce_orders as bo
from multichan.channels.api import Answer, ApiClient, Refused, window_pause
from multichan.channels.auth import Token
from multichan.channels.base import Channel, Fatal, ItemResult, RateLimit, SettingSpec
from multichan.offers import Offer
from multichan.orders.model import Order

CATALOG, VARIANTS = "/v3/catalog/products", "/v3/catalog/variants"
ABSOLUTE = "/v3/inventory/adjustments/absolute"
PRODUCTS_PER_PUT, VARIANTS_PER_PUT, ITEMS_PER_ADJUSTMENT = 10, 50, 2000
NOT_LISTED = "not listed on bigcommerce yet; push listings first"
PER_PAGE = 250  # BigCommerce's most per page
SKUS_PER_URL = 4000  # characters of SKUs in one sku:in filter (URLs stay well under 8 KB)
VARIANT_FIELDS = "product_id,sku,price,sale_price,purchasing_disabled,option_values"
PRODUCT_FIELDS = "name,is_visible,availability,inventory_tracking,price,sale_price"
# a product update putting the product back on sale (shown, and purchasable)
RELIST = {"is_visible": True, "availability": "available"}
OPTION_FIELDS = (("Color", "color"), ("Size", "size"), ("Material", "material"),
                 ("Pattern", "pattern"))  # fmt: skip
GRAMS = {"kg": 1000, "g": 1, "lb": 453.59237, "oz": 28.349523125}
ID_RE = re.compile(r"\b(variant_id|product_id)\W{0,3}(\d+)")
Json = dict[str, Any]


def _money(amount: Decimal | None) -> float:
    return float(amount) if amount is not None else 0.0


def product_name(offer: Offer) -> str:
    """The product's name: variant titles are "Product - Options" in our importers."""
    if offer.item_group_id and " - " in offer.title:
        head = offer.title.rpartition(" - ")[0].strip()
        if head:
            return head[:250]
    return offer.title[:250]


def option_values(offer: Offer, names: list[str]) -> list[Json]:
    """The variant's options (Color, Size, Material, Pattern: those any SKU of its product
    has), by display name and label; "Option" with the SKU when it has none."""
    if not names:
        return [{"option_display_name": "Option", "label": offer.sku[:255]}]
    by_name = dict(OPTION_FIELDS)
    return [
        {"option_display_name": n, "label": (getattr(offer, by_name[n]) or "-")[:255]}
        for n in names
    ]


def option_names(group: list[Offer]) -> list[str]:
    return [name for name, attr in OPTION_FIELDS if any(getattr(o, attr) for o in group)]


def images(offer: Offer) -> list[Json]:
    links = [link for link in [offer.image_link, *offer.additional_image_links] if link]
    return [{"image_url": link[:255], "is_thumbnail": i == 0, "sort_order": i}
            for i, link in enumerate(dict.fromkeys(links))]  # fmt: skip


def price_fields(offer: Offer) -> Json:
    return {"price": _money(offer.price), "sale_price": _money(offer.sale_price)}


def said(answer: Answer) -> str:
    """BigCommerce's error body in one line: V3 ``{title, errors: {field: message}}``, V2
    ``[{status, message}]``."""
    body = answer.body
    if isinstance(body, list):
        parts = [str(e.get("message")) for e in body if isinstance(e, dict) and e.get("message")]
        if parts:
            return "; ".join(parts)
    if isinstance(body, dict):
        title = str(body.get("title") or body.get("message") or "").strip()
        errors = body.get("errors")
        details = []
        if isinstance(errors, dict):
            details = [f"{k}: {v}" for k, v in errors.items() if v not in (None, "", {}, [])]
        if title or details:
            return title + (f" ({'; '.join(details)})" if details else "")
    return " ".join(answer.text.split())[:300]


class BigCommerce(Channel):
    """BigCommerce V3 catalog (one product per item group), stock at one location, V2 orders."""

    type = "bigcommerce"
    description = "BigCommerce store: V3 catalog and inventory, V2 orders and shipments"
    supports = frozenset({"listings", "prices", "quantities", "orders", "shipments"})
    max_batch: ClassVar[dict[str, int]] = {
        "listings": VARIANTS_PER_PUT, "prices": VARIANTS_PER_PUT,
        "quantities": ITEMS_PER_ADJUSTMENT,
    }  # fmt: skip
    max_groups: ClassVar[dict[str, int]] = {"listings": PRODUCTS_PER_PUT}
    grouped = frozenset({"listings"})  # prices and stock are written per variant
    rate_limit = RateLimit(requests_per_second=5.0, burst=10)  # 150 per 30 s (Standard, Plus)
    accepts_html = True
    max_title, max_description = 250, 65_535
    settings_schema: ClassVar[dict[str, SettingSpec]] = {
        "store_hash": SettingSpec("str", required=True, help="the store's hash, as in "
                                  "https://api.bigcommerce.com/stores/<store_hash>/v3"),
        "token": SettingSpec("secret", required=True, help="${BIGCOMMERCE_TOKEN}: a store API "
                             "account's access token (Products, Information & Settings, "
                             "Orders: modify; Stock Inventory: modify)"),
        "base_url": SettingSpec("url", help="default https://api.bigcommerce.com/stores/"
                                "<store_hash>; /v3 and /v2 paths go under it"),
        "location_id": SettingSpec("int", default=1, help="the inventory location stock is "
                                   "written to (1: the default location)"),
        "category_id": SettingSpec("int", help="category of new products (stores on the V2 "
                                   "product experience require one)"),
        "weight_unit": SettingSpec("str", default="kg", help="the store's weight unit: kg, g, "
                                   "lb or oz (only new products get a weight)"),
        "timeout": SettingSpec("int", default=30, help="seconds per request"),
    }  # fmt: skip
    credential_env = ("BIGCOMMERCE_TOKEN",)

    @classmethod
    def validate_settings(cls, raw: Any, where: str) -> tuple[dict[str, Any], list[str]]:
        settings, problems = super().validate_settings(raw, where)
        unit = settings.get("weight_unit")
        if unit is not None and unit not in GRAMS:
            problems.append(f"{where}.weight_unit must be one of {', '.join(GRAMS)}, "
                            f"not {unit!r}")  # fmt: skip
        return settings, problems

    # --- listings --------------------------------------------------------------------------
    def upsert_listings(self, offers: list[Offer]) -> list[ItemResult]:
        results: dict[str, ItemResult] = {}
        groups: dict[str, list[Offer]] = {}
        for o in offers:
            groups.setdefault(o.item_group_id or o.sku, []).append(o)
        known: dict[str, int] = {}
        for key, members in groups.items():
            pid = next((i for o in members if (i := self._id(o, "product_id"))), None)
            if pid:
                known[key] = pid
        found = self._products_by_sku([k for k in groups if k not in known])
        current = {k: found[k.casefold()] for k in groups if k.casefold() in found}
        known.update({k: int(p["id"]) for k, p in current.items()})
        updates = [k for k in groups if k in known]
        for key in [k for k in groups if k not in known]:
            results.update(self._create(key, groups[key]))
        if updates:
            results.update(self._update({k: groups[k] for k in updates}, known, current))
        return [results[o.sku] for o in offers]

    def _products_by_sku(self, skus: list[str]) -> dict[str, Json]:
        """Products whose own SKU is one of ``skus``, with their variants, by SKU in lower
        case (BigCommerce's SKUs are unique whatever their case)."""
        if not skus:
            return {}
        params = {"sku:in": ",".join(skus), "include": "variants", "limit": 250}
        answer = self.api.request("GET", CATALOG, params=params)
        rows = _data(answer)
        return {
            str(p.get("sku")).casefold(): p for p in rows if isinstance(p, dict) and p.get("id")
        }

    def _product_body(self, key: str, group: list[Offer]) -> Json:
        first = group[0]
        simple = not first.item_group_id
        body: Json = {"name": product_name(first), "type": "physical", "sku": key[:255],
                      "description": first.description, "is_visible": True,
                      **price_fields(first)}  # fmt: skip
        if first.brand:
            body["brand_name"] = first.brand
        unit = GRAMS[self.settings.get("weight_unit") or "kg"]
        grams = first.weight_grams or 0
        body["weight"] = round(grams / unit, 4)
        if self.settings.get("category_id"):
            body["categories"] = [int(self.settings["category_id"])]
        pictures = images(first)
        if pictures:
            body["images"] = pictures
        if simple:
            body["inventory_tracking"] = "product"
            body.update(self._codes(first))
        else:
            body["inventory_tracking"] = "variant"
            names = option_names(group)
            body["variants"] = [self._variant(o, names) for o in group]
        return body

    @staticmethod
    def _codes(offer: Offer) -> Json:
        codes: Json = {}
        if offer.gtin:
            codes["gtin"] = offer.gtin[:14]
        if offer.mpn:
            codes["mpn"] = offer.mpn
        return codes

    def _variant(self, offer: Offer, names: list[str]) -> Json:
        body: Json = {"sku": offer.sku[:255], **price_fields(offer), **self._codes(offer),
                      "option_values": option_values(offer, names)}  # fmt: skip
        if offer.image_link:
            body["image_url"] = offer.image_link[:255]
        return body

    def _create(self, key: str, group: list[Offer]) -> dict[str, ItemResult]:
        """One product (with its variants) in one POST; refused: its SKUs, with the reason."""
        try:
            answer = self.api.request("POST", CATALOG, json=self._product_body(key, group))
        except Refused as exc:
            why = f"BigCommerce refused product {key}: {said(exc.answer)}"
            return {o.sku: ItemResult.rejected(o.sku, why) for o in group}
        product = answer.body.get("data") if isinstance(answer.body, dict) else None
        if not isinstance(product, dict) or not product.get("id"):
            lost = f"BigCommerce's answer has no product id for {key}; nothing recorded"
            return {o.sku: ItemResult.rejected(o.sku, lost, retriable=True) for o in group}
        listed = {str(v.get("sku")).casefold() for v in product.get("variants") or []
                  if isinstance(v, dict)}  # fmt: skip
        if any(o.item_group_id and o.sku.casefold() not in listed for o in group):
            product = self._products_by_sku([key]).get(key.casefold()) or product  # its variants
        return self._ids(product, group)

    def _ids(self, product: Json, group: list[Offer]) -> dict[str, ItemResult]:
        pid = str(product["id"])
        by_sku = {str(v.get("sku")).casefold(): v for v in product.get("variants") or []
                  if isinstance(v, dict)}  # fmt: skip
        out = {}
        for o in group:
            if not o.item_group_id:
                base = product.get("base_variant_id") or (by_sku.get(o.sku.casefold()) or {}).get(
                    "id"
                )
                ids = {"product_id": pid, "tracked_by": "product"}
                out[o.sku] = ItemResult.accepted(o.sku, **ids, **_opt("variant_id", base))
                continue
            variant = by_sku.get(o.sku.casefold()) or {}
            if variant.get("id"):
                out[o.sku] = ItemResult.accepted(o.sku, product_id=pid,
                                                 variant_id=str(variant["id"]))  # fmt: skip
            else:
                why = f"product {pid} on BigCommerce has no variant {o.sku}; nothing recorded"
                out[o.sku] = ItemResult.rejected(o.sku, why, retriable=True)
        return out

    def _update(
        self, groups: dict[str, list[Offer]], known: dict[str, int], current: dict[str, Json]
    ) -> dict[str, ItemResult]:
        """Existing products: their fields in one batch PUT, their variants' in another, new
        SKUs as new variants of their product."""
        results: dict[str, ItemResult] = {}
        keys = list(groups)
        bodies = []
        for key in keys:
            first = groups[key][0]
            body: Json = {"id": known[key], "name": product_name(first),
                          "description": first.description}  # fmt: skip
            if not first.item_group_id:
                body.update(price_fields(first), **self._codes(first))
            if any(o.sku in self.relisting for o in groups[key]):
                body.update(RELIST)  # taken off sale by hand: drift --fix puts it back
            bodies.append(body)
        refused = self._put_each(CATALOG, bodies)
        variants: list[tuple[Offer, Json]] = []
        fresh: list[tuple[str, Offer]] = []
        for key, why in zip(keys, refused, strict=True):
            group = groups[key]
            if why:
                message = f"BigCommerce refused product {key}: {why}"
                results.update({o.sku: ItemResult.rejected(o.sku, message) for o in group})
                continue
            pid = str(known[key])
            there = {str(v.get("sku")).casefold(): v
                     for v in (current.get(key) or {}).get("variants") or []}  # fmt: skip
            for o in group:
                if not o.item_group_id:
                    found = self._ids(current[key], [o]) if key in current else {}
                    results[o.sku] = found.get(o.sku) or ItemResult.accepted(
                        o.sku, product_id=pid, tracked_by="product",
                        **_opt("variant_id", self._id(o, "variant_id")),
                    )  # fmt: skip
                    base = results[o.sku].remote_ids.get("variant_id")
                    if o.sku in self.relisting and base:  # its purchasing is its base variant's
                        variants.append((o, {"id": int(base), "purchasing_disabled": False}))
                    continue
                vid = self._id(o, "variant_id") if self._id(o, "product_id") == known[key] else None
                vid = vid or (there.get(o.sku.casefold()) or {}).get("id")
                if vid:
                    body = {"id": int(vid), **price_fields(o), **self._codes(o)}
                    if o.sku in self.relisting:
                        body["purchasing_disabled"] = False
                    if o.image_link:
                        body["image_url"] = o.image_link[:255]
                    variants.append((o, body))
                else:
                    fresh.append((pid, o))
        answers = self._put_each(VARIANTS, [b for _, b in variants])
        for (o, body), why in zip(variants, answers, strict=True):
            pid = str(known[o.item_group_id or o.sku])
            results[o.sku] = (
                ItemResult.rejected(o.sku, f"BigCommerce refused variant {o.sku}: {why}")
                if why
                else results.get(o.sku)  # a simple product's, relisted: its ids as found
                or ItemResult.accepted(o.sku, product_id=pid, variant_id=str(body["id"]))
            )
        for pid, o in fresh:
            results[o.sku] = self._add_variant(pid, o, groups[o.item_group_id or o.sku])
        return results

    def _add_variant(self, pid: str, offer: Offer, group: list[Offer]) -> ItemResult:
        body = {"product_id": int(pid), **self._variant(offer, option_names(group))}
        path = f"{CATALOG}/{pid}/variants"
        try:
            answer = self.api.request("POST", path, json=body)
        except Refused as exc:
            why = f"BigCommerce refused the new variant {offer.sku} of product {pid}: "
            return ItemResult.rejected(offer.sku, why + said(exc.answer))
        variant = answer.body.get("data") if isinstance(answer.body, dict) else None
        if not isinstance(variant, dict) or not variant.get("id"):
            lost = f"BigCommerce's answer has no variant id for {offer.sku}; nothing recorded"
            return ItemResult.rejected(offer.sku, lost, retriable=True)
        return ItemResult.accepted(offer.sku, product_id=pid, variant_id=str(variant["id"]))

    def _put_each(self, path: str, bodies: list[Json]) -> list[str | None]:
        """PUT ``bodies`` as one batch; refused as a whole, each alone: per body, None when
        saved, else BigCommerce's message."""
        if not bodies:
            return []
        try:
            self.api.request("PUT", path, json=bodies)
            return [None] * len(bodies)
        except Refused as exc:
            if len(bodies) == 1:
                return [said(exc.answer)]
        return [self._put_each(path, [body])[0] for body in bodies]

    # --- prices -------------------------------------------------------------------------------
    def update_prices(self, offers: list[Offer]) -> list[ItemResult]:
        results: dict[str, ItemResult] = {}
        sent: list[tuple[Offer, Json]] = []
        for o in offers:
            vid = self._id(o, "variant_id")
            if vid:
                sent.append((o, {"id": vid, **price_fields(o)}))
            else:
                results[o.sku] = ItemResult.rejected(o.sku, NOT_LISTED)
        answers = self._put_each(VARIANTS, [b for _, b in sent])
        for (o, body), why in zip(sent, answers, strict=True):
            ids = {"variant_id": str(body["id"]), **_opt("product_id", self._id(o, "product_id"))}
            results[o.sku] = (
                ItemResult.rejected(o.sku, f"BigCommerce refused the price of {o.sku}: {why}")
                if why
                else ItemResult.accepted(o.sku, **ids)
            )
        return [results[o.sku] for o in offers]

    # --- quantities -------------------------------------------------------------------------
    def update_quantities(self, offers: list[Offer]) -> list[ItemResult]:
        """Absolute counts at ``location_id``; items BigCommerce names in a 422 are rejected
        with its message, the others sent again without them."""
        results: dict[str, ItemResult] = {}
        items: dict[str, tuple[Offer, Json]] = {}
        location = int(self.settings.get("location_id") or 1)
        for o in offers:
            by_product = self.known_ids.get(o.sku, {}).get("tracked_by") == "product"
            key = "product_id" if by_product else "variant_id"
            ref = self._id(o, key)
            if ref:
                items[o.sku] = (o, {"location_id": location, key: ref,
                                    "quantity": max(o.quantity, 0)})  # fmt: skip
            else:
                results[o.sku] = ItemResult.rejected(o.sku, NOT_LISTED)
        for _ in range(2):
            todo = [sku for sku in items if sku not in results]
            if not todo:
                break
            body = {"reason": "multichan stock sync", "items": [items[s][1] for s in todo]}
            try:
                self.api.request("PUT", ABSOLUTE, json=body)
            except Refused as exc:
                message = said(exc.answer)
                named = {(k, int(v)) for k, v in ID_RE.findall(message)}
                blamed = [
                    s for s in todo
                    if any((k, items[s][1].get(k)) in named for k in ("variant_id", "product_id"))
                ]  # fmt: skip
                for sku in blamed or todo:
                    results[sku] = ItemResult.rejected(sku, f"BigCommerce refused: {message}")
                continue
            for sku in todo:
                item = items[sku][1]
                ids = {k: str(item[k]) for k in ("variant_id", "product_id") if k in item}
                results[sku] = ItemResult.accepted(sku, **ids)
            break
        for sku in items:  # a second refusal after the blamed ones were left out
            results.setdefault(sku, ItemResult.rejected(
                sku, "not saved: BigCommerce refused other items of the same request",
                retriable=True))  # fmt: skip
        return [results[o.sku] for o in offers]

    # --- orders -----------------------------------------------------------------------------
    def fetch_orders(self, since: datetime) -> Iterator[list[Order]]:
        """Orders changed at or after ``since``, oldest change first, with their products."""
        pages = self.api.page_numbers(
            "/v2/orders", bo.list_params(since), per_page=bo.PER_PAGE,
            per_page_param="limit", total_pages_header=None, items=_rows,
        )  # fmt: skip
        for answer in pages:
            yield [bo.to_order(o, self._order_products(o["id"])) for o in _rows(answer)]

    def _order_products(self, order_id: Any) -> list[Json]:
        rows: list[Json] = []
        pages = self.api.page_numbers(
            f"{_order(order_id)}/products", {}, per_page=bo.PER_PAGE, per_page_param="limit",
            total_pages_header=None, items=_rows,
        )  # fmt: skip
        for answer in pages:
            rows += _rows(answer)
        return rows

    # --- shipments --------------------------------------------------------------------------
    def ship(self, shipment: Any) -> ItemResult:
        key = shipment.key
        if len(shipment.tracking_number or "") > bo.MAX_TRACKING:
            return ItemResult.rejected(key, "BigCommerce takes a tracking number of at most "
                                       f"{bo.MAX_TRACKING} characters")  # fmt: skip
        if len(shipment.tracking_url or "") > bo.MAX_LINK:
            return ItemResult.rejected(key, "BigCommerce takes a tracking link of at most "
                                       f"{bo.MAX_LINK} characters")  # fmt: skip
        path = _order(shipment.order_id)
        try:
            there = _rows(self.api.request("GET", f"{path}/shipments", params={"limit": 250}))
            if shipment.remote_id:
                found = next((s for s in there if str(s.get("id")) == shipment.remote_id), None)
                if found is None:
                    gone = f"order {shipment.number} no longer has shipment {shipment.remote_id}"
                    return ItemResult.rejected(key, gone + " on BigCommerce")
            else:
                found = bo.find_shipment(there, shipment)
            if found is not None:
                if not bo.has_tracking(found, shipment):
                    self.api.request("PUT", f"{path}/shipments/{found['id']}",
                                     json=bo.tracking_update(shipment))  # fmt: skip
                return ItemResult.accepted(key, fulfillment_id=str(found["id"]))
            order = self.api.request("GET", path).body
            status = int(order.get("status_id") or 0) if isinstance(order, dict) else 0
            if status not in bo.SHIPPABLE:
                name = order.get("status") if isinstance(order, dict) else None
                why = f"order {shipment.number} is {name or status} on BigCommerce"
                return ItemResult.rejected(key, why + ": nothing to ship")
            wanted: dict[str, int] = {}
            for line in shipment.lines:
                wanted[line.line_id] = wanted.get(line.line_id, 0) + line.quantity
            items = [{"order_product_id": int(i), "quantity": n} for i, n in wanted.items()
                     if str(i).isdigit() and n > 0]  # fmt: skip
            if not items:
                return ItemResult.rejected(key, "the parcel has no BigCommerce order products")
            address = self._address(shipment, set(wanted))
            if isinstance(address, str):
                return ItemResult.rejected(key, address)
            body = bo.shipment_body(shipment, address, items)
            made = self.api.request("POST", f"{path}/shipments", json=body, idempotent=False)
        except Refused as exc:
            return ItemResult.rejected(key, f"BigCommerce: {said(exc.answer)}")
        made_id = made.body.get("id") if isinstance(made.body, dict) else None
        if not made_id:
            raise Fatal("BigCommerce answered the shipment without an id; check base_url")
        return ItemResult.accepted(key, fulfillment_id=str(made_id))

    def _address(self, shipment: Any, lines: set[str]) -> int | str:
        """The shipping address the parcel's order products go to (an order can ship to
        several: each product names its ``order_address_id``), else the order's first; a
        message when there is none or the parcel spans two."""
        rows = self._order_products(shipment.order_id)
        found = {int(r.get("order_address_id") or 0) for r in rows if str(r.get("id")) in lines}
        found.discard(0)
        if len(found) > 1:
            where = f"the parcel's lines of order {shipment.number} go to {len(found)} addresses"
            return where + " on BigCommerce: ship each address's lines as its own parcel"
        if found:
            return found.pop()
        addresses = _rows(
            self.api.request("GET", f"{_order(shipment.order_id)}/shipping_addresses")
        )
        if not addresses or not addresses[0].get("id"):
            return (
                f"order {shipment.number} has no shipping address on BigCommerce: nothing to ship"
            )
        return int(addresses[0]["id"])

    # --- drift ------------------------------------------------------------------------------
    def remote_listings(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every variant of the store, with its product's name and visibility and its count at
        ``location_id``, 250 a page (see the module docstring). BigCommerce keeps SKUs unique
        across the store (case aside), so each comes once and no set of them is kept."""
        pages = self.api.page_numbers(
            VARIANTS, {"include_fields": VARIANT_FIELDS}, per_page=PER_PAGE,
            per_page_param="limit", total_pages_header=None, items=_data,
        )  # fmt: skip
        for answer in pages:
            variants = [v for v in _data(answer) if isinstance(v, dict) and v.get("sku")]
            if not variants:
                continue
            products = self._remote_products(variants)
            stock = self._remote_stock(variants)
            for v in variants:
                product = products.get(int(v.get("product_id") or 0))
                yield str(v["sku"]), _remote_fields(v, product, stock)

    def _remote_products(self, variants: list[Json]) -> dict[int, Json]:
        """The products of a page of variants (at most 250), by id."""
        ids = sorted({int(v["product_id"]) for v in variants if str(v.get("product_id")).isdigit()})
        if not ids:
            return {}
        params = {"id:in": ",".join(map(str, ids)), "include_fields": PRODUCT_FIELDS,
                  "limit": PER_PAGE}  # fmt: skip
        rows = _data(self.api.request("GET", CATALOG, params=params))
        return {int(p["id"]): p for p in rows if isinstance(p, dict) and p.get("id")}

    def _remote_stock(self, variants: list[Json]) -> dict[str, int]:
        """The count at ``location_id`` of a page of variants, by SKU in lower case."""
        location = int(self.settings.get("location_id") or 1)
        skus = sorted({str(v["sku"]) for v in variants if "," not in str(v["sku"])})
        stock: dict[str, int] = {}
        for part in _within(skus, SKUS_PER_URL):  # long SKUs: more than one request
            params = {"sku:in": ",".join(part), "limit": PER_PAGE}
            answer = self.api.request("GET", f"/v3/inventory/locations/{location}/items",
                                      params=params)  # fmt: skip
            for item in _data(answer):
                sku = str(((item or {}).get("identity") or {}).get("sku") or "")
                count = item.get("total_inventory_onhand", item.get("available_to_sell"))
                if sku and isinstance(count, int):
                    stock[sku.casefold()] = count
        return stock

    # --- HTTP -------------------------------------------------------------------------------
    def _id(self, offer: Offer, key: str) -> int | None:
        value = str(self.known_ids.get(offer.sku, {}).get(key) or "")
        return int(value) if value.isdigit() and int(value) > 0 else None

    @functools.cached_property
    def api(self) -> ApiClient:
        base = self.settings.get("base_url") or (
            "https://api.bigcommerce.com/stores/"
            + urllib.parse.quote(str(self.settings["store_hash"]), safe="")
        )
        return ApiClient(
            self, base, vendor="BigCommerce",
            auth=Token(self.settings["token"], header="X-Auth-Token", scheme=""),
            timeout=self.settings.get("timeout") or 30,
            headers={"Accept": "application/json", "Content-Type": "application/json"},
            describe=said,
            pause_after=window_pause("X-Rate-Limit-Requests-Left", "X-Rate-Limit-Time-Reset-Ms",
                                     unit=0.001),
            auth_hint="The store API account needs Products, Orders and Stock Inventory "
            "set to modify; check store_hash too",
        )  # fmt: skip


def _remote_fields(variant: Json, product: Json | None, stock: dict[str, int]) -> Json:
    """The drift fields of one variant (see the module docstring)."""
    product = product or {}
    price = variant.get("price")
    sale = variant.get("sale_price")
    for_sale = bool(product.get("is_visible", True)) and product.get("availability") != "disabled"
    fields: Json = {
        "price": _amount(price if price is not None else product.get("price")),
        "sale_price": _amount(sale if sale is not None else product.get("sale_price")) or None,
        "listed": for_sale and not variant.get("purchasing_disabled"),
    }
    if fields["sale_price"] is not None and Decimal(fields["sale_price"]) == 0:
        fields["sale_price"] = None  # BigCommerce's 0: no sale
    sku = str(variant["sku"]).casefold()
    if product.get("inventory_tracking") != "none" and sku in stock:
        fields["quantity"] = stock[sku]
    if not variant.get("option_values") and product.get("name") is not None:
        fields["title"] = str(product["name"])
    return fields


def _within(skus: list[str], length: int) -> Iterator[list[str]]:
    """``skus`` in runs whose comma-joined text stays within ``length`` characters."""
    part: list[str] = []
    used = 0
    for sku in skus:
        if part and used + len(sku) + 1 > length:
            yield part
            part, used = [], 0
        part.append(sku)
        used += len(sku) + 1
    if part:
        yield part


def _amount(value: Any) -> str | None:
    """A BigCommerce number (a JSON float) as a decimal string: cents shown, no float noise."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return None
    cents = amount.quantize(Decimal("0.01"))
    return f"{cents}" if cents == amount else f"{amount.normalize()}"


def _opt(key: str, value: Any) -> dict[str, str]:
    return {key: str(value)} if value else {}


def _data(answer: Answer) -> list[Any]:
    body = answer.body
    data = body.get("data") if isinstance(body, dict) else None
    return data if isinstance(data, list) else []


def _rows(answer: Answer) -> list[Json]:
    """A V2 list answer (a JSON array; nothing at all, HTTP 204, when empty)."""
    body = answer.body
    return [r for r in body if isinstance(r, dict)] if isinstance(body, list) else []


def _order(order_id: Any) -> str:
    return "/v2/orders/" + urllib.parse.quote(str(order_id), safe="")
