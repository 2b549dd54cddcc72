"""Shared fixtures: fresh workspaces in tmp dirs and a CLI runner that goes through main(),
so exit codes and stderr are exactly what a seller or a cron job sees."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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


@pytest.fixture(scope="session")
def square_prism(tmp_path_factory: pytest.TempPathFactory):  # -> Iterator[tests.prism.Prism]
    """Prism serving Square's published contract, once per test session (it takes ~20 s to
    load); shared by the Square channel tests and the end-to-end tests."""
    from tests.channels.square_conftest import SPEC
    from tests.prism import prism_server

    with prism_server(SPEC, tmp_path_factory.mktemp("prism")) as server:
        yield server
