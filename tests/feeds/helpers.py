"""What the feed tests share: writing channels.yaml, poking the catalog with SQL, reading it
back through the CLI."""

from __future__ import annotations

import json
import sqlite3
import textwrap
from pathlib import Path
from typing import Any

from tests.conftest import run_cli, write_config

SHOP = """\
version: 1
shop:
  name: Test Shop
  url: https://shop.example.com
  currency: USD
  country: US
  language: en
"""


def configure(ws: Path, channels: str, defaults: str = "", shop: str = SHOP) -> None:
    """Write channels.yaml: the test shop, optional defaults, then the given channels."""
    body = textwrap.indent(textwrap.dedent(channels).strip("\n"), "  ")
    write_config(ws, shop + textwrap.dedent(defaults) + "channels:\n" + body + "\n")


def sql(ws: Path, statement: str, *params: Any) -> None:
    con = sqlite3.connect(ws / "catalog.db")
    try:
        with con:
            con.execute(statement, params)
    finally:
        con.close()


def show(ws: Path, sku: str) -> dict[str, Any]:
    result = run_cli("-w", ws, "catalog", "show", sku, "--json")
    assert result.code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def catalog(ws: Path) -> dict[str, dict[str, Any]]:
    result = run_cli("-w", ws, "catalog", "list", "--json")
    assert result.code == 0, result.output
    return {row["sku"]: row for row in json.loads(result.stdout)}
