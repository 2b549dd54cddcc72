"""Deliver a written feed file to a channel over SFTP.

Owns one operation: put a local file at ``upload.url`` so that the remote side never sees a
half-written feed. The file goes to a hidden temporary name in the target folder and is then
renamed into place (``posix-rename@openssh.com``, atomic on OpenSSH). The server's host key is
checked against known_hosts unless the channel opts out explicitly; folders are never created.

Errors split the usual way: a bad setting is a ConfigError, a refused host key, failed login or
missing folder is a ChannelFailed at once, and connection trouble (refused, reset, timeout, EOF)
is retried with exponential backoff and jitter, then becomes RetriesExhausted. Messages name the
URL without any secret; passwords and passphrases are scrubbed from every message as well.
``paramiko`` is imported only when something is delivered, so CLI start-up stays fast.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import posixpath
import random
import re
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from multichan.errors import ChannelFailed, ConfigError, InputError, RetriesExhausted

CONNECT_TIMEOUT = 10.0  # seconds: TCP connect, SSH banner, authentication, opening the channel
IO_TIMEOUT = 60.0  # seconds without progress on the SFTP channel before the attempt is abandoned
BACKOFF_BASE = 1.0  # first wait; each retry doubles it, plus up to 50% jitter
BACKOFF_CAP = 60.0
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
_NETWORK_ERRNOS = {
    errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.ETIMEDOUT, errno.EPIPE,
    errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN, errno.EHOSTDOWN,
}  # fmt: skip


@dataclass(frozen=True)
class Target:
    """Where a file goes: parsed from ``upload.url``, with the local name filled in."""

    user: str
    host: str
    port: int
    path: str  # remote path of the final file; relative paths start at the login folder
    url: str  # the URL as configured (it can hold no password)

    @property
    def host_key_name(self) -> str:
        """The name OpenSSH and paramiko use for this server in known_hosts."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"


class _UnknownHostKey(Exception):
    def __init__(self, key: Any) -> None:
        super().__init__("unknown host key")
        self.key = key


class _RejectUnknown:
    """paramiko missing-host-key policy: refuse, keeping the offered key for the message."""

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        raise _UnknownHostKey(key)


class _AcceptAny:
    """paramiko missing-host-key policy for ``insecure_skip_host_key_check: true``."""

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        return None


def parse_target(url: str, local_name: str) -> Target:
    """Parse ``sftp://user@host[:port]/path``; a path ending in "/" gets ``local_name``."""
    parts = urlsplit(url or "")
    if parts.password is not None or re.search(r"//[^/@]*:[^/@]*@", url or ""):
        raise ConfigError(
            "upload.url must not contain a password: put it in the environment and write "
            "upload.password: ${SFTP_PASSWORD}"
        )
    if parts.scheme != "sftp" or not parts.hostname:
        raise ConfigError(f"upload.url must look like sftp://user@host/path/feed.xml, not {url!r}")
    if not parts.username:
        raise ConfigError(f"upload.url must name the user: sftp://USER@{parts.hostname}/...")
    try:
        port = parts.port or 22
    except ValueError:
        raise ConfigError(f"upload.url has an invalid port: {url!r}") from None
    path = unquote(parts.path)
    if not path:
        raise ConfigError(f"upload.url must name the remote file or folder: {url!r}")
    if path.startswith("/~/"):  # the usual spelling for "relative to the login folder"
        path = path[3:] or "./"
    if path.endswith("/"):
        path += local_name
    return Target(unquote(parts.username), parts.hostname, port, path, url)


