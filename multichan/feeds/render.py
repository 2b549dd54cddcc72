"""The Jinja environment for feed templates: sandboxed, strict, and escaping for the format.

Every ``{{ value }}`` passes through the format's finalizer: XML escaping, CSV quoting with a
spreadsheet formula guard, TSV cleaning, or JSON encoding; control characters are dropped
everywhere. Templates never compute prices or quantities: they print what offers hold.

The compiler builds on Jinja internals; ``check_jinja`` refuses a jinja2 release that changed
them, with an error naming it, before the first template is compiled.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import re
import traceback
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from multichan.errors import TemplateError

CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CONTROL_TABLE = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
XML_TABLE = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;", **CONTROL_TABLE}
)

try:  # MarkupSafe's C escaper (&<>"' -> entities), 3.0+; XML_TABLE is the reference
    _c_escape: Any = importlib.import_module("markupsafe._speedups")._escape_inner
except (ImportError, AttributeError):  # pragma: no cover - older MarkupSafe, or no C speedups
    _c_escape = None


def _clean(text: str) -> str:
    """``text`` without control characters; printable text (the usual case) is returned as is."""
    return text if text.isprintable() else CONTROL_RE.sub("", text)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _clean(str(value))


def escape_xml(value: Any) -> str:
    """XML text: markup characters escaped and control characters dropped."""
    if type(value) is str:  # inlined _clean: this runs for every value of every item
        text = value if value.isprintable() else CONTROL_RE.sub("", value)
    else:
        text = _text(value)
    return _c_escape(text)  # quotes as &#34; and &#39;: XML's numeric references


def _escape_xml_reference(value: Any) -> str:
    """escape_xml in one str.translate: the definition, and the fallback without MarkupSafe's
    C escaper."""
    return (value if type(value) is str else _text(value)).translate(XML_TABLE)


if _c_escape is None:  # pragma: no cover - older MarkupSafe
    escape_xml = _escape_xml_reference


def _guard(value: Any, text: str) -> str:
    """Stop spreadsheets from running a cell as a formula (OWASP CSV injection)."""
    if isinstance(value, str) and text.startswith(FORMULA_START):
        return "'" + text
    return text


def escape_csv(value: Any) -> str:
    if type(value) is str:
        text = value if value.isprintable() else CONTROL_RE.sub("", value)
        if text.startswith(FORMULA_START):
            text = "'" + text
    else:
        text = _guard(value, _text(value))
    return _csv_cell(text)


def _csv_cell(text: str) -> str:
    if "," in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def escape_tsv(value: Any) -> str:
    return _guard(value, _tsv_text(value))


def _tsv_text(value: Any) -> str:
    if type(value) is str:
        text = value if value.isprintable() else CONTROL_RE.sub("", value)
    else:
        text = _text(value)
    if "\t" in text or "\n" in text or "\r" in text:
        text = " ".join(text.replace("\t", " ").split())
    return text


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # only for nested values; top-level Decimals print exactly below
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def escape_json(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return _json_string(value if value.isprintable() else CONTROL_RE.sub("", value))
    if value is None:
        return "null"
    if kind is int:
        return int.__repr__(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str):
        value = CONTROL_RE.sub("", value)
    return _JSON.encode(value)


_JSON = json.JSONEncoder(ensure_ascii=False, default=_json_default)  # what json.dumps would build
_json_string = json.encoder.encode_basestring  # type: ignore[attr-defined]


ESCAPES: dict[str, Callable[[Any], str]] = {
    "xml": escape_xml, "csv": escape_csv, "tsv": escape_tsv, "json": escape_json, "text": _text,
}  # fmt: skip
# without the formula guard, for a channel that turns it off (content.formula_guard: false):
# feeds only a platform reads, where the apostrophe would show to shoppers
UNGUARDED: dict[str, Callable[[Any], str]] = {
    "csv": lambda value: _csv_cell(_text(value)), "tsv": _tsv_text,
}  # fmt: skip
EXTENSIONS = {
    ".xml": "xml",
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "tsv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}


def escape_for(template_name: str, default: str) -> str:
    """The escaping a template needs, from its name (``feed.csv.j2`` -> csv) or the default."""
    stem = template_name.removesuffix(".j2").removesuffix(".jinja")
    return EXTENSIONS.get(Path(stem).suffix.lower(), default)


def money(amount: Decimal | None, currency: str | None = None) -> str:
    """``19.99 USD`` (Google and Meta's price format); empty for no amount."""
    if amount is None:
        return ""
    text = str(amount)  # offers hold cents already: "12.50" (formatting costs more)
    if text[-3:-2] != ".":
        text = f"{amount:.2f}"
    return f"{text} {currency}" if currency else text


def plain(text: str | None) -> str:
    from multichan.text import strip_html

    return strip_html(text or "")


def environment(  # -> ImmutableSandboxedEnvironment
    search_path: list[Path], escape: str, formula_guard: bool = True
):
    """The feed environment for templates found in ``search_path``; the first one a process
    builds checks the Jinja internals it relies on (``check_jinja``)."""
    if not _jinja_checked:
        check_jinja()
    return _environment(search_path, escape, formula_guard)


def _environment(search_path: list[Path], escape: str, formula_guard: bool = True):
    from jinja2 import FileSystemLoader, StrictUndefined, nodes
    from jinja2.compiler import CodeGenerator
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from multichan.offers import FIELDS, Offer

    class FeedCodeGenerator(CodeGenerator):
        """Compiles ``o.price`` (a name, then an Offer field) to a plain attribute read when
        ``o`` is an Offer at run time, and to the sandbox's getattr otherwise: the same
        answer FeedEnvironment.getattr gives, without a method call per value. Every
        ``{{ value }}`` becomes ``t_fin(value)``: the format's finalizer, bound once per
        template, already returns the text (no ``str()`` around it). For XML, printable text
        (nearly every value) goes straight to MarkupSafe's C escaper, which is what the
        finalizer would do after a Python call of its own. A macro parameter its body never
        rebinds (``o`` of ``item(o, index)``) is checked for being an Offer once per call."""

        hoisting: list[set[str]]  # per macro being compiled: parameters checked once
        hoisted: frozenset[str] = frozenset()  # refs (l_1_o) whose check is t_is_<ref>
        params_frame: Any = None

        def macro_body(self, node: Any, frame: Any) -> Any:
            body = nodes.Scope(node.body)  # (without the parameters themselves)
            rebound = {n.name for n in body.find_all(nodes.Name) if n.ctx != "load"}
            read = {
                n.node.name for n in body.find_all(nodes.Getattr)
                if isinstance(n.node, nodes.Name) and n.attr in OFFER_FIELDS
            }  # fmt: skip
            params = {a.name for a in node.args} & read
            self.hoisting = [*getattr(self, "hoisting", []), params - rebound]
            outer, self.hoisted = self.hoisted, frozenset()
            try:
                return super().macro_body(node, frame)
            finally:
                self.hoisted = outer

        def push_parameter_definitions(self, frame: Any) -> None:
            self.params_frame = frame
            super().push_parameter_definitions(frame)

        def pop_parameter_definitions(self) -> None:
            super().pop_parameter_definitions()  # after the "parameter not provided" checks
            refs = {self.params_frame.symbols.ref(name) for name in self.hoisting.pop()}
            for ref in sorted(refs):
                self.writeline(f"t_is_{ref} = type({ref}) is t_offer")
            self.hoisted = frozenset(refs)

        def visit_Template(self, node: Any, frame: Any = None) -> None:
            self.writeline("t_fin = environment.finalize")
            self.writeline("t_esc = environment.fast_escape")
            self.writeline("t_offer = environment.offer_type")
            super().visit_Template(node, frame)

        def _fast(self) -> bool:
            return getattr(self.environment, "fast_escape", None) is not None

        def _output_child_pre(self, node: Any, frame: Any, finalize: Any) -> None:
            if not self._plain(frame, finalize):
                super()._output_child_pre(node, frame, finalize)
            elif self._fast():
                self.write("(t_esc(t_v) if type(t_v := ")
            else:
                self.write("t_fin(")

        def _output_child_post(self, node: Any, frame: Any, finalize: Any) -> None:
            if not self._plain(frame, finalize):
                super()._output_child_post(node, frame, finalize)
            elif self._fast():
                self.write(") is str and t_v.isprintable() else t_fin(t_v))")
            else:
                self.write(")")

        @staticmethod
        def _plain(frame: Any, finalize: Any) -> bool:
            eval_ctx = frame.eval_ctx
            plain = not (eval_ctx.volatile or eval_ctx.autoescape)
            return plain and finalize.src == "environment.finalize("

        def visit_Getattr(self, node: Any, frame: Any) -> None:
            if not (
                node.attr in OFFER_FIELDS
                and isinstance(node.node, nodes.Name)
                and not self.environment.is_async
            ):
                super().visit_Getattr(node, frame)
                return
            ref = frame.symbols.find_ref(node.node.name)
            if ref in self.hoisted:
                check = f"t_is_{ref}"
                self.write(f"({ref}.{node.attr} if {check} else environment.getattr({ref}, ")
                self.write(f"{node.attr!r}))")
                return
            self.write("(")
            self.visit(node.node, frame)
            self.write(f".{node.attr} if type(")
            self.visit(node.node, frame)
            self.write(") is t_offer else environment.getattr(")
            self.visit(node.node, frame)
            self.write(f", {node.attr!r}))")

    class FeedEnvironment(ImmutableSandboxedEnvironment):
        """The sandbox, with a fast path for Offer: a plain data object whose public fields
        are all safe to read (the sandbox's generic checks cost more than the rendering)."""

        code_generator_class = FeedCodeGenerator
        offer_type: type  # set on the instance: compiled templates read it for every value
        fast_escape: Callable[[str], str] | None  # escapes printable text like finalize

        def getattr(self, obj: Any, attribute: str) -> Any:
            if type(obj) is Offer and attribute in OFFER_FIELDS:
                return getattr(obj, attribute)
            return super().getattr(obj, attribute)

        def getitem(self, obj: Any, argument: Any) -> Any:
            if type(obj) is Offer and argument in OFFER_FIELDS:
                return getattr(obj, argument)
            return super().getitem(obj, argument)

    OFFER_FIELDS = frozenset(FIELDS)
    env = FeedEnvironment(
        loader=FileSystemLoader([str(p) for p in search_path]),
        undefined=StrictUndefined,
        autoescape=False,
        finalize=ESCAPES[escape] if formula_guard else UNGUARDED.get(escape, ESCAPES[escape]),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.offer_type = Offer
    env.fast_escape = _c_escape if ESCAPES[escape] is escape_xml else None
    env.filters["money"] = money
    env.filters["plain"] = plain
    env.filters["raw_json"] = lambda v: json.dumps(v, ensure_ascii=False, default=str)
    return env


# --- the Jinja internals the feed compiler relies on ------------------------------------------
# FeedCodeGenerator overrides private CodeGenerator methods, macros.parts calls an item macro's
# compiled body (Macro._func) and generate calls Template.root_render_func: pyproject.toml pins
# jinja2 to the releases this was tested with, and check_jinja refuses any other release whose
# internals differ, before a feed is written (a changed internal must stop an export, never
# turn into a feed with wrong values)
JINJA_TESTED = ">=3.1,<3.2"  # the same range as pyproject.toml's
CODE_GENERATOR_HOOKS = {  # method: its parameters
    "_output_child_pre": ("self", "node", "frame", "finalize"),
    "_output_child_post": ("self", "node", "frame", "finalize"),
    "macro_body": ("self", "node", "frame"),
    "push_parameter_definitions": ("self", "frame"),
    "pop_parameter_definitions": ("self",),
    "visit_Template": ("self", "node", "frame"),
    "visit_Getattr": ("self", "node", "frame"),
    "write": ("self", "x"),
    "writeline": ("self", "x", "node", "extra"),
}
SYMBOLS_METHODS = {"ref": ("self", "name"), "find_ref": ("self", "name")}
# a template using every path FeedCodeGenerator compiles, and what it must render (XML)
SELF_TEST = (
    '{% macro item(o, index) %}<i n="{{ index }}">{{ o.title }}|{{ o.price }}</i>{% endmacro %}'
    "{% for o in offers %}{{ o.title }};{% endfor %}"
)
SELF_TEST_ITEM = '<i n="2">A &amp; B|1.50</i>'
SELF_TEST_LOOP = "A &amp; B;C&lt;D;"
# what the generated code holds when each hook ran: (marker, hook)
SELF_TEST_MARKERS = (
    ("t_fin = environment.finalize", "CodeGenerator.visit_Template"),
    ("(t_esc(t_v) if type(t_v := ", "CodeGenerator._output_child_pre"),
    (") is str and t_v.isprintable() else t_fin(t_v))", "CodeGenerator._output_child_post"),
    (" is t_offer else environment.getattr(", "CodeGenerator.visit_Getattr"),
    ("t_is_", "CodeGenerator.pop_parameter_definitions"),
)
_jinja_checked = False


def check_jinja() -> None:
    """Raise a MultichanError naming the installed jinja2 and what changed when the Jinja
    internals the feed compiler relies on are not what they were in the tested releases:
    the methods FeedCodeGenerator overrides, with their parameters, and the output of a
    template through every path it compiles (a Getattr on an Offer and on anything else, the
    XML fast escape, an item macro's ``_func``, ``root_render_func``). Once per process."""
    global _jinja_checked
    import jinja2

    from multichan.errors import MultichanError

    problems = jinja_problems()
    if problems:
        fix = f"install a tested release: pip install 'jinja2{JINJA_TESTED}'"
        raise MultichanError(
            f"jinja2 {jinja2.__version__} changed internals multichan's feed compiler relies "
            f"on (tested with jinja2{JINJA_TESTED}): {'; '.join(problems)}; {fix}",
            hint=fix,
        )
    _jinja_checked = True


def jinja_problems() -> list[str]:
    """What differs from the tested jinja2 releases (empty: nothing)."""
    import inspect

    from jinja2 import compiler, idtracking

    problems = []
    for cls, methods in (
        (compiler.CodeGenerator, CODE_GENERATOR_HOOKS),
        (idtracking.Symbols, SYMBOLS_METHODS),
    ):
        for name, expected in methods.items():
            method = getattr(cls, name, None)
            if not callable(method):
                problems.append(f"{cls.__name__}.{name} is gone")
                continue
            found = tuple(inspect.signature(method).parameters)
            if found != expected:
                problems.append(
                    f"{cls.__name__}.{name}({', '.join(found)}) is not ({', '.join(expected)})"
                )
    info = getattr(compiler.CodeGenerator, "_FinalizeInfo", None)
    if getattr(info, "_fields", None) != ("const", "src"):
        problems.append("CodeGenerator._FinalizeInfo is not (const, src)")
    if problems:
        return problems
    try:
        return _self_test()
    except Exception as exc:
        return [f"the test template failed: {type(exc).__name__}: {exc}"]


def _self_test() -> list[str]:
    from jinja2.runtime import Macro

    from multichan.offers import FIELDS, Offer

    env = _environment([], "xml")
    code = env.compile(SELF_TEST, raw=True)
    problems = [
        f"{hook} is no longer called (its generated code is missing)"
        for marker, hook in SELF_TEST_MARKERS
        if marker not in code
    ]
    fields: dict[str, Any] = {**dict.fromkeys(FIELDS), "title": "A & B", "price": Decimal("1.50")}
    offer = Offer(**fields)
    template = env.from_string(SELF_TEST)
    item = getattr(template.make_module({"offers": ()}), "item", None)
    func = getattr(item, "_func", None)
    if not isinstance(item, Macro) or not callable(func):
        problems.append("Macro._func (a macro's compiled body) is gone")
    elif (got := func(offer, 2)) != SELF_TEST_ITEM or item(offer, 2) != SELF_TEST_ITEM:
        problems.append(f"Macro._func(o, 2) gives {got!r}, not {SELF_TEST_ITEM!r}")
    root = getattr(template, "root_render_func", None)
    if not callable(root):
        problems.append("Template.root_render_func is gone")
    else:
        context = template.new_context({"offers": [offer, {"title": "C<D\x01"}]})
        if (got := "".join(root(context))) != SELF_TEST_LOOP:
            problems.append(f"Template.root_render_func gives {got!r}, not {SELF_TEST_LOOP!r}")
    return problems


def load(env: Any, name: str):  # -> jinja2.Template
    """Compile a template; a syntax error names the file and line."""
    from jinja2 import TemplateNotFound, TemplateSyntaxError

    try:
        return env.get_template(name)
    except TemplateNotFound:
        raise TemplateError(f"template {name} not found in {env.loader.searchpath[0]}") from None
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{exc.filename or name}:{exc.lineno}: {exc.message}") from None


@contextlib.contextmanager
def located(template: Any) -> Iterator[None]:
    """Turn a runtime error in ``template`` into a TemplateError naming its file and line."""
    from jinja2 import TemplateError as JinjaError
    from jinja2.exceptions import SecurityError

    try:
        yield
    except (JinjaError, SecurityError, TypeError, ValueError, AttributeError) as exc:
        raise TemplateError(f"{_where(exc, template)}: {exc}") from None


def generate(template: Any, context: dict[str, Any]) -> Iterator[str]:
    """Stream the rendered text; a runtime error names the template file and line."""
    with located(template):
        # the compiled render function itself: one generator layer less than generate()
        yield from template.root_render_func(template.new_context(context))


def _where(exc: BaseException, template: Any) -> str:
    """``file:line`` in the template source for an error raised while rendering it."""
    filename, line = template.filename, None
    for frame in traceback.extract_tb(exc.__traceback__):
        if filename and frame.filename == filename and frame.lineno is not None:
            line = template.get_corresponding_lineno(frame.lineno)
    return f"{filename}:{line}" if line else str(filename)
