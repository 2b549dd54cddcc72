"""Bundles through the CLI (issue 13): a `components` CSV column or `bundle set` makes a SKU a
bundle; its stock, per location, is the whole sets its components make there, in `catalog
show`/`list`, `bundle show`/`list` and every feed; a component's stock change follows; nested
bundles, unknown components and bad quantities are refused with a clear message and change
nothing; a bundle's own stock rows are ignored (and `stock set` on it refused)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.feeds.helpers import catalog, configure, export, show

CSV = """\
sku,title,price,quantity:store,quantity:warehouse,components
KIT,Camp kit,30,,,"MUG:1,BOWL:2"
MUG,Mug,10,5,7,
BOWL,Bowl,8,4,20,
SPOON,Spoon,2,9,,
"""
FEEDS = """\
all:
  type: jsonl
  output: feeds/all.jsonl
store:
  type: jsonl
  output: feeds/store.jsonl
  stock: {locations: [store]}
"""


def write(tmp_path: Path, text: str, name: str = "p.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def cli_json(*args: Any) -> tuple[int, Any]:
    result = run_cli(*args, "--json")
    return result.code, json.loads(result.stdout) if result.stdout.strip() else result.stderr


def quantities(ws: Path, name: str) -> dict[str, int]:
    lines = (ws / "feeds" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return {o["sku"]: o["quantity"] for o in map(json.loads, lines)}


@pytest.fixture
def kit(workspace: Path, tmp_path: Path) -> Path:
    """A workspace whose KIT is 1 MUG + 2 BOWL (the bundle's row comes first in the file)."""
    result = run_cli("-w", workspace, "import", "csv", write(tmp_path, CSV))
    assert result.code == 0, result.output
    configure(workspace, FEEDS)
    return workspace


def test_a_components_column_makes_a_bundle_whose_stock_is_its_components(kit: Path) -> None:
    code, shown = cli_json("-w", kit, "bundle", "show", "KIT")
    assert code == 0
    # store: min(5 // 1, 4 // 2) = 2; warehouse: min(7 // 1, 20 // 2) = 7
    assert shown["available"] == {"store": 2, "warehouse": 7} and shown["quantity"] == 9
    assert [(c["sku"], c["quantity"]) for c in shown["components"]] == [("BOWL", 2), ("MUG", 1)]
    product = show(kit, "KIT")
    assert product["available"] == {"store": 2, "warehouse": 7} and product["quantity"] == 9
    assert product["components"] == [{"sku": "BOWL", "quantity": 2}, {"sku": "MUG", "quantity": 1}]
    assert catalog(kit)["KIT"]["quantity"] == 9 and catalog(kit)["MUG"]["quantity"] == 12
    code, rows = cli_json("-w", kit, "bundle", "list")
    assert code == 0 and [(r["sku"], r["quantity"]) for r in rows] == [("KIT", 9)]
    table = run_cli("-w", kit, "bundle", "show", "KIT")
    assert "KIT: 9 available (store 2, warehouse 7)" in table.stdout


def test_feeds_offer_the_whole_sets_over_the_locations_each_channel_counts(kit: Path) -> None:
    export(kit)
    assert quantities(kit, "all") == {"BOWL": 24, "KIT": 9, "MUG": 12, "SPOON": 9}
    assert quantities(kit, "store") == {"BOWL": 4, "KIT": 2, "MUG": 5, "SPOON": 9}


def test_a_component_stock_change_follows_into_the_bundle_and_stamps_it(kit: Path) -> None:
    export(kit)
    before = _stamp(kit, "KIT")
    result = run_cli("-w", kit, "stock", "adjust", "BOWL", "-8", "--location", "warehouse")
    assert result.code == 0, result.output
    assert _stamp(kit, "KIT") > before  # the incremental plan looks at it (tests/e2e too)
    export(kit)
    assert quantities(kit, "all")["KIT"] == 2 + 6  # warehouse: min(7 // 1, 12 // 2)
    run_cli("-w", kit, "stock", "set", "MUG", "0", "--location", "store")
    export(kit)
    assert quantities(kit, "store")["KIT"] == 0 and quantities(kit, "all")["KIT"] == 6


def _stamp(ws: Path, sku: str) -> int:
    con = sqlite3.connect(ws / "catalog.db")
    try:
        row = con.execute("SELECT seq FROM dirty_skus WHERE sku = ?", [sku]).fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0


def test_a_component_missing_at_a_location_or_oversold_leaves_no_set_there(kit: Path) -> None:
    assert run_cli("-w", kit, "bundle", "set", "KIT", "MUG:1", "SPOON:2").code == 0
    # SPOON has no warehouse row: the kit has 0 there; store: min(5, 9 // 2) = 4
    assert show(kit, "KIT")["available"] == {"store": 4, "warehouse": 0}
    assert run_cli("-w", kit, "stock", "set", "SPOON", "-1", "--location", "store").code == 0
    assert show(kit, "KIT")["available"] == {"store": -1, "warehouse": 0}  # floor(-1 / 2)
    export(kit)
    assert quantities(kit, "all")["KIT"] == 0  # never offered below 0


def test_bundle_set_replaces_the_definition_and_says_what_it_was(kit: Path) -> None:
    result = run_cli("-w", kit, "bundle", "set", "KIT", "MUG:2,SPOON:1")
    assert result.code == 0, result.output
    assert "KIT: MUG x2, SPOON x1 (was: BOWL x2, MUG x1)" in result.stdout
    assert "KIT available: store 2, warehouse 0" in result.stdout
    code, doc = cli_json("-w", kit, "bundle", "set", "KIT", "MUG:1", "BOWL:1")
    assert code == 0 and doc["before"] == [{"sku": "MUG", "quantity": 2},
                                            {"sku": "SPOON", "quantity": 1}]  # fmt: skip
    assert doc["available"] == {"store": 4, "warehouse": 7}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["KIT", "KIT:1"], 4, "bundle KIT cannot be a component of itself"),
        (["MUG", "KIT:1"], 4, "bundle MUG: component KIT is a bundle itself (BOWL x2, MUG x1);"
         " bundles inside bundles are not supported"),
        (["BOWL", "SPOON:3"], 4, "BOWL is a component of bundle KIT: a bundle cannot be part of"
         " another bundle"),
        (["KIT", "MUG:1", "NOPE:2"], 2, "bundle KIT: component 'NOPE' is not in the catalog"),
        (["GHOST", "MUG:1"], 2, "no product with SKU 'GHOST' in the catalog"),
        (["KIT", "MUG:0"], 2, "'MUG:0': the quantity must be at least 1"),
        (["KIT", "MUG:1.5"], 2, "the quantity '1.5' is not a whole number"),
        (["KIT", "MUG:1", "MUG:2"], 2, "component MUG is named twice"),
    ],
)  # fmt: skip
def test_a_bad_definition_is_refused_with_its_reason_and_changes_nothing(
    kit: Path, args: list[str], code: int, message: str
) -> None:
    result = run_cli("-w", kit, "bundle", "set", *args)
    assert result.code == code, result.output
    assert message in result.stderr and result.stderr.startswith("Error: ")
    assert show(kit, "KIT")["components"] == [{"sku": "BOWL", "quantity": 2},
                                              {"sku": "MUG", "quantity": 1}]  # fmt: skip
    assert "components" not in show(kit, "MUG") and "components" not in show(kit, "BOWL")


