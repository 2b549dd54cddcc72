"""`multichan export` as a cron job and scripts meet it: the lock and overlapping runs, the JSON
summary and the plain one-line-per-channel output, which channels a run exports, and what an
error never prints (values from the environment, passwords in URLs).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from multichan.workspace import Workspace
from tests.conftest import run_cli, run_subprocess
from tests.feeds.helpers import configure, exports_json, google_items, sql, temp_files
from tests.google_rules import check_google_xml


# --- the lock, overlapping runs, cron --------------------------------------------------------
def test_a_held_lock_makes_export_exit_7(demo: Path) -> None:
    with Workspace(demo.resolve()).lock():
        started = time.monotonic()
        result = run_subprocess(
            "-w", demo, "export", "google", env={"MULTICHAN_LOCK_TIMEOUT": "0.5"}
        )
        waited = time.monotonic() - started
    assert result.code == 7, result.output
    assert "lock" in result.stderr
    assert waited < 5
    assert not (demo / "feeds" / "google.xml").exists()
    # once the lock is free, the same command works
    assert run_cli("-w", demo, "export", "google").code == 0


def _big_catalog(ws: Path, tmp_path: Path, count: int = 3000) -> None:
    source = tmp_path / "big.csv"
    with source.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(
            [
                "sku",
                "title",
                "description",
                "brand",
                "mpn",
                "price",
                "quantity",
                "link",
                "image_link",
                "condition",
            ]
        )
        for n in range(count):
            out.writerow(
                [
                    f"BIG-{n:05d}",
                    f"Big catalog product {n} & co",
                    f"Item <{n}>",
                    "Acme",
                    f"AC-{n}",
                    f"{10 + n % 90}.{n % 100:02d}",
                    n % 9,
                    f"https://shop.example.com/p/{n}",
                    f"https://cdn.example.com/p/{n}.jpg",
                    "new",
                ]
            )
    result = run_cli("-w", ws, "import", "csv", source)
    assert result.code == 0, result.output


@pytest.mark.slow
def test_overlapping_exports_never_leave_a_corrupt_feed(workspace: Path, tmp_path: Path) -> None:
    _big_catalog(workspace, tmp_path)
    configure(workspace, "google: {type: google_merchant}")
    feed = workspace / "feeds" / "google.xml"
    assert run_cli("-w", workspace, "export", "google").code == 0
    env = {**os.environ, "MULTICHAN_LOCK_TIMEOUT": "30"}
    env.pop("FORCE_COLOR", None)
    command = [sys.executable, "-m", "multichan", "-w", str(workspace), "export", "google"]
    procs = [
        subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    reads = 0
    while any(p.poll() is None for p in procs):  # a reader never sees half a file
        root = ET.parse(feed).getroot()
        assert len(root.findall("channel/item")) == 3000
        reads += 1
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert reads > 0
    items = google_items(feed)
    assert len(items) == 3000
    assert items["BIG-00007"]["title"] == "Big catalog product 7 & co"
    assert check_google_xml(feed) == []
    assert temp_files(feed.parent) == []
    assert len(exports_json(workspace)) == 3


def test_json_summary(demo: Path) -> None:
    sql(demo, "UPDATE products SET title = '' WHERE sku = 'MUG-ENAMEL'")
    configure(
        demo,
        """\
        google: {type: google_merchant}
        c: {type: csv, output: feeds/c.csv}
        """,
    )
    result = run_cli("-w", demo, "export", "--json")
    assert result.code == 4
    summary = json.loads(result.stdout)  # nothing but JSON on stdout
    assert summary["exit_code"] == 4
    assert [c["channel"] for c in summary["channels"]] == ["google", "c"]
    google, generic = summary["channels"]
    assert set(google) >= {
        "channel",
        "status",
        "path",
        "items",
        "left_out",
        "notes",
        "bytes",
        "sha256",
        "duration_ms",
        "uploaded_to",
        "message",
        "exit_code",
    }
    assert google["status"] == "written" and google["items"] == 59 and google["exit_code"] == 4
    assert google["left_out"] == [
        {
            "channel": "google",
            "sku": "MUG-ENAMEL",
            "field": "title",
            "reason": google["left_out"][0]["reason"],
        }
    ]
    assert google["path"] == str(demo / "feeds" / "google.xml")
    data = (demo / "feeds" / "google.xml").read_bytes()
    assert google["sha256"] == hashlib.sha256(data).hexdigest()
    assert google["bytes"] == len(data)
    assert generic["status"] == "written" and generic["items"] == 59
    with (demo / "feeds" / "c.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == generic["items"]
    assert all(c["exit_code"] in (0, 4) for c in summary["channels"])


def test_cron_output_is_plain_with_one_summary_line_per_channel(demo: Path) -> None:
    sql(demo, "UPDATE products SET title = '' WHERE sku = 'MUG-ENAMEL'")
    configure(
        demo,
        """\
        google: {type: google_merchant}
        meta: {type: meta_catalog}
        """,
    )
    result = run_subprocess("-w", demo, "export", "--all", env={"TERM": "xterm-256color"})
    assert result.code == 4, result.output
    assert "\x1b[" not in result.stdout and "\x1b[" not in result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("google: wrote ") and lines[1].startswith("meta: wrote ")
    assert "MUG-ENAMEL" in result.stderr  # the left-out lines go to stderr


def test_disabled_channel_is_skipped_unless_named(demo: Path) -> None:
    configure(
        demo,
        """\
        google: {type: google_merchant}
        meta: {type: meta_catalog, enabled: false}
        """,
    )
    result = run_cli("-w", demo, "export")
    assert result.code == 0, result.output
    assert not (demo / "feeds" / "meta.csv").exists()
    named = run_cli("-w", demo, "export", "meta")
    assert named.code == 0, named.output
    assert (demo / "feeds" / "meta.csv").exists()


def test_unknown_channel_on_the_command_line_is_a_usage_error(demo: Path) -> None:
    result = run_cli("-w", demo, "export", "googel")
    assert "did you mean 'google'" in result.stderr
    assert result.code == 2


def test_left_out_line_shows_the_sku_as_it_is(workspace: Path, tmp_path: Path) -> None:
    source = tmp_path / "products.csv"
    source.write_text(
        "sku,title,description,brand,price,quantity,link\n"
        "CUP[red],Red cup,A cup,Acme,5.00,3,https://shop.example.com/cup\n"
        "CUP-BLUE,Blue cup,A cup,Acme,5.00,3,https://shop.example.com/cup-blue\n",
        encoding="utf-8",
    )
    assert run_cli("-w", workspace, "import", "csv", source).code == 0
    configure(workspace, "google: {type: google_merchant}")
    result = run_cli("-w", workspace, "export", "google")
    assert result.code == 4  # neither has an image
    assert "google CUP[red]: image_link" in result.stderr


def test_an_amazon_feed_with_no_messages_is_refused_even_forced(demo: Path) -> None:
    """Amazon's schema needs 1 to 25,000 messages: an empty file would be rejected there."""
    configure(
        demo,
        """\
        amazon:
          type: amazon_listings
          settings: {seller_id: A1EXAMPLE}
          filters: {include_brands: [Nobody]}
        """,
    )
    for args in ((), ("--force",)):
        result = run_cli("-w", demo, "export", "amazon", *args)
        assert result.code == 4, result.output
        assert "files hold 1 to 25,000 items, this one would hold 0" in result.output
        assert not (demo / "feeds" / "amazon.json").exists()


def test_values_from_the_environment_are_never_quoted_in_errors(demo: Path) -> None:
    secret = "hunter2-not-a-number"
    configure(demo, "google: {type: google_merchant, stock: {buffer: '${MC_BUFFER}'}}")
    result = run_cli("-w", demo, "export", "google", env={"MC_BUFFER": secret})
    assert result.code == 3
    assert "the value of ${MC_BUFFER}" in result.stderr and secret not in result.output
    ok = run_cli("-w", demo, "export", "google", env={"MC_BUFFER": "2"})
    assert ok.code == 0, ok.output


def test_a_password_in_a_mistyped_upload_url_is_not_printed(demo: Path) -> None:
    configure(demo, "google: {type: google_merchant, upload: {url: 'sftp//me:pa55w0rd@h/x/'}}")
    result = run_cli("-w", demo, "export", "google")
    assert result.code == 3 and "must not contain a password" in result.output
    assert "pa55w0rd" not in result.output
