"""`catalog check` and the channels' own rules are one set (issue 14, items 14 and 15):
`catalog check --channel C` lists what C's export or plan would leave out or change, in the
words `export` uses; plain `catalog check` finds a zero price, a missing description and
missing identifiers as the feeds do; text cut to a channel's limit is said, per SKU, by
export, plan and push; override rows with a bad price or an unknown channel get a clear
error naming table, channel, SKU, column and value."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import run_cli, write_config
from tests.feeds.helpers import SHOP, configure, sql

GOOGLE = "google:\n  type: google_merchant\n  output: feeds/google.xml\n"
SHOPIFY = """\
channels:
  shop:
    type: shopify
    settings: {base_url: "https://x.myshopify.com", token: "${T}", location_id: "1"}
"""
LONG_TITLE = ("Enamel Camping Mug " + "with a very long story " * 10).strip()  # 248 characters


def _problems(ws: Path, *args: str) -> tuple[int, list[dict[str, str]]]:
    result = run_cli("-w", ws, "catalog", "check", *args, "--json")
    return result.code, json.loads(result.stdout)["problems"]


def test_plain_check_finds_what_every_feed_rejects(demo: Path) -> None:
    configure(demo, GOOGLE)
    sql(demo, "UPDATE products SET price = '0.00' WHERE sku = 'FIRST-AID'")
    sql(demo, "UPDATE products SET description = '' WHERE sku = 'MUG-ENAMEL'")
    sql(demo, "UPDATE products SET brand = NULL, gtin = NULL, mpn = NULL WHERE sku = 'TARP-3X3'")
    code, problems = _problems(demo)
    assert code == 4
    found = {(p["sku"], p["field"]): p["problem"] for p in problems}
    exported = run_cli("-w", demo, "export", "google", "--check")
    # the same words as the feed's own validator
    assert found[("FIRST-AID", "price")] == "price 0.00 must be above zero"
    assert "left out google FIRST-AID: price: price 0.00 must be above zero" in exported.stderr
    assert found[("MUG-ENAMEL", "description")].startswith("description is required")
    assert "left out google MUG-ENAMEL: description: description is required" in exported.stderr
    rule = "brand, gtin or mpn is required (identifier rules)"
    assert found[("TARP-3X3", "identifiers")] == rule
    assert f"left out google TARP-3X3: brand: {rule}" in exported.stderr


def test_check_channel_lists_what_the_export_leaves_out_in_its_words(demo: Path) -> None:
    configure(demo, GOOGLE)
    sql(demo, "UPDATE products SET price = '0.00' WHERE sku = 'FIRST-AID'")
    sql(demo, "UPDATE products SET brand = NULL WHERE sku = 'MUG-ENAMEL'")  # new: needs a brand
    sql(demo, "UPDATE products SET title = ? WHERE sku = 'HEADLAMP-200'", LONG_TITLE)
    result = run_cli("-w", demo, "catalog", "check", "--channel", "google", "--json")
    assert result.code == 4, result.output
    report = json.loads(result.stdout)
    exported = run_cli("-w", demo, "export", "google", "--check", "--json")
    channel = json.loads(exported.stdout)["channels"][0]
    assert report["left_out"] == channel["left_out"]  # the very same diagnostics
    assert {d["sku"] for d in report["left_out"]} == {"FIRST-AID", "MUG-ENAMEL"}
    assert report["offered"] == channel["items"]
    [cut] = [n for n in report["notes"] if n["sku"] == "HEADLAMP-200"]
    assert re.fullmatch(r"title cut to 1[2-4]\d of 248 characters \(google allows 150\)",
                        cut["reason"]), cut  # fmt: skip
    table = run_cli("-w", demo, "catalog", "check", "--channel", "google")
    assert table.code == 4
    assert "google: 58 SKUs offered, 2 SKUs left out, 1 note" in table.stdout
    assert "brand is required for new products" in table.stdout


def test_check_channel_for_an_api_channel_and_a_typo(demo: Path) -> None:
    write_config(demo, SHOP + SHOPIFY)
    sql(demo, "UPDATE products SET title = ? WHERE sku = 'HEADLAMP-200'", LONG_TITLE * 2)
    ok = run_cli("-w", demo, "catalog", "check", "--channel", "shop", env={"T": "shpat_x"})
    assert ok.code == 0, ok.output  # notes only: nothing left out
    assert "HEADLAMP-200" in ok.stdout and "title cut to" in ok.stdout
    assert "(shop allows 255)" in ok.stdout.replace("\n", " ").replace("│", "")
    typo = run_cli("-w", demo, "catalog", "check", "--channel", "shpo", env={"T": "shpat_x"})
    assert (
        typo.code == 2 and "did you mean 'shop'" in typo.stderr and "Traceback" not in typo.output
    )


def test_export_plan_and_push_say_which_text_was_cut(demo: Path) -> None:
    long_description = "Tough enamel. " * 500  # 7,000 characters: Google allows 5,000
    sql(demo, "UPDATE products SET title = ?, description = ? WHERE sku = 'HEADLAMP-200'",
        LONG_TITLE, long_description)  # fmt: skip
    configure(demo, GOOGLE)
    exported = run_cli("-w", demo, "export", "google")  # not only with --check
    assert exported.code == 0, exported.output
    assert re.search(r"note google HEADLAMP-200: title cut to \d+ of 248 characters",
                     exported.stderr), exported.stderr  # fmt: skip
    assert re.search(r"note google HEADLAMP-200: description cut to \d{4} of 6999 characters "
                     r"\(google allows 5000\)", exported.stderr), exported.stderr  # fmt: skip
    write_config(demo, SHOP + SHOPIFY)
    sql(demo, "UPDATE products SET title = ? WHERE sku = 'HEADLAMP-200'", LONG_TITLE * 2)
    planned = run_cli("-w", demo, "plan", env={"T": "shpat_x"})
    assert planned.code == 0, planned.output
    assert re.search(r"note shop HEADLAMP-200: title cut to \d+ of 496 characters "
                     r"\(shop allows 255\)", planned.stderr), planned.stderr  # fmt: skip
    pushed = run_cli("-w", demo, "push", "--dry-run", env={"T": "shpat_x"})
    assert "note shop HEADLAMP-200: title cut to" in pushed.stderr, pushed.output


def test_override_rows_with_a_bad_price_or_an_unknown_channel(demo: Path) -> None:
    configure(demo, GOOGLE)
    sql(demo, "INSERT INTO overrides (channel, sku, price) VALUES ('google', 'MUG-ENAMEL', 'abc')")
    sql(demo, "INSERT INTO overrides (channel, sku, price) VALUES ('google', 'TARP-3X3', '-5')")
    sql(demo, "INSERT INTO overrides (channel, sku, price) VALUES ('gogle', 'HEADLAMP-200', '9')")
    code, problems = _problems(demo)
    assert code == 4
    found = {p["sku"]: p for p in problems}
    assert found["MUG-ENAMEL"]["field"] == "price"
    assert found["MUG-ENAMEL"]["problem"].startswith(
        "overrides table, channel google, column price: 'abc' is not a USD price"
    )
    assert "'-5'" in found["TARP-3X3"]["problem"]
    unknown = found["HEADLAMP-200"]["problem"]
    assert "overrides table, channel 'gogle', SKU 'HEADLAMP-200'" in unknown
    assert "did you mean 'google'?" in unknown and "never used" in unknown
    exported = run_cli("-w", demo, "export", "google", "--check")
    assert exported.code in (0, 4), exported.output
    assert ("left out google MUG-ENAMEL: -: overrides table, channel google, column price: "
            "'abc' is not a USD price") in exported.stderr  # fmt: skip
    assert "left out google TARP-3X3: -: overrides table" in exported.stderr
    assert "unexpected" not in exported.output and "InvalidOperation" not in exported.output


def test_export_and_plan_warn_of_override_rows_for_no_channel(demo: Path) -> None:
    sql(demo, "INSERT INTO overrides (channel, sku, price) VALUES ('gogle', 'HEADLAMP-200', '9')")
    configure(demo, GOOGLE)
    exported = run_cli("-w", demo, "export", "google")
    assert exported.code == 0, exported.output
    said = "overrides table has rows for channels channels.yaml does not have, never used: "
    assert said + "'gogle' (1 row(s))" in exported.stderr.replace("\n", " "), exported.stderr
    write_config(demo, SHOP + SHOPIFY)
    planned = run_cli("-w", demo, "plan", env={"T": "shpat_x"})
    assert planned.code == 0, planned.output
    assert "'gogle' (1 row(s))" in planned.stderr.replace("\n", " "), planned.stderr
