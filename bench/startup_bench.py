"""Benchmark: how long `multichan --help` and `multichan --version` take to start, against a
baseline measured in the same run (`sqlite-utils --help`, a CLI of the same kind).

    python bench/startup_bench.py          # best of 10 rounds
    python bench/startup_bench.py 30       # best of 30

Each round runs every command once, in turn, as a fresh process with no TTY (as cron does);
the best time of each is printed with its ratio to the baseline. The goal: a ratio of at most
about 1.0. Not part of the test suite: tests/test_startup.py guards which modules start-up
imports, which is what keeps it fast, without a clock.
"""

from __future__ import annotations

import subprocess
import sys
import time

COMMANDS = {
    "sqlite-utils --help (baseline)": [sys.executable, "-m", "sqlite_utils", "--help"],
    "multichan --help": [sys.executable, "-m", "multichan", "--help"],
    "multichan --version": [sys.executable, "-m", "multichan", "--version"],
    "multichan export --help": [sys.executable, "-m", "multichan", "export", "--help"],
}


def once(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - started


def main(rounds: int) -> None:
    best = dict.fromkeys(COMMANDS, float("inf"))
    for _ in range(rounds):
        for name, args in COMMANDS.items():
            best[name] = min(best[name], once(args))
    baseline = next(iter(best.values()))
    print(f"best of {rounds} rounds")
    for name, seconds in best.items():
        print(f"{name:32} {seconds * 1000:7.1f} ms   x{seconds / baseline:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
