"""Benchmark: push price and stock changes of a large catalog to Shopify, WooCommerce, Square,
Amazon, eBay, Etsy, TikTok Shop, BigCommerce, Google Merchant API and the Meta catalog (the test
servers and doubles, started in this process) and compare what was sent with the minimum.

    python bench/push_bench.py                       # 10,000 SKUs, 30% changed, real pacing
    python bench/push_bench.py --layout grouped      # prices/stock change for whole products
    python bench/push_bench.py --skus 2000 --fast 20 # rate limits x20 (the output says so)
    python bench/push_bench.py --channels etsy ebay  # some of the ten channels

The catalog is written by make_catalog.py (groups of 8 variants) and imported with the generic
CSV importer. Each channel gets an initial push of everything (unpaced: setup, not measured).
Then prices and stock of a known subset change (``UPDATE products SET price`` / ``UPDATE stock``
with sqlite3) and ``push`` runs through the same engine call as ``multichan push`` (push_all),
per channel, at the channel's rate limit (its declared RateLimit, or channels.yaml's
``rate_limit``; none is set here). The engine's token bucket paces every HTTP request the
channel makes (PacedSession around channel.session), reads included, not every send. Printed
per channel and kind: SKUs changed, max_batch, the minimum requests ceil(changed / max_batch),
the floor the API's structure puts under the writes where it cannot batch across products
(see ``floor``), sends (engine batches, first-fit decreasing by product, within max_batch and
max_groups), write requests sent, the writes the channel's design implies, read requests
(GETs and queries the channel needed, counted apart),
seconds, the rate-limit bound for the minimum (max(0, minimum - burst) / requests_per_second)
and the ratio, and the same bound for the requests actually sent (writes + reads) and its
ratio. Then a second push with nothing changed, which must send nothing.

Servers: tests/servers/shopify.py (every request validated against Shopify's Admin schema, its
cost bucket at Shopify's standard 2,000 points / 100 a second), tests/servers/woocommerce.py
(OAuth 1.0a over plain http), and the Square double of tests/channels/square_conftest.py
*without* Prism forwarding (Prism takes ~20 s to load and validates each request over HTTP;
the Square tests run the same requests through Prism), in the quick form of push_square.py.
The seven marketplace and catalog channels run against their channel tests' doubles, also
*without* Prism forwarding (their tests send the same requests through Prism): see
push_marketplaces.py, which also says what their floors are. For a channel that takes jobs
(Amazon's feeds, Meta's items_batch) *max_batch* is the job's size, *writes* are the requests
that submit a job and *reads* those that poll and collect it, which the API forces too.
Requests are counted twice, by a recording session and by the servers' own logs, and must
agree. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(Path(__file__).parent), str(ROOT)]
import push_marketplaces as market  # noqa: E402
from push_record import (  # noqa: E402
    CLASSIFY,
    JOINT,
    KINDS,
    EngineTime,
    Recorder,
    bucket_bound,
    design_writes,
    floor,
    minimum,
    rows,
)
from push_scenario import (  # noqa: E402
    LOCATION_SQ,
    apply_changes,
    build,
    changed_skus,
    check_server,
    distinct_variants,
)

from multichan.channels import registry  # noqa: E402
from multichan.feeds.run import load_config  # noqa: E402
from multichan.sync.push import Pacing, PushResult  # noqa: E402
from multichan.sync.run import configured_rate, push_all  # noqa: E402
from multichan.workspace import resolve  # noqa: E402

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
  shopify:
    type: shopify
    settings:
      base_url: {shopify}
      token: ${{SHOPIFY_TOKEN}}
      location_id: "gid://shopify/Location/1"
  woocommerce:
    type: woocommerce
    settings:
      base_url: {woocommerce}
      consumer_key: ${{WOOCOMMERCE_CONSUMER_KEY}}
      consumer_secret: ${{WOOCOMMERCE_CONSUMER_SECRET}}
  square:
    type: square
    settings:
      base_url: {square}
      token: ${{SQUARE_TOKEN}}
      location_id: {location}
"""


@contextlib.contextmanager
def servers(names: list[str]) -> Iterator[dict[str, Any]]:
    from push_square import serve_quick

    from tests.channels import square_conftest
    from tests.servers import shopify, woocommerce

    os.environ.update(
        SHOPIFY_TOKEN=shopify.TOKEN, SQUARE_TOKEN=square_conftest.TOKEN,
        WOOCOMMERCE_CONSUMER_KEY=woocommerce.KEY, WOOCOMMERCE_CONSUMER_SECRET=woocommerce.SECRET,
    )  # fmt: skip
    with (
        shopify.serve() as shop,
        woocommerce.serve() as woo,
        serve_quick() as sq,
        market.servers(names) as more,
    ):
        yield {"shopify": shop, "woocommerce": woo, "square": sq, **more}


