"""Etsy (Open API v3): draft listings, each listing's inventory (price and stock per
variation), images, receipts and tracking. Owns the mapping of offers to Etsy's listings and
inventories and of Etsy's answers (ids, its ``error`` message, HTTP statuses) back to one
ItemResult per SKU or per parcel; receipts and parcels are ``etsy_orders``.

Etsy's rules this module follows (etsy_open_api_v3_oas.json, Feb 2025, unless noted):
- One Etsy listing per item group (a SKU without one is a listing of its own), one inventory
  product per SKU, with one offering (price, quantity, is_enabled). Variations are Etsy's
  custom properties 513 and 514 (free values), named after the first two attributes that are
  set in the group (Color, Size, Material, Pattern), with price, quantity and SKU "on" them, so
  each variant has its own.
- ``PUT /v3/application/listings/{listing_id}/inventory`` writes a listing's products all at
  once: products left out are deleted. So every inventory write starts from the listing's
  inventory as Etsy holds it (``GET .../inventory``), changes the offerings of the SKUs sent
  and writes every product back with its current price, quantity and property values; a
  seller's variants that multichan does not know are kept as they are. A write that would
  change nothing is not sent. The engine keeps a listing's changed variants in one send
  (``grouped``), so a listing costs one read and one write per send.
- New listings are drafts (``createDraftListing``, form-encoded: title, description, price,
  quantity, who_made, when_made, taxonomy_id, shipping_profile_id...), then their inventory,
  then their images. A group none of whose SKUs has a recorded listing id is first looked
  for in the shop (``getListingsByShop`` with their inventory, 100 a page, once per run: the
  drafts, and for an item group the other states too): the listing holding one of its SKUs
  (a run killed after Etsy made it, before its id was recorded), else the one listing of its
  exact title that is a draft without SKUs (killed before its inventory was written) or, for
  an item group, that holds SKUs (a new variant joining the listing of its siblings, whose
  ids the engine does not hand over); that listing is taken over, so a rerun never makes a
  second one.
- Not sent: tags and materials. They are form arrays, which Etsy describes as
  "comma-separated" while its OpenAPI file types them as arrays, and Prism refuses both the
  repeated and the comma-separated form, so no request with them could be checked.
- Etsy takes image files, not links: each image (``image_link`` then the additional ones, at
  most 10) is downloaded and uploaded (multipart) with its ``rank`` and ``overwrite``, so
  sending it again replaces it rather than adding a copy; images go when a listing is made
  and when its links change (a digest of them is kept as the ``images`` remote id); a
  listing taken over (a new variant joining its listing) keeps the images it has.
- The price sent is what the buyer pays (the sale price when there is one: Etsy's sales are
  shop promotions, not a field of the listing), as a decimal number in the shop's currency:
  an offer in another currency than the shop's (``getShop``, read before the first listing a
  run makes) or than its listing's prices is refused for that SKU, never sent. Etsy takes at
  most 999 units per offering.
- A 4xx answer for one listing (``{"error": ...}``) rejects that listing's SKUs with Etsy's
  message; the other listings of the send go on. A failure that may pass (429, 5xx) after the
  client's retries fails the send when nothing was written yet, else marks the listings not
  reached as retriable, so the engine sends only those again.
- Auth: OAuth 2 with a refresh token (``POST /v3/public/oauth/token``, grant_type
  refresh_token with the app's keystring as client_id; access tokens last an hour and are
  cached in the catalog; each grant answers a new refresh token, good for 90 days, which is
  kept in the catalog and used next, so the channel outlives the one in the environment),
  plus ``x-api-key`` on every request: ``keystring:shared_secret`` (Etsy's current form) or
  the keystring alone when no shared secret is set.
- Limits: 10 requests per second and 10,000 per day per app (``daily_requests``: the engine
  counts them across runs and sends the most urgent changes first near the end).
- Drift (``remote_listings``): ``getListingsByShop`` once per state (Etsy answers one state a
  call, ``active`` by default: draft, active, inactive, sold_out, expired), 100 listings a page
  with ``includes=Inventory``, so each listing's SKUs, prices and quantities come in the same
  page: one request per 100 listings and state, never one per listing (the daily 10,000). Per
  SKU of an inventory product: ``price`` (its offering's, what a buyer pays: Etsy has no sale
  price of its own, hence no ``sale_price``: drift compares what is charged), ``quantity`` (one
  count per offering, no locations), ``title`` only for a listing of that one SKU (a variant
  has none of its own; Etsy sends some text with HTML entities, etsy/open-api#446, which are
  unescaped), ``listed``: False for an inactive, sold-out or expired listing or a disabled
  offering. Drafts count as listed: multichan makes its listings as drafts (the
  seller publishes them, paying Etsy's fee), so a draft is where multichan left it.
"""

