"""Templates written as macros: ``header()``, ``item(o, index)``, ``footer()``. Finds them in a
compiled template and tells the engine what the item macro needs (its index, per-location
stock), so it can render items on every core and read only what is shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from multichan.feeds import render
from multichan.offers import FIELDS


@dataclass
class Parts:
    """A template written as macros: ``header()``, ``item(o, index)`` for each offer (index
    counts from 1), ``footer()``. The engine calls them, on every core for large feeds."""

    header: str
    item: Callable[[Any, int], str]
    footer: str
    uses_index: bool  # False: an item can be rendered before the count ahead of it is known
    reads_locations: bool = True  # False: the item macro never reads o.location_quantities
    # ``withdrawn(sku, stores, index)``: the item of a SKU an updating feed no longer offers
    # (``stores``: the store codes it was listed at, for a per-location feed; else [])
    withdrawn: Callable[[str, list[str], int], str] | None = None


def parts(template: Any, context: dict[str, Any]) -> Parts | None:
    """The macros of a template written as header/item/footer (every default template is),
    or None for a template that loops over ``offers`` itself (rendered by ``generate``).

    A macro template defines ``item``, never mentions ``offers`` and prints nothing outside
    its macros; ``header``, ``footer`` and ``withdrawn`` may be left out."""
    from jinja2 import nodes
    from jinja2.runtime import Macro

    env = template.environment
    with render.located(template):  # the time budget of an item: top-level code runs here
        try:
            tree = env.parse(env.loader.get_source(env, template.name)[0])
            module = template.make_module(dict(context, offers=()))
        except Exception:
            return None  # rendering it the classic way reports the problem with file:line
    item = getattr(module, "item", None)
    names = {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"}
    if not isinstance(item, Macro) or "offers" in names or str(module).strip():
        return None
    with render.located(template):
        header, footer = (
            macro() if isinstance(macro := getattr(module, name, None), Macro) else ""
            for name in ("header", "footer")
        )
    locations = reads(tree, "location_quantities")
    withdrawn = getattr(module, "withdrawn", None)
    withdrawn = withdrawn if isinstance(withdrawn, Macro) else None
    return Parts(header, _direct(item), footer, _uses_index(tree), locations, withdrawn)


def _direct(macro: Any) -> Callable[[Any, int], str]:
    """The item macro as a plain function: for the usual ``item(o, index)`` its compiled
    body itself (Macro.__call__'s argument handling costs a third of a small item). That body
    is Jinja's private ``Macro._func``: render.check_jinja makes sure it still gives what the
    macro gives before any feed is rendered."""
    if len(macro.arguments) == 1:
        return lambda o, index: macro(o)
    func = getattr(macro, "_func", None)
    special = macro.catch_kwargs or macro.catch_varargs or macro.caller
    return macro if func is None or special or len(macro.arguments) != 2 else func


def _uses_index(tree: Any) -> bool:
    """Whether the item macro reads its second argument (when unsure: yes)."""
    from jinja2 import nodes

    for macro in tree.find_all(nodes.Macro):
        if macro.name == "item":
            if len(macro.args) < 2:
                return False
            name = macro.args[1].name
            return any(n.name == name and n.ctx == "load" for n in macro.find_all(nodes.Name))
    return True


def mentions(template: Any, name: str) -> bool:
    """Whether ``template``'s source reads the variable ``name`` anywhere."""
    from jinja2 import nodes

    env = template.environment
    tree = env.parse(env.loader.get_source(env, template.name)[0])
    return any(n.name == name and n.ctx == "load" for n in tree.find_all(nodes.Name))


def reads(tree: Any, field: str) -> bool:
    """Whether the item macro may read its offer's ``field``: False only when it reads the
    offer field by field (``o.title``, ``o["price"]``) and never that one. Passing the
    offer on (to a macro, a filter, ``set``), printing it whole, calling its methods or
    rebinding its name count as reading every field."""
    from jinja2 import nodes

    macro = next((m for m in tree.find_all(nodes.Macro) if m.name == "item"), None)
    if macro is None or not macro.args:
        return True
    name = macro.args[0].name
    body = nodes.Scope(macro.body)  # the macro's statements, without its parameters
    uses = [n for n in body.find_all(nodes.Name) if n.name == name]
    if any(n.ctx != "load" for n in uses) or any(body.find_all((nodes.Include, nodes.Import))):
        return True  # (an included template sees the macro's variables)

    def offer(node: Any) -> bool:
        return isinstance(node, nodes.Name) and node.name == name

    fields = [n.attr for n in body.find_all(nodes.Getattr) if offer(n.node)]
    fields += [  # o["price"]; o[key] counts as o itself
        n.arg.value
        for n in body.find_all(nodes.Getitem)
        if offer(n.node) and isinstance(n.arg, nodes.Const)
    ]
    if len(fields) != len(uses) or field in fields:
        return True
    return not set(fields) <= set(FIELDS)  # a method, o.as_dict(): every field
