"""`multichan bundle`: kits and bundles made of other SKUs (``multichan.catalog.bundles``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from multichan.cli import output

bundle_app = typer.Typer(
    help="Bundles (kits): SKUs whose stock is made of other SKUs.", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
BundleArg = Annotated[str, typer.Argument(metavar="BUNDLE", help="The bundle's SKU.")]


def register(app: typer.Typer) -> None:
    app.add_typer(bundle_app, name="bundle")


def _levels(levels: dict[str, int]) -> str:
    return ", ".join(f"{loc} {n}" for loc, n in levels.items()) or "no stock rows"


@bundle_app.command("set")
def set_(
    bundle: BundleArg,
    parts: Annotated[
        list[str],
        typer.Argument(
            metavar="COMPONENT:QTY...", help="Components and units of each per bundle (MUG-1:2)."
        ),
    ],
    json_out: JsonOpt = False,
) -> None:
    """Make BUNDLE a bundle of the components given (replacing its earlier ones).

    Its stock is then its components': at each location, the whole sets they make. An order
    for it commits and ships its components. A bundle cannot hold another bundle.
    """
    from rich.markup import escape

    from multichan.catalog import bundles

    wanted = bundles.parse_parts(parts)
    ws = output.workspace()
    with ws.lock():
        db = ws.db()
        before = bundles.define(db, bundle, wanted)
        shown = bundles.show(db, bundle)
    if json_out:
        output.print_json({"exit_code": 0, **shown, "before": [
            {"sku": c, "quantity": q} for c, q in before]})  # fmt: skip
        return
    was = bundles.describe(before) if before else "no bundle"
    output.out(escape(f"{bundle}: {bundles.describe(wanted)} (was: {was})"))
    output.out(escape(f"{bundle} available: {_levels(shown['available'])}"))
    _warn_own(bundle, shown)


def _warn_own(bundle: str, shown: dict[str, Any]) -> None:
    own = shown["own_stock_ignored"]
    if own:
        rows = ", ".join(f"{loc} {v['on_hand']}" for loc, v in own.items())
        output.warn(f"{bundle}'s own stock rows ({rows}) are ignored: a bundle's stock is its "
                    "components'")  # fmt: skip


@bundle_app.command("show")
def show(bundle: BundleArg, json_out: JsonOpt = False) -> None:
    """A bundle's components, their stock and the bundle's available units per location."""
    from multichan.catalog import bundles

    shown = bundles.show(output.workspace().db(), bundle)
    if json_out:
        output.print_json(shown)
        return
    rows = [
        {"sku": c["sku"], "quantity": c["quantity"], "title": c["title"] or "",
         "available": _levels(c["available"])}
        for c in shown["components"]
    ]  # fmt: skip
    output.table(
        rows,
        [("sku", "Component"), ("quantity", "Per bundle"), ("title", "Title"),
         ("available", "Available")],
        title=f"{bundle}: {shown['quantity']} available ({_levels(shown['available'])})",
        right=("quantity",),
    )  # fmt: skip
    _warn_own(bundle, shown)


@bundle_app.command("list")
def list_(json_out: JsonOpt = False) -> None:
    """Every bundle with its components and available units."""
    from multichan.catalog import bundles
    from multichan.text import counted

    rows = bundles.list_bundles(output.workspace().db())
    if json_out:
        output.print_json(rows)
        return
    shown = [
        {"sku": r["sku"], "title": r["title"] or "", "quantity": r["quantity"],
         "components": ", ".join(f"{c['sku']} x{c['quantity']}" for c in r["components"])}
        for r in rows
    ]  # fmt: skip
    output.table(
        shown,
        [("sku", "Bundle"), ("title", "Title"), ("components", "Components"),
         ("quantity", "Available")],
        title=counted(len(rows), "bundle"),
        right=("quantity",),
    )  # fmt: skip


@bundle_app.command("remove")
def remove(bundle: BundleArg, json_out: JsonOpt = False) -> None:
    """Make BUNDLE a plain product again: its stock is its own stock rows, and its open
    orders' committed units move back to it."""
    from rich.markup import escape

    from multichan.catalog import bundles

    ws = output.workspace()
    with ws.lock():
        before = bundles.remove(ws.db(), bundle)
    if json_out:
        output.print_json({"exit_code": 0, "sku": bundle, "before": [
            {"sku": c, "quantity": q} for c, q in before]})  # fmt: skip
        return
    output.out(escape(f"{bundle}: no bundle any more (was: {bundles.describe(before)})"))
