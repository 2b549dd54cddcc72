"""Benchmark: the stock loop. Three channels (Shopify, WooCommerce, Square: the test servers, in
this process), a 10,000-SKU catalog, 1,000 orders spread over the channels between two syncs.

    python bench/sync_bench.py                 # 10,000 SKUs, 1,000 orders, real pacing
    python bench/sync_bench.py --orders 200    # fewer orders

Setup (not measured): the catalog of make_catalog.py imported through the CLI, every channel
listed by an unpaced push, and each channel's baseline pull. The channels' baselines are then
moved an hour back and the orders placed with times in the minute that ended 15 minutes ago
(400 on Shopify, 400 on WooCommerce, 200 till sales on Square, one or two lines each, one unit
a line), as if they had come in during the minute before a sync that runs every 60 s. Then:

- the busy ``sync`` (real pacing: every channel's rate limit and Shopify's cost bucket at its
  standard 100 points a second): its wall time; per channel, the requests of its pull against
  the pages the orders need (ceil(orders / page size)); the pushes' requests; and the oversell
  window: from an order's creation on one channel to the lowered quantity confirmed on every
  other channel, for a sync every 60 s. An order waits for the next sync (0 to 60 s, 30 on
  average) and then until the last quantity write of the other channels ends; the writes'
  end times are recorded per channel by the session the engine is handed.
- an idle ``sync`` right after: nothing new since the busy one (the orders are older than the
  pull's 10-minute overlap window): requests per channel, reads and writes.

It prints ratios against a baseline measured in the same run: pull requests / pages needed,
and the busy sync's time against the rate-limit bound of the requests it sent.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(Path(__file__).parent), str(ROOT)]
from push_bench import CONFIG, servers, set_cost_bucket  # noqa: E402
from push_record import bucket_bound  # noqa: E402
from push_scenario import LOCATION_SQ, build, distinct_variants  # noqa: E402

from multichan.channels import (  # noqa: E402
    registry,
    shopify_orders,
    square_orders,
    woocommerce_orders,
)
from multichan.sync.push import Pacing  # noqa: E402
from multichan.sync.run import pull_all, sync_all  # noqa: E402
from multichan.workspace import resolve  # noqa: E402

NAMES = ("shopify", "woocommerce", "square")
PAGE = {
    "shopify": shopify_orders.ORDERS_PER_PAGE,
    "woocommerce": woocommerce_orders.PER_PAGE,
    "square": square_orders.PER_PAGE,
}
ORDERS_CONFIG = """    orders: {location: warehouse}
"""


class Timed:
    """A session that records (host, method, path, end time) of every request."""

    def __init__(self) -> None:
        import requests

        self.session = requests.Session()
        self.calls: list[tuple[str, str, str, float]] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return self.session.request(method, url, *args, **kwargs)
        finally:
            parts = urlsplit(url)
            self.calls.append((parts.netloc, method.upper(), parts.path, time.monotonic()))


def place(srv: dict[str, Any], root: Path, count: int, rng: random.Random) -> dict[str, int]:
    """``count`` orders, 40% Shopify, 40% WooCommerce, 20% Square, in the minute that ended 15
    minutes ago; returns the orders per channel."""
    with sqlite3.connect(root / "catalog.db") as db:
        skus = [r[0] for r in db.execute("SELECT sku FROM products WHERE status = 'active'")]
        variation = {
            sku: json.loads(ids).get("variation_id")
            for sku, ids in db.execute(
                "SELECT sku, remote_ids FROM push_state WHERE channel = 'square' AND "
                "kind = 'listings'"
            )
        }
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=15)
    per = {"shopify": count * 2 // 5, "woocommerce": count * 2 // 5}
    per["square"] = count - per["shopify"] - per["woocommerce"]
    for name, n in per.items():
        for i in range(n):
            at = end - timedelta(seconds=60 * (n - i) / n)
            lines = rng.sample(skus, 1 + (i % 2))
            if name == "shopify":
                srv[name].shop.orders.add([(s, 1) for s in lines], created_at=at, updated_at=at)
            elif name == "woocommerce":
                srv[name].orders.add([(s, 1) for s in lines], status="processing",
                                     date_created_gmt=at, date_modified_gmt=at)  # fmt: skip
            else:
                srv[name].orders.add(LOCATION_SQ, [(variation[s], "1") for s in lines],
                                     created_at=at, updated_at=at)  # fmt: skip
    return per


def backdate(root: Path) -> None:
    """Every channel baselined an hour ago (so the orders placed since are new)."""
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="milliseconds")
    stamp = hour_ago.replace("+00:00", "Z")
    with sqlite3.connect(root / "catalog.db") as db:
        swept = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        db.execute("UPDATE order_cursors SET baseline_at = ?, cursor = ?, swept_at = ?",
                   [stamp, stamp, swept])  # fmt: skip


def run(args: argparse.Namespace) -> None:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp, servers() as srv:
        t0 = time.monotonic()
        root = build(Path(tmp), args.skus)
        distinct_variants(root)
        urls = {n: s.url for n, s in srv.items()}
        text = CONFIG.format(**urls, location=LOCATION_SQ)
        text = text.replace(
            '      location_id: "gid://shopify/Location/1"\n',
            '      location_id: "gid://shopify/Location/1"\n' + ORDERS_CONFIG,
        )
        text = text.replace("      consumer_secret: ${WOOCOMMERCE_CONSUMER_SECRET}\n",
                            "      consumer_secret: ${WOOCOMMERCE_CONSUMER_SECRET}\n"
                            + ORDERS_CONFIG)  # fmt: skip
        text += "    orders: {location: store}\n"  # the POS sells off the shop floor
        (root / "channels.yaml").write_text(text, encoding="utf-8")
        ws = resolve(root)
        set_cost_bucket(srv["shopify"], restore=1e9, maximum=1e9)
        setup = Pacing(sleep=lambda s: None)
        for name in NAMES:
            from push_bench import push
            from push_record import CLASSIFY, Recorder

            push(ws, name, setup, Recorder(CLASSIFY[name]))
        baselines = pull_all(ws, list(NAMES), pacing=setup)
        if any(r.status != "baseline" for r in baselines):
            raise SystemExit(f"baseline pulls: {[r.as_dict() for r in baselines]}")
        backdate(root)
        per = place(srv, root, args.orders, rng)
        print(f"setup: {args.skus:,} SKUs listed on three channels, {args.orders:,} orders "
              f"placed ({', '.join(f'{n} {c}' for n, c in per.items())}) in "
              f"{time.monotonic() - t0:.1f} s", flush=True)  # fmt: skip

        set_cost_bucket(srv["shopify"], restore=100.0)  # Shopify's standard plan
        host = {urlsplit(s.url).netloc: n for n, s in srv.items()}
        timed = Timed()
        started = time.monotonic()
        busy = sync_all(ws, list(NAMES), pacing=Pacing(), session=timed)
        wall = time.monotonic() - started
        if busy.exit_code not in (0, 4):
            raise SystemExit(f"sync failed: {busy.as_dict()}")
        print(f"busy sync: {wall:.2f} s, exit {busy.exit_code}")
        print(f"{'channel':<12}{'orders':>7}{'pages':>6}{'pull reqs':>10}{'ratio':>7}"
              f"{'moves':>7}{'push reqs':>10}{'last write':>11}")  # fmt: skip
        last_write: dict[str, float] = {}
        by_channel = Counter(host[h] for h, *_ in timed.calls)
        for netloc, _, _, end in timed.calls:  # pushes follow every pull: a channel's last
            name = host[netloc]  # request ends its quantities
            last_write[name] = max(last_write.get(name, 0.0), end - started)
        for p, q in zip(busy.pulls, busy.pushes, strict=True):
            pages = max(1, math.ceil(per[p.channel] / PAGE[p.channel]))
            print(f"{p.channel:<12}{p.orders:>7,}{pages:>6}{p.requests:>10}"
                  f"{p.requests / pages:>7.2f}{p.moves:>7,}{q.counts['requests']:>10}"
                  f"{last_write.get(q.channel, 0.0):>10.2f}s")  # fmt: skip
        sent = sum(by_channel.values())
        bound = max(
            bucket_bound(
                by_channel[n],
                registry.load(n).rate_limit.requests_per_second,
                registry.load(n).rate_limit.burst,
            )
            for n in NAMES
        )
        print(f"requests sent: {sent:,}; the slowest channel's rate-limit bound for its share: "
              f"{bound:.2f} s (ratio {wall / bound if bound else 0:.2f}; Shopify's cost bucket "
              "is not in this bound)")  # fmt: skip
        confirmed = max(last_write.values(), default=0.0)
        print(f"oversell window (sync every 60 s): mean {30 + confirmed:.1f} s, worst "
              f"{60 + confirmed:.1f} s (0-60 s to the next sync, then {confirmed:.1f} s until "
              "the last channel's quantities are written)")  # fmt: skip

        idle_timed = Timed()
        started = time.monotonic()
        idle = sync_all(ws, list(NAMES), pacing=Pacing(), session=idle_timed)
        idle_wall = time.monotonic() - started
        reads = Counter(host[h] for h, m, p, _ in idle_timed.calls)
        print(f"idle sync: {idle_wall:.2f} s, exit {idle.exit_code}; requests per channel "
              + ", ".join(f"{n} {reads[n]}" for n in NAMES)
              + f"; writes {sum(q.counts['ok'] for q in idle.pushes)}")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, default=10_000, help="catalog size (10,000)")
    parser.add_argument("--orders", type=int, default=1_000, help="orders between syncs (1,000)")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
