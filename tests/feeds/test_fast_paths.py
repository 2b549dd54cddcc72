"""The export's fast paths give the answers of the plain code they replace: escaping, the
compiled ``{{ value }}`` output, prices as text, GTIN check digits, and a large feed written
with background flushes to disk."""

from __future__ import annotations

import hashlib
import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from multichan.catalog.checks import gtin_valid
from multichan.feeds import render, writer
from multichan.offers import Offer
from tests.feeds.test_parallel import WEIRD


def random_texts(count: int) -> list[str]:
    rnd = random.Random(7)
    alphabet = "ab &<>\"'=+-@\t\r\n,;\x00\x01\x1f\x7f\x85\xa0é東\u2028\U0001f600#&amp;"
    return [*WEIRD, *("".join(rnd.choices(alphabet, k=rnd.randint(0, 12))) for _ in range(count))]


def test_escaping_matches_its_definition() -> None:
    def reference_csv(value: Any) -> str:
        text = str(value).translate(render.CONTROL_TABLE)
        text = "'" + text if text.startswith(render.FORMULA_START) else text
        return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n\r') else text

    def reference_json(value: Any) -> str:
        return json.dumps(render.CONTROL_RE.sub("", value), ensure_ascii=False)

    for text in random_texts(3000):
        assert render.escape_xml(text) == text.translate(render.XML_TABLE), repr(text)
        assert render.escape_csv(text) == reference_csv(text), repr(text)
        assert render.escape_json(text) == reference_json(text), repr(text)
    for value in (None, True, 3, Decimal("1.50"), [1, "a"], {"k": None}, 2.5):
        assert render.escape_json(value) == (
            str(value) if isinstance(value, Decimal) else json.dumps(value, ensure_ascii=False)
        )


@pytest.mark.parametrize(
    ("escape", "guard"),
    [*((e, True) for e in sorted(render.ESCAPES)), ("csv", False), ("tsv", False)],
)
def test_a_printed_value_is_exactly_what_the_formats_finalizer_makes(
    escape: str, guard: bool, tmp_path: Path
) -> None:
    """Compiled templates call the finalizer without str() around it, and XML templates send
    printable text straight to the C escaper: every value still comes out as the finalizer
    alone would write it (None, booleans, numbers, control characters, quotes)."""
    values: list[Any] = [*random_texts(500), None, True, False, 0, 7, Decimal("19.90"), 2.5]
    (tmp_path / "t.j2").write_text("{% for v in values %}{{ v }}\x1e{% endfor %}")
    (tmp_path / "m.j2").write_text("{% macro item(v) %}[{{ v }}]{% endmacro %}")
    env = render.environment([tmp_path], escape, formula_guard=guard)
    finalize = render.ESCAPES[escape] if guard else render.UNGUARDED[escape]
    out = render.load(env, "t.j2").render(values=values).split("\x1e")[:-1]
    assert out == [finalize(v) for v in values]
    item = render.load(env, "m.j2").module.item
    assert [item(v) for v in values] == [f"[{finalize(v)}]" for v in values]


MACROS = """\
{% macro item(o, index) %}[{{ o.sku }}|{{ o.title }}|{{ index }}]{% endmacro %}
{% macro rebound(o) %}{% set o = o.tags[0] %}[{{ o.sku }}]{% endmacro %}
{% macro looped(o) %}{% for o in o.tags %}[{{ o.sku }}]{% endfor %}{% endmacro %}
{% macro nested(o) %}{% macro inner() %}{{ o.sku }}{% endmacro %}[{{ inner() }}]{% endmacro %}
"""


def test_offer_fields_read_in_a_macro_are_what_the_sandbox_reads(tmp_path: Path) -> None:
    """Macros read an Offer's fields directly (its type checked once per call) and anything
    else through the sandbox: a dict's keys, an object's attributes, a parameter the macro
    rebinds (set, for) or a nested macro reads, each printing what Jinja would."""
    (tmp_path / "m.j2").write_text(MACROS)
    module = render.load(render.environment([tmp_path], "text"), "m.j2").module
    offer = Offer(*(f"v{k}" for k in range(26)), [{"sku": "T2"}], [])
    as_dict = {"sku": "D1", "title": "Dict", "tags": [{"sku": "T"}]}

    class Plain:
        sku, title, tags = "P1", "Plain", [offer, as_dict]

    assert module.item(offer, 1) == "[v0|v2|1]"
    assert module.item(as_dict, 2) == "[D1|Dict|2]"
    assert module.item(Plain(), 3) == "[P1|Plain|3]"
    assert [module.rebound(o) for o in (offer, as_dict, Plain())] == ["[T2]", "[T]", "[v0]"]
    assert [module.looped(o) for o in (offer, as_dict, Plain())] == ["[T2]", "[T]", "[v0][D1]"]
    assert module.nested(offer) == "[v0]" and module.nested(as_dict) == "[D1]"


def test_money_prints_cents_as_a_price() -> None:
    for text in ("12.5", "12.50", "0", "-1.00", "1E+3", "0.001", "123456789.99", "7.005"):
        amount = Decimal(text)
        assert render.money(amount, "USD") == f"{amount:.2f} USD", text
        assert render.money(amount) == f"{amount:.2f}", text
    assert render.money(None, "USD") == ""


def reference_gtin(code: str) -> bool:
    """GS1's check digit, written the slow, obvious way."""
    if len(code) not in (8, 12, 13, 14) or not all(c in "0123456789" for c in code):
        return False
    body, check = [int(c) for c in code[:-1]], int(code[-1])
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check and set(code) != {"0"}


def test_the_fast_gtin_check_agrees_with_gs1s_rule() -> None:
    rnd = random.Random(3)
    codes = ["0" * 13, "٣" * 13, "4006381333931", "40063813339.1", "036000291452"]
    codes += [
        "".join(rnd.choices("0123456789", k=rnd.choice([7, 8, 12, 13, 14]))) for _ in range(20000)
    ]
    for code in codes:
        assert gtin_valid(code) == reference_gtin(code), code


def test_a_large_feed_flushed_in_the_background_is_whole_and_hashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Feeds past SYNC_EVERY bytes are flushed to disk while they are written: the file
    committed is every byte in order, with the sha256 and size of those bytes."""
    monkeypatch.setattr(writer, "SYNC_EVERY", 4096)
    rnd = random.Random(5)
    parts: list[str | bytes] = []
    for n in range(400):
        text = "".join(rnd.choices("abc<>&é東\n", k=rnd.randint(0, 3000)))
        parts.append(text.encode() if n % 3 else text)
    expected = b"".join(p if isinstance(p, bytes) else p.encode() for p in parts)
    target = tmp_path / "feeds" / "big.xml"
    written = writer.write_temp(target, iter(parts), buffer_size=1024)
    writer.commit(written, target)
    assert target.read_bytes() == expected
    assert (written.bytes, written.sha256) == (len(expected), hashlib.sha256(expected).hexdigest())
    assert [p.name for p in target.parent.iterdir()] == ["big.xml"]


def test_a_disk_error_met_by_a_background_flush_fails_the_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Linux reports a lost write once per open file: when the background flush meets it,
    the feed is not committed as if all were well, and no temp file is left behind."""
    import errno
    import os

    def failing(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(writer, "SYNC_EVERY", 1024)
    monkeypatch.setattr(os, "fdatasync", failing)
    target = tmp_path / "feeds" / "big.xml"
    with pytest.raises(OSError, match="Input/output error"):
        writer.write_temp(target, iter([b"x" * 4096] * 4))
    assert list(target.parent.iterdir()) == []