def test_a_bundles_own_stock_is_ignored_and_cannot_be_set(kit: Path, tmp_path: Path) -> None:
    result = run_cli("-w", kit, "stock", "set", "KIT", "50", "--location", "store")
    assert result.code == 2
    assert "KIT is a bundle: its stock is its components' (BOWL x2, MUG x1)" in result.stderr
    # an import that counts the bundle itself: kept, ignored, and said so
    counted = write(tmp_path, "sku,title,price,quantity:store\nKIT,Camp kit,30,50\n", "n.csv")
    assert run_cli("-w", kit, "import", "csv", counted).code == 0
    product = show(kit, "KIT")
    assert product["available"] == {"store": 2, "warehouse": 7}
    assert product["own_stock_ignored"] == {"store": {"on_hand": 50, "committed": 0}}
    shown = run_cli("-w", kit, "bundle", "show", "KIT")
    assert "KIT's own stock rows (store 50) are ignored" in shown.stderr
    export(kit)
    assert quantities(kit, "store")["KIT"] == 2
    # no bundle any more: its own rows count again
    removed = run_cli("-w", kit, "bundle", "remove", "KIT")
    assert removed.code == 0 and "KIT: no bundle any more (was: BOWL x2, MUG x1)" in removed.stdout
    assert show(kit, "KIT")["available"] == {"store": 50} and "components" not in show(kit, "KIT")
    export(kit)
    assert quantities(kit, "store")["KIT"] == 50
    again = run_cli("-w", kit, "bundle", "remove", "KIT")
    assert again.code == 2 and "KIT is not a bundle" in again.stderr


