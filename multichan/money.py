"""Exact money: parse seller input into Decimal, store as two-decimal text, never use floats."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


def parse_money(value: object) -> Decimal | None:
    """Parse ``"19.99"``, ``"1,299.00"``, ``"19,99"`` (decimal comma) or a number.

    Returns None for an empty value; raises ValueError for text that is not an amount or is
    negative.
    """
    if value is None:
        return None
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    if isinstance(value, Decimal):
        amount = value
    else:
        text = str(value).strip().replace("\u00a0", "").replace(" ", "")
        for symbol in ("$", "€", "£", "zł", "USD", "EUR", "GBP", "PLN"):
            text = text.replace(symbol, "")
        if not text:
            return None
        if "," in text and "." in text:
            # the later separator is the decimal one: 1,299.00 or 1.299,00
            if text.rfind(",") > text.rfind("."):
                text = text.replace(".", "").replace(",", ".")
            else:
                text = text.replace(",", "")
        elif "," in text:
            head, _, tail = text.rpartition(",")
            text = (
                f"{head.replace(',', '')}.{tail}" if len(tail) in (1, 2) else text.replace(",", "")
            )
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"not an amount: {value!r}") from None
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


def normalize(value: object) -> str | None:
    """Parse then format: the text stored in the catalog."""
    return to_text(parse_money(value))
