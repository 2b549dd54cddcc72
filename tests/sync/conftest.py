"""Fixtures for push tests: the demo catalog with one Acme Market channel, the Acme plugin
installed and its recording server running, and the sync commands on the CLI."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from multichan.sync.push import Pacing
from tests.channels.conftest import (  # noqa: F401  (fixtures used by the sync tests)
    AcmeServer,
    acme_server,  # function-scoped; the server behind it is tests/conftest.py's shared_acme
    plugin_site,
)
from tests.conftest import run_cli, write_config

ACME = """
shop:
  link_template: "https://shop.example.com/products/{{handle}}"
channels:
  acme:
    type: acme_market
    settings:
      base_url: {url}
      api_token: ${{ACME_TOKEN}}
"""


@dataclass
class Shop:
    """A demo workspace pushing to the Acme test server."""

    root: Path
    server: AcmeServer

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.root / "catalog.db")

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> None:
        with self.db() as conn:
            conn.execute(query, params)

    def skus(self) -> list[str]:
        query = "SELECT sku FROM products WHERE status = 'active' ORDER BY sku"
        return [r[0] for r in self.db().execute(query)]

    def paths(self) -> list[str]:
        return [r["path"] for r in self.server.requests]

    def cli(self, *args: str) -> Any:
        return run_cli("--workspace", self.root, *args)


@dataclass
class FakeTime:
    """A clock that only moves when the engine sleeps."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def pacing(self, max_retries: int = 3) -> Pacing:
        import random

        return Pacing(
            clock=lambda: self.now, sleep=self.sleep, rng=random.Random(7), max_retries=max_retries
        )


@pytest.fixture
def shop(demo: Path, plugin_site: Path, acme_server: AcmeServer) -> Shop:  # noqa: F811
    write_config(demo, ACME.format(url=acme_server.url))
    return Shop(demo, acme_server)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()
