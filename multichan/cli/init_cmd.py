"""`multichan init`: create a workspace, optionally with the demo shop."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from multichan.cli import output


def register(app: typer.Typer) -> None:
    @app.command()
    def init(
        directory: Annotated[Path, typer.Argument(help="Folder for the new workspace.")] = Path(
            "."
        ),
        demo: Annotated[
            bool, typer.Option("--demo", help="Fill the catalog with a demo shop.")
        ] = False,
        force: Annotated[
            bool, typer.Option("--force", help="Replace an existing workspace.")
        ] = False,
    ) -> None:
        """Create a workspace: catalog.db, channels.yaml, templates/ and feeds/."""
        from multichan.workspace import create

        ws = create(directory, demo=demo, force=force)
        count = ws.product_count()
        output.out(f"Created workspace {ws.root} ({count} products)")
        if count:
            output.out(f"Next: multichan -w {directory} export google")
        else:
            output.out(f"Next: multichan -w {directory} import shopify products_export.csv")
