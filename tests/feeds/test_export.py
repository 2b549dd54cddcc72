"""`multichan export` as a seller meets it: valid, repeatable, atomic feed files, items left out
with a reason, guards against a shrinking catalog, template errors and clear config errors.
The lock, overlapping runs, cron output and what is never printed are in test_export_runs.py.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_config
from tests.feeds.helpers import configure, exports_json, google_items, sql, temp_files
from tests.google_rules import check_google_xml


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


def test_a_template_may_read_offers_but_never_change_them(demo: Path) -> None:
    """Templates run in Jinja's immutable sandbox: one that tries to change an offer's data
    (or reach Python internals) is a template error with its line, and no feed is written."""
    template = demo / "templates" / "google_merchant.xml.j2"
    for trick in ("{{ o.tags.append('x') }}", "{{ o.__class__ }}"):
        source = template.read_text(encoding="utf-8").replace("<g:id>", "<g:id>" + trick, 1)
        (demo / "templates" / "tricky.xml.j2").write_text(source, encoding="utf-8")
        write_config(demo, "channels:\n  g: {type: google_merchant, output: feeds/g.xml, "
                     "template: tricky.xml.j2}\n")  # fmt: skip
        result = run_cli("-w", demo, "export", "g")
        assert result.code == 3, result.output
        assert re.search(r"tricky\.xml\.j2:\d+: .*(unsafe|not safely callable)", result.output)
        assert not (demo / "feeds" / "g.xml").exists()


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