from __future__ import annotations

import functools
import hashlib
import html
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from urllib3 import encode_multipart_formdata

from multichan.channels import etsy_orders as eo
from multichan.channels.api import Answer, ApiClient, Refused
from multichan.channels.auth import OAuth2Refresh, reveal
from multichan.channels.base import (
    JOINT,
    Channel,
    Fatal,
    ItemResult,
    RateLimit,
    Retriable,
    SettingSpec,
)
from multichan.money import to_text
from multichan.offers import Offer
from multichan.orders.model import Order

TOKEN_PATH = "/v3/public/oauth/token"
APP = "/v3/application"
NOT_LISTED = "not listed on etsy yet; push listings first"
MAX_QUANTITY = 999  # per offering
MAX_IMAGES = 10
CUSTOM_PROPERTIES = (513, 514)  # Etsy's custom variation properties (free values)
ATTRIBUTES = ("color", "size", "material", "pattern")
LISTING_STATES = ("draft", "active", "inactive", "sold_out", "expired")
# drift: the states read (a SKU on two listings is shown as on the first: the live one), and
# those where multichan's listings are for sale or where it left them (see the docstring)
READ_STATES = ("active", "draft", "inactive", "sold_out", "expired")
LISTED_STATES = ("active", "draft")
Results = dict[str, ItemResult]
Product = dict[str, Any]


def buyer_price(offer: Offer) -> Decimal:
    """What the buyer pays: the sale price when there is one."""
    return offer.sale_price if offer.sale_price is not None else offer.price


def listing_title(group: list[Offer]) -> str:
    """A listing's title: the product's, without a variant's " - Options" tail."""
    first = group[0]
    if first.item_group_id and " - " in first.title:
        head = first.title.rpartition(" - ")[0].strip()
        if head:
            return head
    return first.title


def variation_names(group: list[Offer]) -> list[str]:
    """The attributes a group's products vary on (at most two, Etsy's limit)."""
    if not group[0].item_group_id:
        return []
    names = [a for a in ATTRIBUTES if any(getattr(o, a) for o in group)][:2]
    return names or ["option"]


def attribute(offer: Offer, name: str) -> str:
    """The offer's value for a variation named ``name`` ("Color", Etsy's "Primary color",
    "Size"...)."""
    said = name.lower().replace("colour", "color")
    value = next((getattr(offer, a) for a in ATTRIBUTES if a in said), None)
    if not value:  # "option": the variant part of "Product - Options", else the SKU
        tail = offer.title.rpartition(" - ")[2].strip() if " - " in offer.title else ""
        value = tail or offer.sku
    return str(value).replace("(", "").replace(")", "")  # Etsy allows no parentheses


def offering(price: Decimal, quantity: int, enabled: bool = True) -> dict[str, Any]:
    return {"price": float(price), "quantity": min(max(quantity, 0), MAX_QUANTITY),
            "is_enabled": enabled}  # fmt: skip


