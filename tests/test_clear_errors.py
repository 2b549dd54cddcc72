"""Ordinary mistakes get one clear line and the right exit code, never "unexpected error"
(issue 14, item 10): a damaged catalog, a workspace that cannot be written, a
``content.title`` expression with a syntax error or a misspelt field."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import run_cli


def test_a_damaged_catalog_is_named_with_exit_3(demo: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{demo / 'catalog.db'}{suffix}").unlink(missing_ok=True)
    (demo / "catalog.db").write_bytes(os.urandom(8192))
    for args in (["catalog", "list"], ["export", "google"], ["orders"]):
        result = run_cli("-w", demo, *args)
        assert result.code == 3, (args, result.output)
        assert "catalog.db is not a usable catalog" in result.stderr
        assert "unexpected" not in result.stderr


def test_a_workspace_that_cannot_be_written_is_named_with_exit_3(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def read_only(path: str | os.PathLike[str], flags: int, *args: int) -> int:
        if str(path).endswith(".multichan.lock"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", read_only)  # as root, chmod would not stop the test
    result = run_cli("-w", demo, "stock", "adjust", "MUG-ENAMEL", "+1", "-l", "store")
    assert result.code == 3, result.output
    assert "cannot take the workspace lock" in result.stderr and "Permission denied" in (
        result.stderr)  # fmt: skip


def _title(demo: Path, expression: str) -> None:
    config = demo / "channels.yaml"
    text = config.read_text(encoding="utf-8")
    old = "    output: feeds/google.xml\n"
    text = text.replace(old, f"{old}    content:\n      title: '{expression}'\n", 1)
    config.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("{{ brand }} {{ title", "unexpected end of template"),
        ("{{ brnad }} {{ title }}", "'brnad' is not a product field; did you mean 'brand'?"),
    ],
)
def test_a_content_expression_error_is_one_config_error_at_its_line(
    demo: Path, expression: str, words: str
) -> None:
    _title(demo, expression)
    line = next(
        n
        for n, text in enumerate(
            (demo / "channels.yaml").read_text(encoding="utf-8").splitlines(), 1
        )
        if "title: '" in text
    )
    result = run_cli("-w", demo, "export", "google")
    assert result.code == 3, result.output
    assert re.search(rf"channels\.yaml:{line}: channels\.google\.content\.title: ", result.stderr)
    assert words in result.stderr
    assert "left out" not in result.output  # one error, not one per product


def test_a_good_expression_still_renders(demo: Path) -> None:
    _title(demo, "{{ brand | upper }} {{ title }}")
    result = run_cli("-w", demo, "export", "google")
    assert result.code == 0, result.output
    feed = (demo / "feeds" / "google.xml").read_text(encoding="utf-8")
    assert "<g:title>NORTHWIND OUTFITTERS Merino" in feed
