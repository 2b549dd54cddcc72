"""Catalog checks: GTIN check digits, the per-SKU problems `catalog check` reports, and text
cells that are not UTF-8.

Another tool writing the catalog may leave bytes that are not UTF-8 in a TEXT cell; SQLite keeps
them and Python's sqlite3 then fails every read of that cell ("Could not decode to UTF-8
column ..."). ``bad_text`` finds such cells (table, the row's SKU or key, column), ``text_error``
turns that failure, wherever a command met it, into one WorkspaceError naming them (exit 3),
and ``check_database`` lists every one of them as a problem before checking the rest.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from multichan.errors import WorkspaceError

MAX_TITLE = 150
GTIN_LENGTHS = (8, 12, 13, 14)


# the ASCII codes' '0' offsets in the weighted sum below, per length
GTIN_OFFSETS = {n: 48 * (n + 2 * (n // 2)) for n in GTIN_LENGTHS}


def gtin_valid(code: str | None) -> bool:
    """True for a GTIN-8/12/13/14 whose GS1 check digit is right (not all zeros).

    Weights 3, 1, 3, ... from the right of the body, 1 for the check digit; the sum of all
    must end in 0. That is every digit once plus every second one from the right twice more,
    summed over the ASCII bytes directly: it runs once per item in every feed.
    """
    if not code:
        return False
    offset = GTIN_OFFSETS.get(len(code))
    if offset is None or not (code.isascii() and code.isdigit()):
        return False
    digits = code.encode()
    plain = sum(digits)
    return (plain + 2 * sum(digits[-2::-2]) - offset) % 10 == 0 and plain != 48 * len(code)


# --- the rules a catalog product and a channel's offer share (feeds.formats uses them) -------
TITLE_EMPTY = "title is empty"
DESCRIPTION_REQUIRED = "description is required"
IDENTIFIERS_REQUIRED = "brand, gtin or mpn is required (identifier rules)"


def identified(brand: str | None, gtin: str | None, mpn: str | None) -> bool:
    """Whether a product names a brand, a GTIN or an MPN (Google's identifier rules)."""
    return bool(brand or gtin or mpn)


def price_problem(price: Decimal) -> str | None:
    """What is wrong with a price a channel is to show, or None."""
    return None if price > 0 else f"price {price} must be above zero"


@dataclass(frozen=True)
class Problem:
    sku: str
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"sku": self.sku, "field": self.field, "problem": self.message}


def check_product(p: dict[str, Any], group_sizes: dict[str, int]) -> list[Problem]:
    """Problems of one product as ``iter_catalog`` yields it."""
    sku = p["sku"]
    out: list[Problem] = []

    def add(field: str, message: str) -> None:
        out.append(Problem(sku, field, message))

    title = (p.get("title") or "").strip()
    if not title:
        add("title", TITLE_EMPTY)
    elif len(title) > MAX_TITLE:
        add("title", f"title is {len(title)} characters; channels allow {MAX_TITLE}")
    if p.get("price") in (None, ""):
        add("price", "missing price")
    elif price_problem(Decimal(p["price"])):
        add("price", price_problem(Decimal(p["price"])) or "")
    elif p.get("sale_price") and Decimal(p["sale_price"]) > Decimal(p["price"]):
        add("sale_price", f"sale price {p['sale_price']} is above the price {p['price']}")
    gtin = p.get("gtin")
    if gtin and not gtin_valid(gtin):
        add("gtin", f"GTIN {gtin} is not valid (wrong length or check digit)")
    if not p.get("images"):
        add("image", "no image")
    counted = p.get("stock_tracking") != "untracked"  # an uncounted SKU's count means nothing
    for location, qty in sorted(p.get("stock", {}).items()) if counted else ():
        if qty < 0:
            add("stock", f"negative stock {qty} at {location}")
    has_variant_attrs = any(p.get(k) for k in ("color", "size", "material", "pattern"))
    group = p.get("item_group_id")
    if group and group_sizes.get(group, 0) > 1 and not has_variant_attrs:
        add("variant", f"variant of {group} without color, size, material or pattern")
    if not (p.get("description") or "").strip():
        add("description", DESCRIPTION_REQUIRED + " (Google, Meta)")
    if not identified(p.get("brand"), gtin, p.get("mpn")):
        add("identifiers", IDENTIFIERS_REQUIRED)
    return out


