"""`multichan replay`: a past push run read back from the journal gives exactly what was sent
(what the plan said and what the Acme server received), for accepted, rejected and failed
items and for jobs; `--against now` diffs it per SKU and field with today's plan; a run from
before values were recorded says so; unknown runs are usage errors; a large run streams.
Export runs: each written feed is kept, read back by its format (XML, CSV, TSV, JSON, JSON
Lines), diffed item by item against today's feed, and only the last few are kept."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sqlite3
import tempfile
import tracemalloc
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from multichan.catalog.store import now
from multichan.cli import main
from multichan.cli.output import STATE
from multichan.sync.run import push_all
from multichan.workspace import resolve
from tests.conftest import run_cli, write_config
from tests.sync.conftest import FakeTime, Shop
from tests.sync.test_jobs import _jobs_on

ROUTES = {"/v1/listings/batch": "listings", "/v1/prices/batch": "prices",
          "/v1/inventory/batch": "quantities"}  # fmt: skip


def _doc(shop: Shop, *args: str) -> dict[str, Any]:
    result = shop.cli("replay", *args, "--json")
    assert result.code == 0, result.output
    return json.loads(result.stdout)


def _last_run(shop: Shop) -> str:
    return str(shop.db().execute("SELECT max(id) FROM journal_runs").fetchone()[0])


def _planned(shop: Shop) -> dict[tuple[str, str], dict[str, Any]]:
    """What a full plan says each SKU and kind will send: every field of a create."""
    plan = shop.cli("plan", "--json", "--full")
    assert plan.code == 0, plan.output
    changes = json.loads(plan.stdout)["channels"][0]["changes"]
    return {(c["sku"], c["kind"]): {f["field"]: f["new"] for f in c["fields"]} for c in changes}


def _sent(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(i["sku"], i["kind"]): i["snapshot"] for i in doc["items"]}


def test_replay_of_a_push_gives_exactly_what_the_plan_sent_and_the_server_got(
    shop: Shop,
) -> None:
    planned = _planned(shop)
    assert shop.cli("push").code == 0
    doc = _doc(shop, _last_run(shop))
    assert _sent(doc) == planned
    assert all(i["outcome"] == "ok" for i in doc["items"])
    n = len(shop.skus())
    run = doc["run"]
    assert (run["channel"], run["command"], run["status"], run["recorded"]) == (
        "acme", "push", "ok", True
    )  # fmt: skip
    assert run["plan"]["skus"] == {"create": n, "update": 0, "delist": 0}
    assert run["counts"]["ok"] == 3 * n
    sent = _sent(doc)
    checked = 0
    for request in shop.server.requests:
        kind = ROUTES[request["path"]]
        for item in request["body"]["items"]:
            snap = sent[(item["sku"], kind)]
            if kind == "listings":
                got = {k: item[k] for k in ("title", "description", "link")}
                assert got == {k: snap[k] for k in got} and item["image"] == snap["image_link"]
            elif kind == "prices":
                assert {k: item[k] for k in ("price", "sale_price", "currency")} == snap
            else:
                assert item["quantity"] == snap["quantity"]
            checked += 1
    assert checked == 3 * n

    text = shop.cli("replay", _last_run(shop))
    assert text.code == 0, text.output
    assert f"plan: {n} to create, 0 to update, 0 to delist" in text.stdout
    mug = [ln for ln in text.stdout.splitlines() if "MUG-ENAMEL" in ln and "prices" in ln]
    assert len(mug) == 1 and "price=14.00" in mug[0] and "ok" in mug[0]


def test_rejected_and_failed_items_keep_what_was_sent(shop: Shop) -> None:
    shop.sql("UPDATE products SET title = '' WHERE sku = 'MUG-ENAMEL'")
    assert shop.cli("push").code == 4
    doc = _doc(shop, _last_run(shop))
    [line] = [i for i in doc["items"] if i["sku"] == "MUG-ENAMEL" and i["kind"] == "listings"]
    assert line["outcome"] == "rejected" and line["message"] == "title: required"
    assert line["snapshot"]["title"] == "" and line["snapshot"]["brand"]  # as it was sent

    shop.sql("UPDATE products SET title = 'Enamel Mug' WHERE sku = 'MUG-ENAMEL'")
    assert shop.cli("push").code == 0
    shop.sql("UPDATE products SET price = '15.50' WHERE sku = 'BOTTLE-STEEL-750'")
    planned = _planned(shop)
    assert list(planned) == [("BOTTLE-STEEL-750", "prices")]
    shop.server.fail_next = [(401, {})]  # the channel refuses the whole batch
    assert shop.cli("push").code == 5
    doc = _doc(shop, _last_run(shop))
    assert [(i["sku"], i["kind"], i["outcome"]) for i in doc["items"]] == [
        ("BOTTLE-STEEL-750", "prices", "failed")
    ]
    snap = doc["items"][0]["snapshot"]  # every field of the kind, the changed ones as planned
    assert set(snap) == {"price", "sale_price", "currency"} and snap["price"] == "15.50"
    assert planned[("BOTTLE-STEEL-750", "prices")].items() <= snap.items()


def test_jobs_record_what_each_job_carried_also_when_a_later_run_collects_it(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    planned = _planned(shop)
    _jobs_on(monkeypatch, wait=0.0)  # no waiting: the next run collects each job
    clock = FakeTime()
    first = push_all(resolve(shop.root), ["acme"], pacing=clock.pacing())[0]
    assert first.counts["pending"] > 0
    submitted = _doc(shop, _last_run(shop))
    assert {i["outcome"] for i in submitted["items"]} == {"submitted"}
    _jobs_on(monkeypatch, wait=60.0)
    shop.server.job_looks = 0
    assert push_all(resolve(shop.root), ["acme"], pacing=clock.pacing())[0].exit_code == 0
    runs = [str(r) for (r,) in shop.db().execute("SELECT id FROM journal_runs ORDER BY id")]
    everything: dict[tuple[str, str], dict[str, Any]] = {}
    for run in runs[1:]:
        lines = _doc(shop, run)["items"]
        everything.update({(i["sku"], i["kind"]): i["snapshot"] for i in lines
                           if i["outcome"] == "ok"})  # fmt: skip
    assert everything == planned == _sent(submitted)


def test_against_now_diffs_each_sku_and_field_with_todays_plan(shop: Shop) -> None:
    assert shop.cli("push").code == 0
    run = _last_run(shop)
    assert shop.cli("price", "set", "MUG-ENAMEL", "12.00").code == 0
    shop.sql("UPDATE products SET status = 'archived' WHERE sku = 'BOTTLE-STEEL-750'")
    doc = _doc(shop, run, "--against", "now")
    by = {(i["sku"], i["kind"]): i for i in doc["items"]}
    mug = by[("MUG-ENAMEL", "prices")]
    assert mug["status"] == "changed" and mug["now"]["action"] == "update"
    assert mug["fields"] == [{"field": "price", "then": "14.00", "now": "12.00"}]
    gone = by[("BOTTLE-STEEL-750", "quantities")]
    assert gone["status"] == "changed" and gone["now"] == {
        "action": "delist", "snapshot": {"quantity": 0}
    }  # fmt: skip
    assert by[("BOTTLE-STEEL-750", "listings")]["status"] == "same"  # nothing sent for it
    n = len(shop.skus()) + 1  # the archived one too
    assert doc["totals"] == {"same": 3 * n - 2, "changed": 2, "new": 0, "gone": 0,
                             "not recorded": 0}  # fmt: skip
    assert doc["today"]["update"] == 1 and doc["today"]["delist"] == 1
    before = len(shop.server.requests)
    text = shop.cli("replay", run, "--against", "now")
    assert text.code == 0 and len(shop.server.requests) == before
    [row] = [ln for ln in text.stdout.splitlines() if "MUG-ENAMEL" in ln]
    assert "price" in row and "14.00" in row and "12.00" in row and "update" in row
    assert f"against now: {3 * n - 2} same, 2 changed" in text.stdout
    assert "today's plan: 0 to create, 1 to update, 1 to delist" in text.stdout

    lines = shop.cli("replay", run, "--against", "now", "--jsonl")
    assert lines.code == 0
    parsed = [json.loads(ln) for ln in lines.stdout.splitlines()]
    assert parsed[0]["run"]["run"] == run and parsed[-1]["totals"] == doc["totals"]
    assert parsed[1:-1] == doc["items"]


def test_a_run_from_before_values_were_recorded_says_so_and_invents_nothing(
    shop: Shop,
) -> None:
    assert shop.cli("push").code == 0
    run = _last_run(shop)
    shop.sql("UPDATE journal_items SET snapshot = NULL")  # as a V10 catalog's lines are
    result = shop.cli("replay", run, "--json")
    assert result.code == 0
    assert "values sent were not recorded for this run" in result.stderr
    doc = json.loads(result.stdout)
    assert doc["run"]["recorded"] is False and doc["items"]
    assert all(i["snapshot"] is None for i in doc["items"])
    text = shop.cli("replay", run)
    assert "(not recorded)" in text.stdout and "price=" not in text.stdout
    compared = _doc(shop, run, "--against", "now")
    assert {i["status"] for i in compared["items"]} == {"not recorded"}
    assert all(i["fields"] == [] and i["then"]["snapshot"] is None for i in compared["items"])


def test_list_and_unknown_runs(shop: Shop) -> None:
    empty = shop.cli("replay")
    assert empty.code == 0 and "no runs yet" in empty.stdout
    assert shop.cli("push").code == 0
    assert shop.cli("price", "set", "MUG-ENAMEL", "12.00").code == 0
    assert shop.cli("push").code == 0
    listed = shop.cli("replay", "--list", "--json")
    runs = json.loads(listed.stdout)["runs"]
    assert [r["run"] for r in runs] == ["2", "1"]
    assert runs[0]["counts"]["ok"] == 1 and runs[0]["status"] == "ok"
    table = shop.cli("replay")
    assert table.code == 0
    assert all(word in table.stdout for word in ("Run", "acme", "push", "ok", "1 ok"))
    for bad in ("99", "export-4", "yesterday"):
        result = shop.cli("replay", bad)
        assert result.code == 2, result.output
        assert "Error:" in result.stderr and "replay --list" in result.stderr
    assert shop.cli("replay", "1", "--against", "tomorrow").code == 2


def _synthetic_run(root: Path, lines: int) -> str:
    """A push run of ``lines`` journal lines, each with a 2 kB snapshot, written directly."""
    with contextlib.closing(sqlite3.connect(root / "catalog.db")) as db, db:
        run = db.execute(
            "INSERT INTO journal_runs (channel, command, started_at, status, counts)"
            " VALUES ('acme', 'push', ?, 'ok', '{}')",
            [now()],
        ).lastrowid
        snap = json.dumps({"title": "x" * 2000, "price": "1.00"})
        db.executemany(
            "INSERT INTO journal_items (run_id, sku, kind, action, batch, attempts, outcome,"
            " at, snapshot) VALUES (?, ?, 'listings', 'create', 1, 1, 'ok', ?, ?)",
            [(run, f"SKU-{i:06d}", now(), snap) for i in range(lines)],
        )
    return str(run)


@pytest.mark.parametrize("form", ["--json", "--jsonl", "table"])
def test_a_large_run_streams_instead_of_being_held(shop: Shop, tmp_path: Path, form: str) -> None:
    lines = 10_000  # 20 MB of snapshots
    run = _synthetic_run(shop.root, lines)
    target = tmp_path / "out"
    args = ["-w", str(shop.root), "replay", run] + ([] if form == "table" else [form])
    tracemalloc.start()
    try:
        with (
            target.open("w", encoding="utf-8") as fh,
            contextlib.redirect_stdout(fh),
            contextlib.redirect_stderr(io.StringIO()),
            pytest.raises(SystemExit) as done,
        ):
            main(args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        STATE.workspace, STATE.json_written = None, False
    assert done.value.code == 0
    text = target.read_text(encoding="utf-8")
    assert text.count("SKU-0") >= lines
    assert peak < 8_000_000, f"{peak:,} bytes held for a {len(text):,}-byte replay"


# --- export runs -------------------------------------------------------------------------------
FEEDS = """
shop:
  link_template: "https://shop.example.com/products/{handle}"
  language: en
  country: US
