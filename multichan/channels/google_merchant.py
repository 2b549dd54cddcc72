"""Google Merchant API: listings, prices and availability as product inputs of one API data
source, and store stock as local inventories. Owns the mapping of offers to Google's
``ProductInput`` and ``LocalInventory`` (merchantapi products_v1, inventories_v1) and of
Google's answers back to one ItemResult per SKU; Google's quota groups (quota_v1) as this run
spends them.

What Google documents and this module follows:
- ``POST products/v1/accounts/{a}/productInputs:insert?dataSource=...`` creates or *replaces*
  the whole product input (contentLanguage + feedLabel + offerId in that data source): a
  listing sends every attribute the Google feed template sends (templates/google_merchant.xml.j2),
  price and availability included. Price and stock later go as ``PATCH
  .../productInputs/{name}?updateMask=...`` of those attributes only; attributes in the mask
  but not in the body are deleted (a sale price that ended). The product's name is
  ``{contentLanguage}~{feedLabel}~{offerId}``, always sent unpadded base64url-encoded (Google's
  advice; a SKU may hold ``/`` or ``~``), and recorded as the SKU's ``product`` id.
- ``POST inventories/v1/accounts/{a}/products/{name}/localInventories:insert`` replaces one
  store's entry (``storeCode`` of the Business Profile): the ``stores`` setting maps catalog
  locations to store codes; each mapped location's count (the channel's stock rules applied)
  and its availability go with every stock change.
- One call per product: the Merchant API has no custom batch. Google's HTTP batch
  (multipart/mixed at ``batch/{sub-api}/v1``) saves round trips, not quota (each call in it
  counts), and answers per part; it is not used. Every call here is safe to repeat (inserts
  replace, patches set), so the API client sends one again after a failure that may pass; when
  it gives up, that SKU and the ones after it in the batch are answered retriable, and the
  engine sends them again.
- Quotas are per method group, daily (reset at 12:00 UTC) and per minute, read once per run
  from ``GET quota/v1/accounts/{a}/quotas`` and counted down as calls go; a group whose day is
  spent stops the push (exit 5) before Google refuses it, and one whose minute is spent makes
  the client wait for the next minute. Google's ``quota/daily_limit_exceeded`` is Fatal,
  ``quota/request_rate_too_high`` Retriable after a minute.
- Google asks for each product to be updated at most about twice a day, price and stock
  changes aside: the engine's plan sends a listing only when its content changed, counts
  listing writes per SKU over a rolling day (``daily_revisions``, ``revision_kinds``) and holds
  a third one for the next day (price and stock always go), and a listing
  written in this run carries its price and availability, so the price and stock sends after it
  make no second call for what it already wrote.
- Rejections: an insert or patch Google refuses (HTTP 400, its message) is that SKU's; Google
  checks the rest asynchronously and reports it in the processed product's
  ``productStatus.itemLevelIssues``: ``issues`` reads them (and ``fetch_remote`` shows them).
- Google has no order API a seller's own account uses: this channel is push only.
- Drift (``remote_listings``) reads ``GET products/v1/accounts/{a}/products`` (the processed
  products, ``pageSize`` 1,000, Google's most, then ``nextPageToken``), keeping those of this
  channel's content language and feed label (legacy local products aside): ``title``,
  ``price`` and ``sale_price`` from the micros of ``price``/``salePrice`` as decimal strings
  of their currency, ``listed`` False when the product is paused everywhere (``pause`` ALL).
  With ``stores`` set, ``location_quantities`` is what Google holds at each mapped store, by
  its catalog location: one ``GET .../products/{name}/localInventories`` per product (a
  mapped store without an entry counts 0, unmapped stores are not multichan's). Stock is
  written per store (``stock_by_location``), so drift compares each store's count with what
  was pushed there, whatever else the channel's offers count; without ``stores`` Google shows
  no count (availability only), so no quantity is compared. A product without a price shows
  none. The processed product can lag an insert or patch by minutes (Google's own note).
"""

