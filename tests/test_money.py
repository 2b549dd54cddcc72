"""multichan.money, the one place for money: the ISO 4217 table, parsing seller input in a
currency's minor units, the text of an amount, minor-unit integers, and the channel bodies
that use them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from multichan import money
from multichan.channels import shopify_queries, square, woocommerce_bodies
from multichan.testing import sample_offers


def test_the_table_has_the_active_codes_and_their_minor_units() -> None:
    assert len(money.MINOR_UNITS) > 150
    assert all(len(code) == 3 and code.isupper() for code in money.MINOR_UNITS)
    assert [money.minor_units(c) for c in ("USD", "EUR", "JPY", "KRW", "KWD", "BHD", "CLF")] == [
        2, 2, 0, 0, 3, 3, 4,
    ]  # fmt: skip
    assert money.minor_units(None) == 2 and money.minor_units("jpy") == 0
    assert "XAU" not in money.MINOR_UNITS  # gold is no price currency


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        ("€", "'€' is not a currency code: did you mean EUR?"),
        ("EURO", "'EURO' is not a currency code: did you mean EUR?"),
        ("$", "'$' is not a currency code: did you mean USD?"),
        ("XYZ", "'XYZ' is not an ISO 4217 currency code"),
        ("EUR", None),
        ("eur", None),
    ],
)
def test_currency_codes(written: str, problem: str | None) -> None:
    found = money.currency_problem(written)
    assert (found is None) if problem is None else (found or "").startswith(problem)
    if problem is None:
        assert money.currency_code(written) == "EUR"
    else:
        with pytest.raises(ValueError, match="not"):
            money.currency_code(written)


@pytest.mark.parametrize(
    ("text", "currency", "stored"),
    [
        ("19.99", None, "19.99"), ("19,99", "EUR", "19.99"), ("1,299.00", "USD", "1299.00"),
        ("1.299,00", "EUR", "1299.00"), ("1 299,5", "EUR", "1299.50"), ("$19.99", "USD", "19.99"),
        ("19,99 €", "EUR", "19.99"), ("1500", "JPY", "1500"), ("1,500", "JPY", "1500"),
        ("1500.00", "JPY", "1500"), ("1500 JPY", "JPY", "1500"), ("12.345", "KWD", "12.345"),
        ("1,234.5", "KWD", "1234.500"), ("12", "KWD", "12.000"), ("19.990", "EUR", None),
        ("", "USD", None),
    ],
)  # fmt: skip
def test_parse_in_minor_units(text: str, currency: str | None, stored: str | None) -> None:
    if text == "19.990":  # three digits after a point: thousands, or decimals? not guessed
        with pytest.raises(ValueError, match="ambiguous"):
            money.normalize(text, currency)
        return
    assert money.normalize(text, currency) == stored


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("10.50", "JPY", "10.50 has 2 decimals; JPY takes 0"),
        ("2499.999", "USD", "2499.999 has 3 decimals; USD takes 2"),
        ("1.2345", "KWD", "1.2345 has 4 decimals; KWD takes 3"),
        ("10.50 JPY", "USD", "10.50 JPY is in JPY, not USD"),
        ("1.299", "USD", "ambiguous amount"),
        ("1,299,00", "EUR", "not an exact amount"),
        ("abc", "USD", "not an amount: 'abc'"),
        ("-5", "USD", "negative amount"),
    ],
)
def test_parse_refuses_what_is_not_an_exact_amount(text: str, currency: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        money.parse_money(text, currency)


def test_text_minor_units_and_back() -> None:
    assert money.to_text(Decimal("1500"), "JPY") == "1500"
    assert money.to_text(Decimal("12.5"), "USD") == "12.50"
    assert money.to_text(Decimal("1.25"), "KWD") == "1.250"
    assert money.feed_price(Decimal("1500"), "JPY") == "1500 JPY"
    assert money.feed_price(None, "JPY") == ""
    assert money.to_minor(Decimal("1.250"), "KWD") == 1250
    assert money.to_minor(Decimal("1500"), "JPY") == 1500
    assert money.from_minor(1250, "KWD") == Decimal("1.250")
    assert money.from_minor(2900, "USD") == Decimal("29.00")
    with pytest.raises(ValueError, match="not a valid amount of JPY"):
        money.to_minor(Decimal("12.5"), "JPY")
    assert money.api_amount("12.50") == Decimal("12.50")
    assert [money.api_amount(v) for v in (None, "", "x", "NaN", True)] == [None] * 5


def test_channel_bodies_send_each_currencys_decimals() -> None:
    yen, dinar = sample_offers(1, "JPY")[0], sample_offers(1, "KWD")[0]
    yen.price, yen.sale_price = Decimal("1500"), None
    dinar.price, dinar.sale_price = Decimal("12.345"), Decimal("10.005")
    assert square.price_money(yen) == {"amount": 1500, "currency": "JPY"}
    assert square.price_money(dinar) == {"amount": 10005, "currency": "KWD"}
    assert shopify_queries.price_fields(yen) == {"price": "1500", "compareAtPrice": None}
    assert shopify_queries.price_fields(dinar) == {"price": "10.005", "compareAtPrice": "12.345"}
    body = woocommerce_bodies.stock_and_price(dinar)
    assert (body["regular_price"], body["sale_price"]) == ("12.345", "10.005")
    assert woocommerce_bodies.stock_and_price(yen)["sale_price"] == ""
