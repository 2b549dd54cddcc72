"""The workspace: a folder with catalog.db, channels.yaml, templates/ and feeds/.

Finds it, opens its database, and holds the lock that keeps two runs apart. Creates it, and
restores its config, without losing a seller's data: a file it replaces is copied aside first,
and the catalog is replaced only when asked, after a copy is saved.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from multichan.errors import Locked, UsageError, WorkspaceError

CATALOG = "catalog.db"
CONFIG = "channels.yaml"
TEMPLATES = "templates"
FEEDS = "feeds"
LOCK = ".multichan.lock"
STATE = ".multichan"  # what multichan keeps for itself (kept copies of exported feeds)
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

    @property
    def state_dir(self) -> Path:
        """multichan's own files (``.multichan/``): never a seller's, never uploaded."""
        return self.root / STATE

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
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # a read-only workspace, a full disk, no permission
            raise WorkspaceError(
                f"cannot take the workspace lock {path}: {exc.strerror}",
                hint="multichan writes its lock, catalog and feeds here: make the folder "
                "writable, or run where it is",
            ) from None
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


SHOP_KEYS = ("name", "url", "link_template")
LINK_FIELDS = ("handle", "sku", "item_group_id")


def shop_identity(
    name: str | None = None, url: str | None = None, link_template: str | None = None
) -> dict[str, str]:
    """The shop's name and addresses given to ``init``, checked; ``link_template`` defaults to
    ``URL/products/{handle}`` (Shopify's product pages). Keys not given are left out."""
    shop: dict[str, str] = {}
    if name is not None:
        if not name.strip() or not name.isprintable():
            raise UsageError(f"--name {name!r}: give your shop's name as buyers see it")
        shop["name"] = name.strip()
    if url is not None:
        base = url.strip().rstrip("/")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc or not base.isprintable():
            host = parts.netloc or parts.path or "www.my-shop.com"
            raise UsageError(
                f"--url {url!r} is not a web address", hint=f"write it in full: https://{host}"
            )
        if parts.query or parts.fragment:
            raise UsageError(f"--url {url!r}: give the shop's address without ?query or #part")
        shop["url"] = base
        if link_template is None:
            link_template = f"{base}/products/{{handle}}"
    if link_template is not None:
        fields = ", ".join(f"{{{f}}}" for f in LINK_FIELDS)
        try:
            link_template.format(**{f: f for f in LINK_FIELDS})
        except (KeyError, IndexError, ValueError):
            raise UsageError(
                f"--link-template {link_template!r}: only {fields} can be filled in"
            ) from None
        if not any(f"{{{f}}}" in link_template for f in LINK_FIELDS):
            raise UsageError(
                f"--link-template {link_template!r} gives every product the same page",
                hint=f"put one of {fields} in it, such as https://www.my-shop.com/products/{{handle}}",
            )
        shop["link_template"] = link_template
    return shop


@dataclass
class Created:
    """What ``create`` did, for the CLI to report: paths are relative to the workspace."""

    workspace: Workspace
    products: int = 0
    written: list[str] = field(default_factory=list)
    backed_up: list[tuple[str, str]] = field(default_factory=list)  # (file, its copy)
    kept: list[str] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)  # shop keys the seller must still set

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.workspace.root),
            "products": self.products,
            "written": self.written,
            "backed_up": [{"file": f, "copy": c} for f, c in self.backed_up],
            "kept": self.kept,
            "placeholders": [f"shop.{k}" for k in self.placeholders],
        }


def count_products(db_path: Path) -> int | None:
    """Products in the catalog at ``db_path``, read without changing it; None when there is no
    readable catalog."""
    if not db_path.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True)) as con:
            return int(con.execute("SELECT count(*) FROM products").fetchone()[0])
    except sqlite3.Error:
        return None


