"""What every importer shares: reading a CSV file safely, cleaning one row's fields, reporting.

An importer turns a file into ``ProductInput`` items plus ``Rejection`` rows (file line, SKU,
reason). A bad row is reported and skipped; the good rows still import.

Imports stream: ``read_csv`` reads the file a record at a time, ``ParseResult.items`` may be a
generator that the upsert consumes in batches (rejections and warnings are complete once it is
exhausted), ``Rejections`` keeps the first rejections in memory and spools the rest to a
temporary file, and ``SeenSkus`` finds a repeated SKU without holding every SKU in memory.

Each importer declares ``SOURCES``: which catalog field it reads from which column(s) of its
format (``images`` and ``quantity`` included). ``leave_alone`` drops from every item the fields
whose columns are all missing from the file's header, so a partial file never clears what it
does not carry; a column that is present but empty still clears the field (the seller's value).

Cells are cleaned as they are read: control characters are removed (line breaks and tabs become
a space), except in the SKU columns, which ``check_sku`` validates instead, and in description
columns, where line breaks and tabs are text and stay.

Each import that writes is recorded (``recorded_upsert``) as a row of ``imports``: format,
source (the file's name unless named), start, end, ``rows`` (products it wrote or kept) and
``complete``, which ``catalog prune`` trusts. The row is committed before the import's one
transaction begins, so a killed import leaves it with no end; the end, ``complete`` and the
products' ``last_import`` are written in that transaction, together or not at all. A *full*
import is a file of one format read to its end, with a column for each of ``FULL_FIELDS``:
it stamps every product it lists, kept (unchanged) and rejected ones too (a row with a bad
price still names a product the shop has), and is complete. A *partial* file (no title, price
or stock column: an edited export, a price list, Matrixify's chosen columns, which may hold
any subset of the SKUs) changes what it carries but is no basis for pruning and stamps
nothing: its products keep the full import that last listed them.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import fnmatch
import json
import re
import sqlite3
import tempfile
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO

import sqlite_utils

from multichan.catalog.schema import transaction
from multichan.catalog.store import ProductInput, UpsertResult, now, upsert
from multichan.errors import InputError
from multichan.money import currency_problem, normalize

csv.field_size_limit(2**31 - 1)  # long HTML descriptions are normal

STATUSES = {"active", "draft", "archived"}
QUANTITY_RE = re.compile(r"^([+-]?\d+)(?:\.0*)?$")  # 12, -3, 12.0 (spreadsheets add .0)
NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)$")
MAX_QUANTITY = 10**9
CONDITIONS = {"new": "new", "refurbished": "refurbished", "used": "used", "second hand": "used"}
CONTROLS_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # all but \t \n \r
BREAKS_RE = re.compile(r"\s*[\t\n\r\x0b\x0c]+\s*")
SKU_SPACES = {
    " ": "a space",
    "\t": "a tab",
    **dict.fromkeys("\n\r\x0b\x0c\x85\u2028\u2029", "a line break"),
}

Sources = Mapping[str, tuple[str, ...]]
"""Catalog field -> the columns it is read from, named exactly as the importer reads them
(``*`` matches any text: ``quantity:*``)."""


@dataclass(frozen=True)
class Rejection:
    line: int
    sku: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "sku": self.sku, "reason": self.reason}


class Rejections:
    """The rejected rows of one file, in file order: the first ``HEAD`` in memory, the others
    spooled to a temporary file (a JSON line each), so a file of a million bad rows is still
    reported row by row, in flat memory. Reads like a list: ``len``, iteration, indexing."""

    HEAD = 1000

    def __init__(self, rows: Iterable[Rejection] = ()) -> None:
        self._head: list[Rejection] = []
        self._spool: IO[str] | None = None
        self._count = 0
        for row in rows:
            self.append(row)

    def append(self, row: Rejection) -> None:
        self._count += 1
        if len(self._head) < self.HEAD:
            self._head.append(row)
            return
        if self._spool is None:
            self._spool = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (__del__)
        self._spool.write(json.dumps([row.line, row.sku, row.reason], ensure_ascii=False) + "\n")

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Rejection]:
        yield from self._head[:]
        spool = self._spool
        if spool is None:
            return
        spool.flush()
        spool.seek(0)
        try:
            for text in spool:
                line, sku, reason = json.loads(text)
                yield Rejection(line, sku, reason)
        finally:
            spool.seek(0, 2)  # later rows append at the end

    def __getitem__(self, index: int) -> Rejection:
        if -self._count <= index < 0:
            index += self._count
        if 0 <= index < len(self._head):
            return self._head[index]
        for n, row in enumerate(self):
            if n == index:
                return row
        raise IndexError(index)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Rejections | list | tuple):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Rejections({self._count} rows)"

    def __del__(self) -> None:
        if self._spool is not None:
            self._spool.close()


class SeenSkus:
    """The SKUs met so far in one file, to reject a repeated one. Kept in a private temporary
    SQLite database (on disk, deleted when closed, a small page cache), not a Python set: a
    million SKUs cost a few MB of memory, not a hundred."""

    def __init__(self) -> None:
        self._conn = sqlite3.connect("", isolation_level=None)  # "": a private temp database
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -4000"):
            self._conn.execute(f"PRAGMA {pragma}")
        self._conn.execute("CREATE TABLE seen (sku TEXT PRIMARY KEY) WITHOUT ROWID")
        self._conn.execute("BEGIN")

    def add(self, sku: str) -> bool:
        """Record ``sku``; True when it is new, False when the file had it already."""
        cursor = self._conn.execute("INSERT OR IGNORE INTO seen (sku) VALUES (?)", (sku,))
        return cursor.rowcount == 1

    def __contains__(self, sku: object) -> bool:
        found = self._conn.execute("SELECT 1 FROM seen WHERE sku = ?", (sku,)).fetchone()
        return found is not None

    def close(self) -> None:
        self._conn.close()


@dataclass
class ParseResult:
    """What an importer read. ``items`` may be a generator (the upsert consumes it in
    batches): ``rejected`` and ``warnings`` are complete once it is exhausted."""

    items: Iterable[ProductInput] = field(default_factory=list)
    rejected: Rejections = field(default_factory=Rejections)
    warnings: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)  # the header, in the importer's names
    absent: list[str] = field(default_factory=list)  # catalog fields the file does not carry


FULL_FIELDS = ("title", "price", "quantity")
"""A file without a column for one of these is a partial import: it updates some fields of
some products, it does not say which products the shop has."""


def is_full(result: ParseResult) -> bool:
    """True when ``result`` (after ``leave_alone``) reads a whole export: see FULL_FIELDS."""
    return not any(name in result.absent for name in FULL_FIELDS)


def recorded_upsert(
    db: sqlite_utils.Database, fmt: str, source: str, result: ParseResult
) -> UpsertResult:
    """Upsert ``result``'s items as one recorded import of ``source`` (see the module's
    docstring): its ``imports`` row is committed first, then the products, the stamps and
    the row's end in one transaction; an import that fails part way ends its row incomplete
    (a killed one leaves it without an end)."""
    conn = db.conn
    with transaction(db, "import_start"):
        import_id = conn.execute(
            "INSERT INTO imports (format, source, started_at) VALUES (?, ?, ?)",
            [fmt, source, now()],
        ).lastrowid
    full = is_full(result)
    try:
        with transaction(db, "import"):
            done = upsert(db, result.items, import_id=import_id if full else None)
            if full:
                conn.executemany(
                    "UPDATE products SET last_import = ? WHERE sku = ? AND last_import IS NOT ?",
                    ((import_id, r.sku, import_id) for r in result.rejected if r.sku),
                )
            conn.execute(
                "UPDATE imports SET ended_at = ?, rows = ?, complete = ? WHERE id = ?",
                [now(), done.added_count + done.changed_count + done.unchanged, int(full),
                 import_id],
            )  # fmt: skip
    except Exception:
        with contextlib.suppress(sqlite3.Error), transaction(db, "import_failed"):
            conn.execute("UPDATE imports SET ended_at = ? WHERE id = ?", [now(), import_id])
        raise
    return done


def leave_alone(result: ParseResult, sources: Sources) -> None:
    """Set ``result.absent`` to the fields of ``sources`` none of whose columns is in the file's
    header, and take those fields (and images, stock) out of every item: upsert leaves them
    alone on existing SKUs, and new SKUs get the schema's defaults."""
    header = set(result.columns)

    def carried(column: str) -> bool:
        if "*" in column:
            return any(fnmatch.fnmatchcase(h, column) for h in header)
        return column in header

    result.absent = [name for name, cols in sources.items() if not any(map(carried, cols))]
    if result.absent:
        result.items = _without(result.items, tuple(result.absent))


