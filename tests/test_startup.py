"""Start-up: `multichan --help`, `--version` and every command's `--help` import only the CLI
layer, never the engine or the libraries behind it, so a cron job or a seller asking for help
does not pay for Jinja, SQLite, HTTP or SSH. This guards which modules start-up imports; how
long it takes is bench/startup_bench.py's job (a clock in a test is flaky on a busy machine)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions

from tests.conftest import REPO

# the only distribution multichan depends on that start-up may import
STARTUP_DISTRIBUTIONS = {"typer"}
# the multichan modules start-up may import: the CLI layer and the error tree
STARTUP_MODULES = re.compile(r"multichan(\.__main__|\.errors|\.cli(\..+)?)?")

# Runs `multichan ARGS` the way the console script does, for `--help`, `--version` and each
# command's `--help`, in one process, and prints which modules each one added (as JSON).
PROBE = """
import json, sys
from typer.main import get_command
from multichan.cli import app, main

def run(args):
    before = set(sys.modules)
    try:
        main(args)
    except SystemExit:
        pass
    return sorted(set(sys.modules) - before)

added = {"--version": run(["--version"]), "--help": run(["--help"])}
group = get_command(app)
for name in group.list_commands(None):
    added[name + " --help"] = run([name, "--help"])
    sub = group.get_command(None, name)
    for child in getattr(sub, "list_commands", lambda ctx: [])(None):
        added[f"{name} {child} --help"] = run([name, child, "--help"])
added["(before any command)"] = sorted(sys.modules)
print(json.dumps(added))
"""


def startup_imports() -> dict[str, list[str]]:
    """Each start-up command -> the modules it imported (beyond the ones before it)."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def dependency_imports() -> dict[str, str]:
    """Every top-level module of a distribution multichan depends on (runtime and extras),
    except typer's, -> that distribution: what start-up must not import."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    names = {_canonical(re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0]) for r in requirements}
    names -= STARTUP_DISTRIBUTIONS
    return {
        module: dist
        for module, dists in packages_distributions().items()
        for dist in dists
        if _canonical(dist) in names and not module.startswith("_")
    }


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_start_up_imports_no_dependency_but_typer() -> None:
    forbidden = dependency_imports()
    assert {"jinja2", "sqlite_utils", "requests", "yaml", "paramiko"} <= set(forbidden)
    assert {"matplotlib", "aiosmtpd"} <= set(forbidden)  # the charts and test extras
    pulled = {
        command: sorted({m.split(".")[0] for m in modules} & set(forbidden))
        for command, modules in startup_imports().items()
    }
    assert {command: found for command, found in pulled.items() if found} == {}, (
        "start-up imports these libraries; import them inside the command that needs them"
    )


def test_start_up_imports_only_the_cli_layer_of_multichan() -> None:
    found = startup_imports()
    assert len(found) > 10  # --help, --version and the commands' own --help were all run
    engine = {
        command: [
            m for m in modules if m.startswith("multichan") and not STARTUP_MODULES.fullmatch(m)
        ]
        for command, modules in found.items()
    }
    assert {command: mods for command, mods in engine.items() if mods} == {}, (
        "start-up imports engine modules; import them inside the command that runs them"
    )


def test_a_real_start_up_prints_the_version_with_no_tty() -> None:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "multichan", "--version"],
        cwd=REPO,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert out.returncode == 0 and out.stdout.startswith("multichan "), out.stderr[-2000:]
    imported = {line.rsplit("|", 1)[1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert "multichan.cli" in imported and not set(dependency_imports()) & {
        m.split(".")[0] for m in imported
    }


# Runs a real command (an export of the demo workspace) in one process, then says which of
# the libraries multichan never uses were loaded, and whether numpy still imports afterwards
REAL_RUN = """
import importlib.util, json, sys
from multichan.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
loaded = sorted(m for m in ("pydantic", "numpy", "pandas") if m in sys.modules)
usable = importlib.util.find_spec("numpy") is None or bool(importlib.import_module("numpy"))
print(json.dumps({"code": code, "loaded": loaded, "numpy_usable": usable}))
"""


def test_a_command_loads_neither_pydantic_nor_numpy(tmp_path) -> None:
    subprocess.run(
        [sys.executable, "-m", "multichan", "init", "--demo", str(tmp_path / "shop")],
        check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=60,
    )  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", REAL_RUN, "-w", str(tmp_path / "shop"), "export", "google"],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120,
    )  # fmt: skip
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["code"] == 0, out.stderr[-2000:]
    assert (tmp_path / "shop" / "feeds" / "google.xml").stat().st_size > 10_000
    assert result["loaded"] == []  # typer's pydantic adapters and sqlite-utils' numpy: 0.12 s
    assert result["numpy_usable"]  # hidden from sqlite-utils only, not from a plugin


def test_plain_coercion_gives_what_typers_adapters_give() -> None:
    from pathlib import Path

    from typer._coercion import build_runtime_param, resolve_type_descriptor
    from typer.models import OptionInfo

    from multichan.cli import startup

    startup.plain_coercion()
    import typer.core

    plain_build = typer.core.build_runtime_param
    assert getattr(plain_build, "plain", False), "typer's internals moved: startup.py is idle"
    cases = {
        str: ["", "x", "ünï", " spaced "],
        int: ["0", "7", "-3", "+12", "007", 5],
        Path: ["a/b", "/abs", "."],
        bool: [True, False],
        list[str]: [("a", "b"), ["c"], ()],
    }
    for annotation, values in cases.items():
        descriptor = resolve_type_descriptor(annotation, OptionInfo())
        plain, typers = plain_build(descriptor), build_runtime_param(descriptor)
        assert type(plain).__name__ == "PlainRuntimeParam"
        for value in values:
            mine = plain._coerce_value(value, param=None, ctx=None)
            theirs = typers._coerce_value(value, param=None, ctx=None)
            assert (mine, type(mine)) == (theirs, type(theirs)), (annotation, value)
    # what is not plain goes to typer's adapter, and its wording
    descriptor = resolve_type_descriptor(int, OptionInfo())
    for odd in (" 4", "4_000"):
        assert plain_build(descriptor)._coerce_value(odd, param=None, ctx=None) == int(odd)


def test_a_bad_number_is_still_worded_by_typer(workspace) -> None:
    from tests.conftest import run_cli

    result = run_cli("-w", workspace, "catalog", "list", "--limit", "abc")
    assert result.code == 2
    assert "Invalid value for '--limit'" in result.output
    assert "valid integer" in result.output
