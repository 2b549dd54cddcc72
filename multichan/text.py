"""Seller text made fit for a channel: HTML turned into plain text, text cut to a length."""

from __future__ import annotations

import html
import re

TAG_RE = re.compile(r"</?[A-Za-z!][^>]*>")
BLOCK_RE = re.compile(r"(?i)<\s*(br|/p|/div|/li|/h[1-6]|/tr)\s*/?>")
SPACE_RE = re.compile(r"[ \t\r\f\v]+")


def strip_html(text: str) -> str:
    """Plain text from seller HTML: block ends become line breaks, entities are decoded."""
    if "<" not in text and "&" not in text:
        return text.strip()
    text = html.unescape(TAG_RE.sub("", BLOCK_RE.sub("\n", text)))
    lines = [
        # (a printable line without double spaces has no run of whitespace to squeeze)
        (line if "  " not in line and line.isprintable() else SPACE_RE.sub(" ", line)).strip()
        for line in text.splitlines()
    ]
    return "\n".join([line for line in lines if line])


def cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, at a word boundary when one is near."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    space = head.rfind(" ")
    return (head[:space] if space > limit * 0.8 else head).rstrip(" ,;:-/")
