"""A real OpenSSH sshd on 127.0.0.1 for delivery tests (see ../shared/specs/README.md).

``run_sshd(workdir)`` generates an ed25519 host key and user key, writes authorized_keys, a
known_hosts line for the host key and an sshd_config (public-key login only, internal-sftp), starts
``/usr/sbin/sshd`` on a free loopback port, and proves a login works before yielding an
``SshServer``. It is stopped by the PID in its PidFile. ``skip_reason()`` says why a machine cannot
run it (no sshd or ssh-keygen, not root), for ``tests.conftest.require`` (skips; fails in CI).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"
START_TIMEOUT = 10.0


@dataclass(frozen=True)
class SshServer:
    """A running sshd: where it listens, who may log in with which key, what to trust."""

    host: str
    port: int
    user: str
    user_key: Path  # private key in authorized_keys, no passphrase
    known_hosts: Path  # holds "[127.0.0.1]:PORT ssh-ed25519 ..." for this server only
    upload_dir: Path  # an empty folder the user may write to
    log: Path  # sshd's own log (-E), worth reading when a test fails
    authorized_keys: Path

    def authorize(self, key: Path) -> None:
        """Let another key (``key`` + ``.pub``) log in as ``user`` from now on."""
        with self.authorized_keys.open("a") as authorized:
            authorized.write(key.with_suffix(".pub").read_text())

    def url(self, remote_path: str | Path) -> str:
        """``sftp://user@127.0.0.1:PORT/remote_path`` (the path must be absolute)."""
        return f"sftp://{self.user}@{self.host}:{self.port}{remote_path}"


def skip_reason() -> str | None:
    """Why this machine cannot run a test sshd, or None when it can."""
    if not Path(SSHD).is_file():
        return f"{SSHD} not found (apt-get install -y openssh-server)"
    if shutil.which("ssh-keygen") is None:
        return "ssh-keygen not found (apt-get install -y openssh-client)"
    if os.geteuid() != 0:
        return "a test sshd needs root here (privilege separation, logins as the current user)"
    return None


def keygen(path: Path, passphrase: str = "", comment: str = "multichan-test") -> Path:
    """Create an ed25519 key pair at ``path`` / ``path.pub``; return ``path``."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def run_sshd(workdir: Path) -> Iterator[SshServer]:
    """Start a throwaway sshd with everything under ``workdir``; stop it on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    host_key = keygen(workdir / "host_ed25519", comment="multichan-test-host")
    user_key = keygen(workdir / "user_ed25519")
    authorized = workdir / "authorized_keys"
    authorized.write_text(user_key.with_suffix(".pub").read_text())
    upload_dir = workdir / "upload"
    upload_dir.mkdir(exist_ok=True)
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege separation directory

    pidfile, log = workdir / "sshd.pid", workdir / "sshd.log"
    port = _start(workdir, host_key, authorized, pidfile, log)
    try:
        known_hosts = workdir / "known_hosts"
        kind, blob = host_key.with_suffix(".pub").read_text().split()[:2]
        known_hosts.write_text(f"[127.0.0.1]:{port} {kind} {blob}\n")
        server = SshServer(
            "127.0.0.1", port, getpass.getuser(), user_key, known_hosts, upload_dir, log, authorized
        )
        _check_login(server)
        yield server
    finally:
        _stop(pidfile)


def _start(workdir: Path, host_key: Path, authorized: Path, pidfile: Path, log: Path) -> int:
    """Start sshd on a free port (again on another port if that one was taken meanwhile)."""
    for _ in range(3):
        port = free_port()
        config = workdir / "sshd_config"
        config.write_text(
            f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {host_key}\n"
            f"AuthorizedKeysFile {authorized}\nPidFile {pidfile}\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\n"
            "StrictModes no\nUsePAM no\nUseDNS no\nPrintMotd no\nLogLevel VERBOSE\n"
            "Subsystem sftp internal-sftp\n"
        )
        log.write_text("")
        done = subprocess.run([SSHD, "-f", str(config), "-E", str(log)], capture_output=True)
        if done.returncode != 0:  # sshd forks into the background once its config is valid
            raise RuntimeError(f"sshd did not start: {done.stderr.decode()}{log.read_text()}")
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if _accepts(port) and pidfile.exists():
                return port
            if "Address already in use" in log.read_text():
                break
            time.sleep(0.05)
        else:
            _stop(pidfile)
            raise RuntimeError(f"sshd did not listen on port {port}:\n{log.read_text()}")
        _stop(pidfile)
    raise RuntimeError(f"sshd found no free port:\n{log.read_text()}")


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _check_login(server: SshServer) -> None:
    """Fail early, with sshd's log, when the account cannot log in (locked root, bad config)."""
    import paramiko

    client = paramiko.SSHClient()
    client.load_host_keys(str(server.known_hosts))
    try:
        client.connect(
            server.host,
            port=server.port,
            username=server.user,
            key_filename=str(server.user_key),
            allow_agent=False,
            look_for_keys=False,
            timeout=START_TIMEOUT,
        )
        client.open_sftp().close()
    except Exception as exc:
        raise RuntimeError(f"test sshd refused a login ({exc}):\n{server.log.read_text()}") from exc
    finally:
        client.close()


def _stop(pidfile: Path) -> None:
    """Stop sshd by the PID in its PidFile and wait until it is gone."""
    try:
        pid = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.02)
    pidfile.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie waiting for init to reap it counts as stopped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
