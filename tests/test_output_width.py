"""Human output at 80 columns (issue 14, item 17): SKUs, dates and hashes stay on one line,
hashes shortened as git does; `catalog list --limit`; a running count on stderr during a long
import when stderr is a terminal (never otherwise); the small wordings ("1 item", a channel
named once, "nothing to send")."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, run_cli, run_subprocess

COLS = {"COLUMNS": "80"}


def _cells(table: str, column: int) -> list[str]:
    """The stripped texts of ``column`` in the body rows of a boxed table."""
    rows = [line for line in table.splitlines() if line.startswith("│")]
    return [line.split("│")[column + 1].strip() for line in rows]


def test_exports_keep_dates_and_hashes_on_one_line(demo: Path) -> None:
    assert run_cli("-w", demo, "export", "google").code == 0
    shown = run_subprocess("-w", demo, "exports", env=COLS)
    assert shown.code == 0, shown.output
    full = json.loads(run_cli("-w", demo, "exports", "--json").stdout)[0]
    body = [line for line in shown.stdout.splitlines() if line.startswith("│")]
    assert len(body) == 1, shown.stdout  # one export, one line
    assert full["started_at"] in body[0]
    assert f" {full['sha256'][:12]} " in body[0] and full["sha256"] not in shown.stdout
    assert max(map(len, shown.stdout.splitlines())) <= 80


def test_catalog_list_keeps_skus_whole_and_wraps_titles(demo: Path) -> None:
    shown = run_subprocess("-w", demo, "catalog", "list", env=COLS)
    assert shown.code == 0, shown.output
    assert max(map(len, shown.stdout.splitlines())) <= 80
    skus = [p["sku"] for p in json.loads(run_cli("-w", demo, "catalog", "list", "--json").stdout)]
    listed = [cell for cell in _cells(shown.stdout, 0) if cell]
    assert listed == skus  # every SKU whole, on its own line, in order
    assert "CAP-WOOL-BLA-ONESIZE" in listed


def test_orders_and_alerts_keep_skus_and_dates_whole(demo: Path) -> None:
    alerts = run_subprocess("-w", demo, "alerts", env=COLS)
    low = json.loads(run_cli("-w", demo, "alerts", "--json").stdout)
    skus = {i["sku"] for i in low["items"]}
    assert skus and skus <= {c for c in _cells(alerts.stdout, 0) if c}, alerts.stdout


def test_catalog_list_limit(demo: Path) -> None:
    shown = run_cli("-w", demo, "catalog", "list", "--limit", "5")
    assert shown.code == 0, shown.output
    assert "5 of 61 products (--limit 5)" in shown.stdout
    assert len([c for c in _cells(shown.stdout, 0) if c]) == 5
    limited = json.loads(run_cli("-w", demo, "catalog", "list", "-n", "3", "--json").stdout)
    everything = json.loads(run_cli("-w", demo, "catalog", "list", "--json").stdout)
    assert limited == everything[:3]
    assert run_cli("-w", demo, "catalog", "list", "--limit", "0").code == 2


def test_one_item_and_a_channel_named_once(tmp_path: Path) -> None:
    ws = tmp_path / "shop"
    assert run_cli("init", "--name", "Shop", "--url", "https://shop.example.org", ws).code == 0
    refused = run_cli("-w", ws, "export", "google")
    assert refused.code == 4
    assert "google: refused: the feed would hold no items" in refused.output, refused.output
    assert "google: refused: google:" not in refused.output
    csv = tmp_path / "one.csv"
    csv.write_text(
        "sku,title,description,brand,price,link,image_link,quantity\n"
        "ONE,One Mug,A mug.,Acme,12.00,https://shop.example.org/one,"
        "https://shop.example.org/one.jpg,3\n",
        encoding="utf-8",
    )
    imported = run_cli("-w", ws, "import", "csv", csv)
    assert imported.code == 0, imported.output
    wrote = run_cli("-w", ws, "export", "google", "--allow-empty")
    assert wrote.code == 0, wrote.output
    assert re.search(r"google: wrote \S+ \([\d,]+ bytes\), 1 item, 0 left out", wrote.stdout)


def _with_terminal_stderr(args: list[str]) -> tuple[int, str, str]:
    """Run multichan with stderr on a pseudo-terminal (stdout a pipe), as a person does."""
    main, child = os.openpty()
    env = {**os.environ, "COLUMNS": "80", "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "multichan", *args],
        stdout=subprocess.PIPE, stderr=child, stdin=subprocess.DEVNULL, cwd=REPO, env=env,
    )  # fmt: skip
    os.close(child)
    err = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        err += chunk
    out, _ = proc.communicate(timeout=60)
    code = proc.returncode
    os.close(main)
    return code, out.decode(), err.decode(errors="replace")


def test_long_import_shows_a_count_on_a_terminal_only(workspace: Path, tmp_path: Path) -> None:
    csv = tmp_path / "many.csv"
    lines = ["sku,title,price,quantity"] + [f"SKU-{n:05d},Item {n},9.99,1" for n in range(3000)]
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = _with_terminal_stderr(["-w", str(workspace), "import", "csv", str(csv)])
    assert code == 0, out + err
    assert "importing many.csv" in err and " read" in err
    assert "read" not in out.replace("already", "")  # results on stdout, the count on stderr
    assert "3000 added" in out or "3,000 added" in out
    quiet = run_subprocess("-w", workspace, "import", "csv", csv)  # cron: no TTY, no count
    assert quiet.code == 0, quiet.output
    assert "importing" not in quiet.stderr


def test_reports_and_orders_keep_skus_dates_and_shares_whole(demo: Path) -> None:
    from tests.reports.conftest import insert_orders

    insert_orders(demo)
    by_sku = run_subprocess("-w", demo, "report", "sales", "--by", "sku", env=COLS)
    assert by_sku.code == 0, by_sku.output
    table = [line for line in by_sku.stdout.splitlines() if line.startswith(" ")]
    assert table and max(map(len, table)) <= 80, by_sku.stdout
    for sku, share in (("MUG-ENAMEL", "72.7%"), ("BOTTLE-STEEL-750", "12.1%")):
        assert re.search(rf"^ {sku} .* {re.escape(share)} ", by_sku.stdout, re.M), by_sku.stdout
    stock = run_subprocess("-w", demo, "report", "stock", env=COLS)
    assert re.search(r"^ BOTTLE-STEEL-750 +warehouse ", stock.stdout, re.M), stock.stdout
    orders = run_subprocess("-w", demo, "orders", env=COLS)
    assert orders.code == 0, orders.output
    assert "2026-11-10T12:00:00.000Z" in orders.stdout  # a date on one line
    shown = run_subprocess("-w", demo, "orders", "show", "shop", "1003", env=COLS)
    assert shown.code == 0, shown.output
    assert "│ BOTTLE-STEEL-750 │" in shown.stdout  # whole
    drawn = [line for line in shown.stdout.splitlines() if line[:1] in "┏┃┡│└"]
    assert drawn and max(map(len, drawn)) <= 80, shown.stdout  # the lines split in two tables
    assert "What each line holds" in shown.stdout
    wide = run_subprocess("-w", demo, "orders", "show", "shop", "1003", env={"COLUMNS": "200"})
    assert "What each line holds" not in wide.stdout  # where there is room, one table
    assert re.search(r"│ BOTTLE-STEEL-750 │ BOTTLE-STEEL-750 │ warehouse │ +4 │", wide.stdout)
