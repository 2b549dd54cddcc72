"""`multichan init`: create a workspace (optionally with the demo shop), restore its config, or
replace its catalog; every file it replaces is copied aside first."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from multichan.cli import output
from multichan.errors import INTERRUPTED

if TYPE_CHECKING:
    from multichan.workspace import Created

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def register(app: typer.Typer) -> None:
    @app.command()
    def init(
        directory: Annotated[Path, typer.Argument(help="Folder for the new workspace.")] = Path(
            "."
        ),
        name: Annotated[
            str | None, typer.Option("--name", help="Your shop's name, as buyers see it.")
        ] = None,
        url: Annotated[
            str | None,
            typer.Option("--url", help="Your shop's address, such as https://www.my-shop.com."),
        ] = None,
        link_template: Annotated[
            str | None,
            typer.Option(
                "--link-template",
                help="Product page address with {handle}, {sku} or {item_group_id} "
                "(default: URL/products/{handle}).",
            ),
        ] = None,
        demo: Annotated[
            bool, typer.Option("--demo", help="Fill the catalog with a demo shop.")
        ] = False,
        force: Annotated[
            bool,
            typer.Option(
                "--force",
                help="Rewrite channels.yaml and templates/ of an existing workspace, keeping a "
                "copy of each changed file; catalog.db is not touched.",
            ),
        ] = False,
        reset_catalog: Annotated[
            bool,
            typer.Option(
                "--reset-catalog",
                help="Replace catalog.db with an empty one (or the demo), keeping a copy.",
            ),
        ] = False,
        yes: Annotated[
            bool, typer.Option("--yes", "-y", help="Do not ask before --reset-catalog.")
        ] = False,
        json_out: JsonOpt = False,
    ) -> None:
        """Create a workspace: catalog.db, channels.yaml, templates/ and feeds/."""
        from multichan.text import counted
        from multichan.workspace import Workspace, count_products, create, shop_identity

        shop = shop_identity(name, url, link_template)
        db_path = Workspace(directory.resolve()).db_path
        if reset_catalog and db_path.exists() and not yes and sys.stdin.isatty():
            count = count_products(db_path)
            held = "an unreadable catalog" if count is None else counted(count, "product")
            if not typer.confirm(
                f"Replace {db_path} ({held})? A copy of it is kept next to it.", err=True
            ):
                output.err("Nothing changed.")
                raise typer.Exit(INTERRUPTED)
        done = create(directory, demo=demo, force=force, reset_catalog=reset_catalog, shop=shop)
        if json_out:
            output.print_json(done.as_dict())
            return
        _report(done, directory)


def _report(done: Created, directory: Path) -> None:
    from rich.markup import escape

    from multichan.text import counted

    templates = [f for f in done.written if f.startswith("templates/")]
    others = [f for f in done.written if not f.startswith("templates/")]
    verb = "Updated" if done.kept or done.backed_up else "Created"
    output.out(
        escape(f"{verb} workspace {done.workspace.root} ({counted(done.products, 'product')})")
    )
    wrote = others + ([f"templates/ ({len(templates)} files)"] if templates else [])
    output.out(escape(f"  wrote {', '.join(wrote)}"))
    if done.kept:
        output.out(escape(f"  kept {', '.join(done.kept)} unchanged"))
    for original, copy in done.backed_up:
        output.out(escape(f"  saved the previous {original} as {copy}"))
    folder = shlex.quote(str(directory))
    if done.placeholders:
        keys = [f"shop.{k}" for k in done.placeholders]
        listed = ", ".join(keys[:-1]) + " and " + keys[-1] if len(keys) > 1 else keys[0]
        output.out(
            escape(
                f"Next: set {listed} in channels.yaml (export refuses the placeholders), "
                f"or run 'multichan init --force --name NAME --url URL {folder}'"
            )
        )
    if not done.products:
        output.out(escape(f"Next: multichan -w {folder} import shopify products_export.csv"))
    elif not done.placeholders:
        output.out(escape(f"Next: multichan -w {folder} export google"))
