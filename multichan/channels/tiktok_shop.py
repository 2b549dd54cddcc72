"""TikTok Shop: listings, prices and stock through the Product API 202309; orders and shipments
through the Order and Fulfillment APIs (their mapping is ``tiktok_shop_orders``).

TikTok publishes no machine-readable contract; this module follows the Partner Center pages as
``../shared/specs/tiktok/SPEC-NOTES.md`` summarises them. Every request is signed
(``channels.auth.TikTokSign``: app_key, timestamp, shop_cipher and an HMAC-SHA256 ``sign`` over
path, query and body). Answers are TikTok's envelope ``{code, message, data}``: code 0 is
success; auth codes are fatal (naming the variables), 36009002 (too many requests), 429 and
5xx are worth retrying; any other code is TikTok refusing that call, which rejects the SKUs of
that one product with TikTok's message while the other products go on.

- Listings: one product per call. A product is found by its recorded ``product_id``, else by
  its SKUs (``POST products/search`` with ``seller_skus``), so a lost answer or lost state
  makes no duplicate; creates also carry an ``idempotency_key`` derived from the product, so
  TikTok itself answers a repeated create with the product it made. A new product (``POST
  /product/202309/products``) gets its category from ``categories`` (product type -> TikTok
  leaf category id; ``"*"`` for the rest), its brand from ``brands`` (brand name -> id), its
  images uploaded first (``POST images/upload``, multipart, unsigned body), a package weight
  (the heaviest variant, else ``default_weight_grams``), and per SKU seller_sku, price and the
  stock at ``warehouse_id``; variants get sales attributes from the options that differ
  (Color, Size, Material, Pattern). An existing product gets ``partial_edit`` (title,
  description): images, category and variants are not pushed again. It keeps the product's
  status, except for a SKU in ``relisting`` (``drift --fix`` of a product deactivated by
  hand): a product not ACTIVATE is then activated (``POST products/activate``) after its
  edit; one TikTok refuses to activate (PLATFORM_DEACTIVATED...) rejects the group's SKUs
  with TikTok's message.
- Prices: ``prices/update``, one product per call (``max_groups``), ``price.amount`` the
  price the buyer pays (the sale price when there is one: TikTok's strike-through prices are
  its promotions, not a product field).
- Stock: ``inventory/update``, one product per call, after reading the product (``GET
  products/{id}``): every warehouse a SKU has is listed (TikTok refuses an update that omits
  or adds one), ``warehouse_id``'s count set, the others' kept as TikTok holds them.
- **Sold out** (a SKU at 0). TikTok's pages disagree: the Update Inventory page generated in
  2023 (lywzx/tiktok-partner-api) and integrators' docs (Hemi, 2024) say "non-negative
  numbers (include number 0)"; the current Update Inventory and Create Product pages (the
  2025 scrape, lazykern/ecommerce-api-docs) say "Valid range: [1, 99,999]" (error 12052055).
  multichan must be right under both, and a sold-out SKU must never stay buyable, so: 0 is
  sent (accepted where TikTok takes it, and a SKU TikTok already holds at 0 is not written
  again); where TikTok refuses it, the SKU is set to 1, the lowest count TikTok takes (so
  that the product, once live again, offers no more than 1 before its new counts are
  written), and the product deactivated (``POST products/deactivate``, which TikTok's
  Deactivate Products page gives for "out of stock": it hides the product until it is
  activated again). TikTok has no switch per SKU, so a product with one sold-out
  variant is hidden whole: its other variants' counts are written first; the sold-out SKU of
  a one-SKU product is then accepted (hidden is its 0), and of a larger product rejected
  with that explanation, so it is sent again each run and the product is activated again
  (``POST products/activate``, then the counts) only in a run where every variant it holds
  back has stock. Counts of a hidden product's other variants are held (rejected, sent
  again) until then, since TikTok takes stock only for a live product.
- Orders: ``fetch_orders`` pages of ``POST /order/202309/orders/search`` by update time,
  oldest change first, following ``next_page_token`` (``tiktok_shop_orders``).
- Shipments: ``ship`` reads the order (``GET /order/202309/orders?ids=``); a package that
  already carries the tracking number is answered, not made again; else ``POST
  /fulfillment/202309/orders/{order_id}/packages`` with the tracking number, the carrier's
  ``shipping_provider_id`` (``shipping_providers``: carrier name -> TikTok provider id) and the
  line item ids of the parcel's units (one per unit).
- Drift (``remote_listings``): every product of the shop, ``POST products/search`` with
  ``status`` ALL (100 a page, following ``next_page_token``; a DELETED product is left out
  whatever ALL holds). Per SKU: ``price`` (``tax_exclusive_price``, the price the seller
  enters, which ``prices/update`` writes, else ``sale_price``: what the buyer pays, as TikTok
  has no sale price of its own, hence no ``sale_price``: drift compares what is charged),
  ``quantity`` (the units at ``warehouse_id``, the warehouse multichan writes, 0 while the
  product is not live: what a buyer can order), ``title`` only for a one-SKU product (the
  others' variants have none of their own), ``listed``: False unless the product is ACTIVATE
  and not ``is_not_for_sale``. ``fetch_remote`` keeps looking SKUs up directly
  (``seller_skus``), with its own fields (title, price, quantity in every warehouse).
A send is several calls; the API client sends a read or an absolute write again after a
failure that may pass. A create carries its idempotency key and is found by SKU, and a
package is found by its tracking number, so a run killed at any point repeats nothing.
Remote ids recorded per SKU: product_id, sku_id.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import urllib.parse
from collections.abc import Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from urllib3 import encode_multipart_formdata

from multichan.channels import tiktok_shop_orders as to
from multichan.channels.api import Answer, ApiClient, Refused, expired
from multichan.channels.auth import TikTokSign
from multichan.channels.base import Channel, Fatal, ItemResult, RateLimit, Retriable, SettingSpec
from multichan.money import to_text
from multichan.offers import Offer
from multichan.orders.model import Order

API = "/product/202309"
MAX_SKUS = 100  # SKUs per product (300 in some markets; 100 everywhere)
MAX_QUANTITY = 99_999
MAX_IMAGES = 9
ZERO_REFUSED = frozenset({12052055, 12019024})  # "quantity within allowed limits" / "invalid"
EXPIRED = 105002  # "Expired credentials": refresh the access token
AUTH_CODES = frozenset({105001, 105005, 106001, 106013, 101000, 36009004, 36009033})
BUSY_CODES = frozenset({36009002, 36009003, 36009007, 12001000})
OPTIONS = (("Color", "color"), ("Size", "size"), ("Material", "material"), ("Pattern", "pattern"))
Ids = dict[str, str]


class _Refused(Fatal):
    """TikTok refused one call (a non-zero ``code``): its code and message, for the SKUs of
    the product concerned."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"TikTok Shop: {message}" + (f" (code {code})" if code else ""))
        self.code, self.said = code, message


