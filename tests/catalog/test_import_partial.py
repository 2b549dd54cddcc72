"""Imports never lose or hide a seller's data, through the CLI: a file with only some columns
leaves the other fields alone (each importer), and the dry run says which; prices with too many
decimals say what is wrong; SKUs a channel could not use are rejected; control characters are
not stored."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from multichan.catalog.importers import FORMATS, base, parse
from tests.conftest import run_cli


def show(ws: Path, sku: str) -> dict:
    result = run_cli("-w", ws, "catalog", "show", sku, "--json")
    assert result.code == 0, result.output
    return json.loads(result.stdout)


def write(path: Path, rows: list[list[str]]) -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def left_alone(stdout: str) -> list[str]:
    lines = [line for line in stdout.splitlines() if line.startswith("left alone")]
    assert len(lines) == 1, stdout
    assert lines[0].startswith("left alone (not in this file): ")
    return lines[0].split(": ", 1)[1].split(", ")


def kept(product: dict, expected: dict) -> dict:
    return {k: product[k] for k in expected}


# -- item 1: absent columns leave the catalog alone, for every importer -----------------------

GENERIC_FULL = [
    ["sku", "title", "description", "brand", "gtin", "price", "sale_price", "currency",
     "weight_grams", "condition", "status", "tags", "image_link", "quantity"],
    ["CAM-1", "Camera", "<p>Old but gold</p>", "Leica", "4006381333931", "900", "850", "EUR",
     "620", "used", "draft", "vintage", "https://x.example/cam.jpg", "2"],
]  # fmt: skip
GENERIC_KEPT = {
    "description": "<p>Old but gold</p>", "brand": "Leica", "gtin": "4006381333931",
    "sale_price": "850.00", "currency": "EUR", "weight_grams": 620, "condition": "used",
    "status": "draft", "tags": "vintage", "images": ["https://x.example/cam.jpg"],
    "stock": {"default": 2},
}  # fmt: skip


def test_generic_partial_csv_leaves_absent_columns_alone(workspace: Path, tmp_path: Path) -> None:
    full = write(tmp_path / "full.csv", GENERIC_FULL)
    assert run_cli("-w", workspace, "import", "csv", full).code == 0
    partial = write(
        tmp_path / "prices.csv", [["sku", "title", "price"], ["CAM-1", "Camera", "950"]]
    )

    dry = run_cli("-w", workspace, "import", "csv", partial, "--dry-run")
    assert dry.code == 0, dry.output
    assert "~ CAM-1: price" in dry.stdout.splitlines()
    absent = left_alone(dry.stdout)
    for name in ("gtin", "sale_price", "weight_grams", "condition", "status", "currency"):
        assert name in absent
    assert {"images", "quantity"} <= set(absent)
    assert "title" not in absent and "price" not in absent
    summary = json.loads(
        run_cli("-w", workspace, "import", "csv", partial, "--dry-run", "--json").stdout
    )
    assert summary["changes"] == {"CAM-1": ["price"]}
    assert summary["left_alone"] == absent

    result = run_cli("-w", workspace, "import", "csv", partial)
    assert result.code == 0, result.output
    assert "0 added, 1 changed, 0 unchanged" in result.stdout
    camera = show(workspace, "CAM-1")
    assert camera["price"] == "950.00"
    assert kept(camera, GENERIC_KEPT) == GENERIC_KEPT


def test_generic_empty_cell_still_clears_and_new_skus_get_defaults(
    workspace: Path, tmp_path: Path
) -> None:
    assert (
        run_cli("-w", workspace, "import", "csv", write(tmp_path / "f.csv", GENERIC_FULL)).code == 0
    )
    cleared = write(
        tmp_path / "clear.csv",
        [["sku", "title", "price", "gtin", "sale_price", "condition", "status"],
         ["CAM-1", "Camera", "900", "", "", "", ""],
         ["NEW-1", "New thing", "5", "", "", "", ""]],
    )  # fmt: skip
    dry = run_cli("-w", workspace, "import", "csv", cleared, "--dry-run")
    assert "~ CAM-1: sale_price, gtin, condition, status" in dry.stdout
    assert "gtin" not in left_alone(dry.stdout)
    assert run_cli("-w", workspace, "import", "csv", cleared).code == 0
    camera = show(workspace, "CAM-1")
    assert (camera["gtin"], camera["sale_price"], camera["condition"], camera["status"]) == (
        None, None, "new", "active",
    )  # fmt: skip
    assert (camera["brand"], camera["weight_grams"], camera["currency"]) == ("Leica", 620, "EUR")
    new = show(workspace, "NEW-1")
    assert (new["condition"], new["status"], new["currency"]) == ("new", "active", "USD")


def test_currency_is_left_alone_unless_the_file_or_the_command_names_one(
    workspace: Path, tmp_path: Path
) -> None:
    assert (
        run_cli("-w", workspace, "import", "csv", write(tmp_path / "f.csv", GENERIC_FULL)).code == 0
    )
    partial = write(tmp_path / "p.csv", [["sku", "title", "price"], ["CAM-1", "Camera", "900"]])
    assert run_cli("-w", workspace, "import", "csv", partial).code == 0
    assert show(workspace, "CAM-1")["currency"] == "EUR"  # not the shop's USD
    given = run_cli("-w", workspace, "import", "csv", partial, "--currency", "pln", "--dry-run")
    assert "~ CAM-1: currency" in given.stdout and "currency" not in left_alone(given.stdout)
    assert run_cli("-w", workspace, "import", "csv", partial, "--currency", "pln").code == 0
    assert show(workspace, "CAM-1")["currency"] == "PLN"


SHOPIFY_HEADER = [
    "Handle", "Title", "Body (HTML)", "Vendor", "Type", "Tags", "Option1 Name", "Option1 Value",
    "Variant SKU", "Variant Grams", "Variant Inventory Qty", "Variant Price",
    "Variant Compare At Price", "Variant Barcode", "Image Src", "Image Position",
    "Google Shopping / Condition", "Status",
]  # fmt: skip
SHOPIFY_KEPT = {
    "description": "<p>Lens</p>", "brand": "Zeiss", "product_type": "Lenses", "tags": "glass",
    "gtin": "4006381333931", "weight_grams": 300, "condition": "used", "status": "draft",
    "images": ["https://cdn.example.com/lens.jpg"], "stock": {"default": 3},
    "size": "50mm", "title": "Lens - 50mm", "item_group_id": "lens",
}  # fmt: skip


def test_shopify_partial_export_leaves_absent_columns_alone(
    workspace: Path, tmp_path: Path
) -> None:
    full = write(
        tmp_path / "products_export.csv",
        [SHOPIFY_HEADER,
         ["lens", "Lens", "<p>Lens</p>", "Zeiss", "Lenses", "glass", "Size", "50mm", "LENS-50",
          "300", "3", "400", "450", "4006381333931", "https://cdn.example.com/lens.jpg", "1",
          "used", "draft"],
         ["lens", "", "", "", "", "", "", "85mm", "LENS-85", "400", "1", "700", "", "", "", "",
          "", ""]],
    )  # fmt: skip
    assert run_cli("-w", workspace, "import", "shopify", full).code == 0
    assert show(workspace, "LENS-50")["sale_price"] == "400.00"
    partial = write(
        tmp_path / "prices.csv",
        [["Handle", "Title", "Variant SKU", "Variant Price", "Variant Compare At Price"],
         ["lens", "Lens", "LENS-50", "420", "450"], ["lens", "", "LENS-85", "700", ""]],
    )  # fmt: skip

    dry = run_cli("-w", workspace, "import", "shopify", partial, "--dry-run")
    assert dry.code == 0, dry.output
    assert "~ LENS-50: sale_price" in dry.stdout.splitlines()
    assert "LENS-85" not in dry.stdout  # nothing it carries changed
    absent = left_alone(dry.stdout)
    for name in ("description", "brand", "gtin", "weight_grams", "condition", "status", "size",
                 "options", "images", "quantity"):  # fmt: skip
        assert name in absent, absent
    summary = json.loads(
        run_cli("-w", workspace, "import", "shopify", partial, "--dry-run", "--json").stdout
    )
    assert summary["changes"] == {"LENS-50": ["sale_price"]}
    assert summary["left_alone"] == absent

    assert run_cli("-w", workspace, "import", "shopify", partial).code == 0
    lens = show(workspace, "LENS-50")
    assert (lens["price"], lens["sale_price"]) == ("450.00", "420.00")
    assert kept(lens, SHOPIFY_KEPT) == SHOPIFY_KEPT
    assert show(workspace, "LENS-85")["title"] == "Lens - 85mm"


WOO_HEADER = [
    "ID", "Type", "SKU", "GTIN, UPC, EAN, or ISBN", "Name", "Published", "Description",
    "In stock?", "Stock", "Weight (kg)", "Sale price", "Regular price", "Categories", "Tags",
    "Images", "Brands",
]  # fmt: skip
WOO_KEPT = {
    "gtin": "4006381333931", "status": "draft", "description": "<p>Kettle</p>",
    "stock": {"default": 4}, "weight_grams": 1200, "sale_price": "30.00",
    "product_type": "Kitchen", "tags": "steel", "images": ["https://shop.example/k.jpg"],
    "brand": "Acme", "condition": "refurbished",
}  # fmt: skip


def test_woocommerce_partial_export_leaves_absent_columns_alone(
    workspace: Path, tmp_path: Path
) -> None:
    full = write(
        tmp_path / "wc-product-export.csv",
        [WOO_HEADER,
         ["7", "simple", "KETTLE", "4006381333931", "Kettle", "0", "<p>Kettle</p>", "1", "4",
          "1.2", "30", "35", "Kitchen", "steel", "https://shop.example/k.jpg", "Acme"]],
    )  # fmt: skip
    assert run_cli("-w", workspace, "import", "woocommerce", full).code == 0
    # the condition comes from the generic CSV: a WooCommerce export has none
    condition = write(
        tmp_path / "c.csv",
        [["sku", "title", "price", "condition"], ["KETTLE", "Kettle", "35", "refurbished"]],
    )
    assert run_cli("-w", workspace, "import", "csv", condition).code == 0
    partial = write(
        tmp_path / "names.csv",
        [["Type", "SKU", "Name", "Regular price"], ["simple", "KETTLE", "Steel kettle", "36"]],
    )

    dry = run_cli("-w", workspace, "import", "woocommerce", partial, "--dry-run")
    assert dry.code == 0, dry.output
    assert "~ KETTLE: handle, title, price" in dry.stdout.splitlines()
    assert "no stock count" not in dry.stderr  # stock is not in the file: nothing to warn about
    absent = left_alone(dry.stdout)
    for name in ("gtin", "status", "description", "weight_grams", "sale_price", "condition",
                 "brand", "images", "quantity"):  # fmt: skip
        assert name in absent, absent
    summary = json.loads(
        run_cli("-w", workspace, "import", "woocommerce", partial, "--dry-run", "--json").stdout
    )
    assert summary["left_alone"] == absent

    assert run_cli("-w", workspace, "import", "woocommerce", partial).code == 0
    kettle = show(workspace, "KETTLE")
    assert (kettle["title"], kettle["price"]) == ("Steel kettle", "36.00")
    assert kept(kettle, WOO_KEPT) == WOO_KEPT
    # the full export again: condition still is not the WooCommerce import's to set
    assert run_cli("-w", workspace, "import", "woocommerce", full).code == 0
    assert show(workspace, "KETTLE")["condition"] == "refurbished"


@pytest.mark.parametrize(
    ("fmt", "rows"),
    [
        ("csv", GENERIC_FULL),
        ("shopify", [SHOPIFY_HEADER, ["h", "T", "", "", "", "", "Size", "S", "S-1", "1", "1", "5",
                                      "", "", "", "", "", ""]]),
        ("woocommerce", [WOO_HEADER, ["1", "simple", "W-1", "", "W", "1", "", "1", "1", "1", "",
                                      "5", "", "", "", ""]]),
    ],
)  # fmt: skip
def test_every_field_an_importer_sets_is_declared_in_its_sources(
    fmt: str, rows: list[list[str]], tmp_path: Path
) -> None:
    import importlib

    sources = importlib.import_module(FORMATS[fmt]).SOURCES
    parsed = parse(fmt, write(tmp_path / "f.csv", rows))
    assert parsed.items and not parsed.rejected
    for item in parsed.items:
        assert set(item.fields) <= set(sources), set(item.fields) - set(sources)


# -- item 13: amounts, SKUs and control characters --------------------------------------------


def test_too_many_decimals_says_what_is_wrong(workspace: Path, tmp_path: Path) -> None:
    path = write(
        tmp_path / "prices.csv",
        [["sku", "title", "price", "sale_price"], ["A", "Alpha", "2499.999", ""],
         ["B", "Beta", "10", "1,299.999"], ["C", "Gamma", "12.50", ""]],
    )  # fmt: skip
    result = run_cli("-w", workspace, "import", "csv", path)
    assert result.code == 4
    assert "prices.csv:2 SKU A: price: 2499.999 has 3 decimals; USD takes 2" in result.stderr
    assert "prices.csv:3 SKU B: sale_price: 1,299.999 has 3 decimals; USD takes 2" in result.stderr
    assert [
        p["sku"] for p in json.loads(run_cli("-w", workspace, "catalog", "list", "--json").stdout)
    ] == ["C"]
    eur = run_cli("-w", workspace, "import", "csv", path, "--currency", "eur", "--dry-run")
    assert "2499.999 has 3 decimals; EUR takes 2" in eur.stderr
    shopify = write(
        tmp_path / "shopify.csv",
        [["Handle", "Title", "Variant SKU", "Variant Price"], ["mug", "Mug", "MUG", "1299.995"]],
    )
    result = run_cli("-w", workspace, "import", "shopify", shopify)
    assert result.code == 4
    assert "SKU MUG: Variant Price: 1299.995 has 3 decimals; USD takes 2" in result.stderr


def test_skus_a_channel_cannot_use_are_rejected_with_line_and_reason(
    workspace: Path, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "skus.csv",
        [["sku", "title", "price"], ["TEE S", "Tee", "5"], ["TEE\tM", "Tee", "5"],
         ["TEE\nL", "Tee", "5"], ["TEE\u00a0XL", "Tee", "5"], ["TEE\u200bXS", "Tee", "5"],
         ["TEE\x07", "Tee", "5"], ["  TEE-OK  ", "Tee", "5"]],
    )  # fmt: skip
    result = run_cli("-w", workspace, "import", "csv", path)
    assert result.code == 4, result.output
    assert "1 added, 0 changed, 0 unchanged, 6 rejected" in result.stdout
    rejected = [line for line in result.stderr.splitlines() if line.startswith("rejected")]
    assert len(rejected) == 6, result.stderr
    for fragment in (
        "skus.csv:2 SKU 'TEE S': SKU contains a space at character 4",
        "skus.csv:3 SKU 'TEE\\tM': SKU contains a tab at character 4",
        "skus.csv:4 SKU 'TEE\\nL': SKU contains a line break at character 4",
        "skus.csv:6 SKU 'TEE\\xa0XL': SKU contains a space character (NO-BREAK SPACE)",
        "skus.csv:7 SKU 'TEE\\u200bXS': SKU contains an invisible character (U+200B)",
        "skus.csv:8 SKU 'TEE\\x07': SKU contains an invisible character (U+0007)",
    ):
        assert any(fragment in line for line in rejected), (fragment, rejected)
    listed = json.loads(run_cli("-w", workspace, "catalog", "list", "--json").stdout)
    assert [p["sku"] for p in listed] == ["TEE-OK"]  # surrounding spaces are trimmed, as before
    summary = json.loads(run_cli("-w", workspace, "import", "csv", path, "--json").stdout)
    assert {k: summary["rejected"][1][k] for k in ("line", "sku")} == {"line": 3, "sku": "TEE\tM"}


def test_shopify_and_woocommerce_skus_are_validated_too(workspace: Path, tmp_path: Path) -> None:
    shopify = write(
        tmp_path / "shopify.csv",
        [["Handle", "Title", "Variant SKU", "Variant Price"], ["mug", "Mug", "MUG 1", "9"],
         ["cup", "Cup", "CUP-1", "9"]],
    )  # fmt: skip
    result = run_cli("-w", workspace, "import", "shopify", shopify)
    assert result.code == 4
    assert "shopify.csv:2 SKU 'MUG 1': SKU contains a space" in result.stderr
    woo = write(
        tmp_path / "woo.csv",
        [["Type", "SKU", "Name", "Regular price"], ["simple", "PLATE\t2", "Plate", "4"],
         ["simple", "PLATE-1", "Plate", "4"]],
    )  # fmt: skip
    result = run_cli("-w", workspace, "import", "woocommerce", woo)
    assert result.code == 4
    assert "woo.csv:2 SKU 'PLATE\\t2': SKU contains a tab" in result.stderr
    listed = json.loads(run_cli("-w", workspace, "catalog", "list", "--json").stdout)
    assert [p["sku"] for p in listed] == ["CUP-1", "PLATE-1"]


def test_control_characters_are_not_stored(workspace: Path, tmp_path: Path) -> None:
    path = write(
        tmp_path / "text.csv",
        [["sku", "title", "description", "brand", "tags", "color", "price"],
         ["MUG", "Mug\x07 deluxe\r\nlarge", "<p>one\r\ntwo\tthree\x00\x1b</p>", "Acme\x1b",
          "a,\x0bb", "Blue\x7f", "5"]],
    )  # fmt: skip
    assert run_cli("-w", workspace, "import", "csv", path).code == 0
    mug = show(workspace, "MUG")
    assert mug["title"] == "Mug deluxe large"  # a line break in a one-line field is a space
    assert mug["description"] == "<p>one\ntwo\tthree</p>"  # line breaks and tabs are text
    assert (mug["brand"], mug["tags"], mug["color"]) == ("Acme", "a, b", "Blue")
    woo = write(
        tmp_path / "woo.csv",
        [["Type", "SKU", "Name", "Description", "Regular price"],
         ["simple", "PLATE", "Plate\x08", "<p>a\nb\x0c</p>", "4"]],
    )  # fmt: skip
    assert run_cli("-w", workspace, "import", "woocommerce", woo).code == 0
    plate = show(workspace, "PLATE")
    assert (plate["title"], plate["description"]) == ("Plate", "<p>a\nb</p>")
    shopify = write(
        tmp_path / "shopify.csv",
        [["Handle", "Title", "Body (HTML)", "Vendor", "Variant SKU", "Variant Price"],
         ["cup", "Cup\x1f", "<p>x\ny\x01</p>", "\x02Acme", "CUP", "3"]],
    )  # fmt: skip
    assert run_cli("-w", workspace, "import", "shopify", shopify).code == 0
    cup = show(workspace, "CUP")
    assert (cup["title"], cup["description"], cup["brand"]) == ("Cup", "<p>x\ny</p>", "Acme")


def test_clean_text_and_check_sku() -> None:
    assert base.clean_text("plain") == "plain"
    assert base.clean_text("a\x00b") == "ab"
    assert base.clean_text("a \n b") == "a b"
    assert base.clean_text("a\r\nb\rc\x0b", multiline=True) == "a\nb\nc"
    base.check_sku("TEE-BLK-S")
    base.check_sku("ЧАЙ-1")  # letters of any script are fine
    with pytest.raises(base.RowError, match="a line break at character 2"):
        base.check_sku("A\u2028B")