def test_an_import_row_with_a_bad_definition_is_rejected_the_rest_imported(
    kit: Path, tmp_path: Path
) -> None:
    text = (
        "sku,title,price,components\n"
        "KIT,Camp kit v2,31,\"MUG:1,GHOST:1\"\n"  # line 2: unknown component
        "DUO,Duo,15,MUG:2\n"  # line 3: fine
        "TRIO,Trio,20,\"DUO:1,MUG:1\"\n"  # line 4: DUO is a bundle
        "ODD,Odd,5,MUG:x\n"  # line 5: unreadable: the whole row is rejected
    )  # fmt: skip
    code, summary = cli_json("-w", kit, "import", "csv", write(tmp_path, text, "b.csv"))
    assert code == 4
    reasons = {(r["line"], r["sku"]): r["reason"] for r in summary["rejected"]}
    assert reasons[(2, "KIT")] == (
        "components: bundle KIT: component 'GHOST' is not in the catalog; the bundle's "
        "definition was left as it was"
    )
    assert "component DUO is a bundle itself (MUG x2)" in reasons[(4, "TRIO")]
    assert "the quantity 'x' is not a whole number" in reasons[(5, "ODD")]
    assert len(reasons) == 3
    assert show(kit, "KIT")["title"] == "Camp kit v2"  # the row's product fields went in
    assert show(kit, "KIT")["components"] == [{"sku": "BOWL", "quantity": 2},
                                              {"sku": "MUG", "quantity": 1}]  # fmt: skip
    assert show(kit, "DUO")["available"] == {"store": 2, "warehouse": 3}
    assert "components" not in show(kit, "TRIO")
    assert run_cli("-w", kit, "catalog", "show", "ODD").code == 2


def test_an_empty_components_cell_makes_it_no_bundle_and_no_column_leaves_it_alone(
    kit: Path, tmp_path: Path
) -> None:
    plain = write(tmp_path, "sku,title,price\nKIT,Camp kit,32\n", "plain.csv")
    result = run_cli("-w", kit, "import", "csv", plain)
    assert result.code == 0 and "components" in result.stdout  # "left alone (not in this file)"
    assert "components" in show(kit, "KIT")
    emptied = write(tmp_path, "sku,title,price,components\nKIT,Camp kit,32,\n", "empty.csv")
    assert run_cli("-w", kit, "import", "csv", emptied).code == 0
    assert "components" not in show(kit, "KIT") and show(kit, "KIT")["available"] == {}


def test_a_bundles_low_stock_alert_follows_its_components(kit: Path, tmp_path: Path) -> None:
    def alerted() -> dict[str, tuple[str, int, dict[str, int]]]:
        code, doc = cli_json("-w", kit, "alerts")
        assert code == 0
        return {i["sku"]: (i["state"], i["available"], i["locations"]) for i in doc["items"]}

    assert "KIT" not in alerted()  # 9 sets: above the default threshold of 3
    counted = write(tmp_path, "sku,title,price,quantity:store\nKIT,Camp kit,30,50\n", "n.csv")
    assert run_cli("-w", kit, "import", "csv", counted).code == 0  # its own rows: ignored
    for location in ("store", "warehouse"):
        run_cli("-w", kit, "stock", "set", "BOWL", "1", "--location", location)
    assert alerted()["KIT"] == ("out", 0, {"store": 0, "warehouse": 0})
    run_cli("-w", kit, "stock", "set", "BOWL", "4", "--location", "warehouse")
    assert alerted()["KIT"] == ("low", 2, {"store": 0, "warehouse": 2})