defaults:
  filters: {status: [active]}
channels:
  google: {type: google_merchant, output: feeds/google.xml}
  gtsv: {type: google_merchant_tsv, output: feeds/google.tsv}
  meta: {type: meta_catalog, output: feeds/meta.csv}
  local: {type: google_local_inventory, output: feeds/local.tsv}
  amazon: {type: amazon_listings, output: feeds/amazon.json, settings: {seller_id: A1EXAMPLE}}
  lines: {type: jsonl, output: feeds/lines.jsonl}
"""


def _independent(path: Path) -> dict[str, dict[str, Any]]:
    """The feed's items as a plain parser of its format reads them, keyed as replay keys."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".xml":
        found = {}
        for item in ET.fromstring(text).iter("item"):
            fields: dict[str, Any] = {}
            for child in item:
                name, value = child.tag.rsplit("}", 1)[-1], (child.text or "").strip()
                had = fields.get(name)
                fields[name] = value if had is None else [*([had] if isinstance(had, str)
                                                             else had), value]  # fmt: skip
            found[fields["id"]] = fields
        return found
    if path.suffix in (".csv", ".tsv"):
        rows = csv.DictReader(io.StringIO(text), delimiter="," if path.suffix == ".csv" else "\t")
        return {(r["id"] + (f"@{r['store_code']}" if "store_code" in r else "")): dict(r)
                for r in rows}  # fmt: skip
    if path.suffix == ".json":
        return {m["sku"]: m for m in json.loads(text)["messages"]}
    return {json.loads(ln)["sku"]: json.loads(ln) for ln in text.splitlines() if ln.strip()}


