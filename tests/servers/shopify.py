"""A Shopify Admin GraphQL endpoint (API 2025-01) for channel tests, checked against Shopify's
own published schema (``../shared/specs/shopify/admin_schema_2025-01.json.gz``).

Every request is checked as Shopify checks it, in this order: the access token (401), the
document against the schema (``graphql.validate``), the variables against the operation's
variable definitions (``get_variable_values``, with ``Money``/``Decimal`` required to be decimal
strings), every list in the variables against the 250-item input limit, the query cost against
the 1,000-point single-query limit. A request failing a check gets ``{"errors": [...]}`` worded
like Shopify's and is recorded in ``violations``: tests assert there are none. A valid request
is executed by graphql-core over the in-memory :class:`Shop`, so the answer has exactly the
shape the query selected, plus ``extensions.cost`` (``requestedQueryCost``,
``actualQueryCost``, ``throttleStatus``). Root resolvers are per field, so aliased mutations
(``p0: productVariantsBulkUpdate(...) p1: ...``) run one after the other, each with its own
arguments and userErrors. When the cost bucket holds less than the requested cost the answer
is Shopify's THROTTLED error (HTTP 200): nothing of the request runs, and it is no violation.

Cost, as Shopify documents it: scalar 0, object 1, connection 2 + first x node, mutation 10
(each root field of a mutation document: 100 aliased mutations reach the 1,000-point limit).
The bucket restores ``restore`` points a second by ``clock`` (injectable, so a test's fake
sleep refills it). Fault switches: ``fail_next`` takes HTTP statuses (429 gets Retry-After)
or "reset" (the connection is dropped without an answer), None to answer that request as
usual. ``log`` holds every request.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationType,
    SelectionSetNode,
    build_client_schema,
    execute_sync,
    get_named_type,
    get_operation_ast,
    parse,
    validate,
)
from graphql.execution.values import get_argument_values, get_variable_values

from tests.conftest import SHARED
from tests.servers import JsonHandler, running
from tests.servers.shopify_shop import LOCATION, Shop

SCHEMA_FILE = SHARED / "specs" / "shopify" / "admin_schema_2025-01.json.gz"
API_PATH = "/admin/api/2025-01/graphql.json"
TOKEN = "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"  # what ${SHOPIFY_TOKEN} holds in tests
MAX_INPUT, MAX_COST = 250, 1000
__all__ = [
    "API_PATH",
    "LOCATION",
    "SCHEMA_FILE",
    "TOKEN",
    "Bucket",
    "Clock",
    "ShopifyServer",
    "serve",
]


@functools.cache
def load_schema() -> GraphQLSchema:
    """Shopify's schema, once per process (about 0.3 s); FileNotFoundError when absent."""
    with gzip.open(SCHEMA_FILE, "rt", encoding="utf-8") as fh:
        schema = build_client_schema(json.load(fh)["data"])
    for name in ("Money", "Decimal"):
        schema.get_type(name).parse_value = _decimal_string  # type: ignore[union-attr]
    return schema


def _decimal_string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"a decimal string is required, not {value!r}")
    try:
        Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal") from None
    return value


def _error(message: str, code: str, error: GraphQLError | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"message": message}
    if error is not None and error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error is not None and error.path:
        out["path"] = list(error.path)
    out["extensions"] = {"code": code}
    return out


