"""The demo catalog pushed to the Google double through the CLI and the engine: plan, push,
a second push that sends nothing, Google's quota and its twice-a-day advice kept, 20% injected
faults and kill -9 converging to the fault-free state, and no access token, refresh token or
service-account key in any output."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.channels.google_conftest import ACCOUNT, GoogleDouble, service_account_info
from tests.conftest import run_cli
from tests.e2e.conftest import push_fast, push_killed_at
from tests.e2e.test_faults_and_kills import change_catalog
from tests.servers.faults import serve_proxy

pytestmark = pytest.mark.slow

CONFIG = """\
shop:
  link_template: "https://shop.example.com/products/{{{{handle}}}}"
channels:
  google:
    type: google_merchant_api
    settings:
      base_url: {url}
      account: "{account}"
      data_source: "10001"
      service_account_file: {key}
      stores: {{store: STORE-7}}
      timeout: {timeout}
    rate_limit: {{requests_per_second: 100, burst: 100}}  # real pacing in the killed process
"""


@pytest.fixture
def google(shared_google: GoogleDouble) -> GoogleDouble:
    shared_google.reset()
    return shared_google


def configure(ws: Path, google: GoogleDouble, url: str | None = None, timeout: int = 5) -> Path:
    key = ws / "google-key.json"
    key.write_text(json.dumps(service_account_info(google.token_uri)), encoding="utf-8")
    text = CONFIG.format(url=url or google.url, account=ACCOUNT, key=key, timeout=timeout)
    (ws / "channels.yaml").write_text(text, encoding="utf-8")
    return key


def state(google: GoogleDouble) -> dict[str, Any]:
    """What Google holds, by product: the input's attributes and each store's stock."""
    return {
        pid: {"attributes": given.get("productAttributes"),
              "stores": {s: e["localInventoryAttributes"]
                         for s, e in google.local.get(pid, {}).items()}}
        for pid, given in sorted(google.inputs.items())
    }  # fmt: skip


def secrets_of(google: GoogleDouble, key: Path) -> list[str]:
    info = json.loads(key.read_text(encoding="utf-8"))
    body = "".join(info["private_key"].splitlines()[1:-1])
    return [*google.tokens, info["private_key_id"], body[:64], body[-64:]]


def test_plan_push_then_nothing_to_send(google: GoogleDouble, new_demo: Any) -> None:
    ws = new_demo("google")
    key = configure(ws, google)
    plan = run_cli("-w", ws, "plan", "--json")
    assert plan.code == 0, plan.output
    [channel] = json.loads(plan.stdout)["channels"]
    created = channel["totals"]["create"]
    assert created > 50 and google.requests == []  # the plan sends nothing

    pushed = run_cli("-w", ws, "push", "google")
    assert pushed.code == 0, pushed.output
    assert f"google: ok, {created * 3} ok, 0 rejected, 0 failed" in pushed.stdout
    assert google.violations == []
    assert len(google.inputs) == created
    # one write per product: the price and stock sends after the insert make no call;
    # stock goes to the store as a local inventory
    assert set(google.writes.values()) == {1} and google.calls("PATCH") == []
    assert len(google.calls("POST", "/inventories/")) == created
    assert google.grants == 1  # one access token for the run

    google.requests.clear()
    again = run_cli("-w", ws, "push", "google")
    assert again.code == 0, again.output
    assert "google: ok, nothing to send" in again.stdout and google.requests == []

    change_catalog(ws)  # three prices and three counts (one of them not at the store)
    third = run_cli("-w", ws, "push", "google")
    assert third.code == 0, third.output
    patches = google.calls("PATCH")
    assert {p["query"]["updateMask"] for p in patches} <= {
        "price,salePrice", "availability", "price,salePrice,availability"
    }  # fmt: skip
    assert max(google.writes.values()) <= 2  # Google: about twice a day at most
    assert google.violations == []
    assert google.grants == 1  # the token cached in the catalog lasted between runs
    for secret in secrets_of(google, key):
        assert secret not in pushed.output + again.output + third.output


def _reference(google: GoogleDouble, new_demo: Any) -> dict[str, Any]:
    google.reset()
    ws = new_demo("reference")
    configure(ws, google)
    for phase in range(2):
        if phase:
            change_catalog(ws)
        [result] = push_fast(ws, ["google"])
        assert result.exit_code == 0, result.message
    expected = state(google)
    google.reset()
    return expected


def test_twenty_percent_faults_converge_to_the_fault_free_state(
    google: GoogleDouble, new_demo: Any
) -> None:
    expected = _reference(google, new_demo)
    injected = []
    for seed in (31, 32):
        google.reset()
        ws = new_demo(f"faults-{seed}")
        with serve_proxy(google.url, rate=0.2, seed=seed, stall_seconds=1.6) as proxy:
            configure(ws, google, url=proxy.url, timeout=1)
            for phase in range(2):
                if phase:
                    change_catalog(ws)
                codes = []
                for _run in range(8):
                    [result] = push_fast(ws, ["google"], max_retries=3)
                    codes.append(result.exit_code)
                    if result.exit_code == 0:
                        break
                assert codes[-1] == 0, f"no convergence after {len(codes)} runs: {codes}"
                assert set(codes) <= {0, 6}, codes
            injected += proxy.faults()
        assert state(google) == expected
        assert google.violations == []
        google.requests.clear()
        [again] = push_fast(ws, ["google"])
        assert again.exit_code == 0 and again.counts["requests"] == 0
        assert google.api_requests() == []
    assert {f.phase for f in injected} == {"before", "after"}


def _runs(ws: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        query = "SELECT status FROM journal_runs WHERE channel = 'google' ORDER BY id"
        return [row[0] for row in db.execute(query)]


# 1: the quota read; 2: the first insert; 51: the first of the second batch; 61: the last
# insert (the price sends make no call after it); 62: the first store's local inventory
@pytest.mark.parametrize("n", [1, 2, 51, 61, 62, 121])
def test_kill_9_after_the_nth_applied_call_then_rerun(
    google: GoogleDouble, new_demo: Any, tmp_path: Path, n: int
) -> None:
    google.reset()
    reference_ws = new_demo("reference")
    configure(reference_ws, google)
    [first] = push_fast(reference_ws, ["google"])
    assert first.exit_code == 0, first.message
    expected = state(google)
    google.reset()

    ws = new_demo("killed")
    with serve_proxy(google.url) as proxy:
        key = configure(ws, google, url=proxy.url)
        out, err = push_killed_at(proxy, ws, ["google"], n, tmp_path, timeout=60)
        proxy.on_applied = None
        [rerun] = push_fast(ws, ["google"])
        assert rerun.exit_code == 0, rerun.message
        assert state(google) == expected
        assert google.violations == []
        google.requests.clear()
        third = run_cli("-w", ws, "push", "google")
        assert third.code == 0 and "0 request(s)" in third.stdout, third.output
        assert google.api_requests() == []
    assert _runs(ws) == ["running", "ok", "ok"]
    for secret in secrets_of(google, key):
        assert secret not in out.read_text() + err.read_text() + third.output
