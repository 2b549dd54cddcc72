"""A Square double for the Square channel tests. Prism serves Square's own contract; this small
stateful double on 127.0.0.1 covers what Prism's canned answers cannot show (ids assigned to
new objects, versions, counts, partial batch failures, 429/5xx/401).

The double implements the endpoints the channel uses the way Square documents them
(api.json 2025-08-20): ``#`` temporary ids mapped in ``id_mappings``, versions checked on
update, an upsert replacing the whole object (variations left out of an item are deleted),
each batch all-or-nothing while other batches succeed, at most 1,000 objects per batch and
10,000 per request, at most 100 inventory changes, idempotency keys replaying the first answer;
``POST /v2/catalog/search`` (items, a page per ``limit``) and
``/v2/inventory/counts/batch-retrieve`` for drift (``sell`` lowers a count as a till sale does);
``POST /v2/orders/search``, ``GET /v2/orders/{order_id}`` (RetrieveOrder) and
``PUT /v2/orders/{order_id}`` (UpdateOrder: fulfillments, versions) answer from ``orders``
(tests/servers/square_orders.py: the POS's orders, which a test rings up with
``double.orders.add(...)``); ``requests`` records each call's method, path, headers and body.
With ``validate`` set to a Prism URL it first forwards every request to Prism and answers with
Prism's error, recording it in ``violations``, when the request breaks the contract.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import requests

from tests.servers import serve
from tests.servers.square_orders import SquareOrders

TOKEN = "sq0atp-TEST-5bL7Qx2Vk9Rm"  # the value of ${SQUARE_TOKEN}; must never show up anywhere
SPEC = "square/api.offline.json"
ORDER_PATH = re.compile(r"/v2/orders/(?!search$|batch-retrieve$)[^/?]+")  # Retrieve/UpdateOrder
Answer = tuple[int, dict[str, Any]]


def error(
    code: str, detail: str, field: str | None = None, category: str = "INVALID_REQUEST_ERROR"
) -> dict[str, str]:
    """An entry of Square's ``errors[]``."""
    e = {"category": category, "code": code, "detail": detail}
    return {**e, "field": field} if field else e