class TikTokShop(Channel):
    """TikTok Shop Open API 202309: products with SKUs, prices, stock per warehouse, orders."""

    type = "tiktok_shop"
    description = "TikTok Shop (Open API 202309): products, prices, stock, orders"
    supports = frozenset({"listings", "prices", "quantities", "orders", "shipments"})
    max_batch: ClassVar[dict[str, int]] = {"listings": MAX_SKUS, "prices": MAX_SKUS,
                                           "quantities": MAX_SKUS}  # fmt: skip
    # one product per call: TikTok's price and stock updates take the SKUs of one product
    max_groups: ClassVar[dict[str, int]] = {"listings": 1, "prices": 1, "quantities": 1}
    rate_limit = RateLimit(requests_per_second=50.0, burst=10)  # 50 QPS per API, app and shop
    accepts_html = True
    max_title, max_description = 255, 10_000
    settings_schema: ClassVar[dict[str, SettingSpec]] = {
        "base_url": SettingSpec("url", default="https://open-api.tiktokglobalshop.com",
                                help="the Open API's root"),
        "app_key": SettingSpec("str", required=True, help="the app's key (Partner Center)"),
        "app_secret": SettingSpec("secret", required=True, help="${TIKTOK_APP_SECRET}"),
        "access_token": SettingSpec("secret", help="${TIKTOK_ACCESS_TOKEN}, the seller's token"),
        "refresh_token": SettingSpec("secret", help="${TIKTOK_REFRESH_TOKEN}, to renew it"),
        "token_url": SettingSpec("url", default=TikTokSign.TOKEN_URL,
                                 help="TikTok's token refresh endpoint"),
        "shop_cipher": SettingSpec("str", required=True, help="from Get Authorized Shops"),
        "warehouse_id": SettingSpec("str", required=True,
                                    help="the TikTok warehouse whose stock multichan sets"),
        "categories": SettingSpec("map", default={}, help="product type -> category id ('*')"),
        "brands": SettingSpec("map", default={}, help="brand name -> TikTok brand id"),
        "shipping_providers": SettingSpec("map", default={},
                                          help="carrier name -> TikTok shipping_provider_id"),
        "default_weight_grams": SettingSpec("int", help="package weight of SKUs without one"),
        "timeout": SettingSpec("int", default=30, help="seconds per request"),
    }  # fmt: skip
    credential_env = ("TIKTOK_APP_SECRET", "TIKTOK_ACCESS_TOKEN", "TIKTOK_REFRESH_TOKEN")

    # --- listings ---------------------------------------------------------------------------
    def upsert_listings(self, offers: list[Offer]) -> list[ItemResult]:
        results: dict[str, ItemResult] = {}
        for group in _groups(offers).values():
            try:
                results.update((r.sku, r) for r in self._listing(group))
            except _Refused as exc:
                results.update((o.sku, ItemResult.rejected(o.sku, exc.message)) for o in group)
        return [results[o.sku] for o in offers]

    def _listing(self, group: list[Offer]) -> list[ItemResult]:
        found = self._find(group)
        if found is None:
            return self._create(group)
        product_id, skus, status = found
        body = {"title": group[0].title, "description": _html(group[0].description)}
        self._call("POST", f"{API}/products/{product_id}/partial_edit", json=body)
        if status != "ACTIVATE" and any(o.sku in self.relisting for o in group):
            self._switch("activate", product_id)  # deactivated by hand: drift --fix relists
        out = []
        for o in group:
            if o.sku in skus:
                out.append(ItemResult.accepted(o.sku, product_id=product_id, sku_id=skus[o.sku]))
            else:
                out.append(ItemResult.rejected(
                    o.sku, f"TikTok product {product_id} has no SKU {o.sku}, and multichan does "
                    "not add variants to an existing TikTok product: add it in Seller Center",
                ))  # fmt: skip
        return out

    def _find(self, group: list[Offer]) -> tuple[str, dict[str, str], str] | None:
        """The TikTok product holding the group (its id, sku ids by seller_sku and status), or
        None."""
        known = next((self._ids(o).get("product_id") for o in group
                      if self._ids(o).get("product_id")), None)  # fmt: skip
        if known:
            product = self._product(known)
            if product is not None:
                return known, _sku_ids(product), str(product.get("status") or "")
        for product in self._search([o.sku for o in group]):
            return str(product["id"]), _sku_ids(product), str(product.get("status") or "")
        return None

    def _create(self, group: list[Offer]) -> list[ItemResult]:
        first = group[0]
        categories = self.settings.get("categories") or {}
        category = categories.get(first.product_type or "") or categories.get("*")
        problem = None
        if not category:
            problem = (f"no TikTok category for product type {first.product_type!r}: add it "
                       "(or '*') under settings.categories")  # fmt: skip
        heaviest = max((o.weight_grams or 0 for o in group), default=0)
        weight = int(heaviest or self.settings.get("default_weight_grams") or 0)
        if not problem and not weight:
            problem = "TikTok needs a package weight: give the SKU one, or default_weight_grams"
        if not problem and len({o.currency for o in group}) > 1:
            problem = "the variants of one TikTok product must share one currency"
        images = [] if problem else self._upload_images(group)
        if not problem and not images:
            problem = "TikTok needs at least one product image (main_images)"
        if problem:
            return [ItemResult.rejected(o.sku, problem) for o in group]
        names = [n for n, f in OPTIONS if len({getattr(o, f) for o in group}) > 1][:3]
        skus = []
        for o in group:
            sku: dict[str, Any] = {
                "seller_sku": o.sku, "price": _price(o),
                "inventory": [self._stock_row(min(max(o.quantity, 0), MAX_QUANTITY))],
            }  # fmt: skip
            if len(group) > 1:
                sku["sales_attributes"] = [
                    {"name": n, "value_name": str(getattr(o, f) or "-")[:50]}
                    for n, f in OPTIONS if n in names
                ] or [{"name": "Variant", "value_name": o.sku[:50]}]  # fmt: skip
            skus.append(sku)
        body: dict[str, Any] = {
            "title": first.title, "description": _html(first.description),
            "category_id": category, "main_images": [{"uri": u} for u in images], "skus": skus,
            "package_weight": {"value": str(Decimal(weight) / 1000), "unit": "KILOGRAM"},
            "idempotency_key": _key(self.name, first.item_group_id or first.sku, group),
        }  # fmt: skip
        brand = (self.settings.get("brands") or {}).get(first.brand or "")
        if brand:
            body["brand_id"] = brand
        data = self._call("POST", f"{API}/products", json=body)
        product_id = str(data.get("product_id") or "")
        made = {str(s.get("seller_sku")): str(s.get("id")) for s in data.get("skus") or []}
        return [
            ItemResult.accepted(o.sku, product_id=product_id, sku_id=made[o.sku])
            if product_id and o.sku in made
            else ItemResult.rejected(
                o.sku, "TikTok made the product but gave no id for this SKU", retriable=True
            )
            for o in group
        ]

    def _upload_images(self, group: list[Offer]) -> list[str]:
        urls: list[str] = []
        for o in group:
            for url in (o.image_link, *o.additional_image_links):
                if url and url not in urls:
                    urls.append(url)
        uris = []
        for url in urls[:MAX_IMAGES]:
            try:
                content, ctype = self.api.download(url)
            except Refused as exc:
                raise _Refused(0, f"an image could not be read: {exc.message}") from None
            name = urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1] or "image.jpg"
            body, content_type = encode_multipart_formdata(
                {"data": (name, content, ctype), "use_case": "MAIN_IMAGE"}
            )
            data = self._call("POST", f"{API}/images/upload", data=body,
                              headers={"Content-Type": content_type})  # fmt: skip
            if data.get("uri"):
                uris.append(str(data["uri"]))
        return uris

    # --- prices -----------------------------------------------------------------------------
    def update_prices(self, offers: list[Offer]) -> list[ItemResult]:
        ids, results = self._resolve(offers)
        for product_id, group in _by_product(offers, ids).items():
            body = {"skus": [{"id": ids[o.sku]["sku_id"], "price": _price(o)} for o in group]}
            self._settle(group, ids, results, lambda b=body, p=product_id: self._call(
                "POST", f"{API}/products/{p}/prices/update", json=b))  # fmt: skip
        return [results[o.sku] for o in offers]

    # --- stock ------------------------------------------------------------------------------
    def update_quantities(self, offers: list[Offer]) -> list[ItemResult]:
        ids, results = self._resolve(offers)
        for product_id, group in _by_product(offers, ids).items():
            try:
                results.update(self._stock(product_id, group, ids))
            except _Refused as exc:
                results.update((o.sku, ItemResult.rejected(o.sku, exc.message)) for o in group)
        return [results[o.sku] for o in offers]

    def _stock(self, product_id: str, group: list[Offer], ids: dict[str, Ids]) -> dict[str, Any]:
        product = self._product(product_id)
        if product is None:
            return {
                o.sku: ItemResult.rejected(
                    o.sku, f"TikTok has no product {product_id}; push its listing again"
                )
                for o in group
            }
        held = {str(s.get("id")): s for s in product.get("skus") or []}
        want = {o.sku: min(max(o.quantity, 0), MAX_QUANTITY) for o in group}
        sold_out = [o for o in group if want[o.sku] == 0]
        status = str(product.get("status") or "")
        out: dict[str, ItemResult] = {}
        if status == "SELLER_DEACTIVATED" and sold_out:
            return self._hidden(product_id, group, ids, held, sold_out)
        if status == "SELLER_DEACTIVATED":  # every variant it held back has stock again
            self._switch("activate", product_id)
        elif status != "ACTIVATE":
            message = (f"TikTok product {product_id} is {status or 'not live'}: TikTok takes "
                       "stock only for a live (ACTIVATE) product")  # fmt: skip
            return {o.sku: ItemResult.rejected(o.sku, message) for o in group}
        rows: list[tuple[Offer, str, list[Json]]] = []
        for o in group:
            sku = held.get(ids[o.sku]["sku_id"])
            if sku is None:
                out[o.sku] = ItemResult.rejected(o.sku, f"TikTok product {product_id} has no "
                                                 f"SKU id {ids[o.sku]['sku_id']}")  # fmt: skip
                continue
            if want[o.sku] == 0 and _total(sku) == 0:  # TikTok holds 0 already
                out[o.sku] = ItemResult.accepted(o.sku, **ids[o.sku])
                continue
            inventory, problem = self._inventory(sku, want[o.sku])
            if problem:
                out[o.sku] = ItemResult.rejected(o.sku, problem)
            else:
                rows.append((o, ids[o.sku]["sku_id"], inventory))
        refused_zero: list[Offer] = []
        if rows:
            try:
                data = self._call("POST", f"{API}/products/{product_id}/inventory/update",
                                  json={"skus": [{"id": sku_id, "inventory": inventory}
                                                 for _, sku_id, inventory in rows]})  # fmt: skip
                errors = _errors_by_sku(data)
            except _Refused as exc:
                errors = {sku_id: (exc.code, exc.said) for _, sku_id, _ in rows}
            for o, sku_id, _ in rows:
                error = errors.get(sku_id)
                if error is None:
                    out[o.sku] = ItemResult.accepted(o.sku, **ids[o.sku])
                elif want[o.sku] == 0 and error[0] in ZERO_REFUSED:
                    refused_zero.append(o)
                else:
                    out[o.sku] = ItemResult.rejected(o.sku, f"TikTok Shop: {error[1]} "
                                                     f"(code {error[0]})")  # fmt: skip
        if refused_zero:
            self._hide(product_id, [held[ids[o.sku]["sku_id"]] for o in refused_zero])
            out.update(self._sold_out(product_id, refused_zero, ids, len(held)))
        return out

    def _hide(self, product_id: str, sold_out: list[dict[str, Any]]) -> None:
        """Hide a product whose sold-out SKUs TikTok holds above 0: their count set to 1 first
        (the lowest TikTok takes), so that when the product is live again, before its new
        counts are written, no SKU offers more than 1; then deactivated."""
        body = {"skus": [{"id": str(sku.get("id")), "inventory": self._inventory(sku, 1)[0]}
                         for sku in sold_out]}  # fmt: skip
        with contextlib.suppress(_Refused):  # hiding it matters more
            self._call("POST", f"{API}/products/{product_id}/inventory/update", json=body)
        self._switch("deactivate", product_id)

    def _hidden(
        self, product_id: str, group: list[Offer], ids: dict[str, Ids], held: dict[str, Any],
        sold_out: list[Offer],
    ) -> dict[str, ItemResult]:  # fmt: skip
        """A product multichan hid while a variant is sold out, and still one in this batch."""
        out = self._sold_out(product_id, sold_out, ids, len(held))
        names = ", ".join(o.sku for o in sold_out)
        for o in group:
            out.setdefault(o.sku, ItemResult.rejected(
                o.sku, f"held: TikTok product {product_id} is hidden while {names} is sold out "
                "(TikTok takes stock only for a live product); sent once it is back in stock",
            ))  # fmt: skip
        return out

    def _sold_out(
        self, product_id: str, sold_out: list[Offer], ids: dict[str, Ids], variants: int
    ) -> dict[str, ItemResult]:
        if variants <= 1:  # the product is this SKU: hidden is its 0
            return {o.sku: ItemResult.accepted(o.sku, **ids[o.sku]) for o in sold_out}
        message = (f"sold out: TikTok takes no stock below 1 here, and has no switch per SKU, so "
                   f"product {product_id} is hidden (deactivated) with all its variants until "
                   "this SKU has stock again")  # fmt: skip
        return {o.sku: ItemResult.rejected(o.sku, message) for o in sold_out}

    def _switch(self, verb: str, product_id: str) -> None:
        """Activate or deactivate one product; a refusal is TikTok's message for its SKUs."""
        data = self._call("POST", f"{API}/products/{verb}", json={"product_ids": [product_id]})
        for error in data.get("errors") or []:
            raise _Refused(int(error.get("code") or 0), f"could not {verb} product "
                           f"{product_id}: {error.get('message')}")  # fmt: skip

    def _stock_row(self, quantity: int) -> dict[str, Any]:
        warehouse = self._warehouse()
        row: dict[str, Any] = {"warehouse_id": warehouse}
        if quantity > 0:  # TikTok's create takes [1, 99,999]; no quantity is no stock
            row["quantity"] = quantity
        return row

    def _inventory(self, sku: dict[str, Any], quantity: int) -> tuple[list[Json], str | None]:
        """Every warehouse of the SKU, ``warehouse_id``'s at ``quantity`` and the others as
        TikTok holds them; or why not."""
        rows = [r for r in sku.get("inventory") or [] if isinstance(r, dict)]
        mine = self._warehouse()
        if mine not in {str(r.get("warehouse_id")) for r in rows}:
            have = ", ".join(str(r.get("warehouse_id")) for r in rows) or "none"
            return [], (
                f"TikTok stocks this SKU in warehouse(s) {have}, not in {mine} "
                "(settings.warehouse_id); TikTok does not add a warehouse to a SKU"
            )
        return [
            {"warehouse_id": str(r.get("warehouse_id")),
             "quantity": quantity if str(r.get("warehouse_id")) == mine else
             int(r.get("quantity") or 0)}
            for r in rows
        ], None  # fmt: skip

    def _warehouse(self) -> str:
        warehouse = str(self.settings.get("warehouse_id") or "").strip()
        if not warehouse:
            raise Fatal(f"channel {self.name}: settings.warehouse_id is required (the TikTok "
                        "warehouse id, from Get Warehouse List)")  # fmt: skip
        return warehouse

    # --- orders and shipments -----------------------------------------------------------------
    def fetch_orders(self, since: datetime) -> Iterator[list[Order]]:
        pages = self.api.cursors(
            "POST", "/order/202309/orders/search",
            lambda token: {"params": to.search_query(token), "json": to.search_body(since)},
            _next_token,
        )  # fmt: skip
        for answer in pages:
            data = answer.body.get("data") or {}
            yield [to.to_order(o) for o in data.get("orders") or [] if isinstance(o, dict)]

    def ship(self, shipment: Any) -> ItemResult:
        key = shipment.key
        if not shipment.tracking_number:
            return ItemResult.rejected(key, "TikTok needs a tracking number to mark a package "
                                       "shipped")  # fmt: skip
        providers = {k.casefold(): v for k, v in (self.settings.get("shipping_providers")
                                                  or {}).items()}  # fmt: skip
        provider = providers.get((shipment.carrier or "").strip().casefold())
        try:
            data = self._call("GET", "/order/202309/orders", params={"ids": shipment.order_id})
        except _Refused as exc:
            return ItemResult.rejected(key, exc.message)
        order = next(iter(data.get("orders") or []), None)
        if not isinstance(order, dict):
            return ItemResult.rejected(key, f"TikTok has no order {shipment.number}")
        package = to.package_with(order, shipment.tracking_number)
        if package:  # sent before (an answer lost, a rerun): answered, not sent again
            return ItemResult.accepted(key, fulfillment_id=package)
        if shipment.remote_id:
            return ItemResult.rejected(
                key,
                f"TikTok package {shipment.remote_id} has other "
                "tracking; change it in Seller Center (within 72 h)",
            )
        if not provider:
            return ItemResult.rejected(key, f"no TikTok shipping_provider_id for carrier "
                                       f"{shipment.carrier!r}: add it under "
                                       "settings.shipping_providers")  # fmt: skip
        if order.get("status") == "CANCELLED":
            return ItemResult.rejected(key, f"TikTok order {shipment.number} is cancelled")
        units, missing = to.unit_ids(order, shipment)
        if missing:
            return ItemResult.rejected(key, f"TikTok: {missing}")
        body = {"tracking_number": shipment.tracking_number, "shipping_provider_id": provider,
                "order_line_item_ids": units}  # fmt: skip
        try:
            made = self._call("POST", f"/fulfillment/202309/orders/{shipment.order_id}/packages",
                              json=body, idempotent=False)  # fmt: skip
        except _Refused as exc:
            return ItemResult.rejected(key, exc.message)
        return ItemResult.accepted(key, fulfillment_id=str(made.get("package_id") or ""))

    # --- drift --------------------------------------------------------------------------------
    def fetch_remote(self, skus: Sequence[str]) -> dict[str, dict[str, Any]]:
        remote: dict[str, dict[str, Any]] = {}
        for product in self._search(list(skus)):
            live = product.get("status") == "ACTIVATE"
            for sku in product.get("skus") or []:
                seller = str(sku.get("seller_sku"))
                if seller in skus and seller not in remote:
                    price = (sku.get("price") or {}).get("sale_price") or (
                        sku.get("price") or {}).get("tax_exclusive_price")  # fmt: skip
                    remote[seller] = {"title": product.get("title"), "price": price,
                                      "quantity": _total(sku) if live else 0}  # fmt: skip
        return remote

    def remote_listings(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every SKU of every product of the shop, 100 products a page (see the module
        docstring)."""
        warehouse = self._warehouse()
        seen: set[str] = set()

        def page(token: str | None) -> dict[str, Any]:
            query = {"page_size": "100", **({"page_token": token} if token else {})}
            return {"params": query, "json": {"status": "ALL"}}

        for answer in self.api.cursors("POST", f"{API}/products/search", page, _next_token):
            for product in (answer.body.get("data") or {}).get("products") or []:
                if not isinstance(product, dict) or product.get("status") == "DELETED":
                    continue
                for sku, fields in _remote(product, warehouse):
                    if sku not in seen:
                        seen.add(sku)
                        yield sku, fields

    # --- ids ----------------------------------------------------------------------------------
    def _ids(self, offer: Offer) -> Ids:
        return dict(self.known_ids.get(offer.sku, {}))

    def _resolve(self, offers: list[Offer]) -> tuple[dict[str, Ids], dict[str, ItemResult]]:
        """product_id and sku_id of each SKU (recorded, else found by SKU); SKUs TikTok does
        not have are rejected."""
        ids = {o.sku: self._ids(o) for o in offers}
        missing = [s for s, i in ids.items() if not (i.get("product_id") and i.get("sku_id"))]
        found: dict[str, Ids] = {}
        for product in self._search(missing) if missing else []:
            for seller, sku_id in _sku_ids(product).items():
                found.setdefault(seller, {"product_id": str(product["id"]), "sku_id": sku_id})
        results: dict[str, ItemResult] = {}
        for sku in missing:
            if sku in found:
                ids[sku] = found[sku]
            else:
                del ids[sku]
                results[sku] = ItemResult.rejected(
                    sku, f"TikTok Shop has no SKU {sku}; push its listing first"
                )
        return ids, results

    def _settle(
        self, group: list[Offer], ids: dict[str, Ids], results: dict[str, ItemResult], send: Any
    ) -> None:
        try:
            errors = _errors_by_sku(send())
        except _Refused as exc:
            errors = {ids[o.sku]["sku_id"]: (exc.code, exc.said) for o in group}
        for o in group:
            error = errors.get(ids[o.sku]["sku_id"])
            results[o.sku] = (
                ItemResult.accepted(o.sku, **ids[o.sku]) if error is None
                else ItemResult.rejected(o.sku, f"TikTok Shop: {error[1]} (code {error[0]})")
            )  # fmt: skip

    def _product(self, product_id: str) -> dict[str, Any] | None:
        try:
            return self._call("GET", f"{API}/products/{product_id}")
        except _Refused as exc:
            if exc.code in (12052032, 12052260, 12052031):  # no such product
                return None
            raise

    def _search(self, skus: list[str]) -> list[dict[str, Any]]:
        """The products holding any of these seller SKUs (100 SKUs and products a page), but
        deleted ones."""
        products: list[dict[str, Any]] = []
        for i in range(0, len(skus), 100):
            part = skus[i : i + 100]

            def page(token: str | None, part: list[str] = part) -> dict[str, Any]:
                query = {"page_size": "100", **({"page_token": token} if token else {})}
                return {"params": query, "json": {"seller_skus": part}}

            pages = self.api.cursors("POST", f"{API}/products/search", page, _next_token)
            for answer in pages:
                found = (answer.body.get("data") or {}).get("products") or []
                products += [p for p in found if p.get("status") != "DELETED"]
        return products

    # --- HTTP -----------------------------------------------------------------------------------
    @functools.cached_property
    def api(self) -> ApiClient:
        s = self.settings
        auth = TikTokSign(
            str(s["app_key"]), s["app_secret"], s.get("access_token"), s.get("refresh_token"),
            shop_cipher=str(s.get("shop_cipher") or "") or None,
            token_url=s.get("token_url") or TikTokSign.TOKEN_URL,
        )  # fmt: skip
        return ApiClient(
            self, s.get("base_url") or "https://open-api.tiktokglobalshop.com",
            vendor="TikTok Shop", auth=auth, timeout=s.get("timeout") or 30,
            refine=self._refine, headers={"Accept": "application/json"},
            auth_hint="Check the app key, the shop_cipher and that the seller authorised the "
            "app (Product, Order and Fulfillment scopes)",
        )  # fmt: skip

    def _refine(self, answer: Answer) -> Exception | None:
        body = answer.body if isinstance(answer.body, dict) else None
        code = int(body.get("code") or 0) if body is not None else 0
        said = str((body or {}).get("message") or "refused")
        if code == EXPIRED:  # the token expired (in a 200 or a 401): refreshed, sent again
            return expired(self.api.redacted(Fatal(
                f"TikTok Shop: {said} (code {code}); check {self._names()}"
            )))  # fmt: skip
        if answer.status in (401, 403, 408, 429) or answer.status >= 500:
            return None  # the client's own reading: refresh, fatal, or retry
        if body is None:
            return Retriable(f"TikTok Shop answered {answer.method} {answer.path} with "
                             f"something that is not JSON (HTTP {answer.status})")  # fmt: skip
        if code == 0:
            return None
        if code in BUSY_CODES:
            return Retriable(f"TikTok Shop: {said} (code {code})")
        if code in AUTH_CODES:
            return Fatal(f"TikTok Shop refused {self._names()} ({said}, code {code}); check "
                         "the app key, shop_cipher and tokens")  # fmt: skip
        return _Refused(code, said)

    def _names(self) -> str:
        return " and ".join(f"${s.var}" for s in self.api.auth.secrets)

    def _call(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
        data: Any = None, headers: dict[str, str] | None = None, idempotent: bool = True,
    ) -> dict[str, Any]:  # fmt: skip
        """One call; its ``data`` (Retriable / Fatal / _Refused for the whole call)."""
        answer = self.api.request(method, path, params=params, json=json, data=data,
                                  headers=headers, idempotent=idempotent)  # fmt: skip
        found = answer.body.get("data") if isinstance(answer.body, dict) else None
        return found if isinstance(found, dict) else {}


Json = dict[str, Any]


def _next_token(answer: Answer) -> str | None:
    data = answer.body.get("data") if isinstance(answer.body, dict) else None
    return str((data or {}).get("next_page_token") or "") or None


def _groups(offers: list[Offer]) -> dict[str, list[Offer]]:
    groups: dict[str, list[Offer]] = {}
    for o in offers:
        groups.setdefault(o.item_group_id or o.sku, []).append(o)
    return groups


def _by_product(offers: list[Offer], ids: dict[str, Ids]) -> dict[str, list[Offer]]:
    found: dict[str, list[Offer]] = {}
    for o in offers:
        if o.sku in ids:
            found.setdefault(ids[o.sku]["product_id"], []).append(o)
    return found


def _sku_ids(product: dict[str, Any]) -> dict[str, str]:
    return {str(s.get("seller_sku")): str(s.get("id")) for s in product.get("skus") or []}


def _total(sku: dict[str, Any]) -> int:
    return sum(int(r.get("quantity") or 0) for r in sku.get("inventory") or [])


def _remote(product: dict[str, Any], warehouse: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(seller SKU, drift fields) of each SKU of a product from products/search."""
    live = product.get("status") == "ACTIVATE" and not product.get("is_not_for_sale")
    skus = [s for s in product.get("skus") or [] if isinstance(s, dict) and s.get("seller_sku")]
    for sku in skus:
        price = sku.get("price") or {}
        amount = price.get("tax_exclusive_price") or price.get("sale_price")
        try:
            shown = to_text(Decimal(str(amount)), price.get("currency")) if amount else None
        except ArithmeticError:
            shown = None
        here = sum(int(r.get("quantity") or 0) for r in sku.get("inventory") or []
                   if isinstance(r, dict) and str(r.get("warehouse_id")) == warehouse)  # fmt: skip
        fields: dict[str, Any] = {"price": shown, "quantity": here if live else 0,
                                  "listed": live}  # fmt: skip
        if len(skus) == 1:
            fields["title"] = str(product.get("title") or "")
        yield str(sku["seller_sku"]), fields


def _price(o: Offer) -> dict[str, str]:
    amount = o.sale_price if o.sale_price is not None else o.price
    return {"amount": to_text(amount, o.currency) or "0", "currency": o.currency}


def _html(text: str) -> str:
    """The description as TikTok's HTML: kept when it is HTML, else one paragraph a line."""
    if "<" in text and ">" in text:
        return text
    from html import escape

    lines = [escape(line) for line in text.splitlines() if line.strip()] or [escape(text)]
    return "".join(f"<p>{line}</p>" for line in lines)


def _key(channel: str, group: str, offers: list[Offer]) -> str:
    """The create's idempotency key: the same product of the same channel, the same key."""
    text = "\n".join([channel, group, *sorted(o.sku for o in offers)])
    return "multichan-" + hashlib.sha256(text.encode()).hexdigest()[:40]


def _errors_by_sku(data: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """``data.errors`` of a price or stock update, by the SKU id each names."""
    found: dict[str, tuple[int, str]] = {}
    for error in data.get("errors") or []:
        detail = error.get("detail") or {}
        extra = [e for e in detail.get("extra_errors") or [] if isinstance(e, dict)]
        message = str(error.get("message") or "refused")
        if extra:
            message += ": " + "; ".join(str(e.get("message")) for e in extra)
        code = int((extra[0].get("code") if extra else None) or error.get("code") or 0)
        found[str(detail.get("sku_id"))] = (code, message)
    return found
