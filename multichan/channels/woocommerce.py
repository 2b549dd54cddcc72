"""WooCommerce: listings, prices and stock through the REST API v3 batch endpoints.

Owns how offers become WooCommerce products, and the HTTP around it. Each batch request takes
at most 100 objects (HTTP 413 beyond); a batch of n offers puts at most n in any request:
- an offer without ``item_group_id`` is a ``simple`` product, one object in products/batch;
- offers sharing an ``item_group_id`` are variations of a ``variable`` product whose SKU is the
  group id: the parent is one object in products/batch (its attributes get the variants'
  Color/Size/Material/Pattern options), each variant one in ``products/<id>/variations/batch``.
  Listings go 20 per batch: creates make WooCommerce download images within the request;
- prices and quantities are ``update`` entries (``regular_price``/``sale_price`` strings,
  ``manage_stock`` and the absolute ``stock_quantity``) by the ids earlier pushes recorded
  (``product_id``, or ``parent_id`` + ``variation_id``): one request for simple products, one
  per parent. A SKU without recorded ids is rejected.
Creates are idempotent: a create refused as ``product_invalid_sku`` is found by ``GET ?sku=``
and updated instead; an update whose id is gone becomes a create (one more request for both).
Auth: HTTP Basic over https, a one-legged OAuth 1.0a signature over plain http, as WooCommerce
requires. WooCommerce has no rate limit of its own (hosts do): 1 batch/s is a cautious guess.
Not pushed: images after creation (each update would download them again), categories and tags
(they need term ids), weight (the store's unit is unknown).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import quote

import requests

from multichan.channels.base import Channel, Fatal, ItemResult, RateLimit, Retriable, SettingSpec
from multichan.offers import Offer

API = "/wp-json/wc/v3/"
LIMIT = 100  # objects per batch request: WooCommerce's default woocommerce_rest_batch_items_limit
NOT_LISTED = "not listed on woocommerce yet; push listings first"
NO_RESULT = "multichan_no_result"
ATTRIBUTES = ("color", "size", "material", "pattern")
Json = dict[str, Any]
Item = tuple[int | None, Json]  # (id to update, or None to create; the object's fields)


class _Refused(Fatal):
    """A whole request refused (HTTP 400, 404...): fatal, unless it concerns one parent."""


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
    supports = frozenset({"listings", "prices", "quantities"})
    max_batch: ClassVar[dict[str, int]] = {"listings": 20, "prices": LIMIT, "quantities": LIMIT}
    rate_limit = RateLimit(requests_per_second=1.0, burst=1)
    settings_schema: ClassVar[dict[str, SettingSpec]] = {
        "base_url": SettingSpec("url", required=True, help="the shop's root: https://shop.example"),
        "consumer_key": SettingSpec("secret", required=True, help="${WOOCOMMERCE_CONSUMER_KEY}"),
        "consumer_secret": SettingSpec("secret", True, help="${WOOCOMMERCE_CONSUMER_SECRET}"),
        "timeout": SettingSpec("int", default=60, help="seconds per request"),
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
        listing = [{"name": o.title, "description": o.description} for o in simple]
        entries = [
            _Entry(self._known([o], "product_id"), _simple(o), fields, "simple")
            for o, fields in zip(simple, listing, strict=True)
        ]
        for g, members in groups.items():
            parent, create = parents.get(known[g] or 0), _parent(g, members)
            update = _takeover(create, parent) if parent else {}
            entries.append(_Entry(known[g] if parent else None, create, update, "variable"))
        outs = self._upsert("products", entries)
        results = {
            o.sku: _result(o.sku, out, "product_id") for o, out in zip(simple, outs, strict=False)
        }
        for (g, members), out in zip(groups.items(), outs[len(simple) :], strict=True):
            if out.get("error") is None and out.get("id"):
                results.update(self._variations(out, members))
            else:  # no parent, so no variations
                prefix = f"variable product {g}: "
                results.update({o.sku: _result(o.sku, out, "", prefix) for o in members})
        return [results[o.sku] for o in offers]

    def _variations(self, parent: Json, members: list[Offer]) -> dict[str, ItemResult]:
        pid = int(parent["id"])
        attributes = _rows(parent.get("attributes"))
        refs = {str(a.get("name", "")).casefold(): a.get("id") or 0 for a in attributes}
        entries = []
        for o in members:
            attrs = [
                {"id": refs.get(name.casefold(), 0), "name": name, "option": value}
                for name, value in _own_attributes(o)
            ]
            vid = self._known([o], "variation_id") if self._known([o], "parent_id") == pid else None
            entries.append(_Entry(vid, _variation(o, attrs), {"attributes": attrs}, "variation"))
        try:
            outs = self._upsert(f"products/{pid}/variations", entries)
        except _Refused as exc:
            outs = [_error("", exc.message)] * len(members)
        return {
            o.sku: _result(o.sku, out, "variation_id", parent_id=str(pid))
            for o, out in zip(members, outs, strict=True)
        }

    # --- prices and quantities --------------------------------------------------------------
    def update_prices(self, offers: list[Offer]) -> list[ItemResult]:
        return self._update(
            offers, lambda o: {"regular_price": str(o.price), "sale_price": _money(o.sale_price)}
        )

    def update_quantities(self, offers: list[Offer]) -> list[ItemResult]:
        return self._update(offers, lambda o: {"manage_stock": True, "stock_quantity": o.quantity})

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
                outs = [_error("", exc.message)] * len(items)
            ids = {} if base == "products" else {"parent_id": base.split("/")[1]}
            key = "product_id" if base == "products" else "variation_id"
            for (o, _), out in zip(items, outs, strict=True):
                results[o.sku] = _result(o.sku, out, key, **ids)
        return [results[o.sku] for o in offers]

    # --- batches ----------------------------------------------------------------------------
    def _known(self, offers: list[Offer], key: str) -> int | None:
        """The first remote id ``key`` that earlier pushes recorded for these offers' SKUs."""
        ids = [str(self.known_ids.get(o.sku, {}).get(key, "")) for o in offers]
        return next((int(i) for i in ids if i.isdigit() and int(i) > 0), None)

    def _upsert(self, base: str, entries: list[_Entry]) -> list[Json]:
        """Update or create each entry; then one more batch for what can be repaired: a create
        whose SKU exists (take that object over) and an update whose id is gone (create it)."""
        outs = self._batch(base, [(e.id, e.update) if e.id else (None, e.create) for e in entries])
        again: dict[int, Item] = {}
        for i, (e, out) in enumerate(zip(entries, outs, strict=True)):
            error = out["error"] if isinstance(out.get("error"), dict) else {}
            code = str(error.get("code", ""))
            if e.id is None and code.endswith("invalid_sku"):
                found = self._find(base, str(e.create["sku"]))
                if found and found.get("type", e.kind) == e.kind:  # variations may have no type
                    again[i] = (int(found["id"]), _takeover(e.create, found))
                elif found:
                    owner = f"{found.get('type', 'another')} product #{found.get('id')}"
                    outs[i] = _error(code, f"{error.get('message')} (the SKU belongs to {owner})")
            elif e.id is not None and code.endswith("_invalid_id"):
                again[i] = (None, e.create)
        if again:
            for i, out in zip(again, self._batch(base, list(again.values())), strict=True):
                outs[i] = out
        return outs

    def _batch(self, base: str, items: list[Item]) -> list[Json]:
        """One ``POST {base}/batch``; the answers in the order of ``items``."""
        if len(items) > LIMIT:  # max_batch keeps every request within the limit
            raise ValueError(f"{len(items)} objects for one {base}/batch; at most {LIMIT}")
        creates = [body for rid, body in items if rid is None]
        updates = [{"id": rid, **body} for rid, body in items if rid is not None]
        payload = {k: v for k, v in (("create", creates), ("update", updates)) if v}
        answer = self._request("POST", f"{base}/batch", json=payload)
        done = {k: _rows(answer.get(k) if isinstance(answer, dict) else []) for k in payload}
        missing = _error(NO_RESULT, "WooCommerce sent no result for it")
        kinds = ["create" if rid is None else "update" for rid, _ in items]
        return [done[k].pop(0) if done[k] else missing for k in kinds]

    def _find(self, base: str, sku: str) -> Json | None:
        rows = _rows(self._request("GET", base, {"sku": sku}))
        return next((r for r in rows if r.get("sku") == sku), None)

    def _variable_products(self, ids: list[int]) -> dict[int, Json]:
        if not ids:
            return {}
        include = ",".join(str(i) for i in sorted(set(ids)))
        rows = self._request("GET", "products", {"include": include, "per_page": LIMIT})
        return {int(r["id"]): r for r in _rows(rows) if r.get("type") == "variable" and r.get("id")}

    # --- HTTP -------------------------------------------------------------------------------
    def _request(self, method: str, path: str, params: Json | None = None, json: Any = None) -> Any:
        base = self.settings["base_url"]
        url = base + API + path
        key_env, secret_env = self.settings["consumer_key"], self.settings["consumer_secret"]
        key, secret = key_env.value(), secret_env.value()
        query = {k: str(v) for k, v in (params or {}).items()}
        auth = (key, secret) if url.startswith("https://") else None
        if auth is None:
            query = _oauth(method, url, query, key, secret)
        timeout = self.settings.get("timeout") or 60
        try:
            r = self.session.request(
                method, url, params=query, json=json, auth=auth, timeout=timeout
            )
        except requests.Timeout:
            raise Retriable(f"WooCommerce at {base} did not answer within {timeout} s") from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise Retriable(f"WooCommerce at {base} unreachable ({type(exc).__name__})") from None
        except requests.RequestException as exc:
            raise Fatal(f"WooCommerce at {base}: request failed ({type(exc).__name__})") from None
        try:
            body = r.json()
        except ValueError:
            body = None
        message = body.get("message") if isinstance(body, dict) else None
        said = f": {message} ({body.get('code')})" if message else ""
        said = said.replace(key, "***").replace(secret, "***")  # were a proxy to echo them
        status = r.status_code
        if status in (401, 403):
            how = "HTTP Basic" if auth else "an OAuth 1.0a signature (plain http)"
            raise Fatal(
                f"WooCommerce at {base} refused the API key in ${key_env.var} and "
                f"${secret_env.var} (HTTP {status}{said}), sent with {how}. Check that the key "
                "exists with Read/Write permission (WooCommerce > Settings > Advanced > REST API)"
            )
        if status == 429 or status >= 500:
            after = _retry_after(r.headers.get("Retry-After"))
            raise Retriable(f"WooCommerce at {base}: HTTP {status}{said}", retry_after=after)
        if status == 413:  # multichan never sends more than LIMIT: a bug, or a lowered limit
            raise Fatal(
                f"WooCommerce at {base}: batch too large (HTTP 413{said}); a bug in multichan, "
                f"unless the shop lowered woocommerce_rest_batch_items_limit below {LIMIT}"
            )
        if status == 404 and isinstance(body, dict) and body.get("code") == "rest_no_route":
            raise Fatal(
                f"no WooCommerce REST API at {base}{API} (HTTP 404{said}); base_url must be the "
                "shop's root, with WooCommerce 3.5+ and pretty permalinks"
            )
        if status >= 400:
            raise _Refused(f"WooCommerce refused {method} {path} (HTTP {status}{said})")
        if body is None:
            raise Fatal(f"WooCommerce at {base} answered {method} {path} with something not JSON")
        return body


