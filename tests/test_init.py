"""`multichan init`: the seller's own shop identity (never the demo's), placeholders that
export/plan/push refuse, and restoring config or replacing the catalog without losing data."""

from __future__ import annotations

import io
import json
import sqlite3
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_cli, run_subprocess

PEN = (
    "sku,title,description,brand,price,quantity,image_link\n"
    "PEN-1,Fountain pen,A steel nib,Acme,12.50,7,https://cdn.test/pen.jpg\n"
)
SHOPIFY = """
  shopify:
    type: shopify
    settings:
      base_url: https://acme.myshopify.com
      token: ${SHOPIFY_TOKEN}
      location_id: gid://shopify/Location/1
"""


def catalog_skus(path: Path) -> list[str]:
    con = sqlite3.connect(path)
    try:
        return [row[0] for row in con.execute("SELECT sku FROM products ORDER BY sku")]
    finally:
        con.close()


def line_of(path: Path, start: str) -> int:
    """The 1-based line of ``path`` that starts (after indentation) with ``start``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.strip().startswith(start))


def shop_of(ws: Path) -> dict:
    return yaml.safe_load((ws / "channels.yaml").read_text(encoding="utf-8"))["shop"]


def backups(ws: Path, name: str) -> list[Path]:
    return sorted(ws.glob(f"{name}.bak-*"))


@pytest.fixture
def pen_shop(tmp_path: Path) -> Path:
    """A fresh workspace (no --name/--url) holding one product without a link of its own."""
    ws = tmp_path / "shop"
    result = run_cli("init", ws)
    assert result.code == 0, result.output
    source = tmp_path / "pen.csv"
    source.write_text(PEN, encoding="utf-8")
    assert run_cli("-w", ws, "import", "csv", source).code == 0
    return ws


# --- 5: the seller's identity, or placeholders that are refused --------------------------------
def test_init_never_writes_the_demo_shop_into_a_sellers_workspace(pen_shop: Path) -> None:
    text = (pen_shop / "channels.yaml").read_text(encoding="utf-8")
    assert "Northwind" not in text
    assert "shop.example.com" not in text.split("channels:")[0]
    result = run_cli("-w", pen_shop, "export", "google")
    assert result.code == 3, result.output
    config = pen_shop / "channels.yaml"
    for key in ("name", "url", "link_template"):
        assert (
            f"channels.yaml:{line_of(config, key + ':')}: shop.{key} is still the placeholder"
            in (result.stderr)
        )
    assert "set it to your shop's address" in result.stderr
    assert not (pen_shop / "feeds" / "google.xml").exists()


@pytest.mark.parametrize(
    "command", [["export", "--check"], ["plan"], ["push", "--dry-run"]], ids=lambda c: c[0]
)
def test_export_plan_and_push_report_a_placeholder_the_same_way(
    pen_shop: Path, command: list[str]
) -> None:
    config = pen_shop / "channels.yaml"
    config.write_text(config.read_text(encoding="utf-8") + SHOPIFY, encoding="utf-8")
    result = run_cli("-w", pen_shop, *command, env={"SHOPIFY_TOKEN": "shpat_test"})
    assert result.code == 3, result.output
    assert f"channels.yaml:{line_of(config, 'url:')}: shop.url is still the placeholder" in (
        result.stderr
    )
    assert "Traceback" not in result.output


def test_init_with_name_and_url_builds_links_to_the_sellers_shop(tmp_path: Path) -> None:
    ws = tmp_path / "shop"
    result = run_cli("init", ws, "--name", 'Acme "Pens" & Co', "--url", "https://acme.test/")
    assert result.code == 0, result.output
    assert shop_of(ws) | {"currency": "USD"} == {
        "name": 'Acme "Pens" & Co',
        "url": "https://acme.test",
        "link_template": "https://acme.test/products/{handle}",
        "currency": "USD",
        "country": "US",
        "language": "en",
    }
    assert "# Product pages for items" in (ws / "channels.yaml").read_text(encoding="utf-8")
    source = tmp_path / "pen.csv"
    source.write_text(PEN, encoding="utf-8")
    assert run_cli("-w", ws, "import", "csv", source).code == 0
    result = run_cli("-w", ws, "export", "google")
    assert result.code == 0, result.output
    feed = (ws / "feeds" / "google.xml").read_text(encoding="utf-8")
    assert "<g:link>https://acme.test/products/PEN-1</g:link>" in feed
    assert "<link>https://acme.test</link>" in feed  # the channel link: the shop itself
    assert "example.com" not in feed


def test_init_takes_a_link_template_and_checks_the_address(tmp_path: Path) -> None:
    ws = tmp_path / "woo"
    template = "https://acme.test/product/{sku}"
    result = run_cli("init", ws, "--url", "https://acme.test", "--link-template", template)
    assert result.code == 0, result.output
    assert shop_of(ws)["link_template"] == template
    assert "shop.name" in result.stdout  # still to set, and init says so

    for args, shown in [
        (["--url", "acme.test"], "https://acme.test"),
        (["--url", "https://acme.test", "--link-template", "https://acme.test/p"], "{handle}"),
        (["--url", "https://acme.test", "--link-template", "https://acme.test/{slug}"], "{sku}"),
    ]:
        bad = tmp_path / "bad"
        result = run_cli("init", bad, *args)
        assert result.code == 2, result.output
        assert shown in result.stderr
        assert not bad.exists()  # nothing half-made


def test_init_demo_keeps_the_demo_identity(tmp_path: Path) -> None:
    ws = tmp_path / "shop"  # the README's first command
    assert run_cli("init", "--demo", ws).code == 0
    assert shop_of(ws)["name"] == "Northwind Outfitters"
    assert shop_of(ws)["link_template"] == "https://shop.example.com/products/{handle}"
    result = run_cli("-w", ws, "export", "google")
    assert result.code == 0, result.output


# --- 6: --force restores config only; --reset-catalog keeps a copy -----------------------------
def test_force_rewrites_config_keeps_the_catalog_and_a_copy_of_channels_yaml(demo: Path) -> None:
    config = demo / "channels.yaml"
    edited = config.read_text(encoding="utf-8") + "# my own notes\n"
    config.write_text(edited, encoding="utf-8")
    template = demo / "templates" / "google_merchant.xml.j2"
    template.write_text("my template\n", encoding="utf-8")
    result = run_cli("init", "--force", "--json", demo)
    assert result.code == 0, result.output
    report = json.loads(result.stdout)
    assert len(catalog_skus(demo / "catalog.db")) == 61  # the catalog is untouched
    assert report["path"] == str(demo.resolve())
    assert report["products"] == 61
    assert report["kept"] == ["catalog.db"]
    assert "channels.yaml" in report["written"]
    assert "templates/google_merchant.xml.j2" in report["written"]
    assert "catalog.db" not in report["written"]
    [config_copy] = backups(demo, "channels.yaml")
    [template_copy] = backups(demo / "templates", "google_merchant.xml.j2")
    assert sorted(report["backed_up"], key=lambda b: b["file"]) == [
        {"file": "channels.yaml", "copy": config_copy.name},
        {"file": "templates/google_merchant.xml.j2", "copy": f"templates/{template_copy.name}"},
    ]
    assert config_copy.read_text(encoding="utf-8") == edited
    assert template_copy.read_text(encoding="utf-8") == "my template\n"
    assert "my own notes" not in config.read_text(encoding="utf-8")
    assert report["placeholders"] == ["shop.name", "shop.url", "shop.link_template"]


def test_force_on_an_unchanged_config_keeps_no_needless_copy(demo: Path) -> None:
    result = run_cli("init", "--force", "--demo", "--reset-catalog", "--json", demo)
    assert result.code == 0, result.output
    report = json.loads(result.stdout)
    assert [b["file"] for b in report["backed_up"]] == ["catalog.db"]
    assert backups(demo, "channels.yaml") == []


def test_reset_catalog_keeps_a_copy_and_never_prompts_without_a_tty(demo: Path) -> None:
    config_before = (demo / "channels.yaml").read_bytes()
    result = run_subprocess("init", "--reset-catalog", demo)  # stdin is /dev/null, as in cron
    assert result.code == 0, result.output
    assert catalog_skus(demo / "catalog.db") == []
    [copy] = backups(demo, "catalog.db")
    assert len(catalog_skus(copy)) == 61
    assert f"saved the previous catalog.db as {copy.name}" in result.stdout
    assert (demo / "channels.yaml").read_bytes() == config_before  # not asked to rewrite it
    assert "kept channels.yaml, catalog.db unchanged" not in result.stdout
    assert "kept channels.yaml unchanged" in result.stdout


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "code", "left"), [("n\n", 130, 61), ("y\n", 0, 0)])
def test_reset_catalog_asks_first_on_a_terminal(
    demo: Path, monkeypatch: pytest.MonkeyPatch, answer: str, code: int, left: int
) -> None:
    monkeypatch.setattr(sys, "stdin", _Terminal(answer))
    result = run_cli("init", "--reset-catalog", demo)
    assert result.code == code, result.output
    assert "61 products" in result.stderr  # the question says what would be replaced
    assert len(catalog_skus(demo / "catalog.db")) == left
    assert len(backups(demo, "catalog.db")) == (1 if left == 0 else 0)


def test_a_missing_channels_yaml_points_to_the_safe_command(demo: Path) -> None:
    (demo / "channels.yaml").unlink()
    result = run_cli("-w", demo, "export", "google")
    assert result.code == 3, result.output
    assert "multichan init --force --name NAME --url URL" in result.stderr
    assert "keeps catalog.db" in result.stderr
    restored = run_cli("init", "--force", "--name", "Acme", "--url", "https://acme.test", demo)
    assert restored.code == 0, restored.output
    assert len(catalog_skus(demo / "catalog.db")) == 61
    assert run_cli("-w", demo, "export", "google").code == 0


def test_an_existing_workspace_is_changed_only_as_asked(demo: Path) -> None:
    before = (demo / "channels.yaml").read_bytes()
    refused = run_cli("init", demo)
    assert refused.code == 3
    assert "--force" in refused.stderr and "--reset-catalog" in refused.stderr
    mixed = run_cli("init", "--demo", "--force", demo)  # would pour the demo into a catalog
    assert mixed.code == 2 and "--reset-catalog" in mixed.stderr
    renamed = run_cli("init", "--reset-catalog", "--name", "Acme", demo)
    assert renamed.code == 2 and "--force" in renamed.stderr
    assert (demo / "channels.yaml").read_bytes() == before
    assert len(catalog_skus(demo / "catalog.db")) == 61
    assert backups(demo, "catalog.db") == [] and backups(demo, "channels.yaml") == []