def deliver(
    local: Path, upload: dict[str, Any], *, sleep: Callable[[float], Any] = time.sleep
) -> str:
    """Upload ``local`` to ``upload["url"]`` atomically; return the final remote path."""
    target = parse_target(str(upload.get("url") or ""), local.name)
    retries = upload.get("retries", 3)
    if retries is None:
        retries = 3
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise ConfigError(f"upload.retries must be a whole number >= 0, not {retries!r}")
    if not local.is_file():
        raise InputError(f"cannot upload {local}: no such file")
    password = upload["password"].value() if upload.get("password") else None
    passphrase = upload["key_passphrase"].value() if upload.get("key_passphrase") else None
    hidden = [s for s in (password, passphrase) if s]

    import paramiko

    logging.getLogger("paramiko").addHandler(logging.NullHandler())  # the engine never prints
    pkey = _load_key(paramiko, upload.get("key_file"), passphrase)
    known_hosts = Path(upload.get("known_hosts") or DEFAULT_KNOWN_HOSTS).expanduser()
    insecure = bool(upload.get("insecure_skip_host_key_check"))
    if not insecure and known_hosts.exists():
        try:
            paramiko.HostKeys(str(known_hosts))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"upload.known_hosts {known_hosts} cannot be read: {exc}") from None
    where = f"sftp upload to {target.url}"

    last = ""
    for attempt in range(retries + 1):
        if attempt:
            sleep(min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)) * random.uniform(1.0, 1.5))
        client = paramiko.SSHClient()
        try:
            if insecure:
                client.set_missing_host_key_policy(_AcceptAny())
            else:
                if known_hosts.is_file():
                    client.load_host_keys(str(known_hosts))
                client.set_missing_host_key_policy(_RejectUnknown())
            client.connect(
                target.host, port=target.port, username=target.user, password=password,
                pkey=pkey, allow_agent=pkey is None and password is None,
                look_for_keys=pkey is None and password is None, timeout=CONNECT_TIMEOUT,
                banner_timeout=CONNECT_TIMEOUT, auth_timeout=CONNECT_TIMEOUT,
                channel_timeout=CONNECT_TIMEOUT,
            )  # fmt: skip
            return _put(client, local, target)
        except _UnknownHostKey as exc:
            raise ChannelFailed(_unknown_key_message(target, exc.key, known_hosts)) from exc
        except paramiko.BadHostKeyException as exc:
            raise ChannelFailed(_changed_key_message(target, exc.key, known_hosts)) from exc
        except paramiko.AuthenticationException as exc:
            how = f"key {upload.get('key_file')}" if pkey else "password" if password else ""
            detail = _scrub(str(exc) or type(exc).__name__, hidden)
            raise ChannelFailed(
                f"{where}: login as {target.user!r} failed{' with ' + how if how else ''}: {detail}"
            ) from None
        except (OSError, EOFError, paramiko.SSHException) as exc:
            detail = _scrub(_describe(exc), hidden)
            if not _is_transient(exc):
                raise ChannelFailed(f"{where} failed: {detail}") from exc
            last = detail
        finally:
            client.close()
    raise RetriesExhausted(f"{where}: still failing after {retries + 1} attempts: {last}")


def _load_key(paramiko: Any, key_file: Any, passphrase: str | None) -> Any:
    """Load the private key named by ``upload.key_file`` (None when there is none)."""
    if not key_file:
        return None
    path = Path(str(key_file)).expanduser()
    try:
        return paramiko.PKey.from_path(path, passphrase.encode() if passphrase else None)
    except FileNotFoundError:
        raise ConfigError(f"upload.key_file {path} does not exist") from None
    except (paramiko.PasswordRequiredException, TypeError) as exc:
        if passphrase and isinstance(exc, TypeError):
            raise
        raise ConfigError(
            f"upload.key_file {path} is encrypted: set upload.key_passphrase: ${{ENV_VAR}}"
        ) from None
    except (OSError, ValueError, paramiko.SSHException) as exc:
        reason = "wrong key_passphrase?" if passphrase else type(exc).__name__
        raise ConfigError(f"upload.key_file {path} cannot be read ({reason})") from None


