"""Benchmark: a whole ``sync`` after one order, on catalogs from 10,000 to 1,000,000 SKUs
(issue 15, item 12: under 1 s of CPU at 1M), against the full walk of the same catalog
measured in the same run.

    python bench/sync_one_bench.py                     # 10,000 and 100,000 SKUs
    python bench/sync_one_bench.py --skus 1000000      # one size

For each size (setup not measured): make_catalog.py's catalog, one WooCommerce channel (the
suite's WooCommerce test server, in this process) whose orders are pulled and whose push state
is every offer accepted (written from a full plan, as a complete push records; the CPU of
that plan and its recording is the baseline "full walk"), a first sync that pulls the
channel's baseline and finds nothing to send, then one order placed on the server for one
SKU. Measured: the second
``sync`` (pull, incremental plan, push, alerts), its CPU time in this process (the test
server's thread included, so an upper bound), and the first sync's CPU. The sync must
commit that order's unit and send exactly that SKU's quantity, and nothing else.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).parent)]
from incremental_bench import CHANNEL as WOO  # noqa: E402
from incremental_bench import accept_all  # noqa: E402
from push_scenario import build  # noqa: E402

# incremental_bench's WooCommerce channel, its orders pulled too
CHANNEL = WOO.replace("http://127.0.0.1:9", "URL") + "    orders: {location: warehouse}\n"


def cpu(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.process_time()
    value = fn(*args, **kwargs)
    return time.process_time() - start, value


def first_quantity(db, sku):  # type: ignore[no-untyped-def]
    """The quantity the channel was recorded as holding for ``sku``."""
    row = db.execute(
        "SELECT snapshot FROM push_state WHERE channel = 'woo' AND sku = ? AND kind = ?",
        [sku, "quantities"],
    ).fetchone()
    return json.loads(row[0])["quantity"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, action="append")
    parser.add_argument("--profile", action="store_true", help="profile the measured sync")
    args = parser.parse_args()
    from multichan.sync.push import Pacing
    from multichan.sync.run import sync_all
    from multichan.workspace import resolve
    from tests.servers import woocommerce

    os.environ.update(
        WOOCOMMERCE_CONSUMER_KEY=woocommerce.KEY, WOOCOMMERCE_CONSUMER_SECRET=woocommerce.SECRET
    )
    from multichan.feeds.run import load_config

    print(f"{'SKUs':>9} {'full walk CPU s':>15} {'first sync CPU s':>16} "
          f"{'sync after 1 order CPU s':>24} {'ratio':>8}")  # fmt: skip
    for size in args.skus or [10_000, 100_000]:
        with tempfile.TemporaryDirectory() as tmp, woocommerce.serve() as woo:
            root = build(Path(tmp), size)
            (root / "channels.yaml").write_text(CHANNEL.replace("URL", woo.url), "utf-8")
            ws = resolve(root)
            config = load_config(ws)
            cfg = config.channels["woo"]
            db = ws.db()
            walk, _ = cpu(accept_all, db, cfg, config)
            sku = db.execute("SELECT sku FROM stock WHERE quantity > 2 LIMIT 1").fetchone()[0]
            qty = first_quantity(db, sku)
            made = woo.create(None, {"type": "simple", "name": sku, "sku": sku,
                                     "regular_price": "10.00", "manage_stock": True,
                                     "stock_quantity": qty})  # fmt: skip
            with db.conn:  # the channel holds that SKU under this id
                db.execute(
                    "UPDATE push_state SET remote_ids = ? WHERE channel = 'woo' AND sku = ?",
                    [f'{{"product_id": "{made["id"]}"}}', sku],
                )
            db.close()
            pacing = Pacing(sleep=lambda s: None)
            idle_cpu, idle = cpu(sync_all, ws, ["woo"], pacing=pacing)
            if idle.exit_code != 0 or any(p.counts.get("ok") for p in idle.pushes):
                raise SystemExit(f"first sync: {idle.as_dict()}")
            with sqlite3.connect(root / "catalog.db") as conn:  # baseline an hour ago
                hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
                conn.execute("UPDATE order_cursors SET baseline_at = ?, cursor = ?",
                             [hour_ago, hour_ago])  # fmt: skip
            at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
            woo.orders.add([(sku, 1)], status="processing", date_created_gmt=at,
                           date_modified_gmt=at)  # fmt: skip
            if args.profile:
                import cProfile
                import pstats

                profile = cProfile.Profile()
                busy = profile.runcall(sync_all, ws, ["woo"], pacing=pacing)
                pstats.Stats(profile).sort_stats("cumulative").print_stats(45)
                busy_cpu = 0.0
            else:
                busy_cpu, busy = cpu(sync_all, ws, ["woo"], pacing=pacing)
            if busy.exit_code != 0:
                raise SystemExit(f"sync: {busy.as_dict()}")
            with sqlite3.connect(root / "catalog.db") as conn:
                committed = conn.execute(
                    "SELECT sum(committed) FROM stock WHERE sku = ?", [sku]
                ).fetchone()[0]
            sent = sum(p.counts.get("ok", 0) for p in busy.pushes)
            assert committed == 1, committed
            assert sent == 1, busy.as_dict()
            assert woo.by_sku(sku)["stock_quantity"] == qty - 1
            print(f"{size:>9,} {walk:>15.2f} {idle_cpu:>16.3f} {busy_cpu:>24.3f} "
                  f"{busy_cpu / walk:>8.4f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
