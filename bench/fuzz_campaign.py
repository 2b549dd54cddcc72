"""The large fuzz campaign behind issue 15's items 1 and 2: thousands of mutated import files
and channels.yaml files, each run through the CLI, counted by exit code. Zero exit-1
("unexpected error") outcomes is the bar; the suite runs the same mutations a few hundred
times, seeded (tests/catalog/test_import_bounds.py, tests/test_config_hostile.py).

    python bench/fuzz_campaign.py                          # 15,000 imports, 3,000 configs
    python bench/fuzz_campaign.py --imports 2000 --configs 500 --seed 7

Each case runs in-process (the CLI's own entry point, as the suite's runner does) on a demo
workspace made once; an import that was accepted is undone by restoring the catalog
(SQLite's backup). Prints the count per exit code for each kind, the slowest case, and every
exit-1 case with what reproduces it. Exits 1 when any case exited 1. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.catalog.test_import_bounds import mutated_import
from tests.conftest import run_cli
from tests.test_config_hostile import mutated_config


def campaign(
    name: str, cases: int, seed: int, one: Callable[[random.Random, int], tuple[int, str]]
) -> tuple[Counter[int], list[str], tuple[float, str]]:
    """Run ``one(rnd, i)`` ``cases`` times; each returns (exit code, what reproduces it)."""
    codes: Counter[int] = Counter()
    crashes: list[str] = []
    slowest = (0.0, "")
    started = time.monotonic()
    for i in range(cases):
        rnd = random.Random(seed * 1_000_003 + i)
        t = time.monotonic()
        code, case = one(rnd, i)
        took = time.monotonic() - t
        codes[code] += 1
        if code == 1:
            crashes.append(case)
        if took > slowest[0]:
            slowest = (took, case)
        if sys.stderr.isatty() and i % 100 == 0:
            print(f"\r{name}: {i:,}/{cases:,}", end="", file=sys.stderr, flush=True)
    if sys.stderr.isatty():
        print("\r", end="", file=sys.stderr)
    print(f"{name}: {cases:,} cases in {time.monotonic() - started:.0f} s")
    return codes, crashes, slowest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--imports", type=int, default=15_000)
    parser.add_argument("--configs", type=int, default=3_000)
    parser.add_argument("--rows", type=int, default=3, help="most rows per import file")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        demo = Path(tmp) / "shop"
        assert run_cli("init", "--demo", demo).code == 0
        catalog = demo / "catalog.db"
        pristine = Path(tmp) / "catalog.pristine"
        shutil.copy(catalog, pristine)
        config_text = (demo / "channels.yaml").read_text(encoding="utf-8")
        base = config_text.splitlines(keepends=True)
        path = Path(tmp) / "fuzz.csv"

        def one_import(rnd: random.Random, i: int) -> tuple[int, str]:
            fmt, text = mutated_import(rnd, rows=rnd.randint(1, args.rows))
            path.write_text(text, encoding="utf-8")
            code = run_cli("-w", demo, "import", fmt, path).code
            if code in (0, 4):  # something was written: back to the demo catalog (through
                # SQLite: a connection of the run may not be collected yet, and a file
                # replaced under it fails the next run with "disk I/O error")
                with (
                    contextlib.closing(sqlite3.connect(pristine)) as src,
                    contextlib.closing(sqlite3.connect(catalog)) as dst,
                ):
                    src.backup(dst)
            return code, f"import {fmt} of {text!r}"

        def one_config(rnd: random.Random, i: int) -> tuple[int, str]:
            text = mutated_config(base, rnd)
            (demo / "channels.yaml").write_text(text, encoding="utf-8")
            code = run_cli("-w", demo, "export", "--check", "--all", env={"X": "1"}).code
            return code, f"export --check --all with channels.yaml {text!r}"

        results = [
            ("import", *campaign("import", args.imports, args.seed, one_import)),
            ("channels.yaml", *campaign("channels.yaml", args.configs, args.seed, one_config)),
        ]
    print(f"\n{'kind':<14} {'cases':>7} " + " ".join(f"{'exit ' + str(c):>7}" for c in
          (0, 1, 2, 3, 4, 5)) + f" {'slowest s':>9}")  # fmt: skip
    failed = False
    for kind, codes, crashes, (slow, _) in results:
        row = " ".join(f"{codes.get(c, 0):>7,}" for c in (0, 1, 2, 3, 4, 5))
        others = sorted(set(codes) - {0, 1, 2, 3, 4, 5})
        extra = f"  (other: {dict((c, codes[c]) for c in others)})" if others else ""
        print(f"{kind:<14} {sum(codes.values()):>7,} {row} {slow:>9.2f}{extra}")
        for case in crashes[:20]:
            print(f"  exit 1: {case}")
        failed = failed or bool(crashes)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
