"""`multichan export` as a seller and a cron job meet it: valid, repeatable, atomic feed files,
items left out with a reason, guards against a shrinking catalog, clear config errors, the lock.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from multichan.workspace import Workspace
from tests.conftest import run_cli, run_subprocess, write_config
from tests.feeds.helpers import configure, sql
from tests.google_rules import check_google_xml

G = "{http://base.google.com/ns/1.0}"


# --- helpers ---------------------------------------------------------------------------------


def google_items(path: Path) -> dict[str, dict[str, str]]:
    root = ET.parse(path).getroot()
    items = {}
    for item in root.iter("item"):
        fields = {child.tag.removeprefix(G): child.text or "" for child in item}
        items[fields["id"]] = fields
    return items


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def exports_json(ws: Path) -> list[dict[str, Any]]:
    result = run_cli("-w", ws, "exports", "--json")
    assert result.code == 0, result.output
    return json.loads(result.stdout)


# --- the demo feed ---------------------------------------------------------------------------
def test_demo_google_feed_passes_the_independent_checker(demo: Path) -> None:
    result = run_cli("-w", demo, "export", "google")
    assert result.code == 0, result.output
    feed = demo / "feeds" / "google.xml"
    assert check_google_xml(feed) == []
    items = google_items(feed)
    assert len(items) == 60
    assert "google: wrote" in result.stdout and "60 items" in result.stdout
    # the draft product is not for sale
    assert "GIFT-CARD-50" not in items
    assert items["MUG-ENAMEL"]["price"] == "14.00 USD"


def test_export_is_deterministic_and_recorded_with_its_sha256(demo: Path) -> None:
    feed = demo / "feeds" / "google.xml"
    assert run_cli("-w", demo, "export", "google").code == 0
    first = feed.read_bytes()
    assert run_cli("-w", demo, "export", "google").code == 0
    second = feed.read_bytes()
    assert first == second
    rows = exports_json(demo)
    assert len(rows) == 2
    digest = hashlib.sha256(second).hexdigest()
    assert [r["sha256"] for r in rows] == [digest, digest]
    assert rows[0]["channel"] == "google" and rows[0]["items"] == 60
    assert rows[0]["bytes"] == len(second) and rows[0]["left_out"] == 0


def test_invalid_gtin_is_left_out_of_the_gtin_field_but_the_item_stays(demo: Path) -> None:
    sql(demo, "UPDATE products SET gtin = '4000000010013' WHERE sku = 'MUG-ENAMEL'")  # check digit
    result = run_cli("-w", demo, "export", "google")
    assert result.code == 0, result.output
    feed = demo / "feeds" / "google.xml"
    assert check_google_xml(feed) == []
    items = google_items(feed)
    assert "gtin" not in items["MUG-ENAMEL"]
    assert items["MUG-ENAMEL"]["mpn"] == "NW-1001"
    assert items["BOTTLE-STEEL-750"]["gtin"] == "4000000010029"
    check = run_cli("-w", demo, "export", "google", "--check")
    assert "MUG-ENAMEL" in check.stderr and "4000000010013" in check.stderr


def test_bad_items_are_left_out_with_a_reason_and_the_rest_written(demo: Path) -> None:
    sql(demo, "UPDATE products SET title = '' WHERE sku = 'MUG-ENAMEL'")
    sql(demo, "DELETE FROM images WHERE sku = 'LANTERN-LED'")
    result = run_cli("-w", demo, "export", "google")
    assert result.code == 4, result.output
    lines = result.stderr.splitlines()
    assert any(re.search(r"google MUG-ENAMEL: title: .*empty", line) for line in lines), lines
    assert any(re.search(r"google LANTERN-LED: image_link: .*required", line) for line in lines)
    assert "58 items" in result.stdout and "2 left out" in result.stdout
    feed = demo / "feeds" / "google.xml"
    items = google_items(feed)
    assert len(items) == 58 and "MUG-ENAMEL" not in items and "LANTERN-LED" not in items
    assert check_google_xml(feed) == []


def test_check_writes_nothing_and_reports(demo: Path) -> None:
    sql(demo, "UPDATE products SET title = '' WHERE sku = 'MUG-ENAMEL'")
    result = run_cli("-w", demo, "export", "google", "--check")
    assert result.code == 4, result.output
    assert "MUG-ENAMEL" in result.stderr and "title" in result.stderr
    assert "google: checked, 59 items, 1 left out" in result.stdout
    assert list((demo / "feeds").iterdir()) == []
    assert exports_json(demo) == []
    sql(demo, "UPDATE products SET title = 'Mug' WHERE sku = 'MUG-ENAMEL'")
    clean = run_cli("-w", demo, "export", "--check")
    assert clean.code == 0, clean.output
    assert list((demo / "feeds").iterdir()) == []


# --- the shrink guard ------------------------------------------------------------------------
def test_shrink_guard_keeps_the_previous_feed(demo: Path) -> None:
    feed = demo / "feeds" / "google.xml"
    assert run_cli("-w", demo, "export", "google").code == 0
    before = feed.read_bytes()
    sql(demo, "UPDATE products SET status = 'archived' WHERE rowid % 2 = 0")
    warned = run_cli("-w", demo, "export", "google", "--check")
    assert warned.code == 4 and "an export would keep the previous feed" in warned.output
    refused = run_cli("-w", demo, "export", "google")
    assert refused.code == 4, refused.output
    assert "refused" in refused.output and "shrink" in refused.output
    assert "60" in refused.output and "--force" in refused.output
    assert feed.read_bytes() == before
    assert temp_files(feed.parent) == []
    assert len(exports_json(demo)) == 1
    forced = run_cli("-w", demo, "export", "google", "--force")
    assert forced.code == 0, forced.output
    assert 25 <= len(google_items(feed)) <= 35
    assert feed.read_bytes() != before


def test_small_changes_pass_the_shrink_guard(demo: Path) -> None:
    assert run_cli("-w", demo, "export", "google").code == 0
    sql(demo, "UPDATE products SET status = 'archived' WHERE sku IN ('MUG-ENAMEL', 'SEAT-PAD')")
    result = run_cli("-w", demo, "export", "google")
    assert result.code == 0, result.output
    assert len(google_items(demo / "feeds" / "google.xml")) == 58


# --- atomic writes and template errors -------------------------------------------------------
def test_no_temp_files_after_success(demo: Path) -> None:
    assert run_cli("-w", demo, "export", "google").code == 0
    assert temp_files(demo / "feeds") == []
    assert [p.name for p in (demo / "feeds").iterdir()] == ["google.xml"]


def _break_title(ws: Path) -> int:
    """Misspell o.title in the workspace's Google template; return the line it is on."""
    template = ws / "templates" / "google_merchant.xml.j2"
    text = template.read_text(encoding="utf-8").replace("{{ o.title }}", "{{ o.titel }}")
    template.write_text(text, encoding="utf-8")
    return next(n for n, s in enumerate(text.splitlines(), 1) if "o.titel" in s)


