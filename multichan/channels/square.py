"""Square, the physical store's POS: items and prices through the Catalog API, on-hand stock at
one location through the Inventory API, orders through SearchOrders and shipments as the
order's SHIPMENT fulfillment (RetrieveOrder, UpdateOrder). Owns the mapping of offers to
Square's objects and of Square's answers (ids, ``errors[]``, HTTP statuses) back to one
ItemResult per SKU or per parcel.

Square's rules this module follows (api.json 2025-08-20 unless noted):
- ``POST /v2/catalog/batch-upsert`` takes up to 1,000 objects per batch and 10,000 per request;
  each batch is all-or-nothing, other batches of the request still succeed. One item (with its
  variations) goes in one batch, so a bad item never takes its neighbours down.
- An upsert replaces the whole object: variations left out of an item are deleted, and an update
  must carry the version Square holds. Existing items and variations are therefore read first
  (``batch-retrieve``), changed, and written back; new ones get ``#``-prefixed temporary ids.
- ``POST /v2/inventory/changes/batch-create`` takes at most 100 changes (Square's SDK docs:
  BatchChangeInventoryRequest "Max size is 100 changes"); counts are absolute PHYSICAL_COUNTs.
- Square publishes no rate numbers ("we don't document the limits", Square's developer forum)
  and answers 429 to a second concurrent catalog write; one send makes at most two requests.
- Shipments (``ship``): the order is read first (``GET /v2/orders/{id}``: its fulfillments and
  ``version``), so a parcel already there (its fulfillment uid or tracking number, from a send
  whose answer was lost) is answered, not sent again; what to write is
  ``square_orders.plan_shipment`` (one fulfillment per order: a parcel of some lines only is
  refused, a till sale has nothing to ship). The write is ``PUT /v2/orders/{id}`` with the
  version read and an idempotency key from the parcel's key, the fulfillment written and that
  version, so a resend after a lost answer is one update at Square too. An update that meets
  another change (400 VERSION_MISMATCH on ``order.version``: the order changed since it was
  read) is read and planned again, and sent once more. The fulfillment's uid is the parcel's
  ``fulfillment_id``; tracking given later updates that fulfillment's ``shipment_details``.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import html
import json
import re
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from multichan.channels import square_orders as sq_orders
from multichan.channels.api import Answer, ApiClient
from multichan.channels.auth import Token
from multichan.channels.base import (
    Channel,
    Fatal,
    ItemResult,
    RateLimit,
    Retriable,
    SettingSpec,
)
from multichan.money import from_minor, to_text
from multichan.money import to_minor as minor_units  # Square's Money.amount (tests use the name)
from multichan.offers import Offer
from multichan.orders.model import Order

API_VERSION = "2025-08-20"  # Square-Version of the contract the tests run against
PER_BATCH, PER_REQUEST = 1000, 10_000  # batch-upsert object limits
NOT_LISTED = "not listed on square yet; push listings first"
LISTING_PAGE = 100  # items per SearchCatalogObjects page, variation ids per count request
TAG_RE = re.compile(r"</?[A-Za-z][^>]*>")
INDEX_RE = re.compile(r"(?:batches|changes)\W{0,2}(\d+)")
BOUND = r"(?<![\w#:-])%s(?![\w-])"  # an id, not part of a longer one
Unit = tuple[list[str], set[str]]  # SKUs of one batch/change, and ids that name it in errors
Sent = tuple[list[Offer], dict[str, Any], str, dict[str, str]]  # offers, object, item id, var ids
Results = dict[str, ItemResult]
EVERYWHERE = {"present_at_all_locations": True}  # new objects: at every location, as in Square


class _Refused(Exception):
    """Square answered 4xx with ``errors[]``: the items of the request were not saved."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("refused")
        self.errors = errors


def price_money(offer: Offer) -> dict[str, Any]:
    """What the till should charge: the sale price when there is one (Square has no sale price
    on a variation; discounts are separate objects)."""
    currency = offer.currency.upper()
    amount = offer.sale_price if offer.sale_price is not None else offer.price
    return {"amount": minor_units(amount, currency), "currency": currency}


