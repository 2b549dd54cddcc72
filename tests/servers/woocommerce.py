"""A WooCommerce REST API v3 shop for channel tests, written from WooCommerce's documentation
(``../shared/specs/woocommerce/rest-api-docs/*.md``, ``SPEC-NOTES.md``), not from the client.

Routes under ``/wp-json/wc/v3``: ``GET products``, ``POST products/batch``, ``GET
products/<id>/variations``, ``POST products/<id>/variations/batch`` (lists: ``sku``, ``include``,
``per_page`` <= 100, ``page``; ``X-WP-Total``); ``GET orders``, ``orders/<id>``,
``orders/<id>/refunds``, ``orders/<id>/refunds/<refund_id>`` (lists: ``X-WP-Total``,
``X-WP-TotalPages``, ``Link``; array parameters as ``a,b`` or ``name[]=a&name[]=b``); ``PUT
orders/<id>`` (status and meta_data), ``GET``/``POST orders/<id>/notes``; the Shipment Tracking
extension's ``/wp-json/wc-shipment-tracking/v3`` routes while ``tracking.installed`` (see
:mod:`tests.servers.woocommerce_tracking`); else 404 ``rest_no_route``. Creates answer 201.
The shop behind the routes, with WooCommerce's documented batch limit, property types, SKU
rules and variations, is :class:`~tests.servers.woocommerce_shop.WooShop`; its orders and
refunds, which tests place and change directly (``shop.orders.add(...)``), are
:class:`~tests.servers.woocommerce_orders.WooOrders`.
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
import re
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import requests

from tests.servers import JsonHandler, drop, running
from tests.servers import woocommerce_tracking as tracking
from tests.servers.woocommerce_orders import Created, Page, WooOrders
from tests.servers.woocommerce_shop import Json, WooError, WooShop

KEY = "ck_4f1c2a9e8b7d6c5f4e3a2b1c0d9e8f7a6b5c4d3e"  # what ${WOOCOMMERCE_CONSUMER_KEY} holds
SECRET = "cs_9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b"  # what ${WOOCOMMERCE_CONSUMER_SECRET} holds
API = "/wp-json/wc/v3"


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
class WooServer(WooShop):
    """The shop behind HTTP: its credentials, its switches and its request log."""

    url: str = ""
    key: str = KEY
    secret: str = SECRET
    permissions: str = "read_write"
    log: list[Logged] = field(default_factory=list)
    faults: list[tuple[Any, dict[str, str], float]] = field(default_factory=list)
    nonces: set[str] = field(default_factory=set)
    lock: threading.RLock = field(default_factory=threading.RLock)
    orders: WooOrders = field(init=False, repr=False)
    tracking: tracking.ShipmentTracking = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.orders = WooOrders(self, lock=self.lock)
        self.tracking = tracking.ShipmentTracking(self.orders)

    def reset(self) -> None:
        """Empty the shop (its orders too, with the real clock again) and put every switch
        back."""
        fresh = WooServer()
        with self.lock:
            for f in dataclasses.fields(self):
                if f.name not in ("url", "lock", "nonces", "orders", "tracking"):
                    setattr(self, f.name, getattr(fresh, f.name))
            self.orders = WooOrders(self, lock=self.lock)
            self.tracking = tracking.ShipmentTracking(self.orders)

    def fail_next(
        self, fault: int | str | None, *, times: int = 1, retry_after: str | None = None,
        seconds: float = 2.0,
    ) -> None:  # fmt: skip
        """The next ``times`` requests fail: an HTTP status, "drop", "reset" or "stall";
        ``None`` lets them through (to fail a later one)."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self.faults.extend([(fault, headers, seconds)] * times)

    # --- what tests look at -------------------------------------------------------------------
    def batches(self) -> list[Logged]:
        return [r for r in self.log if r.method == "POST" and r.path.endswith("/batch")]

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
    def route(
        self, method: str, path: str, query: dict[str, str], body: Any, base: str = ""
    ) -> Any:
        """The answer: a JSON value, (rows, total) or a :class:`Page` for a list. ``base``:
        the site's URL as the client reached it, for links."""
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
        if parts == ["orders"] and method == "GET":
            return self.orders.list_orders(query, base)
        if parts[:1] == ["orders"] and len(parts) > 1 and parts[1].isdigit():
            order_id, rest = int(parts[1]), (*parts[2:], method)
            if rest == ("PUT",):
                return self.orders.update_order(order_id, body, base)
            if rest == ("notes", "GET"):
                return self.orders.list_notes(order_id, query, base)
            if rest == ("notes", "POST"):
                return self.orders.add_note(order_id, body, base)
        if path.startswith(tracking.PREFIX):
            return self.tracking.route(method, path, body, base)
        if parts[:1] == ["orders"] and len(parts) > 1 and parts[1].isdigit() and method == "GET":
            order_id = int(parts[1])
            if parts[2:] == []:
                return self.orders.order_json(order_id, query, base)
            if parts[2:] == ["refunds"]:
                return self.orders.list_refunds(order_id, query, base)
            if len(parts) == 4 and parts[2] == "refunds" and parts[3].isdigit():
                return self.orders.refund_json(order_id, int(parts[3]), query, base)
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


