"""Printing for the CLI: results on stdout (rich tables or JSON), messages on stderr.

Rich decides colour from the stream: no escape codes when stdout/stderr is not a terminal, and
none when NO_COLOR is set.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any


@dataclass
class State:
    workspace: Path | None = None
    traceback: bool = False
    json_written: bool = False  # a JSON result is on stdout: an error after it adds no second


STATE = State()


def workspace():  # -> multichan.workspace.Workspace
    from multichan.workspace import resolve

    return resolve(STATE.workspace)


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def out(text: str = "") -> None:
    """A plain result line on stdout (markup allowed)."""
    _console().print(text)


def err(text: str) -> None:
    """A message for the person on stderr (markup allowed)."""
    _console(stderr=True).print(text)


def error(message: str, hint: str | None = None) -> None:
    from rich.markup import escape

    console = _console(stderr=True)
    console.print(f"[bold red]Error:[/] {escape(message)}")
    if hint:
        console.print(f"  {escape(hint)}")


def warn(message: str) -> None:
    from rich.markup import escape

    _console(stderr=True).print(f"[yellow]Warning:[/] {escape(message)}")


def print_traceback() -> None:
    import traceback

    traceback.print_exc(file=sys.stderr)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "as_dict"):
        return value.as_dict()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def print_json(data: Any) -> None:
    STATE.json_written = True
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=_default) + "\n")


def table(
    rows: Iterable[dict[str, Any]],
    columns: list[tuple[str, str]],
    title: str | None = None,
    right: tuple[str, ...] = (),
) -> None:
    """A table of ``rows`` on stdout; ``columns`` is [(key, heading)], ``right`` the keys
    shown right-aligned. See ``tables.render``: a SKU, date or hash stays on one line."""
    from multichan.cli.tables import render

    render(rows, columns, title=title, right=right)


def without_channel(message: str | None, channel: str) -> str:
    """``message`` without a leading "CHANNEL: ": the line it goes on names the channel."""
    text = message or ""
    return text[len(channel) + 2 :] if text.startswith(f"{channel}: ") else text


def summary_line(r: Any) -> str:
    """One line per channel for people and cron logs."""
    from rich.markup import escape

    from multichan.text import counted

    left = len({d.sku for d in r.left_out})
    if r.status in ("failed", "refused"):
        return f"[red]{r.channel}: {r.status}[/]: {escape(without_channel(r.message, r.channel))}"
    verb = "checked" if r.status == "checked" else f"wrote {r.path} ({counted(r.bytes, 'byte')})"
    line = f"{r.channel}: {verb}, {counted(r.items, 'item')}, {left:,} left out"
    if r.uploaded_to:
        line += f", uploaded to {r.uploaded_to}"
    if r.message:
        line += f" [red]{escape(without_channel(r.message, r.channel))}[/]"
    return line


class _Progress:
    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import Progress

        self.bar = Progress(console=Console(stderr=True), transient=True)

    def __call__(self, name: str, total: int):  # -> Callable[[int], None]
        task = self.bar.add_task(name, total=total)
        return lambda n: self.bar.update(task, completed=n)


@contextlib.contextmanager
def progress_factory(enabled: bool = True):  # -> Iterator[_Progress | None]
    """A progress bar on stderr, only when stderr is a terminal."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    factory = _Progress()
    with factory.bar:
        yield factory


@contextlib.contextmanager
def counting(label: str, enabled: bool = True):  # -> Iterator[Callable[[int], None] | None]
    """A running count on stderr ("importing products.csv: 12,500 read") for work whose
    total is not known ahead, only when stderr is a terminal; else None."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}: {task.completed:,} read"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with bar:
        task = bar.add_task(label, total=None)
        yield lambda n: bar.update(task, completed=n)
