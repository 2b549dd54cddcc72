"""`export` as a whole: pick channels, hold the workspace lock, export each, record, deliver.

Before any feed is rendered the catalog must be writable (each feed is recorded there as it
is put in place); one that is not stops the run with one error. One channel's template error
or failed upload is recorded in its result; the other channels still run. Exit codes are per
channel and the worst one wins.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from multichan import errors
from multichan.catalog.store import now
from multichan.config import Config, load
from multichan.errors import ConfigError, MultichanError
from multichan.feeds.export import ChannelResult, export_channel, record_upload, require_writable
from multichan.feeds.formats import FORMATS
from multichan.workspace import Workspace

Progress = Callable[[str, int], Callable[[int], None]]


def known_types() -> set[str]:
    """Feed formats plus the API channel types installed as entry points (names only)."""
    from multichan.channels.registry import available_types

    return set(FORMATS) | set(available_types())


def load_config(ws: Workspace) -> Config:
    return load(ws.require().config_path, known_types())


def select(config: Config, names: list[str], all_channels: bool) -> list[str]:
    feed_channels = [n for n, c in config.channels.items() if c.type in FORMATS]
    if names and not all_channels:
        for name in names:
            channel = config.channel(name)  # raises with a "did you mean"
            if channel.type not in FORMATS:
                raise ConfigError(f"channel {name} ({channel.type}) does not produce a feed")
        return names
    chosen = [n for n in feed_channels if config.channels[n].enabled]
    if not chosen:
        raise ConfigError(f"no enabled feed channel in {config.path.name}")
    return chosen


def export_all(
    ws: Workspace,
    names: list[str],
    *,
    all_channels: bool = False,
    check: bool = False,
    force: bool = False,
    allow_empty: bool = False,
    progress: Progress | None = None,
    lock_timeout: float | None = None,
    config: Config | None = None,
) -> list[ChannelResult]:
    """Export the ``names`` channels (or every enabled feed channel); ``allow_empty`` lets an
    empty or first-time near-empty feed through, ``force`` a shrinking one. ``config``: the
    workspace's, when the caller has read it already."""
    config = config or load_config(ws)
    chosen = select(config, names, all_channels)
    db = ws.db()
    try:
        return _export(ws, db, config, chosen, check, force, allow_empty, progress, lock_timeout)
    finally:
        db.close()


def _export(
    ws: Workspace,
    db: sqlite_utils.Database,
    config: Config,
    chosen: list[str],
    check: bool,
    force: bool,
    allow_empty: bool,
    progress: Progress | None,
    lock_timeout: float | None,
) -> list[ChannelResult]:
    results: list[ChannelResult] = []
    with ws.lock(lock_timeout):
        if not check:
            require_writable(ws, db)
        total = db.execute("SELECT count(*) FROM products").fetchone()[0]
        for name in chosen:
            channel = config.channels[name]
            started_at = now()
            tick = progress(name, total) if progress else None
            try:
                result = export_channel(
                    ws,
                    db,
                    config,
                    channel,
                    check=check,
                    force=force,
                    allow_empty=allow_empty,
                    progress=tick,
                    started_at=started_at,
                )
            except MultichanError as exc:  # a template error, a channel's bad config ...
                result = ChannelResult(
                    name, status="failed", message=exc.message, exit_code=exc.exit_code
                )
            except OSError as exc:  # an output folder that cannot be written
                result = ChannelResult(
                    name, status="failed", message=f"cannot write the feed: {exc}",
                    exit_code=errors.CONFIG,
                )  # fmt: skip
            if result.status == "written" and channel.upload.get("url"):
                _deliver(result, channel.upload)
                record_upload(db, result)
            results.append(result)
    return results


def _deliver(result: ChannelResult, upload: dict) -> None:
    from multichan.feeds.deliver import deliver

    assert result.path is not None
    try:
        result.uploaded_to = deliver(result.path, upload)
    except MultichanError as exc:
        result.message = f"upload failed: {exc.message} (the local feed is in place)"
        result.exit_code = errors.worst([result.exit_code, exc.exit_code])
