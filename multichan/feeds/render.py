"""The Jinja environment for feed templates: sandboxed, strict, and escaping for the format.

Every ``{{ value }}`` passes through the format's finalizer: XML escaping, CSV quoting with a
spreadsheet formula guard, TSV cleaning, or JSON encoding; control characters are dropped
everywhere, and XML also drops every other character XML 1.0 forbids (surrogates, U+FFFE,
U+FFFF). Templates never compute prices or quantities: they print what offers hold.

A template is untrusted code with bounds: ``range()`` of at most MAX_RANGE items, strings and
lists of at most MAX_TEXT characters or items (``*``, ``+``, ``~``, ``%``, the string methods
and filters that grow text), integers of at most MAX_DIGITS digits, at most MAX_TEXT
characters from a macro (an item), recursion to Python's limit and ITEM_SECONDS of CPU time
per item. Any error a template raises, a bound hit included, is a TemplateError naming the
template file, its line and the bound (``located``).

The compiler builds on Jinja internals; ``check_jinja`` refuses a jinja2 release that changed
them, with an error naming it, before the first template is compiled.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import re
import sys
import traceback
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from multichan.errors import TemplateError
from multichan.money import feed_price as money  # the templates' "money" filter

CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CONTROL_TABLE = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
# what XML 1.0's Char production leaves out beyond the control characters: surrogates (lone
# ones: a str can hold them) and U+FFFE, U+FFFF; lxml and expat reject a feed holding any
NOT_XML_TABLE = {**CONTROL_TABLE, **dict.fromkeys([*range(0xD800, 0xE000), 0xFFFE, 0xFFFF])}
NOT_XML_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
XML_TABLE = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;", **NOT_XML_TABLE}
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
    """XML text: markup characters escaped, and control characters and every other character
    XML 1.0 forbids dropped (printable text, nearly every value, holds none of them)."""
    if type(value) is str:  # inlined _clean: this runs for every value of every item
        text = value if value.isprintable() else NOT_XML_RE.sub("", value)
    else:
        text = _text(value)
        if not text.isprintable():
            text = NOT_XML_RE.sub("", text)
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


def plain(text: str | None) -> str:
    from multichan.text import strip_html

    return strip_html(text or "")


# --- the bounds on what a template computes -------------------------------------------------
# A template is code from the workspace: whatever it does, an export ends with its answer or
# an error naming the template, the line and the bound, never by running out of memory or
# time. Only the operations that can explode are checked (the item macro of a default template
# goes through none of them but the bounded join of its own output).
MAX_RANGE = 100_000  # items of one range()
MAX_TEXT = 1_000_000  # characters (or items) of a string or list built, and of a macro's output
MAX_DIGITS = 4_300  # digits of an integer computed (Python's own limit for printing one)
ITEM_SECONDS = 2.0  # CPU time to render one item (or the header, the footer, a classic loop's step)
TICK = 0.1  # seconds of CPU time between two checks of the time budget and output so far
# memory a template may take beyond what the process had (Linux: RLIMIT_AS while it renders),
# for what the checks cannot see coming: str() of a list holding a million long strings
MEMORY_HEADROOM = 2 << 30
GROWING = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "replace", "join",
                     "translate"})  # fmt: skip
SIZED = (str, bytes, list, tuple)  # what ``*`` and ``+`` can grow
SPEC_NUMBER = re.compile(r"\d+")
PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


class TemplateLimit(Exception):
    """A template went over one of the bounds; ``located`` turns it into a TemplateError
    naming the template file and line. ``lineno``: the line, when the traceback has none."""

    def __init__(self, message: str, lineno: int | None = None) -> None:
        super().__init__(message)
        self.lineno = lineno


class TemplateStopped(BaseException):
    """A template stopped by the watch (``Watch``): an item took more than ITEM_SECONDS, or
    a macro's output so far is over MAX_TEXT. Raised by a signal handler wherever the
    template is, hence a BaseException: no ``except Exception`` on the way can swallow it."""


def _over(what: str, size: int, limit: int | None = None, unit: str = "characters") -> None:
    limit = MAX_TEXT if limit is None else limit
    if size > limit:
        raise TemplateLimit(f"{what} would be {size:,} {unit}, over the limit of {limit:,}")


def _digits(number: int) -> int:
    return int(abs(number).bit_length() * 0.30103) + 1


def bounded_range(*args: int) -> range:
    """``range()`` for templates: at most MAX_RANGE items."""
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise TemplateLimit(f"range() of {len(numbers):,} items is over the limit of {MAX_RANGE:,}")
    return numbers


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Raise TemplateLimit when ``left operator right`` would build a string, list or
    integer over the bounds (``*``, ``**``, ``+``, ``%``: the intercepted operators). The
    message is only built for an operation over them: this runs for every ``+`` of an item."""
    if operator == "+":
        if isinstance(left, SIZED) and isinstance(right, SIZED):
            size = len(left) + len(right)
            if size > MAX_TEXT:
                _over(f"{_shown(left)} + {_shown(right)}", size, unit=_unit(left))
    elif operator == "*":
        if isinstance(left, SIZED) and type(right) is int:
            size = len(left) * right
            if size > MAX_TEXT:
                _over(f"{_shown(left)} * {right}", size, unit=_unit(left))
        elif isinstance(right, SIZED) and type(left) is int:
            size = len(right) * left
            if size > MAX_TEXT:
                _over(f"{left} * {_shown(right)}", size, unit=_unit(right))
        elif type(left) is int and type(right) is int:
            digits = _digits(left) + _digits(right)
            if digits > MAX_DIGITS:
                _over(f"{_short(left)} * {_short(right)}", digits, MAX_DIGITS, "digits")
    elif operator == "**":
        if type(left) is int and type(right) is int and right > 0 and abs(left) > 1:
            digits = int(right * math.log10(abs(left))) + 1
            if digits > MAX_DIGITS:
                _over(f"{_short(left)} ** {_short(right)}", digits, MAX_DIGITS, "digits")
    elif operator == "%" and isinstance(left, (str, bytes)):
        _check_percent(left, right)


