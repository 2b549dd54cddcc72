"""Pushes that meet a bad network or a kill -9 end where an undisturbed push ends.

- Faults: a proxy answers ~20% of the requests itself (429 + Retry-After, 500, 503, a stall
  past the client's timeout, a TCP reset), before forwarding or after the server applied the
  request. Retries inside a run plus reruns until exit 0 give exactly the remote state of a
  fault-free push to a fresh server: same products, variants, prices and quantities by SKU,
  no duplicate product, no stock applied twice.
- Kills: ``python -m multichan push CHANNEL`` as a real process (no TTY) is SIGKILLed right
  after its N-th request was applied by the server, before it could read the answer. A rerun
  gets the lock (the kernel released it), converges to the same remote state, and a third run
  sends nothing; the journal keeps the killed run as ``running``.
The engine's pacing runs on a fake clock in-process (no real backoff sleeps).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.e2e.conftest import TOKENS, Servers, push_fast, write_channels
from tests.servers.faults import serve_proxy

pytestmark = pytest.mark.slow
CHANGES = [  # phase 2: what a seller does between two pushes
    ("price", "set", "MUG-ENAMEL", "12.00"),
    ("price", "set", "TEE-MERINO-NAV-M", "39.00", "--sale", "35.00"),
    ("price", "set", "BLANKET-WOOL", "85.00", "--sale", ""),
    ("stock", "set", "MUG-ENAMEL", "0", "--location", "store"),
    ("stock", "set", "HOODIE-FLEECE-RED-L", "17", "--location", "store"),
    ("stock", "set", "LANTERN-LED", "3", "--location", "warehouse"),
]
_REFERENCE: dict[tuple[str, int], dict[str, Any]] = {}


def change_catalog(ws: Path) -> None:
    for args in CHANGES:
        result = run_cli("-w", ws, *args)
        assert result.code == 0, result.output


def reference(servers: Servers, new_demo: Any, name: str, phases: int) -> dict[str, Any]:
    """The remote state after fault-free pushes of ``phases`` phases to a fresh server (once
    per session); the servers are emptied again afterwards."""
    key = (name, phases)
    if key not in _REFERENCE:
        servers.reset()
        ws = new_demo("reference")
        write_channels(ws, servers.urls())
        for phase in range(phases):
            if phase:
                change_catalog(ws)
            [result] = push_fast(ws, [name])
            assert result.exit_code == 0, result.message
        assert servers.violations()[name] == []
        _REFERENCE[key] = servers.state(name)
        servers.reset()
    return _REFERENCE[key]


# --- faults ----------------------------------------------------------------------------------
FAULT_CASES = [
    pytest.param("shop", 0.2, [11], id="shop-20%"),
    pytest.param("woo", 0.2, [12], id="woo-20%"),
    pytest.param("pos", 0.2, [13, 14, 15, 16], id="pos-20%"),  # ~4 requests a push: 4 seeds
    pytest.param("shop", 0.04, [28], id="shop-4%"),  # ~130 requests in two phases
    pytest.param("woo", 0.05, [21], id="woo-5%"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "rate", "seeds"), FAULT_CASES)
def test_pushes_through_faults_converge_to_the_fault_free_state(
    servers: Servers, new_demo: Any, name: str, rate: float, seeds: list[int]
) -> None:
    expected = reference(servers, new_demo, name, phases=2)
    timeout = 2 if name == "pos" else 1  # Square's double asks Prism first: give it time
    injected = []
    for seed in seeds:
        servers.reset()
        ws = new_demo(f"faults-{seed}")
        upstream = servers.get(name).url
        with serve_proxy(upstream, rate=rate, seed=seed, stall_seconds=timeout + 0.6) as proxy:
            write_channels(ws, {**servers.urls(), name: proxy.url}, timeout=timeout)
            for phase in range(2):
                if phase:
                    change_catalog(ws)
                codes = []
                for _run in range(8):  # rerun until exit 0, as cron would the next night
                    [result] = push_fast(ws, [name], max_retries=3)
                    codes.append(result.exit_code)
                    if result.exit_code == 0:
                        break
                assert codes[-1] == 0, f"no convergence after {len(codes)} runs: {codes}"
                assert set(codes) <= {0, 6}, codes  # faults are retried, never rejections
            injected += proxy.faults()
            assert servers.state(name) == expected  # no duplicate, no stock off by a re-send
            assert servers.violations()[name] == []
        # and the state is settled: one more push sends nothing
        servers.clear_logs()
        [again] = push_fast(ws, [name])
        assert again.exit_code == 0 and again.counts["requests"] == 0
        assert servers.requests(name) == 0
    phases = {f.phase for f in injected}
    assert phases == {"before", "after"}, injected  # some were applied upstream, then lost


# --- kill -9 -----------------------------------------------------------------------------------
KILL_POINTS = [
    *[("shop", n) for n in (1, 2, 3, 5, 8, 21, 39)],  # 40 in a full push; 39: all prices
    *[("woo", n) for n in (1, 2, 3, 5, 8, 13, 18)],  # 18; from 13: price and stock sent together
    *[("pos", n) for n in (1, 2, 3, 4)],  # 4: the last one is the quantities
]


def _last_run(ws: Path, name: str) -> tuple[Any, ...]:
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        query = "SELECT status, ended_at FROM journal_runs WHERE channel = ? ORDER BY id"
        return tuple(db.execute(query, [name]).fetchall())


@pytest.mark.parametrize(("name", "n"), KILL_POINTS)
def test_kill_9_after_the_nth_applied_request_then_rerun(
    servers: Servers, new_demo: Any, tmp_path: Path, name: str, n: int
) -> None:
    expected = reference(servers, new_demo, name, phases=1)
    servers.reset()
    ws = new_demo("killed")
    victim: dict[str, subprocess.Popen[bytes]] = {}

    def kill_at_n(count: int, entry: Any) -> bool:
        if count != n:
            return False
        victim["proc"].send_signal(signal.SIGKILL)  # before it can read the answer
        victim["proc"].wait(timeout=30)
        return True  # and the answer is never sent

    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with serve_proxy(servers.get(name).url) as proxy:
        write_channels(ws, {**servers.urls(), name: proxy.url})
        proxy.on_applied = kill_at_n
        env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
        with out.open("wb") as stdout, err.open("wb") as stderr:
            victim["proc"] = subprocess.Popen(
                [sys.executable, "-m", "multichan", "-w", str(ws), "push", name],
                stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, env=env,
            )  # fmt: skip
            code = victim["proc"].wait(timeout=60)
        assert code == -signal.SIGKILL, (code, err.read_text())
        assert proxy.forwarded == n
        proxy.on_applied = None
        assert _last_run(ws, name) == (("running", None),)  # killed: never finished

        # the kernel released the flock: the rerun gets it at once (MULTICHAN_LOCK_TIMEOUT 3)
        [rerun] = push_fast(ws, [name])
        assert rerun.exit_code == 0, rerun.message
        assert servers.state(name) == expected
        assert servers.violations()[name] == []

        servers.clear_logs()
        third = run_cli("-w", ws, "push", name)
        assert third.code == 0, third.output
        assert f"{name}: ok, nothing to send, 0 request(s)" in third.stdout
        assert servers.requests(name) == 0
    assert [r[0] for r in _last_run(ws, name)] == ["running", "ok", "ok"]
    for secret in TOKENS.values():
        assert secret not in out.read_text() + err.read_text() + third.output
