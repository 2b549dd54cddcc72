"""The generic CSV importer, through the CLI: columns, stock per location, bad rows."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli

HEADER = (
    "sku,title,description,brand,gtin,mpn,price,sale_price,currency,quantity,link,"
    "image_link,condition,product_type,item_group_id,color,size,status\n"
)


def show(ws: Path, sku: str) -> dict:
    result = run_cli("-w", ws, "catalog", "show", sku, "--json")
    assert result.code == 0, result.output
    return json.loads(result.stdout)


def test_generic_csv_imports_every_documented_column(workspace: Path, tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    path.write_text(
        HEADER + 'TEE-S,"Tee, organic ""soft""","<p>Line one\nline two</p>",Acme,4006381333931,'
        'M-1,"1,299.00",,eur,7,https://x.example/tee,https://x.example/tee.jpg,new,'
        "Apparel > Shirts,TEE,Black,S,active\n"
        + "MUG,Mug,,Acme,,,9.5,7.25,USD,,,,used,,,,,draft\n",
        encoding="utf-8-sig",
    )
    result = run_cli("-w", workspace, "import", "csv", path)
    assert result.code == 0, result.output
    assert "2 added" in result.stdout
    tee = show(workspace, "TEE-S")
    assert tee["title"] == 'Tee, organic "soft"'
    assert tee["description"] == "<p>Line one\nline two</p>"
    assert tee["price"] == "1299.00" and tee["sale_price"] is None
    assert tee["currency"] == "EUR"
    assert tee["stock"] == {"default": 7}
    assert tee["images"] == ["https://x.example/tee.jpg"]
    assert (tee["item_group_id"], tee["color"], tee["size"]) == ("TEE", "Black", "S")
    mug = show(workspace, "MUG")
    assert (mug["price"], mug["sale_price"], mug["status"], mug["condition"]) == (
        "9.50",
        "7.25",
        "draft",
        "used",
    )


def test_quantity_columns_per_location_and_idempotent_reimport(
    workspace: Path, tmp_path: Path
) -> None:
    path = tmp_path / "stock.csv"
    path.write_text(
        "sku,title,price,quantity:store,quantity:warehouse\nA,Alpha,10,2,5\nB,Beta,20,0,\n",
        encoding="utf-8",
    )
    assert run_cli("-w", workspace, "import", "csv", path).code == 0
    assert show(workspace, "A")["stock"] == {"store": 2, "warehouse": 5}
    assert show(workspace, "A")["quantity"] == 7
    assert show(workspace, "B")["stock"] == {"store": 0}
    again = run_cli("-w", workspace, "import", "csv", path)
    assert "0 added, 0 changed, 2 unchanged" in again.stdout
    path.write_text(
        "sku,title,price,quantity:store,quantity:warehouse\nA,Alpha,12,2,4\nB,Beta,20,0,\n",
        encoding="utf-8",
    )
    dry = run_cli("-w", workspace, "import", "csv", path, "--dry-run")
    assert dry.code == 0
    assert "~ A: price, quantity:warehouse" in dry.stdout
    assert show(workspace, "A")["price"] == "10.00"  # dry run wrote nothing


def test_bad_rows_are_reported_and_good_rows_still_imported(
    workspace: Path, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "sku,title,price,quantity\n"
        "OK-1,Fine,5,1\n"
        ",No sku,5,1\n"
        "NO-PRICE,No price,,1\n"
        '"MULTI","Title with\na newline",abc,1\n'
        "OK-1,Duplicate,6,1\n"
        "HALF,Half a unit,5,1.5\n"
        "OK-2,Fine too,5,\n",
        encoding="utf-8",
    )
    result = run_cli("-w", workspace, "import", "csv", path)
    assert result.code == 4
    assert "2 added" in result.stdout
    for fragment in (
        "bad.csv:3 SKU (none): sku is empty",
        "bad.csv:4 SKU NO-PRICE: price is empty",
        "bad.csv:5 SKU MULTI: price: not an amount",
        "bad.csv:7 SKU OK-1: SKU appears twice",
        "bad.csv:8 SKU HALF: quantity '1.5' is not a whole number",
    ):
        assert fragment in result.stderr, result.stderr
    listed = json.loads(run_cli("-w", workspace, "catalog", "list", "--json").stdout)
    assert [p["sku"] for p in listed] == ["OK-1", "OK-2"]


def test_wrong_format_and_encoding_get_one_clear_line(workspace: Path, tmp_path: Path) -> None:
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("sku,title,price\nA,Crème brûlée,5\n".encode("latin-1"))
    result = run_cli("-w", workspace, "import", "csv", latin)
    assert result.code == 2  # the whole file is unusable: not "some rows rejected" (4)
    assert "is not UTF-8" in result.stderr and "Traceback" not in result.output
    other = tmp_path / "other.csv"
    other.write_text("name,cost\nA,5\n", encoding="utf-8")
    result = run_cli("-w", workspace, "import", "csv", other)
    assert "not a generic multichan CSV file: missing column(s) price, sku, title" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    missing = run_cli("-w", workspace, "import", "csv", tmp_path / "nope.csv")
    assert missing.code == 2 and "cannot read" in missing.stderr


def test_odd_quantities_are_rejected_rows_not_a_crash(workspace: Path, tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text(
        "sku,title,price,quantity\nN,Nan,5,nan\nI,Inf,5,inf\nB,Big,5,99999999999999999999\n"
        "S,Spreadsheet,5,12.0\n",
        encoding="utf-8",
    )
    result = run_cli("-w", workspace, "import", "csv", path)
    assert result.code == 4, result.output
    assert "SKU N: quantity 'nan' is not a number" in result.stderr
    assert "SKU I: quantity 'inf' is not a number" in result.stderr
    assert "SKU B: quantity '99999999999999999999' is out of range" in result.stderr
    assert show(workspace, "S")["stock"] == {"default": 12}


def test_files_without_a_currency_take_the_shops(workspace: Path, tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("sku,title,price\nA,Alpha,5\n", encoding="utf-8")
    assert run_cli("-w", workspace, "import", "csv", path, "--currency", "eur").code == 0
    assert show(workspace, "A")["currency"] == "EUR"
    woo = Path(__file__).parents[1] / "data" / "woocommerce" / "variable_product.csv"
    assert run_cli("-w", workspace, "import", "woocommerce", woo, "--currency", "PLN").code == 0
    listed = json.loads(run_cli("-w", workspace, "catalog", "list", "--json").stdout)
    assert {p["currency"] for p in listed if p["sku"] != "A"} == {"PLN"}
