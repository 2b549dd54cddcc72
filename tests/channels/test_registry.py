"""Discovery through the ``multichan.channels`` entry points: lazy, only what is used, a broken
plugin is a warning; settings validation; ``multichan channels``."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from multichan.channels import registry
from multichan.channels.base import SettingSpec, validate_settings
from multichan.config import Secret, load
from multichan.errors import ConfigError
from multichan.feeds.formats import FORMATS
from tests.channels.conftest import TOKEN, install_dist
from tests.conftest import run_cli, write_config

GOOGLE_ONLY = """
channels:
  google:
    type: google_merchant
    output: feeds/google.xml
"""
WITH_ACME = (
    GOOGLE_ONLY
    + """
  acme:
    type: acme_market
    settings:
      base_url: {url}
      api_token: ${{ACME_TOKEN}}
  old_plugin:
    type: broken
    enabled: false
"""
)


def _config(tmp_path: Path, text: str):
    path = tmp_path / "channels.yaml"
    path.write_text(text, encoding="utf-8")
    return load(path, set(FORMATS) | set(registry.available_types()))


def test_plugin_is_found_only_through_its_entry_point(plugin_site: Path) -> None:
    types = registry.available_types()
    assert {"acme_market", "broken"} <= set(types)
    assert types["acme_market"].value == "acme_multichan:AcmeMarket"
    assert "acme_multichan" not in sys.modules  # listing names imports nothing


def test_without_the_plugin_nothing_is_found() -> None:
    assert "acme_market" not in registry.available_types()
    assert importlib.util.find_spec("acme_multichan") is None
    with pytest.raises(ConfigError, match="no channel type 'acme_market'"):
        registry.load("acme_market")


def test_load_imports_only_the_type_asked_for(plugin_site: Path) -> None:
    cls = registry.load("acme_market")
    assert cls.type == "acme_market" and cls.supports == {"listings", "prices", "quantities"}
    assert "acme_multichan" in sys.modules
    assert "acme_multichan_broken" not in sys.modules
    assert registry.load("acme_market") is cls


def test_broken_plugin_is_a_warning_naming_it(plugin_site: Path) -> None:
    classes, problems = registry.load_many()
    assert "acme_market" in classes
    [problem] = [p for p in problems if p.type == "broken"]
    assert problem.type == "broken"
    assert "acme_multichan_broken:Nope" in str(problem)
    assert "acme-multichan 1.2.0" in str(problem)
    assert "ModuleNotFoundError" in problem.error and "acme_sdk_not_installed" in problem.error
    with pytest.raises(registry.PluginError) as caught:
        registry.load("broken")
    assert caught.value.exit_code == 3


def test_a_type_name_mismatch_or_non_channel_is_reported(plugin_site: Path) -> None:
    install_dist(
        plugin_site,
        "acme-extras",
        "0.1",
        {"acme_two": "acme_multichan:AcmeMarket", "acme_req": "acme_multichan:requests"},
    )
    importlib.invalidate_caches()
    _, problems = registry.load_many(["acme_two", "acme_req"])
    messages = {p.type: p.error for p in problems}
    assert "declares type 'acme_market', not 'acme_two'" in messages["acme_two"]
    assert "not a multichan Channel subclass" in messages["acme_req"]


def test_unknown_type_suggests_the_installed_one(plugin_site: Path) -> None:
    with pytest.raises(ConfigError, match="did you mean 'acme_market'"):
        registry.load("acme_markt")


def test_a_google_only_config_imports_no_plugin(plugin_site: Path, tmp_path: Path) -> None:
    config = _config(tmp_path, GOOGLE_ONLY)
    assert registry.for_config(config.channels.values()) == ({}, [])
    assert not [m for m in sys.modules if m.startswith("acme_multichan")]


def test_a_config_imports_the_types_it_uses(plugin_site: Path, tmp_path: Path) -> None:
    config = _config(tmp_path, WITH_ACME.format(url="https://api.acme.example"))
    classes, problems = registry.for_config(config.channels.values())
    assert list(classes) == ["acme_market"] and problems == []
    assert "acme_multichan_broken" not in sys.modules  # its channel is disabled


def test_create_reports_settings_problems_with_file_and_line(
    plugin_site: Path, tmp_path: Path
) -> None:
    text = WITH_ACME.format(url="api.acme.example").replace(
        "api_token: ${ACME_TOKEN}", "api_token: hunter2-literal\n      api_tokn: x"
    )
    config = _config(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        registry.create(config.channels["acme"], "channels.yaml")
    message = caught.value.message
    assert "channels.yaml:7: channels.acme.settings.base_url must be an http" in message
    assert "unknown key 'api_tokn'" in message and "did you mean 'api_token'" in message
    assert "api_token must name an environment variable as ${VAR}" in message
    assert "hunter2" not in message


def test_create_builds_a_channel_with_its_secret_unresolved(
    plugin_site: Path, tmp_path: Path
) -> None:
    config = _config(tmp_path, WITH_ACME.format(url="https://api.acme.example/"))
    channel = registry.create(config.channels["acme"], "channels.yaml", session=object())
    assert channel.settings == {
        "base_url": "https://api.acme.example",
        "api_token": Secret("ACME_TOKEN", "channels.yaml:7: channels.acme.settings.api_token"),
        "timeout": 30,
    }


def test_validate_settings_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    schema = {
        "shop": SettingSpec("str", required=True),
        "page_size": SettingSpec("int", default=50),
        "sandbox": SettingSpec("bool", default=False),
        "region": SettingSpec("str", default="us"),
    }
    monkeypatch.setenv("SHOP_NAME", "northwind")
    settings, problems = validate_settings(
        schema, {"shop": "${SHOP_NAME}", "page_size": "x", "sandbox": "yes"}, "f.yaml:3: s"
    )
    assert settings["shop"] == "northwind" and settings["region"] == "us"
    assert problems == [
        "f.yaml:3: s.page_size must be a whole number, not 'x'",
        "f.yaml:3: s.sandbox must be true or false, not 'yes'",
    ]
    _, problems = validate_settings(schema, {}, "f.yaml:3: s")
    assert problems == ["f.yaml:3: s.shop is required (str)"]


def test_channels_command_lists_types_and_configured_channels(
    plugin_site: Path, workspace: Path
) -> None:
    write_config(workspace, WITH_ACME.format(url="https://api.acme.example"))
    result = run_cli("--workspace", workspace, "channels", "--json")
    assert result.code == 0, result.output
    data = json.loads(result.stdout)
    types = {t["type"]: t for t in data["types"]}
    assert types["google_merchant"]["kind"] == "feed"
    acme = types["acme_market"]
    assert acme["kind"] == "api" and acme["supports"] == ["listings", "prices", "quantities"]
    assert acme["max_batch"] == {"listings": 20, "prices": 50, "quantities": 50}
    assert acme["rate_limit"] == {"requests_per_second": 5, "burst": 10}
    assert acme["credential_env"] == ["ACME_TOKEN"]
    assert "broken" not in types
    [warning] = [w for w in data["warnings"] if "'broken'" in w]
    assert "'broken'" in warning and "Warning:" in result.stderr and "broken" in result.stderr
    channels = {c["name"]: c for c in data["channels"]}
    assert channels["acme"]["base_url"] == "https://api.acme.example"
    assert channels["google"]["output"] == "feeds/google.xml"
    assert channels["old_plugin"]["enabled"] is False
    assert TOKEN not in result.output


def test_channels_command_table_without_a_workspace(plugin_site: Path, tmp_path: Path) -> None:
    result = run_cli("--workspace", tmp_path, "channels")
    assert result.code == 0, result.output
    assert "acme_market" in result.stdout and "listings (20/batch)" in result.stdout
    assert "5/s, burst 10" in result.stdout and "google_merchant" in result.stdout
    assert "Configured channels" not in result.stdout
    assert "broken" in result.stderr