def check_database(db: Any) -> list[Problem]:  # db: sqlite_utils.Database
    """Every problem in the catalog, SKU by SKU (archived products are not checked). Text
    cells that are not UTF-8 come first, one problem each; the products are then checked
    with those bytes read as U+FFFD."""
    from multichan.catalog.store import iter_catalog

    sql = "SELECT item_group_id, count(*) FROM products WHERE item_group_id IS NOT NULL GROUP BY 1"
    try:
        return check_catalog(iter_catalog(db), dict(db.execute(sql).fetchall()))
    except sqlite3.OperationalError as exc:
        if not DECODE_RE.match(str(exc)):
            raise
    found = [cell.problem() for cell in bad_text(db.conn)]
    with tolerant(db.conn):
        return found + check_catalog(iter_catalog(db), dict(db.execute(sql).fetchall()))


# --- text that is not UTF-8 ---------------------------------------------------------------
DECODE_RE = re.compile(r"Could not decode to UTF-8 column '(.*)' with text ", re.DOTALL)
FIX_FIELD = "import the SKU again, or set it with 'multichan catalog set {sku} {field}=...'"
SECRET_TABLES = {"channel_tokens"}  # never shown, not even in part
PREVIEW = 40  # bytes of a bad cell shown


@dataclass(frozen=True)
class BadText:
    """A TEXT cell holding bytes that are not UTF-8."""

    table: str
    key: dict[str, str]  # the row: its sku, else its primary key (or rowid)
    column: str
    raw: bytes

    @property
    def sku(self) -> str | None:
        return self.key.get("sku")

    def where(self) -> str:
        row = ", ".join(f"SKU {v!r}" if k == "sku" else f"{k} {v!r}" for k, v in self.key.items())
        return f"table {self.table}, {row}, column {self.column}"

    def preview(self) -> str:
        if self.table in SECRET_TABLES:
            return "(a secret: not shown)"
        text = self.raw[:PREVIEW].decode("utf-8", "backslashreplace")
        return f"'{text}'" + (" ..." if len(self.raw) > PREVIEW else "")

    def fix(self) -> str:
        """How a seller repairs the cell."""
        if self.table == "products" and self.sku:
            return FIX_FIELD.format(sku=self.sku, field=self.column)
        if self.table == "images":
            return "import the SKU again"
        return f"correct it in the {self.table} table"

    def problem(self) -> Problem:
        where = f"table {self.table}, column {self.column}"
        if self.table != "products" and self.sku:
            where = f"table {self.table} ({', '.join(self.key.values())}), column {self.column}"
        return Problem(
            self.sku or f"({self.table} {', '.join(self.key.values())})",
            self.column,
            f"{where} is not UTF-8 text ({self.preview()}), written by another tool: " + self.fix(),
        )


def _is_utf8(raw: bytes | None) -> bool:
    if raw is None or raw.isascii():
        return True
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _decoded(raw: Any) -> str:
    return raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else str(raw)


def bad_text(
    conn: sqlite3.Connection, column: str | None = None, limit: int | None = None
) -> list[BadText]:
    """The TEXT cells of every table (of ``column`` only, when given) that are not UTF-8, in
    table order, up to ``limit``. Reads bytes (``CAST AS BLOB``), so it never fails on them."""
    conn.create_function("multichan_utf8", 1, _is_utf8, deterministic=True)
    found: list[BadText] = []
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name = 'products' DESC, name"
        )
    ]
    for table in tables:
        info = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
        names = [r[1] for r in info]
        primary = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5] and r[1] != "sku"]
        keys = (["sku"] if "sku" in names else []) + primary or ["rowid"]
        for name in names if column is None else [c for c in names if c == column]:
            shown = ", ".join(f'CAST("{k}" AS BLOB)' if k != "rowid" else k for k in keys)
            rows = conn.execute(
                f'SELECT {shown}, CAST("{name}" AS BLOB) FROM "{table}" '
                f'WHERE typeof("{name}") = \'text\' AND NOT multichan_utf8(CAST("{name}" AS BLOB))'
            )
            for row in rows:
                key = {k: _decoded(v) for k, v in zip(keys, row[:-1], strict=True)}
                found.append(BadText(table, key, name, row[-1]))
                if limit is not None and len(found) >= limit:
                    return found
    return found


@contextlib.contextmanager
def tolerant(conn: sqlite3.Connection) -> Iterator[None]:
    """Within it, ``conn`` reads bytes that are not UTF-8 as U+FFFD instead of failing."""
    conn.text_factory = lambda raw: raw.decode("utf-8", "replace")
    try:
        yield
    finally:
        conn.text_factory = str


