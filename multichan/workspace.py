"""The workspace: a folder with catalog.db, channels.yaml, templates/ and feeds/.

Finds it, opens its database, and holds the lock that keeps two runs apart.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from multichan.errors import Locked, WorkspaceError

CATALOG = "catalog.db"
CONFIG = "channels.yaml"
TEMPLATES = "templates"
FEEDS = "feeds"
LOCK = ".multichan.lock"
DEFAULT_LOCK_TIMEOUT = 10.0


def shipped(name: str) -> Path:
    """A file or folder shipped with multichan (``templates``, ``channels.yaml``): inside the
    wheel, or at the repository's top level in a source checkout."""
    packaged = Path(__file__).parent / name
    if packaged.exists():
        return packaged
    return Path(__file__).resolve().parent.parent / name


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def db_path(self) -> Path:
        return self.root / CATALOG

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG

    @property
    def templates_dir(self) -> Path:
        return self.root / TEMPLATES

    @property
    def feeds_dir(self) -> Path:
        return self.root / FEEDS

    def exists(self) -> bool:
        return self.db_path.exists()

    def require(self) -> Workspace:
        """Raise a clear error when this folder is not a workspace."""
        if not self.db_path.exists():
            raise WorkspaceError(
                f"{self.root} is not a multichan workspace (no {CATALOG})",
                hint="create one with 'multichan init DIR' or pass --workspace DIR",
            )
        return self

    def db(self):  # -> sqlite_utils.Database
        """Open the catalog, migrating its schema forward if it is older than this code."""
        from multichan.catalog.schema import open_catalog

        return open_catalog(self.require().db_path)

    def product_count(self) -> int:
        db = self.db()
        try:
            return int(db.execute("SELECT count(*) FROM products").fetchone()[0])
        finally:
            db.close()

    @contextlib.contextmanager
    def lock(self, timeout: float | None = None) -> Iterator[None]:
        """Hold the workspace lock; wait up to ``timeout`` seconds, then raise Locked (exit 7)."""
        if timeout is None:
            timeout = float(os.environ.get("MULTICHAN_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT))
        path = self.root / LOCK
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + max(timeout, 0.0)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise Locked(
                            f"another multichan run holds the lock on {self.root} "
                            f"(waited {timeout:g}s)",
                            hint="set MULTICHAN_LOCK_TIMEOUT to wait longer",
                        ) from None
                    time.sleep(0.05)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            yield
        finally:
            os.close(fd)  # closing releases the flock


def create(root: Path, *, demo: bool = False, force: bool = False) -> Workspace:
    """Make a workspace: schema, the example channels.yaml, editable templates, feeds/.

    Refuses to touch an existing workspace unless ``force``; with ``force`` the catalog is
    started afresh and config and templates are replaced.
    """
    ws = Workspace(root.resolve())
    if ws.db_path.exists() or ws.config_path.exists():
        if not force:
            raise WorkspaceError(
                f"{ws.root} already holds a workspace", hint="use --force to replace it"
            )
        with ws.lock():  # never pull the catalog from under a running export or push
            for suffix in ("", "-wal", "-shm"):
                Path(f"{ws.db_path}{suffix}").unlink(missing_ok=True)
    try:
        ws.root.mkdir(parents=True, exist_ok=True)
        ws.feeds_dir.mkdir(exist_ok=True)
        shutil.copyfile(shipped(CONFIG), ws.config_path)
        shutil.copytree(shipped(TEMPLATES), ws.templates_dir, dirs_exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(f"cannot create workspace in {ws.root}: {exc}") from None
    from multichan.catalog.schema import open_catalog

    db = open_catalog(ws.db_path)
    if demo:
        from multichan.catalog import demo as demo_shop
        from multichan.catalog.store import ensure_location, upsert

        with db.conn:
            ensure_location(db, "store", "Shop floor, 12 Harbour St")
            ensure_location(db, "warehouse", "Warehouse")
        upsert(db, demo_shop.products())
    db.close()
    return ws


def resolve(path: str | os.PathLike[str] | None) -> Workspace:
    """The workspace named by --workspace, $MULTICHAN_WORKSPACE, or the current folder."""
    chosen = path or os.environ.get("MULTICHAN_WORKSPACE") or "."
    return Workspace(Path(chosen).expanduser().resolve())
