"""Asynchronous jobs through the engine, against the Acme Market test server with jobs switched
on (``job_batch``, as Amazon's feeds and Meta's items_batch declare it): submit, wait, collect
per-SKU results; state moves only with results; a job still running, or a run killed with
SIGKILL after submitting, is collected by the next run, never submitted again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from multichan.channels import registry
from multichan.sync.push import PushResult
from multichan.sync.run import push_all
from multichan.workspace import resolve
from tests.channels.conftest import TOKEN
from tests.sync.conftest import FakeTime, Shop

JOBS = "/v1/jobs"


def _jobs_on(monkeypatch: pytest.MonkeyPatch, wait: float = 60.0) -> None:
    acme = registry.load("acme_market")
    monkeypatch.setattr(acme, "job_batch", {"listings": 1000, "prices": 1000, "quantities": 1000})
    monkeypatch.setattr(acme, "job_wait", wait)
    monkeypatch.setattr(acme, "job_poll", 1.0)


def _push(shop: Shop, fake_time: FakeTime, only: str | None = None) -> PushResult:
    """A push through the engine, its waits on a fake clock (the CLI's push, minus printing)."""
    return push_all(resolve(shop.root), ["acme"], only=only, pacing=fake_time.pacing())[0]


def _submitted(shop: Shop) -> list[dict[str, Any]]:
    return [r["body"] for r in shop.server.requests if r["method"] == "POST" and r["path"] == JOBS]


def _batch_posts(shop: Shop) -> list[str]:
    return [r["path"] for r in shop.server.requests if r["path"].endswith("/batch")]


def test_a_push_as_jobs_sends_each_kind_once_and_a_second_push_nothing(
    shop: Shop, monkeypatch: pytest.MonkeyPatch, fake_time: FakeTime
) -> None:
    _jobs_on(monkeypatch)
    n = len(shop.skus())
    result = _push(shop, fake_time)
    assert result.exit_code == 0, result.message
    jobs = _submitted(shop)
    assert [j["operation"] for j in jobs] == ["listings", "prices", "quantities"]
    assert all(len(j["items"]) == n for j in jobs) and _batch_posts(shop) == []
    assert len(shop.server.listings) == n
    assert fake_time.sleeps == [1.0, 1.0, 1.0]  # a look says running, the next has results
    done = shop.db().execute("SELECT status, count(*) FROM push_jobs GROUP BY status")
    assert dict(done.fetchall()) == {"done": 3}
    shop.server.requests.clear()
    assert shop.cli("push").code == 0 and shop.server.requests == []


def test_a_sku_the_job_report_refuses_is_rejected_with_its_message(
    shop: Shop, monkeypatch: pytest.MonkeyPatch, fake_time: FakeTime
) -> None:
    _jobs_on(monkeypatch)
    shop.server.job_looks = 0
    assert shop.cli("push").code == 0
    sku = shop.skus()[0]
    shop.sql("UPDATE products SET price = '0.00' WHERE sku = ?", (sku,))
    shop.server.requests.clear()
    result = shop.cli("push", "--json", "--force")
    assert result.code == 4, result.output
    doc = json.loads(result.stdout)["channels"][0]
    assert [j["operation"] for j in _submitted(shop)] == ["prices"]
    assert doc["rejected"] == [
        {"sku": sku, "kind": "prices", "message": "price: must be above 0.00"}
    ]


def test_a_job_still_running_is_collected_by_the_next_run_not_sent_again(
    shop: Shop, monkeypatch: pytest.MonkeyPatch, fake_time: FakeTime
) -> None:
    _jobs_on(monkeypatch, wait=3.0)  # three looks, then the run leaves it
    shop.server.job_looks = 10
    n = len(shop.skus())
    first = _push(shop, fake_time, "listings")
    assert first.exit_code == 0, first.message
    assert first.counts["pending"] == n and first.counts["ok"] == 0
    assert shop.db().execute("SELECT count(*) FROM push_state").fetchone()[0] == 0
    # the next run waits on the same job; meanwhile its SKUs are not sent again
    shop.server.requests.clear()
    again = _push(shop, fake_time, "listings")
    assert _submitted(shop) == [] and again.held == n
    assert any("a job still running" in note for note in again.notes)
    # once done, its results move state, and nothing is sent twice
    shop.server.requests.clear()
    shop.server.jobs[1][2] = 0
    last = _push(shop, fake_time, "listings")
    assert _submitted(shop) == [] and last.counts["ok"] == n
    assert len(shop.server.listings) == n
    shop.server.requests.clear()
    assert shop.cli("push", "--only", "listings").code == 0 and shop.server.requests == []


def _killed_push(shop: Shop, site: Path, kill_on: tuple[str, str]) -> None:
    """``multichan push acme --only listings`` as a real process (no TTY), SIGKILLed when the
    server receives ``kill_on`` (method, path prefix): after the server took it."""
    env = {**os.environ, "ACME_TOKEN": TOKEN, "PYTHONPATH": str(site)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "multichan", "-w", str(shop.root), "push", "acme", "--only",
         "listings"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    fired = threading.Event()

    def kill(method: str, path: str) -> None:
        if (method, path[: len(kill_on[1])]) == kill_on and not fired.is_set():
            fired.set()
            proc.send_signal(signal.SIGKILL)

    shop.server.on_request = kill
    _, err = proc.communicate(timeout=60)
    shop.server.on_request = None
    assert fired.is_set() and proc.returncode == -signal.SIGKILL, err.decode()


@pytest.mark.parametrize("point", ["after submitting", "while waiting"])
def test_a_push_killed_around_its_job_converges_on_the_rerun(
    shop: Shop, plugin_site: Path, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    """Killed as the channel takes the job (its ticket maybe not recorded): the rerun sends
    it again, setting the same values. Killed while waiting on it (ticket recorded): the
    rerun collects that same job and submits nothing."""
    site = plugin_site
    (site / "sitecustomize.py").write_text(
        "from acme_multichan import AcmeMarket\n"
        "AcmeMarket.job_batch = {'listings': 1000, 'prices': 1000, 'quantities': 1000}\n"
        "AcmeMarket.job_poll = 0.05\n",
        encoding="utf-8",
    )
    shop.server.job_looks = 1_000_000 if point == "while waiting" else 1
    kill_on = ("POST", JOBS) if point == "after submitting" else ("GET", JOBS + "/")
    _killed_push(shop, site, kill_on)
    n = len(shop.skus())
    shop.server.job_looks = 0
    for job in shop.server.jobs.values():
        job[2] = 0  # the channel finishes the job it has
    shop.server.requests.clear()
    _jobs_on(monkeypatch)
    result = shop.cli("push", "--json", "--only", "listings")
    assert result.code == 0, result.output
    doc = json.loads(result.stdout)["channels"][0]
    resent = _submitted(shop)
    if point == "after submitting":  # killed before the ticket could be recorded
        assert len(resent) == 1 and len(resent[0]["items"]) == n
        assert any("sent again with this plan" in note for note in doc["notes"])
    else:
        assert resent == [] and doc["counts"]["ok"] == n
    assert len(shop.server.listings) == n
    states = shop.db().execute("SELECT count(*) FROM push_state WHERE status = 'ok'")
    assert states.fetchone()[0] == n
    shop.server.requests.clear()
    assert shop.cli("push", "--only", "listings").code == 0 and shop.server.requests == []
