"""Amazon end to end through the engine and the CLI, against the Amazon double checking every
SP-API request with Prism on Amazon's contracts and every feed document with Amazon's
JSON_LISTINGS_FEED schemas: the demo catalog planned and pushed (first listings as one feed
job), a second push sends nothing, one price change goes by patchListingsItem, a large change
as a feed, a SKU Amazon's processing report refuses is a rejection with Amazon's message;
20% injected faults converge; kill -9 after the feed was created and recorded makes the rerun
collect that same feed (no second createFeed); an Amazon order lowers stock (Pending too),
its tracking is confirmed once; the LWA secrets and tokens never show."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.channels.amazon_conftest import (
    CLIENT_SECRET,
    FEEDS,
    LISTINGS,
    REFRESH_TOKEN,
    SELLER_ID,
    TOKEN_PATH,
    AmazonDouble,
    ready,
)
from tests.conftest import run_cli
from tests.e2e.conftest import push_fast, push_killed_at, woo_state
from tests.e2e.test_faults_and_kills import change_catalog
from tests.e2e.test_pull_shopify import cli_json, level
from tests.prism import Prism
from tests.servers import woocommerce as woo_srv
from tests.servers.faults import serve_proxy

pytestmark = pytest.mark.slow
SECRETS = (CLIENT_SECRET, REFRESH_TOKEN)
CONFIG = """\
shop:
  link_template: "https://shop.example.com/products/{{{{handle}}}}"
channels:
  amazon:
    type: amazon
    settings:
      seller_id: {seller}
      marketplace_id: ATVPDKIKX0DER
      product_type: PRODUCT
      product_types: {{"Home & Garden > Kitchen": DRINKING_CUP}}
      api_url: {url}
      token_url: {token}{path}
      refresh_token: ${{AMAZON_REFRESH_TOKEN}}
      client_id: ${{AMAZON_CLIENT_ID}}
      client_secret: ${{AMAZON_CLIENT_SECRET}}
      feed_threshold: {threshold}
      timeout: {timeout}
    orders: {{location: warehouse}}
    rate_limit: {{requests_per_second: 1000, burst: 100}}  # the tests count requests, not seconds
