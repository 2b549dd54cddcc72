"""The documented channels.yaml: every channel block it shows commented out, uncommented,
is a valid channel of its type (its rules and its settings), so a seller can copy any of
them as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from multichan.channels import registry
from multichan.config import load
from multichan.feeds.formats import FORMATS

EXAMPLE = Path(__file__).resolve().parents[1] / "channels.yaml"
BLOCK_START = re.compile(r"^  # ([a-z_]+):\s*$")


def commented_blocks(text: str) -> dict[str, str]:
    """Each ``  # name:`` block of the example, uncommented, up to the next bare ``  #``."""
    blocks: dict[str, str] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        match = BLOCK_START.match(line)
        if not match or not lines[i + 1].startswith("  #   type:"):
            continue
        body = [f"  {match.group(1)}:"]
        for following in lines[i + 1 :]:
            if not following.startswith("  #  "):
                break
            body.append("  " + following[4:])
        blocks[match.group(1)] = "\n".join(body)
    return blocks


def test_the_example_shows_a_block_for_every_built_in_channel_type() -> None:
    types = {
        re.search(r"type: (\w+)", block).group(1)  # type: ignore[union-attr]
        for block in commented_blocks(EXAMPLE.read_text(encoding="utf-8")).values()
    }
    api_types = set(registry.available_types())
    assert api_types <= types, f"no example block for {sorted(api_types - types)}"


@pytest.mark.parametrize("name", sorted(commented_blocks(EXAMPLE.read_text(encoding="utf-8"))))
def test_each_commented_channel_block_is_valid_as_written(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    block = commented_blocks(text)[name]
    for var in set(re.findall(r"\$\{([A-Z0-9_]+)\}", block)):
        monkeypatch.setenv(var, f"value-of-{var.lower()}")
    head = text.split("\nchannels:\n")[0]
    head = head.replace('"<your shop\'s name>"', "Northwind").replace(
        '"<https://www.your-shop.com>"', "https://www.northwind.example"
    )
    head = head.replace(
        '"<https://www.your-shop.com/products/{handle}>"',
        "https://www.northwind.example/products/{handle}",
    )
    path = tmp_path / "channels.yaml"
    path.write_text(head + "\nchannels:\n" + block + "\n", encoding="utf-8")
    config = load(path, set(FORMATS) | set(registry.available_types()))
    channel = config.channels[name]
    if channel.type in FORMATS:
        return  # a feed: its rules were checked by load
    created = registry.create(channel, path.name)  # settings problems raise, with file:line
    assert created.type == channel.type
