"""A catalog whose text cells hold bytes that are not UTF-8, written by another tool (issue 15,
item 7), through the CLI: every command that reads them names the table, the row's SKU and the
column with exit 3, never a traceback; `catalog check` lists every such cell as a problem (exit
4) and still checks the rest; `catalog set` and a new import repair them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.feeds.helpers import SHOP, write_config

LATIN1_TITLE = "436166E9206372E86D65"  # "Café crème" in Latin-1: not UTF-8
BAD_URL = "68747470733A2F2F782E6578616D706C652F63E92E6A7067"  # https://x.example/c\xe9.jpg


def spoil(ws: Path) -> None:
    """What another tool does: bytes stored as TEXT, no decoding anywhere."""
    con = sqlite3.connect(ws / "catalog.db")
    with con:
        con.execute(
            f"UPDATE products SET title = CAST(X'{LATIN1_TITLE}' AS TEXT) WHERE sku = 'TARP-3X3'"
        )
        con.execute(
            f"UPDATE images SET url = CAST(X'{BAD_URL}' AS TEXT) "
            "WHERE sku = 'MUG-ENAMEL' AND position = 1"
        )
    con.close()


API_SHOP = (
    SHOP
    + """\
channels:
  shop: {type: shopify, settings: {base_url: "https://x.myshopify.com", token: "${T}",
         location_id: "1"}}
"""
)


@pytest.mark.parametrize(
    "args",
    [["catalog", "list"], ["catalog", "show", "TARP-3X3"], ["export", "google"],
     ["catalog", "list", "--json"], ["plan"]],
    ids=lambda a: " ".join(a),
)  # fmt: skip
def test_commands_that_read_text_name_the_cell_with_exit_3(demo: Path, args: list[str]) -> None:
    spoil(demo)
    if args == ["plan"]:
        write_config(demo, API_SHOP)
    result = run_cli("-w", demo, *args, env={"T": "shpat_test"})
    assert result.code == 3, result.output
    assert "unexpected" not in result.output and "Traceback" not in result.output
    assert (
        "catalog.db holds text that is not UTF-8, written by another tool: table products, "
        "SKU 'TARP-3X3', column title: 'Caf\\xe9 cr\\xe8me'"
    ) in result.stderr
    assert "multichan catalog set TARP-3X3 title=..." in result.stderr
    assert "'multichan catalog check' lists every such cell" in result.stderr
    if "--json" in args:
        assert json.loads(result.stdout)["exit_code"] == 3


def test_catalog_check_lists_every_cell_and_checks_the_rest(demo: Path) -> None:
    before = json.loads(run_cli("-w", demo, "catalog", "check", "--json").stdout)["problems"]
    spoil(demo)
    result = run_cli("-w", demo, "catalog", "check", "--json")
    assert result.code == 4, result.output
    problems = json.loads(result.stdout)["problems"]
    bad = [p for p in problems if "not UTF-8" in p["problem"]]
    assert [(p["sku"], p["field"]) for p in bad] == [("TARP-3X3", "title"), ("MUG-ENAMEL", "url")]
    assert bad[0]["problem"].startswith(
        "table products, column title is not UTF-8 text ('Caf\\xe9 cr\\xe8me'), written by "
        "another tool: import the SKU again, or set it with"
    )
    assert bad[1]["problem"].startswith(
        "table images (MUG-ENAMEL, 1), column url is not UTF-8 text "
        "('https://x.example/c\\xe9.jpg')"
    )
    assert [p for p in problems if p not in bad] == before  # the other checks still ran
    table = run_cli("-w", demo, "catalog", "check")
    assert table.code == 4 and "TARP-3X3" in table.stdout and "not UTF-8" in table.stdout


def test_catalog_set_and_an_import_repair_the_cells(demo: Path, tmp_path: Path) -> None:
    spoil(demo)
    result = run_cli("-w", demo, "catalog", "set", "TARP-3X3", "title=Café crème tarp")
    assert result.code == 0, result.output
    assert run_cli("-w", demo, "catalog", "list").code == 0
    shown = json.loads(run_cli("-w", demo, "catalog", "show", "TARP-3X3", "--json").stdout)
    assert shown["title"] == "Café crème tarp"

    con = sqlite3.connect(demo / "catalog.db")
    with con:
        con.execute(
            f"UPDATE products SET brand = CAST(X'{LATIN1_TITLE}' AS TEXT) WHERE sku = 'SEAT-PAD'"
        )
    con.close()
    fixed = tmp_path / "fix.csv"
    fixed.write_text("sku,title,price,brand\nSEAT-PAD,Seat pad,20,Northwind\n", encoding="utf-8")
    result = run_cli("-w", demo, "import", "csv", fixed)
    assert result.code == 0, result.output
    shown = json.loads(run_cli("-w", demo, "catalog", "show", "SEAT-PAD", "--json").stdout)
    assert shown["brand"] == "Northwind"
    remaining = json.loads(run_cli("-w", demo, "catalog", "check", "--json").stdout)["problems"]
    assert [p["sku"] for p in remaining if "not UTF-8" in p["problem"]] == ["MUG-ENAMEL"]


def test_a_bad_override_is_named_with_its_channel(demo: Path) -> None:
    con = sqlite3.connect(demo / "catalog.db")
    with con:
        con.execute(
            "INSERT INTO overrides (channel, sku, title) "
            f"VALUES ('google', 'MUG-ENAMEL', CAST(X'{LATIN1_TITLE}' AS TEXT))"
        )
    con.close()
    result = run_cli("-w", demo, "export", "google")
    assert result.code == 3, result.output
    assert (
        "table overrides, SKU 'MUG-ENAMEL', channel 'google', column title: 'Caf\\xe9 cr\\xe8me'"
    ) in result.stderr
    assert "correct it in the overrides table" in result.stderr
    assert run_cli("-w", demo, "catalog", "list").code == 0  # it reads no overrides