def _without(items: Iterable[ProductInput], absent: tuple[str, ...]) -> Iterator[ProductInput]:
    """``items`` as they are read, without the fields named in ``absent``."""
    no_images, no_stock = "images" in absent, "quantity" in absent
    for item in items:
        for name in absent:
            item.fields.pop(name, None)
        if no_images:
            item.images = None
        if no_stock:
            item.stock = {}
        yield item


class RowError(ValueError):
    """One row is unusable; the message is the reason shown to the seller."""


def open_text(path: Path) -> TextIO:
    """The file opened for reading as UTF-8 text (with or without BOM), or a clear InputError
    for a file that cannot be read or is UTF-16. Bytes that are not UTF-8 raise
    UnicodeDecodeError as they are read: ``not_utf8`` turns that into the InputError."""
    try:
        with path.open("rb") as raw:
            start = raw.read(2)
        fh = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    if start in (b"\xff\xfe", b"\xfe\xff"):
        fh.close()
        raise InputError(f"{path} is UTF-16; save it as UTF-8 CSV and import again")
    return fh


def not_utf8(path: Path) -> InputError:
    """The error for a file that is not UTF-8, naming the line of its first invalid byte
    (found by reading the file again: only a failing import pays for it)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with path.open("rb") as raw:
        while block := raw.read(1 << 16):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                line += block[: exc.start].count(b"\n")
                break
            line += block.count(b"\n")
    return InputError(
        f"{path} is not UTF-8 (invalid byte at line {line}); "
        "save it as 'CSV UTF-8' and import again"
    )


def _blank(fh: TextIO) -> bool:
    """True when the file holds nothing but white space; rewinds it otherwise."""
    while block := fh.read(1 << 16):
        if block.strip():
            fh.seek(0)
            return False
    return True


def read_csv(
    path: Path,
    required: set[str],
    kind: str,
    *,
    skus: Collection[str] = (),
    multiline: Collection[str] = (),
) -> tuple[list[str], Rows]:
    """Header and an iterator of (first line number of the record, row dict), reading the file
    a record at a time (memory does not grow with the file; the file closes when the iterator
    is exhausted or dropped).

    Cells lose their control characters (``clean_text``), except in the columns named in
    ``skus`` (kept as typed, for ``check_sku``); ``multiline`` columns keep line breaks and
    tabs. Both name columns in lower case. Raises InputError when the header lacks the columns
    that make the file ``kind``; the iterator raises InputError on broken CSV or a byte that
    is not UTF-8.
    """
    fh = open_text(path)
    try:
        if _blank(fh):
            raise InputError(f"{path} is empty")
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader)]
    except csv.Error as exc:
        fh.close()
        raise InputError(f"{path} is not a CSV file: {exc}") from None
    except UnicodeDecodeError:
        fh.close()
        raise not_utf8(path) from None
    except BaseException:
        fh.close()
        raise
    missing = sorted(required - set(header))
    if missing:
        fh.close()
        raise InputError(f"{path} is not a {kind} file: missing column(s) {', '.join(missing)}")

    return header, Rows(path, fh, reader, header, skus, multiline)


class Rows:
    """The records of an open CSV file after its header, as (first line number, row dict);
    closes the file when exhausted, closed, or dropped."""

    def __init__(
        self,
        path: Path,
        fh: TextIO,
        reader: Any,  # the csv reader of fh, past the header
        header: list[str],
        skus: Collection[str],
        multiline: Collection[str],
    ) -> None:
        self.path, self._fh, self._reader, self._header = path, fh, reader, header
        self._raw = [h.lower() in skus for h in header]
        self._multi = [h.lower() in multiline for h in header]

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        return self

    def __next__(self) -> tuple[int, dict[str, str]]:
        reader, header, width = self._reader, self._header, len(self._header)
        while True:
            line = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                self.close()
                raise
            except csv.Error as exc:
                self.close()
                raise InputError(f"{self.path}:{line}: broken CSV: {exc}") from None
            except UnicodeDecodeError:
                self.close()
                raise not_utf8(self.path) from None
            if not any(v.strip() for v in values):
                continue
            if not "".join(values).isprintable():  # one check for the usual clean row
                raw, multi = self._raw, self._multi
                values = [
                    v if v.isprintable() or n >= width or raw[n] else clean_text(v, multi[n])
                    for n, v in enumerate(values)
                ]
            if len(values) < width:
                values += [""] * (width - len(values))
            return line, dict(zip(header, values, strict=False))

    def close(self) -> None:
        self._fh.close()

    def __del__(self) -> None:
        self._fh.close()


def clean_text(text: str, multiline: bool = False) -> str:
    """``text`` without control characters. A line break or tab becomes a space, unless
    ``multiline`` (a description), where they are text and stay (``\\r\\n`` becomes ``\\n``)."""
    if text.isprintable():
        return text
    if multiline:
        return CONTROLS_RE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return CONTROLS_RE.sub("", BREAKS_RE.sub(" ", text)).strip()


def check_sku(sku: str) -> None:
    """Raise RowError when ``sku`` holds a character a channel's item id cannot (a space, a
    tab, a line break, an invisible character): a feed would write an id that is not the SKU."""
    if sku.isprintable() and " " not in sku:
        return
    for n, char in enumerate(sku, 1):
        if char in SKU_SPACES:
            what = SKU_SPACES[char]
        elif char.isspace():
            what = f"a space character ({unicodedata.name(char, f'U+{ord(char):04X}')})"
        elif not char.isprintable():
            what = f"an invisible character (U+{ord(char):04X})"
        else:
            continue
        raise RowError(
            f"SKU contains {what} at character {n}: the SKU is the item id on every channel, "
            "so it cannot hold spaces, tabs, line breaks or invisible characters"
        )


def currency(value: str | None) -> str | None:
    """A currency cell as its ISO 4217 code (``eur`` is EUR); None when empty. A symbol, a
    name or an unknown code is the row's rejection (``'€' is not a currency code: did you mean
    EUR?``)."""
    text = (value or "").strip()
    if not text:
        return None
    wrong = currency_problem(text)
    if wrong:
        raise RowError(f"currency: {wrong}")
    return text.upper()


def money(value: str | None, what: str, currency: str | None = None) -> str | None:
    """A price cell as the catalog stores it, in ``currency``'s minor units."""
    try:
        return normalize(value, currency)
    except ValueError as exc:
        raise RowError(f"{what}: {exc}") from None


