"""Startup: `multichan --help` is at least as fast as `sqlite-utils --help` because the heavy
modules are imported only by the commands that need them."""

from __future__ import annotations

import subprocess
import sys
import time


def best_of(args: list[str], runs: int = 5) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True, stdin=subprocess.DEVNULL)
        timings.append(time.perf_counter() - started)
    return min(timings)


def test_help_starts_at_least_as_fast_as_sqlite_utils() -> None:
    ours = best_of([sys.executable, "-m", "multichan", "--help"])
    theirs = best_of([sys.executable, "-m", "sqlite_utils", "--help"])
    assert ours <= theirs * 1.15, f"multichan --help {ours:.3f}s, sqlite-utils --help {theirs:.3f}s"


def test_help_imports_no_engine_modules() -> None:
    code = (
        "import sys\n"
        "from multichan.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = {'jinja2', 'sqlite_utils', 'requests', 'yaml', 'paramiko', 'multichan.offers',"
        " 'multichan.catalog.store', 'multichan.feeds.export'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
