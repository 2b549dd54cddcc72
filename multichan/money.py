"""Exact money, in one place: the ISO 4217 table (active codes and their minor units), the
checking of currency codes, the parsing of seller input into Decimal (never a float), the
rounding and the text of an amount in its currency's minor units (JPY 1500, USD 12.50,
KWD 1.250), and amounts as minor-unit integers (what Square's ``Money.amount`` holds).

Every module that reads or writes an amount uses these: importers and ``price set`` (parse),
the rules engine (round), feeds (text) and channel modules (text, minor units).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 list one, the active codes with minor units (funds included; the codes with no
# minor unit, such as XAU gold or XDR, are not prices and are left out).
MINOR_UNITS: dict[str, int] = {
    "AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "ANG": 2, "AOA": 2, "ARS": 2, "AUD": 2, "AWG": 2,
    "AZN": 2, "BAM": 2, "BBD": 2, "BDT": 2, "BGN": 2, "BHD": 3, "BIF": 0, "BMD": 2, "BND": 2,
    "BOB": 2, "BOV": 2, "BRL": 2, "BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2, "BZD": 2, "CAD": 2,
    "CDF": 2, "CHE": 2, "CHF": 2, "CHW": 2, "CLF": 4, "CLP": 0, "CNY": 2, "COP": 2, "COU": 2,
    "CRC": 2, "CUC": 2, "CUP": 2, "CVE": 2, "CZK": 2, "DJF": 0, "DKK": 2, "DOP": 2, "DZD": 2,
    "EGP": 2, "ERN": 2, "ETB": 2, "EUR": 2, "FJD": 2, "FKP": 2, "GBP": 2, "GEL": 2, "GHS": 2,
    "GIP": 2, "GMD": 2, "GNF": 0, "GTQ": 2, "GYD": 2, "HKD": 2, "HNL": 2, "HTG": 2, "HUF": 2,
    "IDR": 2, "ILS": 2, "INR": 2, "IQD": 3, "IRR": 2, "ISK": 0, "JMD": 2, "JOD": 3, "JPY": 0,
    "KES": 2, "KGS": 2, "KHR": 2, "KMF": 0, "KPW": 2, "KRW": 0, "KWD": 3, "KYD": 2, "KZT": 2,
    "LAK": 2, "LBP": 2, "LKR": 2, "LRD": 2, "LSL": 2, "LYD": 3, "MAD": 2, "MDL": 2, "MGA": 2,
    "MKD": 2, "MMK": 2, "MNT": 2, "MOP": 2, "MRU": 2, "MUR": 2, "MVR": 2, "MWK": 2, "MXN": 2,
    "MXV": 2, "MYR": 2, "MZN": 2, "NAD": 2, "NGN": 2, "NIO": 2, "NOK": 2, "NPR": 2, "NZD": 2,
    "OMR": 3, "PAB": 2, "PEN": 2, "PGK": 2, "PHP": 2, "PKR": 2, "PLN": 2, "PYG": 0, "QAR": 2,
    "RON": 2, "RSD": 2, "RUB": 2, "RWF": 0, "SAR": 2, "SBD": 2, "SCR": 2, "SDG": 2, "SEK": 2,
    "SGD": 2, "SHP": 2, "SLE": 2, "SLL": 2, "SOS": 2, "SRD": 2, "SSP": 2, "STN": 2, "SVC": 2,
    "SYP": 2, "SZL": 2, "THB": 2, "TJS": 2, "TMT": 2, "TND": 3, "TOP": 2, "TRY": 2, "TTD": 2,
    "TWD": 2, "TZS": 2, "UAH": 2, "UGX": 0, "USD": 2, "USN": 2, "UYI": 0, "UYU": 2, "UYW": 4,
    "UZS": 2, "VED": 2, "VES": 2, "VND": 0, "VUV": 0, "WST": 2, "XAF": 0, "XCD": 2, "XCG": 2,
    "XOF": 0, "XPF": 0, "YER": 2, "ZAR": 2, "ZMW": 2, "ZWG": 2,
}  # fmt: skip
# What sellers write instead of a code: symbols and names -> the code they most likely mean
LIKELY: dict[str, str] = {
    "€": "EUR", "EURO": "EUR", "EUROS": "EUR", "$": "USD", "US$": "USD", "DOLLAR": "USD",
    "DOLLARS": "USD", "£": "GBP", "POUND": "GBP", "POUNDS": "GBP", "¥": "JPY", "YEN": "JPY",
    "円": "JPY", "元": "CNY", "RMB": "CNY", "ZŁ": "PLN", "ZL": "PLN", "₹": "INR", "RS": "INR",
    "₩": "KRW", "₽": "RUB", "₺": "TRY", "₴": "UAH", "₪": "ILS", "₫": "VND", "R$": "BRL",
    "C$": "CAD", "CA$": "CAD", "A$": "AUD", "AU$": "AUD", "NZ$": "NZD", "HK$": "HKD",
    "FR": "CHF", "SFR": "CHF", "KR": "SEK", "KČ": "CZK", "FT": "HUF", "LEI": "RON",
}  # fmt: skip
DEFAULT_PLACES = 2  # when the currency is not known yet
STEPS = {places: Decimal(1).scaleb(-places) for places in set(MINOR_UNITS.values())}
CENT = STEPS[2]
# symbols and codes written next to an amount ("$19.99", "19,99 €", "1500 JPY")
SIGN_RE = re.compile(r"^([A-Za-z]{3}|[$€£¥]|zł)?\s*(.*?)\s*([A-Za-z]{3}|[$€£¥]|zł)?$")
GROUPED_RE = re.compile(r"^\d{1,3}(?:([,.\u2019' ])\d{3})(?:\1\d{3})*$")  # 1,299 or 1.299.000
MARKS = ",.\u2019' "


def currency_problem(code: object) -> str | None:
    """What is wrong with ``code`` as an ISO 4217 currency code (a symbol or a name gets the
    code it likely means); None when it is one (in any case: ``eur`` is EUR)."""
    text = str(code).strip()
    if text.upper() in MINOR_UNITS:
        return None
    likely = LIKELY.get(text.upper())
    if likely:
        return f"{text!r} is not a currency code: did you mean {likely}?"
    return f"{text!r} is not an ISO 4217 currency code (such as USD, EUR, GBP, JPY)"


def currency_code(code: object) -> str:
    """``code`` as its ISO 4217 code (upper case); ValueError naming the likely code when it
    is not one."""
    problem = currency_problem(code)
    if problem:
        raise ValueError(problem)
    return str(code).strip().upper()


def minor_units(currency: str | None) -> int:
    """Decimals of ``currency`` (JPY 0, USD 2, KWD 3); 2 for no or an unknown currency."""
    return MINOR_UNITS.get((currency or "").upper(), DEFAULT_PLACES)


def quantize(amount: Decimal, currency: str | None = None) -> Decimal:
    """``amount`` rounded (half up) to ``currency``'s minor units."""
    return amount.quantize(STEPS[minor_units(currency)], ROUND_HALF_UP)


