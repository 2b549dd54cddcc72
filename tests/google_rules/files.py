"""The three kinds of feed file: RSS 2.0 XML with the g: namespace, the tab-separated product feed,
and the local inventory feed (TSV or CSV).  Each public ``check_*`` function reads its file into
items, checks what belongs to the file format itself (well-formedness, namespace, header row,
field counts) and hands the items to the rules in ``items``.
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

from .items import _check_feed_items, _first, _label
from .values import (
    _HEADER_RE,
    _QUANTITY_RE,
    COMMA_LISTS,
    G_NS,
    KNOWN_ATTRIBUTES,
    LOCAL_AVAILABILITY,
    PICKUP_METHOD,
    PICKUP_SLA,
    REQUIRED,
    Item,
    StrPath,
    _control_chars,
    _parse_price,
    _spaced_hint,
)

# --------------------------------------------------------------------------
# XML (RSS 2.0)


def _local(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


def check_google_xml(path: StrPath) -> list[str]:
    """Check an RSS 2.0 product feed file; return the problems found."""
    namespaces: list[tuple[str, str]] = []
    try:
        for _event, ns in ET.iterparse(path, events=("start-ns",)):
            namespaces.append(ns)
        tree = ET.parse(path)
    except ET.ParseError as exc:
        return [f"feed: xml: not well-formed ({exc}); escape & < > or use CDATA"]
    except OSError as exc:
        return [f"feed: file: cannot read ({exc})"]
    out: list[str] = []
    root = tree.getroot()
    if root.tag != "rss":
        return [f"feed: rss: root element is <{root.tag}>, not <rss>"]
    if root.get("version") != "2.0":
        out.append(f"feed: rss: version is {root.get('version')!r}, not '2.0'")
    if G_NS not in {uri for _prefix, uri in namespaces}:
        out.append(f"feed: xmlns:g: the namespace {G_NS} is not declared")
    for prefix, uri in namespaces:
        if prefix == "g" and uri != G_NS:
            out.append(f"feed: xmlns:g: prefix g is bound to {uri!r}, not {G_NS!r}")
    channels = root.findall("channel")
    if len(channels) != 1:
        out.append(f"feed: channel: <rss> needs exactly one <channel>, has {len(channels)}")
        if not channels:
            return out

    items: list[Item] = []
    hints: list[dict[str, str]] = []
    for element in channels[0].findall("item"):
        item: Item = {}
        hint: dict[str, str] = {}
        markup: list[tuple[str, str]] = []
        for child in element:
            ns, name = _local(child.tag)
            if ns != G_NS and not (ns == "" and name in ("title", "link", "description")):
                if ns == "" and name in REQUIRED:
                    hint[name] = f"found <{name}> without the g: namespace prefix"
                continue
            sub = [_local(c.tag) for c in child]
            loose = [s for s in sub if s[0] != G_NS]
            if loose:
                markup.append((name, loose[0][1]))
                text = "".join(child.itertext())
            elif sub:  # nested attribute such as g:shipping
                text = ""
            else:
                text = child.text or ""
            item.setdefault(name, []).append(text)
        items.append(item)
        hints.append(hint)
        for name, tag in markup:
            label = _label(item, len(items))
            out.append(
                f"{label}: {name}: contains unescaped markup <{tag}>; "
                "escape HTML (&lt;) or wrap it in CDATA"
            )
    return out + _check_feed_items(items, hints)


# --------------------------------------------------------------------------
# Delimited text


def _read_text(path: StrPath) -> str | list[str]:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        return [f"feed: file: cannot read ({exc})"]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [f"feed: encoding: not UTF-8 ({exc})"]
    return text.removeprefix("\ufeff")


def _lines(text: str) -> list[tuple[int, str]]:
    """Non-empty lines with their 1-based numbers; only \\n and \\r\\n end a line."""
    rows = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if line.strip():
            rows.append((number, line))
    return rows


def _unquote(value: str) -> tuple[str, bool]:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('""', '"'), True
    return value, False


def check_google_tsv(path: StrPath) -> list[str]:
    """Check a tab-separated product feed file; return the problems found."""
    text = _read_text(path)
    if isinstance(text, list):
        return text
    lines = _lines(text)
    if not lines:
        return ["feed: header: the file is empty"]
    out: list[str] = []
    header = [h.strip() for h in lines[0][1].split("\t")]
    names: list[str] = []
    for column, name in enumerate(header, start=1):
        match = _HEADER_RE.match(name)
        base = match.group(1) if match else ""
        if base not in KNOWN_ATTRIBUTES:
            suggestion = name.strip().lower().replace(" ", "_")
            hint = f"; did you mean {suggestion!r}?" if suggestion in KNOWN_ATTRIBUTES else ""
            out.append(
                f"feed: header: column {column} {name!r} is not a Google attribute name "
                f"(lowercase English with underscores, e.g. image_link){hint}"
            )
        names.append(base or name)

    items: list[Item] = []
    for number, line in lines[1:]:
        fields = line.split("\t")
        item: Item = {}
        for name, raw in zip(names, fields, strict=False):
            value, quoted = _unquote(raw.strip())
            if name in COMMA_LISTS and not quoted:
                parts = value.split(",") if value else [""]
            else:
                parts = [value]
            item.setdefault(name, []).extend(parts)
        items.append(item)
        if len(fields) != len(names):
            out.append(
                f"{_label(item, len(items))}: row: line {number} has {len(fields)} "
                f"tab-separated fields but the header has {len(names)} "
                "(tab or line break inside a value?)"
            )
    return out + _check_feed_items(items, [{} for _ in items])


def _delimited_rows(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and data rows of a TSV or CSV file (tab in the header means TSV)."""
    lines = _lines(text)
    if not lines:
        return [], []
    if "\t" in lines[0][1] or "," not in lines[0][1]:
        rows = [(n, line.split("\t")) for n, line in lines]
    else:
        reader = csv.reader(io.StringIO(text, newline=""))
        rows = [(reader.line_num, row) for row in reader if any(f.strip() for f in row)]
    header = [h.strip() for h in rows[0][1]]
    return header, rows[1:]


