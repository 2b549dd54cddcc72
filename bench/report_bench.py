"""Benchmark: `multichan report sales` and `report stock` over a catalog with 1M order lines,
against a baseline measured in the same run (one plain scan of the order lines:
``SELECT COUNT(*), SUM(ordered) FROM order_lines``).

    python bench/report_bench.py              # 1,000,000 order lines
    python bench/report_bench.py 200000       # another size

Builds a workspace (``multichan init``), 2,000 products with stock at 3 locations, and orders
over a year on 4 channels (2.5 lines an order, every status, some before the baseline, some
lines with SKUs not in the catalog) with executemany; then times each report in-process
through the engine (best of three, after one warm-up) and prints seconds and the ratio to the
baseline. Then it adds the candidate index below, times the reports again and prints both, so
the figure an index buys is measured, not guessed. Not part of the test suite.
"""

from __future__ import annotations

import contextlib
import io
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from multichan.catalog.schema import open_catalog
from multichan.cli import main
from multichan.reports import GROUPS, sales_report, stock_report

CHANNELS = ("shop", "woo", "pos", "ebay")
LOCATIONS = ("warehouse", "store", "popup")
STATUSES = ("closed",) * 14 + ("open",) * 4 + ("pending", "cancelled")
CANDIDATE_INDEX = (
    "CREATE INDEX order_lines_report ON order_lines "
    "(channel, order_id, sku, location, ordered, returned, refunded, problem)"
)


def build(ws: Path, lines_wanted: int) -> int:
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            main(["init", str(ws), "--name", "Bench Shop", "--url", "https://bench.example.com"])
    except SystemExit as exc:
        assert not exc.code, exc.code
    db = open_catalog(ws / "catalog.db")
    conn, rnd = db.conn, random.Random(7)
    skus = [f"SKU-{n:05}" for n in range(2000)]
    now = "2026-12-01T00:00:00Z"
    with conn:
        conn.executemany("INSERT INTO locations (code) VALUES (?)", [(loc,) for loc in LOCATIONS])
        conn.executemany(
            "INSERT INTO products (sku, item_group_id, title, price) VALUES (?, ?, ?, '9.99')",
            [(sku, f"G{n // 4}", f"Product {n}") for n, sku in enumerate(skus)],
        )
        conn.executemany(
            "INSERT INTO stock (sku, location, quantity, updated_at) VALUES (?, ?, ?, ?)",
            [(sku, loc, rnd.randrange(0, 200), now) for sku in skus for loc in LOCATIONS],
        )
    start = datetime(2025, 12, 1, tzinfo=UTC)
    orders: list[tuple[Any, ...]] = []
    lines: list[tuple[Any, ...]] = []
    n = 0
    while len(lines) < lines_wanted:
        channel = CHANNELS[n % len(CHANNELS)]
        created = start + timedelta(seconds=rnd.randrange(365 * 86400))
        stamp = created.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        status = rnd.choice(STATUSES)
        orders.append((channel, str(n), f"#{n}", status, status, stamp, stamp,
                       int(created.month < 3), stamp, stamp))  # fmt: skip
        location = LOCATIONS[n % len(LOCATIONS)]
        for k in range(rnd.choice((1, 2, 2, 3, 4))):
            sku = rnd.choice(skus) if rnd.random() > 0.01 else None
            ordered = rnd.choice((1, 1, 1, 2, 3))
            back = 1 if rnd.random() < 0.03 else 0
            lines.append((channel, str(n), str(k), sku or "GHOST", ordered, back,
                          0, sku, location))  # fmt: skip
        n += 1
    with conn:
        conn.executemany(
            "INSERT INTO orders (channel, order_id, number, status, channel_status, created_at,"
            " updated_at, baseline, first_seen_at, last_seen_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            orders,
        )
        conn.executemany(
            "INSERT INTO order_lines (channel, order_id, line_id, channel_sku, ordered, "
            "returned, refunded, sku, location) VALUES (?,?,?,?,?,?,?,?,?)",
            lines[:lines_wanted],
        )
    conn.execute("ANALYZE")
    db.close()
    return len(orders)


def best(run: Callable[[], Any], rounds: int = 3) -> float:
    run()  # warm the page cache: every timed round reads the same pages
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return min(timings)


def measure(path: Path) -> dict[str, float]:
    db = open_catalog(path)
    db.conn.execute("PRAGMA query_only = ON")
    until = datetime(2026, 12, 1, tzinfo=UTC)
    month = until - timedelta(days=30)
    found = {"baseline": best(lambda: db.execute(
        "SELECT COUNT(*), SUM(ordered) FROM order_lines").fetchone())}  # fmt: skip
    for by in GROUPS:
        found[f"sales --by {by}"] = best(lambda by=by: sales_report(db, by=by))  # type: ignore[misc]
    found["sales --by day, last 30 days"] = best(
        lambda: sales_report(db, by="day", since=month, until=until)
    )
    found["stock (30 days)"] = best(lambda: stock_report(db, until=until, days=30))
    found["stock (365 days)"] = best(lambda: stock_report(db, until=until, days=365))
    db.close()
    return found


def main_bench(lines: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "shop"
        started = time.perf_counter()
        orders = build(ws, lines)
        took = time.perf_counter() - started
        print(f"built {lines:,} order lines in {orders:,} orders ({took:.1f} s)")
        before = measure(ws / "catalog.db")
        db = open_catalog(ws / "catalog.db")
        db.conn.execute(CANDIDATE_INDEX)
        db.conn.execute("ANALYZE")
        db.close()
        after = measure(ws / "catalog.db")
    base = before["baseline"]
    print(f"{'report':34} {'seconds':>8} {'x baseline':>10} {'with index':>11} {'x baseline':>10}")
    for name, seconds in before.items():
        print(f"{name:34} {seconds:8.3f} {seconds / base:10.1f} {after[name]:11.3f} "
              f"{after[name] / after['baseline']:10.1f}")  # fmt: skip
    print(f"candidate index: {CANDIDATE_INDEX}")


if __name__ == "__main__":
    main_bench(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
