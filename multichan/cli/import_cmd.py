"""`multichan import shopify|woocommerce|csv FILE`: fill the catalog from an existing export.

Prints the rejected rows (stderr), on dry run each SKU that would be added or changed with the
fields that would change (the first ``store.EXAMPLES`` of each, then how many more), the catalog
fields the file has no column for (left alone), the incoming values held back by seller edits
(``catalog set``: on dry run, per SKU), and the counts. ``--json`` lists every rejected
row (streamed from the importer's spool: a million of them print in flat memory); ``added_skus``
and ``changes`` list the first ``store.EXAMPLES`` SKUs, ``added`` and ``changed`` count them all.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from multichan.cli import output
from multichan.errors import ItemsRejected, UsageError


class Format(StrEnum):
    shopify = "shopify"
    woocommerce = "woocommerce"
    csv = "csv"
    shipments = "shipments"


def register(app: typer.Typer) -> None:
    @app.command("import")
    def import_(
        fmt: Annotated[
            Format,
            typer.Argument(
                metavar="FORMAT",
                help="shopify, woocommerce or csv (products), or shipments (parcels shipped).",
            ),
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
        source: Annotated[
            str | None,
            typer.Option(
                "--source",
                metavar="NAME",
                help="Name of the file's source for 'catalog prune' (default: the file's "
                "name), when each export is saved under another name.",
            ),
        ] = None,
    ) -> None:
        """Import products (upsert by SKU): Shopify or WooCommerce exports, or the generic CSV.

        `import shipments FILE.csv` records parcels shipped instead (columns channel, order,
        sku, quantity, carrier, tracking_number, tracking_url, shipped_at); push or sync
        sends them."""
        from rich.markup import escape

        if fmt is Format.shipments:
            if dry_run or currency:
                raise UsageError("--dry-run and --currency are for product imports")
            _shipments(file, json_out)
            return

        from multichan.catalog.importers import run
        from multichan.config import shop_currency

        ws = output.workspace()
        db = ws.db()
        with ws.lock(), output.counting(f"importing {file.name}", not json_out) as progress:
            outcome = run(
                db,
                fmt.value,
                file,
                dry_run=dry_run,
                currency=currency,
                default_currency=shop_currency(ws.config_path),
                progress=progress,
                source=source,
            )
        parsed, up = outcome.parsed, outcome.upserted
        summary = {
            "file": str(file), "format": fmt.value, "dry_run": dry_run,
            "added": up.added_count, "changed": up.changed_count, "unchanged": up.unchanged,
            "rejected": parsed.rejected, "warnings": parsed.warnings,
            "changes": up.changed if dry_run else {},
            "added_skus": up.added if dry_run else [],
            "left_alone": parsed.absent,
            "held_back": up.held_count, "held": up.held if dry_run else {},
        }  # fmt: skip
        if json_out:
            _print_json(summary)
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
                if up.added_count > len(up.added):
                    output.out(f"+ ... and {up.added_count - len(up.added)} more")
                for sku, fields in up.changed.items():
                    output.out(escape(f"~ {sku}: {', '.join(fields)}"))
                if up.changed_count > len(up.changed):
                    output.out(f"~ ... and {up.changed_count - len(up.changed)} more")
                for sku, fields in up.held.items():
                    output.out(escape(f"= {sku}: {', '.join(fields)} held back (seller edit)"))
                held_shown = sum(map(len, up.held.values()))
                if up.held_count > held_shown:
                    output.out(f"= ... and {up.held_count - held_shown} more")
            if parsed.absent:
                output.out(escape(f"left alone (not in this file): {', '.join(parsed.absent)}"))
            if up.held_count:
                output.out(
                    f"{up.held_count} incoming value(s) held back by seller edits (kept for "
                    "'multichan catalog unset'; 'multichan catalog show SKU' lists them)"
                )
            output.out(
                f"{up.added_count} added, {up.changed_count} changed, {up.unchanged} "
                f"unchanged, {len(parsed.rejected)} rejected ({verb} written)".replace(
                    "(were written)", ""
                ).strip()
            )
        if parsed.rejected:
            raise ItemsRejected(
                f"{len(parsed.rejected)} row(s) of {file.name} were rejected; "
                "the other rows were imported" + (" (dry run)" if dry_run else "")
            )


def _shipments(file: Path, json_out: bool) -> None:
    """`import shipments`: each parcel recorded once; rows it cannot use named with their
    line (exit 4)."""
    from rich.markup import escape

    from multichan.orders.shipments import import_file

    done = import_file(output.workspace(), file)
    if json_out:
        output.print_json(done.as_dict())
    else:
        for r in done.rejected:
            output.err("[red]rejected[/] " + escape(f"{file.name}:{r['line']} order "
                                                    f"{r['order']}: {r['reason']}"))  # fmt: skip
        for parcel in done.recorded:
            units = ", ".join(f"{x['sku']} x{x['quantity']}" for x in parcel["lines"])
            output.out(escape(f"+ {parcel['channel']} order {parcel['order']}: {units}"))
        output.out(f"{len(done.recorded)} shipment(s) recorded, {done.unchanged} recorded "
                   f"before, {len(done.rejected)} row(s) rejected")  # fmt: skip
    if done.rejected:
        raise ItemsRejected(
            f"{len(done.rejected)} row(s) of {file.name} were rejected; the other shipments "
            "were recorded"
        )


def _print_json(summary: dict[str, Any]) -> None:
    """``summary`` as ``output.print_json`` writes it, its ``rejected`` rows streamed one at
    a time rather than built into one string."""
    output.STATE.json_written = True
    write = sys.stdout.write
    write("{")
    for n, (key, value) in enumerate(summary.items()):
        write(("," if n else "") + f"\n  {json.dumps(key)}: ")
        if key != "rejected":
            text = json.dumps(value, ensure_ascii=False, indent=2)
            write(text.replace("\n", "\n  "))
            continue
        first = True
        for r in value:
            write(("[" if first else ",") + "\n    ")
            write(json.dumps(r.as_dict(), ensure_ascii=False, indent=2).replace("\n", "\n    "))
            first = False
        write("[]" if first else "\n  ]")
    write("\n}\n")


def _shown(sku: str) -> str:
    """A SKU as printed: quoted and escaped when it holds a space or an invisible character."""
    if not sku:
        return "(none)"
    return sku if sku.isprintable() and " " not in sku else repr(sku)
