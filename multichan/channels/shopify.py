"""Shopify: listings, prices and stock through the Admin GraphQL API (version 2025-01).

- Listings: one ``productSet`` call per product. Offers sharing an ``item_group_id`` become the
  variants of one product (options Color / Size). productSet replaces the variant list, so the
  product is read first and variants this batch does not carry are sent back by id, untouched.
  The product is found by its recorded id, else by a variant's SKU, else by its handle (the
  slug of the group id), so a group split over batches or a lost state makes no duplicates.
  An update keeps the product's status, except for a SKU in ``relisting`` (``drift --fix`` of
  a product the seller set to draft or archived there): its product is set ``ACTIVE``.
- Prices: ``productVariantsBulkUpdate`` per product, aliased (p0, p1...) so one request
  carries up to 100 products (10 points each: Shopify's 1,000-point query max) and 250
  variants; ``max_groups`` asks the engine for batches that fit one request. Each alias is
  all-or-nothing for its product only, so its userErrors reject that product's SKUs alone.
  A sale is price=sale_price with compareAtPrice=the original price (how Shopify shows "was").
- Stock: ``inventorySetQuantities`` with absolute "available" quantities at ``location_id``,
  compare-and-set (``compareQuantity``) where the engine says what Shopify should hold: a sale
  Shopify took that multichan has not pulled yet makes the count stale, and the write waits for
  the next pull instead of overwriting the sale. The call is all-or-nothing: the stale items
  are taken out and the rest sent again; a stale item whose count already is the one sent (a
  repeated write whose first answer was lost) is accepted.
- No argument list ever holds more than 250 items (Shopify's input limit).
- Cost-based throttling: each response's ``extensions.cost.throttleStatus`` says how full the
  bucket is; before a request whose cost is not available the channel sleeps (``self.sleep``)
  for missing points / restoreRate (the cost learnt per document: a price request of n
  products is its own document of 10 x n points). A THROTTLED answer is Retriable with that
  wait: Shopify ran nothing of that request.
- Remote ids recorded per SKU: product_id, variant_id, inventory_item_id (Shopify gids).
- Shipments: ``fulfillmentCreate`` against the order's fulfillment orders with tracking info
  (carrier names mapped to Shopify's in ``shopify_orders.CARRIERS``), after reading the order's
  fulfillments, so a parcel already on Shopify is never made twice.
- A send can be many calls (a product read and a productSet per product; prices and stock
  take one call per 100 products / 250 variants). The shared API client sends a call again
  when it fails for a reason that may pass (429, 5xx, THROTTLED, timeout, reset): reads and
  absolute writes are safe to repeat. A productSet that creates a product is not (a lost
  answer would make a duplicate), so its failure fails the batch; the engine sends it again
  and productSet finds the product by id, SKU or handle.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote

from multichan.channels import shopify_orders as so
from multichan.channels import shopify_queries as q
from multichan.channels.api import Answer, ApiClient
from multichan.channels.auth import Token
from multichan.channels.base import Channel, Fatal, ItemResult, RateLimit, Retriable, SettingSpec
from multichan.offers import Offer
from multichan.orders.model import Order

Ids = dict[str, str]


class Shopify(Channel):
    """Shopify Admin GraphQL API: products with variants, prices, stock at one location."""

    type = "shopify"
    description = "Shopify store (Admin GraphQL API): products, prices, stock at one location"
    supports = frozenset({"listings", "prices", "quantities", "orders", "shipments"})
    max_batch: ClassVar[dict[str, int]] = {"listings": 50, "prices": 250, "quantities": 250}
    max_groups: ClassVar[dict[str, int]] = {"prices": q.MAX_MUTATIONS}  # products per request
    grouped = frozenset({"listings", "prices"})  # stock: inventory items of any product
    # HTTP requests; Shopify's real limit is its query-cost bucket, paced inside the module
    rate_limit = RateLimit(requests_per_second=10, burst=20)
    accepts_html = True  # descriptions are HTML there
    compare_and_set = True  # inventorySetQuantities' compareQuantity
    max_title, max_description = 255, 65_535
    settings_schema: ClassVar[dict[str, SettingSpec]] = {
        "base_url": SettingSpec("url", required=True, help="https://my-shop.myshopify.com"),
        "token": SettingSpec("secret", required=True, help="${SHOPIFY_TOKEN}, an Admin API token"),
        "location_id": SettingSpec(
            "str", help="gid://shopify/Location/123..., where stock is set (needed for quantities)"
        ),
        "api_version": SettingSpec("str", default="2025-01", help="Admin API version"),
        "timeout": SettingSpec("int", default=30, help="seconds per request"),
    }
    credential_env = ("SHOPIFY_TOKEN",)

    def __init__(self, name: str, settings: Any, session: Any = None) -> None:
        super().__init__(name, settings, session)
        self._bucket: tuple[float, float, float, float] | None = None  # avail, max, rate, at
        self._costs: dict[str, float] = {}  # the last requested cost seen per document

    @property
    def endpoint(self) -> str:
        version = self.settings.get("api_version") or "2025-01"
        return f"{self.settings['base_url']}/admin/api/{version}/graphql.json"

    # --- listings ---------------------------------------------------------------------------
    def upsert_listings(self, offers: list[Offer]) -> list[ItemResult]:
        groups: dict[str, list[Offer]] = {}
        for offer in offers:
            groups.setdefault(offer.item_group_id or offer.sku, []).append(offer)
        unknown = [o.sku for o in offers if not self._ids(o.sku).get("product_id")]
        found = self._search(unknown)
        results: dict[str, ItemResult] = {}
        for key, group in groups.items():
            ids = [self._ids(o.sku).get("product_id") or found.get(o.sku, {}).get("product_id")
                   for o in group]  # fmt: skip
            product_id = next((i for i in ids if i), None)
            done = self._set_product(key, group, product_id)
            results.update((result.sku, result) for result in done)
        return [results[o.sku] for o in offers]

    def _set_product(
        self, key: str, group: list[Offer], product_id: str | None
    ) -> list[ItemResult]:
        product = self._product({"id": product_id}) if product_id else None
        product = product or self._product({"handle": q.handle(key)})
        remote = product["variants"] if product else []
        names, rows = q.option_table(group)
        by_id = {v["id"]: v for v in remote}
        by_sku = {v["sku"]: v for v in remote if v.get("sku")}
        mine: dict[str, tuple[str, dict[str, Any]]] = {}  # remote variant id -> (sku, input)
        new: list[tuple[str | None, dict[str, Any]]] = []
        for offer, row in zip(group, rows, strict=True):
            known = by_id.get(self._ids(offer.sku).get("variant_id", "")) or by_sku.get(offer.sku)
            if known and known["id"] not in mine:
                mine[known["id"]] = (offer.sku, q.variant_input(offer, names, row, known["id"]))
            else:
                new.append((offer.sku, q.variant_input(offer, names, row, None)))
        slots: list[tuple[str | None, dict[str, Any]]] = []  # Shopify's order, new ones last
        for v in remote:  # variants this batch does not carry are sent back as they are
            chosen = [{"optionName": o["name"], "name": o["value"]} for o in v["selectedOptions"]]
            slots.append(mine.get(v["id"]) or (None, {"id": v["id"], "optionValues": chosen}))
        slots += new
        variants = [variant for _, variant in slots]
        if len(variants) > q.MAX_INPUT:
            message = f"the product would have {len(variants)} variants; at most 250 per call"
            return [ItemResult.rejected(o.sku, message) for o in group]
        options: dict[str, dict[str, None]] = {}
        for variant in variants:
            for choice in variant["optionValues"]:
                options.setdefault(choice["optionName"], {})[choice["name"]] = None
        data = q.product_input(group, product["id"] if product else None, key)
        if any(o.sku in self.relisting for o in group):
            data["status"] = "ACTIVE"  # taken off sale by hand: drift --fix puts it back
        data["productOptions"] = [
            {"name": n, "values": [{"name": v} for v in vals]} for n, vals in options.items()
        ]
        data["variants"] = variants
        # a productSet that creates a product is sent once: were its answer lost, sending it
        # again would make a second product; the engine's retry finds the first by SKU/handle
        answer = self._call(q.PRODUCT_SET, {"input": data}, idempotent=product is not None)
        answer = answer["productSet"]
        if answer.get("userErrors"):
            return q.rejections([sku for sku, _ in slots], answer["userErrors"], "variants")
        saved = answer.get("product") or {}
        nodes = {n.get("sku"): n for n in saved.get("variants", {}).get("nodes", [])}
        results = []
        for offer in group:
            node = nodes.get(offer.sku)
            if node is None:
                message = "Shopify saved the product but returned no variant with this SKU"
                results.append(ItemResult.rejected(offer.sku, message, retriable=True))
                continue
            results.append(
                ItemResult.accepted(
                    offer.sku, product_id=saved["id"], variant_id=node["id"],
                    inventory_item_id=node["inventoryItem"]["id"],
                )
            )  # fmt: skip
        return results

    def _product(self, identifier: dict[str, str]) -> dict[str, Any] | None:
        """The product's id and all its variants, or None when Shopify has no such product."""
        variables: dict[str, Any] = {"identifier": identifier, "after": None}
        nodes: list[dict[str, Any]] = []
        while True:
            product = self._call(q.PRODUCT, variables)["productByIdentifier"]
            if product is None:
                return None
            nodes += product["variants"]["nodes"]
            page = product["variants"]["pageInfo"]
            if not page["hasNextPage"]:
                return {"id": product["id"], "variants": nodes}
            variables["after"] = page["endCursor"]

    # --- prices and stock ---------------------------------------------------------------------
    def update_prices(self, offers: list[Offer]) -> list[ItemResult]:
        ids, results = self._resolve(offers, "variant_id")
        by_product: dict[str, list[Offer]] = {}
        for offer in offers:
            if offer.sku in ids:
                by_product.setdefault(ids[offer.sku]["product_id"], []).append(offer)
        parts = [part for group in by_product.values() for part in _chunks(group)]
        for request in q.price_requests(parts):
            answer = self._call(q.prices(len(request)), q.price_variables(request, ids))
            for i, part in enumerate(request):  # each alias answers for its own product
                payload = answer.get(f"p{i}") or {"userErrors": [{"message": "no answer"}]}
                self._settle(part, ids, payload.get("userErrors"), "variants", results)
        return [results[o.sku] for o in offers]

    def update_quantities(self, offers: list[Offer]) -> list[ItemResult]:
        self._location()  # no location_id: a configuration error before any request
        ids, results = self._resolve(offers, "inventory_item_id")
        ready = [o for o in offers if o.sku in ids]
        for part in _chunks(ready):
            # ignoreCompareQuantity holds for a whole call: counts to compare go apart
            self._set_quantities([o for o in part if o.sku not in self.expected], ids, results)
            self._set_quantities([o for o in part if o.sku in self.expected], ids, results)
        return [results[o.sku] for o in offers]

    def _set_quantities(
        self, part: list[Offer], ids: dict[str, Ids], results: dict[str, ItemResult]
    ) -> None:
        location = self._location()
        while part:
            quantities = []
            for o in part:
                row = {"inventoryItemId": ids[o.sku]["inventory_item_id"],
                       "locationId": location, "quantity": max(0, o.quantity)}  # fmt: skip
                if o.sku in self.expected:
                    row["compareQuantity"] = self.expected[o.sku]
                quantities.append(row)
            data = {
                "name": "available",
                "reason": "correction",
                "referenceDocumentUri": f"multichan://push/{quote(self.name, safe='')}",
                "ignoreCompareQuantity": not any(o.sku in self.expected for o in part),
                "quantities": quantities,
            }
            answer = self._call(q.QUANTITIES, {"input": data})["inventorySetQuantities"]
            errors = answer.get("userErrors") or []
            stale = [part[i] for i in sorted(q.stale_items(errors)) if i < len(part)]
            if not stale:
                self._settle(part, ids, errors, "quantities", results)
                return
            held = self._available([o.sku for o in stale], location)
            for o in stale:
                if held.get(o.sku) == max(0, o.quantity):
                    results[o.sku] = ItemResult.accepted(o.sku, **ids[o.sku])
                else:
                    results[o.sku] = ItemResult.stale_count(
                        o.sku,
                        f"Shopify holds {held.get(o.sku, 'no count')} where multichan expected "
                        f"{self.expected[o.sku]}: a sale not pulled yet? sent after the next pull",
                    )
            part = [o for o in part if o.sku not in results]

    def _available(self, skus: list[str], location: str) -> dict[str, int]:
        """Shopify's available count of each SKU at ``location``."""
        held: dict[str, int] = {}
        for i in range(0, len(skus), q.SKUS_PER_SEARCH):
            part = skus[i : i + q.SKUS_PER_SEARCH]
            variables = {"query": q.sku_query(part), "first": 2 * len(part), "location": location}
            for v in self._call(q.LEVELS, variables)["productVariants"]["nodes"]:
                level = (v.get("inventoryItem") or {}).get("inventoryLevel")
                if v.get("sku") in part and level and v["sku"] not in held:
                    held[v["sku"]] = int(level["quantities"][0]["quantity"])
        return held

    # --- orders -------------------------------------------------------------------------------
    def fetch_orders(self, since: datetime) -> Iterator[list[Order]]:
        """Orders changed at or after ``since``, oldest change first, a page at a time; an
        order with more line items or refunds than a page shows is read again alone."""
        variables: dict[str, Any] = {
            "first": so.ORDERS_PER_PAGE, "after": None, "query": so.orders_query(since),
        }  # fmt: skip
        while True:
            found = self._call(so.ORDERS, variables)["orders"]
            page = []
            for node in found["nodes"]:
                if so.overflows(node):
                    node, lines = self._whole_order(node["id"])
                else:
                    lines = node["lineItems"]["nodes"]
                page.append(so.to_order(node, lines))
            yield page
            if not found["pageInfo"]["hasNextPage"]:
                return
            variables["after"] = found["pageInfo"]["endCursor"]

    # --- shipments ----------------------------------------------------------------------------
    def ship(self, shipment: Any) -> ItemResult:
        """fulfillmentCreate against the order's fulfillment orders, with tracking; the
        tracking of one sent before is updated (fulfillmentTrackingInfoUpdate). A fulfillment
        with the same tracking number, or lines with nothing left to fulfil, mean the parcel
        is on Shopify already (a send whose answer was lost): answered, not made again."""
        tracking = so.tracking_input(shipment.carrier, shipment.tracking_number,
                                     shipment.tracking_url)  # fmt: skip
        if shipment.remote_id:
            answer = self._call(so.TRACKING_UPDATE, {"id": shipment.remote_id,
                                                     "tracking": tracking})  # fmt: skip
            return self._shipped(shipment, answer["fulfillmentTrackingInfoUpdate"])
        state = self._call(so.FULFILMENT_STATE, {"id": shipment.order_id})["order"]
        if state is None:
            return ItemResult.rejected(shipment.key, f"Shopify has no order {shipment.number}")
        number = shipment.tracking_number
        for done in state["fulfillments"]:
            if number and any(t.get("number") == number for t in done["trackingInfo"]):
                return ItemResult.accepted(shipment.key, fulfillment_id=done["id"])
        wanted: dict[str, int] = {}
        for line in shipment.lines:
            wanted[line.line_id] = wanted.get(line.line_id, 0) + line.quantity
        groups = so.fulfilment_lines(state, wanted)
        if not groups:
            done = so.fulfilled(state)
            if all(done.get(line, 0) >= units for line, units in wanted.items()):
                # on Shopify already: the fulfillment that holds these units, by its id
                return ItemResult.accepted(shipment.key, **so.holding(state, wanted))
            statuses = sorted({fo["status"] for fo in state["fulfillmentOrders"]["nodes"]})
            return ItemResult.rejected(
                shipment.key,
                f"Shopify: order {shipment.number} has nothing left to fulfil for these lines "
                f"(fulfillment order {', '.join(statuses) or 'missing'}: cancelled there?)",
            )
        data: dict[str, Any] = {"lineItemsByFulfillmentOrder": groups, "notifyCustomer": True}
        if tracking:
            data["trackingInfo"] = tracking
        answer = self._call(so.FULFILMENT_CREATE, {"fulfillment": data}, idempotent=False)
        return self._shipped(shipment, answer["fulfillmentCreate"])

    @staticmethod
    def _shipped(shipment: Any, payload: dict[str, Any]) -> ItemResult:
        errors = payload.get("userErrors") or []
        if errors:
            text = "; ".join(str(e.get("message") or "refused") for e in errors)
            return ItemResult.rejected(shipment.key, f"Shopify: {text}")
        return ItemResult.accepted(shipment.key, fulfillment_id=payload["fulfillment"]["id"])

    def _whole_order(self, order_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        variables: dict[str, Any] = {"id": order_id, "after": None}
        lines: list[dict[str, Any]] = []
        while True:
            node = self._call(so.ORDER, variables)["order"]
            lines += node["lineItems"]["nodes"]
            if not node["lineItems"]["pageInfo"]["hasNextPage"]:
                return node, lines
            variables["after"] = node["lineItems"]["pageInfo"]["endCursor"]

    def remote_listings(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every variant with a SKU, a page of ``q.LISTINGS_PAGE`` at a time (cost-paced like
        every call): prices, whether its product is active, its title where the product has
        no other variant, and its "available" count at ``location_id`` (when set)."""
        location = str(self.settings.get("location_id") or "").strip()
        doc = q.listings(bool(location))
        variables: dict[str, Any] = {"first": q.LISTINGS_PAGE, "after": None}
        if location:
            variables["location"] = self._location()
        while True:
            found = self._call(doc, variables)["productVariants"]
            for node in found["nodes"]:
                if node.get("sku"):  # a SKU on two variants: the drift engine takes the first
                    yield node["sku"], q.listing_fields(node)
            if not found["pageInfo"]["hasNextPage"]:
                return
            variables["after"] = found["pageInfo"]["endCursor"]

    def fetch_remote(self, skus: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Title, price, sale price and quantity (all locations) of each SKU Shopify has."""
        remote = {}
        for sku, v in self._search(list(skus)).items():
            sale = v.get("compareAtPrice") is not None
            remote[sku] = {
                "title": v["title"],
                "price": v["compareAtPrice"] if sale else v["price"],
                "sale_price": v["price"] if sale else None,
                "quantity": v.get("inventoryQuantity"),
            }
        return remote

    def _settle(
        self,
        part: list[Offer],
        ids: dict[str, Ids],
        errors: list[dict[str, Any]] | None,
        array: str,
        results: dict[str, ItemResult],
    ) -> None:
        if errors:
            for r in q.rejections([o.sku for o in part], errors, array):
                results[r.sku] = r
        else:
            results.update({o.sku: ItemResult.accepted(o.sku, **ids[o.sku]) for o in part})

    def _resolve(
        self, offers: list[Offer], need: str
    ) -> tuple[dict[str, Ids], dict[str, ItemResult]]:
        """The ids of each SKU (recorded, else looked up by SKU); SKUs Shopify does not have
        are rejected."""
        ids = {o.sku: self._ids(o.sku) for o in offers}
        missing = [s for s, i in ids.items() if not (i.get(need) and i.get("product_id"))]
        found = self._search(missing)
        results: dict[str, ItemResult] = {}
        for sku in missing:
            if sku in found:
                ids[sku] = {k: found[sku][k] for k in ("product_id", "variant_id",
                                                        "inventory_item_id")}  # fmt: skip
            else:
                del ids[sku]
                results[sku] = ItemResult.rejected(
                    sku, f"Shopify has no variant with SKU {sku}; push its listing first"
                )
        return ids, results

    def _search(self, skus: list[str]) -> dict[str, dict[str, Any]]:
        """Shopify's variants with exactly these SKUs (the first one when a SKU repeats)."""
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(skus), q.SKUS_PER_SEARCH):
            part = skus[i : i + q.SKUS_PER_SEARCH]
            variables = {"query": q.sku_query(part), "first": 2 * len(part)}
            for v in self._call(q.VARIANTS, variables)["productVariants"]["nodes"]:
                if v.get("sku") in part and v["sku"] not in found:
                    found[v["sku"]] = {
                        **v, "product_id": v["product"]["id"], "variant_id": v["id"],
                        "inventory_item_id": v["inventoryItem"]["id"],
                        "title": v["product"]["title"],
                    }  # fmt: skip
        return found

    def _ids(self, sku: str) -> Ids:
        return dict(self.known_ids.get(sku, {}))

    def _location(self) -> str:
        location = str(self.settings.get("location_id") or "").strip()
        if not location:
            raise Fatal(
                f"channel {self.name}: settings.location_id is required to set stock "
                "(gid://shopify/Location/<id>, under Settings > Locations in the Shopify admin)"
            )
        return location if location.startswith("gid://") else f"gid://shopify/Location/{location}"

    # --- HTTP, errors and the cost bucket -----------------------------------------------------
    @functools.cached_property
    def api(self) -> ApiClient:
        return ApiClient(
            self, self.endpoint, vendor="Shopify",
            auth=Token(self.settings["token"], header="X-Shopify-Access-Token", scheme=""),
            timeout=self.settings.get("timeout") or 30, headers={"Accept": "application/json"},
            auth_hint="Check it is the shop's Admin API token with write_products, "
            "write_inventory and read_orders",
        )  # fmt: skip

    def _call(
        self, doc: q.Doc, variables: dict[str, Any], idempotent: bool = True
    ) -> dict[str, Any]:
        """POST one document; its ``data``, or Retriable / Fatal for the whole batch. Reads and
        absolute writes are sent again by the client after a failure that may pass (a THROTTLED
        answer ran nothing); a productSet that creates a product is not (``idempotent``)."""
        self._wait_for(max(doc.cost, self._costs.get(doc.name, 0.0)))

        def refine(answer: Answer) -> Exception | None:
            status = answer.status
            if status == 404:
                return Fatal(f"no Shopify Admin API at {self.endpoint} (HTTP 404): check base_url")
            if status >= 400:
                if status in (401, 403, 408, 429) or status >= 500:
                    return None  # the client's own reading
                return Fatal(f"Shopify refused {doc.name} (HTTP {status}): {answer.text[:300]}")
            if not isinstance(answer.body, dict):
                return Retriable("Shopify answered with something that is not JSON")
            cost = self._note_cost(doc, answer.body)
            if answer.body.get("errors"):
                return self._error(doc, answer.body["errors"], cost)
            return None

        body = {"query": doc.text, "variables": variables, "operationName": doc.name}
        return self.api.request("POST", json=body, idempotent=idempotent, refine=refine).body[
            "data"
        ]

    def _error(self, doc: q.Doc, errors: Any, cost: dict[str, Any]) -> Exception:
        if not isinstance(errors, list):
            return Fatal(f"Shopify refused {doc.name}: {errors}")
        codes = {str((e.get("extensions") or {}).get("code")) for e in errors}
        text = "; ".join(str(e.get("message")) for e in errors)
        if "THROTTLED" in codes:
            status = cost.get("throttleStatus") or {}
            rate = float(status.get("restoreRate") or 0)
            need = float(cost.get("requestedQueryCost") or 0)
            need -= float(status.get("currentlyAvailable") or 0)
            wait = max(need, 1.0) / rate if rate > 0 else None
            return Retriable(f"Shopify throttled {doc.name} (cost limit)", retry_after=wait)
        if codes & {"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE", "TIMEOUT"}:
            return Retriable(f"Shopify failed on {doc.name}: {text}")
        if "ACCESS_DENIED" in codes:
            var = self.settings["token"].var
            return Fatal(f"the token in ${var} may not do {doc.name}: {text}")
        return Fatal(f"Shopify refused {doc.name} (API {self.settings.get('api_version')}): {text}")

    def _note_cost(self, doc: q.Doc, body: dict[str, Any]) -> dict[str, Any]:
        cost = (body.get("extensions") or {}).get("cost") or {}
        status = cost.get("throttleStatus") or {}
        if cost.get("requestedQueryCost") is not None:
            self._costs[doc.name] = float(cost["requestedQueryCost"])
        if status.get("currentlyAvailable") is not None and status.get("restoreRate"):
            self._bucket = (
                float(status["currentlyAvailable"]),
                float(status.get("maximumAvailable") or status["currentlyAvailable"]),
                float(status["restoreRate"]),
                self.clock(),
            )
        return cost

    def _wait_for(self, cost: float) -> None:
        """Sleep until the bucket, as last reported and restored since, holds ``cost``."""
        if self._bucket is None:
            return
        available, maximum, rate, at = self._bucket
        available = min(maximum, available + (self.clock() - at) * rate)
        needed = min(cost, maximum) - available
        if needed > 0:
            self.sleep(math.ceil(needed / rate * 1000) / 1000)  # whole milliseconds, rounded up


def _chunks(offers: list[Offer]) -> list[list[Offer]]:
    return [offers[i : i + q.MAX_INPUT] for i in range(0, len(offers), q.MAX_INPUT)]
