"""Atomic feed files: write to a temp file in the same folder, fsync, then rename into place.

Readers (a channel fetching the feed, an upload) see the old file or the new one, never half.
A large feed is flushed to disk in the background while it is written, so the final fsync
has little left to wait for.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SYNC_EVERY = 64 << 20  # bytes written between background flushes to disk


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
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    temp = Path(name)
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


def commit(written: Written, target: Path) -> None:
    """Rename the temp file over ``target`` (atomic on POSIX) and make the rename durable."""
    os.chmod(written.temp, 0o644)
    os.replace(written.temp, target)
    with contextlib.suppress(OSError):
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def discard(temp: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