def quantity(value: str | None, what: str = "quantity") -> int | None:
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    match = QUANTITY_RE.match(text)
    if not match:
        kind = "a whole number" if NUMBER_RE.match(text) else "a number"
        raise RowError(f"{what} {text!r} is not {kind}")
    if len(match.group(1).lstrip("+-0")) > len(str(MAX_QUANTITY)):  # before int(): 4,300+
        shown = repr(text) if len(text) <= 40 else f"of {len(text)} digits"  # digits raise
        raise RowError(f"{what} {shown} is out of range")
    number = int(match.group(1))
    if abs(number) > MAX_QUANTITY:
        raise RowError(f"{what} {text!r} is out of range")
    return number


TRACKING = {
    "tracked": "tracked", "untracked": "untracked", "continue": "continue",
    "not tracked": "untracked", "continue selling": "continue",
}  # fmt: skip


def stock_tracking(value: str | None) -> str:
    """A stock_tracking cell: tracked (the default), untracked or continue."""
    text = " ".join((value or "").strip().lower().replace("_", " ").split())
    if not text:
        return "tracked"
    if text not in TRACKING:
        raise RowError(f"stock_tracking {value!r} is not tracked, untracked or continue")
    return TRACKING[text]


def barcode(value: str | None) -> str | None:
    """Digits of a barcode as typed (spreadsheets add quotes, spaces, '.0' and apostrophes)."""
    if not value:
        return None
    text = value.strip().lstrip("'").replace(" ", "").replace("-", "")
    if re.fullmatch(r"\d+\.0", text):
        text = text[:-2]
    if re.fullmatch(r"\d+(\.\d+)?[eE]\+\d+", text):
        return None  # Excel's 4.00638E+12 lost the digits; nothing to recover
    return text or None