# --- request bodies --------------------------------------------------------------------------
def _money(amount: Any) -> str:
    return "" if amount is None else str(amount)


def _images(o: Offer) -> list[Json]:
    return [{"src": url} for url in [o.image_link, *o.additional_image_links] if url]


def _stock_and_price(o: Offer) -> Json:
    return {
        "regular_price": str(o.price), "sale_price": _money(o.sale_price),
        "manage_stock": True, "stock_quantity": o.quantity,
    }  # fmt: skip


def _simple(o: Offer) -> Json:
    return {
        "name": o.title, "type": "simple", "status": "publish", "sku": o.sku,
        "description": o.description, **_stock_and_price(o), "images": _images(o),
    }  # fmt: skip


def _variation(o: Offer, attributes: list[Json]) -> Json:
    body = {"sku": o.sku, "status": "publish", **_stock_and_price(o), "attributes": attributes}
    if o.image_link:
        body["image"] = {"src": o.image_link}
    return body


def _own_attributes(o: Offer) -> list[tuple[str, str]]:
    """The (name, option) pairs that tell this variant apart; its SKU when it has none."""
    pairs = [(f.capitalize(), str(getattr(o, f))) for f in ATTRIBUTES if getattr(o, f)]
    return pairs or [("Option", o.sku)]