"""
FEED_POST = f"{FEEDS}/feeds"


@pytest.fixture
def amazon(
    shared_amazon: AmazonDouble,
    amazon_listings_prism: Prism,
    amazon_feeds_prism: Prism,
    amazon_orders_prism: Prism,
    monkeypatch: pytest.MonkeyPatch,
) -> AmazonDouble:
    monkeypatch.setenv("MULTICHAN_LOCK_TIMEOUT", "3")
    return ready(
        shared_amazon, monkeypatch, amazon_listings_prism, amazon_feeds_prism,
        amazon_orders_prism,
    )  # fmt: skip


def write(
    ws: Path, url: str, token: str | None = None, threshold: int = 20, timeout: int = 5
) -> None:
    text = CONFIG.format(
        seller=SELLER_ID,
        url=url,
        token=token or url,
        path=TOKEN_PATH,
        threshold=threshold,
        timeout=timeout,
    )
    (ws / "channels.yaml").write_text(text, encoding="utf-8")


def feeds_sent(double: AmazonDouble) -> int:
    return len(double.calls("POST", FEED_POST))


def patches(double: AmazonDouble) -> list[str]:
    prefix = f"{LISTINGS}/items/{SELLER_ID}/"
    return [
        r["path"][len(prefix) :]
        for r in double.requests
        if r["method"] == "PATCH" and r["path"].startswith(prefix)
    ]


def state(double: AmazonDouble) -> dict[str, Any]:
    """What buyers see, by SKU: price, quantity, product type and name."""
    return {
        sku: (*double.shown()[sku], row["productType"], row["attributes"]["item_name"][0]["value"])
        for sku, row in double.listings.items()
    }


def jobs_of(ws: Path) -> list[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        return list(db.execute("SELECT operation, status FROM push_jobs ORDER BY id"))


def assert_no_secrets(ws: Path, outputs: list[str], double: AmazonDouble) -> None:
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        dump = "\n".join(line for line in db.iterdump() if "channel_tokens" not in line)
    assert double.tokens
    for secret in (*SECRETS, *double.tokens):
        assert secret not in dump, "a credential in catalog.db"
        for i, text in enumerate(outputs):
            assert secret not in text, f"a credential in output {i}"


def test_plan_push_as_feeds_then_nothing_then_one_patch(
    amazon: AmazonDouble, new_demo: Any
) -> None:
    ws = new_demo()
    write(ws, amazon.url)
    plan = run_cli("-w", ws, "plan", "--json")
    assert plan.code == 0, plan.output
    [channel] = json.loads(plan.stdout)["channels"]
    skus = {c["sku"] for c in channel["changes"]}
    assert len(skus) > 20 and amazon.requests == []  # a plan sends nothing

    pushed = run_cli("-w", ws, "push", "--json")
    assert pushed.code == 0, pushed.output
    assert set(amazon.listings) == skus and amazon.violations == []
    assert jobs_of(ws)[0] == ("listings", "done")  # every first listing in one feed job
    [listings_feed] = [r for r in amazon.reports if r["summary"]["messagesProcessed"] == len(skus)][
        :1
    ]
    assert listings_feed["summary"]["messagesAccepted"] == len(skus)
    assert amazon.listings["MUG-ENAMEL"]["productType"] == "DRINKING_CUP"
    assert amazon.grants == 1

    amazon.requests.clear()
    again = run_cli("-w", ws, "push")
    assert again.code == 0, again.output
    assert amazon.requests == []

    assert run_cli("-w", ws, "price", "set", "MUG-ENAMEL", "12.00").code == 0
    changed = run_cli("-w", ws, "push")
    assert changed.code == 0, changed.output
    assert patches(amazon) == ["MUG-ENAMEL"] and feeds_sent(amazon) == 0
    assert state(amazon)["MUG-ENAMEL"][0] == 12
    assert amazon.grants == 1  # the access token is kept in the catalog between runs
    assert amazon.violations == []
    assert_no_secrets(ws, [plan.output, pushed.output, again.output, changed.output], amazon)


def test_a_large_change_goes_as_a_feed_and_a_refused_sku_names_amazons_message(
    amazon: AmazonDouble, new_demo: Any
) -> None:
    ws = new_demo()
    write(ws, amazon.url, threshold=3)
    assert run_cli("-w", ws, "push").code == 0
    amazon.requests.clear()
    skus = sorted(amazon.listings)[:5]
    amazon.refuse[skus[0]] = ("90244", "The quantity is not valid for this fulfillment channel.")
    for sku in skus:
        assert run_cli("-w", ws, "stock", "set", sku, "7", "--location", "store").code == 0
    result = run_cli("-w", ws, "push", "--json")
    assert result.code == 4, result.output
    [pushed] = json.loads(result.stdout)["channels"]
    assert [(r["sku"], r["message"]) for r in pushed["rejected"]] == [
        (skus[0], "Amazon: The quantity is not valid for this fulfillment channel. (90244)")
    ]
    assert feeds_sent(amazon) == 1 and patches(amazon) == []  # 5 changes > 3: one feed
    assert [state(amazon)[s][1] for s in skus[1:]] == [level(ws, s)[2] + 7 for s in skus[1:]]
    assert amazon.violations == []


# --- faults and kills -------------------------------------------------------------------------
_REFERENCE: dict[int, dict[str, Any]] = {}


def reference(amazon: AmazonDouble, new_demo: Any, phases: int) -> dict[str, Any]:
    if phases not in _REFERENCE:
        validate = amazon.validate
        amazon.reset(validate=validate)
        ws = new_demo("reference")
        write(ws, amazon.url)
        for phase in range(phases):
            if phase:
                change_catalog(ws)
            [result] = push_fast(ws, ["amazon"])
            assert result.exit_code == 0, result.message
        assert amazon.violations == []
        _REFERENCE[phases] = state(amazon)
        amazon.reset(validate=validate)
    return _REFERENCE[phases]


@pytest.mark.parametrize("seed", [41, 42])
def test_twenty_percent_faults_converge_to_the_fault_free_state(
    amazon: AmazonDouble, new_demo: Any, seed: int
) -> None:
    expected = reference(amazon, new_demo, phases=2)
    ws = new_demo(f"faults-{seed}")
    hit: set[tuple[str, str]] = set()
    with serve_proxy(amazon.url, rate=0.2, seed=seed, stall_seconds=2.6) as proxy:
        write(ws, proxy.url, timeout=2)  # the token, uploads and downloads through it too
        for phase in range(2):
            if phase:
                change_catalog(ws)
            codes = []
            for _run in range(8):
                [result] = push_fast(ws, ["amazon"], max_retries=3)
                codes.append(result.exit_code)
                if result.exit_code == 0:
                    break
            assert codes[-1] == 0, f"no convergence after {len(codes)} runs: {codes}"
            assert set(codes) <= {0, 6}, codes
        assert {f.phase for f in proxy.faults()} == {"before", "after"}
        hit = {
            (
                e.path.split("/")[-1] if e.path.startswith(FEEDS) else e.path.split("/")[1],
                e.fault.phase,
            )
            for e in proxy.log
            if e.fault is not None
        }
    assert state(amazon) == expected
    assert amazon.violations == []
    # the hard cases were hit: a feed created, or a patch applied, whose answer was lost
    assert {("feeds", "after"), ("listings", "after")} & hit, hit
    amazon.requests.clear()
    [again] = push_fast(ws, ["amazon"])
    assert again.exit_code == 0 and again.counts["requests"] == 0 and amazon.requests == []


# through the proxy (the token straight from the double), a demo push is two feeds: listings
# (1 createFeedDocument, 2 upload, 3 createFeed, 4 getFeed, 5 getFeedDocument, 6 download),
# then price and stock together (7-12)
@pytest.mark.parametrize(
    ("n", "recorded", "looks"),
    [
        pytest.param(2, False, 0, id="2-uploaded-no-feed"),
        pytest.param(3, False, 0, id="3-feed-created-answer-lost"),
        pytest.param(4, True, 0, id="4-feed-recorded-looked-at"),
        pytest.param(4, True, 2, id="4-feed-recorded-still-running"),
        pytest.param(6, True, 0, id="6-report-read-not-saved"),
        pytest.param(10, True, 0, id="10-second-feed-recorded"),
    ],
)
def test_kill_9_then_rerun_collects_the_recorded_feed_instead_of_sending_it_again(
    amazon: AmazonDouble, new_demo: Any, tmp_path: Path, n: int, recorded: bool, looks: int
) -> None:
    """``looks``: how many looks at a feed find it still IN_PROGRESS (2: the killed run saw
    it running; the rerun keeps looking at that same feed until Amazon is done)."""
    expected = reference(amazon, new_demo, phases=1)
    ws = new_demo("killed")
    amazon.looks = looks
    with serve_proxy(amazon.url) as proxy:
        write(ws, proxy.url, token=amazon.url)
        out, err = push_killed_at(proxy, ws, ["amazon"], n, tmp_path, timeout=90)
        assert proxy.forwarded == n
    write(ws, amazon.url)
    created = feeds_sent(amazon)
    first = next(iter(amazon.feeds), "")
    killed_feed = amazon.calls("GET", f"{FEED_POST}/{first}")  # the killed run's looks at it
    amazon.requests.clear()
    [rerun] = push_fast(ws, ["amazon"])
    if looks:  # the killed run saw the feed running; the rerun looked at it until done
        assert len(killed_feed) == 1 and amazon.count("GET", rf"{FEED_POST}/{first}") == 2
    assert rerun.exit_code == 0, rerun.message
    assert state(amazon) == expected and amazon.violations == []
    if recorded:  # the feed id was committed before the kill: that feed is collected
        assert created + feeds_sent(amazon) == 2  # each feed created exactly once
    else:  # no feed id was recorded: the job is lost and its changes go again
        assert "sent again with this plan" in " ".join(rerun.notes)
    assert [status for _, status in jobs_of(ws)].count("done") == 2
    amazon.requests.clear()
    third = run_cli("-w", ws, "push", "amazon")
    assert third.code == 0, third.output
    assert amazon.requests == []
    for secret in (*SECRETS, *amazon.tokens):
        assert secret not in out.read_text() + err.read_text() + third.output


# --- orders and shipments -------------------------------------------------------------------
def test_an_amazon_order_lowers_stock_pending_too_and_ships_once(
    amazon: AmazonDouble, new_demo: Any
) -> None:
    ws = new_demo()
    write(ws, amazon.url)
    first = run_cli("-w", ws, "sync")
    assert first.code == 0, first.output
    before = level(ws, "MUG-ENAMEL")
    pending = amazon.orders.add([("MUG-ENAMEL", 2)], "Pending")
    code, body = cli_json(ws, "sync")
    assert code == 0, body
    # Amazon holds the units of a Pending order: so does the ledger, and every listing
    assert level(ws, "MUG-ENAMEL") == (before[0], before[1] + 2, before[2] - 2)
    assert amazon.quantity_of("MUG-ENAMEL") == before[2] - 2 + level(ws, "MUG-ENAMEL", "store")[2]
    amazon.orders.set_status(pending, "Unshipped")
    for _ in range(2):  # paid, then seen again: nothing more moves
        assert cli_json(ws, "sync")[0] == 0
        assert level(ws, "MUG-ENAMEL") == (before[0], before[1] + 2, before[2] - 2)

    code, done = cli_json(
        ws, "ship", "amazon", pending, "--carrier", "UPS", "--tracking", "1Z999AA10123456784"
    )
    assert code == 0 and done["status"] == "recorded", done
    assert cli_json(ws, "sync", "amazon")[0] == 0
    [package] = amazon.orders.packages[pending]
    assert (package["carrierCode"], package["trackingNumber"]) == ("UPS", "1Z999AA10123456784")
    assert amazon.orders.orders[pending]["OrderStatus"] == "Shipped"
    assert cli_json(ws, "sync", "amazon")[0] == 0  # shipped at Amazon: nothing sent again
    assert len(amazon.confirmations) == 1
    assert level(ws, "MUG-ENAMEL") == (before[0] - 2, before[1], before[2] - 2)

    lantern = level(ws, "LANTERN-LED")
    gone = amazon.orders.add([("LANTERN-LED", 1)], "Pending")
    assert cli_json(ws, "sync")[0] == 0
    amazon.orders.set_status(gone, "Canceled")  # cancelled before payment: the units return
    assert cli_json(ws, "sync")[0] == 0 and level(ws, "LANTERN-LED") == lantern
    assert amazon.violations == [] and amazon.too_recent == 0
    assert_no_secrets(ws, [first.output], amazon)


def test_a_shipment_killed_while_confirming_reaches_amazon_once(
    amazon: AmazonDouble, new_demo: Any
) -> None:
    """Amazon confirmed the package and the process was killed before it read the answer
    (nothing recorded): the rerun's confirmation is answered "already fulfilled", recognised
    as this package: one package at Amazon, the shipment sent, the units off the shelf once."""
    ws = new_demo()
    write(ws, amazon.url)
    assert run_cli("-w", ws, "sync").code == 0
    before = level(ws, "LANTERN-LED")
    order = amazon.orders.add([("LANTERN-LED", 1)])
    assert cli_json(ws, "pull", "amazon")[0] == 0
    code, done = cli_json(ws, "ship", "amazon", order, "--carrier", "USPS",
                          "--tracking", "9400 1000 0000 0000 0000 00")  # fmt: skip
    assert code == 0 and done["status"] == "recorded", done
    victim: dict[str, subprocess.Popen[bytes]] = {}

    def kill_at_confirm(count: int, entry: Any) -> bool:
        if not entry.path.endswith("/shipmentConfirmation"):
            return False
        victim["proc"].send_signal(signal.SIGKILL)
        victim["proc"].wait(timeout=30)
        return True

    with serve_proxy(amazon.url) as proxy:
        write(ws, proxy.url, token=amazon.url)
        proxy.on_applied = kill_at_confirm
        env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
        victim["proc"] = subprocess.Popen(
            [sys.executable, "-m", "multichan", "-w", str(ws), "push", "amazon", "--only",
             "shipments"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        code = victim["proc"].wait(timeout=60)
    assert code == -signal.SIGKILL
    assert len(amazon.orders.packages[order]) == 1  # Amazon has it, whatever the process saw
    write(ws, amazon.url)
    again = run_cli("-w", ws, "push", "amazon", "--only", "shipments")
    assert again.code == 0, again.output
    assert len(amazon.orders.packages[order]) == 1
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        [(status, remote)] = db.execute(
            "SELECT status, remote_id FROM shipments WHERE order_id = ?", [order]
        ).fetchall()
    assert status == "sent" and remote is not None
    assert cli_json(ws, "sync", "amazon")[0] == 0
    assert level(ws, "LANTERN-LED")[0] == before[0] - 1  # off the shelf once
    confirms = len(amazon.confirmations)
    assert run_cli("-w", ws, "push", "amazon", "--only", "shipments").code == 0
    assert len(amazon.confirmations) == confirms  # sent: never again
    assert amazon.violations == []


def test_an_unknown_sku_on_an_amazon_order_never_blocks_the_rest(
    amazon: AmazonDouble, new_demo: Any
) -> None:
    """Sellers' failure #8: the order is recorded, the known line moves stock, the unknown one
    is named (exit 4), and the next order still comes in."""
    ws = new_demo()
    write(ws, amazon.url)
    assert run_cli("-w", ws, "sync").code == 0
    before = level(ws, "MUG-ENAMEL")
    amazon.orders.add([("GHOST-1", 1), ("MUG-ENAMEL", 1)])
    result = run_cli("-w", ws, "pull", "amazon")
    assert result.code == 4, result.output
    assert "GHOST-1" in result.output
    assert level(ws, "MUG-ENAMEL") == (before[0], before[1] + 1, before[2] - 1)
    amazon.orders.add([("MUG-ENAMEL", 2)])
    run_cli("-w", ws, "pull", "amazon")
    assert level(ws, "MUG-ENAMEL") == (before[0], before[1] + 3, before[2] - 3)
    assert amazon.violations == [] and amazon.too_recent == 0


WOO = """\
  woo:
    type: woocommerce
    settings:
      base_url: {woo}
      consumer_key: ${{WOOCOMMERCE_CONSUMER_KEY}}
      consumer_secret: ${{WOOCOMMERCE_CONSUMER_SECRET}}
      timeout: 5
    orders: {{location: warehouse}}
    rate_limit: {{requests_per_second: 1000, burst: 100}}  # the tests count requests, not seconds
