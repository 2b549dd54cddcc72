"""WooCommerce: listings, prices and stock through the REST API v3 batch endpoints; orders
and shipments through the order routes.

Owns how offers become WooCommerce products, how a shipment reaches an order, and the HTTP
around it (the request bodies and the reading of answers are in ``woocommerce_bodies``; the
order mapping and the shipment bodies in ``woocommerce_orders``). Each batch request takes at
most 100 objects (HTTP 413 beyond); a batch of n offers puts at most n in any request:
- an offer without ``item_group_id`` is a ``simple`` product, one object in products/batch;
- offers sharing an ``item_group_id`` are variations of a ``variable`` product whose SKU is the
  group id: the parent is one object in products/batch (its attributes get the variants'
  Color/Size/Material/Pattern options), each variant one in ``products/<id>/variations/batch``.
  Listings go 20 per batch: creates make WooCommerce download images within the request;
- prices and quantities are ``update`` entries (``regular_price``/``sale_price`` strings,
  ``manage_stock`` and the absolute ``stock_quantity``) by the ids earlier pushes recorded
  (``product_id``, or ``parent_id`` + ``variation_id``): one request for simple products, one
  per parent. A SKU whose price and stock both changed goes once, with both (``prices+quantities``).
  A SKU without recorded ids is rejected.
A listing update keeps the object's status, except for a SKU in ``relisting`` (``drift --fix``
of a listing the seller took off sale there): it, and a variation's parent, go ``publish``.
Creates are idempotent: creates refused as ``product_invalid_sku`` are found by one ``GET
?include=`` of the ids WooCommerce names in those errors (``data.resource_id``; ``GET ?sku=``
for a SKU it names none for) and updated instead; an update whose id is gone becomes a create.
A send is many requests; the shared API client sends one again when it fails for a reason
that may pass (429, 5xx, timeout, reset), since every request is safe to repeat: updates are
absolute, and a repeated create comes back as ``invalid_sku`` and is taken over. When the client
gives up, the whole batch is Retriable for the engine, which sends it again the same way.
Auth: HTTP Basic over https, a one-legged OAuth 1.0a signature over plain http, as WooCommerce
requires. WooCommerce has no rate limit of its own (hosts do): 4 requests/s is a cautious default.
Shipments (``ship``): core has no tracking field and ships a whole order at once. With
``shipment_tracking: true`` the tracking goes to the Shipment Tracking extension (``POST
/wp-json/wc-shipment-tracking/v3/orders/<id>/shipment-trackings``: a provider of its list,
``woocommerce_orders.CARRIERS``, or a custom provider with the tracking URL); otherwise, and for
a parcel the extension cannot take (no tracking number, or an unknown carrier without a URL),
a customer note (``POST orders/<id>/notes``, ``customer_note: true``: WooCommerce mails it to
the buyer) says what left, with carrier and tracking and the marker ``[multichan: <key>]``
(a tracking item for an order completed before it, as tracking given later, gets that note
too: the completed email that lists tracking items has gone).
Then one ``PUT orders/<id>`` records the units of each parcel in the order meta
``multichan_shipped`` ({shipment key: {line item id: units}}) and sets status ``completed`` only
once those parcels hold every unit not refunded: a partial parcel leaves the order processing
(completed means every unit sent, for WooCommerce and for the pull, which then moves only what
multichan did not ship itself). Idempotent: the order, then its trackings (by tracking number)
or customer notes (by marker, and tracking number) are read before anything is made, so a send
whose answer was lost is found, not made again; the creates are not resent by the client, the
PUT is absolute. Tracking given later is one more tracking item or note for the same parcel.
An order gone from the shop (HTTP 404) or no longer shippable there (cancelled, refunded,
failed, trash) rejects the parcel with what WooCommerce says.
Not pushed: images after creation (each update would download them again), categories and tags
(they need term ids), weight (the store's unit is unknown).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from multichan.channels import woocommerce_bodies as wb
from multichan.channels import woocommerce_orders as wo
from multichan.channels.api import Answer, ApiClient, default_description
from multichan.channels.auth import Basic, OAuth1
from multichan.channels.base import JOINT, Channel, Fatal, ItemResult, RateLimit, SettingSpec
from multichan.channels.woocommerce_bodies import Json
from multichan.offers import Offer
from multichan.orders.model import Order

API = "/wp-json/wc/v3/"
TRACKING_API = "/wp-json/wc-shipment-tracking/v3/"  # the Shipment Tracking extension's routes
LIMIT = 100  # objects per batch request: WooCommerce's default woocommerce_rest_batch_items_limit
NOT_LISTED = "not listed on woocommerce yet; push listings first"
Item = tuple[int | None, Json]  # (id to update, or None to create; the object's fields)


class _Refused(Fatal):
    """A whole request refused (HTTP 400, 404...): fatal, unless it concerns one parent (or
    one shipment)."""


@dataclass
class _Entry:
    """An object to update (``id`` known) or create; ``kind``: what SKU takeovers accept."""

    id: int | None
    create: Json
    update: Json
    kind: str


class WooCommerce(Channel):
    """WooCommerce REST API v3: simple and variable products, prices and stock, in batches."""

    type = "woocommerce"
    description = "WooCommerce shop (REST API v3 batch endpoints)"
    supports = frozenset({"listings", "prices", "quantities", JOINT, "orders", "shipments"})
    orders_sorted = False  # pages come in creation order (the API cannot sort by change)
    max_batch: ClassVar[dict[str, int]] = {
        "listings": 20, "prices": LIMIT, "quantities": LIMIT, JOINT: LIMIT,
    }  # fmt: skip
    # WooCommerce has no limit of its own; hosts do. A cautious default: set `rate_limit:` in
    # channels.yaml for your host.
    rate_limit = RateLimit(requests_per_second=4.0, burst=8)
    accepts_html = True  # descriptions are HTML there
    max_title, max_description = 200, 65_535
    settings_schema: ClassVar[dict[str, SettingSpec]] = {
        "base_url": SettingSpec("url", required=True, help="the shop's root: https://shop.example"),
        "consumer_key": SettingSpec("secret", required=True, help="${WOOCOMMERCE_CONSUMER_KEY}"),
        "consumer_secret": SettingSpec("secret", True, help="${WOOCOMMERCE_CONSUMER_SECRET}"),
        "timeout": SettingSpec("int", default=60, help="seconds per request"),
        "shipment_tracking": SettingSpec(
            "bool", False, False, "true: tracking goes to the shop's Shipment Tracking extension"
        ),
    }
    credential_env = ("WOOCOMMERCE_CONSUMER_KEY", "WOOCOMMERCE_CONSUMER_SECRET")

    # --- listings ---------------------------------------------------------------------------
    def upsert_listings(self, offers: list[Offer]) -> list[ItemResult]:
        simple = [o for o in offers if not o.item_group_id]
        groups: dict[str, list[Offer]] = {}
        for o in offers:
            if o.item_group_id:
                groups.setdefault(o.item_group_id, []).append(o)
        known = {g: self._known(members, "parent_id") for g, members in groups.items()}
        parents = self._variable_products([i for i in known.values() if i])
        listing = [
            wb.relisted({"name": o.title, "description": o.description}, o.sku in self.relisting)
            for o in simple
        ]
        entries = [
            _Entry(self._known([o], "product_id"), wb.simple(o), fields, "simple")
            for o, fields in zip(simple, listing, strict=True)
        ]
        for g, members in groups.items():
            parent, create = parents.get(known[g] or 0), wb.parent(g, members)
            update = wb.takeover(create, parent) if parent else {}
            update = wb.relisted(update, any(o.sku in self.relisting for o in members))
            entries.append(_Entry(known[g] if parent else None, create, update, "variable"))
        outs = self._upsert("products", entries)
        results = {
            o.sku: wb.result(o.sku, out, "product_id") for o, out in zip(simple, outs, strict=False)
        }
        for (g, members), out in zip(groups.items(), outs[len(simple) :], strict=True):
            if out.get("error") is None and out.get("id"):
                results.update(self._variations(out, members))
            else:  # no parent, so no variations
                prefix = f"variable product {g}: "
                results.update({o.sku: wb.result(o.sku, out, "", prefix) for o in members})
        return [results[o.sku] for o in offers]

    def _variations(self, parent: Json, members: list[Offer]) -> dict[str, ItemResult]:
        pid = int(parent["id"])
        attributes = wb.rows(parent.get("attributes"))
        refs = {str(a.get("name", "")).casefold(): a.get("id") or 0 for a in attributes}
        entries = []
        for o in members:
            attrs = [
                {"id": refs.get(name.casefold(), 0), "name": name, "option": value}
                for name, value in wb.own_attributes(o)
            ]
            vid = self._known([o], "variation_id") if self._known([o], "parent_id") == pid else None
            update = wb.relisted({"attributes": attrs}, o.sku in self.relisting)
            entries.append(_Entry(vid, wb.variation(o, attrs), update, "variation"))
        try:
            outs = self._upsert(f"products/{pid}/variations", entries)
        except _Refused as exc:
            outs = [wb.error("", exc.message)] * len(members)
        return {
            o.sku: wb.result(o.sku, out, "variation_id", parent_id=str(pid))
            for o, out in zip(members, outs, strict=True)
        }

    # --- prices and quantities --------------------------------------------------------------
    def update_prices(self, offers: list[Offer]) -> list[ItemResult]:
        return self._update(offers, wb.price_fields)

    def update_quantities(self, offers: list[Offer]) -> list[ItemResult]:
        return self._update(offers, wb.stock_fields)

    def update_prices_and_quantities(self, offers: list[Offer]) -> list[ItemResult]:
        return self._update(offers, lambda o: {**wb.price_fields(o), **wb.stock_fields(o)})

    def _update(self, offers: list[Offer], fields: Callable[[Offer], Json]) -> list[ItemResult]:
        results: dict[str, ItemResult] = {}
        bases: dict[str, list[tuple[Offer, int]]] = {}
        for o in offers:
            parent, variation = self._known([o], "parent_id"), self._known([o], "variation_id")
            base, rid = f"products/{parent}/variations", variation
            if not (parent and variation):
                base, rid = "products", self._known([o], "product_id")
            if rid:
                bases.setdefault(base, []).append((o, rid))
            else:
                results[o.sku] = ItemResult.rejected(o.sku, NOT_LISTED)
        for base, items in bases.items():
            try:
                outs = self._batch(base, [(rid, fields(o)) for o, rid in items])
            except _Refused as exc:
                if base == "products":
                    raise
                outs = [wb.error("", exc.message)] * len(items)
            ids = {} if base == "products" else {"parent_id": base.split("/")[1]}
            key = "product_id" if base == "products" else "variation_id"
            for (o, _), out in zip(items, outs, strict=True):
                results[o.sku] = wb.result(o.sku, out, key, **ids)
        return [results[o.sku] for o in offers]

    # --- batches ----------------------------------------------------------------------------
    def _known(self, offers: list[Offer], key: str) -> int | None:
        """The first remote id ``key`` that earlier pushes recorded for these offers' SKUs."""
        ids = [str(self.known_ids.get(o.sku, {}).get(key, "")) for o in offers]
        return next((int(i) for i in ids if i.isdigit() and int(i) > 0), None)

    def _upsert(self, base: str, entries: list[_Entry]) -> list[Json]:
        """Update or create each entry; then what can be repaired, in one lookup and one more
        batch: a create whose SKU exists (take that object over) and an update whose id is gone
        (create it)."""
        outs = self._batch(base, [(e.id, e.update) if e.id else (None, e.create) for e in entries])
        refused: dict[int, str] = {}  # entry index -> its SKU, taken by an existing object
        again: dict[int, Item] = {}
        for i, (e, out) in enumerate(zip(entries, outs, strict=True)):
            code = str(wb.error_of(out).get("code", ""))
            if e.id is None and code.endswith("invalid_sku"):
                refused[i] = str(e.create["sku"])
            elif e.id is not None and code.endswith("_invalid_id"):
                again[i] = (None, e.create)
        found = self._owners(base, {sku: outs[i] for i, sku in refused.items()})
        for i, sku in refused.items():
            e, owner = entries[i], found.get(sku)
            if owner and owner.get("type", e.kind) == e.kind:  # variations may have no type
                body = wb.takeover(e.create, owner)  # a relisting's status goes with it
                again[i] = (int(owner["id"]), wb.relisted(body, "status" in e.update))
            elif owner:
                error = wb.error_of(outs[i])
                who = f"{owner.get('type', 'another')} product #{owner.get('id')}"
                message = f"{error.get('message')} (the SKU belongs to {who})"
                outs[i] = wb.error(str(error.get("code", "")), message)
        pending = sorted(again)
        if again:
            answers = self._batch(base, [again[i] for i in pending])
            for i, out in zip(pending, answers, strict=True):
                outs[i] = out
        return outs

    def _owners(self, base: str, refused: dict[str, Json]) -> dict[str, Json]:
        """The objects under ``base`` that hold the SKUs of refused creates (SKU -> its batch
        answer), by SKU: one ``GET ?include=`` of the ids the errors name, and ``GET ?sku=``
        for each SKU whose error names none. WooCommerce core also takes ``?sku=a,b,c``, but
        its REST docs document one SKU only."""
        if not refused:
            return {}
        named = {sku: wb.owner_id(out) for sku, out in refused.items()}
        ids = sorted({i for i in named.values() if i})
        rows: list[Json] = []
        if ids:  # at most LIMIT: one per object of a batch
            include = ",".join(str(i) for i in ids)
            rows += wb.rows(self._request("GET", base, {"include": include, "per_page": LIMIT}))
        for sku in [s for s, i in named.items() if i is None]:
            rows += wb.rows(self._request("GET", base, {"sku": sku}))
        by_sku: dict[str, Json] = {}
        for row in rows:
            by_sku.setdefault(str(row.get("sku")), row)
        return {sku: by_sku[sku] for sku in refused if sku in by_sku}

    def _batch(self, base: str, items: list[Item]) -> list[Json]:
        """One ``POST {base}/batch``; the answers in the order of ``items``."""
        if len(items) > LIMIT:  # max_batch keeps every request within the limit
            raise ValueError(f"{len(items)} objects for one {base}/batch; at most {LIMIT}")
        creates = [body for rid, body in items if rid is None]
        updates = [{"id": rid, **body} for rid, body in items if rid is not None]
        payload = {k: v for k, v in (("create", creates), ("update", updates)) if v}
        answer = self._request("POST", f"{base}/batch", json=payload)
        done = {k: wb.rows(answer.get(k) if isinstance(answer, dict) else []) for k in payload}
        missing = wb.error(wb.NO_RESULT, "WooCommerce sent no result for it")
        kinds = ["create" if rid is None else "update" for rid, _ in items]
        return [done[k].pop(0) if done[k] else missing for k in kinds]

    def _variable_products(self, ids: list[int]) -> dict[int, Json]:
        if not ids:
            return {}
        include = ",".join(str(i) for i in sorted(set(ids)))
        rows = self._request("GET", "products", {"include": include, "per_page": LIMIT})
        return {
            int(r["id"]): r for r in wb.rows(rows) if r.get("type") == "variable" and r.get("id")
        }

    # --- drift: the live listings -----------------------------------------------------------
    def remote_listings(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every simple product and every variation with a SKU, 100 a page (any status: a
        draft, pending or private product is there but not for sale); a variable product's
        own SKU is its group's, not an offer's, so its variations stand for it."""
        params = {"orderby": "id", "order": "asc"}
        for answer in self.api.page_numbers("products", params, per_page=LIMIT):
            for product in wb.rows(answer.body):
                published = product.get("status") == "publish"
                if product.get("type") == "variable" and product.get("id"):
                    path = f"products/{int(product['id'])}/variations"
                    for page in self.api.page_numbers(path, params, per_page=LIMIT):
                        for row in wb.rows(page.body):
                            if row.get("sku"):
                                yield str(row["sku"]), _listing(row, published)
                elif product.get("sku"):
                    fields = _listing(product, True)
                    fields["title"] = product.get("name")
                    yield str(product["sku"]), fields

    # --- orders -------------------------------------------------------------------------------
    def fetch_orders(self, since: datetime) -> Iterator[list[Order]]:
        """Orders changed after ``since``, in creation order, 100 a page; the refunds of an
        order that has any are read with it, and with ``shipment_tracking`` the tracking items
        of each order that can have shipped (processing, on-hold, completed): the parcels the
        shop reports, whoever added them. A shop without the extension's routes still gives
        its orders (the parcels are not read; sending one says what is missing)."""
        tracking = bool(self.settings.get("shipment_tracking"))
        for answer in self.api.page_numbers("orders", wo.list_params(since), per_page=wo.PER_PAGE):
            page = []
            for order in wb.rows(answer.body):
                refunds: dict[str, int] = {}
                if order.get("refunds"):
                    found = self._request("GET", f"orders/{order['id']}/refunds",
                                          {"per_page": wo.PER_PAGE})  # fmt: skip
                    refunds = wo.refunded_units(wb.rows(found))
                mapped = wo.to_order(order, refunds)
                if tracking and order.get("status") in wo.SHIPPABLE:
                    try:
                        items = self._request("GET", self._trackings(order))
                    except Fatal as exc:
                        if TRACKING_API not in exc.message:  # not the extension's 404
                            raise
                        tracking = False  # no extension: the orders all the same
                    else:
                        mapped.parcels = wo.parcels(wb.rows(items))
                page.append(mapped)
            yield page

    def _trackings(self, order: Json) -> str:
        """The Shipment Tracking extension's route of the order's tracking items."""
        route = f"orders/{order['id']}/shipment-trackings"
        return f"{self.settings['base_url']}{TRACKING_API}{route}"

    # --- shipments ----------------------------------------------------------------------------
    def ship(self, shipment: Any) -> ItemResult:
        """Tell WooCommerce a parcel left: its tracking (a Shipment Tracking item, or a customer
        note), then, in one ``PUT orders/<id>``, the units it took (order meta
        ``multichan_shipped``) and status ``completed`` once every unit not refunded has left.
        Each step reads first (the order, its trackings or notes) so a send whose answer was
        lost is not made again; a tracking given later is one more item or note."""
        key, where = shipment.key, f"orders/{shipment.order_id}"
        try:
            order = self._request("GET", where)
            status = str(order.get("status") or "")
            if status not in wo.SHIPPABLE:
                said = f"is {status} on the shop" if status else "has no status on the shop"
                return ItemResult.rejected(
                    key, f"WooCommerce: order {shipment.number} {said}: not marked shipped"
                )
            fulfillment = self._parcel(shipment, order)
            before = wo.shipped_record(order)
            record = wo.with_shipment(before, shipment)
            changes: Json = {}
            if record != before:
                value = json.dumps(record, sort_keys=True, separators=(",", ":"))
                changes["meta_data"] = [{"key": wo.SHIPPED_META, "value": value}]
            if status != "completed" and self._all_sent(order, record):
                changes["status"] = "completed"
            if changes:
                self._request("PUT", where, json=changes)
        except _Refused as exc:
            return ItemResult.rejected(key, f"order {shipment.number}: {exc.message}")
        return ItemResult.accepted(key, fulfillment_id=fulfillment)

    def _parcel(self, shipment: Any, order: Json) -> str:
        """The parcel's tracking item (extension) or customer note, found or made; its id. A
        tracking item on an order completed already gets the note too: the completed email,
        which lists the tracking items, has gone out without it."""
        body = wo.tracking_body(shipment) if self.settings.get("shipment_tracking") else None
        if body is None:
            return self._note(shipment, order)
        url = self._trackings(order)
        found = wo.find_tracking(wb.rows(self._request("GET", url)), shipment.tracking_number)
        if found is None:
            found = self._request("POST", url, json=body, idempotent=False)
        told = shipment.remote_id is None and shipment.key in wo.shipped_record(order)
        if order.get("status") == "completed" and not told:
            # no completed email listed this tracking: the order was completed before it, or
            # it is tracking given later (``told``: multichan completed the order with this
            # item on it, and the answer was lost)
            self._note(shipment, order)
        return str(found.get("tracking_id") or shipment.tracking_number)

    def _note(self, shipment: Any, order: Json) -> str:
        """multichan's customer note of the parcel, found (marker and tracking) or made."""
        notes = f"orders/{order['id']}/notes"
        note = wo.find_note(wb.rows(self._request("GET", notes, {"type": "customer"})), shipment)
        if note is None:
            text = wo.note_text(shipment, order)
            note = self._request(
                "POST", notes, json={"note": text, "customer_note": True}, idempotent=False
            )
        return f"note-{note.get('id')}"

    def _all_sent(self, order: Json, record: dict[str, dict[str, int]]) -> bool:
        """Whether ``record`` took every unit not refunded (the refunds read only when that
        could matter)."""
        if wo.all_sent(order, record, {}):
            return True
        if not order.get("refunds"):
            return False
        found = self._request("GET", f"orders/{order['id']}/refunds", {"per_page": wo.PER_PAGE})
        return wo.all_sent(order, record, wo.refunded_units(wb.rows(found)))

    # --- HTTP -------------------------------------------------------------------------------
    @functools.cached_property
    def api(self) -> ApiClient:
        base = self.settings["base_url"]
        key, secret = self.settings["consumer_key"], self.settings["consumer_secret"]
        https = base.startswith("https://")
        return ApiClient(
            self, base + API, vendor="WooCommerce",
            auth=Basic(key, secret) if https else OAuth1(key, secret),
            timeout=self.settings.get("timeout") or 60, refine=self._refine,
            auth_hint=(
                f"Sent with {'HTTP Basic' if https else 'an OAuth 1.0a signature (plain http)'}. "
                "Check that the key exists with Read/Write permission (WooCommerce > Settings > "
                "Advanced > REST API)"
            ),
        )  # fmt: skip

    def _request(
        self,
        method: str,
        path: str,
        params: Json | None = None,
        json: Any = None,
        idempotent: bool = True,
    ) -> Any:
        """One call; batches are sent again after a failure that may pass (updates are absolute
        and a create WooCommerce already made comes back as ``invalid_sku``, taken over); a
        note or tracking item is not (``idempotent=False``: the next run looks for it first)."""
        answer = self.api.request(method, path, params=params, json=json, idempotent=idempotent)
        body = answer.body
        if body is None:
            raise Fatal(f"WooCommerce at {self.settings['base_url']} answered {method} {path} "
                        "with something not JSON")  # fmt: skip
        return body

    def _refine(self, answer: Answer) -> Exception | None:
        base, said = self.settings["base_url"], default_description(answer)
        said = f": {said}" if said else ""
        if answer.status == 413:  # multichan never sends more than LIMIT: a bug, or a lowered limit
            return Fatal(
                f"WooCommerce at {base}: batch too large (HTTP 413{said}); a bug in multichan, "
                f"unless the shop lowered woocommerce_rest_batch_items_limit below {LIMIT}"
            )
        body = answer.body
        no_route = isinstance(body, dict) and body.get("code") == "rest_no_route"
        if answer.status == 404 and no_route and TRACKING_API in answer.path:
            return Fatal(
                f"WooCommerce at {base} has no Shipment Tracking REST API ({TRACKING_API}; HTTP "
                f"404{said}): install and activate the Shipment Tracking extension, or set "
                f"shipment_tracking: false for channel {self.name} (tracking then goes as a "
                "customer note)"
            )
        if answer.status == 404 and no_route:
            return Fatal(
                f"no WooCommerce REST API at {base}{API} (HTTP 404{said}); base_url must be the "
                "shop's root, with WooCommerce 3.5+ and pretty permalinks"
            )
        if 400 <= answer.status < 500 and answer.status not in (401, 403, 408, 429):
            path = answer.path
            return _Refused(
                f"WooCommerce refused {answer.method} {path} (HTTP {answer.status}{said})"
            )
        return None


def _listing(row: Json, parent_published: bool) -> dict[str, Any]:
    """A product's or variation's price, sale price, stock and status as drift reads them;
    a quantity WooCommerce does not manage is None (shown in stock whatever is sold)."""
    managed = bool(row.get("manage_stock"))
    quantity = row.get("stock_quantity")
    return {
        "price": row.get("regular_price") or None,
        "sale_price": row.get("sale_price") or None,
        "quantity": int(quantity) if managed and quantity is not None else None,
        "listed": parent_published and row.get("status") == "publish",
    }