def _unit(value: Any) -> str:
    if isinstance(value, str):
        return "characters"
    return "bytes" if isinstance(value, bytes) else "items"


def _shown(value: Any) -> str:
    """``'ab'``, or ``(a str of 5,000 characters)``."""
    if len(value) <= 20 and isinstance(value, (str, bytes)):
        return repr(value)
    return f"(a {type(value).__name__} of {len(value):,} {_unit(value)})"


def _short(number: int) -> str:
    return str(number) if _digits(number) <= 20 else f"(a {_digits(number):,}-digit number)"


def _check_percent(template: str | bytes, values: Any) -> None:
    """``'%0999999999d' % 1``: a width or precision over MAX_TEXT (``*`` reads the values)."""
    text = template.decode("latin-1") if isinstance(template, bytes) else template
    if "%" not in text:
        return
    numbers = [int(n) for spec in PERCENT_SPEC.findall(text) for n in spec if n.isdigit()]
    if "*" in text:
        given = values if isinstance(values, tuple) else (values,)
        numbers += [abs(v) for v in given if type(v) is int]
    _over("a %-format's width", max(numbers, default=0))


def check_format(template: str, args: tuple, kwargs: dict) -> None:
    """``'{:>999999999}'.format(1)``: a field width or precision over MAX_TEXT (a nested
    ``{}`` in the spec reads the arguments)."""
    import string

    numbers = []
    for _, field, spec, _ in string.Formatter().parse(template):
        if field is None or not spec:
            continue
        numbers += [int(n) for n in SPEC_NUMBER.findall(spec)]
        if "{" in spec:
            given = [*args, *kwargs.values()]
            numbers += [abs(v) for v in given if type(v) is int]
    _over("a format field's width", max(numbers, default=0))


