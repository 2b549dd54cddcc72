"""Products that vanished from their source (``multichan catalog prune``): found, then archived.

Every full import (``importers.base.recorded_upsert``: a whole file of one format, read to its
end and committed; see there for what is partial) stamps the products it lists with its id in
``products.last_import``. A product whose last import is older than the latest full import
of the same format and source (the file's name, or ``import --source``) was not in that
file: the shop deleted it. Such products are *candidates*, unless already archived. A product
with no last import (made by hand, the demo catalog, added only by a partial file) has no
source to vanish from and is never one. A killed or failed import never completes, so it is
never the basis of a prune.

Pruning archives (status ``archived``), never deletes: the seller's data, stock history and
orders stay, and an archived product leaves each channel through the normal plan (a delist).
That plan refuses to delist more than a channel's ``max_delist_percent`` of its listings, so
prune refuses, unless forced, to archive more than the strictest enabled channel's share of
the active products (``limit``): a file cut short by its export would otherwise archive half a
catalog.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlite_utils

from multichan.catalog.schema import transaction
from multichan.catalog.store import now
from multichan.errors import ItemsRejected, NotFound, did_you_mean

DEFAULT_LIMIT = Decimal(20)  # config.RULES' max_delist_percent, when no channel says otherwise

CANDIDATES_SQL = """
WITH latest AS (
    SELECT format, source, max(id) AS id FROM imports WHERE complete = 1 GROUP BY format, source
)
SELECT p.sku, p.title, p.status,
       COALESCE((SELECT SUM(s.quantity - s.committed) FROM stock s WHERE s.sku = p.sku), 0)
           AS quantity,
       i.id AS last_import, i.format AS format, i.source AS source, i.started_at AS last_seen,
       l.id AS basis
FROM products p
JOIN imports i ON i.id = p.last_import
JOIN latest l ON l.format = i.format AND l.source = i.source
WHERE p.last_import < l.id AND p.status != 'archived' {where}
ORDER BY p.sku
"""
FOUND = "prune_candidates"  # the TEMP table a prune's candidates are kept in
FIELDS = ("sku", "title", "status", "quantity", "last_import", "format", "source", "last_seen",
          "basis")  # fmt: skip
CHUNK = 1000


@dataclass(frozen=True)
class Candidate:
    """A product its source's latest full import no longer lists."""

    sku: str
    title: str
    status: str
    quantity: int  # available over all locations
    last_import: int  # the last full import that listed it
    format: str
    source: str
    last_seen: str  # when that import ran
    basis: int  # the full import it is missing from

    def as_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku, "title": self.title, "status": self.status,
            "quantity": self.quantity, "format": self.format, "source": self.source,
            "last_seen": self.last_seen, "last_import": self.last_import, "basis": self.basis,
        }  # fmt: skip


@dataclass
class Prune:
    """What a prune found: how many candidates (kept in the TEMP table ``FOUND`` of ``db``'s
    connection, read back a chunk at a time: a prune of a whole catalog holds none of it), the
    full imports they are missing from, how many products have no import at all (never
    pruned) and how many are active (the share); after ``archive``, how many it archived."""

    db: sqlite_utils.Database
    total: int = 0
    active_candidates: int = 0
    bases: list[dict[str, Any]] = field(default_factory=list)  # latest full import per source
    never_imported: int = 0
    active: int = 0
    archived_count: int = 0

    def candidates(self) -> Iterator[Candidate]:
        """The candidates, in SKU order."""
        cursor = self.db.conn.execute(f"SELECT {', '.join(FIELDS)} FROM {FOUND} ORDER BY sku")
        while rows := cursor.fetchmany(CHUNK):
            yield from (Candidate(*row) for row in rows)

    def archived(self) -> Iterator[str]:
        """The SKUs ``archive`` archived, in SKU order."""
        cursor = self.db.conn.execute(f"SELECT sku FROM {FOUND} WHERE archived ORDER BY sku")
        while rows := cursor.fetchmany(CHUNK):
            yield from (sku for (sku,) in rows)

    @property
    def share(self) -> Decimal:
        """The percentage of active products archiving the candidates takes off the channels."""
        if not self.active:
            return Decimal(0)
        return Decimal(self.active_candidates) * 100 / self.active

    def as_dict(self) -> dict[str, Any]:
        """As JSON; ``candidates`` and ``archived`` are iterators (written as they are read)."""
        return {
            "candidates": (c.as_dict() for c in self.candidates()),
            "bases": self.bases, "never_imported": self.never_imported,
            "active": self.active, "share_percent": round(float(self.share), 1),
            "archived": self.archived(),
        }  # fmt: skip


