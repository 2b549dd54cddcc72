"""Help pages read like click's plain help: arguments by name (no ``<str>``), a usage line
``multichan stock set [OPTIONS] SKU QUANTITY`` (no ``{SKU}``), option values such as ``PATH``
and ``INTEGER``, and command summaries whole at 80 columns (issue 14, item 16)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import run_cli, run_subprocess

TYPER_METAVAR = re.compile(
    r"<(?:str|int|float|bool|path|file|list\[[^\]]*\]|[a-z_|]+)>|\{[A-Z_]+\}"
)


def every_command() -> list[list[str]]:
    from typer.main import get_command

    from multichan.cli import app

    group = get_command(app)
    found: list[list[str]] = [[]]
    for name in group.list_commands(None):  # type: ignore[attr-defined,arg-type]
        found.append([name])
        sub = group.get_command(None, name)  # type: ignore[attr-defined,arg-type]
        for child in getattr(sub, "list_commands", lambda ctx: [])(None):
            found.append([name, child])
    return found


COMMANDS = every_command()


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "multichan")
def test_help_names_arguments_and_values_as_click_does(command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.code == 0, result.output
    found = TYPER_METAVAR.findall(result.stdout)
    assert not found, f"typer metavars {found} in:\n{result.stdout}"
    usage = result.stdout.splitlines()[0]
    assert usage.startswith("Usage: multichan " + " ".join(command)), usage


def test_usage_and_arguments_of_stock_set() -> None:
    page = run_cli("stock", "set", "--help").stdout
    assert "Usage: multichan stock set [OPTIONS] SKU QUANTITY\n" in page
    assert re.search(r"^  SKU +The product's SKU\.", page, re.M), page
    assert re.search(r"^  QUANTITY +Units on hand\.", page, re.M), page
    assert "Usage: multichan push [OPTIONS] [CHANNELS...]" in run_cli("push", "--help").stdout
    main_page = run_cli("--help").stdout
    assert "-w, --workspace PATH" in main_page
    assert "-n, --limit INTEGER" in run_cli("exports", "--help").stdout
    assert "--only [listings|prices|quantities|shipments]" in run_cli("push", "--help").stdout


def _listed(page: str) -> dict[str, str]:
    """The Commands section of a help page: name -> its summary, wrapped lines joined."""
    section = page.split("Commands:\n", 1)[1]
    listed: dict[str, str] = {}
    name = ""
    for line in section.splitlines():
        match = re.match(r"^  (\S+)\s+(.*)$", line)
        if match:
            name = match.group(1)
            listed[name] = match.group(2).strip()
        elif line.strip() and name:
            listed[name] += " " + line.strip()
    return listed


def _first_sentence(text: str) -> str:
    paragraph = " ".join(text.strip().split("\n\n")[0].split())
    return re.split(r"\.(?:\s+(?=[A-Z])|$)", paragraph)[0]


@pytest.mark.parametrize("group", [[], ["catalog"], ["stock"], ["orders"], ["report"]])
def test_summaries_are_whole_at_80_columns(group: list[str]) -> None:
    from typer.main import get_command

    from multichan.cli import app

    result = run_subprocess(*group, "--help", env={"COLUMNS": "80"})
    assert result.code == 0, result.output
    assert max(map(len, result.stdout.splitlines())) <= 80
    listed = _listed(result.stdout)
    command = get_command(app)
    for name in group:
        command = command.get_command(None, name)  # type: ignore[attr-defined,arg-type]
    assert listed, result.stdout
    for name, summary in listed.items():
        sub = command.get_command(None, name)  # type: ignore[attr-defined,arg-type]
        assert not summary.endswith("..."), f"{name}: cut summary {summary!r}"
        assert summary == _first_sentence(sub.help or ""), name
