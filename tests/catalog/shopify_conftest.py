"""What the Shopify import tests (test_import_shopify.py, test_import_shopify_cli.py) share: the
clean and the messy export in tests/data/shopify, the headers of Shopify's classic and current
(2024+) product exports with a writer of hand-made exports in either, a fresh catalog per test,
and the SKUs in it.

A test module binds the ``db`` fixture by assignment (``db = shopify_conftest.db``), which pytest
registers exactly like a definition in the module itself.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils

from multichan.catalog.schema import open_catalog

DATA = Path(__file__).parent.parent / "data" / "shopify"
CLEAN = DATA / "clean.csv"
MESSY = DATA / "messy.csv"
CDN = "https://cdn.example.com/shop"

CLASSIC = (
    "Handle,Title,Body (HTML),Vendor,Type,Tags,Published,Option1 Name,Option1 Value,"
    "Variant SKU,Variant Inventory Qty,Variant Price,Variant Compare At Price,Image Src,"
    "Image Position"
)
CURRENT = (  # the header of Shopify's 2024+ product export
    "Title,URL handle,Description,Vendor,Product category,Type,Tags,Published on online store,"
    "Status,SKU,Barcode,Option1 name,Option1 value,Option1 Linked To,Option2 name,Option2 value,"
    "Option2 Linked To,Option3 name,Option3 value,Option3 Linked To,Price,Compare-at price,"
    "Cost per item,Charge tax,Tax code,Unit price total measure,Unit price total measure unit,"
    "Unit price base measure,Unit price base measure unit,Inventory tracker,Inventory quantity,"
    "Continue selling when out of stock,Weight value (grams),Weight unit for display,"
    "Requires shipping,Fulfillment service,Product image URL,Image position,Image alt text,"
    "Variant image URL,Gift card,SEO title,SEO description,"
    "Color (product.metafields.shopify.color-pattern),Google Shopping / Google product category,"
    "Google Shopping / Gender,Google Shopping / Age group,"
    "Google Shopping / Manufacturer part number (MPN),Google Shopping / Ad group name,"
    "Google Shopping / Ads labels,Google Shopping / Condition,Google Shopping / Custom product,"
    "Google Shopping / Custom label 0,Google Shopping / Custom label 1,"
    "Google Shopping / Custom label 2,Google Shopping / Custom label 3,"
    "Google Shopping / Custom label 4"
)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite_utils.Database]:
    catalog = open_catalog(tmp_path / "catalog.db")
    yield catalog
    catalog.close()


def write_csv(path: Path, header: str, rows: list[dict[str, str]]) -> Path:
    columns = header.split(",")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        assert set(row) <= set(columns), set(row) - set(columns)
        writer.writerow([row.get(c, "") for c in columns])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def skus(db: sqlite_utils.Database) -> list[str]:
    return [r[0] for r in db.execute("SELECT sku FROM products ORDER BY sku")]
