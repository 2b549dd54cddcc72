"""The multichan command line: global options, sub-commands, and the one place where errors
become a message on stderr and a documented exit code."""

from __future__ import annotations

import gc
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from multichan import __version__
from multichan.cli import output, startup
from multichan.cli.help import plain_metavars
from multichan.errors import INTERRUPTED, UNEXPECTED, USAGE, MultichanError

app = typer.Typer(
    name="multichan",
    help="One local catalog, every sales channel: feeds, pushes and honest stock.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: starts in half the time of rich help
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"multichan {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            "-w",
            envvar="MULTICHAN_WORKSPACE",
            help="Workspace folder (default: the current folder).",
        ),
    ] = None,
    traceback: Annotated[
        bool, typer.Option("--traceback", help="Show the full stack trace on errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """multichan: one catalog, every channel."""
    output.STATE.workspace = workspace
    output.STATE.traceback = traceback


def _register() -> None:
    from multichan.cli import (
        alerts_cmd,
        bundle_cmd,
        catalog_cmd,
        channels_cmd,
        drift_cmd,
        explain_cmd,
        export_cmd,
        import_cmd,
        init_cmd,
        orders_cmd,
        override_cmd,
        replay_cmd,
        report_cmd,
        sync_cmd,
    )

    init_cmd.register(app)
    import_cmd.register(app)
    catalog_cmd.register(app)
    export_cmd.register(app)
    channels_cmd.register(app)
    sync_cmd.register(app)
    orders_cmd.register(app)
    alerts_cmd.register(app)
    report_cmd.register(app)
    drift_cmd.register(app)
    explain_cmd.register(app)
    replay_cmd.register(app)
    bundle_cmd.register(app)
    override_cmd.register(app)


_register()


def _summaries(typer_app: typer.Typer) -> None:
    """Each command's line in the command list is its first sentence, whole: click would cut
    the docstring at the terminal's width ("Create a workspace: catalog.db, ...")."""

    def first_sentence(text: str) -> str:
        paragraph = " ".join(text.strip().split("\n\n")[0].split())
        return re.split(r"\.(?:\s+(?=[A-Z])|$)", paragraph)[0]

    for info in typer_app.registered_commands:
        text = info.help or (info.callback.__doc__ if info.callback else None) or ""
        if info.short_help is None and text:
            info.short_help = first_sentence(text)
    for group in typer_app.registered_groups:
        sub = group.typer_instance
        if sub is None:
            continue
        if isinstance(sub.info.help, str):  # the group's own help; placeholders elsewhere
            sub.info.short_help = first_sentence(sub.info.help)
        _summaries(sub)


_summaries(app)
plain_metavars()


def _click_exceptions() -> tuple[type[Exception], ...]:
    """Usage errors: typer >= 0.20 raises its vendored click's, older typer the real click's."""
    found: list[type[Exception]] = []
    try:
        from typer._click.exceptions import ClickException as Vendored

        found.append(Vendored)
    except ImportError:
        pass
    try:
        from click import ClickException

        found.append(ClickException)
    except ImportError:
        pass
    return tuple(found)


def _arguments(argv: list[str] | None) -> tuple[list[str], bool]:
    """The arguments with ``--traceback`` moved to the front wherever it was written (it is
    a global option, but people add it after the command), and whether ``--json`` was asked
    (then an error is a JSON document on stdout too). Nothing after ``--`` counts."""
    args = list(sys.argv[1:] if argv is None else argv)
    end = args.index("--") if "--" in args else len(args)
    flags, rest = args[:end], args[end:]
    if "--traceback" in flags[1:]:
        flags = ["--traceback", *(a for a in flags if a != "--traceback")]
    return flags + rest, "--json" in flags


def _json_error(message: str, hint: str | None, code: int) -> None:
    """An error as JSON, unless the command already wrote its JSON result (which carries
    its exit code)."""
    if not output.STATE.json_written:
        output.print_json({"exit_code": code, "error": message, "hint": hint})


def _run(command: Any, args: list[str]) -> Any:  # command: the click command of ``app``
    """Run the command; a failure the catalog explains in its own words (SQLite meeting text
    that is not UTF-8: which table, row and column) becomes that error."""
    try:
        return command.main(args=args, prog_name="multichan", standalone_mode=False)
    except Exception as exc:
        if type(exc).__name__ != "OperationalError":
            raise
        from multichan.catalog.checks import text_error

        known = text_error(exc, output.workspace().db_path)
        if known is None:
            raise
        raise known from exc


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app and map every outcome to an exit code."""
    command = typer.main.get_command(app)
    startup.plain_coercion()
    startup.sqlite_utils_without_numpy()
    args, wants_json = _arguments(argv)
    try:
        code = _run(command, args)
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        code = INTERRUPTED
    except _click_exceptions() as exc:
        exc.show()  # type: ignore[attr-defined]
        code = USAGE if exc.exit_code == 2 else exc.exit_code  # type: ignore[attr-defined]
        if wants_json:
            _json_error(exc.format_message(), None, code)  # type: ignore[attr-defined]
    except MultichanError as exc:
        if output.STATE.traceback:
            output.print_traceback()
        output.error(exc.message, hint=exc.hint)
        code = exc.exit_code
        if wants_json:
            _json_error(exc.message, exc.hint, code)
    except KeyboardInterrupt:
        output.error("interrupted")
        code = INTERRUPTED
    except BrokenPipeError:
        code = 0
    except Exception as exc:  # the last resort: a bug, never a silent crash
        if output.STATE.traceback:
            output.print_traceback()
        message = f"unexpected {type(exc).__name__}: {exc}"
        output.error(message, hint="rerun with --traceback and report it")
        code = UNEXPECTED
        if wants_json:
            _json_error(message, "rerun with --traceback and report it", code)
    if code == INTERRUPTED:  # typer turns Ctrl-C into a silent exit 130
        output.error("interrupted")
    sys.exit(code if isinstance(code, int) else 0)


def run() -> None:
    """The ``multichan`` command (and ``python -m multichan``): ``main``, then a quick exit.
    Everything still in memory goes with the process, so the interpreter's last garbage
    collection is spared walking it (about 40 ms of every run, a cron job's included)."""
    try:
        main()
    finally:
        gc.freeze()
