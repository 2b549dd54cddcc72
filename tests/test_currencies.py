"""Currencies through the CLI: codes are ISO 4217 (imports, channels.yaml, --currency), amounts
have their currency's decimals (JPY none, KWD three) in the catalog, in feeds and in
``price set``, and a channel sells in one currency: other currencies are converted with
``price.rates`` or left out with the rate to add."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.conftest import run_cli, write_config
from tests.feeds.helpers import google_items

HEADER = [
    "sku",
    "title",
    "description",
    "brand",
    "mpn",
    "link",
    "image_link",
    "price",
    "currency",
    "quantity",
]


def shop(currency: str = "USD", channels: str = "", extra: str = "") -> str:
    return (
        "version: 1\nshop:\n  name: Test Shop\n  url: https://shop.example.com\n"
        f"  currency: {currency}\n{extra}channels:\n"
        + (
            channels
            or "  google:\n    type: google_merchant\n    output: feeds/google.xml\n"
            "  j:\n    type: jsonl\n    output: feeds/j.jsonl\n"
        )
    )


def catalog_file(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """A generic CSV of (sku, price, currency) rows, each complete enough for Google."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(HEADER)
    for sku, price, currency in rows:
        out.writerow([sku, f"Item {sku}", "A thing.", "Acme", f"M-{sku}", f"https://shop.example.com/{sku}",
                      f"https://cdn.example.com/{sku}.jpg", price, currency, "3"])  # fmt: skip
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def products(ws: Path) -> dict[str, dict]:
    result = run_cli("-w", ws, "catalog", "list", "--json")
    assert result.code == 0, result.output
    return {p["sku"]: p for p in json.loads(result.stdout)}