def _base_title(o: Offer) -> str:
    """The title without trailing attribute values: "Tee - Black / M" -> "Tee"."""
    title, values = o.title, [v for _, v in _own_attributes(o)]
    while True:
        tail = next((v for v in values if title.casefold().endswith(" " + v.casefold())), None)
        if tail is None:
            return title or o.title
        title = title[: -len(tail) - 1].rstrip(" -/,|")


def _parent(group: str, members: list[Offer]) -> Json:
    """The create body of the variable product of ``group``."""
    options: dict[str, list[str]] = {}
    for o in members:
        for name, value in _own_attributes(o):
            if value not in options.setdefault(name, []):
                options[name].append(value)
    attributes = [
        {"name": name, "position": i, "visible": True, "variation": True, "options": values}
        for i, (name, values) in enumerate(options.items())
    ]
    return {
        "name": Counter(_base_title(o) for o in members).most_common(1)[0][0],
        "type": "variable", "status": "publish", "sku": group,
        "description": members[0].description, "attributes": attributes,
        "images": _images(members[0]),
    }  # fmt: skip


def _takeover(create: Json, found: Json) -> Json:
    """The update that makes ``found`` (existing) what ``create`` would have made; it keeps the
    images and status it has, and the attribute options (the variants' are added)."""
    body = {k: v for k, v in create.items() if k not in ("type", "status", "images", "image")}
    if "attributes" in body and found.get("type") == "variable":
        merged = [dict(a) for a in _rows(found.get("attributes"))]
        for attr in body["attributes"]:
            same = [a for a in merged if str(a.get("name")).casefold() == attr["name"].casefold()]
            if not same:
                merged.append({**attr, "position": len(merged)})
                continue
            have = [str(v) for v in same[0].get("options") or []]
            new = [v for v in attr["options"] if v.casefold() not in {h.casefold() for h in have}]
            same[0].update(variation=True, options=have + new)
        body["attributes"] = merged
    return body


