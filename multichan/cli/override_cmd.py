"""`multichan override set|unset|list`: per-channel title, description, price and exclusion of
a SKU (checked and written by ``multichan.catalog.overrides``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from multichan.cli import output
from multichan.errors import UsageError

override_app = typer.Typer(
    help="Per-channel title, description, price or exclusion of a SKU.", no_args_is_help=True
)

ChannelArg = Annotated[str, typer.Argument(metavar="CHANNEL", help="A channel of channels.yaml.")]
SkuArg = Annotated[str, typer.Argument(metavar="SKU", help="The product's SKU.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def register(app: typer.Typer) -> None:
    app.add_typer(override_app, name="override")


@override_app.command("set")
def set_(
    channel: ChannelArg,
    sku: SkuArg,
    title: Annotated[
        str | None, typer.Option("--title", metavar="TEXT", help="The title on this channel.")
    ] = None,
    description: Annotated[
        str | None,
        typer.Option("--description", metavar="TEXT", help="The description on this channel."),
    ] = None,
    price: Annotated[
        str | None,
        typer.Option(
            "--price",
            metavar="AMOUNT",
            help="The price on this channel, in its currency, used as given (no markup, no "
            "rounding).",
        ),
    ] = None,
    exclude: Annotated[
        bool | None,
        typer.Option(
            "--exclude/--include",
            help="Keep the SKU off this channel (a listed one is delisted), or offer it again.",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Override what CHANNEL shows for SKU; the other channels are not affected.

    The price is an amount above zero in the channel's currency, with its decimals (JPY
    1500, USD 12.50, KWD 1.250). A title or description longer than the channel allows is
    refused, not cut. The next export or push sends it; `plan` shows it first."""
    from multichan.catalog.overrides import set_override
    from multichan.feeds.run import load_config

    ws = output.workspace()
    config = load_config(ws)
    with ws.lock():
        done = set_override(
            ws.db(), config, channel, sku,
            title=title, description=description, price=price, excluded=exclude,
        )  # fmt: skip
    _report(channel, sku, done, json_out)


@override_app.command("unset")
def unset(
    channel: ChannelArg,
    sku: SkuArg,
    title: Annotated[bool, typer.Option("--title", help="Drop the title override.")] = False,
    description: Annotated[
        bool, typer.Option("--description", help="Drop the description override.")
    ] = False,
    price: Annotated[bool, typer.Option("--price", help="Drop the price override.")] = False,
    exclude: Annotated[
        bool, typer.Option("--exclude", help="Drop the exclusion: offer the SKU again.")
    ] = False,
    all_: Annotated[bool, typer.Option("--all", help="Drop every override of SKU here.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Drop overrides of SKU on CHANNEL: it gets what the channel's rules make again."""
    from multichan.catalog.overrides import unset_override
    from multichan.feeds.run import load_config

    names = [n for n, on in (("title", title), ("description", description), ("price", price),
                             ("excluded", exclude)) if on]  # fmt: skip
    if not names and not all_:
        raise UsageError("name what to unset: --title, --description, --price, --exclude or --all")
    ws = output.workspace()
    config = load_config(ws)
    with ws.lock():
        done = unset_override(ws.db(), config, channel, sku, None if all_ else names)
    _report(channel, sku, done, json_out)


@override_app.command("list")
def list_(
    channel: Annotated[
        str | None,
        typer.Argument(metavar="[CHANNEL]", help="Only this channel's overrides."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """List the overrides, by channel and SKU."""
    from multichan.catalog.overrides import list_overrides
    from multichan.feeds.run import load_config
    from multichan.text import counted

    ws = output.workspace()
    rows = list_overrides(ws.db(), load_config(ws), channel)
    if json_out:
        output.print_json({"exit_code": 0, "overrides": [r.as_dict() for r in rows]})
        return
    if not rows:
        output.out("No overrides." if channel is None else f"No overrides for {channel}.")
        return
    shown = [
        {
            "channel": r.channel, "sku": r.sku, "title": r.title or "",
            "description": _short(r.description), "price": _price(r.price, r.currency),
            "excluded": "excluded" if r.excluded else "",
            "note": "" if r.configured else "not in channels.yaml: never used",
        }
        for r in rows
    ]  # fmt: skip
    columns = [("channel", "Channel"), ("sku", "SKU"), ("title", "Title"),
               ("description", "Description"), ("price", "Price"),
               ("excluded", "Excluded")]  # fmt: skip
    if any(r["note"] for r in shown):
        columns.append(("note", "Note"))
    output.table(shown, columns, title=counted(len(rows), "override"), right=("price",))


def _short(text: str | None, size: int = 40) -> str:
    if not text:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= size else flat[: size - 3] + "..."


def _price(price: str | None, currency: str | None) -> str:
    if not price:
        return ""
    return f"{price} {currency}" if currency else price


def _report(channel: str, sku: str, done: Any, json_out: bool) -> None:
    """What changed, a line per field (an exclusion says what it does to the channel)."""
    from rich.markup import escape

    if json_out:
        output.print_json({"exit_code": 0, "channel": channel, "sku": sku, **done.as_dict()})
        return
    changed = done.fields()
    if not changed:
        output.out(escape(f"{channel} {sku}: nothing changed"))
        return
    currency = (done.after or done.before).currency
    for name, old, new in changed:
        if name == "excluded":
            text = (
                f"{channel} {sku}: excluded (the next push or export leaves it out)"
                if new
                else f"{channel} {sku}: offered again"
            )
        elif name == "price":
            text = f"{channel} {sku} price: {_price(old, currency) or '(rules)'} -> " + (
                f"{_price(new, currency)} (used as given)" if new else "(rules)"
            )
        else:
            text = (
                f"{channel} {sku} {name}: {old!r} -> {new!r}"
                if new
                else (f"{channel} {sku} {name}: {old!r} -> (rules)")
            )
        output.out(escape(text))