def jsonl(ws: Path, name: str = "j") -> dict[str, dict]:
    lines = (ws / "feeds" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return {o["sku"]: o for o in map(json.loads, lines)}


def left_out(stderr: str, channel_sku: str) -> str:
    """The reason export gives for leaving ``channel SKU`` out of a feed."""
    lines = [line for line in stderr.splitlines() if line.startswith(f"left out {channel_sku}:")]
    assert len(lines) == 1, stderr
    return lines[0].split(": ", 1)[1].removeprefix("-: ")


# --- import ------------------------------------------------------------------------------------
def test_import_rejects_unknown_codes_and_hints_the_iso_code(
    workspace: Path, tmp_path: Path
) -> None:
    path = catalog_file(
        tmp_path / "mixed.csv",
        [("A", "10.00", "XYZ"), ("B", "10.00", "EURO"), ("C", "10.00", "€"),
         ("D", "10.00", "eur"), ("E", "10.00", "USD"), ("F", "10.50 JPY", "USD")],
    )  # fmt: skip
    result = run_cli("-w", workspace, "import", "csv", path)
    assert result.code == 4, result.output
    err = result.stderr
    assert "mixed.csv:2 SKU A: currency: 'XYZ' is not an ISO 4217 currency code" in err
    assert "mixed.csv:3 SKU B: currency: 'EURO' is not a currency code: did you mean EUR?" in err
    assert "mixed.csv:4 SKU C: currency: '€' is not a currency code: did you mean EUR?" in err
    assert "mixed.csv:7 SKU F: price: 10.50 JPY is in JPY, not USD" in err
    found = products(workspace)
    assert sorted(found) == ["D", "E"]
    assert found["D"]["currency"] == "EUR"  # a code in lower case is the code


def test_import_currency_option_must_be_a_code(workspace: Path, tmp_path: Path) -> None:
    path = catalog_file(tmp_path / "p.csv", [("A", "10.00", "")])
    result = run_cli("-w", workspace, "import", "csv", path, "--currency", "EURO")
    assert result.code == 2, result.output
    assert "--currency: 'EURO' is not a currency code: did you mean EUR?" in result.stderr
    assert products(workspace) == {}


def test_import_keeps_each_currencys_decimals(workspace: Path, tmp_path: Path) -> None:
    path = catalog_file(
        tmp_path / "p.csv",
        [("YEN", "1500", "JPY"), ("YEN-2", "1,500.00", "JPY"), ("YEN-BAD", "10.50", "JPY"),
         ("KW", "12.345", "KWD"), ("KW-BAD", "1.2345", "KWD"), ("US", "12.5", "USD")],
    )  # fmt: skip
    result = run_cli("-w", workspace, "import", "csv", path)
    assert result.code == 4, result.output
    assert "p.csv:4 SKU YEN-BAD: price: 10.50 has 2 decimals; JPY takes 0" in result.stderr
    assert "p.csv:6 SKU KW-BAD: price: 1.2345 has 4 decimals; KWD takes 3" in result.stderr
    prices = {sku: p["price"] for sku, p in products(workspace).items()}
    assert prices == {"YEN": "1500", "YEN-2": "1500", "KW": "12.345", "US": "12.50"}


# --- channels.yaml -----------------------------------------------------------------------------
def test_channels_yaml_codes_are_checked_at_their_line(workspace: Path) -> None:
    write_config(
        workspace,
        shop(
            "EURO",
            "  j:\n    type: jsonl\n    price:\n      currency: XYZ\n"
            "      rates: {€: 1.1, usd: 0}\n",
        ),
    )
    result = run_cli("-w", workspace, "export")
    assert result.code == 3, result.output
    err = result.stderr
    assert "channels.yaml:5: shop.currency: 'EURO' is not a currency code: did you mean EUR?" in err
    assert "channels.yaml:10: channels.j.price.currency: 'XYZ' is not an ISO 4217" in err
    assert "channels.yaml:11: channels.j.price.rates.€: '€' is not a currency code: did you " \
        "mean EUR?" in err  # fmt: skip
    assert "channels.yaml:11: channels.j.price.rates.usd must be a number above 0" in err


def test_a_channel_in_the_shops_currency_needs_no_rates(workspace: Path, tmp_path: Path) -> None:
    write_config(
        workspace,
        shop(
            "USD", "  j:\n    type: jsonl\n    output: feeds/j.jsonl\n    price: {currency: usd}\n"
        ),
    )
    run_cli("-w", workspace, "import", "csv", catalog_file(tmp_path / "p.csv", [("A", "5", "")]))
    result = run_cli("-w", workspace, "export")
    assert result.code == 0, result.output
    assert jsonl(workspace)["A"]["currency"] == "USD"


# --- feeds -------------------------------------------------------------------------------------
def test_a_yen_feed_has_no_decimals(workspace: Path, tmp_path: Path) -> None:
    write_config(workspace, shop("JPY"))
    path = catalog_file(tmp_path / "p.csv", [("MUG", "1500", ""), ("CUP", "980", "JPY")])
    assert run_cli("-w", workspace, "import", "csv", path).code == 0
    result = run_cli("-w", workspace, "export")
    assert result.code == 0, result.output
    items = google_items(workspace / "feeds" / "google.xml")
    assert items["MUG"]["price"] == "1500 JPY"
    assert items["CUP"]["price"] == "980 JPY"
    assert jsonl(workspace)["MUG"]["price"] == "1500"


def test_markup_and_conversion_round_to_the_currencys_minor_units(
    workspace: Path, tmp_path: Path
) -> None:
    channels = (
        "  google:\n    type: google_merchant\n    output: feeds/google.xml\n"
        "    price: {markup_percent: 10, rates: {USD: 149.5}}\n"
        "  kw:\n    type: jsonl\n    output: feeds/kw.jsonl\n"
        "    price: {currency: KWD, rates: {JPY: 0.002}, add: 0.0005}\n"
    )
    write_config(workspace, shop("JPY", channels))
    path = catalog_file(tmp_path / "p.csv", [("MUG", "1499", "JPY"), ("TEE", "12.34", "USD")])
    assert run_cli("-w", workspace, "import", "csv", path).code == 0
    result = run_cli("-w", workspace, "export")
    assert result.code == 4, result.output  # TEE has no rate to KWD
    items = google_items(workspace / "feeds" / "google.xml")
    assert items["MUG"]["price"] == "1649 JPY"  # 1648.9
    assert items["TEE"]["price"] == "2029 JPY"  # 12.34 * 149.5 * 1.1 = 2029.31
    kw = jsonl(workspace, "kw")
    assert kw["MUG"]["price"] == "2.999" and kw["MUG"]["currency"] == "KWD"  # 2.998 + 0.0005
    assert "TEE" not in kw
    assert (
        left_out(result.stderr, "kw TEE")
        == "price in USD, channel sells in KWD: add price.rates.USD"
    )


def test_a_kuwaiti_price_keeps_three_decimals(workspace: Path, tmp_path: Path) -> None:
    write_config(workspace, shop("KWD"))
    path = catalog_file(tmp_path / "p.csv", [("LAMP", "12.345", "")])
    assert run_cli("-w", workspace, "import", "csv", path).code == 0
    assert run_cli("-w", workspace, "export").code == 0
    assert google_items(workspace / "feeds" / "google.xml")["LAMP"]["price"] == "12.345 KWD"


def test_a_feed_never_mixes_currencies(workspace: Path, tmp_path: Path) -> None:
    write_config(workspace, shop("USD"))
    path = catalog_file(
        tmp_path / "p.csv",
        [("US-1", "20.00", "USD"), ("US-2", "30.00", ""), ("EU", "10.00", "EUR")],
    )
    assert run_cli("-w", workspace, "import", "csv", path).code == 0
    result = run_cli("-w", workspace, "export", "j")
    assert result.code == 4, result.output
    assert (
        left_out(result.stderr, "j EU") == "price in EUR, channel sells in USD: add price.rates.EUR"
    )
    offers = jsonl(workspace)
    assert sorted(offers) == ["US-1", "US-2"]
    assert {o["currency"] for o in offers.values()} == {"USD"}

    channels = (
        "  j:\n    type: jsonl\n    output: feeds/j.jsonl\n    price: {rates: {EUR: 1.085}}\n"
    )
    write_config(workspace, shop("USD", channels))
    result = run_cli("-w", workspace, "export", "j")
    assert result.code == 0, result.output
    offers = jsonl(workspace)
    assert (offers["EU"]["price"], offers["EU"]["currency"]) == ("10.85", "USD")
    assert {o["currency"] for o in offers.values()} == {"USD"}


# --- price set ---------------------------------------------------------------------------------
def test_price_set_uses_the_products_currency(workspace: Path, tmp_path: Path) -> None:
    path = catalog_file(tmp_path / "p.csv", [("YEN", "1500", "JPY"), ("KW", "1.000", "KWD")])
    assert run_cli("-w", workspace, "import", "csv", path).code == 0
    bad = run_cli("-w", workspace, "price", "set", "YEN", "1500.50")
    assert bad.code == 2, bad.output
    assert "1500.50 has 2 decimals; JPY takes 0" in bad.stderr
    other = run_cli("-w", workspace, "price", "set", "YEN", "15 USD")
    assert other.code == 2 and "15 USD is in USD, not JPY" in other.stderr
    assert run_cli("-w", workspace, "price", "set", "YEN", "1,800").code == 0
    assert run_cli("-w", workspace, "price", "set", "KW", "2.125").code == 0
    prices = {sku: p["price"] for sku, p in products(workspace).items()}
    assert prices == {"YEN": "1800", "KW": "2.125"}
