"""Catalog schema and its migrations.

``PRAGMA user_version`` holds the schema version; each migration moves it forward by one inside
a transaction, so an old workspace opens with newer code and never loses data. Tables are plain,
named for what they hold, with foreign keys, so the file explains itself in Datasette.

Stock (V4): ``stock.quantity`` is what is on hand at a location (what a person counts),
``stock.committed`` the units of open, paid, unshipped order lines allocated there; the view
``stock_levels`` shows ``available = on_hand - committed``, which offers use. Every change is a
row of ``stock_moves``. ``orders`` and ``order_lines`` hold what each channel reported and, per
line, what of it was applied to stock; ``order_cursors`` where each channel's pull goes on.

Compare-and-set (V5): ``push_state.channel_held`` is how many units the channel's own orders
had taken from its count when a quantity was confirmed, so the orders pulled since tell what
the channel should hold now (``sync/state.expected_quantities``); ``order_cursors.pulled_at``
is when the channel's last complete pull began.

Shipments (V6): ``shipments`` (one per parcel: channel, order, multichan's key, carrier and
tracking, whether multichan recorded it or the channel did, and whether it was sent to the
channel) and ``shipment_lines`` (which order lines, how many units). A line's units shipped
by multichan leave stock when recorded, before the channel says so.

Money (V8): ``orders.currency`` and, per line, ``unit_price`` and ``line_total`` (what the
buyer pays for the line's ordered units after discounts, tax aside), as the channel reported
them, in two-decimal text, for revenue in reports.

Low-stock alerts (V7): ``products.low_stock_below`` overrides the configured threshold for one
SKU (over all its locations), ``alert_thresholds`` adds a threshold for one SKU at one
location. ``alert_state`` is what each route (``email``, ``webhook``) was last told about a SKU
(``location`` ``*``: all its locations together): ``low``, ``out`` or ``oversold``, since when,
and when it was sent. A SKU with no row is ``ok``. A row changes only after its route took the
message, so a failed delivery is sent again by the next run.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
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

V4 = """
ALTER TABLE stock ADD COLUMN committed INTEGER NOT NULL DEFAULT 0;

CREATE TABLE stock_moves (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    sku TEXT NOT NULL,
    location TEXT NOT NULL,
    on_hand_change INTEGER NOT NULL DEFAULT 0,
    committed_change INTEGER NOT NULL DEFAULT 0,
    on_hand_after INTEGER NOT NULL,
    committed_after INTEGER NOT NULL,
    reason TEXT NOT NULL
        CHECK (reason IN ('import', 'manual', 'order', 'cancel', 'ship', 'restock')),
    channel TEXT,
    order_id TEXT,
    line_id TEXT,
    note TEXT
);
CREATE INDEX stock_moves_sku ON stock_moves (sku, location, id);
CREATE INDEX stock_moves_order ON stock_moves (channel, order_id);

CREATE TABLE orders (
    channel TEXT NOT NULL,
    order_id TEXT NOT NULL,
    number TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'open', 'closed', 'cancelled')),
    channel_status TEXT,
    created_at TEXT,
    updated_at TEXT,
    baseline INTEGER NOT NULL DEFAULT 0 CHECK (baseline IN (0, 1)),
    first_seen_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    PRIMARY KEY (channel, order_id)
);
CREATE INDEX orders_updated ON orders (channel, updated_at);

CREATE TABLE order_lines (
    channel TEXT NOT NULL,
    order_id TEXT NOT NULL,
    line_id TEXT NOT NULL,
    channel_sku TEXT,
    remote_ids TEXT NOT NULL DEFAULT '{}',
    title TEXT,
    ordered INTEGER NOT NULL DEFAULT 0,
    unshipped INTEGER NOT NULL DEFAULT 0,
    shipped INTEGER NOT NULL DEFAULT 0,
    returned INTEGER NOT NULL DEFAULT 0,
    refunded INTEGER NOT NULL DEFAULT 0,
    problem TEXT,
    sku TEXT,
    location TEXT,
    committed_applied INTEGER NOT NULL DEFAULT 0,
    consumed_applied INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (channel, order_id, line_id),
    FOREIGN KEY (channel, order_id) REFERENCES orders (channel, order_id) ON DELETE CASCADE
);
CREATE INDEX order_lines_sku ON order_lines (sku);
CREATE INDEX order_lines_unmatched ON order_lines (channel) WHERE sku IS NULL;