def server_log(name: str, server: Any) -> list[Any]:
    if name in market.NAMES:
        return market.server_log(name, server)
    return server.requests if name == "square" else server.log  # type: ignore[no-any-return]


def api_floor(cls: Any, kind: str, changes: list[Any], size: int) -> int:
    if cls.type in market.NAMES:
        return market.floor(cls.type, kind, changes, size)
    return floor(cls.type, kind, changes, size)


def batch_size(cls: Any, kind: str, changes: list[Any]) -> int:
    if cls.type in market.NAMES:
        return market.batch_size(cls, kind, len(changes))
    return int(cls.max_batch[kind])


def designed(cls: Any, kind: str, changes: list[Any]) -> tuple[int, int]:
    if cls.type in market.NAMES:
        return market.design(cls, kind, changes)
    return design_writes(cls, kind, changes)


def check(name: str, server: Any, root: Path, sample: list[str]) -> int:
    """How many of ``sample`` the server shows with the catalog's price and quantity."""
    if name in market.NAMES:
        return market.check_server(name, server, root, sample)
    return check_server(name, server, root, sample)


def classify(name: str) -> Any:
    return market.CLASSIFY[name] if name in market.NAMES else CLASSIFY[name]


def set_cost_bucket(server: Any, restore: float, maximum: float = 2000.0) -> None:
    """The Shopify server's query-cost bucket (full), on the real clock."""
    from tests.servers.shopify import Bucket

    with server.lock:
        server.bucket = Bucket(maximum, restore, maximum)
        server.clock = time.monotonic


# --- one push, measured ------------------------------------------------------------------------
def push(ws: Any, name: str, pacing: Pacing, session: Recorder) -> tuple[PushResult, float]:
    start = time.monotonic()
    [result] = push_all(ws, [name], pacing=pacing, session=session)
    elapsed = time.monotonic() - start
    if result.status not in ("ok", "rejected"):
        raise SystemExit(f"{name}: push ended with {result.status}: {result.message}")
    if result.rejected:
        first = result.rejected[0]
        print(f"  {name}: {len(result.rejected)} SKU-kind(s) rejected, e.g. {first['sku']} "
              f"({first['kind']}): {first['message'][:160]}", flush=True)  # fmt: skip
    return result, elapsed


def _ratio(seconds: float, bound: float) -> str:
    """seconds / bound in a 7-wide column, or a dash where there is no bound."""
    return f"{seconds / bound:7.2f}" if bound else f"{'-':>7}"


