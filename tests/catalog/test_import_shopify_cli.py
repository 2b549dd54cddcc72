"""Importing Shopify product exports: files that are not Shopify product exports (refused with a
clear message), and ``multichan import shopify`` on the command line (exit codes, the summary,
rejected rows on stderr, ``--json --dry-run``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlite_utils

from multichan.catalog.importers import run
from multichan.catalog.schema import open_catalog
from multichan.cli import main
from multichan.errors import InputError
from tests.catalog import shopify_conftest as fx
from tests.catalog.shopify_conftest import CLASSIC, CLEAN, MESSY, skus

db = fx.db


# -- files that are not Shopify product exports -----------------------------------------------


def test_latin1_file_is_refused_with_a_clear_message(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes((CLASSIC + "\ncamisa,Camisa Señor,,,,,,,,C-1,1,10,,,\n").encode("latin-1"))

    with pytest.raises(InputError) as exc:
        run(db, "shopify", path)
    assert "is not UTF-8 (invalid byte at line 2)" in exc.value.message
    assert "CSV UTF-8" in exc.value.message
    assert skus(db) == []


def test_woocommerce_export_is_not_a_shopify_export(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    path = tmp_path / "wc-product-export.csv"
    path.write_text(
        "ID,Type,SKU,Name,Published,Short description,Description,Regular price,Sale price,"
        "Stock,Categories,Images\n"
        '12,simple,WC-1,Mug,1,,"<p>Mug</p>",10,,5,Kitchen,https://example.com/m.jpg\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError) as exc:
        run(db, "shopify", path)
    assert "is not a Shopify product export" in exc.value.message
    assert "missing column(s) Handle, Title" in exc.value.message
    assert "woocommerce" in (exc.value.hint or "")


def test_random_csv_is_not_a_shopify_export(db: sqlite_utils.Database, tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text("name,email\nAda,ada@example.com\n", encoding="utf-8")

    with pytest.raises(InputError) as exc:
        run(db, "shopify", path)
    assert "is not a Shopify product export" in exc.value.message
    assert "Handle, Title, Variant SKU" in exc.value.message


def test_line_separator_inside_a_title_does_not_split_the_row(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    path = tmp_path / "u2028.csv"
    path.write_text(
        CLASSIC + "\nmug,Mug\u2028with lid,,,,,,,,MUG,1,10,,,\nplate,Plate,,,,,,,,PLATE,1,x,,,\n",
        encoding="utf-8",
    )
    outcome = run(db, "shopify", path)
    assert skus(db) == ["MUG"]
    assert [(r.line, r.sku) for r in outcome.parsed.rejected] == [(3, "PLATE")]


# -- the command line -------------------------------------------------------------------------


def cli(workspace: Path, *args: str) -> int:
    """Run ``multichan -w WORKSPACE ARGS`` the way the console script does; return the code."""
    with pytest.raises(SystemExit) as exc:
        main(["-w", str(workspace), *args])
    return int(exc.value.code or 0)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    root.mkdir()
    open_catalog(root / "catalog.db").close()
    return root


def test_cli_import_reports_rejected_rows_and_exits_4(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli(workspace, "import", "shopify", str(MESSY))
    out, err = capsys.readouterr()

    assert code == 4, err
    assert "6 added, 0 changed, 0 unchanged, 6 rejected" in out
    lines = err.splitlines()
    assert any("messy.csv:7 SKU RU-TEE-M" in line and "not an amount" in line for line in lines)
    assert "rejected messy.csv:12 SKU (none): variant has no SKU" in lines
    assert any("messy.csv:17 SKU PL-KUBEK-01: SKU appears twice" in line for line in lines)
    assert any("line 6 (SKU RU-TEE-S): barcode" in line for line in lines)


def test_cli_clean_import_exits_0(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(workspace, "import", "shopify", str(CLEAN)) == 0
    assert cli(workspace, "import", "shopify", str(CLEAN)) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines()[-1].startswith("0 added, 0 changed, 5 unchanged, 0 rejected")


def test_cli_json_dry_run_lists_rejections_and_writes_nothing(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli(workspace, "import", "shopify", str(MESSY), "--json", "--dry-run")
    out, _ = capsys.readouterr()

    assert code == 4
    summary = json.loads(out)
    assert summary["added"] == 6 and summary["dry_run"] is True
    lamp = {
        "line": 14,
        "sku": "LAMP-OLD",
        "reason": "status 'hidden' is not active, draft or archived",
    }
    assert lamp in summary["rejected"]
    db = open_catalog(workspace / "catalog.db")
    assert skus(db) == []
    db.close()


def test_cli_refuses_a_file_that_is_not_a_shopify_export(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text("name,email\nAda,ada@example.com\n", encoding="utf-8")

    code = cli(workspace, "import", "shopify", str(path))
    _, err = capsys.readouterr()

    assert code == 2
    assert err.startswith("Error: ")
    assert "is not a Shopify product export" in err
