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
            pending: list[str] = []
            pending_len = 0
            synced = 0
            syncing: threading.Thread | None = None

            def put(data: bytes) -> None:
                nonlocal size, synced, syncing
                fh.write(data)
                digest.update(data)
                size += len(data)
                if size - synced >= SYNC_EVERY and not (syncing and syncing.is_alive()):
                    synced = size
                    syncing = threading.Thread(target=_flush, args=(fh.fileno(),), daemon=True)
                    syncing.start()

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
            if syncing is not None:
                syncing.join()
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        discard(temp)
        raise
    return Written(temp, size, digest.hexdigest())


def _flush(fd: int) -> None:
    """Write what the kernel holds of the file to disk; the final fsync reports any error."""
    with contextlib.suppress(OSError):
        os.fdatasync(fd)


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
