"""`multichan plan`, `multichan push` and `multichan status`: API channels, diffed and pushed.

Results go to stdout (lines for people, ``--json`` for scripts); refusals and rejections are
also explained on stderr. The worst channel's outcome sets the exit code (ranked: 0 ok,
4 rejected or refused, 3 config, 5 channel failed, 6 retries exhausted).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from enum import StrEnum
from functools import partial
from typing import Annotated, Any

import typer

from multichan.cli import output
from multichan.errors import OK, worst

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Push even if a safety limit would refuse.")
]
FullOpt = Annotated[
    bool,
    typer.Option(
        "--full", help="Recheck the whole catalog, not only what changed since the last push."
    ),
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


def _print_plan(p: Any, changes: Iterable[Any] | None = None) -> None:
    """One line per SKU to change, as the plan is walked (``changes``: SKU by SKU, else the
    plan's spilled ones), then what was left out (stderr) and the totals. The SKU lines are
    plain text: a SKU or a value is printed as it is."""
    from rich.markup import escape

    write = sys.stdout.write
    cuts: list[str] = []  # text the listings to send were cut to the channel's limits
    for sku, action, cs in p.skus() if changes is None else changes:
        detail = ", ".join(str(f) for c in cs if c.action != "create" for f in c.fields)
        write(f"{p.channel} {action} {sku}" + (f": {detail}" if detail else "") + "\n")
        cuts.extend(_cut_notes(p.channel, cs))
    sys.stdout.flush()
    for note in cuts:
        output.err(escape(note))
    for s in p.skipped:
        output.err(escape(f"left out {p.channel} {s.sku}: {s.reason}"))
    t = p.totals()
    output.out(
        f"{p.channel}: {t['create']} to create, {t['update']} to update, "
        f"{t['delist']} to delist, {t['unchanged']} unchanged"
    )


def _cut_notes(channel: str, changes: Iterable[Any]) -> Iterator[str]:
    """A line for each listing change whose text was cut: 'note CHANNEL SKU: title cut to'."""
    from multichan.offers import CUT_PREFIXES

    for c in changes:
        if c.kind == "listings":
            for note in c.offer.notes:
                if note.startswith(CUT_PREFIXES):
                    yield f"note {channel} {c.sku}: {note}"


def plan(
    channels: ChannelsArg = None,
    json_out: JsonOpt = False,
    jsonl: Annotated[
        bool,
        typer.Option(
            "--jsonl",
            help="One JSON object a line: each change ({channel, sku, kind, action, fields}), "
            "then per channel {channel, totals, skipped}.",
        ),
    ] = False,
    full: FullOpt = False,
) -> None:
    """Show what a push would create, update and delist, per SKU and field. Sends nothing.

    Written as the plan is made, a range of SKUs at a time: memory stays flat however
    large the catalog. With --json the document's "totals" and "skipped" come after its
    "changes"."""
    from multichan.sync.plan import skipped_dicts
    from multichan.sync.run import plan_each

    if json_out and jsonl:
        raise typer.BadParameter("--json and --jsonl: choose one")
    plans = plan_each(output.workspace(), channels or [], full=full)
    if jsonl:
        output.STATE.json_written = True
        for p, changes in plans:
            for _, _, cs in changes:
                for c in cs:
                    sys.stdout.write(_dumps({"channel": p.channel, **c.as_dict()}) + "\n")
            sys.stdout.write(_dumps({"channel": p.channel, "totals": p.totals(),
                                     "skipped": skipped_dicts(p.skipped)}) + "\n")  # fmt: skip
        return
    if json_out:
        docs = (
            {
                "channel": p.channel,
                "changes": (c.as_dict() for _, _, cs in changes for c in cs),
                "skipped": Later(partial(skipped_dicts, p.skipped)),
                "totals": Later(p.totals),
            }
            for p, changes in plans
        )
        write_json({"exit_code": OK, "channels": docs})
        return
    for p, changes in plans:
        _print_plan(p, changes)
    from multichan.catalog.checks import stray_overrides
    from multichan.feeds.run import load_config

    ws = output.workspace()
    note = stray_overrides(ws.db(), load_config(ws))
    if note:
        output.warn(note)


class Later:
    """A value of a JSON document computed when the writer reaches it (``write_json``)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def _dumps(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent, default=output_default)


def output_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "as_dict"):
        return value.as_dict()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def write_json(doc: Any) -> None:
    """``doc`` on stdout as ``print_json`` writes it (indent 2), written as it is walked:
    an iterator is an array written item by item, a ``Later`` is computed when reached."""
    output.STATE.json_written = True
    write = sys.stdout.write
    for piece in _pieces(doc, 0):
        write(piece)
    write("\n")
    sys.stdout.flush()