CREATE TABLE order_cursors (
    channel TEXT PRIMARY KEY NOT NULL,
    baseline_at TEXT NOT NULL,
    cursor TEXT,
    swept_at TEXT,
    updated_at TEXT NOT NULL
);

CREATE TABLE channel_tokens (
    key TEXT PRIMARY KEY NOT NULL,
    token TEXT NOT NULL,
    expires_at REAL NOT NULL
);

DROP VIEW product_availability;
CREATE VIEW product_availability AS
SELECT p.sku, p.title, p.status, p.price, p.currency,
       COALESCE((SELECT SUM(s.quantity) FROM stock s WHERE s.sku = p.sku), 0) AS on_hand,
       COALESCE((SELECT SUM(s.committed) FROM stock s WHERE s.sku = p.sku), 0) AS committed,
       COALESCE((SELECT SUM(s.quantity - s.committed) FROM stock s WHERE s.sku = p.sku), 0)
           AS quantity
FROM products p;

CREATE VIEW stock_levels AS
SELECT sku, location, quantity AS on_hand, committed, quantity - committed AS available,
       updated_at
FROM stock;
"""

V5 = """
ALTER TABLE push_state ADD COLUMN channel_held INTEGER;
ALTER TABLE order_cursors ADD COLUMN pulled_at TEXT;
CREATE INDEX order_lines_channel_sku ON order_lines (channel, sku);
"""

V6 = """
CREATE TABLE shipments (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    order_id TEXT NOT NULL,
    shipment_key TEXT NOT NULL,
    carrier TEXT,
    tracking_number TEXT,
    tracking_url TEXT,
    shipped_at TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT 'multichan' CHECK (source IN ('multichan', 'channel')),
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'rejected')),
    remote_id TEXT,
    sent_tracking TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (channel, order_id, shipment_key),
    FOREIGN KEY (channel, order_id) REFERENCES orders (channel, order_id)
);
CREATE INDEX shipments_to_send ON shipments (channel, status) WHERE source = 'multichan';

CREATE TABLE shipment_lines (
    shipment_id INTEGER NOT NULL REFERENCES shipments (id) ON DELETE CASCADE,
    line_id TEXT NOT NULL,
    sku TEXT,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (shipment_id, line_id)
);

CREATE INDEX orders_created ON orders (created_at, channel);
"""

V7 = """
ALTER TABLE products ADD COLUMN low_stock_below INTEGER
    CHECK (low_stock_below IS NULL OR low_stock_below >= 0);

CREATE TABLE alert_thresholds (
    sku TEXT NOT NULL REFERENCES products (sku) ON DELETE CASCADE,
    location TEXT NOT NULL REFERENCES locations (code),
    low_stock_below INTEGER NOT NULL CHECK (low_stock_below >= 0),
    PRIMARY KEY (sku, location)
);

CREATE TABLE alert_state (
    sku TEXT NOT NULL REFERENCES products (sku) ON DELETE CASCADE,
    location TEXT NOT NULL DEFAULT '*',
    route TEXT NOT NULL CHECK (route IN ('email', 'webhook')),
    state TEXT NOT NULL CHECK (state IN ('ok', 'low', 'out', 'oversold')),
    since TEXT NOT NULL,
    notified_at TEXT NOT NULL,
    PRIMARY KEY (sku, location, route)
);
"""

V8 = """
ALTER TABLE orders ADD COLUMN currency TEXT;
ALTER TABLE order_lines ADD COLUMN unit_price TEXT;
ALTER TABLE order_lines ADD COLUMN line_total TEXT;
"""

# seller edits that imports leave alone (multichan.catalog.edits) and stock not counted
V9 = """
ALTER TABLE products ADD COLUMN stock_tracking TEXT NOT NULL DEFAULT 'tracked'
    CHECK (stock_tracking IN ('tracked', 'untracked', 'continue'));