def report(
    name: str, rate: Any, result: PushResult, session: Recorder, timer: EngineTime,
    started: float, elapsed: float, scale: float, server_calls: list[Any],
) -> list[str]:  # fmt: skip
    """The table of one channel's push. ``rate`` is the RateLimit the engine used; the bounds
    are those of its token bucket, which paces every HTTP request (reads too)."""
    plan = result.plan
    assert plan is not None
    cls = registry.load(name)
    calls = session.attributed()
    rps, burst = rate.requests_per_second * scale, rate.burst
    lines = [
        f"{name}: rate limit {rate.requests_per_second:g} HTTP request(s)/s, burst {burst}"
        + (f"; --fast: x{scale:g} = {rps:g}/s for this run" if scale != 1 else "; real pacing"),
        f"{'kind':<11}{'changed':>8}{'max_batch':>10}{'minimum':>8}{'floor':>6}{'sends':>6}"
        f"{'writes':>7}"
        f"{'design':>7}{'reads':>6}{'seconds':>9}{'bound min':>10}{'ratio':>7}"
        f"{'bound sent':>11}{'ratio':>7}",
    ]
    send_start = timer.first or started
    previous_end = send_start
    cum_min = cum_sent = total_w = total_r = total_sends = total_floor = 0
    for kind, changes, sent in rows(cls, plan):
        size = batch_size(cls, kind, changes or sent)
        low = minimum(len(changes), size)  # the minimum, per kind (JOINT: none)
        mine = [c for c in calls if c.kind == kind]
        writes = sum(c.what == "write" for c in mine)
        reads = len(mine) - writes
        end = max((c.end for c in mine), default=previous_end)
        seconds, previous_end = end - previous_end, end
        # the bucket starts full once: each kind's share of the bound, cumulatively
        bound = bucket_bound(cum_min + low, rps, burst) - bucket_bound(cum_min, rps, burst)
        bound_sent = bucket_bound(cum_sent + len(mine), rps, burst) - bucket_bound(
            cum_sent, rps, burst
        )
        cum_min, cum_sent = cum_min + low, cum_sent + len(mine)
        total_w, total_r = total_w + writes, total_r + reads
        sends, design = designed(cls, kind, sent)
        low_api = api_floor(cls, kind, sent, size)
        total_sends, total_floor = total_sends + sends, total_floor + low_api
        ratio, ratio_sent = _ratio(seconds, bound), _ratio(seconds, bound_sent)
        lines.append(
            f"{'price+stock' if kind == JOINT else kind:<11}{len(changes or sent):>8,}"
            f"{size:>10}{low:>8,}{low_api:>6,}{sends:>6,}"
            f"{writes:>7,}{design:>7,}"
            f"{reads:>6,}{seconds:>9.2f}{bound:>10.2f}{ratio}{bound_sent:>11.2f}{ratio_sent}"
        )
    bound = bucket_bound(cum_min, rps, burst)
    bound_sent = bucket_bound(cum_sent, rps, burst)
    ratio, ratio_sent = _ratio(elapsed, bound), _ratio(elapsed, bound_sent)
    lines.append(
        f"{'total':<11}{'':>8}{'':>10}{cum_min:>8,}{total_floor:>6,}{total_sends:>6,}"
        f"{total_w:>7,}{'':>7}"
        f"{total_r:>6,}{elapsed:>9.2f}{bound:>10.2f}{ratio}{bound_sent:>11.2f}{ratio_sent}"
    )
    lines.append(
        f"  writes {total_w:,} against the minimum {cum_min:,} (ceil(changed / max_batch) per "
        f"kind) and the API's floor {total_floor:,}"
    )
    http = sum(c.end - c.start for c in calls)
    sending = elapsed - (send_start - started)
    lines.append(
        f"  sending (the push without planning) {sending:.2f} s against the bound "
        f"{bound:.2f} s for the minimum"
        + (f" (ratio {sending / bound:.2f})" if bound else "")
        + f" and {bound_sent:.2f} s for the {cum_sent:,} requests sent"
        + (f" (ratio {sending / bound_sent:.2f})" if bound_sent else "")
    )
    lines.append(
        f"  total = whole push: planning {send_start - started:.2f} s, engine token-bucket waits "
        f"{timer.slept:.2f} s, HTTP (server time included) {http:.2f} s, the rest (channel's "
        f"own waits, state writes) {elapsed - (send_start - started) - timer.slept - http:.2f} s"
    )
    if name == "shopify":
        lines.append(cost_line(server_calls, sending))
    jobs = market.job_line(name, calls)
    if jobs:
        lines.append(jobs)
    statuses = Counter(c.status for c in calls)
    throttled = sum(
        1 for e in server_calls if isinstance(e, dict) and e.get("outcome") == "throttled"
    )
    counted = result.counts["requests"]
    lines.append(
        f"  engine: {result.counts['batches']:,} send(s), {counted:,} paced HTTP request(s)"
        + ("" if counted == len(calls) else "  <-- differs from the session")
        + f"; HTTP requests {len(calls):,} seen by the session, {len(server_calls):,} by the "
        "server"
        + (f" ({throttled} THROTTLED by the cost bucket)" if name == "shopify" else "")
        + ("" if len(calls) == len(server_calls) else "  <-- MISMATCH")
        + f"; HTTP statuses {dict(statuses)}"
    )
    return lines


def cost_line(server_calls: list[Any], sending: float) -> str:
    """Shopify's own limit: the points the push requested against its cost bucket (full at the
    start, then restoreRate a second; --fast scales the rate). Every price mutation costs 10
    however the requests are packed, so this bound is the same for one per request or 100."""
    ok = [e for e in server_calls if isinstance(e, dict) and e.get("outcome") == "ok"]
    if not ok:
        return "  Shopify cost bucket: nothing requested"
    status = ok[0]["response"]["extensions"]["cost"]["throttleStatus"]
    points = sum(e["cost"] for e in ok)
    maximum, restore = status["maximumAvailable"], status["restoreRate"]
    bound = max(0.0, points - maximum) / restore
    return (
        f"  Shopify cost bucket: {points:,} points requested ({maximum:,.0f} at the start, then "
        f"{restore:,.0f}/s): bound {bound:.2f} s; sending took {sending:.2f} s"
        + (f" (ratio {sending / bound:.2f})" if bound else "")
    )


