"""`multichan plan`, `multichan push` and `multichan status`: API channels, diffed and pushed.

Results go to stdout (lines for people, ``--json`` for scripts); refusals and rejections are
also explained on stderr. The worst channel's outcome sets the exit code (ranked: 0 ok,
4 rejected or refused, 3 config, 5 channel failed, 6 retries exhausted).
"""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated, Any

import typer

from multichan.cli import output
from multichan.errors import OK, worst

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Push even if a safety limit would refuse.")
]
ChannelsArg = Annotated[
    list[str] | None,
    typer.Argument(help="API channels (default: every enabled API channel)."),
]


class Only(StrEnum):
    listings = "listings"
    prices = "prices"
    quantities = "quantities"
    shipments = "shipments"


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
    app.command("push")(push)
    app.command("status")(status)
    app.command("sync")(sync)


def _print_plan(p: Any) -> None:
    from rich.markup import escape

    fields: dict[str, list[str]] = {}
    for c in p.changes:
        if c.action != "create":
            fields.setdefault(c.sku, []).extend(str(f) for f in c.fields)
    for sku, action in sorted(p.action_of().items()):
        detail = ", ".join(fields.get(sku, []))
        output.out(escape(f"{p.channel} {action} {sku}" + (f": {detail}" if detail else "")))
    for s in p.skipped:
        output.err(escape(f"left out {p.channel} {s.sku}: {s.reason}"))
    t = p.totals()
    output.out(
        f"{p.channel}: {t['create']} to create, {t['update']} to update, "
        f"{t['delist']} to delist, {t['unchanged']} unchanged"
    )


def plan(channels: ChannelsArg = None, json_out: JsonOpt = False) -> None:
    """Show what a push would create, update and delist, per SKU and field. Sends nothing."""
    from multichan.sync.run import plan_all

    plans = plan_all(output.workspace(), channels or [])
    if json_out:
        output.print_json({"exit_code": OK, "channels": [p.as_dict() for p in plans]})
        return
    for p in plans:
        _print_plan(p)


def push(
    channels: ChannelsArg = None,
    only: Annotated[
        Only | None, typer.Option("--only", help="Send only this kind of change.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan and check the limits; send nothing.")
    ] = False,
    force: ForceOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Send what changed since the last successful push, in batches, within rate limits."""
    from multichan.sync.run import push_all

    results = push_all(
        output.workspace(),
        channels or [],
        only=only.value if only else None,
        dry_run=dry_run,
        force=force,
    )
    code = worst([r.exit_code for r in results])
    if json_out:
        output.print_json({"exit_code": code, "channels": [r.as_dict() for r in results]})
    else:
        print_push(results)
    if code != OK:
        sys.exit(code)


def print_push(results: list[Any]) -> None:
    """Each channel's push: rejections on stderr, one summary line on stdout."""
    from rich.markup import escape

    for r in results:
        for item in r.rejected:
            output.err(
                escape(f"rejected {r.channel} {item['sku']} ({item['kind']}): {item['message']}")
            )
        for item in r.deferred:
            output.err(escape(f"deferred {r.channel} {item['sku']}: {item['message']}"))
        for note in r.notes:
            output.err(escape(f"note {r.channel} {note}"))
        if r.status == "dry-run" and r.plan is not None:
            _print_plan(r.plan)
            output.out(f"{r.channel}: dry run, nothing sent")
            continue
        if r.status in ("refused", "failed", "exhausted"):
            output.err(f"[red]{r.channel}: {r.status}[/]: {escape(r.message or '')}")
        c = r.counts
        if r.shipments and r.shipments.get("due"):
            output.out(f"{r.channel}: {len(r.shipments['due'])} shipment(s) to send")
        elif r.shipments and (r.shipments["sent"] or r.shipments["rejected"]
                              or r.shipments["failed"]):  # fmt: skip
            output.out(
                f"{r.channel}: {r.shipments['sent']} shipment(s) sent, "
                f"{len(r.shipments['rejected']) + len(r.shipments['failed'])} not sent"
            )
        deferred = f", {c['deferred']} deferred" if c.get("deferred") else ""
        output.out(
            f"{r.channel}: {r.status}, {c['ok']} ok, {c['rejected']} rejected{deferred}, "
            f"{c['failed']} failed, {c['requests']} request(s)"
        )


def status(
    channel: Annotated[str | None, typer.Argument(help="Only this channel.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """What each API channel holds, its last push, and the SKUs it refused or deferred.

    SKUs per kind and status, the last push with its message when it failed, and the SKUs
    the channel refused or deferred, with the channel's words."""
    from rich.markup import escape

    from multichan.sync.run import status_all

    rows = status_all(output.workspace(), channel)
    if json_out:
        output.print_json({"exit_code": OK, "channels": rows})
        return
    if not rows:
        output.out("no pushes yet")
    for row in rows:
        last = row["last_run"]
        when = f"{last['ended_at'] or last['started_at']}, {last['status']}, exit " \
            f"{last['exit_code']}" if last else "never pushed"  # fmt: skip
        output.out(f"[bold]{escape(row['channel'])}[/]: last push {escape(when)}")
        if last and last["message"] and last["exit_code"]:
            output.out(f"  {escape(last['message'])}")
        for part in row["state"]:
            output.out(f"  {part['kind']}: {part['skus']} {part['status']}")
        for item in row["problems"]:
            output.out(escape(f"  {item['status']} {item['sku']} ({item['kind']}): "
                              f"{item['message'] or ''}"))  # fmt: skip
        for parcel in row["shipments"]:
            state = "not sent yet" if parcel["status"] == "pending" else parcel["status"]
            output.out(escape(f"  {state} shipment {parcel['shipment']} of order "
                              f"{parcel['order']}: {parcel['last_error'] or ''}"))  # fmt: skip
        more = row["problem_count"] - len(row["problems"])
        if more > 0:
            output.out(f"  ... and {more} more (multichan status {row['channel']} --json)")


def sync(
    channels: ChannelsArg = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Pull and plan; record, move and send nothing.")
    ] = False,
    force: ForceOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Pull every channel's orders, then push what changed to every API channel: one run under
    one lock, made for cron every few minutes."""
    from multichan.cli.alerts_cmd import print_alerts
    from multichan.cli.orders_cmd import print_pull
    from multichan.sync.run import sync_all

    result = sync_all(output.workspace(), channels or [], dry_run=dry_run, force=force)
    code = result.exit_code
    if json_out:
        output.print_json(result.as_dict())
    else:
        for r in result.pulls:
            print_pull(r)
        print_push(result.pushes)
        if result.alerts is not None:
            print_alerts(result.alerts)
    if code != OK:
        sys.exit(code)