def status(value: str | None, default: str = "active") -> str:
    text = (value or "").strip().lower()
    if not text:
        return default
    if text in {"publish", "published", "true", "1"}:
        return "active"
    if text in {"private", "pending", "false", "0"}:
        return "draft"
    if text in {"trash", "deleted"}:
        return "archived"
    if text not in STATUSES:
        raise RowError(f"status {value!r} is not active, draft or archived")
    return text


def condition(value: str | None) -> str:
    text = (value or "").strip().lower()
    if not text:
        return "new"
    if text not in CONDITIONS:
        raise RowError(f"condition {value!r} is not new, refurbished or used")
    return CONDITIONS[text]


def options_json(options: dict[str, str]) -> str | None:
    return json.dumps(options, ensure_ascii=False, sort_keys=True) if options else None


ATTRIBUTE_COLUMNS = {
    "color": "color", "colour": "color", "size": "size", "material": "material",
    "pattern": "pattern", "gender": "gender", "age group": "age_group", "age_group": "age_group",
    # the option names sellers use in other languages
    "farbe": "color", "couleur": "color", "kolor": "color", "color/colour": "color",
    "цвет": "color", "colore": "color", "größe": "size", "groesse": "size", "taille": "size",
    "rozmiar": "size", "размер": "size", "talla": "size", "taglia": "size", "tamaño": "size",
    "material/materiał": "material", "materiał": "material", "matériau": "material",
}  # fmt: skip


def variant_attributes(options: dict[str, str]) -> dict[str, str]:
    """Map option names such as 'Colour' or 'Size' to catalog columns."""
    out: dict[str, str] = {}
    for name, value in options.items():
        column = ATTRIBUTE_COLUMNS.get(name.strip().lower())
        if column and value:
            out[column] = value
    return out


def slugify(text: str) -> str:
    """A URL slug as shops make them: accents folded to ASCII ("Café" -> "cafe")."""
    folded = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    slug = re.sub(r"[^\w]+", "-", folded, flags=re.UNICODE).strip("-")
    return slug or "item"
