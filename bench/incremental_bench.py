"""Benchmark: what a push plans after one order, incrementally (the SKUs stamped since the
channel's last complete push) against walking the whole catalog, measured in the same run.

    python bench/incremental_bench.py                  # 10,000 and 100,000 SKUs
    python bench/incremental_bench.py --skus 1000000   # one size

For each size: the catalog (make_catalog.py's, via push_scenario.build), one WooCommerce
channel whose push state is every offer accepted (written from a full plan, as a push would,
then its mark recorded), then one SKU's committed stock raised by 1 (what a pulled order
does). Timed, in this process, best of three: ``make_plan`` walking everything and
``make_plan(incremental=True)``; both must find exactly that one change. The ratio is the
incremental plan's time over the full walk's. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).parent)]
from push_scenario import build  # noqa: E402

CHANNEL = """version: 1
shop:
  name: Bench
  url: https://shop.example.com
  link_template: "https://shop.example.com/products/{{handle}}"
  currency: USD
channels:
  woo:
    type: woocommerce
    settings:
      base_url: http://127.0.0.1:9
      consumer_key: ${WOOCOMMERCE_CONSUMER_KEY}
      consumer_secret: ${WOOCOMMERCE_CONSUMER_SECRET}
"""


def best(runs: int, fn):  # type: ignore[no-untyped-def]
    times, value = [], None
    for _ in range(runs):
        start = time.process_time()
        value = fn()
        times.append(time.process_time() - start)
    return min(times), value


KINDS = ("listings", "prices", "quantities")


def accept_all(db, cfg, config):  # type: ignore[no-untyped-def]
    """Plan the channel's first push and record every change accepted, then its mark: the
    state a complete push leaves."""
    from multichan.sync import changes
    from multichan.sync import state as st
    from multichan.sync.plan import make_plan

    first = make_plan(db, cfg, config, KINDS, incremental=True)
    with st.batch_written(db):
        for kind in KINDS:
            done = [(c.sku, True, c.hash, c.snapshot, {}, None) for c in first.iter_kind(kind)]
            st.save_outcomes(db, cfg.name, kind, done, {})
    assert first.mark is not None
    changes.advance(db, cfg.name, first.mark)
    return first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, action="append")
    args = parser.parse_args()
    import os

    os.environ.setdefault("WOOCOMMERCE_CONSUMER_KEY", "ck")
    os.environ.setdefault("WOOCOMMERCE_CONSUMER_SECRET", "cs")
    from multichan.feeds.run import load_config
    from multichan.sync.plan import make_plan
    from multichan.workspace import resolve

    print(f"{'SKUs':>9} {'full walk (s)':>14} {'incremental (s)':>16} {'ratio':>8}")
    for size in args.skus or [10_000, 100_000]:
        with tempfile.TemporaryDirectory() as tmp:
            root = build(Path(tmp), size)
            (root / "channels.yaml").write_text(CHANNEL, encoding="utf-8")
            ws = resolve(root)
            config = load_config(ws)
            cfg = config.channels["woo"]
            db = ws.db()
            accept_all(db, cfg, config)
            sku = db.execute("SELECT sku FROM stock WHERE quantity > 2 LIMIT 1").fetchone()[0]
            with db.conn:  # an order pulled: one unit committed
                db.execute("UPDATE stock SET committed = committed + 1 WHERE sku = ?", [sku])
            full_time, full = best(3, partial(make_plan, db, cfg, config, KINDS))
            inc_time, inc = best(3, partial(make_plan, db, cfg, config, KINDS, incremental=True))
            assert inc.incremental and not full.incremental
            assert [c.sku for c in full.changes] == [c.sku for c in inc.changes] == [sku]
            print(f"{size:>9,} {full_time:>14.3f} {inc_time:>16.4f} {inc_time / full_time:>8.4f}")
            db.close()


if __name__ == "__main__":
    main()