def create(
    root: Path,
    *,
    demo: bool = False,
    force: bool = False,
    reset_catalog: bool = False,
    shop: dict[str, str] | None = None,
) -> Created:
    """Make a workspace: the shipped channels.yaml with the shop's identity, editable
    templates, feeds/ and the catalog (with the demo shop when ``demo``).

    An existing workspace is changed only as asked, and nothing is lost: ``force`` rewrites
    channels.yaml and the shipped templates, keeping a dated copy of each file whose content
    it replaces, and never touches catalog.db; ``reset_catalog`` replaces catalog.db after
    saving a copy of it. ``shop`` (see ``shop_identity``) fills shop.name/url/link_template;
    a key it lacks keeps the template's placeholder, which the config loader refuses, except
    that ``demo`` writes the demo shop's identity.
    """
    ws = Workspace(root.resolve())
    had_config, had_db = ws.config_path.exists(), ws.db_path.exists()
    if (had_config or had_db) and not (force or reset_catalog):
        raise WorkspaceError(
            f"{ws.root} already holds a workspace",
            hint="use --force to rewrite channels.yaml and templates/ (a copy of each changed "
            "file is kept; catalog.db is not touched), --reset-catalog to replace catalog.db "
            "(a copy is kept)",
        )
    if shop and had_config and not force:
        raise UsageError(
            f"--name, --url and --link-template write {CONFIG}, and {ws.root} has one",
            hint="add --force to rewrite it (a copy of the current one is kept)",
        )
    identity = {**(_demo_identity() if demo else {}), **(shop or {})}
    done = Created(ws)
    try:
        ws.root.mkdir(parents=True, exist_ok=True)
        with ws.lock():  # never change a workspace under a running export or push
            if had_db and not reset_catalog and demo and count_products(ws.db_path):
                raise UsageError(
                    f"--demo fills a new catalog, and {ws.db_path} already holds products",
                    hint="add --reset-catalog to replace it (a copy is kept), "
                    "or create the demo in another folder",
                )
            if had_db and reset_catalog:
                done.backed_up.append((CATALOG, _backup_catalog(ws.db_path).name))
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{ws.db_path}{suffix}").unlink(missing_ok=True)
            if force or not had_config:
                text = _with_shop(shipped(CONFIG).read_text(encoding="utf-8"), identity)
                _write(ws, ws.config_path, text.encode("utf-8"), done)
                for source in sorted(shipped(TEMPLATES).rglob("*")):
                    if source.is_file():
                        target = ws.templates_dir / source.relative_to(shipped(TEMPLATES))
                        _write(ws, target, source.read_bytes(), done)
                done.placeholders = [k for k in SHOP_KEYS if k not in identity]
            else:
                done.kept.append(CONFIG)
            ws.feeds_dir.mkdir(exist_ok=True)
            done.products = _fill_catalog(ws, demo=demo)
            (done.written if not had_db or reset_catalog else done.kept).append(CATALOG)
    except OSError as exc:
        raise WorkspaceError(f"cannot create workspace in {ws.root}: {exc}") from None
    return done


def _demo_identity() -> dict[str, str]:
    from multichan.catalog.demo import IDENTITY

    return dict(IDENTITY)


def _fill_catalog(ws: Workspace, *, demo: bool) -> int:
    """Open (or create) the catalog, adding the demo shop when ``demo``; its product count."""
    from multichan.catalog.schema import open_catalog

    db = open_catalog(ws.db_path)
    try:
        if demo:
            from multichan.catalog import demo as demo_shop
            from multichan.catalog.store import ensure_location, upsert

            with db.conn:
                ensure_location(db, "store", "Shop floor, 12 Harbour St")
                ensure_location(db, "warehouse", "Warehouse")
            upsert(db, demo_shop.products())
        return int(db.execute("SELECT count(*) FROM products").fetchone()[0])
    finally:
        db.close()


def _with_shop(text: str, identity: dict[str, str]) -> str:
    """``text`` (the shipped channels.yaml) with shop.name/url/link_template set from
    ``identity``; only those values change, comments and layout stay as shipped."""
    shop = _yaml_child(yaml.compose(text), "shop")
    spans = []
    for key, value in identity.items():
        node = _yaml_child(shop, key)
        if node is None:
            raise WorkspaceError(f"the shipped {CONFIG} has no shop.{key} to fill in")
        spans.append((node.start_mark.index, node.end_mark.index, value))
    for start, end, value in sorted(spans, reverse=True):
        # a JSON string is a YAML double-quoted scalar: quotes, backslashes and # stay text
        text = text[:start] + json.dumps(value, ensure_ascii=False) + text[end:]
    return text


def _yaml_child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            if key_node.value == key:
                return value
    return None


def _backup_path(path: Path) -> Path:
    """``NAME.bak-YYYYmmdd-HHMMSS`` next to ``path``, numbered when that name is taken."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    copy = path.with_name(f"{path.name}.bak-{stamp}")
    n = 2
    while copy.exists():
        copy = path.with_name(f"{path.name}.bak-{stamp}-{n}")
        n += 1
    return copy


def _write(ws: Workspace, path: Path, content: bytes, done: Created) -> None:
    """Write ``path`` atomically, first copying aside a file whose content would change."""
    name = path.relative_to(ws.root).as_posix()
    if path.exists() and path.read_bytes() != content:
        copy = _backup_path(path)
        shutil.copy2(path, copy)
        done.backed_up.append((name, copy.relative_to(ws.root).as_posix()))
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(content)
    os.replace(temporary, path)
    done.written.append(name)


def _backup_catalog(db_path: Path) -> Path:
    """A consistent copy of the catalog (WAL included) next to it, before it is replaced."""
    copy = _backup_path(db_path)
    try:
        with (
            contextlib.closing(sqlite3.connect(db_path)) as source,
            contextlib.closing(sqlite3.connect(copy)) as target,
        ):
            source.backup(target)
    except sqlite3.DatabaseError:  # not a database any more: keep its bytes as they are
        copy.unlink(missing_ok=True)
        for suffix in ("", "-wal"):
            if Path(f"{db_path}{suffix}").exists():
                shutil.copy2(f"{db_path}{suffix}", f"{copy}{suffix}")
    return copy


def resolve(path: str | os.PathLike[str] | None) -> Workspace:
    """The workspace named by --workspace, $MULTICHAN_WORKSPACE, or the current folder."""
    chosen = path or os.environ.get("MULTICHAN_WORKSPACE") or "."
    return Workspace(Path(chosen).expanduser().resolve())
