"""How the pages write values for people: one money format everywhere ("$2,542.45",
"-$12.00"). Exports for machines (CSV, X12) keep plain numbers and do not use this."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


def money(value: object) -> str:
    """Dollars with a thousands separator and cents; the sign before the dollar sign;
    "" for no value (None or text that is not a number)."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return ""
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"
