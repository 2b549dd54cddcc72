"""A WooCommerce REST API v3 shop for channel tests, written from WooCommerce's documentation
(``../shared/specs/woocommerce/rest-api-docs/*.md``, ``SPEC-NOTES.md``), not from the client.

Routes under ``/wp-json/wc/v3``: ``GET products``, ``POST products/batch``, ``GET
products/<id>/variations``, ``POST products/<id>/variations/batch`` (lists: ``sku``, ``include``,
``per_page`` <= 100, ``page``; ``X-WP-Total``); else 404 ``rest_no_route``. As documented:
- a batch takes at most ``batch_limit`` (100) objects across create+update+delete, else HTTP
  413 ``woocommerce_rest_request_entity_too_large``; the HTTP 200 answer lists each verb's
  results in request order, a failed item as ``{"id": <id, 0 for a create>, "error": {"code",
  "message", "data": {"status": 400}}}``;
- the property tables' types, nested ones too (prices are strings, "" or decimal;
  ``stock_quantity`` an integer or null; ``manage_stock`` a boolean; enums), else a per-item
  ``rest_invalid_param`` naming each bad parameter in ``data.params``; stricter than WooCommerce,
  unknown and read-only fields are refused too, so a misspelt field cannot pass unseen;
- one SKU per product or variation (``product_invalid_sku`` "Invalid or duplicated SKU."); an
  unknown id to update is ``woocommerce_rest_product[_variation]_invalid_id`` "Invalid ID."; a
  variation keeps only attributes its parent has with ``variation: true`` (WooCommerce drops the
  others); ``manage_stock`` makes the stock status follow the quantity.
Auth: a request is HTTPS when it has ``X-Forwarded-Proto: https`` (see :class:`TlsTerminator`);
there HTTP Basic or ``consumer_key``/``consumer_secret`` query parameters are accepted. Over
plain HTTP only one-legged OAuth 1.0a in the query string is (HMAC-SHA1/-SHA256, key ``secret&``,
timestamp within 15 minutes, each nonce once), Basic being ignored there as WooCommerce does.
Refusals are HTTP 401 ``woocommerce_rest_authentication_error`` (also for writes when
``permissions = "read"``) or ``woocommerce_rest_cannot_*`` (no credentials).
Switches: ``fail_next(429, retry_after="7")``, ``fail_next(503)``, ``fail_next("drop")`` (closed
unanswered), ``fail_next("reset")`` (TCP RST), ``fail_next("stall", seconds=...)``;
``batch_limit`` (WooCommerce's ``woocommerce_rest_batch_items_limit`` filter). ``log`` holds
every request (method, path, query, headers, body, status, a batch's object count).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import hmac
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import requests

from tests.servers import JsonHandler, running

KEY = "ck_4f1c2a9e8b7d6c5f4e3a2b1c0d9e8f7a6b5c4d3e"  # what ${WOOCOMMERCE_CONSUMER_KEY} holds
SECRET = "cs_9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b"  # what ${WOOCOMMERCE_CONSUMER_SECRET} holds
API = "/wp-json/wc/v3"
Json = dict[str, Any]

# the writable properties of the docs' tables: a type name, an enum (tuple), [item] or {object}
STR, BOOL, INT, NULL_INT, PRICE = "string", "boolean", "integer", "integer|null", "price"
STATUS = ("draft", "pending", "private", "publish")
COMMON = {
    "regular_price": PRICE, "sale_price": PRICE, "manage_stock": BOOL,
    "stock_quantity": NULL_INT, "stock_status": ("instock", "outofstock", "onbackorder"),
    "backorders": ("no", "notify", "yes"), "tax_status": ("taxable", "shipping", "none"),
    "tax_class": STR, "weight": STR, "menu_order": INT, "virtual": BOOL, "downloadable": BOOL,
    "sku": STR, "description": STR, "meta_data": [{"key": STR, "value": STR}],
}  # fmt: skip
IMAGE = {"id": INT, "src": STR, "name": STR, "alt": STR}
PRODUCT = {
    **COMMON, "name": STR, "slug": STR, "status": STATUS, "featured": BOOL,
    "type": ("simple", "grouped", "external", "variable"), "short_description": STR,
    "catalog_visibility": ("visible", "catalog", "search", "hidden"),
    "categories": [{"id": INT}], "tags": [{"id": INT}], "images": [IMAGE],
    "attributes": [{"id": INT, "name": STR, "position": INT, "visible": BOOL, "variation": BOOL,
                    "options": [STR]}],
    "default_attributes": [{"id": INT, "name": STR, "option": STR}],
}  # fmt: skip
VARIATION = {
    **COMMON, "status": STATUS, "image": IMAGE,
    "attributes": [{"id": INT, "name": STR, "option": STR}],
}  # fmt: skip


class WooError(Exception):
    def __init__(self, code: str, message: str, status: int = 400, **data: Any) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, {"status": status, **data}

    def as_json(self) -> Json:
        return {"code": self.code, "message": self.message, "data": self.data}


def _problems(value: Any, kind: Any, name: str) -> list[str]:
    """What in ``value`` does not fit ``kind``, worded like WordPress's schema validation."""
    if isinstance(kind, dict):
        if not isinstance(value, dict):
            return [f"{name} is not of type object."]
        found = [f"{name}[{k}] is not a writable property." for k in value if k not in kind]
        return found + [
            p for k, v in value.items() if k in kind for p in _problems(v, kind[k], f"{name}[{k}]")
        ]
    if isinstance(kind, list):
        if not isinstance(value, list):
            return [f"{name} is not of type array."]
        return [p for i, item in enumerate(value) for p in _problems(item, kind[0], f"{name}[{i}]")]
    if isinstance(kind, tuple):
        return [] if value in kind else [f"{name} is not one of {', '.join(kind)}."]
    integer = isinstance(value, int) and not isinstance(value, bool)
    ok = {
        STR: isinstance(value, str), BOOL: isinstance(value, bool), INT: integer,
        NULL_INT: integer or value is None, PRICE: isinstance(value, str),
    }[kind]  # fmt: skip
    if not ok:
        return [f"{name} is not of type {kind.replace('price', 'string')}."]
    if kind == PRICE and value:
        with contextlib.suppress(InvalidOperation):
            Decimal(value)
            return []
        return [f"{name} is not a decimal number."]
    return []


