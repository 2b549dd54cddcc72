"""`multichan export` and `multichan exports`: write channel feeds, list past exports."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from multichan.cli import output
from multichan.errors import OK, worst

HASH_SHOWN = 12
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("exports")(exports)


def export(
    channels: Annotated[
        list[str] | None,
        typer.Argument(help="Channels to export (default: every enabled feed channel)."),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every enabled feed channel.")] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Validate and report; write nothing.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Write even if the shrink guard would refuse.")
    ] = False,
    allow_empty: Annotated[
        bool,
        typer.Option(
            "--allow-empty",
            help="Write a feed that holds no items, or a channel's first feed that leaves out "
            "most of its products.",
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Render, validate and atomically write channel feeds (then upload where configured)."""
    from rich.markup import escape

    from multichan.feeds.run import export_all, load_config
    from multichan.offers import CUT_PREFIXES

    ws = output.workspace()
    config = load_config(ws)  # once: the export and the stray-override check share it
    with output.progress_factory(enabled=not json_out) as progress:
        results = export_all(
            ws,
            channels or [],
            all_channels=all_,
            check=check,
            force=force,
            allow_empty=allow_empty,
            progress=progress,
            config=config,
        )
    code = worst(r.exit_code for r in results)
    if json_out:
        output.print_json({"exit_code": code, "channels": [r.as_dict() for r in results]})
    else:
        for r in results:
            for d in r.left_out:
                output.err(
                    "[yellow]left out[/] " + escape(f"{d.channel} {d.sku}: {d.field}: {d.reason}")
                )
            for d in r.notes:  # a run's own notes (no SKU) and text cut to the channel's
                if not d.sku:  # limits always, the offers' other notes with --check
                    output.err(escape(f"note {d.channel}: {d.reason}"))
                elif check or d.reason.startswith(CUT_PREFIXES):
                    output.err(escape(f"note {d.channel} {d.sku}: {d.reason}"))
            output.out(output.summary_line(r))
        _stray_overrides(ws, config)
    if code != OK:
        sys.exit(code)


def _stray_overrides(ws: Any, config: Any) -> None:
    """Say so when override rows name a channel channels.yaml does not have."""
    import contextlib

    from multichan.catalog.checks import stray_overrides

    with contextlib.closing(ws.db()) as db:
        note = stray_overrides(db, config)
    if note:
        output.warn(note)


def exports(
    channel: Annotated[str | None, typer.Argument(help="Only this channel.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many, newest first.")] = 20,
    json_out: JsonOpt = False,
) -> None:
    """List past exports: when, how many items, bytes, sha256, upload."""
    from multichan.feeds.export import past_exports

    rows = past_exports(output.workspace().db(), channel, limit)
    if json_out:
        output.print_json(rows)
        return
    for row in rows:  # as git shows commits: 12 characters tell feeds apart (--json: whole)
        row["sha256"] = (row["sha256"] or "")[:HASH_SHOWN] or None
    columns = [
        ("started_at", "When"),
        ("channel", "Channel"),
        ("items", "Items"),
        ("left_out", "Left out"),
        ("bytes", "Bytes"),
        ("duration_ms", "ms"),
        ("sha256", "sha256"),
    ]
    if any(row.get("uploaded_to") for row in rows):  # a column only where a feed was uploaded
        columns.append(("uploaded_to", "Upload"))
    output.table(
        rows,
        columns,
        title="Exports",
        right=("items", "left_out", "bytes", "duration_ms"),
    )