@dataclass
class SquareDouble:
    url: str = ""
    validate: str | None = None  # a Prism URL that checks every request first
    currency: str = "USD"  # the seller's currency
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    counts: dict[tuple[str, str], str] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    fail_next: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)
    seen_keys: dict[str, tuple[str, Answer]] = field(default_factory=dict)
    serial: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    orders: SquareOrders = field(init=False)  # the POS's orders (SearchOrders)

    def __post_init__(self) -> None:
        self.orders = SquareOrders(self)

    def reset(self, validate: str | None = None) -> None:
        self.validate, self.currency, self.serial = validate, "USD", 0
        self.orders.clear()
        for store in (self.items, self.counts, self.seen_keys):
            store.clear()
        self.requests.clear()
        self.violations.clear()
        self.fail_next.clear()

    def posts(self, path: str) -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests if r["path"] == path]

    def calls(self, method: str, path: str) -> list[dict[str, Any]]:
        """The bodies (None for a GET) of the ``method`` requests to ``path``."""
        return [r["body"] for r in self.requests if (r["method"], r["path"]) == (method, path)]

    def variation(self, var_id: str) -> dict[str, Any] | None:
        for item in self.items.values():
            for var in item["item_data"].get("variations", []):
                if var["id"] == var_id:
                    return var
        return None

    # --- the catalog and inventory endpoints (orders: SquareOrders.search) ------------------
    def retrieve(self, body: dict[str, Any]) -> Answer:
        found = []
        for object_id in body["object_ids"]:
            obj = self.items.get(object_id) or self.variation(object_id)
            if obj is not None:
                found.append(copy.deepcopy(obj))
        return 200, {"objects": found}

    def upsert(self, body: dict[str, Any]) -> Answer:
        batches = body["batches"]
        sizes = [len(b["objects"]) + sum(len(o.get("item_data", {}).get("variations") or [])
                                         for o in b["objects"]) for b in batches]  # fmt: skip
        if max(sizes) > 1000 or sum(sizes) > 10_000:
            return 400, {"errors": [error("ARRAY_LENGTH_TOO_LONG", f"Too many objects {sizes}")]}
        out: dict[str, Any] = {"objects": [], "id_mappings": [], "errors": []}
        for n, batch in enumerate(batches):
            items = copy.deepcopy(self.items)
            try:
                written = [self._write(items, obj, out["id_mappings"]) for obj in batch["objects"]]
            except ValueError as exc:
                out["errors"].append(error("INVALID_VALUE", f"batches[{n}]: {exc}"))
                continue
            self.items = items
            out["objects"] += written
        return (200 if out["objects"] or not out["errors"] else 400), out

    def _write(self, items: dict[str, Any], obj: dict[str, Any], mappings: list[Any]) -> Any:
        obj = copy.deepcopy(obj)
        ids: dict[str, str] = {}

        def real(temp: str, prefix: str) -> str:
            if not temp.startswith("#"):
                return temp
            if temp not in ids:
                self.serial += 1
                ids[temp] = f"{prefix}{self.serial:06d}"
                mappings.append({"client_object_id": temp, "object_id": ids[temp]})
            return ids[temp]

        self.serial += 1
        version = 1_700_000_000_000 + self.serial
        if obj["type"] == "ITEM":
            old = items.get(obj["id"])
            if old is not None and obj.get("version") != old["version"]:
                raise ValueError(f"Object {obj['id']} version does not match latest database")
            obj["id"], obj["version"] = real(obj["id"], "ITEM"), version
            for var in obj["item_data"].get("variations") or []:
                self._check(var, old and next((v for v in old["item_data"]["variations"]
                                               if v["id"] == var["id"]), None))  # fmt: skip
                var["id"], var["version"] = real(var["id"], "VAR"), version
                var["item_variation_data"]["item_id"] = obj["id"]
            items[obj["id"]] = obj
            return obj
        item = items.get(obj["item_variation_data"].get("item_id", ""))
        old_vars = item["item_data"]["variations"] if item else []
        position = next((i for i, v in enumerate(old_vars) if v["id"] == obj["id"]), None)
        if item is None or position is None:
            raise ValueError(f"Object {obj['id']} not found")
        self._check(obj, old_vars[position])
        obj["version"] = version
        old_vars[position] = obj
        return obj

    def _check(self, var: dict[str, Any], old: dict[str, Any] | None) -> None:
        if old is not None and var.get("version") != old["version"]:
            raise ValueError(f"Object {var['id']} version does not match latest database")
        money = var["item_variation_data"].get("price_money") or {}
        if money.get("currency", self.currency) != self.currency:
            raise ValueError(f"Object {var['id']}: price currency must be {self.currency}")

    def inventory(self, body: dict[str, Any]) -> Answer:
        changes = body.get("changes") or []
        if len(changes) > 100:
            return 400, {"errors": [error("ARRAY_LENGTH_TOO_LONG", "at most 100 changes")]}
        errors = [
            error(
                "NOT_FOUND",
                "Item variation not found",
                f"changes[{i}].physical_count.catalog_object_id",
            )
            for i, c in enumerate(changes)
            if self.variation(c["physical_count"]["catalog_object_id"]) is None
        ]
        if errors:
            return 400, {"errors": errors}
        for c in changes:
            count = c["physical_count"]
            self.counts[(count["catalog_object_id"], count["location_id"])] = count["quantity"]
        counts = [{"catalog_object_id": v, "location_id": loc, "quantity": q, "state": "IN_STOCK"}
                  for (v, loc), q in self.counts.items()]  # fmt: skip
        return 200, {"counts": counts}

    def search(self, body: dict[str, Any]) -> Answer:
        """SearchCatalogObjects of ITEMs (variations nested), ``limit`` a page, in id order,
        the cursor the next page's start."""
        if body.get("object_types") not in (None, ["ITEM"]) or body.get("query"):
            return 400, {"errors": [error("BAD_REQUEST", "the double searches ITEMs only")]}
        start = int(body.get("cursor") or 0)
        limit = min(int(body.get("limit") or 100), 1000)
        ids = sorted(self.items)
        page = [copy.deepcopy(self.items[i]) for i in ids[start : start + limit]]
        more = start + limit < len(ids)
        return 200, {"objects": page, **({"cursor": str(start + limit)} if more else {})}

    def counts_of(self, body: dict[str, Any]) -> Answer:
        """BatchRetrieveInventoryCounts: IN_STOCK counts of the ids at the locations asked."""
        ids, where = body.get("catalog_object_ids"), body.get("location_ids")
        counts = [
            {"catalog_object_id": v, "location_id": loc, "quantity": q, "state": "IN_STOCK",
             "calculated_at": "2025-01-01T00:00:00Z"}
            for (v, loc), q in sorted(self.counts.items())
            if (ids is None or v in ids) and (where is None or loc in where)
        ]  # fmt: skip
        return 200, {"counts": counts}

    def sell(self, var_id: str, location: str, units: int) -> None:
        """What a till sale does to Square's own count (the orders double leaves it alone)."""
        key = (var_id, location)
        self.counts[key] = str(int(self.counts.get(key, "0")) - units)

    def answer(
        self, path: str, headers: dict[str, str], body: Any, method: str = "POST"
    ) -> tuple[int, Any, dict]:
        if self.validate:
            keep = {k: v for k, v in headers.items() if k in ("Authorization", "Square-Version")}
            check = requests.request(method, self.validate + path, headers=keep, timeout=30,
                                     json=body if method != "GET" else None)  # fmt: skip
            if check.status_code >= 400:
                self.violations.append(f"{method} {path}: {check.status_code} "
                                       f"{check.text[:500]}")  # fmt: skip
                return check.status_code, check.json(), {}
        if self.fail_next:
            status, extra, payload = self.fail_next.pop(0)
            if status == 0:  # a hang: the channel's timeout must fire
                time.sleep(float(extra["sleep"]))
                status, extra = 500, {}
            return status, payload, extra
        if headers.get("Authorization") != f"Bearer {TOKEN}":
            e = error(
                "UNAUTHORIZED",
                "This request could not be authorized.",
                category="AUTHENTICATION_ERROR",
            )
            return 401, {"errors": [e]}, {}
        order_id = path.rsplit("/", 1)[1] if ORDER_PATH.fullmatch(path) else None
        if method == "GET" and order_id:  # RetrieveOrder
            return *self.orders.retrieve(order_id), {}
        routes = {
            ("POST", "/v2/catalog/batch-retrieve"): self.retrieve,
            ("POST", "/v2/catalog/batch-upsert"): self.upsert,
            ("POST", "/v2/inventory/changes/batch-create"): self.inventory,
            ("POST", "/v2/orders/search"): self.orders.search,
            ("POST", "/v2/catalog/search"): self.search,
            ("POST", "/v2/inventory/counts/batch-retrieve"): self.counts_of,
        }
        if order_id:  # UpdateOrder
            routes[("PUT", path)] = lambda b: self.orders.update(str(order_id), b)
        route = routes.get((method, path))
        if route is None:
            return 404, {"errors": [error("NOT_FOUND", f"no route {method} {path}")]}, {}
        key = body.get("idempotency_key") if isinstance(body, dict) else None
        digest = json.dumps(body, sort_keys=True)
        if key in self.seen_keys:
            first, cached = self.seen_keys[key]
            if first != digest:
                return 400, {"errors": [error("IDEMPOTENCY_KEY_REUSED", key)]}, {}
            return cached[0], copy.deepcopy(cached[1]), {}
        status, payload = route(body)
        if key:
            self.seen_keys[key] = (digest, (status, copy.deepcopy(payload)))
        return status, payload, {}


def _handler(double: SquareDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.loads(raw) if raw else None
            headers = {k: v for k, v in self.headers.items() if k.lower() != "content-length"}
            method = self.command
            double.requests.append({"method": method, "path": self.path, "headers": headers,
                                    "body": body})  # fmt: skip
            with double.lock:
                status, payload, extra = double.answer(self.path, headers, body, method)
            data = json.dumps(payload).encode()
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **extra}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST  # RetrieveOrder, UpdateOrder

    return Handler


@contextmanager
def serve_double() -> Iterator[SquareDouble]:
    """A Square double listening on 127.0.0.1 until the block ends."""
    with serve(SquareDouble(), _handler) as double:
        yield double