def _validate(fields: Json, schema: Json) -> None:
    params = {}
    for name, value in fields.items():
        if name == "id":
            continue
        found = _problems(value, schema[name], name) if name in schema else []
        if name not in schema or found:
            params[name] = found[0] if found else f"{name} is not a writable property."
    if params:
        raise WooError(
            "rest_invalid_param", f"Invalid parameter(s): {', '.join(params)}", params=params
        )


@dataclass
class Logged:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int = 0
    objects: int = 0  # create + update + delete, for batch requests


@dataclass
class WooServer:
    """The shop's state, its switches and its request log."""

    url: str = ""
    key: str = KEY
    secret: str = SECRET
    permissions: str = "read_write"
    batch_limit: int = 100
    posts: dict[int, Json] = field(default_factory=dict)  # products and variations, by id
    parent_of: dict[int, int] = field(default_factory=dict)  # variation id -> product id
    log: list[Logged] = field(default_factory=list)
    faults: list[tuple[Any, dict[str, str], float]] = field(default_factory=list)
    nonces: set[str] = field(default_factory=set)
    next_id: int = 100
    lock: threading.RLock = field(default_factory=threading.RLock)

    def reset(self) -> None:
        """Empty the shop and put every switch back."""
        fresh = WooServer()
        with self.lock:
            for f in dataclasses.fields(self):
                if f.name not in ("url", "lock", "nonces"):
                    setattr(self, f.name, getattr(fresh, f.name))

    def fail_next(
        self, fault: int | str, *, times: int = 1, retry_after: str | None = None,
        seconds: float = 2.0,
    ) -> None:  # fmt: skip
        """The next ``times`` requests fail: an HTTP status, "drop", "reset" or "stall"."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self.faults.extend([(fault, headers, seconds)] * times)

    # --- what tests look at -------------------------------------------------------------------
    def batches(self) -> list[Logged]:
        return [r for r in self.log if r.method == "POST" and r.path.endswith("/batch")]

    @property
    def products(self) -> dict[int, Json]:
        return {i: p for i, p in self.posts.items() if i not in self.parent_of}

    def by_sku(self, sku: str) -> Json | None:
        return next((obj for obj in self.posts.values() if obj["sku"] == sku), None)

    def variations_of(self, product_id: int) -> list[Json]:
        return [self.posts[v] for v in self.posts[product_id]["variations"]]

    # --- the store ------------------------------------------------------------------------------
    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _check_sku(self, sku: str, own_id: int | None) -> None:
        owner = self.by_sku(sku) if sku else None
        if owner is not None and owner["id"] != own_id:
            raise WooError(
                "product_invalid_sku", "Invalid or duplicated SKU.",
                resource_id=owner["id"], unique_sku=f"{sku}-1",
            )  # fmt: skip

    def _apply(self, obj: Json, fields: Json, parent: Json | None) -> None:
        for name, value in fields.items():
            if name == "images":
                obj["images"] = [self._image(i) for i in value]
            elif name == "image":
                obj["image"] = self._image(value)
            elif name == "attributes" and parent is not None:  # only what the parent offers
                obj["attributes"] = [
                    {"id": p["id"], "name": p["name"], "option": a.get("option", "")}
                    for a in value
                    if (p := next((p for p in parent["attributes"] if _same(a, p)), None))
                ]
            elif name == "attributes":
                obj["attributes"] = [
                    {"id": 0, "position": i, "visible": False, "variation": False, "options": [],
                     **a}
                    for i, a in enumerate(value)
                ]  # fmt: skip
            elif name != "id":
                obj[name] = value
        obj["price"] = obj["sale_price"] or obj["regular_price"]
        obj["on_sale"] = bool(obj["sale_price"])
        if obj["manage_stock"] and obj["stock_quantity"] is not None:
            obj["stock_status"] = "instock" if obj["stock_quantity"] > 0 else "outofstock"

    def _image(self, image: Json) -> Json:
        return {"id": image.get("id") or self._id(), "src": image.get("src", ""), "alt": ""}

    def _get(self, parent: Json | None, item_id: Any, status: int = 400) -> Json:
        """The product (``parent`` None) or the variation of ``parent`` with this id."""
        found = self.posts.get(item_id) if isinstance(item_id, int) else None
        if found is None or self.parent_of.get(item_id) != (parent and parent["id"]):
            kind = "product_variation" if parent else "product"
            raise WooError(f"woocommerce_rest_{kind}_invalid_id", "Invalid ID.", status)
        return found

    def create(self, parent: Json | None, fields: Json) -> Json:
        """A product, or (``parent`` given) a variation of it."""
        _validate(fields, VARIATION if parent else PRODUCT)
        self._check_sku(fields.get("sku", ""), None)
        obj: Json = {
            "id": self._id(), "sku": "", "status": "publish", "description": "",
            "regular_price": "", "sale_price": "", "manage_stock": False,
            "stock_quantity": None, "stock_status": "instock", "attributes": [],
        }  # fmt: skip
        if parent:
            obj["image"] = None
            self.parent_of[obj["id"]] = parent["id"]
            parent["variations"].append(obj["id"])
        else:
            obj |= {"name": "", "type": "simple", "images": [], "variations": [], "parent_id": 0}
        self._apply(obj, fields, parent)
        self.posts[obj["id"]] = obj
        return obj

    def update(self, parent: Json | None, fields: Json) -> Json:
        obj = self._get(parent, fields.get("id"))
        _validate(fields, VARIATION if parent else PRODUCT)
        self._check_sku(fields.get("sku", ""), obj["id"])
        self._apply(obj, fields, parent)
        return obj

    def delete(self, parent: Json | None, item_id: Any) -> Json:
        obj = self._get(parent, item_id, 404)
        for post_id in [obj["id"], *obj.get("variations", [])]:
            self.posts.pop(post_id)
            self.parent_of.pop(post_id, None)
        if parent:
            parent["variations"].remove(obj["id"])
        return obj

    def batch(self, body: Any, parent: Json | None) -> Json:
        if not isinstance(body, dict):
            raise WooError("rest_invalid_json", "Invalid JSON body passed.")
        ops = {"create": self.create, "update": self.update, "delete": self.delete}
        if sum(len(body.get(k) or []) for k in ops) > self.batch_limit:
            raise WooError(
                "woocommerce_rest_request_entity_too_large",
                f"Unable to accept more than {self.batch_limit} items for this request.", 413,
            )  # fmt: skip
        answer: Json = {}
        for verb, op in ops.items():
            for item in body.get(verb) or []:
                try:
                    if verb != "delete" and not isinstance(item, dict):
                        raise WooError("rest_invalid_param", f"Invalid parameter(s): {verb}")
                    answer.setdefault(verb, []).append(json.loads(json.dumps(op(parent, item))))
                except WooError as exc:
                    update_id = item.get("id") if isinstance(item, dict) else None
                    item_id = {"create": 0, "update": update_id, "delete": item}[verb]
                    answer.setdefault(verb, []).append({"id": item_id, "error": exc.as_json()})
        return answer

    # --- auth -----------------------------------------------------------------------------------
    def authenticate(self, method: str, url: str, headers: Any, query: dict[str, str]) -> None:
        error = "woocommerce_rest_authentication_error"
        secure = headers.get("X-Forwarded-Proto") == "https"
        key = secret = None
        if secure and headers.get("Authorization", "").startswith("Basic "):
            key, _, secret = base64.b64decode(headers["Authorization"][6:]).decode().partition(":")
        elif secure and "consumer_key" in query:
            key, secret = query["consumer_key"], query.get("consumer_secret", "")
        elif "oauth_signature" in query:
            key, secret = self.key, self._check_oauth(method, url, query)
        if key is None:
            verb = "view" if method == "GET" else "batch"
            raise WooError(f"woocommerce_rest_cannot_{verb}", f"Sorry, you cannot {verb}.", 401)
        if key != self.key:
            raise WooError(error, "Consumer key is invalid.", 401)
        if secret != self.secret:
            raise WooError(error, "Consumer secret is invalid.", 401)
        if method != "GET" and self.permissions == "read":
            raise WooError(error, "The API key provided does not have write permissions.", 401)

    def _check_oauth(self, method: str, url: str, query: dict[str, str]) -> str:
        """The secret, when the signature is right."""
        error = "woocommerce_rest_authentication_error"
        params = {k: v for k, v in query.items() if k != "oauth_signature"}
        if params.get("oauth_consumer_key") != self.key:
            raise WooError(error, "Consumer key is invalid.", 401)
        methods = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}
        algorithm = methods.get(params.get("oauth_signature_method", ""))
        if algorithm is None:
            raise WooError(error, "Invalid signature - signature method is invalid.", 401)
        if abs(time.time() - int(params.get("oauth_timestamp") or 0)) > 15 * 60:
            raise WooError(error, "Invalid timestamp.", 401)
        nonce = params.get("oauth_nonce", "")
        if not nonce or nonce in self.nonces:
            raise WooError(error, "Invalid nonce - nonce has already been used.", 401)
        enc = {quote(k, safe=""): quote(v, safe="") for k, v in params.items()}
        text = "&".join(
            quote(s, safe="") for s in (url, "&".join(f"{k}={enc[k]}" for k in sorted(enc)))
        )
        digest = hmac.new(f"{self.secret}&".encode(), f"{method}&{text}".encode(), algorithm)
        if not hmac.compare_digest(
            base64.b64encode(digest.digest()).decode(), query["oauth_signature"]
        ):
            raise WooError(error, "Invalid signature - provided signature does not match.", 401)
        self.nonces.add(nonce)
        return self.secret

    # --- routing --------------------------------------------------------------------------------
    def route(self, method: str, path: str, query: dict[str, str], body: Any) -> Any:
        """The answer: a JSON value, or (rows, total) for a list."""
        parts = path.removeprefix(API + "/").split("/") if path.startswith(API + "/") else []
        if parts == ["products"] and method == "GET":
            return self.listing(list(self.products.values()), query)
        if parts == ["products", "batch"] and method == "POST":
            return self.batch(body, None)
        if len(parts) >= 3 and parts[0] == "products" and parts[2] == "variations":
            parent = self.products.get(int(parts[1])) if parts[1].isdigit() else None
            if parent is None or parent["type"] != "variable":
                raise WooError("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)
            if parts[3:] == [] and method == "GET":
                return self.listing(self.variations_of(parent["id"]), query)
            if parts[3:] == ["batch"] and method == "POST":
                return self.batch(body, parent)
        raise WooError(
            "rest_no_route", "No route was found matching the URL and request method", 404
        )

    def listing(self, rows: list[Json], query: dict[str, str]) -> tuple[list[Json], int]:
        if query.get("sku"):
            rows = [r for r in rows if r["sku"] == query["sku"]]
        if query.get("include"):
            wanted = {int(i) for i in query["include"].split(",") if i.strip().isdigit()}
            rows = [r for r in rows if r["id"] in wanted]
        per_page, page = int(query.get("per_page") or 10), int(query.get("page") or 1)
        if not 1 <= per_page <= 100:
            message = "per_page must be between 1 (inclusive) and 100 (inclusive)"
            raise WooError(
                "rest_invalid_param", "Invalid parameter(s): per_page", params={"per_page": message}
            )
        return rows[(page - 1) * per_page : page * per_page], len(rows)


def _same(given: Json, offered: Json) -> bool:
    """Whether a variation's attribute is the parent's ``offered`` one (by id, else by name)."""
    name = str(given.get("name", "")).casefold()
    same = given["id"] == offered["id"] if given.get("id") else name == offered["name"].casefold()
    return bool(offered["variation"] and same)


def _handler(server: WooServer) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def _fault(self, fault: Any, headers: dict[str, str], seconds: float) -> int:
            if fault not in ("drop", "reset", "stall"):
                self._send(int(fault), {"code": "induced", "message": f"HTTP {fault}"}, headers)
                return int(fault)
            if fault == "stall":
                time.sleep(seconds)
            if fault == "reset":  # SO_LINGER 0, and no FIN first: close() sends an RST
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.server.resets.add(self.connection.fileno())  # type: ignore[attr-defined]
            else:
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return 0

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            split = urlsplit(self.path)
            query = dict(parse_qsl(split.query, keep_blank_values=True))
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = ...
            entry = Logged(method, split.path, query, dict(self.headers), body)
            if isinstance(body, dict) and split.path.endswith("/batch"):
                entry.objects = sum(len(body.get(k) or []) for k in ("create", "update", "delete"))
            with server.lock:
                server.log.append(entry)
                injected = server.faults.pop(0) if server.faults else None
            if injected is not None:
                entry.status = self._fault(*injected)
                return
            headers: dict[str, str] = {}
            try:
                with server.lock:
                    if body is ...:
                        raise WooError("rest_invalid_json", "Invalid JSON body passed.")
                    url = f"http://{self.headers.get('Host', '')}{split.path}"
                    server.authenticate(method, url, self.headers, query)
                    status, answer = 200, server.route(method, split.path, query, body)
            except WooError as exc:
                status, answer = exc.data["status"], exc.as_json()
            if isinstance(answer, tuple):
                answer, total = answer
                pages = -(-total // int(query.get("per_page") or 10))
                headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(max(1, pages))}
            entry.status = status
            self._send(status, answer, headers)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

    return Handler


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    resets: set[int]

    def shutdown_request(self, request: Any) -> None:
        if request.fileno() in self.resets:  # skip the polite shutdown(SHUT_WR): no FIN
            self.resets.discard(request.fileno())
            return self.close_request(request)
        return super().shutdown_request(request)


@contextlib.contextmanager
def serve() -> Iterator[WooServer]:
    """A shop on 127.0.0.1 (a free port) for as long as the block runs."""
    state = WooServer()
    httpd = _HTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.resets = set()
    with running(httpd) as url:
        state.url = url
        yield state


class TlsTerminator(requests.adapters.HTTPAdapter):
    """The shop's HTTPS front for a ``requests.Session``: mounted on ``https://127.0.0.1:PORT``,
    it forwards each request over plain HTTP with ``X-Forwarded-Proto: https``, as a
    TLS-terminating proxy does."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        request.url = "http://" + str(request.url).removeprefix("https://")
        request.headers["X-Forwarded-Proto"] = "https"
        return super().send(request, *args, **kwargs)