CREATE TABLE product_edits (
    sku TEXT NOT NULL REFERENCES products (sku) ON DELETE CASCADE,
    field TEXT NOT NULL,
    value TEXT,
    edited_at TEXT NOT NULL,
    imported TEXT,
    imported_at TEXT,
    PRIMARY KEY (sku, field)
)
"""

# what outlasts a run: quotas (multichan.sync.quotas: requests per channel and writes per
# listing, in hour buckets), asynchronous jobs (multichan.sync.jobs), what an updating
# feed sent last (multichan.feeds.withdrawn), and the SKUs written since each channel's last
# complete push (multichan.sync.changes: every write of a SKU's rows stamps it)
V10 = """
CREATE TABLE channel_usage (
    channel TEXT NOT NULL,
    hour TEXT NOT NULL,
    requests INTEGER NOT NULL,
    PRIMARY KEY (channel, hour)
) WITHOUT ROWID;
CREATE TABLE listing_revisions (
    channel TEXT NOT NULL,
    listing TEXT NOT NULL,
    hour TEXT NOT NULL,
    revisions INTEGER NOT NULL,
    PRIMARY KEY (channel, listing, hour)
) WITHOUT ROWID;
CREATE INDEX push_state_status ON push_state (channel, status);
CREATE TABLE dirty_skus (sku TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX dirty_skus_seq ON dirty_skus (seq);
CREATE TABLE plan_marks (
    channel TEXT PRIMARY KEY,
    basis TEXT NOT NULL,
    seq INTEGER NOT NULL,
    full_at TEXT NOT NULL
);
CREATE TRIGGER products_insert_stamp AFTER INSERT ON products BEGIN
    INSERT INTO dirty_skus VALUES (NEW.sku, (SELECT coalesce(max(seq), 0) + 1 FROM dirty_skus))
        ON CONFLICT (sku) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER products_update_stamp AFTER UPDATE ON products BEGIN
    INSERT INTO dirty_skus VALUES (NEW.sku, (SELECT coalesce(max(seq), 0) + 1 FROM dirty_skus))
        ON CONFLICT (sku) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER products_delete_stamp AFTER DELETE ON products BEGIN
    INSERT INTO dirty_skus VALUES (OLD.sku, (SELECT coalesce(max(seq), 0) + 1 FROM dirty_skus))
        ON CONFLICT (sku) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER images_insert_stamp AFTER INSERT ON images BEGIN
    INSERT INTO dirty_skus VALUES (NEW.sku, (SELECT coalesce(max(seq), 0) + 1 FROM dirty_skus))
        ON CONFLICT (sku) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER images_update_stamp AFTER UPDATE ON images BEGIN
    INSERT INTO dirty_skus VALUES (NEW.sku, (SELECT coalesce(max(seq), 0) + 1 FROM dirty_skus))
        ON CONFLICT (sku) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER images_delete_stamp AFTER DELETE ON images BEGIN
    INSERT INTO dirty_skus VALUES (OLD.sku, (SELECT coalesce(max(seq), 0) + 1 FROM dirty_skus))
        ON CONFLICT (sku) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER stock_insert_stamp AFTER INSERT ON stock BEGIN
    INSERT INTO dirty_skus VALUES (NEW.sku, (SELECT coalesce(max(seq), 0) + 1 FROM dirty_skus))
        ON CONFLICT (sku) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER stock_update_stamp AFTER UPDATE ON stock BEGIN
    INSERT INTO dirty_skus VALUES (NEW.sku, (SELECT coalesce(max(seq), 0) + 1 FROM dirty_skus))
        ON CONFLICT (sku) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER stock_delete_stamp AFTER DELETE ON stock BEGIN
    INSERT INTO dirty_skus VALUES (OLD.sku, (SELECT coalesce(max(seq), 0) + 1 FROM dirty_skus))
        ON CONFLICT (sku) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER overrides_insert_stamp AFTER INSERT ON overrides BEGIN
    INSERT INTO dirty_skus VALUES (NEW.sku, (SELECT coalesce(max(seq), 0) + 1 FROM dirty_skus))
        ON CONFLICT (sku) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER overrides_update_stamp AFTER UPDATE ON overrides BEGIN
    INSERT INTO dirty_skus VALUES (NEW.sku, (SELECT coalesce(max(seq), 0) + 1 FROM dirty_skus))
        ON CONFLICT (sku) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER overrides_delete_stamp AFTER DELETE ON overrides BEGIN
    INSERT INTO dirty_skus VALUES (OLD.sku, (SELECT coalesce(max(seq), 0) + 1 FROM dirty_skus))
        ON CONFLICT (sku) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER alert_thresholds_insert_stamp AFTER INSERT ON alert_thresholds BEGIN
    INSERT INTO dirty_skus VALUES (NEW.sku, (SELECT coalesce(max(seq), 0) + 1 FROM dirty_skus))
        ON CONFLICT (sku) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER alert_thresholds_update_stamp AFTER UPDATE ON alert_thresholds BEGIN
    INSERT INTO dirty_skus VALUES (NEW.sku, (SELECT coalesce(max(seq), 0) + 1 FROM dirty_skus))
        ON CONFLICT (sku) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER alert_thresholds_delete_stamp AFTER DELETE ON alert_thresholds BEGIN
    INSERT INTO dirty_skus VALUES (OLD.sku, (SELECT coalesce(max(seq), 0) + 1 FROM dirty_skus))
        ON CONFLICT (sku) DO UPDATE SET seq = excluded.seq;
END;
CREATE TABLE feed_items (
    channel TEXT NOT NULL,
    sku TEXT NOT NULL,
    store TEXT NOT NULL,
    PRIMARY KEY (channel, sku, store)
) WITHOUT ROWID;
CREATE TABLE push_jobs (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    operation TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('submitting', 'submitted', 'done', 'lost')),
    ticket TEXT,
    run_id INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX push_jobs_open ON push_jobs (channel, status) WHERE status != 'done';
CREATE TABLE push_job_items (
    job_id INTEGER NOT NULL REFERENCES push_jobs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    sku TEXT NOT NULL,
    kind TEXT NOT NULL,
    action TEXT NOT NULL,
    hash TEXT,
    snapshot TEXT,
    PRIMARY KEY (job_id, position, kind)
);
"""

# what each journal item sent (multichan replay), the file an export kept (replay of an
# export run), bundles: a bundle's stock is its components' (multichan.catalog.bundles),
# and each import with the products it last wrote (multichan catalog prune)
V11 = """
ALTER TABLE journal_items ADD COLUMN snapshot TEXT;
ALTER TABLE exports ADD COLUMN kept_path TEXT;
CREATE TABLE bundle_components (
    bundle TEXT NOT NULL REFERENCES products (sku) ON DELETE CASCADE,
    component TEXT NOT NULL REFERENCES products (sku),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (bundle, component)
) WITHOUT ROWID;
CREATE INDEX bundle_components_component ON bundle_components (component);
CREATE TRIGGER stock_insert_bundle_stamp AFTER INSERT ON stock
WHEN EXISTS (SELECT 1 FROM bundle_components WHERE component = NEW.sku) BEGIN
    INSERT INTO dirty_skus SELECT bundle, (SELECT coalesce(max(seq), 0) + 1 FROM dirty_skus)
        FROM bundle_components WHERE component = NEW.sku
        ON CONFLICT (sku) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER stock_update_bundle_stamp AFTER UPDATE ON stock
WHEN EXISTS (SELECT 1 FROM bundle_components WHERE component = NEW.sku) BEGIN
    INSERT INTO dirty_skus SELECT bundle, (SELECT coalesce(max(seq), 0) + 1 FROM dirty_skus)
        FROM bundle_components WHERE component = NEW.sku
        ON CONFLICT (sku) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER stock_delete_bundle_stamp AFTER DELETE ON stock
WHEN EXISTS (SELECT 1 FROM bundle_components WHERE component = OLD.sku) BEGIN
    INSERT INTO dirty_skus SELECT bundle, (SELECT coalesce(max(seq), 0) + 1 FROM dirty_skus)
        FROM bundle_components WHERE component = OLD.sku
        ON CONFLICT (sku) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER bundle_components_insert_stamp AFTER INSERT ON bundle_components BEGIN
    INSERT INTO dirty_skus
        VALUES (NEW.bundle, (SELECT coalesce(max(seq), 0) + 1 FROM dirty_skus))
        ON CONFLICT (sku) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER bundle_components_update_stamp AFTER UPDATE ON bundle_components BEGIN
    INSERT INTO dirty_skus
        VALUES (NEW.bundle, (SELECT coalesce(max(seq), 0) + 1 FROM dirty_skus))
        ON CONFLICT (sku) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER bundle_components_delete_stamp AFTER DELETE ON bundle_components BEGIN
    INSERT INTO dirty_skus
        VALUES (OLD.bundle, (SELECT coalesce(max(seq), 0) + 1 FROM dirty_skus))
        ON CONFLICT (sku) DO UPDATE SET seq = excluded.seq;
END;
CREATE TABLE imports (
    id INTEGER PRIMARY KEY,
    format TEXT NOT NULL,
    source TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    complete INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
    rows INTEGER NOT NULL DEFAULT 0
);
ALTER TABLE products ADD COLUMN last_import INTEGER;
"""

# a SKU's journal lines, newest first (multichan explain: what was last sent, and when)
V12 = """
CREATE INDEX journal_items_sku ON journal_items (sku, id);
"""

MIGRATIONS: list[str] = [V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12]
SCHEMA_VERSION = len(MIGRATIONS)


def statements(script: str) -> Iterator[str]:
    """The SQL statements of ``script``, a trigger's body (``BEGIN ...; END``) kept whole."""
    buffer = ""
    for part in script.split(";"):
        buffer += part + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \n;"):
                yield buffer
            buffer = ""


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
            for statement in statements(MIGRATIONS[number]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return SCHEMA_VERSION


def open_catalog(path: Path) -> sqlite_utils.Database:
    """Open (or create) the catalog at ``path`` with foreign keys on and the schema current.
    A file that is no SQLite database (damaged, or another file under the name), or that
    cannot be written where it must be, is one WorkspaceError naming it (exit 3)."""
    import sqlite3

    db = sqlite_utils.Database(path)
    try:
        db.conn.execute("PRAGMA foreign_keys = ON")
        db.conn.execute("PRAGMA busy_timeout = 5000")
        db.conn.execute("PRAGMA journal_mode = WAL")
        migrate(db)
    except sqlite3.DatabaseError as exc:
        db.close()
        if "locked" in str(exc) or "busy" in str(exc):
            raise
        if isinstance(exc, sqlite3.OperationalError):  # read-only, no space, no access
            raise WorkspaceError(f"cannot open the catalog {path}: {exc}") from None
        raise WorkspaceError(
            f"{path} is not a usable catalog ({exc})",
            hint=f"restore it from a backup (multichan init keeps {path.name}.bak-* copies)",
        ) from None
    return db


@contextlib.contextmanager
def transaction(db: sqlite_utils.Database, name: str = "multichan") -> Iterator[None]:
    """One write transaction (``BEGIN IMMEDIATE``), or a savepoint of the caller's when one is
    open: committed together, or rolled back together."""
    conn = db.conn
    nested = conn.in_transaction
    conn.execute(f"SAVEPOINT {name}" if nested else "BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if nested:
            conn.execute(f"ROLLBACK TO {name}")
            conn.execute(f"RELEASE {name}")
        elif conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute(f"RELEASE {name}" if nested else "COMMIT")
