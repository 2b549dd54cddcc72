"""A Google Merchant API double for the Google channel tests, written from Google's discovery
documents (``../shared/specs/google/merchantapi.{products,inventories,datasources,quota}_v1.json``,
read in place, never copied) and the behaviour Google documents for them.

- ``Discovery`` turns the documents into routes (each method's ``flatPath``, HTTP method,
  query parameters) and checks every request against them: the path is a method of the API,
  query parameters are the method's or the API's own, those the method calls "Required." are
  there, and the body matches the method's request schema: no field the schema lacks, the
  right JSON type for each (int64 as a string), enum values of the schema's lists, no
  output-only field, the fields whose description says "Required." present. A violation is
  answered 400 INVALID_ARGUMENT, as Google does, and recorded in ``violations``.
- ``GoogleDouble`` keeps state as Google would: product inputs by ``contentLanguage~feedLabel~
  offerId`` in the API data source (insert replaces the whole input; patch sets the fields of
  ``updateMask`` and deletes those it names without a value; names plain or unpadded
  base64url), processed products with ``productStatus.itemLevelIssues`` for what is missing
  (title, link, image, price: DISAPPROVED), local inventories per product and store, and
  quota groups (daily calls per group, ``quota/daily_limit_exceeded`` past them). It refuses
  what Google refuses: an unknown data source, a currency other than the account's, an offer
  id over 50 characters, a patch or a local inventory of a product it does not have.
- It lists what it holds as Google does: ``products.list`` pages of processed products
  (``pageSize``, at most ``list_page``, ``nextPageToken``) and ``localInventories.list``;
  ``change_behind`` / ``delete_behind`` edit or delete a product as a seller in Merchant
  Center would, behind multichan's back (drift tests).
- It is its own OAuth token endpoint (``/token``): a service account's JWT (RS256, signed with
  the test key ``service_account_info`` gives, audience the token URI) or a refresh-token grant
  gets a short-lived access token; API calls need one.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from multichan.money import MINOR_UNITS
from tests.prism import spec_or_skip
from tests.servers import serve

SPECS = tuple(
    f"google/merchantapi.{name}_v1.json" for name in ("products", "inventories", "datasources",
                                                      "quota")
)  # fmt: skip
ACCOUNT = "5432109876"
DATA_SOURCE = f"accounts/{ACCOUNT}/dataSources/10001"
SA_EMAIL = "multichan-push@shop-project.iam.gserviceaccount.com"
REFRESH_TOKEN = "1//0g-TEST-REFRESH-Hk2p9QvL"  # the values of ${GOOGLE_*}: never shown anywhere
CLIENT_ID = "123456-test.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-TEST-s3cr3t-Zq8"
SCOPE = "https://www.googleapis.com/auth/content"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # the audience google-auth signs for
Answer = tuple[int, Any]


# --- the discovery documents --------------------------------------------------------------
@dataclass
class Method:
    id: str
    http: str
    pattern: re.Pattern[str]
    params: dict[str, Any]
    request: str | None
    doc: dict[str, Any]


class Discovery:
    """The routes and schemas of the Merchant API's discovery documents."""

    def __init__(self, paths: list[Path]) -> None:
        self.docs = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
        self.methods: list[Method] = []
        for doc in self.docs:
            self._collect(doc, doc.get("resources") or {})

    def _collect(self, doc: dict[str, Any], resources: dict[str, Any]) -> None:
        for resource in resources.values():
            for m in (resource.get("methods") or {}).values():
                flat = re.sub(r"\{[^}]+\}", "([^/]+)", re.escape(m["flatPath"]).replace(
                    r"\{", "{").replace(r"\}", "}"))  # fmt: skip
                self.methods.append(Method(m["id"], m["httpMethod"], re.compile(f"^/{flat}$"),
                                           m.get("parameters") or {},
                                           (m.get("request") or {}).get("$ref"), doc))  # fmt: skip
            self._collect(doc, resource.get("resources") or {})

    def route(self, http: str, path: str) -> tuple[Method, tuple[str, ...]] | None:
        for m in self.methods:
            match = m.pattern.match(path)
            if match and m.http == http:
                return m, match.groups()
        return None

    def check(self, method: Method, query: dict[str, str], body: Any) -> list[str]:
        """What is wrong with a call of ``method`` (its query and JSON body)."""
        problems = []
        known = {**(method.doc.get("parameters") or {}), **method.params}
        for name in query:
            if name not in known:
                problems.append(f"unknown query parameter {name!r} for {method.id}")
        for name, spec in method.params.items():
            if spec.get("location") == "query" and _required(spec) and name not in query:
                problems.append(f"{method.id}: query parameter {name!r} is required")
            if name in query and spec.get("enum") and query[name] not in spec["enum"]:
                problems.append(f"{method.id}: {name}={query[name]!r} is not one of its enum")
        if method.request:
            if not isinstance(body, dict):
                problems.append(f"{method.id}: a {method.request} body is required")
            else:
                problems += self.body(method.doc, method.request, body, method.request)
        elif body not in (None, {}):
            problems.append(f"{method.id} takes no body")
        return problems

    def body(self, doc: dict[str, Any], ref: str, value: Any, where: str) -> list[str]:
        schema = doc["schemas"][ref]
        if not isinstance(value, dict):
            return [f"{where}: expected an object ({ref})"]
        problems = []
        props = schema.get("properties") or {}
        for name, item in value.items():
            spec = props.get(name)
            if spec is None:
                problems.append(f"{where}: unknown field {name!r} ({ref} has no such field)")
            elif spec.get("readOnly"):
                problems.append(f"{where}.{name} is output only")
            else:
                problems += self.value(doc, spec, item, f"{where}.{name}")
        for name, spec in props.items():
            if _required(spec) and name not in value:
                problems.append(f"{where}.{name} is required")
        return problems

    def value(self, doc: dict[str, Any], spec: dict[str, Any], value: Any, where: str) -> list[str]:
        if "$ref" in spec:
            return self.body(doc, spec["$ref"], value, where)
        kind = spec.get("type")
        if kind == "array":
            if not isinstance(value, list):
                return [f"{where}: expected an array"]
            items = spec.get("items") or {}
            return [
                p for i, v in enumerate(value) for p in self.value(doc, items, v, f"{where}[{i}]")
            ]
        if kind == "string":
            if not isinstance(value, str):
                return [f"{where}: expected a string, not {value!r}"]
            if spec.get("format") in ("int64", "uint64") and not re.fullmatch(r"-?\d+", value):
                return [f"{where}: expected an int64 in a string, not {value!r}"]
            if spec.get("enum") and value not in spec["enum"]:
                return [f"{where}: {value!r} is not one of {spec['enum']}"]
            return []
        if kind == "integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
            return [] if ok else [f"{where}: expected an integer, not {value!r}"]
        if kind == "number":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            return [] if ok else [f"{where}: expected a number, not {value!r}"]
        if kind == "boolean":
            return [] if isinstance(value, bool) else [f"{where}: expected true or false"]
        if kind == "object":
            if not isinstance(value, dict):
                return [f"{where}: expected an object"]
            inner = spec.get("additionalProperties")
            if not inner:
                return []
            return [p for k, v in value.items() for p in self.value(doc, inner, v, f"{where}.{k}")]
        return []

    def attribute_names(self) -> set[str]:
        products = next(d for d in self.docs if d["name"] == "merchantapi" and
                        "ProductAttributes" in d["schemas"])  # fmt: skip
        return set(products["schemas"]["ProductAttributes"]["properties"])


