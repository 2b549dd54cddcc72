"""`--chart FILE.png|svg`: the file is written, is a real PNG or SVG, and a missing
matplotlib is a clear message with exit 2."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import run_cli

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("command", [
    ("sales", "--by", "channel"), ("sales", "--by", "day", "--since", "2026-11-01",
                                   "--until", "2026-11-30"),
    ("stock", "--until", "2026-11-30"),
])  # fmt: skip
def test_png_chart(shop: Path, tmp_path: Path, command: tuple[str, ...]) -> None:
    target = tmp_path / "charts" / "report.png"
    result = run_cli("-w", shop, "report", *command, "--chart", target)
    assert result.code == 0, result.output
    data = target.read_bytes()
    assert data.startswith(PNG) and len(data) > 5000
    assert f"chart written to {target}" in result.stderr
    assert "Counted:" in result.stdout  # the chart comes with the table, not instead of it


def test_svg_chart_with_json(shop: Path, tmp_path: Path) -> None:
    target = tmp_path / "sales.svg"
    result = run_cli("-w", shop, "report", "sales", "--by", "sku", "--chart", target, "--json")
    assert result.code == 0, result.output
    root = ET.parse(target).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "MUG-ENAMEL" in target.read_text(encoding="utf-8")
    assert result.stdout.lstrip().startswith("{")  # stdout still holds only the JSON


def test_without_matplotlib_exit_2_and_say_what_to_install(
    shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib: ImportError
    target = tmp_path / "sales.png"
    result = run_cli("-w", shop, "report", "sales", "--chart", target)
    assert result.code == 2
    assert "matplotlib" in result.stderr and "multichan[charts]" in result.stderr
    assert not target.exists()
