"""Tables for people on stdout, drawn as rich draws them, at any size, with one rule for
wrapping: a column whose cells are single words (SKUs, dates, hashes, numbers, codes) is never
broken; only columns of text with spaces (titles, messages) wrap, at spaces, to fit the
terminal. When even the single-word columns do not fit, a column empty in every row is left
out, and then the lines get longer than the terminal rather than a SKU being cut.

Written row by row with plain string operations: ``catalog list`` of 50,000 SKUs is a second,
not the half a minute rich's Table spends measuring every cell.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from collections.abc import Iterable
from typing import Any

FLUSH = 2000  # lines written at a time
MIN_TEXT = 6  # the narrowest a text column is squeezed to (its longest word, if shorter)
HEAVY = ("┏━┳┓", "┃┃┃", "┡━╇┩", "│││", "└─┴┘")  # rich's HEAVY_HEAD box
ASCII = ("+-++", "|||", "+-++", "|||", "+-++")


def width_of(text: str) -> int:
    """Terminal cells ``text`` takes (wide East Asian characters count two)."""
    if text.isascii():
        return len(text)
    from rich.cells import cell_len

    return cell_len(text)


def terminal_width() -> int:
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return shutil.get_terminal_size((80, 24)).columns


def widths(cells: list[list[str]], headings: list[str], room: int) -> list[int]:
    """Each column's width: its widest cell or heading, squeezed until the table fits
    ``room``, the widest first: a text column (cells with spaces) towards its longest word,
    any column's heading to its longest word; a single-word cell is never broken."""
    count = len(headings)
    cell_max = [0] * count
    word_max = [max(map(width_of, h.split()), default=0) for h in headings]
    spaced = [False] * count
    for row in cells:
        for i, cell in enumerate(row):
            n = len(cell) if cell.isascii() else width_of(cell)
            if n > cell_max[i]:
                cell_max[i] = n
            if not spaced[i] and (" " in cell or "\n" in cell):
                spaced[i] = True
    natural = [max(cell_max[i], width_of(headings[i])) for i in range(count)]
    if sum(natural) <= room:
        return natural
    for row in cells if any(spaced) else ():
        for i, cell in enumerate(row):
            if spaced[i] and len(cell) > word_max[i]:  # (no word is longer than its cell)
                word = max(map(width_of, cell.split()), default=0)
                if word > word_max[i]:
                    word_max[i] = word
    floor = [
        min(natural[i], max(word_max[i], MIN_TEXT)) if spaced[i] else max(cell_max[i], word_max[i])
        for i in range(count)
    ]
    chosen = list(natural)
    excess = sum(chosen) - room
    while excess > 0:  # the widest column that can give gives first, a cell at a time
        shrinkable = [i for i in range(count) if chosen[i] > floor[i]]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: (chosen[i], -i))
        chosen[widest] -= 1
        excess -= 1
    return chosen


def _lines(cell: str, width: int) -> list[str]:
    """``cell`` as lines of at most ``width`` cells, broken at spaces (a word longer than the
    width, which only a text column can hold once squeezed to its floor, is folded)."""
    if "\n" not in cell and (len(cell) <= width if cell.isascii() else width_of(cell) <= width):
        return [cell]
    if not cell.isascii():
        found: list[str] = []
        for part in cell.splitlines() or [""]:
            found.extend(textwrap.wrap(part, width, break_on_hyphens=False) or [""])
        return found
    found = []
    for part in cell.splitlines() or [""]:
        current = ""
        for word in part.split():
            if not current:
                current = word
            elif len(current) + 1 + len(word) <= width:
                current += " " + word
            else:
                found.append(current)
                current = word
            while len(current) > width:
                found.append(current[:width])
                current = current[width:]
        found.append(current)
    return found


def _pad(text: str, width: int, right: bool) -> str:
    gap = width - (len(text) if text.isascii() else width_of(text))
    if gap <= 0:
        return text
    return " " * gap + text if right else text + " " * gap


def natural_width(rows: Iterable[dict[str, Any]], columns: list[tuple[str, str]]) -> int:
    """How wide the table of ``rows`` is when nothing in it wraps."""
    keys = [k for k, _ in columns]
    cells = [["" if r.get(k) is None else str(r.get(k)) for k in keys] for r in rows]
    room = 10**9
    return sum(widths(cells, [h for _, h in columns], room)) + 3 * len(keys) + 1


def fits(rows: Iterable[dict[str, Any]], columns: list[tuple[str, str]]) -> bool:
    """Whether the table of ``rows`` fits the terminal without wrapping anything."""
    return natural_width(rows, columns) <= terminal_width()


def render(
    rows: Iterable[dict[str, Any]],
    columns: list[tuple[str, str]],
    title: str | None = None,
    right: tuple[str, ...] = (),
) -> None:
    """``rows`` as a boxed table with a bold header on stdout (see the module)."""
    keys = [k for k, _ in columns]
    headings = [h for _, h in columns]
    cells = [["" if r.get(k) is None else str(r.get(k)) for k in keys] for r in rows]
    aligned = [k in right for k in keys]
    room = terminal_width() - (3 * len(keys) + 1)
    sizes = widths(cells, headings, room)
    empty = [i for i in range(len(keys)) if cells and not any(row[i] for row in cells)]
    if empty and sum(sizes) > room:  # too wide: a column with nothing in it goes first
        kept = [i for i in range(len(keys)) if i not in empty]
        headings, aligned = [headings[i] for i in kept], [aligned[i] for i in kept]
        cells = [[row[i] for i in kept] for row in cells]
        room = terminal_width() - (3 * len(kept) + 1)
        sizes = widths(cells, headings, room)
    encoding = (getattr(sys.stdout, "encoding", None) or "utf-8").lower().replace("-", "")
    top, head, mid, body, bottom = HEAVY if encoding.startswith("utf") else ASCII
    bold = sys.stdout.isatty() and "NO_COLOR" not in os.environ

    def rule(chars: str) -> str:
        return chars[0] + chars[2].join(chars[1] * (n + 2) for n in sizes) + chars[3]

    def line(chars: str, row: list[str], style: str = "") -> list[str]:
        wrapped = [_lines(cell, n) for cell, n in zip(row, sizes, strict=True)]
        if not style and max(map(len, wrapped), default=1) == 1:  # the usual case
            parts = [_pad(w[0], n, a) for w, n, a in zip(wrapped, sizes, aligned, strict=True)]
            return [chars[0] + " " + f" {chars[1]} ".join(parts) + " " + chars[2]]
        out = []
        for k in range(max(map(len, wrapped), default=1)):
            parts = [
                _pad(w[k] if k < len(w) else "", n, a)
                for w, n, a in zip(wrapped, sizes, aligned, strict=True)
            ]
            if style:
                parts = [f"{style}{p}\x1b[0m" for p in parts]
            out.append(chars[0] + " " + f" {chars[1]} ".join(parts) + " " + chars[2])
        return out

    write = sys.stdout.write
    total = sum(sizes) + 3 * len(sizes) + 1
    lines: list[str] = []
    if title:
        lines.append(" " * max((total - width_of(title)) // 2, 0) + title)
    lines.append(rule(top))
    lines.extend(line(head, headings, "\x1b[1m" if bold else ""))
    lines.append(rule(mid))
    for row in cells:
        lines.extend(line(body, row))
        if len(lines) >= FLUSH:
            write("\n".join(lines) + "\n")
            lines = []
    lines.append(rule(bottom))
    write("\n".join(lines) + "\n")
    sys.stdout.flush()
