"""The command line itself: help and version, workspaces, usage errors and their exit codes,
stock and price commands, catalog checks, --json, --traceback and interruptions."""

from __future__ import annotations

import json
import sqlite3
import time
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.conftest import run_cli, run_subprocess


def show(ws: Path, sku: str) -> dict:
    result = run_cli("-w", ws, "catalog", "show", sku, "--json")
    assert result.code == 0, result.output
    return json.loads(result.stdout)


# --- help, version ---------------------------------------------------------------------------
def test_help_is_fast_and_lists_the_commands() -> None:
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        result = run_subprocess("--help")
        timings.append(time.perf_counter() - started)
        assert result.code == 0, result.output
    assert min(timings) < 1.5, timings
    for command in ("init", "import", "catalog", "stock", "price", "export", "exports"):
        assert command in result.stdout
    assert "\x1b[" not in result.stdout


def test_version() -> None:
    result = run_cli("--version")
    assert result.code == 0
    assert result.stdout.strip() == f"multichan {version('multichan')}"


# --- workspaces ------------------------------------------------------------------------------
def test_init_refuses_an_existing_workspace_unless_forced(demo: Path) -> None:
    refused = run_cli("init", demo)
    assert refused.code == 3
    assert "already" in refused.stderr and "--force" in refused.stderr
    assert len(json.loads(run_cli("-w", demo, "catalog", "list", "--json").stdout)) == 61
    forced = run_cli("init", "--force", demo)
    assert forced.code == 0, forced.output
    assert "61 products" in forced.stdout  # --force restores config, never the catalog
    assert len(json.loads(run_cli("-w", demo, "catalog", "list", "--json").stdout)) == 61


def test_a_folder_that_is_not_a_workspace(tmp_path: Path) -> None:
    result = run_cli("-w", tmp_path, "catalog", "list")
    assert result.code == 3
    assert "not a multichan workspace" in result.stderr
    assert "multichan init" in result.stderr  # the hint
    assert "Traceback" not in result.output


def test_workspace_from_the_environment(demo: Path) -> None:
    result = run_cli(
        "catalog", "show", "MUG-ENAMEL", "--json", env={"MULTICHAN_WORKSPACE": str(demo)}
    )
    assert result.code == 0, result.output
    assert json.loads(result.stdout)["sku"] == "MUG-ENAMEL"


# --- usage errors ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [["nope"], ["--nope"], ["export", "--nope"], ["catalog", "show"]],
    ids=["command", "option", "sub-option", "missing-arg"],
)
def test_usage_errors_exit_2(demo: Path, args: list[str]) -> None:
    result = run_cli("-w", demo, *args)
    assert result.code == 2, result.output
    assert "unexpected" not in result.stderr
    assert "Error" in result.stderr and "Traceback" not in result.stderr


def test_unknown_sku_is_a_usage_error(demo: Path) -> None:
    result = run_cli("-w", demo, "catalog", "show", "NOPE")
    assert result.code == 2
    assert "NOPE" in result.stderr
    assert result.stdout == ""


# --- stock -----------------------------------------------------------------------------------
def test_stock_adjust_with_a_negative_number_and_a_location(demo: Path) -> None:
    assert show(demo, "MUG-ENAMEL")["stock"] == {"store": 12, "warehouse": 40}
    result = run_cli("-w", demo, "stock", "adjust", "MUG-ENAMEL", "-1", "--location", "store")
    assert result.code == 0, result.output
    assert "MUG-ENAMEL at store: 12 -> 11" in result.stdout
    result = run_cli("-w", demo, "stock", "adjust", "MUG-ENAMEL", "+3", "-l", "warehouse")
    assert result.code == 0, result.output
    assert show(demo, "MUG-ENAMEL")["stock"] == {"store": 11, "warehouse": 43}


def test_stock_adjust_without_location_on_a_single_location_sku(
    workspace: Path, tmp_path: Path
) -> None:
    source = tmp_path / "products.csv"
    source.write_text("sku,title,price,quantity\nPEN-1,Pen,2.50,7\n", encoding="utf-8")
    assert run_cli("-w", workspace, "import", "csv", source).code == 0
    result = run_cli("-w", workspace, "stock", "adjust", "PEN-1", "-2")
    assert result.code == 0, result.output
    assert show(workspace, "PEN-1")["stock"] == {"default": 5}