from __future__ import annotations

import base64
import functools
import json
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar

from multichan.channels.api import Answer, ApiClient, Refused
from multichan.channels.auth import GoogleCredentials
from multichan.channels.base import (
    JOINT,
    Channel,
    Fatal,
    ItemResult,
    RateLimit,
    Retriable,
    SettingSpec,
    ValidatedSettings,
)
from multichan.money import currency_problem, minor_units
from multichan.offers import Offer

SCOPE = "https://www.googleapis.com/auth/content"
MICROS = Decimal(1_000_000)
FEED_LABEL_RE = re.compile(r"^[A-Z0-9_-]{1,20}$")
LANGUAGE_RE = re.compile(r"^[a-z]{2}$")
MAX_IMAGES = 10  # additionalImageLinks Google takes
MAX_OFFER_ID = 50
# the quota-group methods this module calls (QuotaGroup.methodDetails[].path)
INSERT, PATCH = "products/v1/productInputs.insert", "products/v1/productInputs.patch"
LOCAL = "inventories/v1/localInventories.insert"
GET = "products/v1/products.get"
LIST, LOCAL_LIST = "products/v1/products.list", "inventories/v1/localInventories.list"
LIST_PAGE = 1000  # products.list: Google's most a page (more is coerced to it)
LOCAL_PAGE = 25000  # localInventories.list: Google's most a page
PRICE_FIELDS = ("price", "salePrice")
STOCK_FIELDS = ("availability",)
AVAILABILITY = {
    "in_stock": "IN_STOCK", "out_of_stock": "OUT_OF_STOCK", "preorder": "PREORDER",
    "backorder": "BACKORDER", "limited_availability": "LIMITED_AVAILABILITY",
}  # fmt: skip
CONDITION = {"new": "NEW", "used": "USED", "refurbished": "REFURBISHED"}
GENDER = {"male": "MALE", "female": "FEMALE", "unisex": "UNISEX"}
AGE_GROUP = {a.lower(): a for a in ("ADULT", "KIDS", "TODDLER", "INFANT", "NEWBORN")}
NOT_LISTED = "not listed on Google yet; push its listing first"
UNPROCESSED_AFTER = 6 * 3600  # seconds after its insert that a product may stay unprocessed
UNPROCESSED_LATE = "Google had not processed the product 6 hours after its insert; sent again"
UNPROCESSED = ("Google has not processed the product yet (it can take minutes after its "
               "insert), so it takes no store stock for it: sent again")  # fmt: skip


def micros(amount: Decimal, currency: str) -> dict[str, str]:
    """Google's ``Price``: the amount in micros (1 USD = 1,000,000) as an int64 string."""
    code = currency.upper()
    problem = currency_problem(code)
    if problem:
        raise ValueError(problem)
    if amount != amount.quantize(Decimal(1).scaleb(-minor_units(code))):
        raise ValueError(f"{amount} {code} has more decimals than {code} takes")
    return {"amountMicros": str(int(amount * MICROS)), "currencyCode": code}


def attributes(offer: Offer) -> dict[str, Any]:
    """The ``ProductAttributes`` of a listing: what the Google feed template sends, by
    Google's API names; values the API has no enum for are left out, as the feed's checks
    would report them."""
    o = offer
    found: dict[str, Any] = {
        "title": o.title, "description": o.description, "link": o.link,
        "imageLink": o.image_link,
        "additionalImageLinks": list(o.additional_image_links[:MAX_IMAGES]) or None,
        "brand": o.brand, "gtins": [o.gtin] if o.gtin else None, "mpn": o.mpn,
        "condition": CONDITION.get((o.condition or "").lower()),
        "itemGroupId": o.item_group_id, "googleProductCategory": o.google_product_category,
        "productTypes": [o.product_type] if o.product_type else None, "color": o.color,
        "size": o.size, "material": o.material, "pattern": o.pattern,
        "gender": GENDER.get((o.gender or "").lower()),
        "ageGroup": AGE_GROUP.get((o.age_group or "").lower()),
        "shippingWeight": {"value": o.weight_grams, "unit": "g"} if o.weight_grams else None,
    }  # fmt: skip
    found.update(price_attributes(o))
    found.update(stock_attributes(o))
    return {k: v for k, v in found.items() if v not in (None, "", [])}


