"""Benchmark: export the Google XML feed of a large catalog, against a baseline measured in the
same run (``sqlite-utils query catalog.db "select * from products" --csv`` over the same rows).

    python bench/export_bench.py                 # 10k and 100k SKUs
    python bench/export_bench.py 10000 1000000   # the issue's 10k -> 1M check

For each size: build the catalog through the generic CSV importer, then time the export and the
baseline as separate processes, best of three rounds (each round runs both, in turn), and print
items/s, the ratio export/baseline and the peak RSS of each process: the export's own and the
largest of its feed workers (it renders on every core). Not part of the test suite.
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
from make_catalog import write

# `multichan ARGS` as `python -m multichan` runs it, then the peak RSS of its children (the
# feed workers, which it has waited for) on stderr's last line
EXPORT = (
    "import resource, sys\n"
    "from multichan.cli import run\n"
    "try:\n"
    "    run()\n"
    "finally:\n"
    "    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
)


def timed(cmd: list[str]) -> tuple[float, float, float]:
    """Run ``cmd``; return (seconds, its peak RSS, its children's peak RSS; both in MB)."""
    with tempfile.TemporaryFile() as stderr:  # not a pipe: a chatty process never blocks
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        stderr.seek(0)
        err = stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {err}")
    last = err.strip().rsplit("\n", 1)[-1]
    children = int(last) / 1024 if last.isdigit() else 0.0
    return elapsed, usage.ru_maxrss / 1024, children


def best_of(n: int, *cmds: list[str]) -> list[tuple[float, float, float]]:
    """Each command's best time (and peak RSS) over ``n`` rounds; a round runs each command
    once, in turn, so a machine that slows down for a while slows them all alike."""
    runs = [[timed(cmd) for cmd in cmds] for _ in range(n)]
    return [
        (min(r[k][0] for r in runs), max(r[k][1] for r in runs), max(r[k][2] for r in runs))
        for k in range(len(cmds))
    ]


def compile_package() -> None:
    """Write multichan's bytecode, as installing a wheel does: an editable install under
    PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module on every start."""
    import compileall

    import multichan

    compileall.compile_dir(Path(multichan.__file__).parent, quiet=1)


def main(sizes: list[int]) -> None:
    compile_package()
    multichan = [sys.executable, "-m", "multichan"]
    sqlite_utils = shutil.which("sqlite-utils") or "sqlite-utils"
    print(
        f"{'SKUs':>9} {'import s':>9} {'export s':>9} {'items/s':>9} {'baseline s':>10} "
        f"{'ratio':>6} {'export RSS MB':>13} {'worker RSS MB':>13} {'baseline RSS MB':>15}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            root = Path(tmp) / f"ws{size}"
            csv_path = Path(tmp) / f"{size}.csv"
            write(csv_path, size)
            identity = ["--name", "Bench Shop", "--url", "https://bench.example.com"]
            subprocess.run([*multichan, "init", root, *identity], check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
            import_s, _, _ = timed([*multichan, "-w", str(root), "import", "csv", str(csv_path)])
            export = [sys.executable, "-c", EXPORT, "-w", str(root), "export", "google", "--force"]
            baseline = [sqlite_utils, "query", str(root / "catalog.db"), "select * from products"]
            (export_s, export_rss, worker_rss), (base_s, base_rss, _) = best_of(
                3, export, [*baseline, "--csv"]
            )
            print(
                f"{size:>9,} {import_s:>9.1f} {export_s:>9.2f} {size / export_s:>9,.0f} "
                f"{base_s:>10.2f} {export_s / base_s:>6.2f} {export_rss:>13.0f} "
                f"{worker_rss:>13.0f} {base_rss:>15.0f}",
                flush=True,
            )
            shutil.rmtree(root)
            csv_path.unlink()


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10_000, 100_000])
