"""Benchmark: peak memory and time of `multichan plan` (and `plan --json`, `--jsonl`) for a
first push of a large catalog, against a baseline package measured in the same run.

    python bench/plan_bench.py                         # 10,000 and 100,000 SKUs
    python bench/plan_bench.py --skus 1000000          # one size
    python bench/plan_bench.py --baseline /tmp/base    # also run the package found there

The catalog is make_catalog.py's (groups of 8 variants), imported with the generic CSV
importer, with one WooCommerce channel (never contacted: a plan sends nothing) and no push
state, so every offered SKU is a create in all three kinds. Each command runs in its own child
process, stdout to /dev/null; its peak RSS is that child's own ``ru_maxrss`` (``os.wait4``,
so one run's peak never shows in the next). ``--baseline DIR``: a directory holding another
``multichan`` package (e.g. ``git archive HEAD multichan | tar -x -C DIR``), run on the same
workspace; ratios are this tree's figures over the baseline's. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(Path(__file__).parent)]
from push_scenario import build  # noqa: E402

CONFIG = """version: 1
shop:
  name: Bench
  url: https://shop.example.com
  link_template: "https://shop.example.com/products/{{handle}}"
  currency: USD
defaults:
  filters:
    status: [active]
channels:
  woo:
    type: woocommerce
    settings:
      base_url: http://127.0.0.1:9
      consumer_key: ${WOOCOMMERCE_CONSUMER_KEY}
      consumer_secret: ${WOOCOMMERCE_CONSUMER_SECRET}
"""

COMMANDS = {
    "plan": ["plan"],
    "plan --json": ["plan", "--json"],
    "plan --jsonl": ["plan", "--jsonl"],
}


def measure(package: Path, ws: Path, args: list[str]) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, exit code) of ``multichan -w ws *args`` run from ``package``."""
    env = {**os.environ, "PYTHONPATH": str(package), "WOOCOMMERCE_CONSUMER_KEY": "ck",
           "WOOCOMMERCE_CONSUMER_SECRET": "cs"}  # fmt: skip
    start = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "multichan", "-w", str(ws), *args],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=str(package),
    )  # fmt: skip
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - start
    peak = usage.ru_maxrss / 1024  # kilobytes on Linux
    return elapsed, peak, child.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, action="append", help="catalog sizes")
    parser.add_argument("--baseline", type=Path, help="a directory holding a multichan package")
    parser.add_argument("--only", choices=sorted(COMMANDS), action="append")
    args = parser.parse_args()
    sizes = args.skus or [10_000, 100_000]
    names = args.only or list(COMMANDS)
    print(f"{'SKUs':>9} {'command':<13} {'seconds':>8} {'peak MB':>8}"
          + (f" {'base s':>8} {'base MB':>8} {'x time':>7} {'x mem':>6}" if args.baseline
             else ""), flush=True)  # fmt: skip
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="plan-bench-") as tmp:
            ws = build(Path(tmp), n)
            (ws / "channels.yaml").write_text(CONFIG, encoding="utf-8")
            for name in names:
                seconds, peak, code = measure(ROOT, ws, COMMANDS[name])
                line = f"{n:>9,} {name:<13} {seconds:>8.1f} {peak:>8.0f}"
                if code:
                    line += f"  (exit {code})"
                if args.baseline and name != "plan --jsonl":
                    b_s, b_mb, b_code = measure(args.baseline, ws, COMMANDS[name])
                    line += f" {b_s:>8.1f} {b_mb:>8.0f} {seconds / b_s:>7.2f} {peak / b_mb:>6.2f}"
                    if b_code:
                        line += f"  (baseline exit {b_code})"
                print(line, flush=True)


if __name__ == "__main__":
    main()