def price_attributes(offer: Offer) -> dict[str, Any]:
    """``price`` and ``salePrice`` (None: no sale price, deleted by a patch's mask)."""
    sale = offer.sale_price
    return {
        "price": micros(offer.price, offer.currency),
        "salePrice": micros(sale, offer.currency) if sale is not None else None,
    }


def stock_attributes(offer: Offer) -> dict[str, Any]:
    return {"availability": AVAILABILITY.get(offer.availability, "OUT_OF_STOCK")}


def encode(name: str) -> str:
    """Google's unpadded base64url form of a ``lang~label~offerId`` product name."""
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def _error(answer: Answer) -> dict[str, Any]:
    """The ``error`` object of a Google error answer ({} when there is none)."""
    body = answer.body if isinstance(answer.body, dict) else {}
    error = body.get("error")
    return error if isinstance(error, dict) else {}


def said(answer: Answer) -> str:
    """Google's error, in one line: ``error.message`` (with its status), else the text."""
    error = _error(answer)
    message = str(error.get("message") or "").strip()
    status = str(error.get("status") or "")
    if message:
        return f"{message} ({status})" if status else message
    return " ".join(answer.text.split())[:300] or f"HTTP {answer.status}"


def _reason(answer: Answer) -> str:
    """``ErrorInfo.reason`` or the ``quota/...`` code the error names, for classifying."""
    error = _error(answer)
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and detail.get("reason"):
            return str(detail["reason"])
    match = re.search(r"quota/[a-z_]+", str(error.get("message") or ""))
    return match.group(0) if match else ""


class Quota:
    """One quota group as this run sees it: the day's calls left and the minute's calls."""

    def __init__(self, name: str, daily: int, used: int, per_minute: int) -> None:
        self.name, self.daily, self.used, self.per_minute = name, daily, used, per_minute
        self.calls: deque[float] = deque()  # when this run's calls of the last minute went

    def spend(self, now: float) -> None:
        self.used += 1
        self.calls.append(now)

    def wait(self, now: float) -> float:
        """Seconds until the minute's quota has room again (0: it has)."""
        while self.calls and now - self.calls[0] >= 60:
            self.calls.popleft()
        if self.per_minute <= 0 or len(self.calls) < self.per_minute:
            return 0.0
        return 60.0 - (now - self.calls[0])


