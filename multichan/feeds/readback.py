"""Read a written feed file back into its items, by its format, one item at a time: what
``multichan replay`` shows of an export run and diffs against today's feed.

Each item is (key, fields):
- CSV and TSV (``csv``, ``tsv``): a row, keyed by its ``id`` column (else ``sku``, else the
  first column); a feed with a ``store_code`` column (one row per SKU and store) is keyed
  ``ID@STORE``. Every cell is text, as written.
- XML (``xml``): each ``<item>`` (RSS) or ``<entry>`` (Atom) element, its children by local
  name (``g:id`` is ``id``; a repeated child is a list), keyed by ``id``.
- JSON (``json``): JSON Lines (an object a line), or one document holding a list of items
  (Amazon's ``messages``, or its first list of objects); keyed by ``sku`` (else ``id``).
  Nested objects are flattened to dotted names (``attributes.item_name``).

How a file is read follows its name (``feed.tsv``) as templates are escaped
(``render.EXTENSIONS``), else the caller's default (the channel's format).
"""

from __future__ import annotations

import csv
import json
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from multichan.errors import InputError
from multichan.feeds.render import EXTENSIONS

Item = tuple[str, dict[str, Any]]
KEYS = ("id", "sku")  # the column or field naming an item, first found
ITEM_TAGS = ("item", "entry")
LIST_KEYS = ("messages", "items", "products", "entries")


def kind_of(path: Path, default: str) -> str:
    """How ``path`` is read: csv, tsv, xml or json."""
    return EXTENSIONS.get(path.suffix.lower(), default)


def items(path: Path, kind: str) -> Iterator[Item]:
    """The items of the feed at ``path`` read as ``kind`` (see the module), in file order."""
    readers = {"csv": _csv, "tsv": _tsv, "xml": _xml, "json": _json}
    if kind not in readers:
        raise InputError(f"{path}: a {kind} feed cannot be read back item by item")
    return readers[kind](path)


def _rows(path: Path, reader: Iterator[list[str]]) -> Iterator[Item]:
    header = next(reader, None)
    if not header:
        return
    key = next((header.index(k) for k in KEYS if k in header), 0)
    store = header.index("store_code") if "store_code" in header else None
    for row in reader:
        if not any(row):
            continue
        fields = dict(zip(header, row, strict=False))
        name = row[key] if key < len(row) else ""
        if store is not None and store < len(row):
            name = f"{name}@{row[store]}"
        yield name, fields


def _csv(path: Path) -> Iterator[Item]:
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding="utf-8", newline="") as fh:
        yield from _rows(path, csv.reader(fh))


def _tsv(path: Path) -> Iterator[Item]:
    """Tab-separated as the feeds write it: no quoting (values are cleaned of tabs)."""
    with path.open(encoding="utf-8", newline="") as fh:
        yield from _rows(path, (line.rstrip("\r\n").split("\t") for line in fh))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml(path: Path) -> Iterator[Item]:
    try:
        for _, element in ET.iterparse(path, events=("end",)):
            if _local(element.tag) not in ITEM_TAGS:
                continue
            fields: dict[str, Any] = {}
            for child in element:
                name, text = _local(child.tag), (child.text or "").strip()
                if name in fields:
                    previous = fields[name]
                    fields[name] = [*previous, text] if isinstance(previous, list) else [
                        previous, text
                    ]  # fmt: skip
                else:
                    fields[name] = text
            element.clear()
            yield str(fields.get("id", "")), fields
    except ET.ParseError as exc:
        raise InputError(f"{path} is not well-formed XML ({exc})") from None


def flat(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects as dotted names: {"a": {"b": 1}} -> {"a.b": 1}."""
    found: dict[str, Any] = {}
    for name, item in value.items():
        if isinstance(item, dict) and item:
            found.update(flat(item, f"{prefix}{name}."))
        else:
            found[f"{prefix}{name}"] = item
    return found


def _keyed(obj: Any) -> Item:
    if not isinstance(obj, dict):
        return json.dumps(obj), {"value": obj}
    name = next((obj[k] for k in ("sku", "id") if k in obj), "")
    return str(name), flat(obj)


def _json(path: Path) -> Iterator[Item]:
    with path.open(encoding="utf-8") as fh:
        first = ""
        for line in fh:
            if line.strip():
                first = line
                break
        try:
            head = json.loads(first) if first else None
        except json.JSONDecodeError:
            head = None
        if isinstance(head, dict) and not any(isinstance(head.get(k), list) for k in LIST_KEYS):
            yield _keyed(head)
            for number, line in enumerate(fh, 2):
                if line.strip():
                    yield _keyed(_line(path, line, number))
            return  # JSON Lines: an object on its first line
    try:  # one document (Amazon's feeds hold at most 25,000 messages)
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not JSON ({exc})") from None
    for obj in doc if isinstance(doc, list) else _item_list(doc) or []:
        yield _keyed(obj)


def _line(path: Path, line: str, number: int) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{number} is not a JSON line ({exc})") from None


def _item_list(doc: Any) -> list[Any] | None:
    """The list of items a JSON document holds: under a known name, else its first list of
    objects."""
    if not isinstance(doc, dict):
        return None
    for name in LIST_KEYS:
        if isinstance(doc.get(name), list):
            return list(doc[name])
    for value in doc.values():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            return value
    return None
