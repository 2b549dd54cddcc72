"""Benchmark: export the Google XML feed of a large catalog, against a baseline measured in the
same run (``sqlite-utils query catalog.db "select * from products" --csv`` over the same rows).

    python bench/export_bench.py                 # 10k and 100k SKUs
    python bench/export_bench.py 10000 1000000   # the issue's 10k -> 1M check

For each size: build the catalog through the generic CSV importer, then time the export and the
baseline as separate processes and print items/s, the ratio export/baseline and each process's
peak RSS. Not part of the test suite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from make_catalog import write  # noqa: E402


def timed(cmd: list[str], stdout=subprocess.DEVNULL) -> tuple[float, float]:
    """Run ``cmd``; return (seconds, peak RSS in MB) of that process alone."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
    return elapsed, usage.ru_maxrss / 1024


def best_of(n: int, cmd: list[str]) -> tuple[float, float]:
    runs = [timed(cmd) for _ in range(n)]
    return min(r[0] for r in runs), max(r[1] for r in runs)


def main(sizes: list[int]) -> None:
    multichan = [sys.executable, "-m", "multichan"]
    sqlite_utils = shutil.which("sqlite-utils") or "sqlite-utils"
    print(
        f"{'SKUs':>9} {'import s':>9} {'export s':>9} {'items/s':>9} {'baseline s':>10} "
        f"{'ratio':>6} {'export RSS MB':>13} {'baseline RSS MB':>15}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            root = Path(tmp) / f"ws{size}"
            csv_path = Path(tmp) / f"{size}.csv"
            write(csv_path, size)
            subprocess.run([*multichan, "init", root], check=True, stdout=subprocess.DEVNULL)
            import_s, _ = timed([*multichan, "-w", str(root), "import", "csv", str(csv_path)])
            export_s, export_rss = best_of(
                2, [*multichan, "-w", str(root), "export", "google", "--force"]
            )
            base_s, base_rss = best_of(
                2,
                [
                    sqlite_utils,
                    "query",
                    str(root / "catalog.db"),
                    "select * from products",
                    "--csv",
                ],
            )
            print(
                f"{size:>9,} {import_s:>9.1f} {export_s:>9.2f} {size / export_s:>9,.0f} "
                f"{base_s:>10.2f} {export_s / base_s:>6.2f} {export_rss:>13.0f} "
                f"{base_rss:>15.0f}",
                flush=True,
            )
            shutil.rmtree(root)
            csv_path.unlink()


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10_000, 100_000])