def find(db: sqlite_utils.Database, source: str | None = None) -> Prune:
    """The products missing from their source's latest full import (``source``: only that
    source's), kept in ``FOUND``; NotFound for a source no full import came from."""
    sources = [r[0] for r in db.execute("SELECT DISTINCT source FROM imports WHERE complete = 1")]
    if source is not None and source not in sources:
        raise NotFound(
            f"no full import from source {source!r} (sources: "
            f"{', '.join(sorted(sources)) or 'none yet'}){did_you_mean(source, sources)}"
        )
    where, params = ("AND i.source = ?", [source]) if source is not None else ("", [])
    conn = db.conn
    conn.execute(f"DROP TABLE IF EXISTS temp.{FOUND}")
    conn.execute(
        f"CREATE TEMP TABLE {FOUND} (sku TEXT PRIMARY KEY, title TEXT, status TEXT, quantity "
        "INTEGER, last_import INTEGER, format TEXT, source TEXT, last_seen TEXT, basis INTEGER, "
        "archived INTEGER NOT NULL DEFAULT 0)"
    )
    conn.execute(
        f"INSERT INTO {FOUND} ({', '.join(FIELDS)}) " + CANDIDATES_SQL.format(where=where), params
    )
    conn.commit()  # the TEMP table only: an archive then takes its own transaction
    found = Prune(db)
    found.total, found.active_candidates = conn.execute(
        f"SELECT count(*), coalesce(sum(status = 'active'), 0) FROM {FOUND}"
    ).fetchone()
    query = (
        "SELECT id, format, source, started_at, rows FROM imports WHERE id IN "
        "(SELECT max(id) FROM imports WHERE complete = 1 GROUP BY format, source)"
        + (" AND source = ?" if source is not None else "")
        + " ORDER BY format, source"
    )
    names = ("id", "format", "source", "started_at", "rows")
    found.bases = [dict(zip(names, r, strict=True)) for r in db.execute(query, params)]
    found.never_imported = db.execute(
        "SELECT count(*) FROM products WHERE last_import IS NULL AND status != 'archived'"
    ).fetchone()[0]
    found.active = db.execute("SELECT count(*) FROM products WHERE status = 'active'").fetchone()[0]
    return found


def limit(config: Any | None) -> Decimal:
    """The share of active products prune archives without --force: the smallest
    ``max_delist_percent`` of the enabled channels (``config`` None, or no channel: 20)."""
    shares = [c.max_delist_percent for c in (config.channels.values() if config else ())
              if c.enabled]  # fmt: skip
    return min(shares, default=DEFAULT_LIMIT)


def archive(
    db: sqlite_utils.Database,
    found: Prune,
    *,
    max_percent: Decimal,
    force: bool = False,
) -> int:
    """Archive ``found``'s candidates (status ``archived``; a seller edit of their status
    follows) in one transaction, and return how many (``found.archived()`` names them);
    ItemsRejected, nothing written, when they are more than ``max_percent`` of the active
    products and not ``force``. A candidate that changed since ``find`` (archived, or imported
    again) is left alone."""
    if not found.total:
        return 0
    if found.share > max_percent and not force:
        raise ItemsRejected(
            f"prune would archive {found.active_candidates} of {found.active} active products "
            f"({found.share:.0f}%; the channels' max_delist_percent is {max_percent}); nothing "
            "was archived. Check that the last import read the whole export, then rerun with "
            "--force if this is intended"
        )
    stamp = now()
    conn = db.conn
    with transaction(db, "prune"):
        marked = conn.execute(
            f"UPDATE {FOUND} SET archived = 1 WHERE EXISTS (SELECT 1 FROM products p WHERE "
            f"p.sku = {FOUND}.sku AND p.last_import = {FOUND}.last_import AND p.status != "
            "'archived')"
        ).rowcount
        conn.execute(
            f"UPDATE products SET status = 'archived', updated_at = ? WHERE sku IN (SELECT sku "
            f"FROM {FOUND} WHERE archived)",
            [stamp],
        )
        conn.execute(
            "UPDATE product_edits SET value = '\"archived\"', edited_at = ? "
            f"WHERE field = 'status' AND sku IN (SELECT sku FROM {FOUND} WHERE archived)",
            [stamp],
        )
    found.archived_count = marked
    return marked
