"""`multichan import shopify|woocommerce|csv FILE`: fill the catalog from an existing export.

Prints the rejected rows (stderr), on dry run each SKU that would be added or changed with the
fields that would change, the catalog fields the file has no column for (left alone), and the
counts.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from multichan.cli import output
from multichan.errors import ItemsRejected


class Format(StrEnum):
    shopify = "shopify"
    woocommerce = "woocommerce"
    csv = "csv"


def register(app: typer.Typer) -> None:
    @app.command("import")
    def import_(
        fmt: Annotated[
            Format, typer.Argument(metavar="FORMAT", help="shopify, woocommerce or csv.")
        ],
        file: Annotated[Path, typer.Argument(help="The exported CSV file.")],
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Report, write nothing.")] = False,
        json_out: Annotated[bool, typer.Option("--json", help="Machine-readable summary.")] = False,
        currency: Annotated[
            str | None,
            typer.Option(
                "--currency",
                help="Currency of the file's prices, set on every row that names none "
                "(default: SKUs already in the catalog keep theirs, new ones get shop.currency "
                "from channels.yaml, else USD).",
            ),
        ] = None,
    ) -> None:
        """Import products (upsert by SKU): Shopify or WooCommerce exports, or the generic CSV."""
        from rich.markup import escape

        from multichan.catalog.importers import run
        from multichan.config import shop_currency

        ws = output.workspace()
        db = ws.db()
        with ws.lock():
            outcome = run(
                db,
                fmt.value,
                file,
                dry_run=dry_run,
                currency=currency,
                default_currency=shop_currency(ws.config_path),
            )
        parsed, up = outcome.parsed, outcome.upserted
        summary = {
            "file": str(file), "format": fmt.value, "dry_run": dry_run,
            "added": len(up.added), "changed": len(up.changed), "unchanged": up.unchanged,
            "rejected": [r.as_dict() for r in parsed.rejected], "warnings": parsed.warnings,
            "changes": up.changed if dry_run else {},
            "added_skus": up.added if dry_run else [],
            "left_alone": parsed.absent,
        }  # fmt: skip
        if json_out:
            output.print_json(summary)
        else:
            for warning in parsed.warnings:
                output.warn(warning)
            for r in parsed.rejected:
                output.err(
                    "[red]rejected[/] "
                    + escape(f"{file.name}:{r.line} SKU {_shown(r.sku)}: {r.reason}")
                )
            verb = "would be" if dry_run else "were"
            if dry_run:
                for sku in up.added:
                    output.out(escape(f"+ {sku}"))
                for sku, fields in up.changed.items():
                    output.out(escape(f"~ {sku}: {', '.join(fields)}"))
            if parsed.absent:
                output.out(escape(f"left alone (not in this file): {', '.join(parsed.absent)}"))
            output.out(
                f"{len(up.added)} added, {len(up.changed)} changed, {up.unchanged} "
                f"unchanged, {len(parsed.rejected)} rejected ({verb} written)".replace(
                    "(were written)", ""
                ).strip()
            )
        if parsed.rejected:
            raise ItemsRejected(
                f"{len(parsed.rejected)} row(s) of {file.name} were rejected; "
                "the other rows were imported" + (" (dry run)" if dry_run else "")
            )


def _shown(sku: str) -> str:
    """A SKU as printed: quoted and escaped when it holds a space or an invisible character."""
    if not sku:
        return "(none)"
    return sku if sku.isprintable() and " " not in sku else repr(sku)
