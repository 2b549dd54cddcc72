"""Shared fixtures: fresh workspaces in tmp dirs and a CLI runner that goes through main(),
so exit codes and stderr are exactly what a seller or a cron job sees; the session-scoped test
servers, each defined here once so each starts once per session; and the suite's two health
rules (see tests/test_suite_health.py):

- ``require(condition, reason)``: a contract test whose spec, Prism or sshd is missing skips on
  a developer's machine but fails in CI (``CI=true``), and in CI any other skip fails too;
- a session-scoped server (a value of one of ``SERVER_TYPES``) started more than once in a
  session fails the run. A fixture bound by assignment in several modules (``x = fx.x``) is a
  separate fixture in each, so a server fixture must be defined once, here, and a per-directory
  name for it may only pass it through.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(*args: str | os.PathLike[str], env: dict[str, str] | None = None) -> Result:
    """Run ``multichan ARGS`` in-process through the console-script entry point."""
    from multichan.cli import main
    from multichan.cli.output import STATE

    out, err = io.StringIO(), io.StringIO()
    old_env = dict(os.environ)
    os.environ.update(env or {})
    os.environ["COLUMNS"] = "200"
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main([str(a) for a in args])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.environ.clear()
        os.environ.update(old_env)
        STATE.workspace, STATE.traceback, STATE.json_written = None, False, False
    return Result(code, out.getvalue(), err.getvalue())


def run_subprocess(
    *args: str | os.PathLike[str],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> Result:
    """Run multichan as a real process with no TTY and no stdin, as cron does."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("FORCE_COLOR", None)
    proc = subprocess.run(
        [sys.executable, "-m", "multichan", *map(str, args)],
        cwd=cwd,
        env=full_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """An empty workspace."""
    ws = tmp_path / "shop"
    assert run_cli("init", ws).code == 0
    return ws


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """A workspace holding the demo catalog."""
    ws = tmp_path / "demo"
    result = run_cli("init", "--demo", ws)
    assert result.code == 0, result.output
    return ws


def write_config(ws: Path, text: str) -> None:
    (ws / "channels.yaml").write_text(text, encoding="utf-8")


# --- contract tests skip locally, fail in CI ---------------------------------------------------
def in_ci() -> bool:
    """True where the suite runs as CI (``CI`` set, as CI services and .ci/run do)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require(condition: object, reason: str) -> None:
    """Go on when ``condition`` holds; otherwise skip the calling test (or fixture) with
    ``reason``, or, in CI, where ../shared, Prism and sshd are all present, fail it."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a contract test may not skip)", pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """In CI, a skip raised anywhere else (``pytest.skip``, ``skipif``) fails, with its reason."""
    report = yield
    if report.skipped and in_ci() and not hasattr(report, "wasxfail"):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where no test may skip: {reason}"
    return report


# --- session-scoped servers, started once --------------------------------------------------------
# the classes whose values are test servers; Prism counts once per spec
SERVER_TYPES = {
    "AcmeServer",
    "AmazonDouble",
    "BigCommerceDouble",
    "EbayDouble",
    "EtsyDouble",
    "GoogleDouble",
    "MetaDouble",
    "Prism",
    "ShopifyServer",
    "SquareDouble",
    "SshServer",
    "TikTokServer",
    "WooServer",
}
# servers that may start more than once, with why (remove the entry when the reason goes)
EXTRA_STARTS: dict[str, str] = {}
STARTED: dict[str, list[tuple[str, object]]] = {}  # server -> (fixture, value) per start


def server_key(value: object) -> str | None:
    """The name a session server is counted under, or None when ``value`` is not a server."""
    name = type(value).__name__
    if name not in SERVER_TYPES:
        return None
    spec = getattr(value, "spec", None)
    return f"{name}({Path(spec).name})" if spec is not None else name


def extra_starts(started: dict[str, list[tuple[str, object]]]) -> dict[str, list[str]]:
    """The servers started as more than one object, with the fixtures that started each;
    a fixture that passes a server through (returns the same object) is no new start."""
    found = {}
    for key, starts in started.items():
        distinct: list[tuple[str, object]] = []
        for fixture, value in starts:
            if all(value is not seen for _, seen in distinct):
                distinct.append((fixture, value))
        allowed = 2 if key.split("(")[0] in EXTRA_STARTS else 1
        if len(distinct) > allowed:
            found[key] = [fixture for fixture, _ in distinct]
    return found


class ServerStarts:
    """Counts the servers session-scoped fixtures start and fails the run when one started
    twice. A plugin, registered by ``pytest_configure``: pytest sets a session-scoped fixture
    up through the session's hooks, which see plugins and the root conftest, not this one."""

    name = "multichan-server-starts"

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> Any:
        value = yield  # the hook runs only when the fixture is not cached yet
        key = server_key(value) if fixturedef.scope == "session" else None
        if key is not None:
            where = f"{fixturedef.baseid or '.'}::{fixturedef.argname}"
            STARTED.setdefault(key, []).append((where, value))
        return value

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if extra_starts(STARTED) and exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not STARTED:
            return
        counts = {key: len({id(value) for _, value in starts}) for key, starts in STARTED.items()}
        terminalreporter.write_line(
            "session servers started: " + ", ".join(f"{k} x{n}" for k, n in sorted(counts.items()))
        )
        for key, fixtures in extra_starts(STARTED).items():
            terminalreporter.write_line(
                f"ERROR: {key} started {len(fixtures)} times in one session, by "
                f"{', '.join(fixtures)}: define its fixture once, in tests/conftest.py, and pass "
                "it through elsewhere",
                red=True,
            )


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin(ServerStarts.name):
        config.pluginmanager.register(ServerStarts(), ServerStarts.name)


@pytest.fixture(scope="session")
def square_prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:  # tests.prism.Prism
    """Prism serving Square's published contract, once per test session (it takes ~20 s to
    load); shared by the Square channel tests and the end-to-end tests."""
    from tests.channels.square_conftest import SPEC
    from tests.prism import prism_server

    with prism_server(SPEC, tmp_path_factory.mktemp("prism")) as server:
        yield server


@pytest.fixture(scope="session")
def shared_shopify() -> Iterator[Any]:  # tests.servers.shopify.ShopifyServer
    """The schema-checked Shopify endpoint, once per session: the Shopify channel tests and
    the end-to-end tests empty it per test."""
    from tests.servers import shopify

    require(
        shopify.SCHEMA_FILE.exists(),
        f"Shopify's schema is not at {shopify.SCHEMA_FILE} (../shared)",
    )
    with shopify.serve() as server:
        yield server


@pytest.fixture(scope="session")
def shared_woo() -> Iterator[Any]:  # tests.servers.woocommerce.WooServer
    """The strict WooCommerce shop, once per session (emptied per test by its users)."""
    from tests.servers import woocommerce

    with woocommerce.serve() as server:
        yield server


@pytest.fixture(scope="session")
def shared_square() -> Iterator[Any]:  # tests.channels.square_conftest.SquareDouble
    """The stateful Square double, once per session (emptied per test by its users)."""
    from tests.channels.square_conftest import serve_double

    with serve_double() as double:
        yield double


@pytest.fixture(scope="session")
def shared_acme() -> Iterator[Any]:  # tests.channels.conftest.AcmeServer
    """The Acme Market plugin's recording server, once per session: the channel and the push
    tests empty it per test."""
    from tests.channels.conftest import serve_acme

    with serve_acme() as server:
        yield server


# --- ebay fixtures (session-scoped; owned by the eBay channel work) ---
@pytest.fixture(scope="session")
def ebay_inventory_prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Prism serving eBay's Sell Inventory contract, once per session."""
    from tests.channels.ebay_conftest import INVENTORY_SPEC
    from tests.prism import prism_server

    with prism_server(INVENTORY_SPEC, tmp_path_factory.mktemp("prism-ebay-inv")) as server:
        yield server


@pytest.fixture(scope="session")
def ebay_fulfillment_prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Prism serving eBay's Sell Fulfillment contract, once per session."""
    from tests.channels.ebay_conftest import FULFILLMENT_SPEC
    from tests.prism import prism_server

    with prism_server(FULFILLMENT_SPEC, tmp_path_factory.mktemp("prism-ebay-ful")) as server:
        yield server


@pytest.fixture(scope="session")
def shared_ebay() -> Iterator[Any]:  # tests.channels.ebay_conftest.EbayDouble
    """The stateful eBay double, once per session (emptied per test by its users)."""
    from tests.channels.ebay_conftest import serve_double

    with serve_double() as double:
        yield double


# --- etsy fixtures (session-scoped; owned by the Etsy channel work) ---
@pytest.fixture(scope="session")
def etsy_prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:  # tests.prism.Prism
    """Prism serving Etsy's Open API v3 contract, once per test session."""
    from tests.channels.etsy_conftest import SPEC
    from tests.prism import prism_server

    with prism_server(SPEC, tmp_path_factory.mktemp("prism-etsy")) as server:
        yield server


@pytest.fixture(scope="session")
def shared_etsy() -> Iterator[Any]:  # tests.channels.etsy_conftest.EtsyDouble
    """The stateful Etsy double, once per session (emptied per test by its users)."""
    from tests.channels.etsy_conftest import serve_double

    with serve_double() as double:
        yield double


# --- bigcommerce fixtures (session-scoped; owned by the BigCommerce channel work) ---
def _bigcommerce_prism(name: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.channels.bigcommerce_conftest import SPECS
    from tests.prism import prism_server

    with prism_server(SPECS[name], tmp_path_factory.mktemp(f"prism-bc-{name}")) as server:
        yield server


@pytest.fixture(scope="session")
def bigcommerce_products_prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Prism serving BigCommerce's Catalog - Products contract, once per session."""
    yield from _bigcommerce_prism("products", tmp_path_factory)


@pytest.fixture(scope="session")
def bigcommerce_variants_prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Prism serving BigCommerce's Catalog - Product variants contract, once per session."""
    yield from _bigcommerce_prism("variants", tmp_path_factory)


@pytest.fixture(scope="session")
def bigcommerce_inventory_prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Prism serving BigCommerce's Inventory contract, once per session."""
    yield from _bigcommerce_prism("inventory", tmp_path_factory)


@pytest.fixture(scope="session")
def bigcommerce_orders_prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Prism serving BigCommerce's Orders V2 contract, once per session."""
    yield from _bigcommerce_prism("orders", tmp_path_factory)


@pytest.fixture(scope="session")
def shared_bigcommerce() -> Iterator[Any]:  # bigcommerce_conftest.BigCommerceDouble
    """The stateful BigCommerce double, once per session (emptied per test by its users)."""
    from tests.channels.bigcommerce_conftest import serve_double

    with serve_double() as double:
        yield double


# --- tiktok fixtures (session-scoped; owned by the TikTok Shop channel work) ---
@pytest.fixture(scope="session")
def shared_tiktok() -> Iterator[Any]:  # tests.servers.tiktok.TikTokServer
    """The strict, signature-checking TikTok Shop server, once per session (emptied per test
    by its users)."""
    from tests.servers import tiktok

    with tiktok.serve() as server:
        yield server


# --- google fixtures (session-scoped; owned by the Google Merchant API channel work) ---
@pytest.fixture(scope="session")
def shared_google() -> Iterator[Any]:  # tests.channels.google_conftest.GoogleDouble
    """The Google Merchant API double (checking requests against Google's discovery
    documents, and its own OAuth token endpoint), once per session; emptied per test."""
    from tests.channels.google_conftest import serve_double

    with serve_double() as double:
        yield double


# --- meta fixtures (session-scoped; owned by the Meta catalog channel work) ---
@pytest.fixture(scope="session")
def shared_meta() -> Iterator[Any]:  # tests.channels.meta_conftest.MetaDouble
    """The Meta catalog double, checking each request against Meta's SDK specs, once per
    session (emptied per test by its users)."""
    from tests.channels.meta_conftest import serve_double

    with serve_double() as double:
        yield double


# --- amazon fixtures (session-scoped; owned by the Amazon channel work) ---
def _amazon_prism(name: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.channels.amazon_conftest import SPECS
    from tests.prism import prism_server

    with prism_server(SPECS[name], tmp_path_factory.mktemp(f"prism-amazon-{name}")) as server:
        yield server


@pytest.fixture(scope="session")
def amazon_listings_prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Prism serving Amazon's Listings Items 2021-08-01 contract, once per session."""
    yield from _amazon_prism("listings", tmp_path_factory)


@pytest.fixture(scope="session")
def amazon_feeds_prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Prism serving Amazon's Feeds 2021-06-30 contract, once per session."""
    yield from _amazon_prism("feeds", tmp_path_factory)


@pytest.fixture(scope="session")
def amazon_orders_prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Prism serving Amazon's Orders v0 contract, once per session."""
    yield from _amazon_prism("orders", tmp_path_factory)


@pytest.fixture(scope="session")
def shared_amazon() -> Iterator[Any]:  # tests.channels.amazon_conftest.AmazonDouble
    """The stateful Amazon SP-API double, once per session (emptied per test by its users)."""
    from tests.channels.amazon_conftest import serve_double

    with serve_double() as double:
        yield double
