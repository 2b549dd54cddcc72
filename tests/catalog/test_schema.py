"""Schema versions: an old workspace opens with newer code and keeps its data."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from multichan.catalog.schema import MIGRATIONS, SCHEMA_VERSION, open_catalog
from multichan.errors import WorkspaceError


def test_a_version_1_catalog_is_migrated_without_losing_rows(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0] + "\nPRAGMA user_version = 1;")
    conn.execute("INSERT INTO products (sku, title, price) VALUES ('A', 'Alpha', '1.00')")
    conn.commit()
    conn.close()
    db = open_catalog(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert "exports" in db.table_names()
    assert db.execute("SELECT title FROM products").fetchall() == [("Alpha",)]


def test_a_catalog_from_a_newer_multichan_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(WorkspaceError, match="newer than this multichan"):
        open_catalog(path)


def test_tables_explain_themselves(tmp_path: Path) -> None:
    db = open_catalog(tmp_path / "catalog.db")
    assert {"products", "images", "locations", "stock", "overrides", "exports"} <= set(
        db.table_names()
    )
    assert [fk.other_table for fk in db["stock"].foreign_keys] == ["locations", "products"] or {
        fk.other_table for fk in db["stock"].foreign_keys
    } == {"locations", "products"}
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(
            "INSERT INTO products (sku, title, price, status) VALUES ('X', 'x', '1.00', 'deleted')"
        )


def test_two_processes_opening_an_old_catalog_migrate_it_once(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "catalog.db"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0] + "\nPRAGMA user_version = 1;")
    conn.close()
    code = (
        "import sys, pathlib\n"
        "from multichan.catalog.schema import open_catalog\n"
        "open_catalog(pathlib.Path(sys.argv[1]))\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], stderr=subprocess.PIPE)
             for _ in range(4)]  # fmt: skip
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    db = open_catalog(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