def _export_ids(ws: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        return dict(db.execute("SELECT channel, max(id) FROM exports GROUP BY channel"))


def _flat_equal(replayed: dict[str, Any], plain: dict[str, Any]) -> bool:
    from multichan.feeds.readback import flat

    return replayed == (flat(plain) if isinstance(plain, dict) else plain)


def test_an_export_run_replays_the_feed_it_wrote_in_every_format(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where today's feed is rendered
    write_config(demo, FEEDS)
    assert run_cli("-w", demo, "export", "--all").code == 0
    ids = _export_ids(demo)
    assert set(ids) == {"google", "gtsv", "meta", "local", "amazon", "lines"}
    files = {"google": "google.xml", "gtsv": "google.tsv", "meta": "meta.csv",
             "local": "local.tsv", "amazon": "amazon.json", "lines": "lines.jsonl"}  # fmt: skip
    written = {name: (demo / "feeds" / f).read_bytes() for name, f in files.items()}
    plain = {name: _independent(demo / "feeds" / f) for name, f in files.items()}
    assert run_cli("-w", demo, "price", "set", "MUG-ENAMEL", "12.00").code == 0
    assert run_cli("-w", demo, "export", "--all").code == 0  # the feeds are replaced

    for name, export_id in ids.items():
        result = run_cli("-w", demo, "replay", f"export-{export_id}", "--json")
        assert result.code == 0, result.output
        doc = json.loads(result.stdout)
        assert doc["run"]["recorded"] is True and doc["run"]["intact"] is True
        assert Path(doc["run"]["kept"]).read_bytes() == written[name]  # the very file
        items = {i["id"]: i["fields"] for i in doc["items"]}
        assert items.keys() == plain[name].keys(), name
        assert all(_flat_equal(items[k], plain[name][k]) for k in items), name

    compared = json.loads(run_cli("-w", demo, "replay", f"export-{ids['meta']}", "--against",
                                  "now", "--json").stdout)  # fmt: skip
    changed = [i for i in compared["items"] if i["status"] != "same"]
    assert [(i["id"], i["fields"]) for i in changed] == [
        ("MUG-ENAMEL", [{"field": "price", "then": "14.00 USD", "now": "12.00 USD"}])
    ]
    assert compared["totals"]["same"] == len(plain["meta"]) - 1
    amazon = json.loads(run_cli("-w", demo, "replay", f"export-{ids['amazon']}", "--against",
                                "now", "--json").stdout)  # fmt: skip
    assert {i["id"] for i in amazon["items"] if i["status"] == "changed"} == {"MUG-ENAMEL"}
    text = run_cli("-w", demo, "replay", f"export-{ids['google']}", "--against", "now")
    assert text.code == 0
    assert "MUG-ENAMEL │ changed │ price │ 14.00 USD │ 12.00 USD" in text.stdout
    assert list(scratch.iterdir()) == []  # today's feeds are gone again
    assert sorted(p.name for p in (demo / "feeds").iterdir()) == sorted(files.values())


def test_only_the_last_exports_are_kept_and_an_older_one_says_so(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MULTICHAN_KEEP_EXPORTS", "2")
    for _ in range(3):
        assert run_cli("-w", demo, "export", "--force").code == 0
    kept = sorted(p.name for p in (demo / ".multichan" / "exports" / "google").iterdir())
    assert kept == ["2.xml", "3.xml"]
    newest = demo / ".multichan" / "exports" / "google" / "3.xml"  # a hard link, no copy
    assert newest.stat().st_ino == (demo / "feeds" / "google.xml").stat().st_ino
    listed = json.loads(run_cli("-w", demo, "replay", "--json").stdout)["runs"]
    assert [r["run"] for r in listed] == ["export-3", "export-2", "export-1"]
    old = run_cli("-w", demo, "replay", "export-1", "--json")
    assert old.code == 0 and "was not kept" in old.stderr
    assert json.loads(old.stdout)["items"] == [] and json.loads(old.stdout)["run"]["kept"] is None
    (demo / ".multichan" / "exports" / "google" / "2.xml").unlink()
    gone = run_cli("-w", demo, "replay", "export-2")
    assert gone.code == 0 and "was removed" in gone.stderr
    monkeypatch.setenv("MULTICHAN_KEEP_EXPORTS", "0")
    assert run_cli("-w", demo, "export", "--force").code == 0
    assert list((demo / ".multichan" / "exports" / "google").iterdir()) == []


def test_a_run_of_a_channel_since_removed_replays_but_has_no_today(shop: Shop) -> None:
    assert shop.cli("push").code == 0
    write_config(shop.root, "channels:\n  google: {type: google_merchant}\n")
    doc = _doc(shop, "1")  # the journal needs no config
    assert len(doc["items"]) == 3 * len(shop.skus())
    result = shop.cli("replay", "1", "--against", "now")
    assert result.code == 2
    assert "run 1 was a push of channel acme, which channels.yaml no longer has" in result.stderr