def check_local_inventory(path: StrPath) -> list[str]:
    """Check a local inventory feed file (TSV or CSV); return the problems found."""
    text = _read_text(path)
    if isinstance(text, list):
        return text
    header, rows = _delimited_rows(text)
    if not header:
        return ["feed: header: the file is empty"]
    out: list[str] = []
    for required in ("store_code", "id", "quantity"):
        if required not in header:
            out.append(f"feed: header: required column {required!r} is missing")
    seen: dict[tuple[str, str], int] = {}
    for number, fields in rows:
        row: Item = {}
        for name, raw in zip(header, fields, strict=False):
            row.setdefault(name, []).append(_unquote(raw.strip())[0])
        store, pid = _first(row, "store_code"), _first(row, "id")
        label = f"item {pid or '#' + str(number)} [store {store or '?'}]"

        def bad(attr: str, reason: str, label: str = label) -> None:
            out.append(f"{label}: {attr}: {reason}")

        if len(fields) != len(header):
            bad("row", f"line {number} has {len(fields)} fields, the header has {len(header)}")
        for attr, values in row.items():
            for value in values:
                chars = _control_chars(value)
                if chars:
                    bad(attr, f"contains control characters {', '.join(chars)}")
        for attr in ("store_code", "id", "quantity"):
            if not _first(row, attr) and attr in header:
                bad(attr, "empty")
        if len(pid) > 50:
            bad("id", f"longer than 50 characters ({len(pid)})")
        quantity = _first(row, "quantity")
        if quantity and not _QUANTITY_RE.match(quantity):
            bad("quantity", f"{quantity!r} is not an integer >= 0")
        availability = _first(row, "availability")
        if availability and availability not in LOCAL_AVAILABILITY:
            bad("availability", _spaced_hint(availability, LOCAL_AVAILABILITY))
        price = _parse_price(_first(row, "price")) if _first(row, "price") else None
        if isinstance(price, str):
            bad("price", price)
        sale_text = _first(row, "sale_price")
        if sale_text:
            sale = _parse_price(sale_text)
            if isinstance(sale, str):
                bad("sale_price", sale)
            elif isinstance(price, tuple) and (sale[1] != price[1] or sale[0] >= price[0]):
                bad("sale_price", f"{sale_text!r} is not lower than price in the same currency")
        method, sla = _first(row, "pickup_method"), _first(row, "pickup_sla")
        if method and method.replace("_", " ") not in PICKUP_METHOD:
            bad("pickup_method", f"{method!r} is not one of {', '.join(PICKUP_METHOD)}")
        if sla and sla.replace("_", " ") not in PICKUP_SLA:
            bad("pickup_sla", f"{sla!r} is not one of {', '.join(PICKUP_SLA)}")
        if method and method.replace("_", " ") != "not supported" and not sla:
            bad("pickup_sla", "required with pickup_method (unless 'not supported')")
        location = _first(row, "instore_product_location")
        if len(location.encode("utf-8")) > 20:
            bad("instore_product_location", "longer than 20 bytes")
        if store and pid:
            key = (store, pid)
            if key in seen:
                bad("store_code", f"duplicate (store_code, id) pair, first on line {seen[key]}")
            else:
                seen[key] = number
    return out
