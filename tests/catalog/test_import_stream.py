"""Imports stream: a long file is read a row at a time and written in batches, yet a seller
sees the same report: every rejected row (in --json too, past the ones kept in memory), the
first SKUs a dry run would add with a count of the rest, and a file that turns out not to be
UTF-8 late (after several batches were written) changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from multichan.catalog.importers.base import Rejections
from multichan.catalog.store import BATCH, EXAMPLES
from tests.conftest import run_cli

BAD = GOOD = Rejections.HEAD + 500  # more than are held in memory, more than are listed
assert GOOD > EXAMPLES


def catalog(ws: Path) -> dict:
    result = run_cli("-w", ws, "catalog", "list", "--json")
    assert result.code == 0, result.output
    return json.loads(result.stdout)


def write_mixed(path: Path) -> Path:
    """GOOD rows, and BAD rows without a title, interleaved; returns the path."""
    lines = ["sku,title,price"]
    for n in range(GOOD + BAD):
        title = "" if n % 2 else f"Item {n}"
        lines.append(f"S-{n:05d},{title},9.99")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_json_lists_every_rejected_row_and_counts_past_the_examples(
    workspace: Path, tmp_path: Path
) -> None:
    path = write_mixed(tmp_path / "mixed.csv")
    result = run_cli("-w", workspace, "import", "csv", path, "--dry-run", "--json")
    assert result.code == 4, result.output
    summary = json.loads(result.stdout)
    rejected = summary["rejected"]
    assert len(rejected) == BAD  # all of them, beyond the ones held in memory
    assert rejected[0] == {"line": 3, "sku": "S-00001", "reason": "title is empty"}
    assert rejected[-1]["line"] == 2 * BAD + 1 and rejected[-1]["sku"] == f"S-{2 * BAD - 1:05d}"
    assert summary["added"] == GOOD and len(summary["added_skus"]) == EXAMPLES
    assert summary["added_skus"][0] == "S-00000"
    assert catalog(workspace) == []  # a dry run


def test_dry_run_lists_the_first_skus_then_how_many_more(workspace: Path, tmp_path: Path) -> None:
    path = write_mixed(tmp_path / "mixed.csv")
    result = run_cli("-w", workspace, "import", "csv", path, "--dry-run")
    assert result.code == 4
    lines = result.stdout.splitlines()
    assert sum(line.startswith("+ S-") for line in lines) == EXAMPLES
    assert f"+ ... and {GOOD - EXAMPLES} more" in lines
    assert f"{GOOD} added, 0 changed, 0 unchanged, {BAD} rejected (would be written)" in lines
    assert result.stderr.count("rejected") >= BAD  # one line per rejected row

    result = run_cli("-w", workspace, "import", "csv", path)
    assert result.code == 4
    assert len(catalog(workspace)) == GOOD


def test_a_file_broken_after_several_batches_changes_nothing(
    workspace: Path, tmp_path: Path
) -> None:
    rows = [f"B-{n:05d},Item {n},1.00" for n in range(BATCH * 4)]
    path = tmp_path / "late.csv"
    path.write_bytes(("sku,title,price\n" + "\n".join(rows) + "\n").encode() + b"B-X,\xff,1\n")
    result = run_cli("-w", workspace, "import", "csv", path)
    assert result.code == 2, result.output
    assert f"invalid byte at line {BATCH * 4 + 2}" in result.stderr
    assert catalog(workspace) == []