def check_method(text: Any, name: str, args: tuple, kwargs: dict) -> tuple:
    """Raise TemplateLimit when ``text.name(*args)`` (a method that grows text, GROWING)
    would be over MAX_TEXT; the arguments to call it with (``join`` gets a list)."""
    what, size = f"{type(text).__name__}.{name}()", len(text)
    if name in ("center", "ljust", "rjust", "zfill") and args and type(args[0]) is int:
        size = args[0]
    elif name == "expandtabs":
        tabsize = args[0] if args else kwargs.get("tabsize", 8)
        if type(tabsize) is int:
            tab: Any = "\t" if isinstance(text, str) else b"\t"
            size += text.count(tab) * max(tabsize, 0)
    elif name == "replace" and len(args) >= 2 and isinstance(args[1], (str, bytes)):
        try:
            found = text.count(args[0])
        except TypeError:
            return args  # (the method itself says what is wrong)
        if len(args) > 2 and type(args[2]) is int and args[2] >= 0:
            found = min(found, args[2])
        size += found * (len(args[1]) - len(args[0]))
    elif name == "join" and args:
        items = list(args[0])
        size = len(text) * max(len(items) - 1, 0)
        size += sum(len(i) for i in items if isinstance(i, (str, bytes)))
        args = (items, *args[1:])
    elif name == "translate" and args and isinstance(args[0], dict):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
        size *= longest
    _over(what, size)
    return args