def _too_many_decimals(value: object, decimals: int, currency: str | None) -> ValueError:
    places = minor_units(currency)
    takes = f"{currency} takes {places}" if currency else f"prices take at most {places}"
    return ValueError(f"{str(value).strip()} has {decimals} decimals; {takes}")


MAX_AMOUNT = Decimal(10) ** 15  # no price reaches it; Decimal's 28 digits keep cents exact


def parse_money(value: object, currency: str | None = None) -> Decimal | None:
    """Parse ``"19.99"``, ``"1,299.00"``, ``"1.299,00"``, ``"19,99"`` (decimal comma),
    ``"$19.99"``, ``"1500 JPY"`` or a Decimal/int, as an amount of ``currency`` (its minor
    units decide how many decimals it may have: JPY 0, USD 2, KWD 3; 2 when not given).

    Returns None for an empty value. Raises ValueError for anything that is not an exact
    amount: more decimals than the currency has (``19.999``, ``10.50`` yen; trailing zeros are
    exact: ``1500.00`` yen is 1500), thousands groups that are not three digits (``1,2345``),
    a code that is not ``currency`` (``10.50 JPY`` for a USD product), negative amounts. An
    ambiguous ``1.299`` is refused rather than guessed (for a three-decimal currency a point
    is its decimal point: ``1.250`` KWD).
    """
    if value is None:
        return None
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    places = minor_units(currency)
    if isinstance(value, Decimal | int):
        amount = Decimal(value)
        if amount.is_finite() and amount != quantize(amount, currency):
            exponent = amount.normalize().as_tuple().exponent
            raise _too_many_decimals(value, -int(exponent), currency)
    else:
        amount = _parse_text(str(value), currency, places)  # type: ignore[assignment]
        if amount is None:
            return None
    if not amount.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    if amount < 0:
        raise ValueError(f"negative amount: {value!r}")
    if amount >= MAX_AMOUNT:
        raise ValueError(f"{_shown(value)} is more than the catalog holds (under 10^15)")
    return quantize(amount, currency)


def _shown(value: object) -> str:
    """A value in a message: a long one cut, so a hostile cell cannot flood the output."""
    text = repr(str(value))
    return text if len(text) <= 40 else f"{text[:30]}...' ({len(str(value))} characters)"


