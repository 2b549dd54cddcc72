"""What a `multichan` command pays before its work begins, cut to what it uses.

Two libraries behind the CLI import far more than multichan needs, on every run:

- Typer coerces each parameter's value through a pydantic ``TypeAdapter``, built the first
  time a non-flag parameter is seen: importing pydantic and building adapters takes about
  0.1 s. ``plain_coercion`` gives the parameters multichan declares as ``bool``, ``str``,
  ``int``, ``Path`` or ``list[str]`` a coercion in plain Python that returns exactly what the
  adapter returns for the ordinary value (a string, digits, a list of strings); any other
  value goes to typer's own adapter, built then, so odd input is judged, and worded, as
  before.
- sqlite-utils imports pandas and numpy when they are installed, only to map their scalar
  types on insert (multichan never inserts one): numpy alone is about 0.05 s.
  ``sqlite_utils_without_numpy`` hides both from sqlite-utils while its ``db`` module loads,
  and from nothing else: a plugin that imports numpy later gets it as usual.

Both rely on internals of the pinned versions; when those are missing (another version), they
do nothing and the command runs as it would without them (tests/test_startup.py checks they
take effect with the versions installed).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

# sqlite-utils' optional imports that multichan never needs
HIDDEN = ("numpy", "pandas")
DIGITS = re.compile(r"[+-]?[0-9]+")
SLOW = object()  # a plain coercion's "not mine: ask typer's adapter"


def _plain_bool(value: Any) -> Any:
    return value if isinstance(value, bool) else SLOW


def _plain_str(value: Any) -> Any:
    return value if isinstance(value, str) else SLOW


def _plain_int(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and DIGITS.fullmatch(value) and len(value) < 20:
        return int(value)
    return SLOW


def _plain_path(value: Any) -> Any:
    if isinstance(value, Path):
        return value
    return Path(value) if isinstance(value, str) and value else SLOW


def _plain_strings(value: Any) -> Any:
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    return SLOW


PLAIN: dict[Any, Callable[[Any], Any]] = {
    bool: _plain_bool,
    str: _plain_str,
    int: _plain_int,
    Path: _plain_path,
    list[str]: _plain_strings,
}


def plain_coercion() -> None:
    """Make typer build the plain coercion for every plain parameter (see the module
    docstring), and its own adapter for the others. Idempotent."""
    try:
        import typer.core as core
        from typer._coercion import RuntimeParam
    except ImportError:
        return
    typers: Callable[[Any], Any] | None = getattr(core, "build_runtime_param", None)
    if typers is None or getattr(typers, "plain", False):
        return
    build_typers: Callable[[Any], Any] = typers

    @dataclass(frozen=True)
    class PlainRuntimeParam(RuntimeParam):  # type: ignore[misc, valid-type]
        plain: Callable[[Any], Any]
        descriptor: Any

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            out = self.plain(value)
            if out is SLOW:
                return build_typers(self.descriptor)._coerce_value(value, param=param, ctx=ctx)
            return out

    def build_runtime_param(descriptor: Any) -> Any:
        info = descriptor.parameter_info
        plain = PLAIN.get(descriptor.annotation)
        if (
            plain is None
            or descriptor.file_annotation is not None
            or descriptor.is_choice
            or getattr(info, "min", None) is not None
            or getattr(info, "max", None) is not None
        ):
            return build_typers(descriptor)
        return PlainRuntimeParam(
            parameter_info=info, annotation=descriptor.annotation, plain=plain,
            descriptor=descriptor,
        )  # fmt: skip

    build_runtime_param.plain = True  # type: ignore[attr-defined]
    core.build_runtime_param = build_runtime_param


class _WithoutNumpy(importlib.abc.MetaPathFinder):
    """Finds ``sqlite_utils.db`` as the path finder does, and loads it with HIDDEN hidden."""

    def find_spec(
        self, name: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != "sqlite_utils.db":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        loader = spec.loader if spec else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        real = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            hidden = [m for m in HIDDEN if m not in sys.modules]
            for m in hidden:
                sys.modules[m] = None  # type: ignore[assignment]  # import raises ImportError
            try:
                real(module)
            finally:
                for m in hidden:
                    if sys.modules.get(m, SLOW) is None:
                        del sys.modules[m]

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def sqlite_utils_without_numpy() -> None:
    """Load sqlite-utils, whenever it is first imported, without pandas or numpy."""
    if "sqlite_utils.db" in sys.modules or any(isinstance(f, _WithoutNumpy) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _WithoutNumpy())
