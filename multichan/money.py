"""Exact money: parse seller input into Decimal, store as two-decimal text, never use floats."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


AMOUNT_RE = re.compile(r"^(\d{1,3}(?:[,.\u2019' ]\d{3})+|\d+)(?:[.,](\d{1,2}))?$")
DECIMALS_RE = re.compile(r"^(\d{1,3}(?:[,.\u2019' ]\d{3})+|\d+)([.,])(\d{3,})$")  # 2499.999


def _too_many_decimals(value: object, decimals: int, currency: str | None) -> ValueError:
    takes = f"{currency} takes 2" if currency else "prices take at most 2"
    return ValueError(f"{str(value).strip()} has {decimals} decimals; {takes}")


def parse_money(value: object, currency: str | None = None) -> Decimal | None:
    """Parse ``"19.99"``, ``"1,299.00"``, ``"1.299,00"``, ``"19,99"`` (decimal comma) or a
    Decimal/int.

    Returns None for an empty value. Raises ValueError for anything that is not an exact amount:
    more than two decimals (``19.999``), thousands groups that are not three digits
    (``1,2345``), negative amounts. An ambiguous ``1.299`` is refused rather than guessed.
    ``currency`` only names the currency in the message for too many decimals.
    """
    if value is None:
        return None
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    if isinstance(value, Decimal | int):
        amount = Decimal(value)
        if amount != amount.quantize(CENT, rounding=ROUND_HALF_UP):
            exponent = amount.normalize().as_tuple().exponent
            raise _too_many_decimals(value, -int(exponent), currency)
    else:
        text = str(value).strip().replace("\u00a0", "")
        for symbol in ("$", "€", "£", "zł", "USD", "EUR", "GBP", "PLN"):
            text = text.replace(symbol, "")
        text = text.strip()
        if not text:
            return None
        if text.startswith("-"):
            raise ValueError(f"negative amount: {value!r}")
        match = AMOUNT_RE.match(text)
        if (match is None or match.group(2) is None) and (extra := DECIMALS_RE.match(text)):
            # 2499.999, or 1,299.999 (two marks, the last not the thousands one: decimals)
            whole, mark, decimals = extra.groups()
            if mark not in whole and (match is None or len(set(re.sub(r"\d", "", text))) > 1):
                raise _too_many_decimals(value, len(decimals), currency)
        if not match:
            raise ValueError(f"not an amount: {value!r}")
        whole, cents = match.groups()
        separators = {c for c in whole if not c.isdigit()}
        if cents is None and whole.count(".") == 1 and separators == {"."}:
            # 1.299 is 1299 in Germany and 1.299 (three decimals) in the US: do not guess
            raise ValueError(
                f"ambiguous amount: {value!r} (three digits after the point: thousands, or "
                "more than 2 decimals?)"
            )
        if cents is not None and text[-len(cents) - 1] in separators:
            # 1.299,00 or 1,299.00 use one mark for thousands and the other for decimals
            raise ValueError(f"not an exact amount: {value!r}")
        amount = Decimal(re.sub(r"\D", "", whole) + (f".{cents}" if cents else ""))
    if not amount.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    if amount < 0:
        raise ValueError(f"negative amount: {value!r}")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def to_text(amount: Decimal | None) -> str | None:
    """The stored and printed form: two decimals, no thousands separator."""
    if amount is None:
        return None
    return str(amount.quantize(CENT, rounding=ROUND_HALF_UP))


def normalize(value: object, currency: str | None = None) -> str | None:
    """Parse then format: the text stored in the catalog."""
    return to_text(parse_money(value, currency))
