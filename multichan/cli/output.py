"""Printing for the CLI: results on stdout (rich tables or JSON), messages on stderr.

Rich decides colour from the stream: no escape codes when stdout/stderr is not a terminal, and
none when NO_COLOR is set.
"""

from __future__ import annotations

import contextlib
import json
import sys
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
    rows: list[dict[str, Any]],
    columns: list[tuple[str, str]],
    title: str | None = None,
    right: tuple[str, ...] = (),
) -> None:
    """A rich table of ``rows``; ``columns`` is [(key, heading)]."""
    from rich.markup import escape
    from rich.table import Table

    grid = Table(title=title, show_lines=False, header_style="bold")
    for key, heading in columns:
        grid.add_column(heading, justify="right" if key in right else "left", overflow="fold")
    for row in rows:
        grid.add_row(*(escape("" if row.get(k) is None else str(row.get(k))) for k, _ in columns))
    _console().print(grid)


def summary_line(r: Any) -> str:
    """One line per channel for people and cron logs."""
    from rich.markup import escape

    left = len({d.sku for d in r.left_out})
    if r.status == "failed":
        return f"[red]{r.channel}: failed[/]: {escape(r.message or '')}"
    if r.status == "refused":
        return f"[red]{r.channel}: refused[/]: {escape(r.message or '')}"
    verb = "checked" if r.status == "checked" else f"wrote {r.path} ({r.bytes:,} bytes)"
    line = f"{r.channel}: {verb}, {r.items} items, {left} left out"
    if r.uploaded_to:
        line += f", uploaded to {r.uploaded_to}"
    if r.message:
        line += f" [red]{escape(r.message)}[/]"
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