"""


def test_an_amazon_order_lowers_the_other_channel_in_the_same_sync(
    amazon: AmazonDouble, shared_woo: woo_srv.WooServer, new_demo: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Sellers' failures #1 and #10: what Amazon sold (Pending included) is off every other
    channel in the sync that pulled it, as an absolute count."""
    monkeypatch.setenv("WOOCOMMERCE_CONSUMER_KEY", woo_srv.KEY)
    monkeypatch.setenv("WOOCOMMERCE_CONSUMER_SECRET", woo_srv.SECRET)
    shared_woo.reset()
    ws = new_demo()
    write(ws, amazon.url)
    with (ws / "channels.yaml").open("a", encoding="utf-8") as fh:
        fh.write(WOO.format(woo=shared_woo.url))
    assert run_cli("-w", ws, "sync").code == 0
    woo_before = woo_state(shared_woo)["skus"]["MUG-ENAMEL"]["stock_quantity"]
    assert amazon.quantity_of("MUG-ENAMEL") == woo_before
    amazon.orders.add([("MUG-ENAMEL", 3)], "Pending")
    code, body = cli_json(ws, "sync")
    assert code == 0, body
    assert woo_state(shared_woo)["skus"]["MUG-ENAMEL"]["stock_quantity"] == woo_before - 3
    assert amazon.quantity_of("MUG-ENAMEL") == woo_before - 3
    assert amazon.violations == []
