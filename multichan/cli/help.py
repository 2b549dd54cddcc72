"""How help pages name arguments and option values: click's plain style, in one place.

Typer's plain help (``rich_markup_mode=None``) writes ``SKU <str>`` in the argument list,
``{SKU} {QUANTITY}`` in the usage line and ``--workspace <path>`` for an option's value.
``plain_metavars`` makes them read as click writes them: ``Usage: multichan stock set
[OPTIONS] SKU QUANTITY``, an argument listed by its name, ``--workspace PATH``, ``--limit
INTEGER``, ``--only [listings|prices]``. It adjusts typer's ``TyperArgument`` and
``TyperOption`` display methods, and only those that exist: a typer without them already
writes click's style and is left alone.
"""

from __future__ import annotations

import re
from typing import Any

# typer's type labels (inside its <...>) -> click's metavar
CLICK_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "bool": "BOOLEAN"}
LABEL_RE = re.compile(r"^<(?:list\[)?(.*?)\]?>(\.\.\.)?$")


def click_metavar(label: str | None) -> str | None:
    """``<int>`` -> ``INTEGER``, ``<path>`` -> ``PATH``, ``<a|b>`` -> ``[a|b]``; anything
    not in typer's ``<...>`` form is kept."""
    if not label:
        return label
    match = LABEL_RE.match(label)
    if match is None:
        return label
    name, more = match.group(1), match.group(2) or ""
    if "|" in name:
        return f"[{name}]{more}"
    return CLICK_NAMES.get(name, name.upper()) + more


def _argument_usage(self: Any) -> str:
    name = self.metavar if self.metavar is not None else self.name.upper()
    if self.nargs != 1 and not name.endswith("..."):
        name += "..."
    return name if self.required else f"[{name}]"


def _argument_name(self: Any) -> str:
    """The name in the argument list: as in the usage line, without its brackets."""
    name = self.metavar if self.metavar is not None else self.name.upper()
    return name + "..." if self.nargs != 1 and not name.endswith("...") else name


def _argument_type(self: Any, ctx: Any) -> None:
    return None  # the argument list shows the name only, as click's usage does


def _option_type(original: Any) -> Any:
    def display(self: Any, ctx: Any) -> str | None:
        if self.metavar is not None:
            return str(self.metavar)
        return click_metavar(original(self, ctx))

    return display


def plain_metavars() -> None:
    """Make typer's help name arguments and option values as click does (idempotent)."""
    try:
        from typer.core import TyperArgument, TyperOption
    except ImportError:  # a typer without them writes click's style
        return
    if getattr(TyperOption, "_multichan_plain", False):
        return
    if hasattr(TyperArgument, "_usage_display_name"):
        TyperArgument._usage_display_name = _argument_usage  # type: ignore[method-assign]
    if hasattr(TyperArgument, "_rich_display_name"):
        TyperArgument._rich_display_name = _argument_name  # type: ignore[method-assign]
    if hasattr(TyperArgument, "display_type_rich"):
        TyperArgument.display_type_rich = _argument_type  # type: ignore[method-assign,assignment]
    if hasattr(TyperOption, "display_type_rich"):
        TyperOption.display_type_rich = _option_type(  # type: ignore[method-assign]
            TyperOption.display_type_rich
        )
    TyperOption._multichan_plain = True  # type: ignore[attr-defined]
