"""What the feed tests share: writing channels.yaml, poking the catalog with SQL, reading it
back through the CLI, exporting, and reading the exported feeds and the export records back."""

from __future__ import annotations

import json
import sqlite3
import textwrap
import xml.etree.ElementTree as ET
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

G = "{http://base.google.com/ns/1.0}"


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


def export(ws: Path, *channels: str, code: int = 0) -> str:
    result = run_cli("-w", ws, "export", *channels)
    assert result.code == code, result.output
    return result.output


def jsonl(ws: Path, rules: str = "", *, name: str = "j", defaults: str = "") -> dict[str, dict]:
    """Export one JSON Lines channel with ``rules`` (YAML under the channel) -> offers by SKU."""
    configure(
        ws,
        f"{name}:\n  type: jsonl\n  output: feeds/{name}.jsonl\n"
        + textwrap.indent(textwrap.dedent(rules), "  "),
        defaults,
    )
    export(ws, name)
    lines = (ws / "feeds" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    offers = [json.loads(line) for line in lines]
    return {o["sku"]: o for o in offers}


def google_items(path: Path) -> dict[str, dict[str, str]]:
    root = ET.parse(path).getroot()
    items = {}
    for item in root.iter("item"):
        fields = {child.tag.removeprefix(G): child.text or "" for child in item}
        items[fields["id"]] = fields
    return items


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def exports_json(ws: Path) -> list[dict[str, Any]]:
    result = run_cli("-w", ws, "exports", "--json")
    assert result.code == 0, result.output
    return json.loads(result.stdout)