def test_stock_adjust_rejects_a_non_number(demo: Path) -> None:
    result = run_cli("-w", demo, "stock", "adjust", "MUG-ENAMEL", "lots", "-l", "store")
    assert result.code == 2
    assert "lots" in result.stderr
    assert show(demo, "MUG-ENAMEL")["stock"]["store"] == 12


def test_stock_set_needs_a_location_when_there_are_several(demo: Path) -> None:
    result = run_cli("-w", demo, "stock", "set", "MUG-ENAMEL", "5")
    assert result.code == 2
    assert "store" in result.stderr and "warehouse" in result.stderr
    assert "--location" in result.stderr
    assert show(demo, "MUG-ENAMEL")["stock"] == {"store": 12, "warehouse": 40}
    ok = run_cli("-w", demo, "stock", "set", "MUG-ENAMEL", "5", "--location", "warehouse")
    assert ok.code == 0, ok.output
    assert show(demo, "MUG-ENAMEL")["stock"] == {"store": 12, "warehouse": 5}


def test_stock_of_an_unknown_sku(demo: Path) -> None:
    result = run_cli("-w", demo, "stock", "set", "NOPE", "5", "-l", "store")
    assert result.code == 2
    assert "NOPE" in result.stderr


# --- price -----------------------------------------------------------------------------------
def test_price_set_stores_two_decimals_and_never_guesses(demo: Path) -> None:
    for guess in ("19.999", "1,2345", "1.299"):  # three decimals, odd groups, ambiguous
        result = run_cli("-w", demo, "price", "set", "MUG-ENAMEL", guess)
        assert result.code == 2, result.output
        assert guess in result.stderr
    assert show(demo, "MUG-ENAMEL")["price"] == "14.00"
    for typed, stored in (("19.5", "19.50"), ("1,299.00", "1299.00"), ("1.299,00", "1299.00")):
        result = run_cli("-w", demo, "price", "set", "MUG-ENAMEL", typed)
        assert result.code == 0, result.output
        assert show(demo, "MUG-ENAMEL")["price"] == stored
    result = run_cli("-w", demo, "price", "set", "MUG-ENAMEL", "15.50", "--sale", "12")
    assert result.code == 0, result.output
    product = show(demo, "MUG-ENAMEL")
    assert (product["price"], product["sale_price"]) == ("15.50", "12.00")


def test_price_set_rejects_text(demo: Path) -> None:
    result = run_cli("-w", demo, "price", "set", "MUG-ENAMEL", "abc")
    assert result.code == 2
    assert "abc" in result.stderr
    assert show(demo, "MUG-ENAMEL")["price"] == "14.00"


# --- catalog ---------------------------------------------------------------------------------
def test_catalog_check_on_the_demo_is_clean(demo: Path) -> None:
    result = run_cli("-w", demo, "catalog", "check")
    assert result.code == 0, result.output
    assert "No problems" in result.stdout


def test_catalog_check_names_a_bad_gtin(demo: Path) -> None:
    con = sqlite3.connect(demo / "catalog.db")
    with con:
        con.execute("UPDATE products SET gtin = '4000000010013' WHERE sku = 'MUG-ENAMEL'")
    con.close()
    result = run_cli("-w", demo, "catalog", "check")
    assert result.code == 4
    assert "MUG-ENAMEL" in result.stdout and "4000000010013" in result.stdout
    as_json = run_cli("-w", demo, "catalog", "check", "--json")
    assert as_json.code == 4
    report = json.loads(as_json.stdout)
    assert report["count"] == 1
    assert report["problems"][0]["sku"] == "MUG-ENAMEL"
    assert report["problems"][0]["field"] == "gtin"


def test_catalog_list_json(demo: Path) -> None:
    result = run_cli("-w", demo, "catalog", "list", "--json")
    assert result.code == 0
    rows = json.loads(result.stdout)
    assert len(rows) == 61
    mug = next(r for r in rows if r["sku"] == "MUG-ENAMEL")
    assert mug["price"] == "14.00" and mug["quantity"] == 52
    found = json.loads(
        run_cli("-w", demo, "catalog", "list", "--search", "merino", "--json").stdout
    )
    assert found and all("merino" in (r["title"] + r["sku"]).lower() for r in found)


# --- errors: --traceback, unexpected errors, interruptions -----------------------------------
def test_traceback_option_shows_the_stack(demo: Path) -> None:
    plain = run_cli("-w", demo, "catalog", "show", "NOPE")
    assert "Traceback" not in plain.stderr
    result = run_cli("-w", demo, "--traceback", "catalog", "show", "NOPE")
    assert result.code == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert "NotFound" in result.stderr
    assert "Error: no product with SKU 'NOPE'" in result.stderr