class GoogleMerchantApi(Channel):
    """Google Merchant Center through the Merchant API: one product input per SKU in one API
    data source, local inventories per mapped store."""

    type = "google_merchant_api"
    description = "Google Merchant Center (Merchant API): products, prices, availability, stores"
    supports = frozenset({"listings", "prices", "quantities", JOINT})
    max_batch: ClassVar[dict[str, int]] = {"listings": 50, "prices": 50, "quantities": 50,
                                           JOINT: 50}  # fmt: skip
    grouped = frozenset()  # one call per SKU: variants are separate products at Google
    # Google's per-minute quotas are per method group and adjusted per account (read at run
    # time, see Quota); 5 calls a second stays well inside the smallest seen
    rate_limit = RateLimit(requests_per_second=5, burst=10)
    # Google asks that a product be updated at most about twice a day apart from its price
    # and stock: listing writes count, per SKU (each variant is its own product), and a
    # product near that waits for the next day; price and stock always go
    daily_revisions = 3
    revision_kinds = frozenset({"listings"})
    revision_unit = "sku"
    # listings are jobs: the inserts are the submission, and the result of each SKU is what
    # Google says of its processed product (DISAPPROVED issues reject it), read once it is
    # processed, by this run or, when Google takes longer than job_wait, the next
    job_batch: ClassVar[dict[str, int]] = {"listings": 50}
    job_wait, job_poll = 120.0, 20.0
    # each mapped store's count is written: a move between stores is a change, and drift
    # compares each store's count
    stock_by_location = True
    max_title, max_description = 150, 5000
    settings_schema: ClassVar[dict[str, SettingSpec]] = {
        "base_url": SettingSpec("url", default="https://merchantapi.googleapis.com"),
        "account": SettingSpec("str", required=True, help="the Merchant Center account id"),
        "data_source": SettingSpec("str", required=True,
                                   help="the id of the API data source the products go in"),
        "content_language": SettingSpec("str", default="en", help="ISO 639-1, e.g. en"),
        "feed_label": SettingSpec("str", default="US", help="e.g. US (A-Z, 0-9, - and _)"),
        "service_account_file": SettingSpec("str", help="path of a service account's JSON key"),
        "service_account_key": SettingSpec("secret", help="${VAR} holding that JSON key"),
        "refresh_token": SettingSpec("secret", help="a user's OAuth refresh token"),
        "client_id": SettingSpec("secret", help="the OAuth client's id (with refresh_token)"),
        "client_secret": SettingSpec("secret", help="the OAuth client's secret"),
        "token_uri": SettingSpec("url", default="https://oauth2.googleapis.com/token",
                                 help="where refresh_token is traded for access tokens"),
        "stores": SettingSpec("map", default={},
                              help="catalog location -> Business Profile store code"),
        "timeout": SettingSpec("int", default=30, help="seconds per request"),
    }  # fmt: skip
    credential_env = ("GOOGLE_SERVICE_ACCOUNT_KEY", "GOOGLE_REFRESH_TOKEN",
                      "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET")  # fmt: skip

    def __init__(self, name: str, settings: Mapping[str, Any], session: Any = None) -> None:
        super().__init__(name, settings, session)
        # what this run's listing inserts wrote, by SKU and attribute: a price or stock send
        # after it that would write the same values makes no call
        self._written: dict[str, dict[str, Any]] = {}
        self._quotas: dict[str, Quota] | None = None
        self._group: Quota | None = None

    @classmethod
    def validate_settings(cls, raw: Mapping[str, Any] | None, where: str) -> ValidatedSettings:
        settings, problems = super().validate_settings(raw, where)
        kinds = [k for k in ("service_account_file", "service_account_key", "refresh_token")
                 if settings.get(k)]  # fmt: skip
        if len(kinds) != 1:
            problems.append(
                f"{where}: set one of service_account_file, service_account_key (${{VAR}}) or "
                f"refresh_token (with client_id and client_secret), not {len(kinds)}"
            )
        elif kinds == ["refresh_token"]:
            for key in ("client_id", "client_secret"):
                if not settings.get(key):
                    problems.append(f"{where}.{key} is required with refresh_token (${{VAR}})")
        label, language = settings.get("feed_label"), settings.get("content_language")
        if label is not None and not FEED_LABEL_RE.match(str(label)):
            problems.append(f"{where}.feed_label {label!r}: at most 20 of A-Z, 0-9, - and _")
        if language is not None and not LANGUAGE_RE.match(str(language)):
            problems.append(f"{where}.content_language {language!r}: two lower-case letters")
        account = str(settings.get("account") or "")
        if account and not account.isdigit():
            problems.append(f"{where}.account {account!r}: the Merchant Center id (digits)")
        return settings, problems

    # --- names -------------------------------------------------------------------------------
    @property
    def account(self) -> str:
        return f"accounts/{self.settings['account']}"

    @property
    def data_source(self) -> str:
        source = str(self.settings["data_source"])
        return source if source.startswith("accounts/") else f"{self.account}/dataSources/{source}"

    def product_id(self, sku: str) -> str:
        lang, label = self.settings["content_language"], self.settings["feed_label"]
        return encode(f"{lang}~{label}~{sku}")

    # --- listings ------------------------------------------------------------------------
    def upsert_listings(self, offers: list[Offer]) -> list[ItemResult]:
        """One insert per SKU: the whole product input, price and availability included."""

        def insert(offer: Offer) -> ItemResult:
            if len(offer.sku) > MAX_OFFER_ID:
                return ItemResult.rejected(offer.sku, f"Google takes an offerId of at most "
                                           f"{MAX_OFFER_ID} characters")  # fmt: skip
            body = {
                "offerId": offer.sku,
                "contentLanguage": self.settings["content_language"],
                "feedLabel": self.settings["feed_label"],
                "productAttributes": attributes(offer),
            }
            self._call(INSERT, "POST", f"products/v1/{self.account}/productInputs:insert",
                       json=body, params={"dataSource": self.data_source})  # fmt: skip
            self._written[offer.sku] = dict(body["productAttributes"])
            return ItemResult.accepted(offer.sku, product=self.product_id(offer.sku))

        return self._each(offers, insert)

    def submit_job(self, operation: str, offers: list[Offer]) -> dict[str, str]:
        """The inserts of a listings job; the ticket keeps what Google answered at once (a
        refusal, or a call that may pass), by SKU, for ``collect_job``."""
        answered = {
            r.sku: {"ok": r.ok, "message": r.message, "retriable": r.retriable,
                    "ids": r.remote_ids}
            for r in self.upsert_listings(offers)
        }  # fmt: skip
        return {"answered": json.dumps(answered, sort_keys=True), "at": str(int(time.time()))}

    def collect_job(
        self, operation: str, ticket: dict[str, str], skus: list[str]
    ) -> list[ItemResult] | None:
        """Each SKU's result: its insert's refusal, or what Google says of the processed
        product (its DISAPPROVED issues reject it); None while a product is not processed."""
        answered = json.loads(ticket["answered"])
        inserted = [s for s in skus if answered[s]["ok"]]
        found = self.processed(inserted)
        late = time.time() - int(ticket["at"]) > UNPROCESSED_AFTER
        if any(s not in found for s in inserted) and not late:
            return None
        results = []
        for sku in skus:
            said_now = answered[sku]
            if not said_now["ok"]:
                results.append(ItemResult.rejected(sku, said_now["message"],
                                                   retriable=said_now["retriable"]))  # fmt: skip
                continue
            if sku not in found:  # inserted hours ago and still not processed: insert again
                results.append(ItemResult.rejected(sku, UNPROCESSED_LATE, retriable=True))
                continue
            lines = [_issue(i) for i in _issues(found[sku]) if i.get("severity") == "DISAPPROVED"]
            if lines:
                results.append(
                    ItemResult.rejected(sku, "Google disapproved it: " + "; ".join(lines))
                )
            else:
                results.append(ItemResult.accepted(sku, **said_now["ids"]))
        return results

    # --- prices and stock ------------------------------------------------------------------
    def update_prices(self, offers: list[Offer]) -> list[ItemResult]:
        return self._each(offers, lambda o: self._patch(o, PRICE_FIELDS))

    def update_quantities(self, offers: list[Offer]) -> list[ItemResult]:
        return self._each(offers, lambda o: self._patch(o, STOCK_FIELDS, stores=True))

    def update_prices_and_quantities(self, offers: list[Offer]) -> list[ItemResult]:
        return self._each(offers, lambda o: self._patch(o, PRICE_FIELDS + STOCK_FIELDS, True))

    def _patch(self, offer: Offer, fields: Sequence[str], stores: bool = False) -> ItemResult:
        """A patch of ``fields`` of a listed SKU (none when this run's insert wrote the same
        values), then, for stock, its local inventory at each mapped store."""
        product = self._known(offer)
        if product is None:
            return ItemResult.rejected(offer.sku, NOT_LISTED)
        values = {**price_attributes(offer), **stock_attributes(offer)}
        values = {k: values[k] for k in fields}
        written = self._written.get(offer.sku, {})
        if any(written.get(k) != v for k, v in values.items()):
            body = {
                "offerId": offer.sku,
                "contentLanguage": self.settings["content_language"],
                "feedLabel": self.settings["feed_label"],
                "productAttributes": {k: v for k, v in values.items() if v is not None},
            }
            path = f"products/v1/{self.account}/productInputs/{product}"
            params = {"dataSource": self.data_source, "updateMask": ",".join(fields)}
            self._call(PATCH, "PATCH", path, json=body, params=params)
            written.update(values)
        if stores:
            for body in self._local(offer):
                path = f"inventories/v1/{self.account}/products/{product}/localInventories:insert"
                try:
                    self._call(LOCAL, "POST", path, json=body)
                except Refused as exc:
                    if exc.answer.status != 404:
                        raise
                    return ItemResult.rejected(offer.sku, UNPROCESSED, retriable=True)
        return ItemResult.accepted(offer.sku, product=product)

    def _local(self, offer: Offer) -> list[dict[str, Any]]:
        """A ``LocalInventory`` per store of the ``stores`` setting, from the offer's count at
        that location (0 where it has none: a location the channel does not count)."""
        found = []
        for location, store in sorted((self.settings.get("stores") or {}).items()):
            quantity = max(int(offer.location_quantities.get(location, 0)), 0)
            found.append({
                "storeCode": store,
                "localInventoryAttributes": {
                    "quantity": str(quantity),
                    "availability": "IN_STOCK" if quantity > 0 else "OUT_OF_STOCK",
                },
            })  # fmt: skip
        return found

    def _known(self, offer: Offer) -> str | None:
        if offer.sku in self._written:
            return self.product_id(offer.sku)
        return self.known_ids.get(offer.sku, {}).get("product") or None

    # --- one result per SKU ----------------------------------------------------------------
    def _each(self, offers: list[Offer], write: Callable[[Offer], ItemResult]) -> list[ItemResult]:
        """``write`` each offer in turn: Google's refusal of one is that SKU's rejection; a
        failure that may pass answers it and the SKUs after it retriable (not sent)."""
        results: list[ItemResult] = []
        for i, offer in enumerate(offers):
            try:
                results.append(write(offer))
            except ValueError as exc:  # a price Google cannot take (currency, decimals)
                results.append(ItemResult.rejected(offer.sku, str(exc)))
            except Refused as exc:
                results.append(ItemResult.rejected(offer.sku, f"Google: {said(exc.answer)}"))
            except Retriable as exc:
                message = self.api.redact(exc.message)
                later = f"not sent: an earlier call of the batch failed ({message})"
                results += [ItemResult.rejected(o.sku, message if o is offer else later,
                                                retriable=True, retry_after=exc.retry_after)
                            for o in offers[i:]]  # fmt: skip
                break
        return results

    # --- quotas ----------------------------------------------------------------------------
    def quotas(self) -> dict[str, Quota]:
        """Google's quota groups by the methods they cover, read once per run; {} when the
        account's quotas cannot be read (the calls then go unchecked)."""
        if self._quotas is not None:
            return self._quotas
        found: dict[str, Quota] = {}
        pages = self.api.cursors(
            "GET", f"quota/v1/{self.account}/quotas",
            lambda token: {"params": {"pageSize": 1000, **({"pageToken": token} if token else {})}},
            lambda answer: (answer.body or {}).get("nextPageToken"),
        )  # fmt: skip
        try:
            for answer in pages:
                for group in (answer.body or {}).get("quotaGroups") or []:
                    quota = Quota(str(group.get("name") or "?"), _int(group.get("quotaLimit")),
                                  _int(group.get("quotaUsage")),
                                  _int(group.get("quotaMinuteLimit")))  # fmt: skip
                    for method in group.get("methodDetails") or []:
                        found[str(method.get("path") or "")] = quota
        except Refused:
            found = {}
        self._quotas = found
        return found

    def _call(self, method_path: str, method: str, path: str, **kwargs: Any) -> Answer:
        """One call of a quota-counted method: refused here when its group's day is spent."""
        self._meter(method_path)
        return self.api.request(method, path, idempotent=True, **kwargs)

    def _meter(self, method_path: str) -> None:
        """Before a call of ``method_path``: Fatal when its group's day is spent, else the
        group its answer counts against (``_pause``)."""
        quota = self.quotas().get(method_path)
        if quota is not None and quota.daily and quota.used >= quota.daily:
            raise Fatal(
                f"Google's daily quota of {quota.daily} calls for {method_path} is spent "
                f"({quota.name}); it resets at 12:00 UTC, and what was not sent goes on "
                "the next run after that"
            )
        self._group = quota

    def _pages(self, method_path: str, path: str, size: int) -> Iterator[Answer]:
        """The pages of a Google list call (``pageSize``, then each ``nextPageToken``),
        each metered against its quota group."""

        def request(token: str | None) -> dict[str, Any]:
            self._meter(method_path)
            return {"params": {"pageSize": size, **({"pageToken": token} if token else {})}}

        return self.api.cursors("GET", path, request, _next_token)

    def _pause(self, answer: Answer) -> float | None:
        """The client's ``pause_after``: count the answered call against its group, and wait
        before the next call when a group's minute is spent."""
        now = self.clock()
        if self._group is not None:
            self._group.spend(now)
        return max((q.wait(now) for q in (self._quotas or {}).values()), default=0.0) or None

    # --- what Google shows -----------------------------------------------------------------
    def processed(self, skus: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The processed products Google shows for ``skus`` (absent: none yet)."""
        found: dict[str, dict[str, Any]] = {}
        for sku in skus:
            path = f"products/v1/{self.account}/products/{self.product_id(sku)}"
            try:
                answer = self._call(GET, "GET", path)
            except Refused as exc:
                if exc.answer.status == 404:
                    continue
                raise
            if isinstance(answer.body, dict):
                found[sku] = answer.body
        return found

    def issues(self, skus: Iterable[str]) -> dict[str, list[str]]:
        """What Google reported on each SKU's processed product that keeps it from serving
        (``itemLevelIssues`` of severity DISAPPROVED), one line per issue."""
        found: dict[str, list[str]] = {}
        for sku, product in self.processed(skus).items():
            lines = [_issue(i) for i in _issues(product) if i.get("severity") == "DISAPPROVED"]
            if lines:
                found[sku] = lines
        return found

    def fetch_remote(self, skus: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for sku, product in self.processed(skus).items():
            attrs = product.get("productAttributes") or {}
            price, sale = attrs.get("price") or {}, attrs.get("salePrice") or {}
            availability = str(attrs.get("availability") or "").lower() or None
            found[sku] = {
                "title": attrs.get("title"), "link": attrs.get("link"),
                "price": _amount(price), "sale_price": _amount(sale),
                "currency": price.get("currencyCode"), "availability": availability,
                "issues": [_issue(i) for i in _issues(product)],
            }  # fmt: skip
        return found

    def remote_listings(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every processed product of this channel's language and feed label, as drift
        compares it (see the module docstring): title, price, sale_price, listed, and with
        ``stores`` each mapped store's count by its catalog location
        (``location_quantities``)."""
        language, label = self.settings["content_language"], self.settings["feed_label"]
        mapped = self.settings.get("stores") or {}
        stores = set(mapped.values())
        for answer in self._pages(LIST, f"products/v1/{self.account}/products", LIST_PAGE):
            body = answer.body if isinstance(answer.body, dict) else {}
            for product in body.get("products") or []:
                if not isinstance(product, dict) or product.get("legacyLocal"):
                    continue
                sku = product.get("offerId")
                if not sku or (product.get("contentLanguage"), product.get("feedLabel")) != (
                    language, label
                ):  # fmt: skip
                    continue
                fields = _shown(product.get("productAttributes") or {})
                if stores:
                    held = self._store_quantities(str(sku), stores)
                    fields["location_quantities"] = {
                        location: held.get(store, 0) for location, store in mapped.items()
                    }
                yield str(sku), fields

    def _store_quantities(self, sku: str, stores: set[str]) -> dict[str, int]:
        """The units Google holds for ``sku`` at each of ``stores`` (its local inventories;
        a store without an entry is absent)."""
        path = f"inventories/v1/{self.account}/products/{self.product_id(sku)}/localInventories"
        held: dict[str, int] = {}
        try:
            for answer in self._pages(LOCAL_LIST, path, LOCAL_PAGE):
                body = answer.body if isinstance(answer.body, dict) else {}
                for entry in body.get("localInventories") or []:
                    if isinstance(entry, dict) and entry.get("storeCode") in stores:
                        attrs = entry.get("localInventoryAttributes") or {}
                        code = str(entry["storeCode"])
                        held[code] = held.get(code, 0) + max(_int(attrs.get("quantity") or 0), 0)
        except Refused as exc:
            if exc.answer.status != 404:  # no product (deleted since the list): no stock
                raise
        return held

    # --- HTTP ----------------------------------------------------------------------------
    @functools.cached_property
    def api(self) -> ApiClient:
        s = self.settings
        auth = GoogleCredentials(
            [SCOPE], key_file=s.get("service_account_file") or None,
            key_json=s.get("service_account_key"), refresh_token=s.get("refresh_token"),
            client_id=s.get("client_id"), client_secret=s.get("client_secret"),
            token_uri=s.get("token_uri") or "https://oauth2.googleapis.com/token",
        )  # fmt: skip
        return ApiClient(
            self, s["base_url"], vendor="Google Merchant API", auth=auth,
            timeout=s.get("timeout") or 30, refine=self._refine, describe=said,
            pause_after=self._pause,
            auth_hint=f"The credentials need the {SCOPE} scope and access to Merchant Center "
            f"account {s['account']} (add the service account as a user there)",
        )  # fmt: skip

    def _refine(self, answer: Answer) -> Exception | None:
        reason = _reason(answer)
        if answer.status == 429 and "daily" in reason:
            return Fatal(f"Google's daily quota is spent ({said(answer)}); it resets at 12:00 "
                         "UTC: what was not sent goes on the next run after that")  # fmt: skip
        if answer.status == 429 and answer.headers.get("Retry-After") is None:
            return Retriable(f"Google Merchant API {answer.method} {answer.path}: "
                             f"{said(answer)}", retry_after=60.0)  # fmt: skip
        if answer.status == 404 and not answer.path.startswith(("products/", "inventories/")):
            return Fatal(f"Google has no {answer.path} at {self.settings['base_url']} (HTTP "
                         "404); check base_url and account")  # fmt: skip
        return None


def _next_token(answer: Answer) -> str | None:
    body = answer.body if isinstance(answer.body, dict) else {}
    return str(body.get("nextPageToken") or "") or None


def _shown(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """What drift compares of a processed product's attributes (price only when shown)."""
    fields: dict[str, Any] = {"title": str(attrs.get("title") or "")}
    price = _amount(attrs.get("price") or {})
    if price is not None:
        fields["price"] = price
    fields["sale_price"] = _amount(attrs.get("salePrice") or {})
    fields["listed"] = attrs.get("pause") != "ALL"
    return fields


def _int(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def _amount(price: Mapping[str, Any]) -> str | None:
    value = price.get("amountMicros")
    if value is None:
        return None
    code = str(price.get("currencyCode") or "")
    places = Decimal(1).scaleb(-minor_units(code))
    return str((Decimal(str(value)) / MICROS).quantize(places))


def _issues(product: Mapping[str, Any]) -> list[dict[str, Any]]:
    status = product.get("productStatus") or {}
    return [i for i in status.get("itemLevelIssues") or [] if isinstance(i, dict)]


def _issue(issue: Mapping[str, Any]) -> str:
    where = f" ({issue['attribute']})" if issue.get("attribute") else ""
    text = issue.get("description") or issue.get("detail") or issue.get("code") or "issue"
    return f"{issue.get('severity') or 'ISSUE'}: {text}{where}"
