"""An import is one transaction: ``kill -9`` of a real ``multichan import csv`` process at any
point (before its first write, after rows were written to the WAL, late in the file) leaves
the catalog exactly as it was, and running the import again then imports every row once, as
an import that was never interrupted does."""

from __future__ import annotations

import csv
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli

ROWS = 30_000
HEADER = ["sku", "title", "price", "image_link", "quantity:store", "quantity:warehouse"]
TABLES = {  # table -> columns compared (timestamps left out: a rerun happens later)
    "products": "sku, title, price, currency, status",
    "images": "sku, position, url",
    "locations": "code, name",
    "stock": "sku, location, quantity, committed",
    "stock_moves": "id, sku, location, on_hand_change, on_hand_after, reason",
}


def write(path: Path, rows: int, price: str) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for n in range(rows):
            out.writerow(
                [f"K-{n:06d}", f"Item {n}", price, f"https://x.example/{n}.jpg", n % 7, n % 5 + 1]
            )
    return path


def dump(ws: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every compared row of the catalog, as a reader that opens it after the kill sees it."""
    conn = sqlite3.connect(ws / "catalog.db")
    try:
        return {
            table: conn.execute(f"SELECT {cols} FROM {table} ORDER BY {cols}").fetchall()
            for table, cols in TABLES.items()
        }
    finally:
        conn.close()


def start_import(ws: Path, path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "multichan", "-w", str(ws), "import", "csv", str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def kill_when(proc: subprocess.Popen[bytes], wal: Path, grown: int, after: float) -> int:
    """SIGKILL ``proc`` once ``after`` seconds have passed and the WAL has grown by ``grown``
    bytes (the import's uncommitted pages reached the file); returns that growth."""
    start_size = wal.stat().st_size if wal.exists() else 0
    started = time.monotonic()
    while True:
        size = (wal.stat().st_size if wal.exists() else 0) - start_size
        if time.monotonic() - started >= after and size >= grown:
            break
        if proc.poll() is not None:
            assert proc.stderr is not None
            pytest.fail(f"the import ended before the kill point: {proc.stderr.read()!r}")
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL
    assert proc.stderr is not None
    proc.stderr.close()
    return size


@pytest.mark.slow
def test_a_killed_import_leaves_the_catalog_as_it_was(tmp_path: Path, workspace: Path) -> None:
    # a catalog with stock and moves: the first 1,000 SKUs of the big file, at another price
    small = write(tmp_path / "small.csv", 1_000, "5.00")
    assert run_cli("-w", workspace, "import", "csv", small).code == 0
    reference = tmp_path / "reference"
    shutil.copytree(workspace, reference)
    before = dump(workspace)
    assert len(before["products"]) == 1_000 and before["stock_moves"]

    big = write(tmp_path / "big.csv", ROWS, "7.50")  # 1,000 changed, 29,000 new
    wal = workspace / "catalog.db-wal"
    points = [(0, 0.3), (1 << 20, 0.0), (6 << 20, 0.0)]  # (WAL growth, seconds)
    written = []
    for grown, after in points:
        written.append(kill_when(start_import(workspace, big), wal, grown, after))
        assert dump(workspace) == before, f"the catalog changed (killed at {grown} bytes)"
    assert written[-1] >= 6 << 20  # the last kill came after many rows reached the disk

    rerun = run_cli("-w", workspace, "import", "csv", big)
    assert rerun.code == 0, rerun.output
    assert "29000 added, 1000 changed, 0 unchanged, 0 rejected" in rerun.stdout
    clean = run_cli("-w", reference, "import", "csv", big)  # never interrupted
    assert clean.code == 0, clean.output
    after = dump(workspace)
    assert after == dump(reference)
    assert len(after["products"]) == ROWS
    moves = [(sku, loc) for _, sku, loc, *_ in after["stock_moves"]]
    assert len(moves) == len(set(moves))  # each count was recorded once