def _handler(server: WooServer) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def _fault(self, fault: Any, headers: dict[str, str], seconds: float) -> int:
            if fault not in ("drop", "reset", "stall"):
                self._send(int(fault), {"code": "induced", "message": f"HTTP {fault}"}, headers)
                return int(fault)
            if fault == "stall":
                time.sleep(seconds)
            drop(self, rst=fault == "reset")
            return 0

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            split = urlsplit(self.path)
            pairs = parse_qsl(split.query, keep_blank_values=True)
            query = dict(pairs)
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
            if injected is not None and injected[0] is not None:  # (None: answer as usual)
                entry.status = self._fault(*injected)
                return
            headers: dict[str, str] = {}
            scheme = self.headers.get("X-Forwarded-Proto") or "http"
            base = f"{scheme}://{self.headers.get('Host', '')}"
            try:
                with server.lock:
                    if body is ...:
                        raise WooError("rest_invalid_json", "Invalid JSON body passed.")
                    url = f"http://{self.headers.get('Host', '')}{split.path}"
                    server.authenticate(method, url, self.headers, query)
                    params = query | _arrays(pairs)
                    status, answer = 200, server.route(method, split.path, params, body, base)
            except WooError as exc:
                status, answer = exc.data["status"], exc.as_json()
            if isinstance(answer, Created):
                status, answer = 201, answer.body
            if isinstance(answer, Page):
                headers = {"X-WP-Total": str(answer.total), "X-WP-TotalPages": str(answer.pages)}
                links = _links(base + split.path, pairs, answer)
                if links:
                    headers["Link"] = links
                answer = answer.rows
            elif isinstance(answer, tuple):
                answer, total = answer
                pages = -(-total // int(query.get("per_page") or 10))
                headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(max(1, pages))}
            entry.status = status
            self._send(status, answer, headers)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PUT(self) -> None:
            self._handle("PUT")

    return Handler


def _arrays(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Array parameters given as ``name[]=a&name[]=b`` (or ``name[0]=a``), as ``a,b``."""
    found: defaultdict[str, list[str]] = defaultdict(list)
    for key, value in pairs:
        if named := re.fullmatch(r"([A-Za-z_]\w*)\[\d*\]", key):
            found[named[1]].append(value)
    return {name: ",".join(values) for name, values in found.items()}


def _links(url: str, pairs: list[tuple[str, str]], page: Page) -> str:
    """The ``Link`` header as WooCommerce builds it (core: WC_REST_CRUD_Controller::get_items):
    ``prev`` and ``next`` only, every query parameter kept, ``page`` replaced."""

    def at(number: int) -> str:
        kept = [(k, v) for k, v in pairs if k != "page"]
        return f"{url}?{urlencode([*kept, ('page', str(number))])}"

    links = []
    if page.page > 1:
        links.append(f'<{at(min(page.page - 1, page.pages))}>; rel="prev"')
    if page.pages > page.page:
        links.append(f'<{at(page.page + 1)}>; rel="next"')
    return ", ".join(links)


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
