"""The suite's own health rules (tests/conftest.py): a contract test that cannot run skips on a
developer's machine but fails in CI, and a session-scoped server starts once per session, even
where a fixture is bound by assignment in several modules. Each rule is shown on a small suite
of its own, run by pytest in a subprocess with tests/conftest.py's hooks."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO, extra_starts, in_ci, require, server_key

HOOKS = """
from tests.conftest import pytest_configure, pytest_runtest_makereport  # noqa: F401
"""


def run_suite(folder: Path, files: dict[str, str], ci: bool) -> subprocess.CompletedProcess[str]:
    """Write ``files`` (plus a conftest with the hooks) into ``folder`` and run pytest there."""
    files = {"conftest.py": HOOKS, **files}
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", str(folder)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


# --- contract tests skip locally, fail in CI -----------------------------------------------------
def test_require_lets_a_test_go_on_when_the_contract_is_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CI", "true")
    require(True, "never shown")


def test_require_skips_with_the_reason_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Prism is not installed"):
        require(False, "Prism is not installed")


def test_require_fails_with_the_reason_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"spec .*absent \(CI=true: a contract"):
        require(False, "spec square/api.json is absent")


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("1", True), ("", False),
                                                 ("false", False), ("0", False)])  # fmt: skip
def test_ci_is_what_ci_services_set(
    value: str, expected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", value)
    assert in_ci() is expected


SKIPPING = {
    "test_contracts.py": """
        import pytest
        from tests.conftest import require

        def test_with_require():
            require(False, "vendor contract square/api.json is absent")

        @pytest.fixture(scope="session")
        def sshd():
            pytest.skip("/usr/sbin/sshd not found")

        def test_skipped_by_a_fixture(sshd):
            pass

        @pytest.mark.skipif(True, reason="Amazon's schemas are not available")
        def test_skipped_by_a_marker():
            pass

        @pytest.mark.xfail(reason="a known bug", strict=True)
        def test_expected_to_fail():
            assert False

        def test_runs():
            pass
    """
}


def test_a_contract_test_that_cannot_run_skips_on_a_developers_machine(tmp_path: Path) -> None:
    done = run_suite(tmp_path, SKIPPING, ci=False)
    assert done.returncode == 0, done.stdout
    assert "1 passed, 3 skipped, 1 xfailed" in done.stdout
    assert "vendor contract square/api.json is absent" in done.stdout


def test_in_ci_every_skip_fails_the_run_with_its_reason(tmp_path: Path) -> None:
    done = run_suite(tmp_path, SKIPPING, ci=True)
    assert done.returncode == 1, done.stdout
    assert "1 failed, 1 passed, 1 xfailed, 2 errors" in done.stdout  # errors: in setup
    assert "vendor contract square/api.json is absent (CI=true" in done.stdout
    for reason in ("/usr/sbin/sshd not found", "Amazon's schemas are not available"):
        assert f"skipped in CI, where no test may skip: {reason}" in done.stdout


# --- session-scoped servers start once ----------------------------------------------------------
SHARED_ACME = """
import pytest
from servers import AcmeServer

@pytest.fixture(scope="session")
def shared_acme():  # the one definition, in the closest common conftest
    return AcmeServer()
"""
SERVERS = {
    "servers.py": """
        import pytest

        class WooServer:  # counted: its class name is in tests.conftest.SERVER_TYPES
            pass

        @pytest.fixture(scope="session")
        def woo():  # bound by assignment in two modules: two fixtures, two servers
            return WooServer()

        class AcmeServer:
            pass

        @pytest.fixture(scope="session")
        def acme(shared_acme):  # bound by assignment too, but only passes the one through
            return shared_acme
    """,
    "conftest.py": HOOKS + SHARED_ACME,
    "test_one.py": """
        import servers
        woo, acme = servers.woo, servers.acme

        def test_one(woo, acme):
            pass
    """,
    "test_two.py": """
        import servers
        woo, acme = servers.woo, servers.acme

        def test_two(woo, acme):
            pass
    """,
}


def test_a_server_fixture_bound_by_assignment_in_two_modules_fails_the_run(
    tmp_path: Path,
) -> None:
    done = run_suite(tmp_path, SERVERS, ci=False)
    assert "2 passed" in done.stdout and done.returncode == 1, done.stdout
    assert "session servers started: AcmeServer x1, WooServer x2" in done.stdout
    assert "ERROR: WooServer started 2 times in one session, by test_one.py::woo, " in done.stdout
    assert "AcmeServer started" not in done.stdout


def test_the_same_server_passed_through_counts_once() -> None:
    class Prism:
        spec = Path("square/api.offline.json")

    class WooServer:
        pass

    one, other, woo = Prism(), Prism(), WooServer()
    assert server_key(one) == "Prism(api.offline.json)" and server_key(object()) is None
    assert extra_starts({"WooServer": [("a::_shop", woo), ("b::_shop", woo)]}) == {}
    assert extra_starts({"Prism(api.offline.json)": [("a::p", one), ("b::p", other)]}) == {
        "Prism(api.offline.json)": ["a::p", "b::p"]
    }
