"""Meta (Facebook / Instagram) catalog through the Catalog Batch API: listings, prices and
stock pushed as asynchronous jobs. Owns the mapping of offers to ``items_batch`` requests and
of Meta's batch status (``check_batch_request_status``) back to one ItemResult per SKU.

Meta's rules this module follows (Graph API; ``ProductCatalog.json``, ``ProductItem.json`` and
``CheckBatchRequestStatus.json`` of Meta's SDK specs, the items_batch and Catalog Batch pages):
- ``POST /{version}/{catalog_id}/items_batch`` with ``item_type=PRODUCT_ITEM`` takes up to 5,000
  requests a call (Meta recommends under 3,000: a job here is at most 3,000) and answers
  ``handles`` (0 or 1; none means nothing was ingested) and ``validation_status`` (per
  retailer id, errors found at once). Each request is ``{"method": "UPDATE", "data": {"id":
  SKU, ...}}`` with the feed's field names (``title``, ``link``, ``image_link``, ``price`` as
  ``"12.99 USD"``: the same fields and formats as the Meta feed template); UPDATE with
  ``allow_upsert`` creates a missing item, so a request sent twice sets the same values
  twice: sending again after a lost answer is safe. Prices and stock go with
  ``allow_upsert=false``: an item that is not in the catalog is refused, not half-created.
- ``GET /{version}/{catalog_id}/check_batch_request_status?handle=H`` answers ``{"data":
  [{status, errors[{line, id, message}], warnings[...], ids_of_invalid_requests}]}``;
  ``errors`` is a sample, so ``load_ids_of_invalid_requests=true`` asks for every refused id.
  Status scheduled / dispatched / started: still running; finished: the requests with errors
  were not saved, the others were; canceled or error: what Meta does not name as refused may
  not have been saved, so it is sent again (retriable).
- Stock is ``quantity_to_sell_on_facebook`` (Meta's replacement of the deprecated
  ``inventory``) with ``availability``. A SKU no longer offered (a delist, quantity 0) stays
  in the catalog as ``out of stock``: ads and checkout stop, and Meta keeps its history,
  reviews and ad statistics, so offering it again is one update, not a new item.
- Usage: every answer may carry ``X-Business-Use-Case-Usage`` (percent used, minutes until
  access is regained); the API client waits before its next request when Meta is near 100%
  or names a time (``api.usage_pause``). Throttling errors (codes 4, 17, 32, 613, 80000 to
  80014) are retriable, an invalid token (190) or missing permission (10, 200-299) fatal.
- Push-only: Meta has no order API a small seller uses.
- Drift (``remote_listings``) reads ``GET /{version}/{catalog_id}/products`` with ``fields``
  (retailer_id, name, price, sale_price, currency, availability,
  quantity_to_sell_on_facebook, inventory, visibility), ``limit`` 250 and
  ``bulk_pagination=true`` (the edge's parameter for reading all of it), page after page by
  ``paging.cursors.after`` while the answer has a ``paging.next`` (the next link itself is
  not followed: Meta puts the access token in it). The SKU is the retailer id; ``price`` and
  ``sale_price`` are read as Meta shows them (``"$1,299.00"``, ``"12.00 USD"``, or an integer
  of minor units, as the legacy batch API took them) in the item's ``currency`` and given as
  that currency's decimal string (a sale price of 0 is none); ``quantity`` is
  ``quantity_to_sell_on_facebook``, else the deprecated ``inventory``; ``listed`` is False
  for an item hidden (``visibility`` staging) or no longer for sale (``discontinued``,
  ``mark_as_sold``). An item still ``out of stock`` is listed: that is how a delist is sent.
  A price Meta shows that is not an amount is left out, not guessed.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, ClassVar

from multichan.channels.api import Answer, ApiClient, usage_pause
from multichan.channels.auth import Token
from multichan.channels.base import (
    JOINT,
    Channel,
    Fatal,
    ItemResult,
    RateLimit,
    Retriable,
    SettingSpec,
)
from multichan.money import feed_price, from_minor, normalize
from multichan.offers import Offer

API_VERSION = "v25.0"
PER_JOB = 3000  # Meta takes 5,000 requests a call and recommends keeping under 3,000
RUNNING = frozenset({"scheduled", "dispatched", "started", "in_progress", "pending"})
THROTTLED = frozenset({4, 17, 32, 613})  # app, user, page and custom rate limits
AUTH_CODES = frozenset({102, 190, 463, 467})  # session expired or token invalid
MAX_MESSAGE = 500
USAGE = usage_pause("X-Business-Use-Case-Usage", "X-App-Usage")
# offer fields of a listing, as the Meta feed template sends them (feed names)
LISTING_TEXT = ("brand", "gtin", "mpn", "item_group_id", "google_product_category",
                "product_type", "color", "size", "material", "pattern")  # fmt: skip
# what drift reads of each item (ProductItem fields) and how many items a page
REMOTE_FIELDS = ("retailer_id", "name", "price", "sale_price", "currency", "availability",
                 "quantity_to_sell_on_facebook", "inventory", "visibility")  # fmt: skip
REMOTE_PAGE = 250
NOT_FOR_SALE = frozenset({"discontinued", "mark_as_sold"})
CODE_RE = re.compile(r"\b([A-Z]{3})\b")


def availability(offer: Offer) -> str:
    """Meta's wording of the offer's availability (``in_stock`` -> ``in stock``)."""
    return offer.availability.replace("_", " ")


def listing_data(offer: Offer) -> dict[str, Any]:
    """The whole item: what a create needs and what the feed sends. Optional fields the offer
    does not have are sent empty, which unsets them at Meta (null would leave them). An item
    multichan lists is ``published``: one hidden in Commerce Manager (``staging``) is shown
    again by the next listing write (``drift --fix``)."""
    data: dict[str, Any] = {
        "id": offer.sku,
        "visibility": "published",
        "title": offer.title,
        "description": offer.description,
        "availability": availability(offer),
        "condition": offer.condition,
        "link": offer.link or "",
        "image_link": offer.image_link or "",
        "additional_image_link": list(offer.additional_image_links[:20]),
    }
    for name in LISTING_TEXT:
        data[name] = getattr(offer, name) or ""
    data["gender"] = (offer.gender or "").lower()
    data["age_group"] = (offer.age_group or "").lower()
    return {**data, **price_data(offer), **stock_data(offer)}


def price_data(offer: Offer) -> dict[str, Any]:
    """Price and sale price as ``12.99 USD``; no sale price is an empty one (ends a sale)."""
    return {
        "id": offer.sku,
        "price": feed_price(offer.price, offer.currency),
        "sale_price": feed_price(offer.sale_price, offer.currency),
    }


def stock_data(offer: Offer) -> dict[str, Any]:
    """The count to sell and the availability that goes with it (0: ``out of stock``)."""
    return {
        "id": offer.sku,
        "quantity_to_sell_on_facebook": offer.quantity,
        "availability": availability(offer),
    }


MAPPERS = {
    "listings": listing_data,
    "prices": price_data,
    "quantities": stock_data,
    JOINT: lambda o: {**price_data(o), **stock_data(o)},
}


def _text(value: Any) -> str:
    return " ".join(str(value).split())[:MAX_MESSAGE]


class MetaCatalogApi(Channel):
    """A Meta commerce catalog: one item per SKU (retailer id = SKU), variants joined by
    ``item_group_id``; every write an items_batch job."""

    type = "meta_catalog_api"
    description = "Meta (Facebook/Instagram) catalog through the Catalog Batch API (items_batch)"
    supports = frozenset({"listings", "prices", "quantities", JOINT})
    # one items_batch call per job; the synchronous methods poll the same call briefly
    job_batch: ClassVar[dict[str, int]] = dict.fromkeys(MAPPERS, PER_JOB)
    max_batch: ClassVar[dict[str, int]] = dict.fromkeys(MAPPERS, PER_JOB)
    job_wait = 300.0
    job_poll = 10.0
    grouped = frozenset()  # items_batch writes items, not products
    # the Catalog Batch use case allows some calls a minute per catalog; the usage header
    # (followed by the API client) says when to slow down
    rate_limit = RateLimit(requests_per_second=2, burst=4)
    max_title, max_description = 200, 9999
    settings_schema: ClassVar[dict[str, SettingSpec]] = {
        "catalog_id": SettingSpec("str", required=True, help="the catalog id (Commerce Manager)"),
        "token": SettingSpec("secret", required=True,
                             help="${META_ACCESS_TOKEN}: a system user's access token with "
                             "catalog_management"),
        "base_url": SettingSpec("url", default="https://graph.facebook.com",
                                help="the Graph API's address"),
        "api_version": SettingSpec("str", default=API_VERSION, help="Graph API version"),
        "timeout": SettingSpec("int", default=60, help="seconds per request"),
    }  # fmt: skip
    credential_env = ("META_ACCESS_TOKEN",)

    # --- jobs ----------------------------------------------------------------------------
    def submit_job(self, operation: str, offers: list[Offer]) -> dict[str, str]:
        """One items_batch call; the ticket holds Meta's handle and, by SKU, what Meta
        refused at once (those items were not ingested)."""
        mapper = MAPPERS[operation]
        body = {
            "item_type": "PRODUCT_ITEM",
            "allow_upsert": operation == "listings",
            "requests": [{"method": "UPDATE", "data": mapper(o)} for o in offers],
        }
        # UPDATE of absolute values: a request sent again sets the same values again
        answer = self.api.request("POST", self._path("items_batch"), json=body, idempotent=True)
        found = answer.body if isinstance(answer.body, dict) else {}
        handles = [h for h in found.get("handles") or [] if isinstance(h, str) and h]
        skus = {o.sku for o in offers}
        refused: dict[str, str] = {}
        for status in found.get("validation_status") or []:
            if not isinstance(status, dict) or status.get("retailer_id") not in skus:
                continue
            said = "; ".join(_text(e.get("message")) for e in status.get("errors") or []
                             if isinstance(e, dict) and e.get("message"))  # fmt: skip
            if said:
                refused[str(status["retailer_id"])] = said
        ticket = {"handle": handles[0] if handles else ""}
        if refused:
            ticket["refused"] = json.dumps(refused, sort_keys=True)
        return ticket

    def collect_job(
        self, operation: str, ticket: dict[str, str], skus: list[str]
    ) -> list[ItemResult] | None:
        """One look at the batch: None while Meta works on it, else a result per SKU."""
        refused: dict[str, str] = json.loads(ticket.get("refused") or "{}")
        handle = ticket.get("handle") or ""
        if not handle:  # Meta ingested nothing
            why = "Meta ingested none of this batch and named no reason; sent again"
            return [ItemResult.rejected(s, f"Meta: {refused[s]}") if s in refused
                    else ItemResult.rejected(s, why, retriable=True) for s in skus]  # fmt: skip
        params = {"handle": handle, "load_ids_of_invalid_requests": "true"}
        answer = self.api.request("GET", self._path("check_batch_request_status"), params=params)
        data = answer.body.get("data") if isinstance(answer.body, dict) else None
        status = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else None
        if status is None:
            gone = f"Meta has no batch {handle} (expired or unknown); sent again"
            return [self._gone(s, refused, gone) for s in skus]
        state = str(status.get("status") or "").strip().lower()
        if state in RUNNING:
            return None
        errors = self._by_sku(status.get("errors"), skus)
        warnings = self._by_sku(status.get("warnings"), skus)
        invalid = {str(i) for i in status.get("ids_of_invalid_requests") or []}
        results = []
        for sku in skus:
            if sku in refused or sku in errors:
                results.append(ItemResult.rejected(sku, f"Meta: {refused.get(sku) or errors[sku]}"))
            elif sku in invalid:
                results.append(ItemResult.rejected(
                    sku, "Meta refused this item; its message is not in the sample Meta "
                    "returns (see the catalog's issues in Commerce Manager)"))  # fmt: skip
            elif state != "finished":
                why = f"Meta's batch {handle} ended {state or 'without a status'}; sent again"
                results.append(ItemResult.rejected(sku, why, retriable=True))
            elif sku in warnings:
                results.append(ItemResult(sku, True, {}, f"Meta warned: {warnings[sku]}"))
            else:
                results.append(ItemResult.accepted(sku))
        return results

    @staticmethod
    def _gone(sku: str, refused: dict[str, str], otherwise: str) -> ItemResult:
        if sku in refused:
            return ItemResult.rejected(sku, f"Meta: {refused[sku]}")
        return ItemResult.rejected(sku, otherwise, retriable=True)

    @staticmethod
    def _by_sku(entries: Any, skus: list[str]) -> dict[str, str]:
        """Meta's errors or warnings by SKU: by the retailer ``id`` they name, else by their
        ``line`` (the request's place in the batch)."""
        found: dict[str, str] = {}
        known = set(skus)
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or not entry.get("message"):
                continue
            sku = str(entry.get("id") or "")
            line = entry.get("line")
            if sku not in known and isinstance(line, int) and 0 <= line < len(skus):
                sku = skus[line]
            if sku in known:
                text = _text(entry["message"])
                found[sku] = f"{found[sku]}; {text}" if sku in found else text
        return found

    # --- the synchronous path: one job, looked at until done or job_wait ---------------------
    def upsert_listings(self, offers: list[Offer]) -> list[ItemResult]:
        return self.job_now("listings", offers)

    def update_prices(self, offers: list[Offer]) -> list[ItemResult]:
        return self.job_now("prices", offers)

    def update_quantities(self, offers: list[Offer]) -> list[ItemResult]:
        return self.job_now("quantities", offers)

    def update_prices_and_quantities(self, offers: list[Offer]) -> list[ItemResult]:
        return self.job_now(JOINT, offers)

    # --- drift: what the catalog holds now ---------------------------------------------------
    def remote_listings(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every item of the catalog, by retailer id, as drift compares it (see the module
        docstring): title, price, sale_price, quantity, listed."""

        def request(after: str | None) -> dict[str, Any]:
            params = {"fields": ",".join(REMOTE_FIELDS), "limit": REMOTE_PAGE,
                      "bulk_pagination": "true", **({"after": after} if after else {})}  # fmt: skip
            return {"params": params}

        for answer in self.api.cursors("GET", self._path("products"), request, _after):
            data = answer.body.get("data") if isinstance(answer.body, dict) else None
            for item in data if isinstance(data, list) else []:
                if isinstance(item, dict) and item.get("retailer_id"):
                    yield str(item["retailer_id"]), _shown(item)

    # --- HTTP ------------------------------------------------------------------------------
    def _path(self, edge: str) -> str:
        version = str(self.settings.get("api_version") or API_VERSION).strip("/")
        return f"/{version}/{self.settings['catalog_id']}/{edge}"

    @functools.cached_property
    def api(self) -> ApiClient:
        return ApiClient(
            self, self.settings.get("base_url") or "https://graph.facebook.com",
            vendor="Meta", auth=Token(self.settings["token"]),
            timeout=self.settings.get("timeout") or 60, refine=self._refine,
            describe=_said, pause_after=USAGE,
            auth_hint="It must be a system user's token with catalog_management on the catalog",
        )  # fmt: skip

    def _refine(self, answer: Answer) -> Exception | None:
        """Graph API errors by their code: Meta answers most of them with HTTP 400."""
        error = _error(answer)
        if answer.status < 400 and not error:
            return None
        code = _code(error.get("code"))
        said = _said(answer) or f"HTTP {answer.status}"
        if code in AUTH_CODES or (answer.status == 401 and code is None):
            return Fatal(f"Meta refused $META_ACCESS_TOKEN ({said}); set a valid system "
                         "user access token")  # fmt: skip
        if code in (10, 3) or (code is not None and 200 <= code <= 299):
            return Fatal(
                f"Meta: the token may not do this ({said}); it needs "
                f"catalog_management on catalog {self.settings['catalog_id']}"
            )
        if code in THROTTLED or (code is not None and 80000 <= code <= 80014):
            # the usage header's wait, when it has one, comes before the next request anyway
            return Retriable(f"Meta is throttling this catalog ({said})",
                             retry_after=None if USAGE(answer) else 60.0)  # fmt: skip
        if code == 1 and "reduce the amount of data" in said.lower():
            return Fatal(f"Meta: the batch is too large for one call ({said})")
        if code in (1, 2) or error.get("is_transient") is True:
            return Retriable(f"Meta: temporary failure ({said})")
        if code == 803 or answer.status == 404:
            return Fatal(
                f"Meta has no catalog {self.settings['catalog_id']} at "
                f"{self.api.base_url} ({said}); check catalog_id and base_url"
            )
        return None  # the client's classification: 5xx retriable, other 4xx refused


def _error(answer: Answer) -> dict[str, Any]:
    error = answer.body.get("error") if isinstance(answer.body, dict) else None
    return error if isinstance(error, dict) else {}


def _after(answer: Answer) -> str | None:
    """The cursor of the next page: ``paging.cursors.after`` while ``paging.next`` says
    there is one (the last page may still carry an ``after``)."""
    paging = answer.body.get("paging") if isinstance(answer.body, dict) else None
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    return str(after) if after else None


def _shown(item: dict[str, Any]) -> dict[str, Any]:
    """What drift compares of one item, in the contract's names and types."""
    currency = str(item.get("currency") or "").upper() or None
    fields: dict[str, Any] = {"title": str(item.get("name") or "")}
    price = _amount(item.get("price"), currency)
    if price is not None:
        fields["price"] = price
    sale = _amount(item.get("sale_price"), currency)
    fields["sale_price"] = sale if sale is not None and Decimal(sale) > 0 else None
    quantity = item.get("quantity_to_sell_on_facebook", item.get("inventory"))
    if isinstance(quantity, int | str) and str(quantity).strip().lstrip("-").isdigit():
        fields["quantity"] = max(int(quantity), 0)
    hidden = str(item.get("visibility") or "").lower() == "staging"
    gone = str(item.get("availability") or "").lower() in NOT_FOR_SALE
    fields["listed"] = not (hidden or gone)
    return fields


def _amount(value: Any, currency: str | None) -> str | None:
    """A price as Meta shows it, as a decimal string of its currency (None: none shown,
    or not an amount)."""
    if value is None or value == "" or isinstance(value, bool | float):
        return None
    if isinstance(value, int):  # minor units (cents), as the legacy batch API took prices
        return normalize(from_minor(value, currency or "USD"), currency)
    text = str(value)
    named = CODE_RE.search(text)
    code = currency or (named.group(1) if named else None)
    try:
        return normalize(text, code)
    except ValueError:
        return None


def _code(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _said(answer: Answer) -> str:
    """A Graph API error as one line: "message (code N)"."""
    error = _error(answer)
    if not error:
        return " ".join(answer.text.split())[:300]
    text = _text(error.get("error_user_msg") or error.get("message") or "error")
    code = error.get("code")
    return f"{text} (code {code})" if code is not None else text
