"""Seller text made fit for a channel: HTML turned into plain text, text cut to a length.

``strip_html`` reads HTML the way the standard library's HTML parser does (``parsed_text``
is that reading, and its definition); descriptions made only of common, well-formed tags
(nearly all of them) take a regular-expression path that gives the same text faster.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

# elements whose start and end are line breaks, the cells of a table row (a space), and the
# elements whose content a shopper never sees
BREAKS = frozenset((
    "address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tr", "ul",
))  # fmt: skip
CELLS = frozenset(("td", "th"))
HIDDEN = frozenset(("head", "noscript", "script", "style", "template", "title"))
# the fast path's tags: their start and end tags are the only markup it accepts; every other
# element (HIDDEN among them) goes through the parser, which drops unknown tags the same way
INLINE = frozenset((
    "a", "abbr", "b", "big", "cite", "code", "col", "colgroup", "del", "em", "font", "i", "img",
    "ins", "kbd", "mark", "meta", "o:p", "q", "s", "small", "span", "strike", "strong", "sub",
    "sup", "tbody", "tfoot", "thead", "u", "wbr",
))  # fmt: skip
REPLACE = {**dict.fromkeys(INLINE, ""), **dict.fromkeys(BREAKS, "\n"), **dict.fromkeys(CELLS, " ")}

_WS = r"[\t\n\r\f ]"  # what ends a tag name for the parser (its \s is wider: kept out)
_NAME = r"[A-Za-z][\w:]*+"  # (o:p comes from Word)
_ATTR = r"""[-\w:.]++(?:=(?:"[^"<>]*+"|'[^'<>]*+'|[-\w.:#%;,+]++))?"""
# a start or end tag whose extent and name the parser reads the same way (attributes quoted
# without < or > in them, or bare and plain); ASCII only: with Unicode case folding a long s
# (U+017F) would pass for an s, and "<\u017fpan>" for <span>, which the parser reads as text
FAST_TAG_RE = re.compile(rf"</?({_NAME})(?:{_WS}++{_ATTR})*+{_WS}*+/?>", re.ASCII)
MARKUP_RE = re.compile(r"<[A-Za-z/!?]")  # what the parser reads as markup, not as text "<"
# an entity cut by a tag ("&am<b>p;"): the parser decodes each side on its own
CUT_ENTITY_RE = re.compile(r"&#?[^\t\n\f <&#;]*<")


def strip_html(text: str) -> str:
    """Plain text from seller HTML: what a shopper reads, one line per block (paragraph,
    list item, heading, ``<br>``, table row), cells apart, entities decoded, runs of
    whitespace squeezed; scripts, styles, templates, ``<noscript>``, ``<head>`` and comments
    dropped."""
    if "<" not in text:
        return _lines(unescape(text)) if "&" in text else text.strip()
    parts = FAST_TAG_RE.split(text)  # [text, tag name, text, ...]
    names = parts[1::2]
    try:
        parts[1::2] = map(REPLACE.__getitem__, names)
    except KeyError:  # an element the fast path leaves to the parser, or <P> rather than <p>
        try:
            parts[1::2] = map(REPLACE.__getitem__, map(str.lower, names))
        except KeyError:
            return parsed_text(text)
    plain = "".join(parts)
    if "<" in plain and MARKUP_RE.search(plain):
        return parsed_text(text)  # other markup: comments, scripts, > in an attribute...
    if "&" in plain:
        if CUT_ENTITY_RE.search(text):
            return parsed_text(text)
        if plain.count("&") == plain.count("&amp;") + plain.count("&nbsp;"):
            plain = plain.replace("&nbsp;", "\xa0").replace("&amp;", "&")  # (&amp; last)
        else:
            plain = unescape(plain)
    return _lines(plain)


def parsed_text(text: str) -> str:
    """``strip_html`` without its fast paths: the text html.parser finds, which is its
    definition (the two are compared on random HTML in the tests). Text with neither ``<``
    nor ``&`` is plain already: it is only stripped."""
    if "<" not in text and "&" not in text:
        return text.strip()
    parser = _TextParser()
    parser.feed(text)
    parser.close()
    return _lines("".join(parser.parts))


class _TextParser(HTMLParser):
    """Collects the text a shopper sees; tags become line breaks, spaces or nothing."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden: list[str] = []  # the HIDDEN elements open around the current text

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in HIDDEN:
            self.hidden.append(tag)
        elif not self.hidden and (tag in BREAKS or tag in CELLS):
            self.parts.append(REPLACE[tag])

    def handle_startendtag(self, tag: str, attrs: object) -> None:
        if tag not in HIDDEN:  # <script/> hides nothing (nor does the parser treat it so)
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN:
            if tag in self.hidden:  # an end tag closes its element and any left open in it
                while self.hidden.pop() != tag:
                    pass
        elif not self.hidden and (tag in BREAKS or tag in CELLS):
            self.parts.append(REPLACE[tag])

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def _lines(text: str) -> str:
    """Each line with its runs of spaces and tabs squeezed, stripped; empty lines dropped."""
    if "\t" in text:
        text = text.replace("\t", " ")
    while "  " in text:  # (faster than a regular expression for the runs text has)
        text = text.replace("  ", " ")
    return "\n".join([line for line in map(str.strip, text.splitlines()) if line])


def cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, at a word boundary when one is near."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    space = head.rfind(" ")
    return (head[:space] if space > limit * 0.8 else head).rstrip(" ,;:-/")


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun in the number it takes: "1 item", "2 items", "1,200 SKUs"."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
