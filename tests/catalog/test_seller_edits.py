"""A seller's own edits survive the next import (issue 14, item 2), through the CLI: `catalog set`
records an edit that every later import of the shop's export leaves alone; the import's summary
and dry run say how many incoming values were held back; `catalog show` marks edited fields
and says what the import brought; `catalog unset` gives the field back to the import."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.conftest import run_cli
from tests.feeds.helpers import jsonl

WOO_HEADER = ["ID", "Type", "SKU", "Name", "Published", "Regular price", "Brands", "In stock?",
              "Stock"]  # fmt: skip


def woo(path: Path, *rows: list[str]) -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([WOO_HEADER, *rows])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def show(ws: Path, sku: str) -> dict:
    result = run_cli("-w", ws, "catalog", "show", sku, "--json")
    assert result.code == 0, result.output
    return json.loads(result.stdout)


def imported(ws: Path, path: Path, *extra: str) -> str:
    result = run_cli("-w", ws, "import", "woocommerce", path, *extra)
    assert result.code == 0, result.output
    return result.stdout


def test_an_edited_brand_survives_every_later_import_and_unset_gives_it_back(
    workspace: Path, tmp_path: Path
) -> None:
    first = woo(tmp_path / "first.csv", ["1", "simple", "MUG", "Mug", "1", "12", "", "1", "4"])
    imported(workspace, first)
    assert show(workspace, "MUG")["brand"] is None  # WooCommerce had no brand for it

    result = run_cli("-w", workspace, "catalog", "set", "MUG", "brand=Northwind")
    assert result.code == 0, result.output
    assert "MUG brand: None -> 'Northwind' (seller edit)" in result.stdout
    table = run_cli("-w", workspace, "catalog", "show", "MUG").stdout
    assert "Seller edit" in table and "before the edit: (empty)" in table

    # the shop's next export: a brand of its own, and a new price
    later = woo(tmp_path / "later.csv",
                ["1", "simple", "MUG", "Mug", "1", "13", "Acme", "1", "4"])  # fmt: skip
    dry = imported(workspace, later, "--dry-run")
    assert "~ MUG: price" in dry.splitlines()  # brand is no change the import would make
    assert "= MUG: brand held back (seller edit)" in dry.splitlines()
    assert "1 incoming value(s) held back by seller edits" in dry
    summary = json.loads(imported(workspace, later, "--dry-run", "--json"))
    assert (summary["changes"], summary["held"], summary["held_back"]) == (
        {"MUG": ["price"]}, {"MUG": ["brand"]}, 1,
    )  # fmt: skip
    assert show(workspace, "MUG")["edits"]["brand"]["imported"] is None  # dry run: nothing kept

    done = imported(workspace, later)
    assert "0 added, 1 changed, 0 unchanged" in done
    assert "1 incoming value(s) held back by seller edits" in done
    mug = show(workspace, "MUG")
    assert (mug["brand"], mug["price"]) == ("Northwind", "13.00")
    edit = mug["edits"]["brand"]
    assert (edit["value"], edit["imported"]) == ("Northwind", "Acme")  # kept, not dropped
    assert edit["imported_at"] and edit["edited_at"]
    assert (
        "the last import brought: 'Acme'"
        in run_cli("-w", workspace, "catalog", "show", "MUG").stdout
    )
    assert jsonl(workspace)["MUG"]["brand"] == "Northwind"  # what every channel is offered

    # the same file again: nothing changes, and the edit still holds the brand back
    again = imported(workspace, later)
    assert "0 added, 0 changed, 1 unchanged" in again and "1 incoming value(s) held" in again

    result = run_cli("-w", workspace, "catalog", "unset", "MUG", "brand")
    assert result.code == 0, result.output
    assert "MUG brand: 'Northwind' -> 'Acme' (imported value)" in result.stdout
    mug = show(workspace, "MUG")
    assert (mug["brand"], mug["edits"]) == ("Acme", {})
    assert "held back" not in imported(workspace, later)


def test_an_import_that_agrees_with_the_edit_holds_nothing_back_and_a_clear_survives(
    workspace: Path, tmp_path: Path
) -> None:
    file = woo(tmp_path / "f.csv", ["1", "simple", "CAP", "Cap", "1", "9", "Acme", "1", "2"])
    imported(workspace, file)
    assert run_cli("-w", workspace, "catalog", "set", "CAP", "brand=", "title=Wool cap").code == 0
    assert show(workspace, "CAP")["brand"] is None  # brand= clears it, as an edit
    renamed = woo(
        tmp_path / "r.csv", ["1", "simple", "CAP", "Wool cap", "1", "9", "Acme", "1", "2"]
    )
    summary = json.loads(imported(workspace, renamed, "--dry-run", "--json"))
    assert summary["held"] == {"CAP": ["brand"]}  # the title agrees with the edit: not held
    assert summary["changes"] == {"CAP": ["handle"]}  # (the slug WooCommerce's name gives)
    assert json.loads(imported(workspace, renamed, "--json"))["held_back"] == 1
    cap = show(workspace, "CAP")
    assert (cap["brand"], cap["title"]) == (None, "Wool cap")
    assert sorted(cap["edits"]) == ["brand", "title"]


def test_price_set_moves_an_edited_price_and_bad_values_are_refused(
    workspace: Path, tmp_path: Path
) -> None:
    file = woo(tmp_path / "f.csv", ["1", "simple", "MUG", "Mug", "1", "12", "", "1", "4"])
    imported(workspace, file)
    assert run_cli("-w", workspace, "catalog", "set", "MUG", "price=20").code == 0
    assert run_cli("-w", workspace, "price", "set", "MUG", "25").code == 0
    imported(workspace, file)
    mug = show(workspace, "MUG")
    assert (mug["price"], mug["edits"]["price"]["value"]) == ("25.00", "25.00")

    for args, words in (
        (["price=abc"], "price: "),
        (["brnad=x"], "'brnad' is not a product field; did you mean 'brand'?"),
        (["title="], "title cannot be empty"),
        (["condition=mint"], "condition 'mint' is not new, refurbished or used"),
        (
            ["stock_tracking=sometimes"],
            "stock_tracking 'sometimes' is not tracked, untracked or continue",
        ),
        (["brand"], "'brand' is not field=value"),
    ):
        result = run_cli("-w", workspace, "catalog", "set", "MUG", *args)
        assert result.code == 2, (args, result.output)
        assert words in result.stderr, (args, result.stderr)
    assert show(workspace, "MUG")["price"] == "25.00"  # a refused set changes nothing

    result = run_cli("-w", workspace, "catalog", "unset", "MUG", "title")
    assert result.code == 2 and "MUG has no seller edit of title (edited fields: price)" in (
        result.stderr)  # fmt: skip
    assert run_cli("-w", workspace, "catalog", "set", "NOPE", "brand=x").code == 2
    result = run_cli("-w", workspace, "catalog", "unset", "MUG", "price")
    assert result.code == 0 and show(workspace, "MUG")["price"] == "12.00"  # the import's
