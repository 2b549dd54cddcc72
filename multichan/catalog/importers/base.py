"""What every importer shares: reading a CSV file safely, cleaning one row's fields, reporting.

An importer turns a file into ``ProductInput`` items plus ``Rejection`` rows (file line, SKU,
reason). A bad row is reported and skipped; the good rows still import.

Each importer declares ``SOURCES``: which catalog field it reads from which column(s) of its
format (``images`` and ``quantity`` included). ``leave_alone`` drops from every item the fields
whose columns are all missing from the file's header, so a partial file never clears what it
does not carry; a column that is present but empty still clears the field (the seller's value).

Cells are cleaned as they are read: control characters are removed (line breaks and tabs become
a space), except in the SKU columns, which ``check_sku`` validates instead, and in description
columns, where line breaks and tabs are text and stay.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import json
import re
import unicodedata
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from multichan.catalog.store import ProductInput
from multichan.errors import InputError
from multichan.money import normalize

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


@dataclass
class ParseResult:
    items: list[ProductInput] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)  # the header, in the importer's names
    absent: list[str] = field(default_factory=list)  # catalog fields the file does not carry


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
    if not result.absent:
        return
    for item in result.items:
        for name in result.absent:
            item.fields.pop(name, None)
        if "images" in result.absent:
            item.images = None
        if "quantity" in result.absent:
            item.stock = {}


class RowError(ValueError):
    """One row is unusable; the message is the reason shown to the seller."""


def read_text(path: Path) -> str:
    """The file's text: UTF-8 with or without BOM, or a clear InputError."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    if raw.startswith(b"\xff\xfe") or raw.startswith(b"\xfe\xff"):
        raise InputError(f"{path} is UTF-16; save it as UTF-8 CSV and import again")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{path} is not UTF-8 (invalid byte at line {line}); "
            "save it as 'CSV UTF-8' and import again"
        ) from None


def read_csv(
    path: Path,
    required: set[str],
    kind: str,
    *,
    skus: Collection[str] = (),
    multiline: Collection[str] = (),
) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """Header and an iterator of (first line number of the record, row dict).

    Cells lose their control characters (``clean_text``), except in the columns named in
    ``skus`` (kept as typed, for ``check_sku``); ``multiline`` columns keep line breaks and
    tabs. Both name columns in lower case. Raises InputError when the header lacks the columns
    that make the file ``kind``.
    """
    text = read_text(path)
    if not text.strip():
        raise InputError(f"{path} is empty")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except csv.Error as exc:
        raise InputError(f"{path} is not a CSV file: {exc}") from None
    missing = sorted(required - set(header))
    if missing:
        raise InputError(f"{path} is not a {kind} file: missing column(s) {', '.join(missing)}")

    raw = [h.lower() in skus for h in header]
    multi = [h.lower() in multiline for h in header]

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        line = reader.line_num + 1
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise InputError(f"{path}:{line}: broken CSV: {exc}") from None
            if any(v.strip() for v in values):
                if not "".join(values).isprintable():  # one check for the usual clean row
                    values = [
                        v if v.isprintable() or n >= len(raw) or raw[n] else clean_text(v, multi[n])
                        for n, v in enumerate(values)
                    ]
                padded = values + [""] * (len(header) - len(values))
                yield line, dict(zip(header, padded, strict=False))
            line = reader.line_num + 1

    return header, rows()


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


def money(value: str | None, what: str, currency: str | None = None) -> str | None:
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
    number = int(match.group(1))
    if abs(number) > MAX_QUANTITY:
        raise RowError(f"{what} {text!r} is out of range")
    return number


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
