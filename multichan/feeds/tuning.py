"""Process-level knobs the feed export turns for speed: glibc's malloc, the garbage
collector's cadence and the size of the workers' result pipes. Each is a no-op where the
system does not offer it.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt() parameters
PIPE_SIZE = 1 << 20  # bytes a worker's result pipe holds
GC_PILE = 20_000  # container objects alive since the last collection: then collect


def collect_if_piled_up() -> None:
    """Collect garbage once objects have piled up since the last collection. A chunk's
    offers and text are freed by reference counting as soon as it is done (they hold no
    cycles), so this rarely runs; a template that makes cycles still has them collected."""
    if gc.get_count()[0] > GC_PILE:
        gc.collect()


@contextlib.contextmanager
def collect_per_chunk() -> Iterator[None]:
    """Collect garbage between chunks (``collect_if_piled_up``) instead of every 700
    allocations: a chunk allocates hundreds of thousands of short-lived, acyclic objects and
    the automatic collections cost a fifth of the time. What was there before (imports, the
    template) is frozen, so these collections only look at the export's own objects."""
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def keep_freed_memory() -> None:
    """Ask glibc to keep freed memory instead of handing it back to the kernel at once: every
    chunk allocates a few MB of large buffers (its text and its bytes) that would otherwise be
    returned and faulted back in for the next chunk, about 7% of the export's CPU time. What is
    kept is bounded (below 128 MB free at the top of the heap) and goes when the process ends."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        mallopt = ctypes.CDLL(None).mallopt
        mallopt(M_MMAP_THRESHOLD, 32 << 20)
        mallopt(M_TRIM_THRESHOLD, 128 << 20)


def widen(conn: Connection) -> None:
    """Let the pipe hold a whole range's text (Linux: up to pipe-max-size, 1 MB by default),
    so a worker hands it over in one write instead of a dozen 64 KB turns with the parent."""
    with contextlib.suppress(OSError, AttributeError, ImportError):
        import fcntl

        fcntl.fcntl(conn.fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)
