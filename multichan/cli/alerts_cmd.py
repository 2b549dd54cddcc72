"""`multichan alerts [--send | --test] [--json]` and `multichan alerts threshold`: low-stock
alerts on the command line.

``alerts`` lists what is low, out of stock or oversold now and sends nothing; ``--send``
delivers what changed since the last message (for a cron line of its own; ``pull`` and
``sync`` do the same at their end), ``--test`` sends a sample. Exit codes: 0 ok, 3 a
configuration error (no ``alerts:`` route, a secret's variable not set), 5 a route failed
(its state is kept, so the next run sends the message again).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from multichan.cli import output
from multichan.errors import OK, ConfigError, UsageError

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
COLUMNS = [
    ("sku", "SKU"), ("where", "Location"), ("state", "State"), ("available", "Available"),
    ("below", "Threshold"), ("by_location", "By location"), ("per_day", "Per day"),
    ("told", "Sent"),
]  # fmt: skip
alerts_app = typer.Typer(
    help="Low-stock alerts: what is low now; --send sends what changed, --test a sample.",
    invoke_without_command=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")


def _routes(config: Any) -> None:
    alerts = config.alerts
    if alerts is None or not alerts.routes:
        where = f"{config.path.name}:{alerts.line}: " if alerts else f"{config.path.name}: "
        raise ConfigError(
            f"{where}alerts has no email or webhook to send to",
            [] if alerts else ["add an alerts: section with email: or webhook: (see the README)"],
        )


@alerts_app.callback()
def alerts(
    ctx: typer.Context,
    send: Annotated[
        bool, typer.Option("--send", help="Send what changed since the last message.")
    ] = False,
    test: Annotated[
        bool, typer.Option("--test", help="Send a sample message on every route.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Show the SKUs low, out of stock or oversold now; --send tells what changed."""
    if ctx.invoked_subcommand is not None:
        return
    from multichan.alerts import run_alerts, send_sample
    from multichan.feeds.run import load_config

    if send and test:
        raise UsageError("--send and --test: choose one")
    ws = output.workspace()
    config = load_config(ws)
    if send or test:
        _routes(config)
    result = send_sample(config) if test else run_alerts(ws, config, send=send)
    if json_out:
        output.print_json(result.as_dict())
    elif result.mode == "show":
        print_low(result)
    else:
        print_alerts(result, quiet=False)
    if result.exit_code != OK:
        sys.exit(result.exit_code)


def print_low(result: Any) -> None:
    from rich.markup import escape

    rows = [
        {
            "sku": i.sku,
            "where": "all" if i.location == "*" else i.location,
            "state": {"out": "out of stock"}.get(i.state, i.state),
            "available": i.available,
            "below": i.below,
            "by_location": ", ".join(f"{k} {v}" for k, v in i.locations.items()) or "-",
            "per_day": f"{i.per_day:g}",
            "told": "yes" if i.told else "not yet",
        }
        for i in result.items
    ]
    columns = COLUMNS if result.routes else COLUMNS[:-1]
    if rows:
        output.table(rows, columns, title=f"{len(rows)} low now",
                     right=("available", "below", "per_day"))  # fmt: skip
    else:
        output.out(f"Nothing low: every active SKU has at least {result.low_stock_below} available"
                   " (or its own threshold).")  # fmt: skip
    if result.pending:
        output.err(escape(f"{result.pending} change(s) not sent yet: multichan alerts --send"))
    if not result.routes:
        output.err("no alert routes configured: add email: or webhook: under alerts:")


def print_alerts(result: Any, quiet: bool = True) -> None:
    """What a send did: one line per route on stdout, failures on stderr. ``quiet`` (the end
    of pull and sync) prints nothing when nothing changed."""
    from rich.markup import escape

    if result.mode == "off":
        return
    if result.error:
        output.err(f"[red]alerts: not sent[/]: {escape(result.error)}")
    for d in result.deliveries:
        what = "sample" if result.mode == "test" else f"{d.items} change(s)"
        if d.status == "sent":
            note = f" ({d.message})" if d.message else ""
            output.out(escape(f"alerts: {d.route} to {d.target}: sent {what}{note}"))
        else:
            output.err(f"[red]alerts: {d.route} failed[/]: {escape(d.message or '')}")
    if result.failed and result.mode == "send":
        output.err("alerts: the failed route keeps its state and gets the message next run")
    if not result.deliveries and not quiet:
        output.out("alerts: nothing changed since the last message")


@alerts_app.command("threshold", context_settings={"ignore_unknown_options": True})
def threshold(
    sku: Annotated[str, typer.Argument(metavar="SKU", help="The product's SKU.")],
    below: Annotated[
        int | None,
        typer.Argument(metavar="N", help="Alert when fewer than N are available (0: never)."),
    ] = None,
    location: Annotated[
        str | None,
        typer.Option("--location", "-l", metavar="CODE", help="Only at this location."),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the SKU's own threshold.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Set one SKU's low-stock threshold (over all its locations, or at one with --location)."""
    from multichan.alerts import set_threshold

    if (below is None) == (not clear):
        raise UsageError("give a threshold N, or --clear")
    ws = output.workspace()
    with ws.lock():
        db = ws.db()
        try:
            changed = set_threshold(db, sku, below, location)
        finally:
            db.close()
    if json_out:
        output.print_json({"exit_code": OK, **changed})
        return
    where = f" at {location}" if location else ""

    def shown(value: int | None) -> str:
        return "the default" if value is None else f"below {value}"

    output.out(f"{sku}{where}: {shown(changed['old'])} -> {shown(changed['new'])}")