def _raise(exc: BaseException):
    def boom(*args: object, **kwargs: object) -> None:
        raise exc

    return boom


def test_unexpected_error_exits_1_with_a_hint(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("multichan.catalog.store.list_products", _raise(RuntimeError("oops")))
    result = run_cli("-w", demo, "catalog", "list")
    assert result.code == 1
    assert "oops" in result.stderr and "--traceback" in result.stderr
    assert "Traceback" not in result.stderr
    with_stack = run_cli("-w", demo, "--traceback", "catalog", "list")
    assert with_stack.code == 1
    assert "Traceback (most recent call last)" in with_stack.stderr


def test_keyboard_interrupt_exits_130(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("multichan.feeds.run.export_all", _raise(KeyboardInterrupt()))
    result = run_cli("-w", demo, "export", "google")
    assert result.code == 130
    assert "Traceback" not in result.output


def test_keyboard_interrupt_says_so(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("multichan.feeds.run.export_all", _raise(KeyboardInterrupt()))
    result = run_cli("-w", demo, "export", "google")
    assert result.code == 130
    assert "interrupted" in result.stderr


def test_stock_set_at_an_unknown_location_is_refused(demo: Path) -> None:
    result = run_cli("-w", demo, "stock", "set", "MUG-ENAMEL", "5", "--location", "stroe")
    assert show(demo, "MUG-ENAMEL")["stock"] == {"store": 12, "warehouse": 40}
    assert result.code == 2
    assert "store" in result.stderr and "warehouse" in result.stderr


def test_a_run_over_several_channels_ends_with_its_worst_outcome_by_rank() -> None:
    """A config error (3) in one channel is never hidden by rejections (4) in another; a
    channel failure (5), exhausted retries (6) and the lock (7) outrank it."""
    from multichan.errors import worst

    assert worst([4, 3, 0]) == 3
    assert worst([3, 5]) == 5 and worst([6, 5]) == 6 and worst([7, 6]) == 7
    assert worst([0, 4]) == 4 and worst([]) == 0


def test_stock_and_price_changes_answer_in_json(demo: Path) -> None:
    result = run_cli("-w", demo, "stock", "set", "MUG-ENAMEL", "7", "-l", "store", "--json")
    assert result.code == 0, result.output
    assert json.loads(result.stdout) == {
        "exit_code": 0, "sku": "MUG-ENAMEL", "location": "store", "old": 12, "new": 7,
    }  # fmt: skip
    result = run_cli("-w", demo, "stock", "adjust", "MUG-ENAMEL", "-2", "-l", "store", "--json")
    assert json.loads(result.stdout)["new"] == 5
    result = run_cli("-w", demo, "price", "set", "MUG-ENAMEL", "15.5", "--json")
    assert (json.loads(result.stdout)["new"], result.code) == ("15.50", 0)


def test_a_negative_price_is_an_argument_refused_with_a_reason_not_an_unknown_option(
    demo: Path,
) -> None:
    result = run_cli("-w", demo, "price", "set", "MUG-ENAMEL", "-5")
    assert result.code == 2 and "negative amount" in result.stderr
    assert "No such option" not in result.output


def test_with_json_an_error_is_json_on_stdout_with_its_exit_code(demo: Path) -> None:
    for args, code, words in (
        (["stock", "set", "NOSUCH", "3", "--json"], 2, "no product with SKU 'NOSUCH'"),
        (["plan", "--bogus", "--json"], 2, "No such option: --bogus"),
        (["status", "nosuch", "--json"], 2, "no channel 'nosuch'"),
    ):
        result = run_cli("-w", demo, *args)
        assert result.code == code, (args, result.output)
        body = json.loads(result.stdout)
        assert body["exit_code"] == code and words in body["error"], body
        assert words in result.stderr  # and the person still reads it


def test_traceback_works_after_the_command_too(demo: Path) -> None:
    result = run_cli("-w", demo, "catalog", "show", "NOSUCH", "--traceback")
    assert result.code == 2 and "Traceback (most recent call last)" in result.stderr


def test_command_summaries_are_whole_sentences_at_80_columns() -> None:
    result = run_subprocess("--help", env={"COLUMNS": "80"})
    assert result.code == 0
    commands = result.stdout.split("Commands:")[1]
    assert "..." not in commands
    assert "'orders show' for" in result.stdout and "templates/ and" in result.stdout