def names(offer: Offer) -> tuple[str, str]:
    """(item name, variation name): variant titles are "Product - Options" in our importers."""
    if offer.item_group_id and " - " in offer.title:
        head, _, tail = offer.title.rpartition(" - ")
        if head.strip() and tail.strip():
            return head.strip(), tail.strip()
    if not offer.item_group_id:
        return offer.title, "Regular"  # Square's name for the only variation of an item
    return offer.title, " / ".join(v for v in (offer.color, offer.size) if v) or offer.sku


def description_html(text: str) -> str:
    """Square's ``description_html`` (plain ``description`` is deprecated since 2022-07-20)."""
    if TAG_RE.search(text):
        return text[:65535]
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)


def index(objects: Iterable[dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """Catalog objects by id, an item's nested variations included."""
    found: dict[str, dict[str, Any]] = {}
    for obj in objects or []:
        found[obj.get("id", "")] = obj
        for var in (obj.get("item_data") or {}).get("variations") or []:
            found.setdefault(var.get("id", ""), var)
    return found


def blame(errors: list[dict[str, Any]], units: list[Unit]) -> tuple[dict[str, str], list[str]]:
    """Square's errors as per-SKU messages where the error's field or detail names a batch or
    change index or one of a unit's ids; the rest as messages about the whole request."""
    per_sku: dict[str, str] = {}
    general: list[str] = []
    for error in errors:
        where = f"{error.get('field') or ''} {error.get('detail') or ''}"
        text = f"{error.get('code') or 'ERROR'}: {error.get('detail') or 'refused'}"
        text += f" (field {error['field']})" if error.get("field") else ""
        hits = [u for u in units if any(n and re.search(BOUND % re.escape(n), where) for n in u[1])]
        match = INDEX_RE.search(where)
        if not hits and match and int(match.group(1)) < len(units):
            hits = [units[int(match.group(1))]]
        for skus, _ in hits:
            for sku in skus:
                per_sku[sku] = f"{per_sku[sku]}; {text}" if sku in per_sku else text
        if not hits:
            general.append(text)
    return per_sku, general


class Square(Channel):
    """Square POS: one catalog item per item group, one variation per SKU, stock at one location."""

    type = "square"
    description = "Square POS: catalog items, prices and on-hand stock at one store location"
    supports = frozenset({"listings", "prices", "quantities", "orders", "shipments"})
    late_orders = timedelta(hours=72)  # offline POS orders reach Square up to 72 h late
    max_batch: ClassVar[dict[str, int]] = {"listings": 100, "prices": 100, "quantities": 100}
    grouped = frozenset({"listings"})  # a price or a count is written per variation
    rate_limit = RateLimit(requests_per_second=10, burst=20)
    accepts_html = True  # descriptions are HTML there
    max_title, max_description = 255, 65_535
    settings_schema: ClassVar[dict[str, SettingSpec]] = {
        "base_url": SettingSpec("url", default="https://connect.squareup.com",
                                help="https://connect.squareupsandbox.com for the sandbox"),
        "token": SettingSpec("secret", required=True,
                             help="${SQUARE_TOKEN}; ITEMS_*, INVENTORY_WRITE, ORDERS_READ, "
                             "ORDERS_WRITE"),
        "location_id": SettingSpec("str", required=True, help="the store's Square location id"),
        "square_version": SettingSpec("str", default=API_VERSION, help="Square-Version header"),
        "timeout": SettingSpec("int", default=30, help="seconds per request"),
    }  # fmt: skip
    credential_env = ("SQUARE_TOKEN",)

    def __init__(self, name: str, settings: dict[str, Any], session: Any = None) -> None:
        super().__init__(name, settings, session)
        self._counted_at: dict[str, tuple[float, str]] = {}  # stock content -> its occurred_at

    # --- listings ------------------------------------------------------------------------
    def upsert_listings(self, offers: list[Offer]) -> list[ItemResult]:
        """One ITEM per item group (an existing one as Square holds it, so variations that
        are not in this batch stay), one variation per SKU, each item in its own batch."""
        results: Results = {}
        group_item = {o.item_group_id: i for o in reversed(offers)
                      if o.item_group_id and (i := self._known(o, "item_id"))}  # fmt: skip
        groups: dict[tuple[str, str], list[Offer]] = {}
        for o in self._priced(offers, results, listed=False):
            item_id = self._known(o, "item_id") or group_item.get(o.item_group_id or "")
            key = ("item", item_id) if item_id else ("new", o.item_group_id or o.sku)
            groups.setdefault(key, []).append(o)
        try:
            current = self._retrieve([ref for kind, ref in groups if kind == "item"])
        except _Refused as exc:
            return self._refused(offers, results, exc.errors, [])
        sent: list[Sent] = []
        total = 0
        for (kind, ref), group in groups.items():
            found = current.get(ref, {}) if kind == "item" else {}
            item, var_ids = self._item(found if found.get("type") == "ITEM" else None, group)
            size = 1 + len(item["item_data"]["variations"])
            if size > PER_BATCH or total + size > PER_REQUEST:
                why = f"the item would need {size} objects in a request already holding {total}"
                for o in group:
                    results[o.sku] = ItemResult.rejected(o.sku, why, retriable=size <= PER_BATCH)
                continue
            total += size
            sent.append((group, item, item["id"], var_ids))
        return self._upsert(offers, results, sent)

    def _item(
        self, current: dict[str, Any] | None, group: list[Offer]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """The ITEM to write for ``group`` (Square's current one, changed, or a new one) and
        the id each SKU's variation has in it."""
        first = group[0]
        temp = {"type": "ITEM", "id": f"#item:{first.item_group_id or first.sku}", **EVERYWHERE}
        item: dict[str, Any] = copy.deepcopy(current) if current else temp
        kept = (item.get("item_data") or {}).items()
        data = item["item_data"] = {k: v for k, v in kept if not k.startswith("description")}
        data["name"] = names(first)[0][:512]
        if first.description.strip():
            data["description_html"] = description_html(first.description)
        variations = data.setdefault("variations", [])
        by_id = {v.get("id"): v for v in variations}
        by_sku = {(v.get("item_variation_data") or {}).get("sku"): v for v in variations}
        var_ids: dict[str, str] = {}
        for o in group:
            var = by_id.get(self._known(o, "variation_id")) or by_sku.get(o.sku)
            if var is None:
                variations.append(
                    var := {"type": "ITEM_VARIATION", "id": f"#{o.sku}", **EVERYWHERE}
                )
            fields = var.setdefault("item_variation_data", {})
            fields.update(item_id=item["id"], name=names(o)[1][:255], sku=o.sku,
                          pricing_type="FIXED_PRICING", price_money=price_money(o),
                          track_inventory=True)  # fmt: skip
            if o.gtin:
                fields["upc"] = o.gtin
            var_ids[o.sku] = var["id"]
        return item, var_ids

    # --- prices ----------------------------------------------------------------------------
    def update_prices(self, offers: list[Offer]) -> list[ItemResult]:
        """Each variation as Square holds it, with the new price, written back alone in its
        own batch: the item keeps its other variations and a bad price fails alone."""
        results: Results = {}
        todo = self._priced(offers, results, listed=True)
        try:
            current = self._retrieve([self._known(o, "variation_id") or "" for o in todo])
        except _Refused as exc:
            return self._refused(offers, results, exc.errors, [])
        sent: list[Sent] = []
        for o in todo:
            var_id = self._known(o, "variation_id") or ""
            var = copy.deepcopy(current.get(var_id, {}))
            if var.get("type") != "ITEM_VARIATION":
                gone = f"variation {var_id} is no longer on Square; push its listing again"
                results[o.sku] = ItemResult.rejected(o.sku, gone)
                continue
            fields = var.setdefault("item_variation_data", {})
            fields.update(pricing_type="FIXED_PRICING", price_money=price_money(o))
            sent.append(([o], var, fields.get("item_id") or "", {o.sku: var_id}))
        return self._upsert(offers, results, sent)

    # --- the catalog write shared by listings and prices -----------------------------------
    def _priced(self, offers: list[Offer], results: Results, listed: bool) -> list[Offer]:
        """The offers that can be written: a valid price and, if ``listed``, a known variation."""
        todo = []
        for o in offers:
            try:
                price_money(o)
            except ValueError as exc:
                results[o.sku] = ItemResult.rejected(o.sku, str(exc))
                continue
            if listed and not self._known(o, "variation_id"):
                results[o.sku] = ItemResult.rejected(o.sku, NOT_LISTED)
            else:
                todo.append(o)
        return todo

    def _upsert(self, offers: list[Offer], results: Results, sent: list[Sent]) -> list[ItemResult]:
        """One batch-upsert request, one batch per object. Its idempotency key is derived from
        the content (new objects, current versions, earlier ids), so a rerun after a crash gets
        Square's first answer back instead of creating the items twice."""
        units: list[Unit] = [([o.sku for o in g], {ref, *v.values()}) for g, _, ref, v in sent]
        if sent:
            batches = [{"objects": [obj]} for _, obj, _, _ in sent]
            known = {o.sku: self.known_ids.get(o.sku, {}) for o in offers}
            body = {"idempotency_key": self._key([batches, known]), "batches": batches}
            try:
                answer = self._post("/v2/catalog/batch-upsert", body)
            except _Refused as exc:
                return self._refused(offers, results, exc.errors, units)
            mapped = {m.get("client_object_id"): m.get("object_id")
                      for m in answer.get("id_mappings") or []}  # fmt: skip
            returned = index(answer.get("objects"))
            by_sku = {(v.get("item_variation_data") or {}).get("sku"): v
                      for v in returned.values() if v.get("type") == "ITEM_VARIATION"}  # fmt: skip
            errors = answer.get("errors") or []
            blamed, general = blame(errors, units)
            for group, _, item_ref, var_ids in sent:
                for o in group:
                    item_id = mapped.get(item_ref) or item_ref
                    var_id = mapped.get(var_ids[o.sku]) or var_ids[o.sku]
                    if var_id not in returned and o.sku in by_sku:  # found by its SKU instead
                        var_id = by_sku[o.sku].get("id") or var_id
                        item_id = by_sku[o.sku]["item_variation_data"].get("item_id") or item_id
                    ok = var_id in returned or not (errors or var_id.startswith("#"))
                    if o.sku in blamed or not ok or item_id.startswith("#"):
                        lost = f"Square's answer has no id for {var_ids[o.sku]}; nothing recorded"
                        why = blamed.get(o.sku) or "; ".join(general) or lost
                        results[o.sku] = ItemResult.rejected(o.sku, why, retriable=not errors)
                    else:
                        ids = {"item_id": item_id, "variation_id": var_id}
                        ids = {k: v for k, v in ids.items() if v}
                        results[o.sku] = ItemResult.accepted(o.sku, **ids)
        return [results[o.sku] for o in offers]

    # --- quantities --------------------------------------------------------------------------
    def update_quantities(self, offers: list[Offer]) -> list[ItemResult]:
        """Absolute counts at ``location_id``. The idempotency key comes from the content and a
        timestamp that retries of the same content in one run reuse; a rerun after a crash
        sends the same count again, which Square ignores as unchanged. (A key from the content
        alone would make Square replay an old answer when a count returns to an earlier value.)"""
        results = {o.sku: ItemResult.rejected(o.sku, NOT_LISTED) for o in offers
                   if not self._known(o, "variation_id")}  # fmt: skip
        sent = [(o, v) for o in offers if (v := self._known(o, "variation_id"))]
        if sent:
            location = self.settings["location_id"]
            counts = [(var_id, str(max(o.quantity, 0)), o.sku[:255]) for o, var_id in sent]
            content = self._key([location, counts])
            at = self._counted_at.get(content)
            if at is None or time.time() - at[0] > 3600:  # Square: at most 24 h in the past
                at = (time.time(), datetime.now(UTC).isoformat(timespec="milliseconds"))
                self._counted_at[content] = at
            changes = [{"type": "PHYSICAL_COUNT", "physical_count": {
                "catalog_object_id": var_id, "state": "IN_STOCK", "location_id": location,
                "quantity": quantity, "occurred_at": at[1], "reference_id": ref,
            }} for var_id, quantity, ref in counts]  # fmt: skip
            units: list[Unit] = [([o.sku], {v}) for o, v in sent]
            body = {"idempotency_key": self._key([content, at[1]]), "changes": changes}
            try:
                answer = self._post("/v2/inventory/changes/batch-create", body)
            except _Refused as exc:
                return self._refused(offers, results, exc.errors, units)
            blamed, general = blame(answer.get("errors") or [], units)
            for o, var_id in sent:
                why = blamed.get(o.sku) or "; ".join(general)
                ok = ItemResult.accepted(o.sku, variation_id=var_id)
                results[o.sku] = ItemResult.rejected(o.sku, why) if why else ok
        return [results[o.sku] for o in offers]

    # --- HTTP --------------------------------------------------------------------------------
    def _known(self, offer: Offer, key: str) -> str | None:
        return self.known_ids.get(offer.sku, {}).get(key) or None

    def _key(self, content: Any) -> str:
        text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def _retrieve(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not any(ids):
            return {}
        body = self._post("/v2/catalog/batch-retrieve", {"object_ids": sorted(set(ids) - {""})})
        return index(body.get("objects"))

    def _refused(self, offers: list[Offer], results: Results, errors: list[dict[str, Any]],
                 units: list[Unit]) -> list[ItemResult]:  # fmt: skip
        """Square refused the request: blamed SKUs get their error, the others the rest."""
        blamed, general = blame(errors, units)
        rest = "; ".join(general) or "not saved: Square refused other items of the same request"
        for o in offers:
            if o.sku not in results:
                retriable = not general and o.sku not in blamed
                results[o.sku] = ItemResult.rejected(o.sku, blamed.get(o.sku) or rest,
                                                     retriable=retriable)  # fmt: skip
        return [results[o.sku] for o in offers]

    # --- drift: the live listings -------------------------------------------------------------
    def remote_listings(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every variation with a SKU, ``LISTING_PAGE`` items a page (SearchCatalogObjects),
        with its on-hand count at ``location_id`` (BatchRetrieveInventoryCounts, per page).
        Square has one price, what the till charges: ``price`` only, no ``sale_price`` (a
        push sends the sale price there when there is one). ``title`` for an item of one
        "Regular" variation (a variant's title is split into item and variation names)."""
        location = self.settings["location_id"]
        pages = self.api.cursors(
            "POST", "/v2/catalog/search",
            lambda cursor: {"json": _search_body(cursor)},
            lambda answer: (answer.body or {}).get("cursor"),
        )  # fmt: skip
        try:
            for answer in pages:
                body = answer.body if isinstance(answer.body, dict) else {}
                found = [(item, var) for item in body.get("objects") or []
                         if item.get("type") == "ITEM" and not item.get("is_deleted")
                         for var in (item.get("item_data") or {}).get("variations") or []
                         if (var.get("item_variation_data") or {}).get("sku")]  # fmt: skip
                counts = self._counts([str(var.get("id")) for _, var in found], location)
                for item, var in found:
                    fields = _listing(item, var, location, counts.get(str(var.get("id"))))
                    yield str(var["item_variation_data"]["sku"]), fields
        except _Refused as exc:
            raise Fatal(f"Square refused reading the catalog ({_said(exc.errors)})") from None

    def _counts(self, ids: list[str], location: str) -> dict[str, int]:
        """The IN_STOCK count of each of ``ids`` at ``location`` (absent: never counted)."""
        found: dict[str, int] = {}
        for start in range(0, len(ids), LISTING_PAGE):
            part = ids[start : start + LISTING_PAGE]
            body = {"catalog_object_ids": part, "location_ids": [location], "states": ["IN_STOCK"]}

            def page(cursor: str | None, body: dict[str, Any] = body) -> dict[str, Any]:
                return {"json": {**body, "cursor": cursor} if cursor else body}

            pages = self.api.cursors(
                "POST", "/v2/inventory/counts/batch-retrieve", page,
                lambda answer: (answer.body or {}).get("cursor"),
            )  # fmt: skip
            for answer in pages:
                for count in (answer.body or {}).get("counts") or []:
                    object_id = str(count.get("catalog_object_id"))
                    if count.get("location_id") == location and object_id in part:
                        units = int(Decimal(str(count.get("quantity") or "0")))
                        found[object_id] = found.get(object_id, 0) + units
        return found

    # --- orders ----------------------------------------------------------------------------
    def fetch_orders(self, since: datetime) -> Iterator[list[Order]]:
        """Orders of ``location_id`` changed at or after ``since``, oldest change first."""
        location = self.settings["location_id"]
        pages = self.api.cursors(
            "POST", "/v2/orders/search",
            lambda cursor: {"json": sq_orders.search_body(location, since, cursor)},
            lambda answer: (answer.body or {}).get("cursor"),
        )  # fmt: skip
        try:
            for answer in pages:
                body = answer.body if isinstance(answer.body, dict) else {}
                yield [sq_orders.to_order(o) for o in body.get("orders") or []]
        except _Refused as exc:
            said = "; ".join(f"{e.get('code')}: {e.get('detail')}" for e in exc.errors)
            raise Fatal(f"Square refused the order search ({said})") from None

    # --- shipments ---------------------------------------------------------------------------
    def ship(self, shipment: Any) -> ItemResult:
        """The parcel as the order's SHIPMENT fulfillment (see the module docstring); the
        result's ``fulfillment_id`` is the fulfillment's uid."""
        details = sq_orders.shipment_details(shipment.carrier, shipment.tracking_number,
                                             shipment.tracking_url)  # fmt: skip
        for name, limit in (("tracking_number", sq_orders.MAX_TRACKING),
                            ("tracking_url", sq_orders.MAX_URL)):  # fmt: skip
            if len(details.get(name, "")) > limit:
                why = f"Square takes a {name.replace('_', ' ')} of at most {limit} characters"
                return ItemResult.rejected(shipment.key, why)
        wanted: dict[str, int] = {}
        for line in shipment.lines:
            wanted[line.line_id] = wanted.get(line.line_id, 0) + line.quantity
        for _ in range(2):  # a version conflict: read again and send once more
            try:
                order = self._order(shipment.order_id)
            except _Refused as exc:
                return ItemResult.rejected(shipment.key, "Square: " + _said(exc.errors))
            plan = sq_orders.plan_shipment(order, shipment.number, shipment.key, wanted,
                                           details, shipment.remote_id)  # fmt: skip
            if plan.done:
                return ItemResult.accepted(shipment.key, fulfillment_id=plan.done)
            if plan.refused or plan.fulfillment is None:
                return ItemResult.rejected(shipment.key, f"Square: {plan.refused}")
            if not isinstance(order.get("version"), int):  # Square: "cannot be updated"
                return ItemResult.rejected(
                    shipment.key,
                    f"Square: order {shipment.number} has no version (it was not created "
                    "through the API), so Square lets no app change it: mark it shipped there",
                )
            sparse = {
                "location_id": order.get("location_id") or self.settings["location_id"],
                "version": order.get("version"),
                "fulfillments": [plan.fulfillment],
            }
            key = self._key(["ship", shipment.order_id, shipment.key, sparse])
            body = {"idempotency_key": key, "order": sparse}
            try:
                self.api.request("PUT", self._order_path(shipment.order_id), json=body,
                                 idempotent=True)  # fmt: skip
            except _Refused as exc:
                if any(e.get("code") == "VERSION_MISMATCH" for e in exc.errors):
                    continue  # changed since it was read: read again, once
                return ItemResult.rejected(shipment.key, "Square: " + _said(exc.errors))
            return ItemResult.accepted(shipment.key, fulfillment_id=str(plan.fulfillment["uid"]))
        raise Retriable(f"Square: order {shipment.number} changed while it was being shipped, "
                        "twice; it is sent again on the next run")  # fmt: skip

    def _order(self, order_id: str) -> dict[str, Any]:
        """RetrieveOrder: the order as Square holds it now."""
        answer = self.api.request("GET", self._order_path(order_id))
        order = answer.body.get("order") if isinstance(answer.body, dict) else None
        if not isinstance(order, dict):
            raise Fatal("Square answered RetrieveOrder without an order; check base_url")
        return order

    @staticmethod
    def _order_path(order_id: str) -> str:
        return "/v2/orders/" + urllib.parse.quote(order_id, safe="")

    @functools.cached_property
    def api(self) -> ApiClient:
        return ApiClient(
            self, self.settings["base_url"], vendor="Square",
            auth=Token(self.settings["token"]), timeout=self.settings.get("timeout") or 30,
            headers={"Square-Version": self.settings.get("square_version") or API_VERSION},
            refine=self._refine, describe=_errors_said,
            auth_hint="The token needs ITEMS_READ, ITEMS_WRITE, INVENTORY_WRITE, ORDERS_READ "
            "and ORDERS_WRITE",
        )  # fmt: skip

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST one call; every write carries an idempotency key and reads change nothing, so
        the client may send it again after a failure that may pass."""
        data = self.api.request("POST", path, json=body, idempotent=True).body
        if not isinstance(data, dict):
            raise Fatal(f"Square answered {path} with something that is not JSON; check base_url")
        return data

    def _refine(self, answer: Answer) -> Exception | None:
        gone = answer.path.startswith("/v2/orders/") and any(
            e.get("code") == "NOT_FOUND" for e in _errors(answer)
        )
        if answer.status == 404 and not gone:
            return Fatal(f"Square has no {answer.path} at {self.api.base_url} (HTTP 404); "
                         "check base_url")  # fmt: skip
        if 400 <= answer.status < 500 and answer.status not in (401, 403, 408, 429):
            errors = _errors(answer)
            text = " ".join(answer.text.split())[:300]
            return _Refused(errors or [{"code": f"HTTP {answer.status}", "detail": text}])
        return None


def _search_body(cursor: str | None) -> dict[str, Any]:
    """A SearchCatalogObjects page of items (their variations come nested)."""
    body: dict[str, Any] = {"object_types": ["ITEM"], "limit": LISTING_PAGE}
    return {**body, "cursor": cursor} if cursor else body


def _present(obj: dict[str, Any], location: str) -> bool:
    """Whether a catalog object is present at ``location`` (Square's location overrides)."""
    if obj.get("present_at_all_locations", True):
        return location not in (obj.get("absent_at_location_ids") or [])
    return location in (obj.get("present_at_location_ids") or [])


def _listing(
    item: dict[str, Any], var: dict[str, Any], location: str, count: int | None
) -> dict[str, Any]:
    """One variation as drift reads it (see ``Square.remote_listings``)."""
    data = var.get("item_variation_data") or {}
    item_data = item.get("item_data") or {}
    money = data.get("price_money") or {}
    price = None
    if money.get("amount") is not None:
        currency = str(money.get("currency") or "USD")
        price = to_text(from_minor(int(money["amount"]), currency), currency)
    listed = (
        _present(item, location) and _present(var, location)
        and not item_data.get("is_archived") and data.get("sellable", True) is not False
    )  # fmt: skip
    fields: dict[str, Any] = {"price": price, "listed": listed}
    if data.get("track_inventory", True) is not False:
        fields["quantity"] = count or 0
    else:
        fields["quantity"] = None  # not counted: sold whatever is on hand
    variations = item_data.get("variations") or []
    if len(variations) == 1 and data.get("name") == "Regular":
        fields["title"] = item_data.get("name")
    return fields


def _errors(answer: Answer) -> list[dict[str, Any]]:
    errors = answer.body.get("errors") if isinstance(answer.body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _said(errors: list[dict[str, Any]]) -> str:
    """Square's ``errors[]`` as one line: "CODE: detail (field f)"."""
    parts = []
    for e in errors:
        text = f"{e.get('code') or 'ERROR'}: {e.get('detail') or 'refused'}"
        parts.append(text + (f" (field {e['field']})" if e.get("field") else ""))
    return "; ".join(parts) or "refused"


def _errors_said(answer: Answer) -> str:
    """Square's ``errors[]`` codes, as in "HTTP 401, UNAUTHORIZED"."""
    return ", ".join(str(e.get("code")) for e in _errors(answer))
