"""Fixtures for feed tests: one real sshd (tests/sshd.py) serves every delivery test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require
from tests.sshd import SshServer, run_sshd, skip_reason


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """A running OpenSSH sshd on 127.0.0.1, shared by the whole session."""
    reason = skip_reason()
    require(reason is None, str(reason))
    with run_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture
def remote_dir(sshd: SshServer, request: pytest.FixtureRequest) -> Path:
    """An empty folder on the sshd, one per test."""
    folder = sshd.upload_dir / request.node.name.replace("[", "_").replace("]", "")
    folder.mkdir()
    return folder
