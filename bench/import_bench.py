"""Benchmark: ``multichan import csv`` of a large file, against a baseline measured in the same
run (``sqlite-utils insert catalog.db products FILE --csv`` of the same file).

    python bench/import_bench.py                  # 10k and 100k rows
    python bench/import_bench.py 10000 1000000    # the issue's 10k -> 1M check

For each size: write the file (make_catalog.py, the generic format), then run, each as its own
process, best of three rounds (one round above 100k rows): the import into a fresh workspace
(every SKU new), the same import again (every SKU unchanged: the comparing path), and the
baseline into a fresh database. Prints wall seconds, CPU seconds (user + system, from
``wait4``), peak RSS (``ru_maxrss``) and the ratios against the baseline. Not part of the test
suite. The issue's bar: peak RSS flat from 10k to 1M rows (<= 150 MB), CPU <= 1.5x baseline.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from export_bench import compile_package
from make_catalog import write


@dataclass(frozen=True)
class Run:
    wall: float  # seconds
    cpu: float  # user + system seconds
    rss: float  # peak RSS, MB


def measured(cmd: list[str]) -> Run:
    """Run ``cmd`` as a child process; its wall time, CPU time and peak RSS."""
    with tempfile.TemporaryFile() as stderr:  # not a pipe: a chatty process never blocks
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        stderr.seek(0)
        err = stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {err}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def best(runs: list[Run]) -> Run:
    """The fastest round's times and the largest peak RSS of all rounds."""
    return Run(min(r.wall for r in runs), min(r.cpu for r in runs), max(r.rss for r in runs))


def main(sizes: list[int]) -> None:
    compile_package()
    multichan = [sys.executable, "-m", "multichan"]
    sqlite_utils = shutil.which("sqlite-utils") or "sqlite-utils"
    print(
        f"{'rows':>9} {'run':<10} {'wall s':>8} {'CPU s':>8} {'RSS MB':>7} "
        f"{'CPU ratio':>9} {'RSS ratio':>9}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty"
        identity = ["--name", "Bench Shop", "--url", "https://bench.example.com"]
        subprocess.run([*multichan, "init", empty, *identity], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        for size in sizes:
            csv_path = Path(tmp) / f"{size}.csv"
            write(csv_path, size)
            rounds = 3 if size <= 100_000 else 1
            fresh, again, base = [], [], []
            for n in range(rounds):
                root = Path(tmp) / f"ws{size}-{n}"
                shutil.copytree(empty, root)
                command = [*multichan, "-w", str(root), "import", "csv", str(csv_path)]
                fresh.append(measured(command))
                again.append(measured(command))
                shutil.rmtree(root)
                target = Path(tmp) / f"base{size}-{n}.db"
                base.append(measured([sqlite_utils, "insert", str(target), "products",
                                      str(csv_path), "--csv"]))  # fmt: skip
                target.unlink()
            baseline = best(base)
            for name, run in (("import", best(fresh)), ("re-import", best(again)),
                              ("baseline", baseline)):  # fmt: skip
                print(
                    f"{size:>9,} {name:<10} {run.wall:>8.2f} {run.cpu:>8.2f} {run.rss:>7.0f} "
                    f"{run.cpu / baseline.cpu:>9.2f} {run.rss / baseline.rss:>9.2f}",
                    flush=True,
                )
            csv_path.unlink()


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10_000, 100_000])