def _put(client: Any, local: Path, target: Target) -> str:
    """Upload to a hidden temporary name next to the target, then rename it into place."""
    folder, name = posixpath.split(target.path)
    partial = f".{name}.partial-"
    temp = posixpath.join(folder, partial + secrets.token_hex(4))
    sftp = client.open_sftp()
    sftp.get_channel().settimeout(IO_TIMEOUT)
    _remove_stale(sftp, folder, partial)
    try:
        try:
            sftp.put(str(local), temp, confirm=True)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                raise ChannelFailed(
                    f"sftp upload to {target.url}: remote folder {folder or '.'!r} does not exist "
                    f"on {target.host} (multichan creates no folders; create it first)"
                ) from None
            if exc.errno == errno.EACCES:
                raise ChannelFailed(
                    f"sftp upload to {target.url}: permission denied writing in remote folder "
                    f"{folder or '.'!r} as {target.user!r}"
                ) from None
            raise
        _rename(sftp, temp, target.path)
        temp = ""
    finally:
        if temp:
            _quietly(sftp.remove, temp)
        sftp.close()
    return target.path


def _rename(sftp: Any, temp: str, final: str) -> None:
    """Atomic replace where the server supports it; plain SFTP v3 rename where it does not."""
    try:
        sftp.posix_rename(temp, final)
        return
    except OSError as exc:
        if exc.errno is not None:  # ENOENT/EACCES: the extension exists, the rename failed
            raise
    try:  # posix-rename@openssh.com is unsupported: SFTP v3 rename refuses to overwrite
        sftp.rename(temp, final)
    except OSError:
        sftp.remove(final)
        sftp.rename(temp, final)


def _remove_stale(sftp: Any, folder: str, prefix: str) -> None:
    """Remove temporary files left by an earlier interrupted upload of the same file."""
    try:
        names = sftp.listdir(folder or ".")
    except OSError:
        return  # a missing folder is reported by the upload itself; a write-only one is fine
    for stale in names:
        if stale.startswith(prefix) and len(stale) == len(prefix) + 8:
            _quietly(sftp.remove, posixpath.join(folder, stale))


def _quietly(action: Callable[[str], Any], path: str) -> None:
    """Best-effort removal: the connection may already be gone."""
    import paramiko

    with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
        action(path)


def _is_transient(exc: BaseException) -> bool:
    """True for connection trouble worth another attempt (refused, reset, timeout, EOF)."""
    if isinstance(exc, (EOFError, TimeoutError, ConnectionError)):
        return True
    if isinstance(exc, socket.gaierror):
        return exc.errno == socket.EAI_AGAIN
    if isinstance(exc, OSError):
        # paramiko's NoValidConnectionsError (every address refused) carries errno None
        return exc.errno in _NETWORK_ERRNOS or type(exc).__name__ == "NoValidConnectionsError"
    return True  # paramiko.SSHException: protocol banner, dropped connection, channel failure


def _describe(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name ({exc.strerror})"
    if isinstance(exc, TimeoutError):
        return f"timed out ({exc or 'no answer'})"
    return str(exc) or type(exc).__name__


def _scrub(text: str, hidden: list[str]) -> str:
    for value in hidden:
        text = text.replace(value, "***")
    return text


def _keyscan(target: Target, known_hosts: Path) -> str:
    port = f"-p {target.port} " if target.port != 22 else ""
    return f"ssh-keyscan {port}{target.host} >> {known_hosts}"


def _unknown_key_message(target: Target, key: Any, known_hosts: Path) -> str:
    missing = "" if known_hosts.is_file() else " (that file does not exist)"
    return (
        f"sftp upload to {target.url}: the host key of {target.host_key_name} is not in "
        f"{known_hosts}{missing}; the server offered {key.get_name()} {key.fingerprint}. "
        f"Check that fingerprint with the server's owner, then add it with: "
        f"{_keyscan(target, known_hosts)}"
    )


def _changed_key_message(target: Target, key: Any, known_hosts: Path) -> str:
    return (
        f"sftp upload to {target.url}: the host key of {target.host_key_name} does NOT match "
        f"the one in {known_hosts} (the server now offers {key.get_name()} {key.fingerprint}). "
        f"This may be an attack; if the server was really re-keyed, remove the old entry with "
        f"ssh-keygen -R '{target.host_key_name}' -f {known_hosts} and add the new one with: "
        f"{_keyscan(target, known_hosts)}"
    )