def _bounded_filters(filters: dict[str, Any]) -> None:
    """Replace the Jinja filters that can build text or lists over the bounds from a small
    input (``'a' | center(10**10)``) with checked ones."""
    from jinja2 import pass_environment, pass_eval_context
    from jinja2.filters import make_attrgetter, sync_do_join

    center, indent, replace = filters["center"], filters["indent"], filters["replace"]
    fmt, batch, slice_ = filters["format"], filters["batch"], filters["slice"]

    def do_center(value: Any, width: int = 80) -> str:
        if type(width) is int:
            _over("center()", width)
        return center(value, width)

    def do_indent(value: Any, width: int | str = 4, *args: Any, **kwargs: Any) -> str:
        each = width if type(width) is int else len(str(width))
        _over("indent()", len(str(value)) + (str(value).count("\n") + 1) * max(each, 0))
        return indent(value, width, *args, **kwargs)

    @pass_eval_context
    def do_replace(eval_ctx: Any, value: Any, old: Any, new: Any, count: Any = None) -> str:
        if isinstance(old, str) and isinstance(new, str) and len(new) > len(old):
            text = str(value)  # (a replacement no longer than what it replaces: no check)
            found = text.count(old) if count is None else min(text.count(old), max(count, 0))
            _over("replace()", len(text) + found * (len(new) - len(old)))
        return replace(eval_ctx, value, old, new, count)  # type: ignore[no-any-return]

    @pass_eval_context
    def do_join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> str:
        items = value if type(value) in (list, tuple) else list(value)
        if len(items) > 64 or len(str(d)) * len(items) > MAX_TEXT:  # (a few: measured after)
            size = len(str(d)) * max(len(items) - 1, 0)
            _over("join()", size + sum(len(i) for i in items if isinstance(i, str)))
        text = sync_do_join(eval_ctx, items, d, attribute)  # (join without its async check)
        if len(text) > MAX_TEXT:
            _over("join()", len(text))
        return text  # type: ignore[no-any-return]

    def do_format(value: Any, *args: Any, **kwargs: Any) -> str:
        _check_percent(str(value), args)
        text = fmt(value, *args, **kwargs)
        _over("format()", len(text))
        return text  # type: ignore[no-any-return]

    def do_batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
        if fill_with is not None and type(linecount) is int:
            _over("batch()", linecount, MAX_RANGE, "items")
        return batch(value, linecount, fill_with)

    def do_slice(value: Any, slices: int, fill_with: Any = None) -> Any:
        if type(slices) is int:
            _over("slice()", slices, MAX_RANGE, "slices")
        return slice_(value, slices, fill_with)

    @pass_environment
    def do_sum(environment: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
        if attribute is not None:
            iterable = map(make_attrgetter(environment, attribute), iterable)
        values = list(iterable)
        if not any(isinstance(v, (str, bytes, list, tuple)) for v in (start, *values[:1])):
            return sum(values, start)  # numbers: Python's own sum
        total = start
        for value in values:  # lists (strings raise below): one bounded + at a time
            check_binop("+", total, value)
            total = total + value
        return total

    filters.update(center=do_center, indent=do_indent, replace=do_replace, join=do_join,
                   format=do_format, batch=do_batch, slice=do_slice, sum=do_sum)  # fmt: skip


def bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    """Jinja's ``lipsum()``: at most MAX_RANGE words."""
    from jinja2.utils import generate_lorem_ipsum

    if type(n) is int and type(max) is int:
        _over("lipsum()", n * max, MAX_RANGE, "words")
    return generate_lorem_ipsum(n, html, min, max)


def bounded_concat(parts: Any) -> str:
    """``"".join`` for a macro's (an item's) output, a ``{% set %}`` block, a call block:
    at most MAX_TEXT characters. A few parts (the usual item) are joined then measured;
    many are measured first, so a loop printing a long value is stopped before the join."""
    if type(parts) is not list:
        parts = list(parts)
    if len(parts) > 64:
        _over("the output of a macro", sum(map(len, parts)))
    text = "".join(parts)
    if len(text) > MAX_TEXT:
        _over("the output of a macro", len(text))
    return text


def bounded_str_join(values: Any) -> str:
    """``a ~ b`` (Jinja's runtime.str_join): at most MAX_TEXT characters."""
    text = "".join(map(str, values))
    if len(text) > MAX_TEXT:
        _over("a ~ concatenation", len(text))
    return text


class Watch:
    """The time budget of the templates this process renders, and the output of their macros
    so far: while ``located`` runs, a SIGPROF interval timer ticks every TICK seconds of CPU
    time. The renderer sets ``item`` to what it renders (an offer); a tick that finds the same
    item for ITEM_SECONDS, or a template's output buffers over MAX_TEXT characters (a loop
    printing a long value: stopped before it fills the memory), raises TemplateStopped in the
    template. Workers are processes: each has its own timer. Only the main thread can take
    signals: elsewhere nothing is watched (the other bounds still hold)."""

    def __init__(self) -> None:
        self.item: Any = None  # what is being rendered (an offer), or None: the header ...
        self.count = 0  # offers handed to a template that loops over offers itself
        self.seen: Any = None
        self.ticks = 0
        self.armed = False

    def tick(self, signum: int, frame: Any) -> None:
        if not self.armed:
            return
        if self.item is not self.seen:
            self.seen, self.ticks = self.item, 0
        else:
            self.ticks += 1
        templates = _template_frames(frame)
        if not templates:
            return  # (the writer, the catalog: the next tick will find the template)
        if self.ticks * TICK >= ITEM_SECONDS:
            self.ticks = 0  # (raised once; the next tick starts counting again)
            sku = getattr(self.item, "sku", None)
            raise TemplateStopped(
                f"{f'item {sku}' if sku else 'the template'} took over {ITEM_SECONDS:g} s of "
                "CPU time to render, the time limit per item"
            )
        size = sum(_buffered(f) for f in templates)
        if size > MAX_TEXT:
            raise TemplateStopped(
                f"the output of a macro is already {size:,} characters, over the limit of "
                f"{MAX_TEXT:,}"
            )

    @contextlib.contextmanager
    def timing(self) -> Iterator[None]:
        """Watch the block (nested blocks share the outer one's watch), its memory capped."""
        import signal
        import threading

        if self.armed or threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGPROF, self.tick)
        self.item = self.seen = None
        self.ticks = 0
        self.armed = True
        old_timer = signal.setitimer(signal.ITIMER_PROF, TICK, TICK)
        try:
            with _memory_capped():
                yield
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
            self.armed = False
            if callable(previous):  # someone else's (a profiler): theirs again. Otherwise
                signal.signal(signal.SIGPROF, previous)  # ours stays: a tick on its way
                signal.setitimer(signal.ITIMER_PROF, *old_timer)  # finds armed False


