"""`import woocommerce`: WooCommerce's own sample export, then hand-made variable and messy
files."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from multichan.catalog import store
from multichan.catalog.importers import run
from multichan.catalog.schema import open_catalog
from multichan.errors import InputError, NotFound

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO.parent / "shared" / "data" / "woocommerce" / "sample_products.csv"
DATA = REPO / "tests" / "data" / "woocommerce"
VARIABLE = DATA / "variable_product.csv"
MESSY = DATA / "messy.csv"
IMG = "https://woocommercecore.mystagingwebsite.com/wp-content/uploads/2017/12/"

needs_sample = pytest.mark.skipif(
    not SAMPLE.exists(),
    reason=f"WooCommerce's sample export is not at {SAMPLE} (../shared/data is not checked out)",
)


@pytest.fixture
def db(tmp_path):
    database = open_catalog(tmp_path / "catalog.db")
    yield database
    database.close()


def write_csv(path: Path, header: str, *rows: str) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def groups(db) -> dict[str, int]:
    sql = "SELECT item_group_id, count(*) FROM products WHERE item_group_id IS NOT NULL GROUP BY 1"
    return dict(db.execute(sql).fetchall())


# --- WooCommerce's own sample export (WooCommerce 8.2.2 sample-data) -------------------------


@needs_sample
def test_sample_imports_every_sellable_sku_and_skips_the_rest(db):
    outcome = run(db, "woocommerce", SAMPLE)

    assert outcome.parsed.rejected == []
    assert len(outcome.upserted.added) == 21  # 12 simple + 2 downloadable + 7 variations
    skus = {p["sku"] for p in store.list_products(db)}
    assert {"woo-album", "woo-single", "Woo-tshirt-logo", "woo-hoodie-blue-logo"} <= skus
    assert not skus & {"woo-vneck-tee", "woo-hoodie", "logo-collection", "wp-pennant"}
    warnings = "\n".join(outcome.parsed.warnings)
    assert "line 24: skipped 'Logo Collection' (logo-collection): grouped" in warnings
    assert "line 25: skipped 'WordPress Pennant' (wp-pennant): external" in warnings
    # the sample shop counts no stock: every SKU is untracked (offered as in stock), none 0
    assert "stock count" not in warnings
    tracking = dict(db.execute("SELECT sku, stock_tracking FROM products").fetchall())
    assert set(tracking.values()) == {"untracked"} and len(tracking) == 21
    assert groups(db) == {"woo-hoodie": 4, "woo-vneck-tee": 3}


@needs_sample
def test_sample_variation_takes_the_parent_fields(db):
    run(db, "woocommerce", SAMPLE)

    blue = store.get_product(db, "woo-vneck-tee-blue")
    assert blue["title"] == "V-Neck T-Shirt - Blue"
    assert (blue["price"], blue["sale_price"], blue["currency"]) == ("15.00", None, "USD")
    assert blue["item_group_id"] == "woo-vneck-tee"
    assert blue["handle"] == "v-neck-t-shirt"
    assert (blue["color"], blue["size"]) == ("Blue", None)  # Size is "any" on this variation
    assert blue["options"] == {"Color": "Blue"}
    assert blue["product_type"] == "Clothing > Tshirts"
    assert blue["weight_grams"] == 227  # the parent's .5 lbs
    assert blue["images"] == [
        IMG + "vnech-tee-blue-1.jpg", IMG + "vneck-tee-2.jpg", IMG + "vnech-tee-green-1.jpg"
    ]  # fmt: skip
    assert blue["stock"] == {} and blue["quantity"] == 0  # not tracked in WooCommerce
    assert blue["status"] == "active"

    red = store.get_product(db, "woo-hoodie-red")
    assert (red["title"], red["price"], red["sale_price"]) == ("Hoodie - Red, No", "45.00", "42.00")
    assert red["options"] == {"Color": "Red", "Logo": "No"}
    with pytest.raises(NotFound):
        store.get_product(db, "woo-hoodie")  # a variable parent is not a SKU


@needs_sample
def test_sample_simple_products(db):
    run(db, "woocommerce", SAMPLE)

    beanie = store.get_product(db, "woo-beanie")
    assert (beanie["price"], beanie["sale_price"]) == ("20.00", "18.00")
    assert (beanie["title"], beanie["item_group_id"], beanie["color"]) == ("Beanie", None, "Red")
    assert beanie["weight_grams"] == 91
    assert beanie["images"] == [IMG + "beanie-2.jpg"]
    album = store.get_product(db, "woo-album")  # "simple, downloadable, virtual"
    assert (album["price"], album["product_type"]) == ("15.00", "Music")
    assert album["weight_grams"] is None


@needs_sample
def test_sample_reimport_changes_nothing(db):
    run(db, "woocommerce", SAMPLE)
    again = run(db, "woocommerce", SAMPLE)
    assert (again.upserted.added, again.upserted.changed) == ([], {})
    assert again.upserted.unchanged == 21


# --- a small variable product ------------------------------------------------------------------


def test_variable_product_and_its_variations(db):
    outcome = run(db, "woocommerce", VARIABLE)

    assert outcome.parsed.rejected == []
    assert outcome.upserted.added == ["TEE-BLK-S", "TEE-BLK-M", "TEE-WHT-S", "MUG", "GIFT"]
    assert groups(db) == {"TEE": 3}
    black_s = store.get_product(db, "TEE-BLK-S")
    assert black_s["title"] == "Organic Tee - Black, S"
    assert (black_s["price"], black_s["sale_price"]) == ("19.99", "14.99")
    assert (black_s["color"], black_s["size"], black_s["options"]) == (
        "Black", "S", {"Color": "Black", "Size": "S"}
    )  # fmt: skip
    assert (black_s["brand"], black_s["gtin"]) == ("Acme", "4006381333931")
    assert black_s["description"] == "<p>Soft organic cotton.</p>\n<p>Made in Portugal.</p>"
    assert (black_s["product_type"], black_s["tags"]) == ("Clothing > Tops", "cotton, organic")
    assert black_s["weight_grams"] == 200  # the parent's 0.2 kg
    assert black_s["images"] == [
        "https://img.example.com/tee-black.jpg",
        "https://img.example.com/tee-front.jpg",
        "https://img.example.com/tee-back.jpg",
    ]
    assert black_s["stock"] == {"default": 7}

    black_m = store.get_product(db, "TEE-BLK-M")  # referenced by the parent's SKU, not id:
    assert (black_m["item_group_id"], black_m["weight_grams"], black_m["stock"]) == (
        "TEE", 250, {"default": 0}
    )  # fmt: skip
    assert black_m["gtin"] is None  # a GTIN belongs to one variation, never inherited

    white = store.get_product(db, "TEE-WHT-S")
    assert (white["price"], white["sale_price"]) == ("25.00", None)  # the parent's price
    assert white["description"] == "White is brighter."  # its own description wins
    assert white["images"] == [
        "https://img.example.com/tee-back.jpg", "https://img.example.com/tee-front.jpg"
    ]  # fmt: skip
    assert white["stock"] == {}  # "parent": one shared pool cannot be split
    assert outcome.parsed.warnings[-1].endswith("(Stock = parent), which the export does not "
                                                 "give per variation: no quantity was imported "
                                                 "(new SKUs start at 0; set one with 'multichan "
                                                 "stock set SKU QTY'): TEE-WHT-S")  # fmt: skip
    assert white["stock_tracking"] == "tracked"  # a parent's pool is counted, somewhere
    with pytest.raises(NotFound):
        store.get_product(db, "TEE")


def test_simple_products_status_and_single_value_attributes(db):
    run(db, "woocommerce", VARIABLE)

    mug = store.get_product(db, "MUG")
    assert mug["status"] == "draft"  # Published '-1 (the exporter's quote before -1)
    assert (mug["color"], mug["options"], mug["item_group_id"]) == ("Blue", None, None)
    assert (mug["weight_grams"], mug["stock"]) == (350, {"default": 12})
    gift = store.get_product(db, "GIFT")
    assert gift["status"] == "draft"  # 0 = private
    assert gift["color"] is None  # "Red, Green": not one colour
    assert (gift["images"], gift["stock"]) == ([], {})
    assert (gift["stock_tracking"], mug["stock_tracking"]) == ("untracked", "tracked")


def test_reimport_is_idempotent_and_sees_a_changed_price(db, tmp_path):
    run(db, "woocommerce", VARIABLE)
    again = run(db, "woocommerce", VARIABLE)
    assert (again.upserted.added, again.upserted.changed, again.upserted.unchanged) == ([], {}, 5)

    edited = tmp_path / "edited.csv"
    edited.write_text(VARIABLE.read_text().replace(",14.99,19.99,", ",14.99,21.50,"))
    changed = run(db, "woocommerce", edited)
    assert changed.upserted.changed == {"TEE-BLK-S": ["price"]}
    assert store.get_product(db, "TEE-BLK-S")["price"] == "21.50"


def test_dry_run_writes_nothing(db):
    outcome = run(db, "woocommerce", VARIABLE, dry_run=True)
    assert len(outcome.upserted.added) == 5
    for table in ("products", "images", "stock"):
        assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0


# --- a messy file: BOM, CRLF, HTML, entities, non-ASCII, quotes and newlines, bad rows ---------


def test_messy_file_rejects_bad_rows_with_their_lines(db):
    outcome = run(db, "woocommerce", MESSY)

    assert [(r.line, r.sku, r.reason) for r in outcome.parsed.rejected] == [
        (4, "MESSY-2", "Regular price: not an amount: 'abc'"),
        (5, "MESSY-3", "Stock 'lots' is not a number"),
        (6, "ORPHAN-1", "parent 'id:999' is not in this file; "
                        "export the variable product with its variations"),
        (7, "MESSY-1", "SKU appears twice in this file (first at line 2); "
                       "only the first row is used"),
        (8, "", "SKU is empty (WooCommerce ID 57)"),
        (10, "NOPRICE-1", "Regular price is empty, and the parent 'NOPRICE' has none"),
        (14, "WRONG-PARENT-1", "parent 'MESSY-4' (line 13) is a simple product, "
                               "not a variable one"),
    ]  # fmt: skip
    assert outcome.parsed.warnings[0].startswith("line 11: skipped 'Partner Kettle' (EXT-1)")
    assert outcome.upserted.added == ["MESSY-1", "MESSY-4", "MESSY-5"]


def test_messy_file_good_rows_are_clean(db):
    run(db, "woocommerce", MESSY)

    mug = store.get_product(db, "MESSY-1")
    assert mug["title"] == "Fish & Chips Mug – “Classic”"
    assert mug["description"] == (
        '<p>Dishwasher &amp; microwave safe.</p>\n<p>He said "hi" – ça va?</p>'
    )  # HTML kept as HTML, the quoted newline kept
    assert (mug["price"], mug["weight_grams"]) == ("19.99", 454)  # "19,99"; 1 lbs
    assert mug["product_type"] == "Kitchen, Dining & Bar > Mugs"  # "\," is a comma in a name
    assert mug["images"] == [
        "https://img.example.com/fish-mug.jpg", "https://img.example.com/fish-mug-2.jpg"
    ]  # fmt: skip
    coffee = store.get_product(db, "MESSY-4")
    assert (coffee["title"], coffee["price"]) == ("Café crème 250 g", "9.50")
    assert coffee["stock"] == {"default": -2}  # '-2: oversold, kept for `catalog check`
    poster = store.get_product(db, "MESSY-5")
    assert poster["title"] == "=Equals Sign Poster"  # the exporter's anti-formula ' removed
    assert (poster["price"], poster["sale_price"]) == ("1299.00", "999.00")


def test_a_shopify_export_is_refused(db, tmp_path):
    shopify = write_csv(
        tmp_path / "products_export.csv",
        "Handle,Title,Body (HTML),Vendor,Type,Tags,Published,Option1 Name,Option1 Value,"
        "Variant SKU,Variant Price",
        "tee,Tee,<p>Soft</p>,Acme,Shirts,cotton,TRUE,Size,S,TEE-S,19.99",
    )
    with pytest.raises(InputError, match="not a WooCommerce product export") as info:
        run(db, "woocommerce", shopify)
    assert "missing column(s) Name, SKU" in info.value.message
    assert db.execute("SELECT count(*) FROM products").fetchone()[0] == 0


# --- single rules, on tiny files ----------------------------------------------------------------

HEADER = "ID,Type,SKU,Name,Published,Regular price,Sale price,Parent,Stock,In stock?"


def test_published_values(db, tmp_path):
    path = write_csv(
        tmp_path / "p.csv", HEADER,
        "1,simple,PUB,Published,1,5,,,1,1", "2,simple,PRIV,Private,0,5,,,1,1",
        "3,simple,DRAFT,Draft,-1,5,,,1,1", "4,simple,QUOTED,Draft,'-1,5,,,1,1",
        "5,simple,WHAT,Odd,maybe,5,,,1,1",
    )  # fmt: skip
    outcome = run(db, "woocommerce", path)
    status = dict(db.execute("SELECT sku, status FROM products").fetchall())
    assert status == {"PUB": "active", "PRIV": "draft", "DRAFT": "draft", "QUOTED": "draft"}
    assert [(r.line, r.reason) for r in outcome.parsed.rejected] == [
        (6, "Published 'maybe' is not 1 (published), 0 (private) or -1 (draft)")
    ]


def test_draft_parent_makes_its_variations_drafts(db, tmp_path):
    path = write_csv(
        tmp_path / "d.csv", HEADER,
        "7,variable,,Scarf,-1,12,,,,1", "8,variation,SCARF-RED,Scarf - Red,1,,,id:7,4,1",
    )  # fmt: skip
    run(db, "woocommerce", path)
    scarf = store.get_product(db, "SCARF-RED")
    assert (scarf["status"], scarf["price"]) == ("draft", "12.00")
    assert scarf["item_group_id"] == "id:7"  # a parent without SKU is named by its ID


def test_a_rejected_parent_takes_its_variations_with_it(db, tmp_path):
    path = write_csv(
        tmp_path / "r.csv", HEADER,
        "7,variable,HAT,Hat,perhaps,12,,,,1", "8,variation,HAT-S,Hat - S,1,,,HAT,4,1",
        "9,simple,CAP,Cap,1,8,,,2,1",
    )  # fmt: skip
    outcome = run(db, "woocommerce", path)
    assert [(r.line, r.sku) for r in outcome.parsed.rejected] == [(2, "HAT"), (3, "HAT-S")]
    assert outcome.parsed.rejected[1].reason.startswith(
        "parent 'HAT' is unusable (line 2 was rejected: Published 'perhaps' is not 1"
    )
    assert outcome.upserted.added == ["CAP"]


def test_a_scheduled_sale_applies_only_while_it_runs(db, tmp_path):
    today = date.today()
    before, after = today - timedelta(days=3), today + timedelta(days=3)
    path = write_csv(
        tmp_path / "s.csv",
        "Type,SKU,Name,Regular price,Sale price,Date sale price starts,Date sale price ends",
        f"simple,NOW,Now,20,15,{before} 0:00:00,{after} 23:59:59",
        f"simple,SOON,Soon,20,15,{after} 0:00:00,",
        f"simple,OVER,Over,20,15,,{before} 23:59:59",
    )
    outcome = run(db, "woocommerce", path)
    sales = dict(db.execute("SELECT sku, sale_price FROM products").fetchall())
    assert sales == {"NOW": "15.00", "SOON": None, "OVER": None}
    assert any(w.startswith(f"SOON: sale price 15.00 is scheduled from {after}")
               for w in outcome.parsed.warnings)  # fmt: skip


@pytest.mark.parametrize(
    ("column", "value", "grams"),
    [("Weight (kg)", "1.5", 1500), ("Weight (g)", "250", 250), ("Weight (lbs)", "2", 907),
     ("Weight (oz)", "16", 454), ("Weight (kg)", "0,75", 750)],
)  # fmt: skip
def test_weight_is_converted_to_grams_from_the_header_unit(db, tmp_path, column, value, grams):
    path = write_csv(tmp_path / "w.csv", f"Type,SKU,Name,Regular price,{column}",
                     f'simple,W,Weighed,5,"{value}"')  # fmt: skip
    run(db, "woocommerce", path)
    assert store.get_product(db, "W")["weight_grams"] == grams


def test_brand_attribute_on_the_parent_reaches_variations(db, tmp_path):
    path = write_csv(
        tmp_path / "b.csv",
        "ID,Type,SKU,Name,Regular price,Parent,Attribute 1 name,Attribute 1 value(s),"
        "Attribute 2 name,Attribute 2 value(s)",
        '1,variable,BOOT,Boot,90,,pa_brand,Trailco,Size,"41, 42"',
        "2,variation,BOOT-41,,,BOOT,,,Size,41",
    )
    run(db, "woocommerce", path)
    boot = store.get_product(db, "BOOT-41")
    assert (boot["brand"], boot["title"], boot["size"]) == ("Trailco", "Boot - 41", "41")
    assert boot["options"] == {"Size": "41"}


# --- the command line ---------------------------------------------------------------------------


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    cli = pytest.importorskip("multichan.cli", reason="the multichan CLI does not import yet")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(list(args))
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def test_cli_import_woocommerce(tmp_path, capsys):
    ws = str(tmp_path / "shop")
    assert run_cli(capsys, "init", ws)[0] == 0

    code, out, err = run_cli(capsys, "-w", ws, "import", "woocommerce", str(MESSY))
    assert code == 4  # some rows rejected, the rest imported
    assert "3 added, 0 changed, 0 unchanged, 7 rejected" in out
    assert "messy.csv:4 SKU MESSY-2: Regular price: not an amount: 'abc'" in err

    code, out, _ = run_cli(capsys, "-w", ws, "import", "woocommerce", str(VARIABLE), "--json")
    summary = json.loads(out)
    assert (code, summary["added"], summary["rejected"]) == (0, 5, [])

    code, _, err = run_cli(capsys, "-w", ws, "import", "woocommerce", str(tmp_path / "gone.csv"))
    assert code == 2 and "Error: cannot read" in err  # unusable file: nothing imported