# --- answers ---------------------------------------------------------------------------------
def _rows(data: Any) -> list[Json]:
    return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []


def _error(code: str, message: str) -> Json:
    return {"id": 0, "error": {"code": code, "message": message}}


def _result(sku: str, out: Json, key: str, prefix: str = "", **ids: str) -> ItemResult:
    """The ItemResult of one batch answer: its id under ``key``, or WooCommerce's message."""
    error = out.get("error")
    if error is None and out.get("id"):
        return ItemResult.accepted(sku, **ids, **{key: str(out["id"])})
    error = error if isinstance(error, dict) else {}
    message = prefix + str(error.get("message") or "WooCommerce sent no id for it")
    code = str(error.get("code") or "")
    text = f"{message} ({code})" if code and code != NO_RESULT else message
    return ItemResult.rejected(sku, text, retriable=code == NO_RESULT)


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds: given as seconds or as an HTTP date."""
    if value and value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value or "").timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _pct(text: str) -> str:
    return quote(text, safe="")  # RFC 3986: only unreserved characters stay as they are


def _oauth(method: str, url: str, params: dict[str, str], key: str, secret: str) -> dict[str, str]:
    """``params`` plus a one-legged OAuth 1.0a signature (WooCommerce's auth over plain http)."""
    signed = {
        **params, "oauth_consumer_key": key, "oauth_nonce": secrets.token_hex(16),
        "oauth_signature_method": "HMAC-SHA256", "oauth_timestamp": str(int(time.time())),
    }  # fmt: skip
    pairs = "&".join(f"{k}={v}" for k, v in sorted((_pct(k), _pct(v)) for k, v in signed.items()))
    text = "&".join((method.upper(), _pct(url), _pct(pairs)))
    digest = hmac.new(f"{secret}&".encode(), text.encode(), hashlib.sha256).digest()
    return {**signed, "oauth_signature": base64.b64encode(digest).decode()}
