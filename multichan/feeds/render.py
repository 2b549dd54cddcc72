"""The Jinja environment for feed templates: sandboxed, strict, and escaping for the format.

Every ``{{ value }}`` passes through the format's finalizer: XML escaping, CSV quoting with a
spreadsheet formula guard, TSV cleaning, or JSON encoding; control characters are dropped
everywhere. Templates never compute prices or quantities: they print what offers hold.
"""

from __future__ import annotations

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
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;", **CONTROL_TABLE}
)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).translate(CONTROL_TABLE)


def escape_xml(value: Any) -> str:
    """XML text: markup characters escaped and control characters dropped, in one pass."""
    if type(value) is str:
        return value.translate(XML_TABLE)
    return _text(value).translate(XML_TABLE)


def _guard(value: Any, text: str) -> str:
    """Stop spreadsheets from running a cell as a formula (OWASP CSV injection)."""
    if isinstance(value, str) and text.startswith(FORMULA_START):
        return "'" + text
    return text


def escape_csv(value: Any) -> str:
    text = _guard(value, _text(value))
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def escape_tsv(value: Any) -> str:
    text = _text(value)
    if "\t" in text or "\n" in text or "\r" in text:
        text = " ".join(text.replace("\t", " ").split())
    return _guard(value, text)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # only for nested values; top-level Decimals print exactly below
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def escape_json(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str):
        value = CONTROL_RE.sub("", value)
    return json.dumps(value, ensure_ascii=False, default=_json_default)


ESCAPES: dict[str, Callable[[Any], str]] = {
    "xml": escape_xml, "csv": escape_csv, "tsv": escape_tsv, "json": escape_json, "text": _text,
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
    return f"{amount:.2f} {currency}" if currency else f"{amount:.2f}"


def plain(text: str | None) -> str:
    from multichan.offers import strip_html

    return strip_html(text or "")


def environment(search_path: list[Path], escape: str):  # -> SandboxedEnvironment
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    from multichan.offers import Offer

    class FeedEnvironment(SandboxedEnvironment):
        """The sandbox, with a fast path for Offer: a plain data object whose public fields
        are all safe to read (the sandbox's generic checks cost more than the rendering)."""

        def getattr(self, obj: Any, attribute: str) -> Any:
            if type(obj) is Offer and attribute in OFFER_FIELDS:
                return getattr(obj, attribute)
            return super().getattr(obj, attribute)

        def getitem(self, obj: Any, argument: Any) -> Any:
            if type(obj) is Offer and argument in OFFER_FIELDS:
                return getattr(obj, argument)
            return super().getitem(obj, argument)

    OFFER_FIELDS = frozenset(Offer.__slots__)  # type: ignore[attr-defined]
    env = FeedEnvironment(
        loader=FileSystemLoader([str(p) for p in search_path]),
        undefined=StrictUndefined,
        autoescape=False,
        finalize=ESCAPES[escape],
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["money"] = money
    env.filters["plain"] = plain
    env.filters["raw_json"] = lambda v: json.dumps(v, ensure_ascii=False, default=str)
    return env


def load(env: Any, name: str):  # -> jinja2.Template
    """Compile a template; a syntax error names the file and line."""
    from jinja2 import TemplateNotFound, TemplateSyntaxError

    try:
        return env.get_template(name)
    except TemplateNotFound:
        raise TemplateError(f"template {name} not found in {env.loader.searchpath[0]}") from None
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{exc.filename or name}:{exc.lineno}: {exc.message}") from None


def generate(template: Any, context: dict[str, Any]) -> Iterator[str]:
    """Stream the rendered text; a runtime error names the template file and line."""
    from jinja2 import TemplateError as JinjaError
    from jinja2.exceptions import SecurityError

    try:
        # the compiled render function itself: one generator layer less than generate()
        yield from template.root_render_func(template.new_context(context))
    except (JinjaError, SecurityError, TypeError, ValueError, AttributeError) as exc:
        raise TemplateError(f"{_where(exc, template)}: {exc}") from None


def _where(exc: BaseException, template: Any) -> str:
    """``file:line`` in the template source for an error raised while rendering it."""
    filename, line = template.filename, None
    for frame in traceback.extract_tb(exc.__traceback__):
        if filename and frame.filename == filename and frame.lineno is not None:
            line = template.get_corresponding_lineno(frame.lineno)
    return f"{filename}:{line}" if line else str(filename)
