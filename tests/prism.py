"""Prism mock servers for channel tests: the vendors' own OpenAPI contracts, served on 127.0.0.1.

``prism_server(spec, tmp_dir)`` finds the Prism binary, starts ``prism mock SPEC -h 127.0.0.1
-p PORT`` as a direct child (so the PID held is the server's own), waits for "Prism is
listening" in its log and stops it by that PID afterwards. Tests are skipped, with the reason,
when the binary or the spec folder is absent (``tests.conftest.require``: in CI they fail).
Large specs load slowly (Square's takes ~20 s): call this from a session-scoped fixture in
tests/conftest.py, once per spec.

Where the binary comes from, first match wins: ``$PRISM_BIN``;
``$HOME/.cache/multichan-prism/node_modules/.bin/prism`` (what .ci/run installs with
``npm install --prefix $HOME/.cache/multichan-prism @stoplight/prism-cli@5``); ``prism`` on PATH.
The spec folder is ``$MULTICHAN_SPECS`` or ``../shared/specs`` next to the repository.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import SHARED, require

READY = "Prism is listening"
INSTALL = "npm install --prefix $HOME/.cache/multichan-prism @stoplight/prism-cli@5"


def specs_dir() -> Path:
    return Path(os.environ.get("MULTICHAN_SPECS") or SHARED / "specs")


def prism_binary() -> str | None:
    """The Prism executable, or None when none is installed."""
    candidates = [
        os.environ.get("PRISM_BIN"),
        str(Path.home() / ".cache" / "multichan-prism" / "node_modules" / ".bin" / "prism"),
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("prism")


def spec_or_skip(relative: str) -> Path:
    """The spec file ``relative`` to the spec folder; skips the test (fails it in CI) when it is
    absent."""
    path = specs_dir() / relative
    require(
        path.is_file(),
        f"vendor contract {path} is absent (set MULTICHAN_SPECS to the specs folder)",
    )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Prism:
    url: str
    spec: Path
    log: Path
    process: subprocess.Popen[bytes]

    def log_tail(self, lines: int = 20) -> str:
        """The end of Prism's log, without the one-line-per-route listing it starts with."""
        text = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(([line for line in text if "info" not in line] or text)[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start(spec: Path, log_dir: Path, timeout: float = 120) -> Prism:
    """Start Prism on ``spec`` and wait until it listens; raises RuntimeError (with the end of
    its log) when it exits or does not get ready within ``timeout`` seconds."""
    binary = prism_binary()
    if binary is None:
        raise RuntimeError(f"no Prism binary; install it with: {INSTALL}")
    port = free_port()
    log = log_dir / f"prism-{spec.stem}-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, "mock", str(spec), "-h", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = Prism(f"http://127.0.0.1:{port}", spec, log, process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if READY in log.read_text(encoding="utf-8", errors="replace"):
            return server
        if process.poll() is not None:
            raise RuntimeError(
                f"Prism exited ({process.returncode}) on {spec}:\n{server.log_tail()}"
            )
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"Prism was not listening after {timeout:.0f} s:\n{server.log_tail()}")


@contextmanager
def prism_server(relative_spec: str, log_dir: Path) -> Iterator[Prism]:
    """A running Prism for ``relative_spec`` (e.g. ``square/api.offline.json``); skips the
    calling test (fails it in CI) when Prism or the spec is missing."""
    spec = spec_or_skip(relative_spec)
    require(prism_binary() is not None, f"Prism is not installed (set PRISM_BIN, or: {INSTALL})")
    server = start(spec, log_dir)
    try:
        yield server
    finally:
        server.stop()
