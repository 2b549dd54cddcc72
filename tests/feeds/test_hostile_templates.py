"""A feed template is code from the workspace, and whatever it does an export ends quickly:
a range too large, text, lists or numbers that would fill the memory, recursion without end,
loops that would run for hours, or any other error are exit 3 naming the template, the line
and the bound that was hit; no feed is written and the other bounds of the process hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from multichan.errors import TemplateError
from multichan.feeds import parallel, render
from tests.conftest import run_cli
from tests.feeds.helpers import configure, google_items

NAME = "hostile.xml.j2"
# a macro template (the default templates' form): the construct is on line 4, in the item
MACROS = """\
{% macro header() %}<rss xmlns:g="http://base.google.com/ns/1.0"><channel>
{% endmacro %}
{% macro item(o, index) %}<item><g:id>{{ o.sku }}</g:id>
{{ CONSTRUCT }}
</item>
{% endmacro %}
{% macro footer() %}</channel></rss>
{% endmacro %}
"""
# a template that loops over offers itself: the construct is on line 3 again, in the loop
CLASSIC = """\
<rss xmlns:g="http://base.google.com/ns/1.0"><channel>
{% for o in offers %}<item><g:id>{{ o.sku }}</g:id>
{{ CONSTRUCT }}
</item>
{% endfor %}</channel></rss>
"""
NESTED_LOOPS = (  # 10^10 iterations
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
)
TEXT = "characters, over the limit of 1,000,000"
HOSTILE = {  # construct: what the error says
    "range": (
        "{{ range(10**9) | length }}",
        "range() of 1,000,000,000 items is over the limit of 100,000",
    ),
    "string_times": ("{{ 'a' * 10**10 }}", f"'a' * 10000000000 would be 10,000,000,000 {TEXT}"),
    "list_times": (
        "{{ [o.sku] * 10**9 }}",
        "would be 1,000,000,000 items, over the limit of 1,000,000",
    ),
    "power": (
        "{{ 7**99999999 }}",
        "7 ** 99999999 would be 84,509,804 digits, over the limit of 4,300",
    ),
    "recursion": (
        "{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}",
        "recursion deeper than Python's limit",
    ),
    "recursive_loop": (
        "{% for x in [1] recursive %}{{ loop([x]) }}{% endfor %}",
        "recursion deeper than Python's limit",
    ),
    "doubling": (
        "{% set ns = namespace(s='x') %}"
        "{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        f"a ~ concatenation would be 1,048,576 {TEXT}",
    ),
    "long_output": (
        "{% set s = 'x' * 999999 %}{% for i in range(100000) %}{{ s }}{% endfor %}",
        "over the limit of 1,000,000",
    ),
    "format_width": ("{{ '%0999999999d' % 1 }}", f"a %-format's width would be 999,999,999 {TEXT}"),
    "str_method": ("{{ o.sku.ljust(10**10) }}", f"str.ljust() would be 10,000,000,000 {TEXT}"),
    "filter": ("{{ o.sku | center(10**10) }}", f"center() would be 10,000,000,000 {TEXT}"),
    "join": ("{{ range(100000) | join('x' * 100000) }}", f"join() would be 9,999,900,000 {TEXT}"),
    "division": ("{{ 1 / (index - index) }}", "ZeroDivisionError: division by zero"),
}


def hostile(ws: Path, construct: str, layout: str = MACROS) -> str:
    """Export channel ``g`` with ``construct`` in its template; the error line, on exit 3."""
    (ws / "templates" / NAME).write_text(layout.replace("{{ CONSTRUCT }}", construct))
    configure(ws, f"g: {{type: google_merchant, template: {NAME}, output: feeds/g.xml}}")
    result = run_cli("-w", ws, "export", "g")
    assert result.code == 3, result.output
    assert not (ws / "feeds" / "g.xml").exists()
    assert not list((ws / "feeds").glob(".*.tmp"))
    lines = [line for line in result.output.splitlines() if NAME in line]
    assert lines, result.output
    return " ".join(" ".join(lines).split())


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_construct_that_would_explode_is_a_template_error_naming_the_line_and_the_bound(
    demo: Path, case: str
) -> None:
    construct, bound = HOSTILE[case]
    message = hostile(demo, construct)
    assert f"{NAME}:4: " in message, message
    assert bound in message, message


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", ["range", "power", "long_output", "doubling", "recursion"])
def test_a_template_that_loops_over_offers_itself_has_the_same_bounds(
    demo: Path, case: str
) -> None:
    construct, bound = HOSTILE[case]
    message = hostile(demo, construct, CLASSIC)
    assert f"{NAME}:3: " in message, message
    assert bound in message, message


@pytest.mark.timeout(60)
def test_an_item_that_renders_for_too_long_stops_after_its_time_budget(demo: Path) -> None:
    message = hostile(demo, NESTED_LOOPS)
    assert re.search(
        f"{NAME}:4: item [A-Z-]+ took over 2 s of CPU time to render, the time limit per item",
        message,
    ), message


@pytest.mark.timeout(60)
def test_a_header_or_a_classic_loop_that_runs_for_too_long_stops_too(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render, "ITEM_SECONDS", 0.5)  # (the same budget, sooner)
    header = MACROS.replace("<channel>\n", "<channel>" + NESTED_LOOPS + "\n", 1)
    message = hostile(demo, "", header)
    assert f"{NAME}:1: the template took over 0.5 s" in message, message
    message = hostile(demo, NESTED_LOOPS, CLASSIC)
    assert re.search(f"{NAME}:3: item [A-Z-]+ took over 0.5 s", message), message


@pytest.mark.timeout(60)
def test_a_worker_process_keeps_the_bounds_and_the_time_budget(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large catalogs render on every core: each worker process has its own time budget."""
    monkeypatch.setattr(parallel, "CHUNK", 7)
    monkeypatch.setattr(parallel, "MIN_PARALLEL", 0)
    monkeypatch.setattr(render, "ITEM_SECONDS", 0.5)
    monkeypatch.setenv("MULTICHAN_WORKERS", "2")
    for construct, bound in (
        (NESTED_LOOPS, "took over 0.5 s of CPU time to render, the time limit per item"),
        HOSTILE["power"],
    ):
        message = hostile(demo, construct)
        assert f"{NAME}:4: " in message and bound in message, message