def _pieces(value: Any, level: int) -> Iterator[str]:
    if isinstance(value, Later):
        value = value.make()
    pad = "\n" + "  " * (level + 1)
    if isinstance(value, dict) and _lazy(value):
        yield "{"
        for n, (key, item) in enumerate(value.items()):
            yield ("," if n else "") + pad + _dumps(key) + ": "
            yield from _pieces(item, level + 1)
        yield ("\n" + "  " * level + "}") if value else "}"
    elif isinstance(value, Iterator) or (isinstance(value, list) and _lazy(value)):
        empty = True
        for item in value:
            yield ("[" if empty else ",") + pad
            empty = False
            yield from _pieces(item, level + 1)
        yield "[]" if empty else "\n" + "  " * level + "]"
    else:
        yield _dumps(value, 2).replace("\n", "\n" + "  " * level)


def _lazy(value: dict[Any, Any] | list[Any]) -> bool:
    """Whether a dict or list holds something written lazily (else one ``json.dumps``)."""
    items = value.values() if isinstance(value, dict) else value
    return any(isinstance(v, Later | Iterator) or (isinstance(v, dict | list) and _lazy(v))
               for v in items)  # fmt: skip


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
    full: FullOpt = False,
) -> None:
    """Send what changed since the last successful push, in batches, within rate limits."""
    from multichan.sync.run import push_all

    results = push_all(
        output.workspace(),
        channels or [],
        only=only.value if only else None,
        dry_run=dry_run,
        force=force,
        full=full,
    )
    code = worst([r.exit_code for r in results])
    if json_out:
        write_json({"exit_code": code, "channels": [_streamed(r) for r in results]})
    else:
        print_push(results)
    if code != OK:
        sys.exit(code)


def _streamed(result: Any) -> dict[str, Any]:
    """A push result as ``as_dict`` has it, its plan's changes read back as they are written."""
    doc = result.as_dict(plan=False)
    p = result.plan
    doc["plan"] = p and {
        "channel": p.channel,
        "totals": p.totals(),
        "changes": (c.as_dict() for _, _, cs in p.skus() for c in cs),
        "skipped": [{"sku": s.sku, "reason": s.reason} for s in p.skipped],
    }
    return doc


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
        if r.status not in ("dry-run", "refused") and r.plan is not None:
            for note in _cut_notes(r.channel, r.plan.iter_kind("listings")):
                output.err(escape(note))
        if r.status == "dry-run" and r.plan is not None:
            _print_plan(r.plan)
            output.out(f"{r.channel}: dry run, nothing sent")
            continue
        if r.status in ("refused", "failed", "exhausted"):
            output.err(f"[red]{r.channel}: {r.status}[/]: "
                       f"{escape(output.without_channel(r.message, r.channel))}")  # fmt: skip
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
        deferred += f", {r.held} held for a daily quota" if r.held else ""
        if r.status == "ok" and not any(c.values()) and not deferred:
            output.out(f"{r.channel}: ok, nothing to send, 0 request(s)")
            continue
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
    full: FullOpt = False,
) -> None:
    """Pull every channel's orders, then push what changed to every API channel: one run under
    one lock, made for cron every few minutes."""
    from multichan.cli.alerts_cmd import print_alerts
    from multichan.cli.orders_cmd import print_pull
    from multichan.sync.run import sync_all

    result = sync_all(output.workspace(), channels or [], dry_run=dry_run, force=force, full=full)
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
