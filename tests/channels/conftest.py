"""Fixtures for channel tests: the Acme plugin "installed" on a temporary sys.path entry, and a
small Acme Market API server on 127.0.0.1 that records every request it answers.

Installing: pip-installing tests/data/plugin_pkg takes seconds, so the fixture does what pip
leaves behind instead: the plugin's modules plus a ``.dist-info`` folder whose
``entry_points.txt`` is generated from the plugin's own pyproject.toml. The folder goes on
sys.path (``monkeypatch.syspath_prepend`` also invalidates importlib's caches), so
``importlib.metadata.entry_points`` sees the plugin exactly as it would after ``pip install``;
at teardown the path, the imported modules and the registry's cache are removed again.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from multichan.channels import registry
from tests.servers import JsonHandler, running

PLUGIN = Path(__file__).resolve().parents[1] / "data" / "plugin_pkg"
TOKEN = "acme-tok-9f8e7d6c"  # the value of ${ACME_TOKEN}; must never show up anywhere


def install_dist(site: Path, name: str, version: str, entry_points: dict[str, str]) -> None:
    """Write the metadata pip would write for a distribution with these channel entry points."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    lines = [f"{key} = {value}" for key, value in entry_points.items()]
    (info / "entry_points.txt").write_text(
        "[multichan.channels]\n" + "\n".join(lines) + "\n", encoding="utf-8"
    )


@pytest.fixture
def plugin_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """tests/data/plugin_pkg installed into a fresh site folder on sys.path."""
    project = tomllib.loads((PLUGIN / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    site = tmp_path / "site"
    site.mkdir()
    for module in PLUGIN.glob("*.py"):
        shutil.copy(module, site / module.name)
    install_dist(
        site,
        project["name"],
        project["version"],
        project["entry-points"]["multichan.channels"],
    )
    monkeypatch.syspath_prepend(str(site))
    registry.clear_cache()
    yield site
    registry.clear_cache()
    for module in [m for m in sys.modules if m.startswith("acme_multichan")]:
        del sys.modules[module]
    importlib.invalidate_caches()


@dataclass
class AcmeServer:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    listings: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_next: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    busy: dict[str, float] = field(default_factory=dict)  # SKU -> retry_after, answered once
    refuse_stock: set[str] = field(default_factory=set)  # SKUs whose quantity is refused
    # jobs: id -> (operation, items, looks left before it is done); a job is applied when done
    jobs: dict[int, list[Any]] = field(default_factory=dict)
    job_looks: int = 1  # how many GETs of a job answer "running" before it is done
    on_request: Any = None  # called with (method, path) as each request arrives (kill tests)

    def reset(self) -> None:
        self.requests.clear()
        self.listings.clear()
        self.fail_next.clear()
        self.busy.clear()
        self.refuse_stock.clear()
        self.jobs.clear()
        self.job_looks = 1
        self.on_request = None


def _answer(server: AcmeServer, path: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results = []
    for item in items:
        sku = item.get("sku")
        error = None
        if sku in server.busy:
            results.append({"sku": sku, "status": "busy", "retry_after": server.busy.pop(sku)})
            continue
        if path == "/v1/listings/batch":
            if not item.get("title"):
                error = "title: required"
            elif len(item["title"]) > 150:
                error = "title: at most 150 characters"
        elif sku not in server.listings:
            error = f"no listing for SKU {sku}"
        if error is None and "quantity" in item and sku in server.refuse_stock:
            error = "quantity: this listing's stock is managed elsewhere"
        if error is None and "price" in item:
            try:
                if Decimal(item["price"]) <= 0:
                    error = "price: must be above 0.00"
            except InvalidOperation:
                error = "price: not a decimal"
        if error:
            results.append({"sku": sku, "status": "error", "error": error})
            continue
        listing = server.listings.setdefault(sku, {"listing_id": f"AM-{len(server.listings) + 1}"})
        listing.update({k: v for k, v in item.items() if k != "sku"})
        results.append({"sku": sku, "status": "ok", "listing_id": listing["listing_id"]})
    return results


JOB_ROUTES = {
    "listings": "/v1/listings/batch",
    "prices": "/v1/prices/batch",
    "quantities": "/v1/inventory/batch",
}


def _handler(server: AcmeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            server.requests.append(
                {"method": method, "path": self.path, "headers": dict(self.headers), "body": body}
            )
            if server.on_request is not None:
                server.on_request(method, self.path)
            if server.fail_next:
                status, headers = server.fail_next.pop(0)
                return self._send(status, {"error": "induced"}, headers)
            if self.headers.get("X-Acme-Token") != TOKEN:
                return self._send(401, {"error": "bad token"})
            path, _, query = self.path.partition("?")
            if method == "GET" and path == "/v1/listings":
                asked = parse_qs(query)
                if "skus" not in asked:  # every listing, a page at a time
                    start, size = int(asked["offset"][0]), min(int(asked["limit"][0]), 100)
                    skus = sorted(server.listings)[start : start + size]
                    more = start + size < len(server.listings)
                    rows = [{"sku": s, **server.listings[s]} for s in skus]
                    page = {"listings": rows, "next_offset": start + size if more else None}
                    return self._send(200, page)
                skus = asked.get("skus", [""])[0].split(",")
                rows = [{"sku": s, **server.listings[s]} for s in skus if s in server.listings]
                return self._send(200, {"listings": rows})
            if method == "POST" and path.endswith("/batch"):
                items = (body or {}).get("items", [])
                return self._send(200, {"results": _answer(server, path, items)})
            if method == "POST" and path == "/v1/jobs":
                job_id = len(server.jobs) + 1
                route = JOB_ROUTES[(body or {})["operation"]]
                server.jobs[job_id] = [route, (body or {})["items"], server.job_looks, None]
                return self._send(202, {"job_id": job_id})
            if method == "GET" and path.startswith("/v1/jobs/"):
                job = server.jobs.get(int(path.rsplit("/", 1)[1]))
                if job is None:
                    return self._send(404, {"error": "no such job"})
                if job[2] > 0:
                    job[2] -= 1
                    return self._send(200, {"status": "running"})
                if job[3] is None:  # done: applied once, its results kept
                    job[3] = _answer(server, job[0], job[1])
                return self._send(200, {"status": "done", "results": job[3]})
            return self._send(404, {"error": f"no route {method} {path}"})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

    return Handler


@contextmanager
def serve_acme() -> Iterator[AcmeServer]:
    """The Acme API on 127.0.0.1 until the block ends (tests/conftest.py's ``shared_acme``
    starts it once per session)."""
    state = AcmeServer(url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    with running(httpd) as url:
        state.url = url
        yield state


@pytest.fixture
def acme_server(shared_acme: AcmeServer, monkeypatch: pytest.MonkeyPatch) -> AcmeServer:
    """The Acme API, emptied for this test, with ``ACME_TOKEN`` set to the token it accepts."""
    shared_acme.reset()
    monkeypatch.setenv("ACME_TOKEN", TOKEN)
    return shared_acme