@pytest.mark.timeout(60)
def test_what_no_check_sees_coming_is_stopped_by_the_memory_cap(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A million references to one long string are a small list, printed they are a
    gigabyte: the process's memory is capped while a template renders (a MemoryError)."""
    monkeypatch.setattr(render, "MEMORY_HEADROOM", 200 << 20)
    message = hostile(demo, "{{ [[o.sku * 1000]] * 1000000 }}")
    assert f"{NAME}:4: out of memory" in message, message


@pytest.mark.timeout(60)
def test_a_template_nested_too_deeply_to_compile_is_a_template_error(demo: Path) -> None:
    message = hostile(demo, "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}")
    assert f"{NAME}: too deeply nested to compile" in message, message


def test_within_the_bounds_a_template_computes_as_jinja_does(demo: Path) -> None:
    """The bounds leave room: a range of 100,000, text of a million characters, 4,300-digit
    numbers, a %-format and str.format with small widths, the filters that were checked."""
    construct = (
        "<g:title>{{ range(100000) | length }} {{ ('ab' * 500000) | length }} "
        "{{ (7 ** 5000) | string | length }} {{ '%05d' % index }} {{ '{:>6}'.format(o.sku[:3]) }} "
        "{{ 'x' | center(5) }}|{{ [[1], [2]] | sum(start=[]) }} {{ [1, 2] | sum }} "
        "{{ o.sku ~ '-' ~ index }}</g:title>"
    )
    (demo / "templates" / NAME).write_text(MACROS.replace("{{ CONSTRUCT }}", construct))
    configure(demo, f"g: {{type: google_merchant, template: {NAME}, output: feeds/g.xml}}")
    result = run_cli("-w", demo, "export", "g")
    assert result.code == 0, result.output
    items = google_items(demo / "feeds" / "g.xml")
    sku = min(items)
    assert items[sku]["title"] == (f"100000 1000000 4226 00001    {sku[:3]}   x  |[1, 2] 3 {sku}-1")


def test_the_bounds_leave_the_process_as_it_was() -> None:
    """The time budget's signal timer and the memory cap hold only while a template
    renders."""
    import resource
    import signal

    before = signal.getitimer(signal.ITIMER_PROF)
    memory = resource.getrlimit(resource.RLIMIT_AS)
    template = render.environment([], "xml").from_string("x")
    with pytest.raises(TemplateError, match="the output of a macro"), render.located(template):
        assert render.WATCH.armed
        render.bounded_concat(["x" * 600_000] * 2)
    assert signal.getitimer(signal.ITIMER_PROF) == before
    assert resource.getrlimit(resource.RLIMIT_AS) == memory
    assert not render.WATCH.armed
