"""channels.yaml written by hand, or by someone hostile, is a configuration error with its line
(exit 3), never "unexpected" (exit 1), never a hang, never a secret in the message (issue 15,
items 2-4; issue 14, item 12): empty and null values, .nan, explicit tags, non-scalar and
repeated keys, deep nesting, an alias bomb, a value from the environment, two feeds in one
file, an unknown version. A seeded fuzz run of a few hundred mutated files proves it at large."""

from __future__ import annotations

import os
import random
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from tests.conftest import run_cli

AFTER = "    output: feeds/google.xml\n"


def configure(demo: Path, lines: str, *, after: str = AFTER) -> None:
    """The demo's channels.yaml with ``lines`` added under the google channel."""
    path = demo / "channels.yaml"
    base = getattr(configure, "base", None) or path.read_text(encoding="utf-8")
    configure.base = base  # type: ignore[attr-defined]
    assert after in base
    path.write_text(base.replace(after, after + lines + "\n", 1), encoding="utf-8")


@pytest.fixture(autouse=True)
def _fresh_base() -> None:
    configure.base = None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("lines", "words"),
    [
        ("    max_shrink_percent:", "max_shrink_percent is empty"),
        ("    output:", "output is empty"),  # in place of the channel's own output
        ("    max_shrink_percent: .nan", "max_shrink_percent must be a number, not nan"),
        ("    max_shrink_percent: !!int abc", "max_shrink_percent 'abc' is not a valid !!int"),
        ("    content: {strip_html: !!bool maybe}", "'maybe' is not a valid !!bool"),
        ("    content: {title: !!binary aGVsbG8=}", "uses the YAML tag !!binary"),
        ("    content: {title: !!python/object:os.system ls}", "uses the YAML tag !!python/"),
        ("    content: {title: !!omap [a: 1]}", "uses the YAML tag !!omap"),
        ("    ? [a, b]\n    : 1", "channels.google has a key that is not plain text"),
        ("    filters: null", "channels.google.filters is empty"),
        ("    price: {rates: null}", "price.rates is empty"),
        ("    price: {markup_percent: null}", "price.markup_percent is empty"),
        ("    stock: {percent: null}", "stock.percent is empty"),
        ("    stock: {out_of_stock_below: null}", "stock.out_of_stock_below is empty"),
        ("    content: {category_map: null}", "content.category_map is empty"),
        ("    output: feeds/other.xml", "output is given twice (first at line"),
        ("    content: {title: " + "[" * 500 + "]" * 500 + "}", "nested"),
    ],
)
def test_a_bad_value_is_a_config_error_at_its_line(demo: Path, lines: str, words: str) -> None:
    if lines == "    output:":
        path = demo / "channels.yaml"
        path.write_text(path.read_text(encoding="utf-8").replace(AFTER, lines + "\n", 1),
                        encoding="utf-8")  # fmt: skip
    else:
        configure(demo, lines)
    result = run_cli("-w", demo, "export", "google")
    assert result.code == 3, result.output
    assert words in result.stderr, result.stderr
    assert re.search(r"channels\.yaml(:\d+)?: ", result.stderr)
    assert "unexpected" not in result.stderr


def test_an_alias_bomb_is_refused_at_once(demo: Path) -> None:
    rows = ["      a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    rows += [f"      a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    configure(demo, "    settings:\n" + "\n".join(rows))
    started = time.monotonic()
    result = run_cli("-w", demo, "export", "google")
    assert time.monotonic() - started < 10
    assert result.code == 3 and "expands to more than 10,000 values" in result.stderr


def test_a_value_from_the_environment_is_never_printed(demo: Path) -> None:
    path = demo / "channels.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    type: google_merchant", "    type: ${SQUARE_TOKEN}", 1),
                    encoding="utf-8")  # fmt: skip
    result = run_cli("-w", demo, "export", "google", env={"SQUARE_TOKEN": "sq0atp-sekrit-123"})
    assert result.code == 3
    assert "the value of ${SQUARE_TOKEN}" in result.stderr
    assert "sekrit" not in result.output


def test_two_feeds_in_one_file_a_repeated_channel_and_version_2(demo: Path) -> None:
    path = demo / "channels.yaml"
    text = path.read_text(encoding="utf-8")
    twin = "  google2:\n    type: google_merchant_tsv\n    output: feeds/google.xml\n"
    again = "  google:\n    type: jsonl\n"
    text = text.replace("channels:\n", "channels:\n" + twin, 1)
    text = text.replace("  # Uncomment a channel", again + "  # Uncomment a channel", 1)
    path.write_text("version: 2\n" + text, encoding="utf-8")
    result = run_cli("-w", demo, "export", "--all")
    assert result.code == 3, result.output
    assert "version 2: this multichan reads version 1" in result.stderr
    assert "channel 'google' is given twice" in result.stderr
    assert "output is also channels." in result.stderr


TOKENS = ["", "~", "null", ".nan", ".inf", "-1", "1e999", "!!int x", "!!bool y", "!!binary a",
          "!!timestamp 2001-01-01", "!!set {a}", "[", "]", "{", "}", "&a", "*a", "*b", "? [k]",
          ": v", "'", '"', "\t", "${X}", "${MISSING}", "- item", "|", ">", "#", "<<: *a",
          "!!python/name:os.system", "\x00", "\u2028", "é", "0x1F", "0o7", "yes", "on"]  # fmt: skip


def mutated_config(base: list[str], rnd: random.Random, most: int = 4) -> str:
    """``base`` (channels.yaml's lines) with 1 to ``most`` lines broken by TOKENS: a value
    swapped for a token, or a token pasted in somewhere (bench/fuzz_campaign.py uses it too)."""
    lines = list(base)
    for _ in range(rnd.randint(1, most)):
        n = rnd.randrange(len(lines))
        token = rnd.choice(TOKENS)
        line = lines[n]
        if ":" in line and rnd.random() < 0.6:  # a value swapped for the token
            key = line.split(":", 1)[0]
            lines[n] = f"{key}: {token}\n"
        else:  # the token pasted in somewhere
            cut = rnd.randrange(len(line) + 1)
            lines[n] = line[:cut] + token + line[cut:]
    return "".join(lines)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@seed(15)
@given(st.data())
def test_fuzzed_channels_yaml_never_exits_1(demo: Path, data: st.DataObject) -> None:
    base = getattr(test_fuzzed_channels_yaml_never_exits_1, "base", None)
    if base is None:
        base = (demo / "channels.yaml").read_text(encoding="utf-8").splitlines(keepends=True)
        test_fuzzed_channels_yaml_never_exits_1.base = base  # type: ignore[attr-defined]
    rnd = random.Random(data.draw(st.integers(0, 2**32)))
    (demo / "channels.yaml").write_text(mutated_config(base, rnd), encoding="utf-8")
    result = run_cli("-w", demo, "export", "--check", "--all", env={"X": "1"})
    assert result.code != 1, result.output
    assert "unexpected" not in result.stderr, result.stderr


def test_a_bounded_value_reads_as_before(demo: Path) -> None:
    configure(demo, "    max_shrink_percent: 35\n    content: {strip_html: true}")
    assert run_cli("-w", demo, "export", "google").code == 0
    assert os.path.exists(demo / "feeds" / "google.xml")