def writable(product: dict[str, Any]) -> Product:
    """A product of Etsy's ListingInventory in the form updateListingInventory takes."""
    values = []
    for pv in product.get("property_values") or []:
        value = {k: pv.get(k) for k in ("property_id", "value_ids", "values")}
        value["value_ids"] = value["value_ids"] or []
        value["values"] = value["values"] or []
        if pv.get("scale_id") is not None:
            value["scale_id"] = pv["scale_id"]
        if pv.get("property_name"):
            value["property_name"] = pv["property_name"]
        values.append(value)
    offerings = []
    for off in product.get("offerings") or []:
        if off.get("is_deleted"):
            continue
        price = eo.money(off.get("price")) or Decimal(0)
        offerings.append(offering(price, int(off.get("quantity") or 0),
                                  bool(off.get("is_enabled", True))))  # fmt: skip
    return {"sku": product.get("sku") or "", "property_values": values, "offerings": offerings}


def currency_of(product: dict[str, Any]) -> str | None:
    for off in product.get("offerings") or []:
        code = (off.get("price") or {}).get("currency_code")
        if code:
            return str(code).upper()
    return None


@dataclass
class ShopIndex:
    """The shop's listings by SKU and by title, read when a group has no recorded listing."""

    read: set[str] = field(default_factory=set)  # the states read
    skus: dict[str, str] = field(default_factory=dict)
    # title -> (listing id, whether it holds SKUs, state)
    titles: dict[str, list[tuple[str, bool, str]]] = field(default_factory=dict)

    def add(self, listing: dict[str, Any]) -> None:
        lid = str(listing.get("listing_id") or "")
        if not lid:
            return
        products = (listing.get("inventory") or {}).get("products") or []
        skus = [str(p["sku"]) for p in products if p.get("sku") and not p.get("is_deleted")]
        for sku in skus:
            self.skus.setdefault(sku, lid)
        entry = (lid, bool(skus), str(listing.get("state") or ""))
        self.titles.setdefault(str(listing.get("title") or ""), []).append(entry)


