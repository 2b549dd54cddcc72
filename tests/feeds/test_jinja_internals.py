"""The feed compiler builds on Jinja internals (private CodeGenerator methods, Macro._func,
Template.root_render_func): the tested jinja2 releases are pinned, and a release that changes
them stops an export with an error naming the jinja2 version, before any feed is written,
never with a feed of wrong values."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import jinja2
import pytest
from jinja2.compiler import CodeGenerator
from jinja2.environment import Template
from jinja2.runtime import Macro

from multichan.feeds import render
from tests.conftest import REPO, run_cli
from tests.feeds.helpers import configure, google_items


@pytest.fixture
def unchecked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that has not checked its jinja2 yet (the check runs once per process)."""
    monkeypatch.setattr(render, "_jinja_checked", False)


def export_google(ws: Path) -> Any:
    configure(ws, "google: {type: google_merchant}")
    return run_cli("-w", ws, "export", "google")


def assert_refused(ws: Path, *words: str) -> None:
    result = export_google(ws)
    assert result.code == 1, result.output
    message = " ".join(result.output.split())
    assert f"jinja2 {jinja2.__version__} changed internals" in message, message
    assert f"pip install 'jinja2{render.JINJA_TESTED}'" in message, message
    for word in words:
        assert word in message, message
    assert not (ws / "feeds" / "google.xml").exists()  # no feed rather than a wrong one


def test_the_pinned_range_is_the_tested_one_and_the_installed_jinja_passes() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert f"jinja2{render.JINJA_TESTED}" in pyproject["project"]["dependencies"]
    low, high = re.fullmatch(r">=(\d+\.\d+),<(\d+\.\d+)", render.JINJA_TESTED).groups()  # type: ignore[union-attr]
    installed = tuple(int(n) for n in jinja2.__version__.split(".")[:2])
    assert tuple(map(int, low.split("."))) <= installed < tuple(map(int, high.split(".")))
    assert render.jinja_problems() == []


def test_an_export_checks_jinja_once(
    demo: Path, unchecked: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    check = render.jinja_problems
    monkeypatch.setattr(render, "jinja_problems", lambda: calls.append(1) or check())
    assert export_google(demo).code == 0
    assert len(calls) == 1 and render._jinja_checked
    assert export_google(demo).code == 0
    assert len(calls) == 1  # (the same process: checked already)
    assert google_items(demo / "feeds" / "google.xml")["MUG-ENAMEL"]["price"] == "14.00 USD"


def test_a_hook_whose_parameters_changed_stops_the_export(
    demo: Path, unchecked: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = CodeGenerator._output_child_pre

    def changed(self: Any, node: Any, frame: Any, finalize: Any, info: Any = None) -> None:
        original(self, node, frame, finalize)

    monkeypatch.setattr(CodeGenerator, "_output_child_pre", changed)
    assert_refused(demo, "CodeGenerator._output_child_pre(self, node, frame, finalize, info)")


def test_a_hook_that_is_gone_stops_the_export(
    demo: Path, unchecked: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(CodeGenerator, "pop_parameter_definitions")
    assert_refused(demo, "CodeGenerator.pop_parameter_definitions is gone")


def test_a_hook_jinja_no_longer_calls_stops_the_export(
    demo: Path, unchecked: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A release that writes output some other way: the override would sit unused (feeds
    right but slow, or half-compiled); the generated code shows it."""
    visit_output = CodeGenerator.visit_Output

    def visit_without_hooks(self: Any, node: Any, frame: Any) -> None:
        # the same output, through the base class's hooks rather than the subclass's
        pre, post = type(self)._output_child_pre, type(self)._output_child_post
        type(self)._output_child_pre = CodeGenerator._output_child_pre  # type: ignore[method-assign]
        type(self)._output_child_post = CodeGenerator._output_child_post  # type: ignore[method-assign]
        try:
            visit_output(self, node, frame)
        finally:
            type(self)._output_child_pre, type(self)._output_child_post = pre, post  # type: ignore[method-assign]

    monkeypatch.setattr(CodeGenerator, "visit_Output", visit_without_hooks)
    assert_refused(demo, "CodeGenerator._output_child_pre is no longer called")


def test_a_macro_body_called_differently_stops_the_export(
    demo: Path, unchecked: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Macro._func still there but no longer giving what the macro gives: without the
    check, every item of the feed would be wrong."""
    init = Macro.__init__

    def changed(self: Macro, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        body = self._func
        self._func = lambda *a: body(*a).lower()  # (any text but the macro's own)

    monkeypatch.setattr(Macro, "__init__", changed)
    assert_refused(demo, "Macro._func(o, 2) gives")
    # what the check prevents: with it skipped, the feed is written, and wrong
    monkeypatch.setattr(render, "_jinja_checked", True)
    assert export_google(demo).code == 0
    assert "<g:price>14.00 usd</g:price>" in (demo / "feeds" / "google.xml").read_text()


def test_a_template_without_root_render_func_stops_the_export(
    demo: Path, unchecked: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_namespace = Template._from_namespace.__func__  # type: ignore[attr-defined]

    def renamed(cls: type, environment: Any, namespace: Any, globals: Any) -> Any:
        template = from_namespace(cls, environment, namespace, globals)
        template.render_func = template.root_render_func
        del template.root_render_func
        return template

    monkeypatch.setattr(Template, "_from_namespace", classmethod(renamed))
    assert_refused(demo, "root_render_func")