WATCH = Watch()


@contextlib.contextmanager
def _memory_capped() -> Iterator[None]:
    """Cap the process's address space at its size plus MEMORY_HEADROOM for the block: a
    template that would fill the memory gets a MemoryError (a template error) rather than
    the out-of-memory killer. Linux only; a lower cap already set is kept."""
    import resource

    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            size = int(statm.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = size + MEMORY_HEADROOM
    unlimited = resource.RLIM_INFINITY
    if (soft != unlimited and soft <= cap) or (hard != unlimited and hard < cap):
        yield
        return
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _template_frames(frame: Any) -> list[Any]:
    """The frames of compiled template code on the stack of ``frame``."""
    found = []
    while frame is not None:
        if "__jinja_template__" in frame.f_globals:
            found.append(frame)
        frame = frame.f_back
    return found


def _buffered(frame: Any) -> int:
    """Characters in the output buffers (``t_1 = []``: a macro's, a set block's) of a
    template frame."""
    size = 0
    for name, value in frame.f_locals.items():
        if name.startswith("t_") and type(value) is list:
            with contextlib.suppress(TypeError):  # (strings, always: but never fail here)
                size += sum(map(len, value))
    return size


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
    from jinja2.runtime import markup_join
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
            # ``a ~ b`` calls these, imported from jinja2.runtime at the top: bounded ones
            self.writeline("str_join = environment.str_join")
            self.writeline("markup_join = environment.markup_join")

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
        are all safe to read (the sandbox's generic checks cost more than the rendering);
        and bounds on what can explode: the operators, string methods and joins that grow
        text, lists or integers (see ``check_binop``, ``check_method``, ``bounded_concat``)."""

        code_generator_class = FeedCodeGenerator
        offer_type: type  # set on the instance: compiled templates read it for every value
        fast_escape: Callable[[str], str] | None  # escapes printable text like finalize
        intercepted_binops = frozenset({"*", "**", "+", "%"})
        concat = staticmethod(bounded_concat)  # every macro's output, {% set %} blocks ...
        str_join = staticmethod(bounded_str_join)

        def markup_join(self, values: Any) -> str:
            text: str = markup_join(values)  # ``~`` under {% autoescape true %}
            if len(text) > MAX_TEXT:
                _over("a ~ concatenation", len(text))
            return text

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            check_binop(operator, left, right)
            return self.binop_table[operator](left, right)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            text = getattr(__obj, "__self__", None)
            if isinstance(text, (str, bytes)) and __obj.__name__ in GROWING:
                args = check_method(text, __obj.__name__, args, kwargs)
            return super().call(__context, __obj, *args, **kwargs)

        def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
            wrapper = super().wrap_str_format(value)
            if wrapper is None:
                return None
            template = value.__self__

            def checked(*args: Any, **kwargs: Any) -> str:
                given = args[0] if value.__name__ == "format_map" and args else kwargs
                check_format(template, args, given if isinstance(given, dict) else {})
                text = wrapper(*args, **kwargs)  # type: ignore[misc]
                _over("str.format()", len(text))
                return text

            return checked

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
    env.globals["range"] = bounded_range
    env.globals["lipsum"] = bounded_lipsum
    _bounded_filters(env.filters)
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
# what a template builds through the bounded joins and operators, each twice MAX_TEXT // 2
SELF_TEST_BOUNDS = (
    ("{% macro m(s) %}{{ s }}{{ s }}{% endmacro %}{% set x = m(s) %}", "Environment.concat"),
    ("{% set x = s ~ s %}", "runtime.str_join (~)"),
    ("{% set x = s * 2 %}", "SandboxedEnvironment.call_binop (intercepted_binops)"),
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
    half = "x" * (MAX_TEXT // 2 + 1)  # twice over the bound
    for source, what in SELF_TEST_BOUNDS:
        try:
            env.from_string(source).render(s=half)
        except TemplateLimit:
            continue
        problems.append(f"{what} is no longer bounded")
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
    except (RecursionError, MemoryError):  # (( ... )) nested thousands deep
        raise TemplateError(f"{name}: too deeply nested to compile") from None


@contextlib.contextmanager
def located(template: Any) -> Iterator[None]:
    """Run the time budget (``Watch``) over the block, and turn any error ``template``
    raises in it, a bound hit included, into a TemplateError naming its file, line and
    reason. Errors that are not the template's (the catalog's, the disk's, multichan's own)
    pass through as they are."""
    import sqlite3

    from multichan.errors import MultichanError

    try:
        with WATCH.timing():
            yield
    except (MultichanError, OSError, sqlite3.Error):
        raise
    except (TemplateStopped, Exception) as exc:
        raise TemplateError(f"{_where(exc, template)}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    from decimal import DecimalException

    from jinja2 import TemplateError as JinjaError

    if isinstance(exc, RecursionError):
        return (
            "recursion deeper than Python's limit of "
            f"{sys.getrecursionlimit():,} frames (a macro that calls itself, "
            "or a recursive loop, without end?)"
        )
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, DecimalException):
        return f"decimal arithmetic failed ({type(exc).__name__})"
    known = (TemplateLimit, TemplateStopped, JinjaError, TypeError, ValueError, AttributeError)
    return str(exc) if isinstance(exc, known) else f"{type(exc).__name__}: {exc}"


def generate(template: Any, context: dict[str, Any]) -> Iterator[str]:
    """Stream the rendered text; a runtime error names the template file and line. A template
    that loops over ``offers`` itself has the bounds of an item for each offer it takes: the
    time budget, and MAX_TEXT characters of output (one more for the header)."""
    if "offers" in context:
        context = {**context, "offers": _watched(context["offers"])}
    WATCH.count = 0
    with located(template):
        stream = template.root_render_func(template.new_context(context))
        size = 0
        for text in stream:
            size += len(text)
            if size > MAX_TEXT * (WATCH.count + 1):
                items = f"{WATCH.count:,} item{'' if WATCH.count == 1 else 's'}"
                raise TemplateLimit(
                    f"the output would be {size:,} characters for {items}, over the limit "
                    f"of {MAX_TEXT:,} per item",
                    _line(stream, template),
                )
            yield text


def _watched(offers: Any) -> Iterator[Any]:
    """``offers``, each one set as the item being rendered (the time budget's)."""
    watch = WATCH
    for offer in offers:
        watch.item = offer
        watch.count += 1
        yield offer


def _line(stream: Any, template: Any) -> int | None:
    """The template line a suspended render generator is at."""
    frame = getattr(stream, "gi_frame", None)
    return template.get_corresponding_lineno(frame.f_lineno) if frame else None


def _where(exc: BaseException, template: Any) -> str:
    """``file:line`` in the template source for an error raised while rendering it."""
    filename, line = template.filename, None
    for frame in traceback.extract_tb(exc.__traceback__):
        if filename and frame.filename == filename and frame.lineno is not None:
            line = template.get_corresponding_lineno(frame.lineno)
    line = line or getattr(exc, "lineno", None)
    return f"{filename}:{line}" if line else str(filename)
