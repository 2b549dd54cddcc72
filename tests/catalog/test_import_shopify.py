"""Importing Shopify product exports: what a seller sees in the catalog afterwards, from a clean
export, a messy hand-edited one, and other shapes of Shopify exports (older and current headers,
per-location stock, stray rows). Files that are not Shopify exports, and the command line, are
in test_import_shopify_cli.py."""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from multichan.catalog.importers import run
from multichan.catalog.store import get_product
from tests.catalog import shopify_conftest as fx
from tests.catalog.shopify_conftest import CDN, CLASSIC, CLEAN, CURRENT, MESSY, skus, write_csv

db = fx.db


# -- a clean export -------------------------------------------------------------------------


def test_clean_export_imports_one_sku_per_variant(db: sqlite_utils.Database) -> None:
    outcome = run(db, "shopify", CLEAN)

    assert sorted(outcome.upserted.added) == [
        "MUG-001", "TEE-M-BLK", "TEE-M-WHT", "TEE-S-BLK", "TEE-S-WHT",
    ]  # fmt: skip
    assert outcome.parsed.rejected == []
    assert outcome.parsed.warnings == []
    assert skus(db) == sorted(outcome.upserted.added)  # image-only rows made no products


def test_compare_at_price_is_the_regular_price_and_variant_price_the_sale(
    db: sqlite_utils.Database,
) -> None:
    run(db, "shopify", CLEAN)

    on_sale = get_product(db, "TEE-S-BLK")  # Variant Price 19.99, Compare At 24.99
    assert (on_sale["price"], on_sale["sale_price"]) == ("24.99", "19.99")
    plain = get_product(db, "TEE-M-BLK")  # no compare-at price
    assert (plain["price"], plain["sale_price"]) == ("21.00", None)
    same = get_product(db, "TEE-M-WHT")  # compare-at equal to the price: no sale
    assert (same["price"], same["sale_price"]) == ("21.00", None)
    assert get_product(db, "MUG-001")["price"] == "12.50"  # "12.5" in the file
    assert get_product(db, "MUG-001")["currency"] == "USD"


def test_variants_of_one_handle_share_an_item_group(db: sqlite_utils.Database) -> None:
    run(db, "shopify", CLEAN)

    tee = get_product(db, "TEE-S-BLK")
    assert tee["item_group_id"] == "classic-tee"
    assert tee["handle"] == "classic-tee"
    assert tee["title"] == "Classic Tee - S / Black"
    assert tee["options"] == {"Size": "S", "Colour": "Black"}
    assert (tee["size"], tee["color"]) == ("S", "Black")
    assert get_product(db, "TEE-M-WHT")["title"] == "Classic Tee - M / White"
    # later rows of the handle inherit the product fields of the first row
    white = get_product(db, "TEE-M-WHT")
    assert (white["brand"], white["product_type"], white["tags"]) == (
        "Northwind", "T-Shirts", "cotton, summer",
    )  # fmt: skip
    assert white["description"] == "<p>Heavyweight cotton tee &amp; a relaxed fit.</p>"

    mug = get_product(db, "MUG-001")  # Title / Default Title: a product without variants
    assert (mug["item_group_id"], mug["title"], mug["options"]) == (None, "Enamel Mug", None)


def test_images_follow_image_position_with_the_variant_image_first(
    db: sqlite_utils.Database,
) -> None:
    run(db, "shopify", CLEAN)

    product_images = [f"{CDN}/tee-{n}.jpg" for n in ("front", "side", "back", "black")]
    assert get_product(db, "TEE-M-BLK")["images"] == product_images
    # the variant image comes first and is not repeated
    assert get_product(db, "TEE-S-BLK")["images"] == [
        f"{CDN}/tee-black.jpg", f"{CDN}/tee-front.jpg", f"{CDN}/tee-side.jpg",
        f"{CDN}/tee-back.jpg",
    ]  # fmt: skip
    assert get_product(db, "TEE-S-WHT")["images"] == [f"{CDN}/tee-white.jpg", *product_images]
    assert get_product(db, "MUG-001")["images"] == [f"{CDN}/mug.jpg"]