def largest_list(value: Any) -> int:
    """The length of the longest list anywhere in ``value``."""
    if isinstance(value, dict):
        return max((largest_list(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return max([len(value), *(largest_list(v) for v in value)])
    return 0


def query_cost(schema: GraphQLSchema, doc: Any, op: Any, variables: dict[str, Any]) -> int:
    if op.operation == OperationType.MUTATION:
        return 10 * len(op.selection_set.selections)
    fragments = {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}

    def cost(parent: Any, selections: SelectionSetNode) -> int:
        total = 0
        for sel in selections.selections:
            if isinstance(sel, FragmentSpreadNode):
                frag = fragments[sel.name.value]
                total += cost(schema.get_type(frag.type_condition.name.value), frag.selection_set)
            elif isinstance(sel, InlineFragmentNode):
                cond = sel.type_condition
                total += cost(schema.get_type(cond.name.value) if cond else parent,
                              sel.selection_set)  # fmt: skip
            elif isinstance(sel, FieldNode) and sel.selection_set is not None:
                definition = parent.fields[sel.name.value]
                named = get_named_type(definition.type)
                if not named.name.endswith("Connection"):
                    total += 1 + cost(named, sel.selection_set)
                    continue
                args = get_argument_values(definition, sel, variables)
                size = args.get("first") or args.get("last") or 0
                node = 0
                for inner in sel.selection_set.selections:  # nodes { } or edges { node { } }
                    if isinstance(inner, FieldNode) and inner.name.value in ("nodes", "edges"):
                        node = max(node, cost(named, SelectionSetNode(selections=(inner,))))
                total += 2 + size * node
        return total

    return cost(schema.query_type, op.selection_set)


@dataclass
class Clock:
    """A test's time: it moves only when the channel sleeps, and refills the endpoint's bucket
    when given as its ``clock``."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


@dataclass
class Bucket:
    maximum: float = 2000.0
    restore: float = 100.0
    available: float = 2000.0
    at: float | None = None

    def level(self, now: float) -> float:
        if self.at is not None:
            self.available = min(self.maximum, self.available + (now - self.at) * self.restore)
        self.at = now
        return self.available

    def status(self) -> dict[str, float]:
        return {"maximumAvailable": self.maximum, "currentlyAvailable": self.available,
                "restoreRate": self.restore}  # fmt: skip


@dataclass
class ShopifyServer:
    url: str = ""
    shop: Shop = field(default_factory=Shop)
    bucket: Bucket = field(default_factory=Bucket)
    clock: Callable[[], float] = time.monotonic
    log: list[dict[str, Any]] = field(default_factory=list)
    violations: list[dict[str, Any]] = field(default_factory=list)
    fail_next: list[int | str | None] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(
        self,
        *,
        maximum: float = 2000.0,
        restore: float = 100.0,
        available: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """An empty shop, a bucket of ``maximum`` points (``available`` of them free)."""
        self.shop = Shop()
        available = maximum if available is None else available
        self.bucket = Bucket(maximum, restore, available)
        self.clock = clock or time.monotonic
        self.log.clear()
        self.violations.clear()
        self.fail_next.clear()  # fmt: skip

    def calls(self, root_field: str) -> list[dict[str, Any]]:
        """Logged requests that ran ``root_field`` (not refused, not throttled)."""
        return [e for e in self.log if root_field in e["fields"] and e["outcome"] == "ok"]

    def answer(self, token: str | None, raw: bytes) -> tuple[int, Any]:
        with self.lock:
            entry: dict[str, Any] = {"fields": [], "outcome": "ok", "largest_list": 0}
            self.log.append(entry)
            status, body = self._answer(token, raw, entry)
            entry["status"], entry["response"] = status, body
            return status, body

    def _refuse(self, entry: dict[str, Any], errors: list[dict[str, Any]]) -> tuple[int, Any]:
        entry["outcome"] = "violation"
        self.violations.append({"operation": entry.get("operation"), "errors": errors,
                                "query": entry.get("query")})  # fmt: skip
        return 200, {"errors": errors}

    def _answer(self, token: str | None, raw: bytes, entry: dict[str, Any]) -> tuple[int, Any]:
        if token != TOKEN:
            entry["outcome"] = "unauthorized"
            return 401, {"errors": "[API] Invalid API key or access token (unrecognized login "
                         "or wrong password)"}  # fmt: skip
        try:
            request = json.loads(raw)
            query, variables = request["query"], request.get("variables") or {}
            entry.update(query=query, variables=variables, operation=request.get("operationName"))
            doc = parse(query)
        except (ValueError, KeyError, TypeError) as exc:
            return self._refuse(entry, [_error(f"Bad request body: {exc}", "BAD_REQUEST")])
        except GraphQLError as exc:
            return self._refuse(entry, [_error(exc.message, "PARSE_ERROR", exc)])
        schema = load_schema()
        invalid = validate(schema, doc)
        if invalid:
            return self._refuse(entry, [_error(e.message, "GRAPHQL_VALIDATION_FAILED", e)
                                        for e in invalid])  # fmt: skip
        op = get_operation_ast(doc, request.get("operationName"))
        if op is None:
            return self._refuse(entry, [_error("No operation to run", "OPERATION_NOT_FOUND")])
        entry["fields"] = [s.name.value for s in op.selection_set.selections
                           if isinstance(s, FieldNode)]  # fmt: skip
        coerced = get_variable_values(schema, op.variable_definitions or (), variables)
        if isinstance(coerced, list):
            return self._refuse(entry, [_error(e.message, "INVALID_VARIABLE", e) for e in coerced])
        entry["largest_list"] = largest_list(coerced)
        if entry["largest_list"] > MAX_INPUT:
            message = (f"The input array size of {entry['largest_list']} is greater than the "
                       f"maximum allowed of {MAX_INPUT}.")  # fmt: skip
            return self._refuse(entry, [_error(message, "MAX_INPUT_SIZE_EXCEEDED")])
        cost = entry["cost"] = query_cost(schema, doc, op, coerced)
        if cost > MAX_COST:
            message = (f"Query cost is {cost}, which exceeds the single query max cost limit "
                       f"({MAX_COST}).")  # fmt: skip
            return self._refuse(entry, [_error(message, "MAX_COST_EXCEEDED")])
        extensions: dict[str, Any] = {"requestedQueryCost": cost, "actualQueryCost": None}
        if self.bucket.level(self.clock()) < cost - 1e-6:  # a float's noise is no shortage
            entry["outcome"] = "throttled"
            extensions["throttleStatus"] = self.bucket.status()
            error = {
                "message": "Throttled",
                "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits",
                },
            }
            return 200, {"errors": [error], "extensions": {"cost": extensions}}  # fmt: skip
        result = execute_sync(schema, doc, root_value=self.shop.root(), variable_values=variables,
                              operation_name=request.get("operationName"))  # fmt: skip
        self.bucket.available -= cost
        extensions.update(actualQueryCost=cost, throttleStatus=self.bucket.status())
        body: dict[str, Any] = {"data": result.data, "extensions": {"cost": extensions}}
        if result.errors:  # a field this test shop does not model, or a Shopify query error
            body["errors"] = [_error(e.message, "INTERNAL_SERVER_ERROR", e) for e in result.errors]
            self._refuse(entry, body["errors"])
        return 200, body


def _handler(server: ShopifyServer) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            fault = server.fail_next.pop(0) if server.fail_next else None  # None: answer
            if fault is not None:
                server.log.append({"fields": [], "outcome": f"fault {fault}", "largest_list": 0})
                if fault == "reset":
                    self.close_connection = True
                    return  # no answer at all: the client sees the connection dropped
                headers = {"Retry-After": "2.0"} if fault == 429 else {}
                return self._send(int(fault), {"errors": "Exceeded limit" if fault == 429
                                               else "Service Unavailable"}, headers)  # fmt: skip
            if self.path != API_PATH:
                return self._send(404, {"errors": "Not Found"})
            status, body = server.answer(self.headers.get("X-Shopify-Access-Token"), raw)
            self._send(status, body)

    return Handler


@contextlib.contextmanager
def serve() -> Iterator[ShopifyServer]:
    """The endpoint on 127.0.0.1 (a free port) for the duration of the block."""
    load_schema()
    state = ShopifyServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    with running(httpd) as url:
        state.url = url
        yield state
