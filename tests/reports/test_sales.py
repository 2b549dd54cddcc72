"""`multichan report sales`: its numbers against totals counted by hand from the orders in
conftest.ORDERS, and every output format through the command line."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.reports.conftest import insert_orders

NOVEMBER = ("--since", "2026-11-01", "--until", "2026-11-30")


def sales(ws: Path, *args: str) -> dict[str, Any]:
    result = run_cli("-w", ws, "report", "sales", *args, "--json")
    assert result.code == 0, result.output
    return json.loads(result.stdout)


def rows(report: dict[str, Any]) -> dict[str | None, dict[str, Any]]:
    return {r["key"] if r["key"] is not None else r["label"]: r for r in report["rows"]}


def test_by_channel_counts_sales_refunds_cancellations_and_shares(shop: Path) -> None:
    report = sales(shop, *NOVEMBER)
    got = rows(report)
    assert list(got) == ["shop", "pos"]  # most units first
    shop_row, pos = got["shop"], got["pos"]
    # shop: #1001 (3 units, before the baseline), #1002 (3, 1 returned), #1003 (5, 1 refunded)
    assert (shop_row["orders"], shop_row["units"], shop_row["returned"]) == (3, 11, 1)
    assert (shop_row["refunded"], shop_row["net_units"], shop_row["baseline_orders"]) == (1, 9, 1)
    assert (shop_row["pending_orders"], shop_row["pending_units"]) == (1, 5)
    assert (shop_row["cancelled_orders"], shop_row["cancelled_units"]) == (1, 2)
    # pos: P1 (1), P2 (3) and R1, a return order of its own: refunds 1, is no sale
    assert (pos["orders"], pos["units"], pos["refunded"], pos["net_units"]) == (2, 4, 1, 3)
    assert shop_row["unit_share"] == round(11 / 15, 4) and pos["unit_share"] == round(4 / 15, 4)
    assert shop_row["order_share"] == 0.6
    total = report["total"]
    assert (total["orders"], total["units"], total["net_units"]) == (5, 15, 12)
    assert (total["returned"], total["refunded"], total["unit_share"]) == (1, 2, 1.0)
    assert report["channels"][0]["channel"] == "shop"


def test_it_says_which_orders_were_counted(shop: Path) -> None:
    counted = sales(shop, *NOVEMBER)["counted"]
    assert counted["statuses"] == ["open", "closed"]
    assert counted["orders_by_status"] == {"open": 1, "closed": 5, "pending": 1, "cancelled": 1}
    assert counted["baseline_orders"] == 1  # #1001: recorded before the baseline, still a sale
    summary = counted["summary"]
    assert "5 sales order(s)" in summary and "1 recorded before a channel's baseline" in summary
    assert "1 pending" in summary and "1 cancelled" in summary
    assert "2026-11-01 to 2026-11-30" in summary


def test_orders_without_amounts_have_no_revenue_and_the_report_says_so(shop: Path) -> None:
    report = sales(shop)
    expected = {"currency": "USD", "net": "0.00", "gross": "0.00", "unconverted": {},
                "by_currency": {}}  # fmt: skip
    assert report["revenue"] == expected
    assert any("pulled before multichan recorded amounts" in n for n in report["notes"])


def test_period_edges_since_included_until_day_included(shop: Path) -> None:
    # #0999 at 2026-10-31T23:59:59.999Z and #1100 at 2026-12-01T00:00Z are outside November
    assert sales(shop, *NOVEMBER)["total"]["units"] == 15
    assert sales(shop, "--since", "2026-10-31T23:59:59.999Z", "--until", "2026-11-30")[
        "total"
    ]["units"] == 22  # fmt: skip
    assert sales(shop, "--since", "2026-11-01", "--until", "2026-12-01")["total"]["units"] == 26
    # a time as --until is the moment the period ends, not included
    assert sales(shop, "--until", "2026-12-01T00:00:00Z")["total"]["units"] == 22
    assert sales(shop)["total"]["units"] == 33  # all time: everything, baseline orders too


def test_by_sku_counts_an_order_once_per_sku_and_names_unknown_skus(shop: Path) -> None:
    report = sales(shop, *NOVEMBER, "--by", "sku")
    got = rows(report)
    # most units first; LANTERN-LED and BOTTLE-STEEL-750 sold 4 each, in 2 orders and in 1
    assert list(got) == ["MUG-ENAMEL", "LANTERN-LED", "BOTTLE-STEEL-750",
                         "(SKU not in the catalog)"]  # fmt: skip
    mug, lantern = got["MUG-ENAMEL"], got["LANTERN-LED"]
    assert (mug["orders"], mug["units"], mug["returned"], mug["pending_units"]) == (3, 6, 1, 5)
    assert (lantern["orders"], lantern["units"], lantern["refunded"]) == (2, 4, 1)
    assert lantern["cancelled_orders"] == 1 and lantern["cancelled_units"] == 2
    assert got["BOTTLE-STEEL-750"]["units"] == 4
    unknown = got["(SKU not in the catalog)"]
    assert (unknown["key"], unknown["orders"], unknown["units"]) == (None, 1, 1)
    # the total counts orders, not order-and-SKU pairs: #1001 and #1003 hold two SKUs each
    assert report["total"]["orders"] == 5 and sum(r["orders"] for r in report["rows"]) == 7
    assert any("not in the catalog" in note for note in report["notes"])


def test_by_day_lists_every_day_of_the_period(shop: Path) -> None:
    got = rows(sales(shop, *NOVEMBER, "--by", "day"))
    assert list(got) == [f"2026-11-{d:02}" for d in range(1, 31)]
    assert (got["2026-11-02"]["orders"], got["2026-11-02"]["units"]) == (1, 3)
    # #1002 at 23:59:59.999Z and P1: the same UTC day
    assert (got["2026-11-03"]["orders"], got["2026-11-03"]["units"]) == (2, 4)
    assert got["2026-11-04"]["pending_orders"] == 1 and got["2026-11-04"]["orders"] == 0
    assert got["2026-11-05"]["cancelled_units"] == 2
    assert (got["2026-11-09"]["orders"], got["2026-11-09"]["refunded"]) == (1, 1)
    assert got["2026-11-10"]["units"] == 5
    assert got["2026-11-20"]["units"] == 0


def test_by_week_weeks_start_on_monday(shop: Path) -> None:
    got = rows(sales(shop, *NOVEMBER, "--by", "week"))
    # 2026-11-01 is a Sunday: the week of Monday 2026-10-26
    assert list(got) == ["2026-10-26", "2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23",
                         "2026-11-30"]  # fmt: skip
    assert (got["2026-11-02"]["orders"], got["2026-11-02"]["units"]) == (3, 7)
    assert (got["2026-11-09"]["orders"], got["2026-11-09"]["units"]) == (2, 8)
    assert got["2026-11-09"]["refunded"] == 2 and got["2026-10-26"]["units"] == 0


def test_by_location_and_by_channel_filter(shop: Path) -> None:
    got = rows(sales(shop, *NOVEMBER, "--by", "location"))
    assert (got["warehouse"]["orders"], got["warehouse"]["units"]) == (3, 11)
    assert (got["store"]["orders"], got["store"]["units"]) == (2, 4)
    pos = sales(shop, *NOVEMBER, "--channel", "pos")
    assert [r["key"] for r in pos["rows"]] == ["pos"]
    assert (pos["total"]["orders"], pos["total"]["units"], pos["channel"]) == (2, 4, "pos")


def test_by_product_adds_up_the_variants(shop: Path) -> None:
    insert_orders(shop, [
        ("shop", "2001", "closed", "2026-11-20T10:00:00.000Z", 0,
         [("a", "TEE-MERINO-BLA-S", "warehouse", 2, 0, 0, None),
          ("b", "TEE-MERINO-NAV-M", "warehouse", 1, 0, 0, None)]),
    ])  # fmt: skip
    got = rows(sales(shop, *NOVEMBER, "--by", "product"))
    tee = got["TEE-MERINO"]
    assert (tee["orders"], tee["units"]) == (1, 3)
    assert tee["label"].startswith("Merino")  # a person reads the product's title
    assert got["MUG-ENAMEL"]["label"] == "Enamel Camp Mug 350 ml"


def test_the_table_shows_totals_bars_and_what_was_counted(shop: Path) -> None:
    result = run_cli("-w", shop, "report", "sales", *NOVEMBER)
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    shop_line = next(line for line in lines if line.strip().startswith("shop"))
    assert shop_line.split()[1:6] == ["3", "11", "2", "9", "1"]  # orders units refunds net canc.
    assert "73.3%" in shop_line and "█" in shop_line
    total = next(line for line in lines if line.strip().startswith("Total"))
    assert total.split()[1:3] == ["5", "15"]
    assert "Counted: 5 sales order(s)" in result.stdout
    assert "Revenue: what the buyers pay" in result.stdout
    assert "\x1b[" not in result.stdout  # no colour when stdout is not a terminal


def test_csv_has_one_row_per_group_and_the_scope_on_stderr(shop: Path) -> None:
    result = run_cli("-w", shop, "report", "sales", *NOVEMBER, "--by", "sku", "--csv")
    assert result.code == 0, result.output
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    by_sku = {r["key"]: r for r in table}
    assert by_sku["MUG-ENAMEL"]["units"] == "6" and by_sku["MUG-ENAMEL"]["orders"] == "3"
    assert by_sku[""]["label"] == "(SKU not in the catalog)"
    assert "counted: 5 sales order(s)" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (("--since", "last week"), "--since 'last week' is not an ISO date"),
        (("--until", "2026-13-01"), "--until '2026-13-01' is not an ISO date"),
        (("--by", "month"), "--by 'month'"),
        (("--json", "--csv"), "choose one"),
        (("--since", "2026-11-05", "--until", "2026-11-01"), "the period is empty"),
        (("--chart", "sales.pdf"), ".png or .svg"),
    ],
)
def test_usage_errors_exit_2(shop: Path, args: tuple[str, ...], message: str) -> None:
    result = run_cli("-w", shop, "report", "sales", *args)
    assert result.code == 2, result.output
    assert message in result.stderr


def test_a_report_writes_nothing(shop: Path) -> None:
    def dump() -> list[str]:
        conn = sqlite3.connect(shop / "catalog.db")
        try:
            return list(conn.iterdump())
        finally:
            conn.close()

    before = dump()
    for args in (("sales", "--by", "sku"), ("stock",)):
        assert run_cli("-w", shop, "report", *args).code == 0
    assert dump() == before


def test_an_empty_catalog_reports_zeros(workspace: Path) -> None:
    report = sales(workspace)
    assert report["rows"] == [] and report["total"]["orders"] == 0
    assert run_cli("-w", workspace, "report", "sales").code == 0


def test_revenue_is_what_the_buyers_paid_for_the_units_they_kept(tmp_path: Path) -> None:
    ws = tmp_path / "demo"
    assert run_cli("init", "--demo", ws).code == 0
    config = ws / "channels.yaml"  # the pos channel sells in EUR: 1 USD = 0.5 EUR
    text = config.read_text(encoding="utf-8").replace(
        "channels:\n",
        "channels:\n  eu:\n    type: jsonl\n    output: feeds/eu.jsonl\n"
        "    price: {currency: EUR, rates: {USD: 0.5}}\n", 1)  # fmt: skip
    config.write_text(text, encoding="utf-8")
    con = sqlite3.connect(ws / "catalog.db")
    with con:
        for channel, order, status, currency, lines in (
            ("shop", "1", "closed", "USD", [("a", "MUG-ENAMEL", 2, 0, 0, "30.00")]),
            ("shop", "2", "open", "USD", [("a", "MUG-ENAMEL", 4, 1, 1, "40.00"),  # 2 kept
                                          ("b", "LANTERN-LED", 1, 0, 0, "9.99")]),
            ("shop", "3", "cancelled", "USD", [("a", "MUG-ENAMEL", 1, 0, 0, "15.00")]),
            ("pos", "P1", "closed", "EUR", [("a", "LANTERN-LED", 1, 0, 0, "12.50")]),
            ("pos", "P2", "closed", "SEK", [("a", "LANTERN-LED", 1, 0, 0, "100.00")]),
            ("pos", "P3", "closed", None, [("a", "MUG-ENAMEL", 1, 0, 0, None)]),
        ):  # fmt: skip
            stamp = "2026-11-05T10:00:00.000Z"
            con.execute(
                "INSERT INTO orders (channel, order_id, number, status, channel_status, "
                "created_at, updated_at, first_seen_at, last_seen_at, currency) "
                "VALUES (?,?,?,?,?,?,?,?,?,?)",
                [channel, order, f"#{order}", status, status, stamp, stamp, stamp, stamp,
                 currency],
            )  # fmt: skip
            for line, sku, ordered, returned, refunded, total in lines:
                con.execute(
                    "INSERT INTO order_lines (channel, order_id, line_id, channel_sku, sku, "
                    "location, ordered, returned, refunded, line_total) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?)",
                    [channel, order, line, sku, sku, "warehouse", ordered, returned,
                     refunded, total],
                )  # fmt: skip
    con.close()
    report = sales(ws)
    # shop: 30.00 + 40.00 * 2/4 + 9.99 = 59.99; pos: 12.50 EUR = 25.00 USD; SEK apart
    assert report["revenue"] == {
        "currency": "USD", "net": "84.99", "gross": "104.99", "unconverted": {"SEK": "100.00"},
        "by_currency": {"EUR": "12.50", "SEK": "100.00", "USD": "59.99"},  # as paid
    }  # fmt: skip
    by_channel = rows(report)
    assert (by_channel["shop"]["revenue"], by_channel["pos"]["revenue"]) == ("59.99", "25.00")
    notes = " ".join(report["notes"])
    assert "1 sales line(s) were pulled before multichan recorded amounts" in notes
    assert "100.00 SEK" in notes
    by_sku = rows(sales(ws, "--by", "sku"))
    assert (by_sku["MUG-ENAMEL"]["revenue"], by_sku["LANTERN-LED"]["revenue"]) == (
        "50.00", "34.99")  # fmt: skip
    table = run_cli("-w", ws, "report", "sales").stdout
    assert "Revenue USD" in table and "84.99" in table