def test_identifiers_weight_stock_and_google_columns(db: sqlite_utils.Database) -> None:
    run(db, "shopify", CLEAN)

    tee = get_product(db, "TEE-S-BLK")
    assert tee["gtin"] == "4006381333931"
    assert tee["weight_grams"] == 180
    assert tee["stock"] == {"default": 5}
    assert tee["google_product_category"] == "Apparel & Accessories > Clothing > Shirts & Tops"
    assert (tee["gender"], tee["age_group"], tee["condition"]) == ("unisex", "adult", "new")
    assert tee["status"] == "active"
    assert get_product(db, "TEE-S-WHT")["stock"] == {"default": 0}
    assert get_product(db, "MUG-001")["mpn"] == "NW-MUG-350"


def test_reimport_changes_nothing(db: sqlite_utils.Database) -> None:
    run(db, "shopify", CLEAN)
    again = run(db, "shopify", CLEAN)

    assert (again.upserted.added, again.upserted.changed) == ([], {})
    assert again.upserted.unchanged == 5


def test_reimport_after_a_price_change_in_shopify_changes_that_field(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    run(db, "shopify", CLEAN)
    edited = tmp_path / "edited.csv"
    edited.write_text(
        CLEAN.read_text().replace(
            "MUG-001,350,shopify,12,deny,manual,12.5,", "MUG-001,350,shopify,12,deny,manual,13.90,"
        )
    )
    outcome = run(db, "shopify", edited)

    assert outcome.upserted.changed == {"MUG-001": ["price"]}
    assert get_product(db, "MUG-001")["price"] == "13.90"


def test_dry_run_reports_and_writes_nothing(db: sqlite_utils.Database) -> None:
    outcome = run(db, "shopify", CLEAN, dry_run=True)

    assert len(outcome.upserted.added) == 5
    assert skus(db) == []
    assert db.execute("SELECT count(*) FROM images").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM stock").fetchone()[0] == 0


# -- a messy, hand-edited export --------------------------------------------------------------


def test_messy_export_imports_the_good_rows_and_rejects_the_bad_ones(
    db: sqlite_utils.Database,
) -> None:
    assert MESSY.read_bytes().startswith(b"\xef\xbb\xbf")  # saved by Excel, with a BOM
    outcome = run(db, "shopify", MESSY)

    assert skus(db) == [
        "ES-CAMISA-AZUL", "PL-KUBEK-01", "RU-TEE-L", "RU-TEE-S", "RU-TEE-XL", "TOTE-NAT",
    ]  # fmt: skip
    rejected = [(r.line, r.sku, r.reason) for r in outcome.parsed.rejected]
    assert rejected == [
        (7, "RU-TEE-M", "Variant Price: not an amount: 'abc'"),
        (11, "ES-CAMISA-ROJO", "Variant Inventory Qty 'muchos' is not a number"),
        (12, "", "variant has no SKU"),
        (14, "LAMP-OLD", "status 'hidden' is not active, draft or archived"),
        (15, "GHOST-1", "Handle 'ghost-handle' has no product row with a Title "
                        "(the first row of each product carries its Title)"),
        (17, "PL-KUBEK-01", "SKU appears twice in this file; the first row was kept"),
    ]  # fmt: skip


def test_messy_export_keeps_text_html_and_statuses(db: sqlite_utils.Database) -> None:
    run(db, "shopify", MESSY)

    kubek = get_product(db, "PL-KUBEK-01")
    assert kubek["title"] == "Kubek żółty „Ćma” & spodek"
    assert kubek["description"] == (
        '<p>Ręcznie malowany kubek &amp; spodek, "gruby", szkliwiony.</p>\n<ul>\n<li>350 ml</li>\n'
        "</ul>"
    )
    assert kubek["status"] == "draft"
    assert kubek["price"] == "49.90"  # typed as 49,90 in a Polish spreadsheet
    assert kubek["brand"] == "Ceramika Bolesławiec"

    camisa = get_product(db, "ES-CAMISA-AZUL")
    assert camisa["status"] == "archived"
    assert camisa["title"] == 'Camisa de lino "Edición Señor", azul - Azul'
    assert len(camisa["description"]) == 6000
    assert camisa["description"].startswith("<p>Camisa de lino 100% europeo")
    assert camisa["brand"] == "Lino & Co., S.L."

    tee = get_product(db, "RU-TEE-S")
    assert tee["title"] == "Футболка «Река», хлопок - S"
    assert tee["options"] == {"Размер": "S"}
    assert tee["tags"] == "лето, хлопок"
    assert get_product(db, "TOTE-NAT")["condition"] == "used"


def test_rows_of_one_handle_need_not_be_next_to_each_other(db: sqlite_utils.Database) -> None:
    run(db, "shopify", MESSY)

    # RU-TEE-XL is the last line of the file, far from the rest of its product
    xl = get_product(db, "RU-TEE-XL")
    assert (xl["item_group_id"], xl["title"]) == ("futbolka-reka", "Футболка «Река», хлопок - XL")
    assert xl["images"] == [f"{CDN}/reka.jpg"]
    # the second image of the mug comes eleven lines after the mug
    assert get_product(db, "PL-KUBEK-01")["images"] == [
        f"{CDN}/kubek-1.jpg", f"{CDN}/kubek-2.jpg",
    ]  # fmt: skip


def test_bad_barcodes_are_stored_as_far_as_possible_and_warned_about(
    db: sqlite_utils.Database,
) -> None:
    outcome = run(db, "shopify", MESSY)

    assert get_product(db, "PL-KUBEK-01")["gtin"] == "5901234123458"  # wrong check digit
    assert get_product(db, "RU-TEE-S")["gtin"] is None  # 4.00638E+12: digits lost in Excel
    assert get_product(db, "ES-CAMISA-AZUL")["gtin"] == "8412345678905"
    warnings = outcome.parsed.warnings
    assert len(warnings) == 2
    assert warnings[0].startswith("line 2 (SKU PL-KUBEK-01): barcode 5901234123458 is not a valid")
    assert warnings[1].startswith("line 6 (SKU RU-TEE-S): barcode '4.00638E+12'")


def test_compare_at_price_in_the_messy_export(db: sqlite_utils.Database) -> None:
    run(db, "shopify", MESSY)

    large = get_product(db, "RU-TEE-L")
    assert (large["price"], large["sale_price"]) == ("35.00", "29.00")


def test_messy_reimport_is_idempotent(db: sqlite_utils.Database) -> None:
    run(db, "shopify", MESSY)
    again = run(db, "shopify", MESSY)

    assert (again.upserted.added, again.upserted.changed) == ([], {})
    assert len(again.parsed.rejected) == 6


# -- other shapes of Shopify exports ----------------------------------------------------------


def test_older_export_without_status_uses_published(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "old.csv", CLASSIC, [
        {"Handle": "lamp", "Title": "Lamp", "Published": "TRUE", "Option1 Name": "Title",
         "Option1 Value": "Default Title", "Variant SKU": "LAMP", "Variant Price": "30"},
        {"Handle": "vase", "Title": "Vase", "Published": "FALSE", "Variant SKU": "VASE",
         "Variant Price": "12"},
    ])  # fmt: skip
    run(db, "shopify", path)

    assert get_product(db, "LAMP")["status"] == "active"
    assert get_product(db, "VASE")["status"] == "draft"


def test_current_shopify_header_names(db: sqlite_utils.Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "products_export_1.csv", CURRENT, [
        {"Title": "Blue Vase", "URL handle": "blue-vase", "Description": "<p>Glazed</p>",
         "Vendor": "Acme", "Product category": "Home & Garden > Decor > Vases",
         "Published on online store": "TRUE", "Status": "active", "SKU": "VASE-S",
         "Barcode": "4006381333931", "Option1 name": "Size", "Option1 value": "Small",
         "Price": "80.00", "Compare-at price": "100.00", "Inventory tracker": "shopify",
         "Inventory quantity": "12",
         "Weight value (grams)": "500", "Product image URL": f"{CDN}/vase-a.jpg",
         "Image position": "2", "Google Shopping / Manufacturer part number (MPN)": "BV-1"},
        {"URL handle": "blue-vase", "SKU": "VASE-L", "Option1 value": "Large", "Price": "150",
         "Inventory tracker": "shopify", "Inventory quantity": "-4",
         "Continue selling when out of stock": "CONTINUE", "Weight value (grams)": "1500",
         "Variant image URL": f"{CDN}/vase-large.jpg"},
        {"URL handle": "blue-vase", "Product image URL": f"{CDN}/vase-b.jpg",
         "Image position": "1"},
    ])  # fmt: skip
    outcome = run(db, "shopify", path)

    assert outcome.parsed.rejected == []
    small = get_product(db, "VASE-S")
    assert (small["title"], small["item_group_id"]) == ("Blue Vase - Small", "blue-vase")
    assert (small["price"], small["sale_price"]) == ("100.00", "80.00")
    assert (small["gtin"], small["mpn"], small["weight_grams"]) == ("4006381333931", "BV-1", 500)
    assert small["description"] == "<p>Glazed</p>"
    assert small["google_product_category"] == "Home & Garden > Decor > Vases"
    assert small["images"] == [f"{CDN}/vase-b.jpg", f"{CDN}/vase-a.jpg"]
    large = get_product(db, "VASE-L")
    assert large["stock"] == {"default": -4}  # Shopify allows overselling
    assert (small["stock_tracking"], large["stock_tracking"]) == ("tracked", "continue")
    assert large["images"] == [f"{CDN}/vase-large.jpg", f"{CDN}/vase-b.jpg", f"{CDN}/vase-a.jpg"]


def test_per_location_inventory_columns(db: sqlite_utils.Database, tmp_path: Path) -> None:
    header = CLASSIC + ",Inventory Available: Warsaw Store,Inventory Available: Berlin Warehouse"
    path = write_csv(tmp_path / "locations.csv", header, [
        {"Handle": "cap", "Title": "Cap", "Variant SKU": "CAP", "Variant Price": "15",
         "Variant Inventory Qty": "9", "Inventory Available: Warsaw Store": "3",
         "Inventory Available: Berlin Warehouse": "6"},
        {"Handle": "scarf", "Title": "Scarf", "Variant SKU": "SCARF", "Variant Price": "25",
         "Inventory Available: Warsaw Store": "2"},
        {"Handle": "belt", "Title": "Belt", "Variant SKU": "BELT", "Variant Price": "25",
         "Inventory Available: Berlin Warehouse": "lots"},
    ])  # fmt: skip
    outcome = run(db, "shopify", path)

    assert get_product(db, "CAP")["stock"] == {"Warsaw Store": 3, "Berlin Warehouse": 6}
    assert get_product(db, "SCARF")["stock"] == {"Warsaw Store": 2}
    [bad] = outcome.parsed.rejected
    assert (bad.line, bad.sku) == (4, "BELT")
    assert bad.reason == "Inventory Available: Berlin Warehouse 'lots' is not a number"


def test_a_product_row_without_a_sku_and_no_other_variants(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "nosku.csv", CLASSIC, [
        {"Handle": "poster", "Title": "Poster", "Image Src": f"{CDN}/poster.jpg"},
        {"Handle": "frame", "Title": "Frame", "Variant SKU": "FRAME", "Variant Price": "9.99"},
    ])  # fmt: skip
    outcome = run(db, "shopify", path)

    assert [(r.line, r.sku, r.reason) for r in outcome.parsed.rejected] == [
        (2, "", "variant has no SKU"),
    ]
    assert skus(db) == ["FRAME"]


def test_a_note_row_left_in_the_file_is_ignored_with_a_warning(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "template.csv", CLASSIC, [
        {"Handle": "frame", "Title": "Frame", "Variant SKU": "FRAME", "Variant Price": "9.99"},
        {"Handle": "Note: Red column is required"},  # the last line of Shopify's template
    ])  # fmt: skip
    outcome = run(db, "shopify", path)

    assert outcome.parsed.rejected == []
    assert outcome.parsed.warnings == [
        "line 3: Handle 'note: red column is required' has no row with a Title and no variant; "
        "ignored"
    ]
    assert skus(db) == ["FRAME"]