def _parse_text(value: str, currency: str | None, places: int) -> Decimal | None:
    text = value.strip().replace("\u00a0", "").replace("\u202f", "")
    if not text:
        return None
    match = SIGN_RE.match(text)
    if match and (match.group(1) or match.group(3)):
        for sign in (match.group(1), match.group(3)):
            code = LIKELY.get(sign.upper(), sign.upper()) if sign and len(sign) == 3 else None
            if code and code not in MINOR_UNITS:
                raise ValueError(f"not an amount: {value!r}")
            if code and currency and code != currency.upper():
                raise ValueError(f"{value.strip()} is in {code}, not {currency.upper()}")
        text = match.group(2)
    if text.startswith("-"):
        raise ValueError(f"negative amount: {value!r}")
    if not text or not text[0].isdigit() or not text[-1].isdigit():
        raise ValueError(f"not an amount: {value!r}")
    if any(not (c.isdigit() or c in MARKS) for c in text):
        raise ValueError(f"not an amount: {value!r}")
    whole, decimals = text, ""
    last = max(text.rfind("."), text.rfind(","))
    if last >= 0:
        head, tail = text[:last], text[last + 1 :]
        mark = text[last]
        if mark in head:  # 1,299,000 (thousands) or 1,299,00 (one mark for both)
            if not GROUPED_RE.match(text):
                raise ValueError(f"not an exact amount: {value!r}")
        elif len(tail) != 3 or not GROUPED_RE.match(text):
            whole, decimals = head, tail  # 19.99, 19,99, 2499.999, 1,299.999
        elif places == 3 and mark == "." and not any(c in head for c in MARKS):
            whole, decimals = head, tail  # 1.250 of a three-decimal currency
        elif mark == ".":
            # 1.299 is 1299 in Germany and 1.299 (three decimals) in the US: do not guess
            raise ValueError(
                f"ambiguous amount: {value!r} (three digits after the point: thousands, or "
                f"more than {places} decimals?)"
            )
    if whole and not (whole.isdigit() or GROUPED_RE.match(whole)):
        raise ValueError(f"not an amount: {value!r}")
    if any(not c.isdigit() for c in decimals):
        raise ValueError(f"not an amount: {value!r}")
    significant = decimals.rstrip("0")
    if len(significant) > places:
        raise _too_many_decimals(value, len(decimals), currency)
    try:
        return Decimal(re.sub(r"\D", "", whole) + (f".{decimals}" if decimals else ""))
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None


def to_text(amount: Decimal | None, currency: str | None = None) -> str | None:
    """The stored and printed form: ``currency``'s decimals (USD 12.50, JPY 1500, KWD
    1.250; two without a currency), no thousands separator; None for no amount. Amounts are
    rounded before (``parse_money``, ``quantize``): this pads them to the currency's decimals."""
    if amount is None:
        return None
    text = str(amount)  # an amount already rounded prints as it is (formatting costs more)
    places = minor_units(currency)
    point = text.find(".")
    if ("E" not in text and "e" not in text) and (
        (point < 0 and places == 0) or (point >= 0 and len(text) - point - 1 == places)
    ):
        return text
    return f"{amount:.{places}f}"


def normalize(value: object, currency: str | None = None) -> str | None:
    """Parse then format: the text stored in the catalog."""
    return to_text(parse_money(value, currency), currency)


def to_minor(amount: Decimal, currency: str) -> int:
    """``amount`` in ``currency``'s smallest unit (cents for USD, yen for JPY, fils for KWD);
    ValueError when it is not a whole number of them or is negative."""
    scaled = amount.scaleb(minor_units(currency))
    if not scaled.is_finite() or scaled < 0 or scaled != scaled.to_integral_value():
        raise ValueError(f"price {amount} {currency} is not a valid amount of {currency}")
    return int(scaled)


def from_minor(units: int, currency: str) -> Decimal:
    """A minor-unit integer (Square's ``Money.amount``) as an amount of ``currency``."""
    return quantize(Decimal(units).scaleb(-minor_units(currency)), currency)


def feed_price(amount: Decimal | None, currency: str | None = None) -> str:
    """``19.99 USD``, ``1500 JPY`` (Google and Meta's price format); empty for no amount."""
    if amount is None:
        return ""
    text = to_text(amount, currency) or ""
    return f"{text} {currency}" if currency else text


def api_amount(value: object) -> Decimal | None:
    """An amount as a channel's API sends it (a number, or text such as ``"12.50"``), exactly
    as sent; None when it is missing or not a finite number (an order line without a price)."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None
