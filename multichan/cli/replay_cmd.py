"""`multichan replay RUN`: what a past push or export run planned and sent (``--against now``).

Results go to stdout as they are read (tables a page at a time for people; ``--json`` one
document written as it goes, ``--jsonl`` an object a line); a note that values were not
recorded goes to stderr. See ``multichan.sync.replay``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

import typer

from multichan.cli import output
from multichan.errors import OK

PAGE = 1_000  # table rows measured and drawn at a time: a run of any size streams
SHORT = 40  # the longest value a table shows whole (--json has every value)
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def register(app: typer.Typer) -> None:
    app.command("replay")(replay)


def replay(
    run: Annotated[
        str | None,
        typer.Argument(
            help="The run, as --list shows it: a push run's id (12) or an export's (export-3)."
        ),
    ] = None,
    list_runs: Annotated[
        bool, typer.Option("--list", help="List the recent runs (the default with no RUN).")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many runs --list shows.")] = 20,
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            metavar="now",
            help="Compare with what would be sent today (read only: nothing is sent).",
        ),
    ] = None,
    json_out: JsonOpt = False,
    jsonl: Annotated[
        bool,
        typer.Option("--jsonl", help="One JSON object a line: the run, each item, the totals."),
    ] = False,
) -> None:
    """Show what a past push or export run planned and sent, per SKU, from the journal.

    With --against now, each SKU and field is compared with what would be sent today. With no
    RUN, lists the recent runs. Read only: nothing is sent or recorded."""
    from multichan.sync import replay as rp

    if json_out and jsonl:
        raise typer.BadParameter("--json and --jsonl: choose one")
    if against is not None and against != "now":
        raise typer.BadParameter(f"--against takes 'now', not {against!r}")
    if run is not None and list_runs:
        raise typer.BadParameter("--list shows every recent run: give RUN or --list")
    ws = output.workspace()
    db = ws.db()
    try:
        if run is None:
            _list(rp.recent(db, limit), json_out or jsonl)
            return
        found = rp.find(db, run)
        if found.command == "export":
            head = rp.export_summary(ws, found)
            if not head["recorded"]:
                output.warn(rp.not_kept(found))
            elif not head["intact"]:
                output.warn(f"the kept feed of {found.ref} is not the file written (its sha256 "
                            "differs from the recorded one)")  # fmt: skip
            if against:
                _show(head, rp.export_against_now(ws, db, found), json_out, jsonl)
            else:
                _show(head, rp.exported(ws, found), json_out, jsonl)
            return
        head = rp.summary(db, found)
        if head["recorded"] is not True and head["lines"]:
            which = "some lines of this run" if head["recorded"] == "partly" else "this run"
            output.warn(rp.NOT_RECORDED.replace("this run", which))
        if against:
            _show(head, rp.push_against_now(ws, db, found), json_out, jsonl)
        else:
            _show(head, rp.sent(db, found), json_out, jsonl)
    finally:
        db.close()


def _show(head: dict[str, Any], items: Any, json_out: bool, jsonl: bool) -> None:
    """The run ``head`` and its ``items`` (an iterator, or a ``replay.Comparison``)."""
    from multichan.cli.sync_cmd import Later, write_json

    compared = not isinstance(items, Iterator)
    rows = items.items if compared else items
    if json_out:
        doc: dict[str, Any] = {"exit_code": OK, "run": head}
        if compared:
            doc["against"] = "now"
        doc["items"] = rows
        if compared:
            doc["totals"] = Later(lambda: dict(items.totals))
            if items.today:
                doc["today"] = Later(items.today_totals)
        write_json(doc)
        return
    if jsonl:
        output.STATE.json_written = True
        write = sys.stdout.write
        write(_dumps({"run": head}) + "\n")
        for row in rows:
            write(_dumps(row) + "\n")
        if compared:
            write(_dumps({"totals": items.totals, "today": items.today_totals()}) + "\n")
        sys.stdout.flush()
        return
    _print_head(head)
    if head["command"] == "export":
        if compared:
            _pages(_item_diffs(rows), [("id", "ID"), ("status", "Status"), ("field", "Field"),
                                       ("then", "Then"), ("now", "Now")])  # fmt: skip
        else:
            _pages(({"id": r["id"], "values": _compact(r["fields"])} for r in rows),
                   [("id", "ID"), ("values", "Values")])  # fmt: skip
    elif compared:
        _pages(_sku_diffs(rows), [("sku", "SKU"), ("kind", "Kind"), ("status", "Status"),
                                  ("field", "Field"), ("then", "Then"), ("now", "Now"),
                                  ("today", "Today")])  # fmt: skip
    else:
        _pages(_sent_rows(rows), [("sku", "SKU"), ("kind", "Kind"), ("action", "Action"),
                                  ("outcome", "Outcome"), ("batch", "Batch"), ("sent", "Sent"),
                                  ("message", "Message")], right=("batch",))  # fmt: skip
    if compared:
        t = items.totals
        line = (f"against now: {t['same']} same, {t['changed']} changed, {t['new']} new "
                f"today, {t['gone']} gone")  # fmt: skip
        if t["not recorded"]:
            line += f", {t['not recorded']} not recorded"
        today = items.today_totals()
        if today:
            line += (f"; today's plan: {today['create']} to create, {today['update']} to "
                     f"update, {today['delist']} to delist")  # fmt: skip
        output.out(_escape(line))


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _print_head(head: dict[str, Any]) -> None:
    when = head["started_at"] + (f" to {head['ended_at']}" if head["ended_at"] else "")
    status = head["status"] + (f" (exit {head['exit_code']})" if head["exit_code"] else "")
    lines = [f"run {head['run']}: {head['channel']} {head['command']}, {when}, {status}"]
    if head.get("message"):
        lines.append(f"  {head['message']}")
    if head["command"] == "export":
        c = head["counts"]
        lines.append(f"  {c['items']:,} items, {c['left_out']:,} left out, {head['bytes']:,} bytes,"
                     f" to {head['path']}")  # fmt: skip
        if head["uploaded_to"]:
            lines.append(f"  uploaded to {head['uploaded_to']}")
        if head["kept"]:
            lines.append(f"  kept as {head['kept']}")
    else:
        p = head["plan"]["skus"]
        lines.append(f"  plan: {p['create']} to create, {p['update']} to update, "
                     f"{p['delist']} to delist")  # fmt: skip
        lines.append(f"  counts: {_counts(head['counts']) or 'nothing sent'}")
    for line in lines:
        output.out(_escape(line))


def _counts(counts: dict[str, Any]) -> str:
    return ", ".join(f"{v:,} {k}" for k, v in counts.items() if v)


def _list(runs: list[Any], as_json: bool) -> None:
    if as_json:
        output.print_json({"exit_code": OK, "runs": [r.as_dict() for r in runs]})
        return
    if not runs:
        output.out("no runs yet: a push or an export is recorded as it runs")
        return
    rows = [{**r.as_dict(), "counts": _counts(r.counts)} for r in runs]
    output.table(
        rows,
        [("run", "Run"), ("channel", "Channel"), ("command", "Command"),
         ("started_at", "Started"), ("status", "Status"), ("counts", "Counts")],
        title="Runs",
    )  # fmt: skip


def _pages(
    rows: Iterable[dict[str, Any]], columns: list[tuple[str, str]], right: tuple[str, ...] = ()
) -> None:
    """``rows`` as tables of PAGE rows each, drawn as they are read."""
    page: list[dict[str, Any]] = []
    for row in rows:
        page.append(row)
        if len(page) >= PAGE:
            output.table(page, columns, right=right)
            page = []
    if page:
        output.table(page, columns, right=right)


def _short(value: Any) -> str:
    if value is None:
        return "-"
    if value == "":
        return '""'
    if isinstance(value, list):
        text = ",".join(str(v) for v in value)
    elif isinstance(value, dict):
        text = ",".join(f"{k}:{v}" for k, v in value.items())
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= SHORT else text[: SHORT - 1] + "…"


def _compact(values: dict[str, Any] | None, kind: str = "") -> str:
    """A snapshot as ``name=value`` pairs, each value at most SHORT characters."""
    from multichan.sync.replay import field_order

    if values is None:
        return "(not recorded)"
    return " ".join(f"{n}={_short(values[n])}" for n in field_order(kind, values))


def _sent_rows(lines: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for ln in lines:
        yield {**ln, "sent": _compact(ln["snapshot"], ln["kind"])}


def _sku_diffs(docs: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """A row per field that differs (one for a SKU new today, gone or not recorded); a SKU
    and kind that would be sent as it was is only counted."""
    for d in docs:
        base = {"sku": d["sku"], "kind": d["kind"], "status": d["status"],
                "today": d["now"]["action"] or "nothing to send"}  # fmt: skip
        if d["status"] == "changed":
            for f in d["fields"]:
                yield {**base, "field": f["field"], "then": _short(f["then"]),
                       "now": _short(f["now"])}  # fmt: skip
        elif d["status"] != "same":
            then = d["then"]["snapshot"] if d["then"] else None
            yield {**base, "then": _compact(then, d["kind"]) if d["then"] else "-",
                   "now": _compact(d["now"]["snapshot"], d["kind"])
                   if d["now"]["snapshot"] is not None else "-"}  # fmt: skip


def _item_diffs(docs: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for d in docs:
        if d["status"] == "changed":
            for f in d["fields"]:
                yield {"id": d["id"], "status": "changed", "field": f["field"],
                       "then": _short(f["then"]), "now": _short(f["now"])}  # fmt: skip
        elif d["status"] != "same":
            yield {"id": d["id"], "status": d["status"],
                   "then": _compact(d["then"]) if d["then"] else "-",
                   "now": _compact(d["now"]) if d["now"] else "-"}  # fmt: skip