class Etsy(Channel):
    """Etsy: one draft listing per item group, one inventory product per SKU."""

    type = "etsy"
    description = "Etsy: draft listings, price and stock per variation, receipts and tracking"
    supports = frozenset({"listings", "prices", "quantities", JOINT, "orders", "shipments"})
    max_batch: ClassVar[dict[str, int]] = {
        "listings": 50, "prices": 100, "quantities": 100, JOINT: 100,
    }  # fmt: skip
    # listings per send: a send reads and writes each listing on its own
    max_groups: ClassVar[dict[str, int]] = {
        "listings": 10, "prices": 25, "quantities": 25, JOINT: 25,
    }  # fmt: skip
    grouped = frozenset({"listings", "prices", "quantities", JOINT})  # a listing is one write
    rate_limit = RateLimit(requests_per_second=10, burst=1)  # never 11 in one second
    daily_requests = 10_000
    late_orders = timedelta(hours=48)  # cancellations reach tools up to 48 h late
    max_title = 140
    max_description = 5000
    settings_schema: ClassVar[dict[str, SettingSpec]] = {
        "base_url": SettingSpec("url", default="https://api.etsy.com"),
        "shop_id": SettingSpec("int", required=True, help="the numeric id of the Etsy shop"),
        "keystring": SettingSpec("secret", required=True,
                                 help="${ETSY_KEYSTRING}: the app's API keystring"),
        "shared_secret": SettingSpec("secret", help="${ETSY_SHARED_SECRET}: the app's shared "
                                     "secret (x-api-key is keystring:shared_secret)"),
        "refresh_token": SettingSpec("secret", required=True,
                                     help="${ETSY_REFRESH_TOKEN}; scopes listings_r listings_w "
                                     "transactions_r transactions_w"),
        "taxonomy_id": SettingSpec("int", help="seller taxonomy id of new listings"),
        "shipping_profile_id": SettingSpec("int", help="shipping profile of new listings"),
        "return_policy_id": SettingSpec("int", help="return policy of new listings"),
        "who_made": SettingSpec("str", default="i_did", help="i_did, someone_else, collective"),
        "when_made": SettingSpec("str", default="made_to_order", help="e.g. 2020_2025"),
        "upload_images": SettingSpec("bool", default=True, help="download and upload images"),
        "timeout": SettingSpec("int", default=30, help="seconds per request"),
    }  # fmt: skip
    credential_env = ("ETSY_KEYSTRING", "ETSY_SHARED_SECRET", "ETSY_REFRESH_TOKEN")

    def __init__(self, name: str, settings: dict[str, Any], session: Any = None) -> None:
        super().__init__(name, settings, session)
        self._shop_index: ShopIndex | None = None  # the shop's listings, read once a run
        self._currency: str | None = None  # the shop's, read before the first listing made

    # --- listings --------------------------------------------------------------------------
    def upsert_listings(self, offers: list[Offer]) -> list[ItemResult]:
        """Make or update one listing per item group (see the module docstring)."""
        return self._per_listing(offers, self._groups(offers), self._listing)

    def _groups(self, offers: list[Offer]) -> dict[str, list[Offer]]:
        groups: dict[str, list[Offer]] = {}
        for o in offers:
            groups.setdefault(o.item_group_id or f"\0{o.sku}", []).append(o)
        return groups

    def _listing(self, group: list[Offer], results: Results) -> None:
        known = next((i for o in group if (i := self._known(o, "listing_id"))), None)
        placeholder = False  # a draft of ours whose products Etsy's placeholder still is
        listing_id = known
        if listing_id is None:
            listing_id, placeholder = self._find(group)
        if listing_id is None:
            code = self._shop_currency()
            if any(o.currency.upper() != code for o in group):
                for o in group:
                    results[o.sku] = ItemResult.rejected(
                        o.sku,
                        f"the Etsy shop sells in {code}, this offer is in "
                        f"{o.currency.upper()}: set the channel's price currency to {code}",
                    )
                return
            listing_id, placeholder = self._create(group), True
        elif known:
            self._patch(listing_id, group)
        ids: dict[str, dict[str, str]] = {o.sku: {} for o in group}
        if known is None or any(not self._known(o, "listing_id") for o in group):
            ids = self._write(listing_id, group, results, price=True, quantity=True,
                              add=True, replace=placeholder)  # fmt: skip
        if self._shop_index is not None:  # found by its SKUs from now on
            self._shop_index.skus.update({o.sku: listing_id for o in group})
            self._shop_index.titles[listing_title(group)] = [
                (lid, True, state) if lid == listing_id else (lid, has, state)
                for lid, has, state in self._shop_index.titles.get(listing_title(group), [])
            ]
        images = self._images(listing_id, group, fresh=placeholder)
        for o in group:
            extra = {"images": images} if images else {}
            results.setdefault(
                o.sku,
                ItemResult.accepted(o.sku, listing_id=listing_id, **ids.get(o.sku, {}), **extra),
            )

    def _create(self, group: list[Offer]) -> str:
        s = self.settings
        if not s.get("taxonomy_id"):
            raise Fatal(f"channel {self.name}: settings.taxonomy_id is needed to make Etsy "
                        "listings (a seller taxonomy id, see getSellerTaxonomyNodes)")  # fmt: skip
        first = group[0]
        form: dict[str, Any] = {
            "quantity": max(1, min(sum(max(o.quantity, 0) for o in group), MAX_QUANTITY)),
            "title": listing_title(group),
            "description": first.description.strip() or listing_title(group),
            "price": to_text(min(buyer_price(o) for o in group), first.currency),
            "who_made": s.get("who_made") or "i_did",
            "when_made": s.get("when_made") or "made_to_order",
            "taxonomy_id": s["taxonomy_id"],
            "is_supply": "false",
            "type": "physical",
        }
        for key in ("shipping_profile_id", "return_policy_id"):
            if s.get(key):
                form[key] = s[key]
        if first.weight_grams:
            form.update(item_weight=first.weight_grams, item_weight_unit="g")
        body = self._body(self.api.request("POST", f"{self._shop}/listings", data=form))
        listing_id = str(body.get("listing_id") or "")
        if not listing_id:
            raise Fatal("Etsy answered createDraftListing without a listing_id; check base_url")
        if self._shop_index is not None:
            self._shop_index.titles.setdefault(form["title"], []).append(
                (listing_id, False, "draft")
            )
        return listing_id

    def _shop_currency(self) -> str:
        """The currency the shop sells in (``getShop``), which new listings' prices are in."""
        if self._currency is None:
            body = self._body(self.api.request("GET", self._shop))
            self._currency = str(body.get("currency_code") or "").upper()
        return self._currency

    def _patch(self, listing_id: str, group: list[Offer]) -> None:
        first = group[0]
        form = {"title": listing_title(group),
                "description": first.description.strip() or listing_title(group)}  # fmt: skip
        self.api.request("PATCH", f"{self._shop}/listings/{listing_id}", data=form,
                         idempotent=True)  # fmt: skip

    def _find(self, group: list[Offer]) -> tuple[str | None, bool]:
        """The shop's listing for a group none of whose SKUs has a recorded listing id, and
        whether it is a draft of ours still holding Etsy's placeholder product: the listing
        holding one of its SKUs (a run died before recording it, or a new variant's mates
        are there); else the one listing of its exact title that is a draft without SKUs
        (made by a run that died) or, for an item group, holds SKUs (its other variants)."""
        grouped = bool(group[0].item_group_id)
        index = self._shop_index
        if index is None:
            index = self._shop_index = ShopIndex()
        # drafts first (what a killed run leaves); the other states only for an item group
        # whose listing may hold its siblings
        for state in LISTING_STATES[: None if grouped else 1]:
            if state in index.read:
                continue
            pages = self.api.offsets(
                f"{self._shop}/listings", {"state": state, "includes": "Inventory"},
                limit=100, items=_results, total=_count,
            )  # fmt: skip
            for answer in pages:
                for listing in _results(answer):
                    index.add(listing)
            index.read.add(state)
            if state == "draft" and any(o.sku in index.skus for o in group):
                break
        for o in group:
            if o.sku in index.skus:
                return index.skus[o.sku], False
        candidates = [(lid, has, state) for lid, has, state in
                      index.titles.get(listing_title(group), [])
                      if (not has and state == "draft") or (has and grouped)]  # fmt: skip
        if len(candidates) == 1:
            lid, has, state = candidates[0]
            return lid, not has
        return None, False

    def _images(self, listing_id: str, group: list[Offer], fresh: bool) -> str | None:
        """Upload the group's images to a listing made here (``fresh``) or, when their links
        changed, to one whose images multichan uploaded before (a digest is recorded); their
        digest, or None. A listing taken over with images of its own keeps them."""
        urls: list[str] = []
        for o in group:
            for url in (o.image_link, *o.additional_image_links):
                if url and url not in urls:
                    urls.append(url)
        urls = urls[:MAX_IMAGES]
        if not urls or not self.settings.get("upload_images", True):
            return None
        digest = hashlib.sha256("\n".join(urls).encode()).hexdigest()[:16]
        before = {self._known(o, "images") for o in group} - {None}
        if not fresh and (not before or before == {digest}):
            return digest if before else None
        for rank, url in enumerate(urls, 1):
            try:
                content, ctype = self.api.download(url)
            except Refused as exc:
                raise Refused(
                    f"Etsy listing {listing_id} is saved without its images: {exc.message}; "
                    "fix the image link and push again", exc.answer,
                ) from None  # fmt: skip
            name = urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1] or f"image{rank}.jpg"
            body, content_type = encode_multipart_formdata({
                "image": (name, content, ctype), "rank": str(rank), "overwrite": "true",
            })  # fmt: skip
            self.api.request("POST", f"{self._shop}/listings/{listing_id}/images", data=body,
                             headers={"Content-Type": content_type}, idempotent=True)  # fmt: skip
        return digest

    # --- prices and quantities ---------------------------------------------------------------
    def update_prices(self, offers: list[Offer]) -> list[ItemResult]:
        return self._update(offers, price=True, quantity=False)

    def update_quantities(self, offers: list[Offer]) -> list[ItemResult]:
        return self._update(offers, price=False, quantity=True)

    def update_prices_and_quantities(self, offers: list[Offer]) -> list[ItemResult]:
        return self._update(offers, price=True, quantity=True)

    def _update(self, offers: list[Offer], price: bool, quantity: bool) -> list[ItemResult]:
        results: Results = {}
        listings: dict[str, list[Offer]] = {}
        for o in offers:
            listing_id = self._known(o, "listing_id")
            if listing_id:
                listings.setdefault(listing_id, []).append(o)
            else:
                results[o.sku] = ItemResult.rejected(o.sku, NOT_LISTED)

        def write(group: list[Offer], results: Results) -> None:
            listing_id = str(self._known(group[0], "listing_id"))
            ids = self._write(listing_id, group, results, price=price, quantity=quantity)
            for o in group:
                results.setdefault(
                    o.sku, ItemResult.accepted(o.sku, listing_id=listing_id, **ids.get(o.sku, {}))
                )

        return self._per_listing(offers, listings, write, results)

    def _write(
        self, listing_id: str, group: list[Offer], results: Results, *, price: bool,
        quantity: bool, add: bool = False, replace: bool = False,
    ) -> dict[str, dict[str, str]]:  # fmt: skip
        """Read the listing's inventory, set the group's SKUs in it, write it all back (see
        the module docstring); the product and offering id of each SKU written. ``add``: SKUs
        not in the inventory become products; ``replace``: Etsy's placeholder product (no
        SKU, as a new draft has) goes."""
        path = f"{APP}/listings/{listing_id}/inventory"
        current = self._body(self.api.request("GET", path))
        read = [p for p in current.get("products") or [] if not p.get("is_deleted")]
        if replace:
            read = [p for p in read if p.get("sku")]
        products = [writable(p) for p in read]
        by_sku = {p["sku"]: (p, raw) for p, raw in zip(products, read, strict=True) if p["sku"]}
        names = self._property_names(read, group)
        for o in group:
            found = by_sku.get(o.sku)
            if found is None and not add:
                results[o.sku] = ItemResult.rejected(
                    o.sku, f"Etsy listing {listing_id} has no product with SKU {o.sku} (deleted "
                    "on Etsy?); push its listing again")  # fmt: skip
                continue
            if found is not None:
                code = currency_of(found[1])
                if code and code != o.currency.upper():
                    results[o.sku] = ItemResult.rejected(
                        o.sku,
                        f"Etsy sells listing {listing_id} in {code}, this offer is in "
                        f"{o.currency.upper()}: set the channel's price currency to {code}",
                    )
                    continue
                for off in found[0]["offerings"] or [offering(buyer_price(o), o.quantity)]:
                    if price:
                        off["price"] = float(buyer_price(o))
                    if quantity:
                        off["quantity"] = min(max(o.quantity, 0), MAX_QUANTITY)
                if not found[0]["offerings"]:
                    found[0]["offerings"] = [offering(buyer_price(o), o.quantity)]
                continue
            product: Product = {"sku": o.sku, "property_values": [
                {"property_id": pid, "property_name": name.capitalize(), "value_ids": [],
                 "values": [attribute(o, name)]} for pid, name in names
            ], "offerings": [offering(buyer_price(o), o.quantity)]}  # fmt: skip
            products.append(product)
            by_sku[o.sku] = (product, {})
        if all(o.sku in results for o in group):
            return {}
        used = sorted({v["property_id"] for p in products for v in p["property_values"]})
        body = {"products": products, "price_on_property": used,
                "quantity_on_property": used, "sku_on_property": used}  # fmt: skip
        if not replace and _same(body, current):
            answer: dict[str, Any] = current  # Etsy holds these numbers already
        else:
            answer = self._body(self.api.request("PUT", path, json=body))
        ids: dict[str, dict[str, str]] = {}
        for p in answer.get("products") or []:
            sku = p.get("sku")
            if sku and p.get("product_id"):
                ids[str(sku)] = {"product_id": str(p["product_id"])}
        return ids

    def _property_names(
        self, read: list[dict[str, Any]], group: list[Offer]
    ) -> list[tuple[int, str]]:
        """(property id, attribute name) of the listing's variations: those Etsy holds, else
        the group's own."""
        held: dict[int, str] = {}
        for p in read:
            for pv in p.get("property_values") or []:
                if pv.get("property_id"):
                    held.setdefault(int(pv["property_id"]), str(pv.get("property_name") or ""))
        if held:
            return [(pid, name.lower() or "option") for pid, name in held.items()]
        return list(zip(CUSTOM_PROPERTIES, variation_names(group), strict=False))

    # --- one listing at a time ----------------------------------------------------------------
    def _per_listing(
        self, offers: list[Offer], listings: dict[str, list[Offer]], work: Any,
        results: Results | None = None,
    ) -> list[ItemResult]:  # fmt: skip
        """Run ``work(group, results)`` per listing. Etsy's 4xx for one listing rejects its
        SKUs with Etsy's message; a failure that may pass stops the send (Retriable) when
        nothing was written yet, else leaves the listings not done retriable."""
        results = results if results is not None else {}
        done = False
        pending = list(listings.values())
        while pending:
            group = pending.pop(0)
            try:
                work(group, results)
                done = True
            except Refused as exc:
                body = exc.answer.body if isinstance(exc.answer.body, dict) else {}
                said = _said(exc.answer) if body.get("error") else exc.message
                for o in group:
                    results.setdefault(o.sku, ItemResult.rejected(o.sku, said))
                done = True
            except Retriable as exc:
                self._shop_index = None  # a write may have gone through: read the shop again
                if not done:
                    raise
                for o in [o for g in (group, *pending) for o in g]:
                    results.setdefault(
                        o.sku,
                        ItemResult.rejected(
                            o.sku, exc.message, retriable=True, retry_after=exc.retry_after
                        ),
                    )
                break
        return [results[o.sku] for o in offers]

    # --- orders ------------------------------------------------------------------------------
    def fetch_orders(self, since: datetime) -> Iterator[list[Order]]:
        """Receipts changed at or after ``since``, oldest change first, 100 a page."""
        pages = self.api.offsets(f"{self._shop}/receipts", eo.receipts_params(since),
                                 limit=eo.PER_PAGE, items=_results, total=_count)  # fmt: skip
        for answer in pages:
            yield [eo.to_order(r) for r in _results(answer)]

    # --- shipments ---------------------------------------------------------------------------
    def ship(self, shipment: Any) -> ItemResult:
        """createReceiptShipment for the parcel's receipt, unless Etsy has its tracking code
        already; ``fulfillment_id`` is Etsy's receipt_shipping_id."""
        path = f"{self._shop}/receipts/{urllib.parse.quote(shipment.order_id, safe='')}"
        try:
            receipt = self._body(self.api.request("GET", path))
        except Refused as exc:
            return ItemResult.rejected(shipment.key, f"Etsy: {_said(exc.answer)}")
        wanted: dict[str, int] = {}
        for line in shipment.lines:
            wanted[line.line_id] = wanted.get(line.line_id, 0) + line.quantity
        tracking = (shipment.tracking_number or "").strip() or None
        plan = eo.plan_shipment(receipt, wanted, tracking, shipment.carrier)
        if plan.done:
            return ItemResult.accepted(shipment.key, fulfillment_id=plan.done)
        if plan.refused or plan.form is None:
            return ItemResult.rejected(shipment.key, f"Etsy: {plan.refused}")
        try:  # not sent again by the client: a lost answer is found by its code next time
            answer = self.api.request("POST", f"{path}/tracking", data=plan.form,
                                      idempotent=False)  # fmt: skip
        except Refused as exc:
            return ItemResult.rejected(shipment.key, f"Etsy: {_said(exc.answer)}")
        after = answer.body if isinstance(answer.body, dict) else {}
        again = eo.plan_shipment({**receipt, **after}, wanted, tracking, shipment.carrier)
        receipt_id = str(receipt.get("receipt_id") or shipment.order_id)
        return ItemResult.accepted(
            shipment.key, fulfillment_id=again.done or f"{receipt_id}:{tracking}"
        )

    # --- drift -------------------------------------------------------------------------------
    def remote_listings(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every SKU of the shop's listings in every state, 100 listings (with their inventory)
        a page; see the module docstring."""
        seen: set[str] = set()
        for state in READ_STATES:
            pages = self.api.offsets(
                f"{self._shop}/listings", {"state": state, "includes": "Inventory"},
                limit=100, items=_results, total=_count,
            )  # fmt: skip
            for answer in pages:
                for listing in _results(answer):
                    for sku, fields in _remote(listing, state):
                        if sku not in seen:
                            seen.add(sku)
                            yield sku, fields

    # --- HTTP --------------------------------------------------------------------------------
    @property
    def _shop(self) -> str:
        return f"{APP}/shops/{self.settings['shop_id']}"

    def _known(self, offer: Offer, key: str) -> str | None:
        return self.known_ids.get(offer.sku, {}).get(key) or None

    @functools.cached_property
    def api(self) -> ApiClient:
        s = self.settings
        key = reveal(s["keystring"])
        if s.get("shared_secret") is not None:
            key = f"{key}:{reveal(s['shared_secret'])}"
        auth = OAuth2Refresh(
            TOKEN_PATH, s["refresh_token"], s["keystring"], client_auth="body",
            key=f"etsy:{self.name}:{s['shop_id']}", rotating=True,
        )  # fmt: skip
        return ApiClient(
            self, s["base_url"], vendor="Etsy", auth=auth, timeout=s.get("timeout") or 30,
            headers={"x-api-key": key}, describe=_said,
            auth_hint="The token needs the scopes listings_r, listings_w, transactions_r and "
            "transactions_w; x-api-key is the keystring and shared secret",
        )  # fmt: skip

    def _body(self, answer: Answer) -> dict[str, Any]:
        if not isinstance(answer.body, dict):
            raise Fatal(f"Etsy answered {answer.method} {answer.path} with something that is "
                        "not JSON; check base_url")  # fmt: skip
        return answer.body


def _results(answer: Answer) -> list[dict[str, Any]]:
    found = answer.body.get("results") if isinstance(answer.body, dict) else None
    return [r for r in found if isinstance(r, dict)] if isinstance(found, list) else []


def _count(answer: Answer) -> int | None:
    count = answer.body.get("count") if isinstance(answer.body, dict) else None
    return count if isinstance(count, int) else None


def _remote(listing: dict[str, Any], state: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(SKU, drift fields) of each product of a listing read with its inventory."""
    products = [p for p in (listing.get("inventory") or {}).get("products") or []
                if isinstance(p, dict) and p.get("sku") and not p.get("is_deleted")]  # fmt: skip
    for p in products:
        offers = [o for o in p.get("offerings") or [] if not o.get("is_deleted")]
        if not offers:
            continue
        off = offers[0]
        price = off.get("price") or {}
        fields: dict[str, Any] = {
            "price": to_text(eo.money(price), price.get("currency_code")),
            "quantity": int(off.get("quantity") or 0),
            "listed": state in LISTED_STATES and bool(off.get("is_enabled", True)),
        }
        if len(products) == 1 and not p.get("property_values"):  # entities: open-api#446
            fields["title"] = html.unescape(str(listing.get("title") or ""))
        yield str(p["sku"]), fields


def _said(answer: Answer) -> str:
    """Etsy's ``error`` (and ``error_description``), else the status and text."""
    body = answer.body if isinstance(answer.body, dict) else {}
    said = " - ".join(str(body[k]) for k in ("error", "error_description") if body.get(k))
    return said or f"HTTP {answer.status} {' '.join(answer.text.split())[:200]}".strip()


def _same(body: dict[str, Any], current: dict[str, Any]) -> bool:
    """True when ``body`` would write what Etsy's inventory ``current`` holds already."""
    held = [writable(p) for p in current.get("products") or [] if not p.get("is_deleted")]
    return _key(body["products"]) == _key(held)


def _key(products: list[Product]) -> list[Any]:
    return sorted(
        (p["sku"], sorted((v["property_id"], tuple(v["values"])) for v in p["property_values"]),
         [(round(o["price"], 4), o["quantity"], o["is_enabled"]) for o in p["offerings"]])
        for p in products
    )  # fmt: skip