def _required(spec: dict[str, Any]) -> bool:
    return bool(spec.get("required")) or str(spec.get("description") or "").startswith("Required.")


@cache
def discovery() -> Discovery:
    return Discovery([spec_or_skip(s) for s in SPECS])


# --- a service account's key ----------------------------------------------------------------
@cache
def _private_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def service_account_info(token_uri: str) -> dict[str, str]:
    """A service-account key as Google's console hands it out (a throwaway RSA key)."""
    from cryptography.hazmat.primitives import serialization

    pem = _private_key().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip
    return {
        "type": "service_account", "project_id": "shop-project",
        "private_key_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0TESTKEY", "private_key": pem,
        "client_email": SA_EMAIL, "client_id": "109876543210987654321",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": token_uri,
    }  # fmt: skip


def _public_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization

    return (
        _private_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


# --- the double -----------------------------------------------------------------------------
def google_error(status: int, code: str, message: str, reason: str = "") -> Answer:
    error: dict[str, Any] = {"code": status, "message": message, "status": code}
    if reason:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                             "reason": reason, "domain": "merchantapi.googleapis.com"}]  # fmt: skip
    return status, {"error": error}


QUOTA_GROUPS = {  # group -> the methods in it (MethodDetails.path)
    "products_insert": ["products/v1/productInputs.insert", "products/v1/productInputs.patch",
                        "products/v1/productInputs.delete"],
    "products_get": ["products/v1/products.get", "products/v1/products.list"],
    "inventories": ["inventories/v1/localInventories.insert",
                    "inventories/v1/localInventories.list"],
}  # fmt: skip
METHOD_PATHS = {
    "merchantapi.accounts.productInputs.insert": "products/v1/productInputs.insert",
    "merchantapi.accounts.productInputs.patch": "products/v1/productInputs.patch",
    "merchantapi.accounts.productInputs.delete": "products/v1/productInputs.delete",
    "merchantapi.accounts.products.get": "products/v1/products.get",
    "merchantapi.accounts.products.list": "products/v1/products.list",
    "merchantapi.accounts.products.localInventories.insert":
        "inventories/v1/localInventories.insert",
    "merchantapi.accounts.products.localInventories.list":
        "inventories/v1/localInventories.list",
}  # fmt: skip


