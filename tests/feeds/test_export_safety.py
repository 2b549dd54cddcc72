"""`multichan export` never loses or hides a seller's data: an empty feed, or a channel's first
feed that leaves out most products, is refused unless --allow-empty; a catalog that cannot
record the export keeps the previous feed (and says so in one line with its exit code); temp
files left by killed runs are removed, and the run says so, while a live run's are kept."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.feeds.helpers import configure, exports_json, google_items, sql, temp_files

GOOGLE = "google: {type: google_merchant, output: feeds/google.xml}"


def _export(ws: Path, *args: str) -> tuple[int, str]:
    result = run_cli("-w", ws, "export", "google", *args)
    return result.code, result.output


# --- an empty feed ---------------------------------------------------------------------------
def test_an_empty_catalog_is_refused_and_the_previous_file_kept(workspace: Path) -> None:
    configure(workspace, GOOGLE)
    feed = workspace / "feeds" / "google.xml"
    feed.write_text("<rss>the feed from before</rss>\n", encoding="utf-8")
    check = run_cli("-w", workspace, "export", "google", "--check")
    assert check.code == 4, check.output
    assert "no items (the catalog has no products)" in check.output
    assert "an export would keep the previous feed" in check.output
    refused = run_cli("-w", workspace, "export", "google")
    assert refused.code == 4, refused.output
    assert "google: refused" in refused.stdout and "no items" in refused.stdout
    assert "the previous feed was kept" in refused.stdout and "--allow-empty" in refused.stdout
    assert feed.read_text(encoding="utf-8") == "<rss>the feed from before</rss>\n"
    assert temp_files(feed.parent) == []
    assert exports_json(workspace) == []
    allowed = run_cli("-w", workspace, "export", "google", "--allow-empty")
    assert allowed.code == 0, allowed.output
    assert google_items(feed) == {}
    assert [r["items"] for r in exports_json(workspace)] == [0]


def test_a_feed_that_leaves_out_every_product_is_neither_written_nor_uploaded(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MC_TEST_NEVER_SET_PASSWORD", raising=False)
    configure(
        demo,
        """\
        google:
          type: google_merchant
          output: feeds/google.xml
          upload:
            url: sftp://feeds@127.0.0.1:9/incoming/
            password: ${MC_TEST_NEVER_SET_PASSWORD}
        """,
    )
    sql(demo, "DELETE FROM images")
    code, out = _export(demo)
    assert code == 4, out
    assert "all 60 products offered were left out" in out
    assert "most often 'image_link (http/https) is required' (60 products)" in out
    assert "nothing was written" in out
    assert "MC_TEST_NEVER_SET_PASSWORD" not in out  # no upload was even tried
    assert not (demo / "feeds" / "google.xml").exists()
    assert temp_files(demo / "feeds") == []
    assert exports_json(demo) == []


def test_emptying_a_published_feed_takes_both_allow_empty_and_force(demo: Path) -> None:
    feed = demo / "feeds" / "google.xml"
    assert _export(demo)[0] == 0
    before = feed.read_bytes()
    sql(demo, "DELETE FROM images")
    code, out = _export(demo)
    assert code == 4 and "no items" in out and "--allow-empty --force" in out, out
    code, out = _export(demo, "--allow-empty")
    assert code == 4 and "shrink" in out and "--force" in out, out
    assert feed.read_bytes() == before
    assert len(exports_json(demo)) == 1
    code, out = _export(demo, "--allow-empty", "--force")
    assert code == 4 and "google: wrote" in out, out  # written; 4 for the products left out
    assert google_items(feed) == {}
    assert [r["items"] for r in exports_json(demo)] == [0, 60]


# --- a first feed that leaves out most products ----------------------------------------------
LEAVE_OUT_40 = """DELETE FROM images WHERE sku IN (
    SELECT sku FROM products WHERE status = 'active' ORDER BY sku LIMIT 40)"""


def test_a_first_feed_that_leaves_out_most_products_is_refused(demo: Path) -> None:
    feed = demo / "feeds" / "google.xml"
    sql(demo, LEAVE_OUT_40)
    check = run_cli("-w", demo, "export", "google", "--check")
    assert check.code == 4, check.output
    assert "first feed would leave out 40 of the 60 products offered" in check.output
    assert "'image_link (http/https) is required' (40 products)" in check.output
    assert "an export would write nothing" in check.output
    code, out = _export(demo)
    assert code == 4 and "google: refused" in out and "--allow-empty" in out, out
    assert not feed.exists() and temp_files(feed.parent) == []
    assert exports_json(demo) == []
    code, out = _export(demo, "--allow-empty")
    assert code == 4 and "google: wrote" in out, out
    assert len(google_items(feed)) == 20
    code, out = _export(demo)  # the next night has a feed to compare with: the shrink guard's
    assert code == 4 and "google: wrote" in out, out
    assert [r["items"] for r in exports_json(demo)] == [20, 20]


def test_a_first_feed_that_leaves_out_half_its_products_is_written(demo: Path) -> None:
    sql(demo, LEAVE_OUT_40.replace("40", "30"))
    code, out = _export(demo)
    assert code == 4 and "google: wrote" in out and "30 left out" in out, out
    assert len(google_items(demo / "feeds" / "google.xml")) == 30


# --- the export is recorded in the step that puts the file in place --------------------------
def _published(demo: Path) -> bytes:
    """Export once, then change the catalog so the next feed would differ."""
    assert _export(demo)[0] == 0
    sql(demo, "UPDATE products SET title = 'Enamel mug, new' WHERE sku = 'MUG-ENAMEL'")
    return (demo / "feeds" / "google.xml").read_bytes()


def test_a_failure_to_record_the_export_keeps_the_previous_feed(demo: Path) -> None:
    feed = demo / "feeds" / "google.xml"
    before = _published(demo)
    sql(
        demo,
        "CREATE TRIGGER no_records BEFORE INSERT ON exports "
        "BEGIN SELECT RAISE(ABORT, 'exports are frozen'); END",
    )
    result = run_cli("-w", demo, "export", "google")
    assert result.code == 3, result.output
    assert "google: failed" in result.stdout and "exports are frozen" in result.stdout
    assert "the export was not recorded and the previous feed was kept" in result.stdout
    assert "unexpected" not in result.output
    assert feed.read_bytes() == before
    assert temp_files(feed.parent) == []
    assert len(exports_json(demo)) == 1
    sql(demo, "DROP TRIGGER no_records")
    assert _export(demo)[0] == 0
    assert feed.read_bytes() != before and len(exports_json(demo)) == 2


def test_a_read_only_catalog_is_one_clear_error_and_the_feed_stays(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An immutable catalog.db (opened read-only, as SQLite does when the file cannot be
    written): the run stops before any feed is written; --check still works."""
    import sqlite_utils

    feed = demo / "feeds" / "google.xml"
    before = _published(demo)

    def read_only(path: Path) -> sqlite_utils.Database:
        return sqlite_utils.Database(sqlite3.connect(f"file:{path}?mode=ro", uri=True))

    monkeypatch.setattr("multichan.catalog.schema.open_catalog", read_only)
    result = run_cli("-w", demo, "export", "google")
    assert result.code == 3, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: cannot write to ") and "readonly database" in line
    assert "no feed was written" in line
    assert feed.read_bytes() == before
    assert temp_files(feed.parent) == []
    check = run_cli("-w", demo, "export", "google", "--check")
    assert check.code == 0, check.output
    monkeypatch.undo()
    assert len(exports_json(demo)) == 1


