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
