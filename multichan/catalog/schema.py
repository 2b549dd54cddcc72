"""Catalog schema and its migrations.

``PRAGMA user_version`` holds the schema version; each migration moves it forward by one inside
a transaction, so an old workspace opens with newer code and never loses data. Tables are plain,
named for what they hold, with foreign keys, so the file explains itself in Datasette.
"""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from multichan.errors import WorkspaceError

V1 = """
CREATE TABLE products (
    sku TEXT PRIMARY KEY NOT NULL CHECK (length(trim(sku)) > 0),
    item_group_id TEXT,
    handle TEXT,
    title TEXT NOT NULL,
    description TEXT,
    brand TEXT,
    gtin TEXT,
    mpn TEXT,
    condition TEXT NOT NULL DEFAULT 'new' CHECK (condition IN ('new', 'refurbished', 'used')),
    price TEXT NOT NULL,
    sale_price TEXT,
    currency TEXT NOT NULL DEFAULT 'USD',
    weight_grams INTEGER,
    product_type TEXT,
    google_product_category TEXT,
    link TEXT,
    color TEXT,
    size TEXT,
    material TEXT,
    pattern TEXT,
    gender TEXT,
    age_group TEXT,
    options TEXT,
    tags TEXT,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'draft', 'archived')),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX products_item_group_id ON products (item_group_id);
CREATE INDEX products_status ON products (status);

CREATE TABLE images (
    sku TEXT NOT NULL REFERENCES products (sku) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    url TEXT NOT NULL,
    PRIMARY KEY (sku, position)
);

CREATE TABLE locations (
    code TEXT PRIMARY KEY NOT NULL,
    name TEXT
);

CREATE TABLE stock (
    sku TEXT NOT NULL REFERENCES products (sku) ON DELETE CASCADE,
    location TEXT NOT NULL REFERENCES locations (code),
    quantity INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (sku, location)
);

CREATE TABLE overrides (
    channel TEXT NOT NULL,
    sku TEXT NOT NULL REFERENCES products (sku) ON DELETE CASCADE,
    title TEXT,
    description TEXT,
    price TEXT,
    excluded INTEGER NOT NULL DEFAULT 0 CHECK (excluded IN (0, 1)),
    PRIMARY KEY (channel, sku)
);

CREATE VIEW product_availability AS
SELECT p.sku, p.title, p.status, p.price, p.currency,
       COALESCE((SELECT SUM(s.quantity) FROM stock s WHERE s.sku = p.sku), 0) AS quantity
FROM products p;
"""

V2 = """
CREATE TABLE exports (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    started_at TEXT NOT NULL,
    path TEXT NOT NULL,
    items INTEGER NOT NULL,
    left_out INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    uploaded_to TEXT
);
CREATE INDEX exports_channel ON exports (channel, id);
"""

V3 = """
CREATE TABLE push_state (
    channel TEXT NOT NULL,
    sku TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('listings', 'prices', 'quantities')),
    hash TEXT,
    snapshot TEXT,
    remote_ids TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    last_error TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (channel, sku, kind)
);

CREATE TABLE journal_runs (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    command TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL,
    exit_code INTEGER,
    counts TEXT NOT NULL DEFAULT '{}',
    message TEXT
);
CREATE INDEX journal_runs_channel ON journal_runs (channel, id);

CREATE TABLE journal_items (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES journal_runs (id) ON DELETE CASCADE,
    sku TEXT NOT NULL,
    kind TEXT NOT NULL,
    action TEXT NOT NULL,
    batch INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    message TEXT,
    at TEXT NOT NULL
);
CREATE INDEX journal_items_run ON journal_items (run_id);
"""

MIGRATIONS: list[str] = [V1, V2, V3]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite_utils.Database) -> int:
    """Apply every migration newer than the file's version; return the resulting version."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise WorkspaceError(
            f"catalog schema version {version} is newer than this multichan understands "
            f"({SCHEMA_VERSION}); upgrade multichan"
        )
    for number in range(version, SCHEMA_VERSION):
        # one write transaction per step, taken before the version is read again: two runs
        # opening an old catalog at once migrate it once; tables and version move together
        conn = db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] > number:
                conn.execute("ROLLBACK")  # another process got here first
                continue
            for statement in MIGRATIONS[number].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return SCHEMA_VERSION


def open_catalog(path: Path) -> sqlite_utils.Database:
    """Open (or create) the catalog at ``path`` with foreign keys on and the schema current."""
    db = sqlite_utils.Database(path)
    db.conn.execute("PRAGMA foreign_keys = ON")
    db.conn.execute("PRAGMA journal_mode = WAL")
    db.conn.execute("PRAGMA busy_timeout = 5000")
    migrate(db)
    return db