def run(args: argparse.Namespace) -> None:
    scale = args.fast or 1.0
    with (
        tempfile.TemporaryDirectory() as tmp,
        servers(args.channels) as srv,
        market.tag_operations(),
    ):
        t0 = time.monotonic()
        root = build(Path(tmp), args.skus)
        urls = {n: s.url for n, s in srv.items() if n in ("shopify", "woocommerce", "square")}
        (root / "channels.yaml").write_text(
            CONFIG.format(**urls, location=LOCATION_SQ) + market.config(root, srv),
            encoding="utf-8",
        )
        ws = resolve(root)
        config = load_config(ws)
        if not args.as_written:
            distinct_variants(root)
        print(f"catalog: {args.skus:,} SKUs imported in {time.monotonic() - t0:.1f} s "
              f"(groups of 8 variants)", flush=True)  # fmt: skip
        set_cost_bucket(srv["shopify"], restore=1e9, maximum=1e9)
        setup = Pacing(sleep=lambda s: None)  # the initial push is setup: no pacing
        for name in args.channels:
            cls = registry.load(name)
            session = Recorder(classify(name))
            result, elapsed = push(ws, name, setup, session)
            assert result.plan is not None
            kinds = Counter(c.kind for c in session.calls if c.what == "write")
            size = {k: batch_size(cls, k, result.plan.by_kind(k)) for k in KINDS}
            low = {k: minimum(len(result.plan.by_kind(k)), size[k]) for k in KINDS}
            api = {k: api_floor(cls, k, result.plan.by_kind(k), size[k]) for k in KINDS}
            reads = sum(c.what == "read" for c in session.calls)
            print(f"initial push {name} (unpaced setup): {result.counts['ok']:,} SKU-kinds in "
                  f"{elapsed:.1f} s, {result.counts['batches']:,} sends; writes "
                  + ", ".join(f"{k} {kinds[k]:,} (min {low[k]:,}, floor {api[k]:,})" for k in KINDS)
                  + (f", price and stock together {kinds[JOINT]:,}" if kinds[JOINT] else "")
                  + f"; reads {reads:,}", flush=True)  # fmt: skip
        chosen = changed_skus(root, args.changed, args.layout)
        apply_changes(root, chosen)
        print(f"changed: price +1.00 and store stock +3 for {len(chosen):,} SKUs "
              f"({args.changed}% {args.layout})\n", flush=True)  # fmt: skip
        set_cost_bucket(srv["shopify"], restore=100.0 * scale)  # Shopify's standard plan
        for name in args.channels:
            cls = registry.load(name)
            # the limit the engine uses: channels.yaml's rate_limit, else the declared one
            rate = configured_rate(config.channel(name), cls) or cls.rate_limit
            log = server_log(name, srv[name])
            log.clear()
            sample = chosen[:: max(1, len(chosen) // 200)]
            before = check(name, srv[name], root, sample)  # the check can fail: it does here
            session, timer = Recorder(classify(name)), EngineTime(scale)
            started = time.monotonic()
            result, elapsed = push(ws, name, Pacing(clock=timer.clock, sleep=timer.sleep), session)
            lines = report(name, rate, result, session, timer, started, elapsed, scale, list(log))
            good = check(name, srv[name], root, sample)
            lines.append(f"  server shows the new price and quantity for {good} of {len(sample)} "
                         f"sampled changed SKUs ({before} before the push)")  # fmt: skip
            log.clear()
            again = Recorder(classify(name))
            second, second_s = push(ws, name, Pacing(), again)
            lines.append(
                f"  second push, nothing changed: {len(again.calls)} request(s) "
                f"({len(log)} at the server), {len(second.plan.changes) if second.plan else 0} "
                f"change(s) planned, {second_s:.2f} s"
            )
            print("\n".join(lines) + "\n", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, default=10_000, help="catalog size (10,000)")
    parser.add_argument("--changed", type=int, default=30, help="percent of SKUs changed (30)")
    parser.add_argument(
        "--layout",
        choices=("scattered", "grouped"),
        default="scattered",
        help="scattered: SKUs spread over products; grouped: whole products",
    )
    parser.add_argument(
        "--as-written",
        action="store_true",
        help="keep make_catalog's repeated Color/Size pairs within a group",
    )
    parser.add_argument(
        "--fast",
        type=float,
        nargs="?",
        const=10.0,
        default=None,
        metavar="FACTOR",
        help="scale every rate limit up (default x10)",
    )
    every = ["shopify", "woocommerce", "square", *market.NAMES]
    parser.add_argument("--channels", nargs="+", default=every, choices=every,
                        help="the channels to push (default: all ten)")  # fmt: skip
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
