"""A Meta catalog double for the Meta channel tests: the Catalog Batch API's two endpoints and
the catalog's products edge on 127.0.0.1, stateful, written from Meta's documented contract
and checking every request against Meta's own SDK specs (``../shared/specs/meta``, read in
place, never copied):

- ``POST /{version}/{catalog_id}/items_batch``: the call's parameters must be those of the
  ``items_batch`` edge in ``ProductCatalog.json`` (``item_type`` and ``requests`` required), at
  most 5,000 requests. Each request's ``data`` uses the feed's field names (Meta's
  items_batch field reference); each name maps to a ``ProductItem`` field of
  ``ProductItem.json`` (``title`` -> ``name``, ``link`` -> ``url`` ... as ``FEED_NAMES``
  lists; the rest by the same name) and its value must have that field's type, or be one
  of its enum's values in ``enum_types.json``; prices are ``"12.99 USD"``. An unknown field
  or a value of the wrong type is refused at once, in ``validation_status``, and recorded in
  ``violations`` (the channel broke the contract); a value outside an enum, a create
  without a required field or an update of an item that does not exist without
  ``allow_upsert`` is an error of the batch, reported by ``check_batch_request_status``.
- ``GET /{version}/{catalog_id}/check_batch_request_status?handle=H``: ``{"data": [{handle,
  status, errors[{line, id, message}], errors_total_count, warnings, warnings_total_count,
  ids_of_invalid_requests}]}``; ``started`` for the first ``looks`` looks, then ``finished``
  (or ``end_status``); ``errors`` is a sample of at most ``sample_errors``;
  ``ids_of_invalid_requests`` only with ``load_ids_of_invalid_requests=true``.
- ``GET /{version}/{catalog_id}/products``: the params must be the GET ``products`` edge's
  (``ProductCatalog.json``) or a Graph read's own (fields, limit, after, before, summary),
  every field asked for a field of ``ProductItem.json``; items in retailer id order with the
  node's names (``name``, ``retailer_id``), prices shown as ``price_format`` says
  (``"$1,299.00"`` or ``"1299.00 USD"``), Graph cursor paging (``paging.cursors.after``,
  ``paging.next`` while more follow). ``change_behind`` / ``delete_behind`` edit or delete
  an item as a seller in Commerce Manager would, behind multichan's back (drift tests).

A wrong token is Meta's HTTP 400 with OAuthException code 190. ``usage`` (or ``usage_once``,
one answer each) is sent as the ``X-Business-Use-Case-Usage`` header; ``fail_next`` answers
the next requests with (status, body, headers). ``requests`` records every call.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.prism import spec_or_skip
from tests.servers import serve

TOKEN = "EAAGm0PX4ZCpsBA-TEST-meta-7Qk2"  # the value of ${META_ACCESS_TOKEN}; never to show
CATALOG = "1234567890123456"
BUSINESS = "987654321"
MAX_REQUESTS = 5000
# feed field names (items_batch data) -> the ProductItem field that holds them
FEED_NAMES = {
    "id": "retailer_id",
    "title": "name",
    "link": "url",
    "image_link": "image_url",
    "additional_image_link": "additional_image_urls",
    "mpn": "manufacturer_part_number",
    "item_group_id": "retailer_product_group_id",
    "google_product_category": "category",
}
REQUIRED = ("title", "description", "availability", "condition", "price", "link", "image_link")
PRICE = re.compile(r"^(\d+(?:\.\d+)?) ([A-Z]{3})$")
PATH = re.compile(r"^/(v\d+\.\d+)/([^/]+)/(items_batch|check_batch_request_status|products)$")
# what any Graph API read takes besides its edge's own params (field selection, paging)
READ_PARAMS = frozenset({"fields", "limit", "after", "before", "summary", "access_token"})
SYMBOLS = {"USD": "$", "EUR": "\u20ac", "GBP": "\u00a3", "JPY": "\u00a5"}


@dataclass(frozen=True)
class Contract:
    """What Meta's SDK specs say: the items_batch and check_batch_request_status params, the
    ProductItem fields (those of the node and those its update takes) with their types, and
    the enums by type name."""

    batch_params: dict[str, dict[str, Any]]
    status_params: dict[str, dict[str, Any]]
    item_params: dict[str, str]
    enums: dict[str, list[str]]
    # the GET products edge's params, and the fields of a ProductItem node a read can ask for
    products_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    item_fields: frozenset[str] = frozenset()

    @classmethod
    def load(cls) -> Contract:
        catalog = json.loads(spec_or_skip("meta/ProductCatalog.json").read_text("utf-8"))
        item = json.loads(spec_or_skip("meta/ProductItem.json").read_text("utf-8"))
        enums = json.loads(spec_or_skip("meta/enum_types.json").read_text("utf-8"))
        edges = {
            a.get("endpoint"): a for a in catalog["apis"] if a.get("method") in ("GET", "POST")
        }
        edges["products"] = next(
            a
            for a in catalog["apis"]
            if (a.get("method"), a.get("endpoint")) == ("GET", "products")
        )
        update = next(a for a in item["apis"] if a.get("name") == "#update")
        return cls(
            {p["name"]: p for p in edges["items_batch"]["params"]},
            {p["name"]: p for p in edges["check_batch_request_status"]["params"]},
            # the node's fields, typed as an update takes them where it takes them
            {
                **{f["name"]: f["type"] for f in item["fields"]},
                **{p["name"]: p["type"] for p in update["params"]},
            },
            {e["name"].lower(): e["values"] for e in enums},
            {p["name"]: p for p in edges["products"]["params"]},
            frozenset(f["name"] for f in item["fields"]),
        )

    def problem(self, name: str, value: Any) -> tuple[str, str] | None:
        """(kind, message) when ``value`` cannot be feed field ``name``: kind ``contract``
        (unknown field, wrong type) or ``value`` (outside the enum, a malformed price)."""
        node = FEED_NAMES.get(name, name)
        kind = self.item_params.get(node)
        if kind is None:
            return "contract", f"{name} is not a field of a product item"
        if value == "" and name not in REQUIRED and name != "id":
            return None  # an empty string unsets an optional field
        if name in ("price", "sale_price"):
            if not isinstance(value, str):
                return "contract", f"{name} must be text such as '9.99 USD', not {value!r}"
            match = PRICE.match(value)
            if not match:
                return "value", f"{name} {value!r} is not a number and an ISO 4217 currency"
            try:
                Decimal(match.group(1))
            except InvalidOperation:
                return "value", f"{name} {value!r} is not a number"
            return None
        if kind == "string":
            ok = isinstance(value, str)
        elif kind == "unsigned int":
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        elif kind == "list<string>":
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        elif kind in self.enums:
            if not isinstance(value, str):
                return "contract", f"{name} must be text, not {value!r}"
            if value not in self.enums[kind]:
                return "value", f"{name} {value!r} is not one of {', '.join(self.enums[kind])}"
            ok = True
        else:  # map, float, datetime: the channel sends none of these
            ok = value is not None
        return None if ok else ("contract", f"{name} must be {kind}, not {value!r}")


@dataclass
class Batch:
    handle: str
    skus: list[str]
    errors: list[dict[str, Any]]
    looks: int
    end_status: str


@dataclass
class MetaDouble:
    url: str = ""
    contract: Contract | None = None
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # retailer id -> fields
    batches: dict[str, Batch] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    fail_next: list[tuple[int, Any, dict[str, str]]] = field(default_factory=list)
    looks: int = 1  # looks at a batch that answer "started" before it is finished
    end_status: str = "finished"
    sample_errors: int = 100
    usage: dict[str, Any] | None = None
    usage_once: list[dict[str, Any]] = field(default_factory=list)
    serial: int = 0
    # how a read shows prices: "symbol" ("$1,299.00", as Commerce Manager shows them) or
    # "code" ("1299.00 USD", as they were written); the most items a page holds
    price_format: str = "symbol"
    max_page: int = 5000
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        self.price_format, self.max_page = "symbol", 5000
        self.items.clear()
        self.batches.clear()
        self.requests.clear()
        self.violations.clear()
        self.fail_next.clear()
        self.usage_once.clear()
        self.looks, self.end_status, self.sample_errors, self.usage = 1, "finished", 100, None
        self.serial = 0

    def posts(self) -> list[dict[str, Any]]:
        """The bodies of the items_batch calls, in order."""
        return [r["body"] for r in self.requests if r["path"].endswith("/items_batch")]

    def looks_at(self) -> list[str]:
        """The handles asked about, in order."""
        return [r["query"].get("handle", "") for r in self.requests
                if r["path"].endswith("/check_batch_request_status")]  # fmt: skip

    # --- the two endpoints -------------------------------------------------------------------
    def items_batch(self, params: dict[str, Any]) -> tuple[int, Any]:
        assert self.contract is not None
        unknown = sorted(set(params) - set(self.contract.batch_params) - {"access_token"})
        missing = [n for n, p in self.contract.batch_params.items()
                   if p.get("required") and n not in params]  # fmt: skip
        requests_ = params.get("requests")
        if isinstance(requests_, str):
            requests_ = json.loads(requests_)
        problem = None
        if unknown or missing:
            problem = f"unknown parameter(s) {unknown}, missing {missing}"
        elif params["item_type"] != "PRODUCT_ITEM":
            problem = f"item_type {params['item_type']!r} is not a product catalog's"
        elif not isinstance(requests_, list) or not requests_:
            problem = "requests must be a non-empty JSON array"
        elif len(requests_) > MAX_REQUESTS:
            problem = f"requests holds {len(requests_)} records; at most {MAX_REQUESTS}"
        if problem:
            self.violations.append(f"items_batch: {problem}")
            return 400, graph_error(f"(#100) Invalid parameter: {problem}", 100)
        upsert = params.get("allow_upsert", True) not in (False, "false", "0")
        validation: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        skus: list[str] = []
        for line, request in enumerate(requests_):
            data = request.get("data") if isinstance(request, dict) else None
            rid = str((data or {}).get("id") or "")
            skus.append(rid)
            found = self._check(request, data)
            if found:  # refused at once: not ingested
                self.violations.append(f"items_batch line {line} ({rid}): {found}")
                validation.append({"retailer_id": rid, "errors": [{"message": found}],
                                   "warnings": []})  # fmt: skip
                continue
            assert data is not None
            said = self._apply(str(request["method"]), data, upsert)
            if said:
                where = f"Value passed at position {line} (id={rid})"
                message = f'Invalid value: {where} is invalid: "{said}"'
                errors.append({"line": line, "id": rid, "message": message})
        self.serial += 1
        handle = f"AczT{self.serial:06d}-batch"
        self.batches[handle] = Batch(handle, skus, errors, self.looks, self.end_status)
        ingested = len(validation) < len(requests_)
        return 200, {"handles": [handle] if ingested else [], "validation_status": validation}

    def _check(self, request: Any, data: dict[str, Any] | None) -> str | None:
        """What breaks the contract in one request (the channel's bug), or None."""
        assert self.contract is not None
        if not isinstance(request, dict) or set(request) - {"method", "data"}:
            return f"a request holds method and data only, not {request!r}"
        if request.get("method") not in ("CREATE", "UPDATE", "DELETE"):
            return f"method {request.get('method')!r} is not CREATE, UPDATE or DELETE"
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
            return "data must hold the item's id (its retailer id)"
        for name, value in data.items():
            found = self.contract.problem(name, value)
            if found and found[0] == "contract":
                return found[1]
        return None

    def _apply(self, method: str, data: dict[str, Any], upsert: bool) -> str | None:
        """Apply one valid request; Meta's message when it is refused (nothing saved)."""
        assert self.contract is not None
        rid = data["id"]
        for name, value in data.items():
            found = self.contract.problem(name, value)
            if found:
                return found[1]
        if method == "DELETE":
            self.items.pop(rid, None)
            return None
        exists = rid in self.items
        if method == "CREATE" and exists:
            return f"An item with id {rid} already exists in this catalog"
        if not exists and method == "UPDATE" and not upsert:
            return f"Item with id {rid} does not exist; allow_upsert is false"
        if not exists:
            for name in REQUIRED:
                if not data.get(name):
                    pretty = name.replace("_", " ").title().replace(" ", "")
                    return f"You cannot create a ProductItem without required field {pretty}"
            if not (data.get("brand") or data.get("gtin") or data.get("mpn")):
                return "You cannot create a ProductItem without a brand, gtin or mpn"
        item = self.items.setdefault(rid, {})
        for name, value in data.items():
            if value == "":
                item.pop(name, None)
            else:
                item[name] = copy.deepcopy(value)
        return None

    def status(self, params: dict[str, Any]) -> tuple[int, Any]:
        assert self.contract is not None
        unknown = sorted(set(params) - set(self.contract.status_params) - {"access_token"})
        if unknown or not params.get("handle"):
            problem = f"unknown parameter(s) {unknown}" if unknown else "handle is required"
            self.violations.append(f"check_batch_request_status: {problem}")
            return 400, graph_error(f"(#100) {problem}", 100)
        batch = self.batches.get(str(params["handle"]))
        if batch is None:
            return 200, {"data": []}
        if batch.looks > 0:
            batch.looks -= 1
            return 200, {"data": [{"handle": batch.handle, "status": "started",
                                   "errors_total_count": 0, "errors": [],
                                   "warnings_total_count": 0, "warnings": [],
                                   "ids_of_invalid_requests": []}]}  # fmt: skip
        invalid = [e["id"] for e in batch.errors]
        want_ids = str(params.get("load_ids_of_invalid_requests", "")).lower() == "true"
        return 200, {"data": [{
            "handle": batch.handle, "status": batch.end_status,
            "errors_total_count": len(batch.errors), "errors": batch.errors[: self.sample_errors],
            "warnings_total_count": 0, "warnings": [],
            "ids_of_invalid_requests": invalid if want_ids else [],
        }]}  # fmt: skip

    def products(self, path: str, params: dict[str, Any]) -> tuple[int, Any]:
        """GET products: the items in retailer id order, the ``fields`` asked for (the
        node's ``id`` always), ``limit`` (default 25, at most ``max_page``) a page, Graph
        cursors (``paging.cursors``, ``paging.next`` while more follow)."""
        assert self.contract is not None
        known = set(self.contract.products_params) | READ_PARAMS
        unknown = sorted(set(params) - known)
        asked = [f for f in str(params.get("fields") or "").split(",") if f]
        bad = sorted(set(asked) - self.contract.item_fields)
        limit = str(params.get("limit") or "25")
        problem = None
        if unknown:
            problem = f"unknown parameter(s) {unknown} for GET products"
        elif bad:
            problem = f"fields {bad} are not fields of a ProductItem"
        elif not limit.isdigit() or int(limit) < 1:
            problem = f"limit {limit!r} must be a positive integer"
        if problem:
            self.violations.append(f"GET products: {problem}")
            return 400, graph_error(f"(#100) {problem}", 100)
        size = min(int(limit), self.max_page)
        skus = sorted(self.items)
        start = 0
        if params.get("after"):
            try:
                start = skus.index(_uncursor(str(params["after"]))) + 1
            except ValueError:
                return 400, graph_error("(#100) Invalid cursor", 100)
        page = skus[start : start + size]
        data = [self._read(rid, asked) for rid in page]
        found: dict[str, Any] = {"data": data}
        if page:
            found["paging"] = {"cursors": {"before": _cursor(page[0]), "after": _cursor(page[-1])}}
            if start + size < len(skus):
                query = {**params, "after": _cursor(page[-1])}
                query.pop("access_token", None)
                found["paging"]["next"] = f"{self.url}{path}?" + "&".join(
                    f"{k}={v}" for k, v in query.items()
                )
        return 200, found

    def _read(self, rid: str, fields: list[str]) -> dict[str, Any]:
        """One item as a Graph read shows it: node names (``name``, not ``title``), prices
        as ``price_format`` says, ``inventory`` mirroring the count to sell."""
        item = self.items[rid]
        price = PRICE.match(str(item.get("price") or ""))
        currency = price.group(2) if price else "USD"
        shown: dict[str, Any] = {
            "retailer_id": rid, "name": item.get("title"), "currency": currency,
            "price": self._price(item.get("price")),
            "sale_price": self._price(item.get("sale_price")),
            "availability": item.get("availability"),
            "quantity_to_sell_on_facebook": item.get("quantity_to_sell_on_facebook"),
            "inventory": item.get("quantity_to_sell_on_facebook"),
            "visibility": item.get("visibility", "published"),
        }  # fmt: skip
        found = {"id": str(zlib.crc32(rid.encode()) + 10**15)}
        found.update({f: shown[f] for f in fields if f in shown and shown[f] is not None})
        return found

    def _price(self, written: Any) -> str | None:
        match = PRICE.match(str(written or ""))
        if not match:
            return None
        amount, code = Decimal(match.group(1)), match.group(2)
        if self.price_format == "code":
            return f"{amount:.2f} {code}"
        return f"{SYMBOLS.get(code, code + ' ')}{amount:,.2f}"

    # --- behind multichan's back (a seller editing in Commerce Manager) ---------------------
    def change_behind(self, sku: str, **fields: Any) -> None:
        """Set feed fields of item ``sku`` (``price="9.99 USD"``, ``availability``,
        ``quantity_to_sell_on_facebook``, ``visibility``...) as Commerce Manager would."""
        with self.lock:
            self.items[sku].update(fields)

    def delete_behind(self, sku: str) -> None:
        with self.lock:
            self.items.pop(sku, None)

    # --- HTTP -------------------------------------------------------------------------------
    def answer(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Any:
        split = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        body: Any = None
        if raw:
            kind = headers.get("Content-Type", "")
            if "json" in kind:
                body = json.loads(raw)
            else:
                body = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
        self.requests.append({"method": method, "path": split.path, "query": query,
                              "headers": headers, "body": body})  # fmt: skip
        if self.fail_next:
            return self.fail_next.pop(0)
        match = PATH.match(split.path)
        params = {**query, **(body if isinstance(body, dict) else {})}
        bearer = headers.get("Authorization", "")
        if bearer != f"Bearer {TOKEN}" and params.get("access_token") != TOKEN:
            return 400, graph_error("Invalid OAuth access token - Cannot parse access token",
                                    190, "OAuthException"), {}  # fmt: skip
        if not match or match.group(2) != CATALOG:
            what = match.group(2) if match else split.path
            return 400, graph_error(f"Unsupported request. Object with ID '{what}' does not "
                                    "exist", 100, subcode=33), {}  # fmt: skip
        edge = match.group(3)
        if (method, edge) == ("POST", "items_batch"):
            status, payload = self.items_batch(params)
        elif (method, edge) == ("GET", "check_batch_request_status"):
            status, payload = self.status(params)
        elif (method, edge) == ("GET", "products"):
            status, payload = self.products(split.path, params)
        else:
            self.violations.append(f"{method} {split.path}: no such call")
            return 400, graph_error(f"Unsupported {method.lower()} request", 100), {}
        usage = self.usage_once.pop(0) if self.usage_once else self.usage
        extra = {"X-Business-Use-Case-Usage": usage_header(usage)} if usage else {}
        return status, payload, extra


def graph_error(
    message: str, code: int, kind: str = "GraphMethodException", subcode: int | None = None
) -> dict[str, Any]:
    """A Graph API error body."""
    error: dict[str, Any] = {"message": message, "type": kind, "code": code,
                             "fbtrace_id": "AbCdEfGhIjK"}  # fmt: skip
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


def _cursor(rid: str) -> str:
    return base64.urlsafe_b64encode(f"rid:{rid}".encode()).decode()


def _uncursor(cursor: str) -> str:
    return base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("rid:")


def usage_header(usage: dict[str, Any]) -> str:
    """``X-Business-Use-Case-Usage`` for the catalog's business: the Catalog Batch use case."""
    entry = {"type": "catalog_batch", "call_count": 0, "total_cputime": 0, "total_time": 0,
             "estimated_time_to_regain_access": 0, **usage}  # fmt: skip
    return json.dumps({BUSINESS: [entry]})


def _handler(double: MetaDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() != "content-length"}
            with double.lock:
                status, payload, extra = double.answer(self.command, self.path, headers, raw)
            data = json.dumps(payload).encode()
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **extra}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_DELETE = do_GET

    return Handler


@contextmanager
def serve_double() -> Iterator[MetaDouble]:
    """A Meta double on 127.0.0.1 checking against the specs, until the block ends; skips
    (fails in CI) when the specs are absent."""
    with serve(MetaDouble(contract=Contract.load()), _handler) as double:
        yield double