def text_error(exc: BaseException, path: Path) -> WorkspaceError | None:
    """The error to show for ``exc`` when it is SQLite failing to read a text cell that is
    not UTF-8: one WorkspaceError naming the cells (of the column SQLite named; the first
    few), else None."""
    match = DECODE_RE.match(str(exc)) if isinstance(exc, sqlite3.OperationalError) else None
    if match is None:
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        found = bad_text(conn, match.group(1), limit=6) or bad_text(conn, limit=6)
    except sqlite3.Error:
        found = []
    finally:
        conn.close()
    if not found:
        return WorkspaceError(
            f"{path} holds text that is not UTF-8 (column {match.group(1)!r})",
            hint="run 'multichan catalog check' to find it",
        )
    cells = "; ".join(f"{c.where()}: {c.preview()}" for c in found[:5])
    more = " (and more)" if len(found) > 5 else ""
    example = next((c for c in found if c.table == "products" and c.sku), None)
    fix = (example or found[0]).fix()
    return WorkspaceError(
        f"{path.name} holds text that is not UTF-8, written by another tool: {cells}{more}",
        hint=f"{fix}; 'multichan catalog check' lists every such cell",
    )


def check_catalog(products: Iterable[dict[str, Any]], group_sizes: dict[str, int]) -> list[Problem]:
    problems: list[Problem] = []
    for p in products:
        if p.get("status") == "archived":
            continue
        problems.extend(check_product(p, group_sizes))
    return problems


# --- one channel's view, and the overrides table ------------------------------------------
@dataclass
class ChannelCheck:
    """What ``catalog check --channel`` finds: the channel's offers built and validated as
    its export (a feed channel) or its push plan (an API channel) builds them."""

    channel: str
    offered: int = 0
    left_out: list[Any] = field(default_factory=list)  # feeds.parallel.Diagnostic
    notes: list[Any] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel, "offered": self.offered,
            "left_out": [d.as_dict() for d in self.left_out],
            "notes": [d.as_dict() for d in self.notes],
        }  # fmt: skip


def check_channel(db: Any, config: Any, name: str) -> ChannelCheck:
    """Build ``name``'s offers from the catalog with the channel's own rules and, for a feed
    channel, validate them with its format's validator (``feeds.formats``): the SKUs it
    would leave out, and the notes (text cut to its limits, a GTIN left out), in the words
    ``export`` and ``plan`` use. Raises ConfigError for a channel channels.yaml lacks."""
    from multichan.catalog.store import iter_batches
    from multichan.feeds.formats import FORMATS
    from multichan.feeds.parallel import checked
    from multichan.offers import load_overrides, rules_for

    channel = config.channel(name)  # (a "did you mean" for a typo)
    fmt = FORMATS.get(channel.type)
    rules = rules_for(channel, config)
    overrides = load_overrides(db, channel.name)
    result = ChannelCheck(channel.name)
    validate = fmt.validate if fmt is not None else _nothing
    batches = iter_batches(db, rules.read_columns(db["products"].columns_dict))
    for _ in checked(batches, rules, overrides, validate, name, result.left_out, result.notes):
        result.offered += 1
    return result


def _nothing(offer: Any) -> list[tuple[str, str]]:
    return []  # an API channel: its API, not a published file format, rejects at push time


def check_overrides(db: Any, config: Any | None) -> list[Problem]:
    """The rows of the ``overrides`` table no channel can use: a channel channels.yaml does
    not have (``config`` None: not checked), a price that is no amount of the channel's
    currency or not above zero; each names the table, channel, SKU, column and value."""
    from multichan.errors import did_you_mean
    from multichan.offers import override_price

    found: list[Problem] = []
    channels = config.channels if config is not None else None
    shop_currency = ((config.shop.get("currency") if config else None) or "USD").upper()
    rows = db.execute("SELECT channel, sku, price FROM overrides ORDER BY sku, channel")
    for channel, sku, price in rows.fetchall():
        if channels is not None and channel not in channels:
            known = ", ".join(channels) or "none"
            found.append(Problem(sku, "override", (
                f"overrides table, channel {channel!r}, SKU {sku!r}: channels.yaml has no "
                f"channel {channel!r}{did_you_mean(channel, channels)} (channels: {known}); "
                "the row is never used"
            )))  # fmt: skip
            continue
        if price in (None, ""):
            continue
        currency = shop_currency
        if channels is not None:
            currency = (channels[channel].price.get("currency") or shop_currency).upper()
        try:
            override_price(price, currency, channel)
        except ValueError as exc:
            found.append(Problem(sku, "price", f"{exc}; the SKU is left out of {channel}"))
    return found


def stray_overrides(db: Any, config: Any) -> str | None:
    """A run's note when the ``overrides`` table has rows for channels channels.yaml does not
    have (they are never used), else None."""
    rows = db.execute("SELECT channel, count(*) FROM overrides GROUP BY channel ORDER BY 1")
    stray = [(c, n) for c, n in rows.fetchall() if c not in config.channels]
    if not stray:
        return None
    shown = ", ".join(f"{c!r} ({n} row(s))" for c, n in stray)
    return (
        f"the overrides table has rows for channels channels.yaml does not have, never used: "
        f"{shown}; 'multichan catalog check' lists them"
    )
