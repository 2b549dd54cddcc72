"""Pulls through a network that fails a fifth of the requests (429 with Retry-After, 500, 503,
stalls past the client's timeout, TCP resets; before the server saw the request or after it
answered) converge: rerun until exit 0, as cron would, and the catalog holds exactly what a
fault-free pull of the same orders gives."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any

import pytest

from multichan.sync.run import pull_all
from multichan.workspace import resolve
from tests.e2e.conftest import Servers, write_channels
from tests.e2e.test_sync_kills import NAMES, outcome, prepared
from tests.servers.faults import serve_proxy
from tests.sync.conftest import FakeTime

pytestmark = pytest.mark.slow


def test_pulls_through_20_percent_faults_converge(
    servers: Servers, new_demo: Any, tmp_path: Path
) -> None:
    template = prepared(servers, new_demo)
    reference = tmp_path / "reference"
    shutil.copytree(template, reference)
    assert all(r.exit_code == 0 for r in pull_all(resolve(reference), NAMES))
    expected = outcome(reference, servers)

    injected = []
    for seed in (3, 8, 13, 21):  # a run makes ~8 requests: four runs, four fault sequences
        ws = tmp_path / f"faulty-{seed}"
        shutil.copytree(template, ws)
        with contextlib.ExitStack() as stack:
            proxies = {
                name: stack.enter_context(
                    serve_proxy(servers.get(name).url, rate=0.2, seed=seed + i, stall_seconds=2.6)
                )
                for i, name in enumerate(NAMES)
            }
            write_channels(ws, {**servers.urls(), **{n: p.url for n, p in proxies.items()}},
                           timeout=2)  # fmt: skip
            codes = []
            for _run in range(8):
                results = pull_all(resolve(ws), NAMES, pacing=FakeTime().pacing(max_retries=2))
                codes.append(max(r.exit_code for r in results))
                if codes[-1] == 0:
                    break
            assert codes[-1] == 0, (seed, codes)
            assert set(codes) <= {0, 6}, codes  # faults are retried, never a wrong answer
            injected += [f for p in proxies.values() for f in p.faults()]
        assert outcome(ws, servers) == expected, seed
    assert len(injected) >= 5 and {f.phase for f in injected} == {"before", "after"}, injected