def test_a_catalog_locked_by_another_program_exits_7_and_keeps_the_feed(demo: Path) -> None:
    """Another program (a sqlite3 shell, Datasette) holds catalog.db's write lock for longer
    than the busy timeout: exit 7, like a workspace lock held by another run."""
    feed = demo / "feeds" / "google.xml"
    before = _published(demo)
    other = sqlite3.connect(demo / "catalog.db", isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        result = run_cli("-w", demo, "export", "google")
    finally:
        other.close()
    assert result.code == 7, result.output
    assert "is locked by another program" in result.stderr
    assert feed.read_bytes() == before
    assert temp_files(feed.parent) == []
    assert len(exports_json(demo)) == 1


def test_a_feed_that_cannot_be_renamed_into_place_leaves_no_temp_file(demo: Path) -> None:
    configure(demo, "google: {type: google_merchant, output: feeds}")  # a folder, not a file
    result = run_cli("-w", demo, "export", "google")
    assert result.code == 3, result.output
    assert "cannot write the feed" in result.output
    assert temp_files(demo) == []
    assert exports_json(demo) == []


def test_a_failed_second_step_puts_the_previous_file_back(tmp_path: Path) -> None:
    from multichan.feeds import writer

    def fail() -> None:
        raise RuntimeError("the record was not committed")

    target = tmp_path / "feed.xml"
    target.write_text("old", encoding="utf-8")
    for previous in ("old", None):
        if previous is None:
            target.unlink()
        written = writer.write_temp(target, ["new"])
        with pytest.raises(RuntimeError):
            writer.commit(written, target, then=fail)
        assert (target.read_text(encoding="utf-8") if target.exists() else None) == previous
        assert temp_files(tmp_path) == []


# --- stale temp files ------------------------------------------------------------------------
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temp_files_are_removed_and_reported_and_live_ones_kept(demo: Path) -> None:
    feeds = demo / "feeds"
    feeds.mkdir(exist_ok=True)
    two_hours_ago = time.time() - 7200

    def temp(name: str, old: bool = False) -> Path:
        path = feeds / name
        path.write_bytes(b"<item/>" * 300_000)
        if old:
            os.utime(path, (two_hours_ago, two_hours_ago))
        return path

    killed = temp(".google.xml.k1ll3d_0.tmp", old=True)  # an older multichan's name: no pid
    dead = temp(f".google.xml.{_dead_pid()}.abcdefgh.tmp")  # its run is gone
    live = temp(f".google.xml.{os.getppid()}.livewrit.tmp")  # a run still writing
    recent = temp(".google.xml.recent00.tmp")  # no pid, written a moment ago
    other_feed = temp(".amazon.json.k1ll3d_0.tmp", old=True)  # not this channel's
    not_ours = temp("notes.tmp", old=True)
    check = run_cli("-w", demo, "export", "google", "--check")
    assert check.code == 0 and killed.exists() and dead.exists()  # --check writes nothing
    result = run_cli("-w", demo, "export", "google")
    assert result.code == 0, result.output
    assert not killed.exists() and not dead.exists()
    assert live.exists() and recent.exists() and other_feed.exists() and not_ours.exists()
    assert "note google: removed .google.xml.k1ll3d_0.tmp (2.1 MB)" in result.stderr
    assert f"removed {dead.name}" in result.stderr and "did not finish" in result.stderr
    assert len(google_items(feeds / "google.xml")) == 60
    again = run_cli("-w", demo, "export", "google", "--json")
    assert again.code == 0, again.output
    assert json.loads(again.stdout)["channels"][0]["notes"] == []  # nothing stale this time
