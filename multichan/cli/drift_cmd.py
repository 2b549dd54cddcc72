"""`multichan drift`: where the live channels no longer match what was pushed (and ``--fix``).

Results go to stdout (a table per channel and a summary line, or one ``--json`` document);
channel failures are also explained on stderr. Exit codes: 0 no drift, or all of it fixed
(listings unknown to multichan are reported, an alert only with ``--unknown-is-drift``); 4
drift found and not fixed (or the fix refused by a safety limit, or rejected); 5 a channel
could not be read (the others are still checked); after ``--fix``, the push's own codes.
"""

from __future__ import annotations

import sys
from itertools import islice
from typing import Annotated, Any

import typer

from multichan.cli import output
from multichan.errors import OK

PAGE = 1000  # findings a table: a channel whose every listing drifted prints page by page
COLUMNS = [
    ("sku", "SKU"), ("finding", "Finding"), ("field", "Field"), ("pushed", "Pushed"),
    ("remote", "On the channel"), ("offer", "Offer now"),
]  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("drift")(drift)


def drift(
    channels: Annotated[
        list[str] | None,
        typer.Argument(help="API channels (default: every enabled API channel)."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    fix: Annotated[
        bool,
        typer.Option("--fix", help="Push the changed and missing SKUs again (one push)."),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With --fix: show the plan, send nothing.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="With --fix: push even if a safety limit refuses.")
    ] = False,
    unknown_is_drift: Annotated[
        bool,
        typer.Option(
            "--unknown-is-drift",
            help="Listings unknown to multichan exit 4 too (no listings of your own there).",
        ),
    ] = False,
) -> None:
    """Read each channel's live listings and list, per SKU and field, what was changed on the
    channel, what is missing there, and what is there but unknown to multichan.

    A quantity lowered by a sale pulled from the channel is no drift. Exit 4 when drift is
    found (for cron), 5 when a channel could not be read. --fix sends the changed and missing
    SKUs again through the same push and safety limits; unknown listings are reported (exit
    0 when nothing else is found, 4 with --unknown-is-drift), never deleted."""
    from multichan.sync.drift import drift_all

    if (dry_run or force) and not fix:
        raise typer.BadParameter("--dry-run and --force go with --fix")
    from multichan.cli.sync_cmd import write_json

    with drift_all(
        output.workspace(), channels or [], fix=fix, dry_run=dry_run, force=force,
        unknown_is_drift=unknown_is_drift,
    ) as run:  # fmt: skip
        if json_out:
            write_json(run.as_dict())  # the findings written as they are read
        else:
            _print(run)
        code = run.exit_code
    if code != OK:
        sys.exit(code)


def _print(run: Any) -> None:
    from rich.markup import escape

    from multichan.cli.sync_cmd import print_push

    for c in run.channels:
        if c.error is not None:
            output.err(f"[red]{escape(c.channel)}: not checked[/]: "
                       f"{escape(output.without_channel(c.error, c.channel))}")  # fmt: skip
            output.out(escape(f"{c.channel}: not checked"))
            continue
        found = iter(c.drift)
        while page := [_row(f.as_dict()) for f in islice(found, PAGE)]:
            output.table(page, COLUMNS, title=f"{c.channel} ({c.type})")
        summary = ", ".join(f"{n} {k}" for k, n in c.drift.counts.items())
        output.out(escape(f"{c.channel}: {c.checked} listing(s) checked, {summary}"))
        if c.fix is not None:
            print_push([c.fix])
    output.out(
        f"drift: {run.findings} changed or missing, {run.unknown} unknown, on "
        f"{len(run.channels)} channel(s)"
    )


def _row(doc: dict[str, Any]) -> dict[str, Any]:
    shown = dict(doc)
    if doc["field"] == "quantity" and doc.get("expected") != doc["pushed"]:
        shown["pushed"] = f"{doc['pushed']} (now {doc['expected']} after sales)"
    if doc["finding"] == "missing" and doc["field"] is None:
        shown["remote"] = "not there"
    if doc["finding"] == "unknown":
        shown["pushed"] = "never"
    for key in ("pushed", "remote", "offer"):
        if isinstance(shown[key], bool):
            shown[key] = "yes" if shown[key] else "no"
    return shown