@dataclass
class GoogleDouble:
    url: str = ""
    currency: str = "USD"  # the account's
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # lang~label~offer -> input
    local: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # id -> store
    tokens: dict[str, float] = field(default_factory=dict)  # access token -> expiry
    grants: int = 0  # tokens handed out
    daily: dict[str, int] = field(default_factory=dict)  # quota group -> calls a day
    minute: dict[str, int] = field(default_factory=dict)  # quota group -> calls a minute
    usage: dict[str, int] = field(default_factory=dict)  # quota group -> calls today
    writes: dict[str, int] = field(default_factory=dict)  # product id -> inserts and patches
    unprocessed: set[str] = field(default_factory=set)  # inputs Google has not processed yet
    requests: list[dict[str, Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    fail_next: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)
    # the most products one products.list page holds (Google: "might contain fewer items
    # than specified by pageSize"); tests lower it to page through a few products
    list_page: int = 1000
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        self.currency, self.grants, self.list_page = "USD", 0, 1000
        self.unprocessed.clear()
        for store in (self.inputs, self.local, self.tokens, self.usage, self.writes):
            store.clear()
        self.daily.clear()
        self.minute.clear()
        self.requests.clear()
        self.violations.clear()
        self.fail_next.clear()

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def calls(self, method: str, prefix: str = "") -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == method and r["path"].startswith(prefix)
                and r["path"] != "/token"]  # fmt: skip

    def api_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] != "/token"]

    # --- tokens ---------------------------------------------------------------------------
    def token(self, form: dict[str, str]) -> Answer:
        grant = form.get("grant_type")
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            from google.auth import jwt

            try:
                claims = jwt.decode(form.get("assertion", ""), certs=_public_pem(),
                                    audience=[self.token_uri, GOOGLE_TOKEN_URI])  # fmt: skip
            except ValueError as exc:
                return 400, {"error": "invalid_grant", "error_description": f"Invalid JWT: {exc}"}
            if claims.get("iss") != SA_EMAIL or SCOPE not in str(claims.get("scope")).split():
                return 400, {"error": "invalid_scope", "error_description": "bad iss or scope"}
        elif grant == "refresh_token":
            sent = (form.get("refresh_token"), form.get("client_id"), form.get("client_secret"))
            if sent != (REFRESH_TOKEN, CLIENT_ID, CLIENT_SECRET):
                return 400, {"error": "invalid_grant", "error_description": "Bad Request"}
        else:
            return 400, {"error": "unsupported_grant_type"}
        self.grants += 1
        token = f"ya29.TEST-access-{self.grants}-{int(time.time() * 1000) % 100000}"
        self.tokens[token] = time.time() + 3600
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    # --- products -------------------------------------------------------------------------
    @staticmethod
    def decode(segment: str) -> str:
        segment = unquote(segment)
        if "~" in segment:
            return segment
        try:
            return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)).decode()
        except ValueError:
            return segment

    def product(self, pid: str) -> dict[str, Any] | None:
        """The processed product: the input, with the issues Google would report (none yet
        for an input Google has not processed)."""
        given = self.inputs.get(pid)
        if given is None or pid in self.unprocessed:
            return None
        attrs = given.get("productAttributes") or {}
        issues = [
            {"code": f"missing_{name}", "attribute": name, "severity": "DISAPPROVED",
             "description": f"Missing value [{name}]", "reportingContext": "SHOPPING_ADS"}
            for name in ("title", "link", "imageLink", "price") if not attrs.get(name)
        ]  # fmt: skip
        if len(str(attrs.get("title") or "")) > 150:
            issues.append({"code": "title_too_long", "attribute": "title", "severity":
                           "DISAPPROVED", "description": "Title too long"})  # fmt: skip
        return {
            "name": f"accounts/{ACCOUNT}/products/{pid}", "offerId": given["offerId"],
            "contentLanguage": given["contentLanguage"], "feedLabel": given["feedLabel"],
            "dataSource": DATA_SOURCE, "productAttributes": copy.deepcopy(attrs),
            "productStatus": {"itemLevelIssues": issues},
        }  # fmt: skip

    def _prices(self, attrs: dict[str, Any]) -> Answer | None:
        for name in ("price", "salePrice"):
            price = attrs.get(name)
            if not isinstance(price, dict):
                continue
            code = price.get("currencyCode")
            if code not in MINOR_UNITS or code != self.currency:
                return google_error(400, "INVALID_ARGUMENT",
                                    f"[{name}] Invalid currency code {code!r}: the account "
                                    f"sells in {self.currency}")  # fmt: skip
        return None

    def insert(self, query: dict[str, str], body: dict[str, Any]) -> Answer:
        if query.get("dataSource") != DATA_SOURCE:
            return google_error(404, "NOT_FOUND", f"Data source {query.get('dataSource')} "
                                "not found")  # fmt: skip
        if len(body["offerId"]) > 50:
            return google_error(400, "INVALID_ARGUMENT", "[offer_id] Value too long (max 50)")
        refused = self._prices(body.get("productAttributes") or {})
        if refused:
            return refused
        pid = f"{body['contentLanguage']}~{body['feedLabel']}~{body['offerId']}"
        self.inputs[pid] = {**copy.deepcopy(body), "name": f"accounts/{ACCOUNT}/productInputs/"
                            f"{pid}", "product": f"accounts/{ACCOUNT}/products/{pid}"}  # fmt: skip
        self.writes[pid] = self.writes.get(pid, 0) + 1
        return 200, self.inputs[pid]

    def patch(self, pid: str, query: dict[str, str], body: dict[str, Any]) -> Answer:
        if query.get("dataSource") != DATA_SOURCE:
            return google_error(404, "NOT_FOUND", "Data source not found")
        given = self.inputs.get(pid)
        if given is None:
            return google_error(404, "NOT_FOUND", f"Product input {pid} not found")
        attrs = body.get("productAttributes") or {}
        refused = self._prices(attrs)
        if refused:
            return refused
        names = discovery().attribute_names()
        mask = [m for m in query.get("updateMask", "").split(",") if m] or list(attrs)
        unknown = [m for m in mask if m not in names]
        if unknown:
            return google_error(400, "INVALID_ARGUMENT", f"Invalid update mask {unknown}")
        target = given.setdefault("productAttributes", {})
        for name in mask:
            if name in attrs:
                target[name] = copy.deepcopy(attrs[name])
            else:
                target.pop(name, None)
        self.writes[pid] = self.writes.get(pid, 0) + 1
        return 200, given

    def insert_local(self, pid: str, body: dict[str, Any]) -> Answer:
        if pid not in self.inputs or pid in self.unprocessed:
            return google_error(404, "NOT_FOUND", f"Product {pid} not found")
        entry = {**copy.deepcopy(body),
                 "name": f"accounts/{ACCOUNT}/products/{pid}/localInventories/"
                         f"{body['storeCode']}"}  # fmt: skip
        self.local.setdefault(pid, {})[body["storeCode"]] = entry
        return 200, entry

    def list_products(self, query: dict[str, str]) -> Answer:
        """products.list: the processed products in name order, ``pageSize`` (default 25,
        at most 1,000, and at most ``list_page``) a page, ``nextPageToken`` while more follow.
        A token is only good with the same pageSize (Google: the other parameters must
        match the call that gave it)."""
        asked = int(query.get("pageSize") or 25)
        size = max(1, min(asked if asked > 0 else 25, 1000, self.list_page))
        start = 0
        token = query.get("pageToken")
        if token:
            try:
                size_then, start = (int(n) for n in base64.urlsafe_b64decode(token).split(b":"))
            except ValueError:
                return google_error(400, "INVALID_ARGUMENT", "Invalid page token")
            if size_then != size:
                return google_error(400, "INVALID_ARGUMENT", "pageSize must match the call "
                                    "that provided the page token")  # fmt: skip
        products = [p for p in (self.product(pid) for pid in sorted(self.inputs)) if p]
        page = products[start : start + size]
        found: dict[str, Any] = {"products": page}
        if start + size < len(products):
            found["nextPageToken"] = base64.urlsafe_b64encode(
                f"{size}:{start + size}".encode()).decode()  # fmt: skip
        return 200, found

    # --- behind multichan's back (a seller editing in Merchant Center) ---------------------
    def change_behind(
        self, sku: str, *, store_quantity: dict[str, int] | None = None, **attributes: Any
    ) -> None:
        """Set product attributes of ``sku`` as Merchant Center would (``price="9.99"``
        becomes a Price in micros; None removes the attribute) and, per store code,
        the quantity of its local inventory."""
        pid = f"en~US~{sku}"
        with self.lock:
            attrs = self.inputs[pid].setdefault("productAttributes", {})
            for name, value in attributes.items():
                if value is None:
                    attrs.pop(name, None)
                elif name in ("price", "salePrice"):
                    micros = int(Decimal(str(value)) * 1_000_000)
                    attrs[name] = {"amountMicros": str(micros), "currencyCode": self.currency}
                else:
                    attrs[name] = value
            for store, quantity in (store_quantity or {}).items():
                self.local.setdefault(pid, {})[store] = {
                    "name": f"accounts/{ACCOUNT}/products/{pid}/localInventories/{store}",
                    "storeCode": store,
                    "localInventoryAttributes": {
                        "quantity": str(quantity),
                        "availability": "IN_STOCK" if quantity > 0 else "OUT_OF_STOCK",
                    },
                }

    def delete_behind(self, sku: str) -> None:
        """Delete the product of ``sku`` (its input and local inventories)."""
        pid = f"en~US~{sku}"
        with self.lock:
            self.inputs.pop(pid, None)
            self.local.pop(pid, None)

    def quota_groups(self) -> Answer:
        groups = []
        for group, methods in QUOTA_GROUPS.items():
            groups.append({
                "name": f"accounts/{ACCOUNT}/quotas/{group}",
                "quotaUsage": str(self.usage.get(group, 0)),
                "quotaLimit": str(self.daily.get(group, 1_000_000)),
                "quotaMinuteLimit": str(self.minute.get(group, 100_000)),
                "methodDetails": [{"method": m.split("/")[-1], "version": "v1",
                                   "subapi": m.split("/")[0], "path": m} for m in methods],
            })  # fmt: skip
        return 200, {"quotaGroups": groups}

    def _count(self, method_id: str) -> Answer | None:
        path = METHOD_PATHS.get(method_id)
        group = next((g for g, ms in QUOTA_GROUPS.items() if path in ms), None)
        if group is None:
            return None
        if self.usage.get(group, 0) >= self.daily.get(group, 1_000_000):
            return google_error(
                429,
                "RESOURCE_EXHAUSTED",
                f"[quota/daily_limit_exceeded] Daily quota of {group} exceeded",
                "quota/daily_limit_exceeded",
            )
        self.usage[group] = self.usage.get(group, 0) + 1
        return None

    # --- dispatch -------------------------------------------------------------------------
    def answer(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Answer:
        parts = urlsplit(target)
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if path == "/token":
            return self.token({k: v[-1] for k, v in parse_qs(raw.decode()).items()})
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        if self.fail_next:
            status, _, payload = self.fail_next.pop(0)
            return status, payload
        auth = headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ")
        if not auth.startswith("Bearer ") or self.tokens.get(token, 0) < time.time():
            return google_error(401, "UNAUTHENTICATED", "Request had invalid authentication "
                                "credentials. Expected OAuth 2 access token.")  # fmt: skip
        found = discovery().route(method, path)
        if found is None:
            return google_error(404, "NOT_FOUND", f"no method {method} {path}")
        route, args = found
        problems = discovery().check(route, query, body)
        if problems:
            self.violations.append(f"{method} {path}: {'; '.join(problems)}")
            return google_error(400, "INVALID_ARGUMENT", "; ".join(problems))
        if args and args[0] != ACCOUNT:
            return google_error(403, "PERMISSION_DENIED", f"no access to account {args[0]}")
        over = self._count(route.id)
        if over is not None:
            return over
        pid = self.decode(args[1]) if len(args) > 1 else ""
        name = route.id.removeprefix("merchantapi.accounts.")
        if name == "productInputs.insert":
            return self.insert(query, body)
        if name == "productInputs.patch":
            return self.patch(pid, query, body)
        if name == "products.get":
            product = self.product(pid)
            return (200, product) if product else google_error(404, "NOT_FOUND", "not found")
        if name == "products.list":
            return self.list_products(query)
        if name == "products.localInventories.insert":
            return self.insert_local(pid, body)
        if name == "products.localInventories.list":
            return 200, {"localInventories": list(self.local.get(pid, {}).values())}
        if name == "quotas.list":
            return self.quota_groups()
        return google_error(501, "UNIMPLEMENTED", f"{route.id} is not in this double")


def _handler(double: GoogleDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items()}
            with double.lock:
                path = urlsplit(self.path).path
                query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
                entry = {"method": self.command, "path": path, "target": self.path,
                         "query": query, "headers": headers, "raw": raw,
                         "body": _json(raw, path)}  # fmt: skip
                double.requests.append(entry)
                status, payload = double.answer(self.command, self.path, headers, raw)
                entry["status"] = status
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass

        do_GET = do_PATCH = do_DELETE = do_POST

    return Handler


def _json(raw: bytes, path: str) -> Any:
    if not raw or path == "/token":
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


@contextmanager
def serve_double() -> Iterator[GoogleDouble]:
    """A Google double on 127.0.0.1 until the block ends (skips without ../shared's specs)."""
    discovery()
    with serve(GoogleDouble(), _handler) as double:
        yield double
