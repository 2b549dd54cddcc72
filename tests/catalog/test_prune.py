"""`multichan catalog prune`, through the CLI: a product missing from the latest full import of
its source is listed (SKU, title, stock, last seen), archived only with --yes and never
deleted; hand-made products, partial files, rejected rows, failed and killed imports never
make a product a candidate; the channels' max_delist_percent caps how much is archived
without --force; and an import that keeps every SKU unchanged stamps them without making the
next push plan them (dirty_skus as it was)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.catalog.test_import_kill import kill_when, start_import
from tests.catalog.test_import_kill import write as write_big
from tests.conftest import run_cli, run_subprocess, write_config

HEADER = "sku,title,price,quantity\n"
CONFIG = """
shop:
  name: Shop
  url: https://shop.example.com
  link_template: "https://shop.example.com/products/{{handle}}"
channels:
  google:
    type: google_merchant
    output: feeds/google.xml
{extra}
"""


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    ws = tmp_path / "shop"
    assert run_cli("init", ws).code == 0
    write_config(ws, CONFIG.format(extra=""))
    return ws


def catalog(path: Path, skus: list[str], price: str = "10.00") -> Path:
    rows = "".join(f"{sku},Item {sku},{price},{n + 1}\n" for n, sku in enumerate(skus))
    path.write_text(HEADER + rows, encoding="utf-8")
    return path


def sql(ws: Path, query: str, params: tuple[object, ...] = ()) -> list[tuple]:
    conn = sqlite3.connect(ws / "catalog.db")
    try:
        with conn:
            return conn.execute(query, params).fetchall()
    finally:
        conn.close()


def prune(ws: Path, *args: str) -> dict:
    result = run_cli("-w", ws, "catalog", "prune", "--json", *args)
    assert result.code in (0, 4), result.output
    doc = json.loads(result.stdout)
    assert doc["exit_code"] == result.code
    return doc


def status(ws: Path, sku: str) -> str:
    return sql(ws, "SELECT status FROM products WHERE sku = ?", (sku,))[0][0]


SKUS = [f"MUG-{n:02d}" for n in range(10)]


def test_a_product_gone_from_the_next_full_import_is_shown_then_archived(
    shop: Path, tmp_path: Path
) -> None:
    path = tmp_path / "export.csv"
    assert run_cli("-w", shop, "import", "csv", catalog(path, SKUS)).code == 0
    first_seen = sql(shop, "SELECT started_at FROM imports")[0][0]
    assert run_cli("-w", shop, "import", "csv", catalog(path, SKUS[1:])).code == 0  # MUG-00 gone

    shown = run_cli("-w", shop, "catalog", "prune")
    assert shown.code == 0, shown.output
    line = next(x for x in shown.stdout.splitlines() if "MUG-00" in x)
    for text in ("Item MUG-00", "active", " 1 ", first_seen, "csv export.csv"):
        assert text in line
    assert "MUG-01" not in shown.stdout
    assert "'multichan catalog prune --yes' archives them" in shown.stdout
    assert status(shop, "MUG-00") == "active"  # only shown

    doc = prune(shop)
    assert [c["sku"] for c in doc["candidates"]] == ["MUG-00"]
    assert doc["candidates"][0]["quantity"] == 1 and doc["archived"] == []

    done = run_cli("-w", shop, "catalog", "prune", "--yes")
    assert done.code == 0, done.output
    assert "Archived 1 product (nothing was deleted)" in done.stdout
    assert status(shop, "MUG-00") == "archived"
    assert sql(shop, "SELECT sku FROM products ORDER BY sku")[0] == ("MUG-00",)  # kept
    assert sql(shop, "SELECT quantity FROM stock WHERE sku = 'MUG-00'") == [(1,)]
    assert [s for (s,) in sql(shop, "SELECT sku FROM products WHERE status = 'active'")] == SKUS[1:]
    assert prune(shop)["candidates"] == []  # archived once

    # back in the shop's export: imported again, and no longer a candidate
    assert run_cli("-w", shop, "import", "csv", catalog(path, SKUS)).code == 0
    assert prune(shop)["candidates"] == []


def test_hand_made_products_and_partial_files_are_never_pruned(shop: Path, tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    assert run_cli("-w", shop, "import", "csv", catalog(export, SKUS)).code == 0
    sql(shop, "INSERT INTO products (sku, title, price) VALUES ('HAND-1', 'Made here', '5.00')")
    # a price list of two SKUs (no stock column): partial, whatever its name
    prices = tmp_path / "export-prices.csv"
    prices.write_text("sku,title,price\nMUG-01,Item MUG-01,11.00\nNEW-1,New,3.00\n", "utf-8")
    assert run_cli("-w", shop, "import", "csv", prices).code == 0
    assert run_cli("-w", shop, "import", "csv", prices).code == 0  # twice: still no basis
    assert sql(shop, "SELECT source, complete, rows FROM imports ORDER BY id") == [
        ("export.csv", 1, 10), ("export-prices.csv", 0, 2), ("export-prices.csv", 0, 2),
    ]  # fmt: skip
    doc = prune(shop)
    assert doc["candidates"] == [] and doc["never_imported"] == 2  # HAND-1, NEW-1
    shown = run_cli("-w", shop, "catalog", "prune", "--yes")
    assert shown.code == 0, shown.output
    assert "2 products never came from a full import" in shown.stdout
    assert status(shop, "HAND-1") == status(shop, "NEW-1") == "active"

    # the partial file did not hide MUG-01 from the next full export, which lacks it
    assert run_cli("-w", shop, "import", "csv", catalog(export, SKUS[2:])).code == 0
    assert [c["sku"] for c in prune(shop)["candidates"]] == ["MUG-00", "MUG-01"]


def test_a_rejected_row_still_names_its_product(shop: Path, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    assert run_cli("-w", shop, "import", "csv", catalog(path, SKUS)).code == 0
    text = path.read_text("utf-8").replace("MUG-03,Item MUG-03,10.00", "MUG-03,Item MUG-03,ten")
    path.write_text(text, "utf-8")
    assert run_cli("-w", shop, "import", "csv", path).code == 4  # the row is rejected
    assert prune(shop)["candidates"] == []


@pytest.mark.slow
def test_a_failed_or_killed_import_is_no_basis(shop: Path, tmp_path: Path) -> None:
    big = write_big(tmp_path / "export.csv", 12_000, "7.50")  # K-000000 ...
    gone = tmp_path / "old.csv"
    gone.write_text(HEADER + "GONE-1,Gone,5.00,2\n", "utf-8")
    assert run_cli("-w", shop, "import", "csv", gone, "--source", "export.csv").code == 0

    # a file that breaks half way (a byte that is not UTF-8): nothing imported, row ended
    broken = tmp_path / "broken" / "export.csv"
    broken.parent.mkdir()
    good = "".join(f"K-{n:06d},Item {n},1.00,1\n" for n in range(5000)).encode()  # > 64 KiB
    broken.write_bytes(HEADER.encode() + good + b"K-X,Tw\xff,1.00,1\n")
    assert run_cli("-w", shop, "import", "csv", broken).code == 2
    # a kill -9 after rows reached the WAL: the row stays, without an end
    proc = start_import(shop, big)
    kill_when(proc, shop / "catalog.db-wal", 1 << 20, 0.0)
    rows = sql(shop, "SELECT source, complete, ended_at IS NOT NULL FROM imports ORDER BY id")
    assert rows == [("export.csv", 1, 1), ("export.csv", 0, 1), ("export.csv", 0, 0)]
    assert prune(shop)["candidates"] == []
    assert status(shop, "GONE-1") == "active"

    # the same file imported to its end is a basis
    assert run_cli("-w", shop, "import", "csv", big).code == 0
    assert [c["sku"] for c in prune(shop)["candidates"]] == ["GONE-1"]


def test_prune_refuses_to_archive_more_than_the_delist_limit(shop: Path, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    assert run_cli("-w", shop, "import", "csv", catalog(path, SKUS)).code == 0
    assert run_cli("-w", shop, "import", "csv", catalog(path, SKUS[3:])).code == 0  # 30% gone

    listed = run_cli("-w", shop, "catalog", "prune")
    assert listed.code == 0
    assert "30% of the active products" in listed.stdout and "--force" in listed.stdout
    refused = run_cli("-w", shop, "catalog", "prune", "--yes")
    assert refused.code == 4, refused.output
    assert "prune would archive 3 of 10 active products (30%" in refused.stderr
    assert "max_delist_percent is 20" in refused.stderr
    assert "MUG-02" in refused.stdout  # still shown
    assert status(shop, "MUG-00") == "active"
    doc = prune(shop, "--yes")
    assert doc["exit_code"] == 4 and doc["refused"] and doc["archived"] == []

    # a channel that allows more (the strictest enabled channel decides)
    write_config(shop, CONFIG.format(extra="    max_delist_percent: 40"))
    doc = prune(shop, "--yes")
    assert doc["exit_code"] == 0 and doc["archived"] == ["MUG-00", "MUG-01", "MUG-02"]


def test_force_archives_past_the_limit(shop: Path, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    assert run_cli("-w", shop, "import", "csv", catalog(path, SKUS)).code == 0
    assert run_cli("-w", shop, "import", "csv", catalog(path, SKUS[:5])).code == 0
    assert prune(shop, "--yes")["archived"] == []
    assert len(prune(shop, "--yes", "--force")["archived"]) == 5
    assert status(shop, "MUG-09") == "archived"


def test_source_chooses_which_import_to_compare_with(shop: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert run_cli("-w", shop, "import", "csv", catalog(a, SKUS[:5])).code == 0
    assert run_cli("-w", shop, "import", "csv", catalog(b, SKUS[5:])).code == 0
    assert run_cli("-w", shop, "import", "csv", catalog(a, SKUS[1:5])).code == 0
    assert run_cli("-w", shop, "import", "csv", catalog(b, SKUS[6:])).code == 0
    assert [c["sku"] for c in prune(shop)["candidates"]] == ["MUG-00", "MUG-05"]
    only = prune(shop, "--source", "b.csv")
    assert [c["sku"] for c in only["candidates"]] == ["MUG-05"]
    assert [x["source"] for x in only["bases"]] == ["b.csv"]
    wrong = run_cli("-w", shop, "catalog", "prune", "--source", "b.cvs")
    assert wrong.code == 2
    assert "no full import from source 'b.cvs'" in wrong.stderr and "'b.csv'" in wrong.stderr


def test_no_prompt_without_a_terminal(shop: Path, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    assert run_cli("-w", shop, "import", "csv", catalog(path, SKUS)).code == 0
    assert run_cli("-w", shop, "import", "csv", catalog(path, SKUS[1:])).code == 0
    result = run_subprocess("-w", shop, "catalog", "prune", timeout=30)  # stdin: /dev/null
    assert result.code == 0, result.stderr
    assert "MUG-00" in result.stdout and status(shop, "MUG-00") == "active"


def test_an_unchanged_import_stamps_every_sku_without_dirtying_it(
    shop: Path, tmp_path: Path
) -> None:
    path = catalog(tmp_path / "export.csv", SKUS)
    assert run_cli("-w", shop, "import", "csv", path).code == 0
    assert run_cli("-w", shop, "stock", "set", "MUG-04", "9").code == 0
    dirty = sql(shop, "SELECT sku, seq FROM dirty_skus ORDER BY sku")
    again = run_cli("-w", shop, "import", "csv", path)
    assert "0 added, 1 changed, 9 unchanged" in again.stdout  # MUG-04's count
    assert set(sql(shop, "SELECT last_import FROM products")) == {(2,)}
    after = dict(sql(shop, "SELECT sku, seq FROM dirty_skus"))
    assert {s: q for s, q in after.items() if s != "MUG-04"} == {
        s: q for s, q in dirty if s != "MUG-04"
    }
    assert after["MUG-04"] > max(q for _, q in dirty)  # the one real change is stamped


def test_shopify_and_woocommerce_exports_are_full_imports(shop: Path) -> None:
    data = Path(__file__).parents[1] / "data"
    assert run_cli("-w", shop, "import", "shopify", data / "shopify" / "clean.csv").code in (0, 4)
    assert run_cli(
        "-w", shop, "import", "woocommerce", data / "woocommerce" / "variable_product.csv"
    ).code in (0, 4)
    assert sql(shop, "SELECT format, source, complete FROM imports ORDER BY id") == [
        ("shopify", "clean.csv", 1), ("woocommerce", "variable_product.csv", 1),
    ]  # fmt: skip
    stamped = sql(shop, "SELECT count(*) FROM products WHERE last_import IS NOT NULL")[0][0]
    assert stamped == sql(shop, "SELECT count(*) FROM products")[0][0] > 0


def test_a_prune_of_a_whole_catalog_holds_none_of_it(tmp_path: Path, monkeypatch) -> None:
    from multichan.catalog import prune as pr
    from multichan.catalog.schema import open_catalog

    class Counted(pr.Candidate):
        alive = peak = 0

        def __post_init__(self) -> None:
            Counted.alive += 1
            Counted.peak = max(Counted.peak, Counted.alive)

        def __del__(self) -> None:
            Counted.alive -= 1

    monkeypatch.setattr(pr, "Candidate", Counted)
    db = open_catalog(tmp_path / "catalog.db")
    n = 20_000
    with db.conn:
        for i, when in ((1, "2026-01-01T00:00:00Z"), (2, "2026-01-02T00:00:00Z")):
            db.conn.execute(
                "INSERT INTO imports (id, format, source, started_at, ended_at, complete, rows) "
                "VALUES (?, 'csv', 'shop.csv', ?, ?, 1, ?)", [i, when, when, n],
            )  # fmt: skip
        db.conn.executemany(  # the second import listed none of them: a wrong file
            "INSERT INTO products (sku, title, price, last_import) VALUES (?, 'T', '1.00', 1)",
            [(f"S{i:06d}",) for i in range(n)],
        )
    found = pr.find(db)
    assert (found.total, found.active_candidates, found.active) == (n, n, n)
    assert sum(1 for _ in found.candidates()) == n and Counted.peak <= pr.CHUNK + 1
    assert pr.archive(db, found, max_percent=pr.DEFAULT_LIMIT, force=True) == n
    assert next(found.archived()) == "S000000" and sum(1 for _ in found.archived()) == n
    assert db.execute("SELECT count(*) FROM products WHERE status = 'archived'").fetchone()[0] == n