def test_template_error_exits_3_and_keeps_the_old_feed(demo: Path) -> None:
    feed = demo / "feeds" / "google.xml"
    assert run_cli("-w", demo, "export", "google").code == 0
    before = feed.read_bytes()
    _break_title(demo)
    result = run_cli("-w", demo, "export", "google")
    assert result.code == 3, result.output
    assert re.search(r"templates/google_merchant\.xml\.j2:\d+: .*titel", result.output)
    assert feed.read_bytes() == before
    assert temp_files(feed.parent) == []
    assert len(exports_json(demo)) == 1


def test_template_runtime_error_names_the_template_line(demo: Path) -> None:
    line = _break_title(demo)
    result = run_cli("-w", demo, "export", "google")
    assert result.code == 3
    assert f"google_merchant.xml.j2:{line}: " in result.output


def test_template_syntax_error_names_file_and_line(demo: Path) -> None:
    template = demo / "templates" / "google_merchant.xml.j2"
    lines = template.read_text(encoding="utf-8").splitlines()
    lines.insert(9, "{% if %}")
    template.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_cli("-w", demo, "export", "google")
    assert result.code == 3, result.output
    assert "google_merchant.xml.j2:10" in result.output
    assert not (demo / "feeds" / "google.xml").exists()
    assert temp_files(demo / "feeds") == []


def test_one_channels_template_error_does_not_stop_the_others(demo: Path) -> None:
    (demo / "templates" / "broken.csv.j2").write_text(
        "sku\n{% for o in offers %}{{ o.nope }}\n{% endfor %}\n", encoding="utf-8"
    )
    configure(
        demo,
        """\
        broken: {type: csv, template: broken.csv.j2, output: feeds/broken.csv}
        google: {type: google_merchant}
        """,
    )
    result = run_cli("-w", demo, "export")
    assert result.code == 3, result.output
    assert "broken.csv.j2:2: " in result.output and "nope" in result.output
    assert (demo / "feeds" / "google.xml").exists()
    assert not (demo / "feeds" / "broken.csv").exists()
    assert temp_files(demo / "feeds") == []


# --- channels.yaml mistakes ------------------------------------------------------------------
BROKEN_CONFIG = """\
version: 1
shop:
  name: Test Shop
channels:
  google:
    type: google_merchant
    outptu: feeds/google.xml
    price:
      round: "0.98"
  eu:
    type: csv_feed
"""


def test_every_config_problem_is_listed_with_its_line(demo: Path) -> None:
    write_config(demo, BROKEN_CONFIG)
    result = run_cli("-w", demo, "export")
    assert result.code == 3, result.output
    problems = [
        line.strip()
        for line in result.stderr.splitlines()
        if line.strip().startswith("channels.yaml:")
    ]
    assert len(problems) == 3, result.stderr
    assert "3 problem" in result.stderr
    by_text = {p.split(": ", 1)[1]: p.split(": ", 1)[0] for p in problems}
    typo = next(p for p in problems if "outptu" in p)
    assert typo.startswith("channels.yaml:7:") and "did you mean 'output'" in typo
    kind = next(p for p in problems if "csv_feed" in p)
    assert kind.startswith("channels.yaml:11:") and "csv" in kind
    rounding = next(p for p in problems if "round" in p)
    assert re.match(r"channels\.yaml:\d+: ", rounding) and "0.99" in rounding
    assert len(by_text) == 3
    assert not (demo / "feeds" / "google.xml").exists()


def test_bad_round_value_is_reported_at_its_own_line(demo: Path) -> None:
    write_config(demo, BROKEN_CONFIG)
    result = run_cli("-w", demo, "export")
    assert "channels.yaml:9: channels.google.price.round" in result.stderr


def test_missing_secret_only_matters_for_the_channel_that_uses_it(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MC_TEST_NEVER_SET_PASSWORD", raising=False)
    configure(
        demo,
        """\
        google: {type: google_merchant}
        backup:
          type: csv
          output: feeds/backup.csv
          upload:
            url: sftp://feeds@127.0.0.1:9/incoming/
            password: ${MC_TEST_NEVER_SET_PASSWORD}
        """,
    )
    ok = run_cli("-w", demo, "export", "google")
    assert ok.code == 0, ok.output
    failed = run_cli("-w", demo, "export", "backup")
    assert failed.code == 3, failed.output
    assert "MC_TEST_NEVER_SET_PASSWORD" in failed.output
    assert (demo / "feeds" / "backup.csv").exists()  # the local feed is in place


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
