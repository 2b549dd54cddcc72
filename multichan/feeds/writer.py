"""Atomic feed files: write to a temp file in the same folder, fsync, then rename into place.

Readers (a channel fetching the feed, an upload) see the old file or the new one, never half.
A large feed is flushed to disk in the background while it is written, so the final fsync
has little left to wait for. ``commit`` can tie the rename to a second step (recording the
export): when that step fails, the previous file is put back.

Temp files are named ``.<feed name>.<pid>.<random>.tmp``. One left behind by a run that was
killed is removed by ``sweep`` once its process is gone or it is older than STALE_AFTER.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

SYNC_EVERY = 64 << 20  # bytes written between background flushes to disk
STALE_AFTER = 3600.0  # seconds since a temp file was last written: its run is long gone


@dataclass
class Written:
    temp: Path
    bytes: int
    sha256: str


def write_temp(target: Path, chunks: Iterable[str | bytes], buffer_size: int = 1 << 16) -> Written:
    """Stream ``chunks`` (text, or UTF-8 bytes) into a temp file beside ``target``; the caller
    commits it with ``commit`` or drops it with ``discard``. On any error the temp file is
    removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = _temp_file(target)
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as fh:
            flusher = _Flusher(fh.fileno())
            pending: list[str] = []
            pending_len = 0

            def put(data: bytes) -> None:
                nonlocal size
                fh.write(data)
                digest.update(data)
                size += len(data)
                flusher.written(size)

            try:
                for chunk in chunks:
                    if type(chunk) is bytes:  # already encoded (a rendered range of items)
                        if pending:
                            put("".join(pending).encode("utf-8"))
                            pending, pending_len = [], 0
                        put(chunk)
                        continue
                    pending.append(chunk)  # type: ignore[arg-type]
                    pending_len += len(chunk)
                    if pending_len >= buffer_size:
                        put("".join(pending).encode("utf-8"))
                        pending, pending_len = [], 0
                put("".join(pending).encode("utf-8"))
                flusher.finish()
                fh.flush()
                os.fsync(fh.fileno())
            finally:
                flusher.join()  # the file is never closed under a flush in flight
    except BaseException:
        discard(temp)
        raise
    return Written(temp, size, digest.hexdigest())


class _Flusher:
    """Flushes a file to disk in a background thread every SYNC_EVERY bytes written. An error
    a flush meets is raised by ``finish``: the kernel reports a lost write once per open file,
    so the final fsync would not see it again."""

    def __init__(self, fd: int) -> None:
        self.fd, self.synced = fd, 0
        self.thread: threading.Thread | None = None
        self.error: OSError | None = None

    def written(self, size: int) -> None:
        if size - self.synced >= SYNC_EVERY and not (self.thread and self.thread.is_alive()):
            self.synced = size
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()

    def _run(self) -> None:
        try:
            getattr(os, "fdatasync", os.fsync)(self.fd)  # (macOS has no fdatasync)
        except OSError as exc:
            self.error = exc

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()

    def finish(self) -> None:
        self.join()
        if self.error is not None:
            raise self.error


def _temp_file(target: Path) -> tuple[int, Path]:
    """A new, empty temp file beside ``target``, named as ``sweep`` expects."""
    prefix = f".{target.name}.{os.getpid()}."
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=target.parent)
    return fd, Path(name)


def commit(written: Written, target: Path, then: Callable[[], object] | None = None) -> None:
    """Rename the temp file over ``target`` (atomic on POSIX) and make the rename durable.

    ``then`` runs right after the rename (the caller's COMMIT of the export's record); if it
    raises, the previous ``target`` is put back from a hard link taken before the rename (or
    the new file removed, when there was none) and the error re-raised. A folder that cannot
    hold hard links keeps the new file then. On any failure the temp file is removed."""
    had_previous = target.exists()
    backup = _link(target) if then is not None and had_previous else None
    try:
        os.chmod(written.temp, 0o644)
        os.replace(written.temp, target)
    except BaseException:
        discard(written.temp)
        if backup is not None:
            discard(backup)
        raise
    _sync_dir(target.parent)
    if then is None:
        return
    try:
        then()
    except BaseException:
        with contextlib.suppress(OSError):
            if backup is not None:
                os.replace(backup, target)
            elif not had_previous:
                target.unlink()
            _sync_dir(target.parent)
        raise
    finally:
        if backup is not None:
            discard(backup)


def _link(target: Path) -> Path | None:
    """A second name (a temp name, so ``sweep`` knows it) for the file at ``target``; None
    when the folder cannot hold hard links."""
    try:
        fd, link = _temp_file(target)
        os.close(fd)
        link.unlink()
        os.link(target, link)
    except OSError:
        return None
    return link


def _sync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def discard(temp: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()


@dataclass(frozen=True)
class Stale:
    """A temp file ``sweep`` removed: its path and size in bytes."""

    path: Path
    bytes: int


def sweep(target: Path, max_age: float = STALE_AFTER) -> list[Stale]:
    """Remove the temp files of ``target`` that no run is writing: named as ``write_temp``
    names them (older multichan left out the pid), beside ``target``, and either written by a
    process that is no longer alive or last written more than ``max_age`` seconds ago. Any
    other file, and a temp file of a live run, is left alone."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(?:(\d+)\.)?[a-z0-9_]{{8}}\.tmp")
    removed: list[Stale] = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:  # no folder yet: nothing to sweep
        return removed
    cutoff = time.time() - max_age
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if not match:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not entry.is_file(follow_symlinks=False):
                continue
            pid = int(match[1]) if match[1] else None
            if info.st_mtime >= cutoff and (pid is None or _alive(pid)):
                continue
            os.unlink(entry.path)
        except OSError:  # gone already, or not ours to remove
            continue
        removed.append(Stale(Path(entry.path), info.st_size))
    return removed


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (one of another user's counts)."""
    if pid <= 0 or pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True
