"""Money as the payment files need it: whole grosze.

An amount is given either as an ``int`` of grosze (``12345`` = 123,45 zł) or as a ``Decimal`` of złote with
at most two decimal places (``Decimal("123.45")``). Floats and bools are refused: a float cannot say
123,45 exactly, and ``True`` is an int by accident.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from .errors import PaymentFileError, problem

Amount = int | Decimal


def to_grosze(amount: object) -> int:
    """Whole grosze of ``amount``; raises :class:`PaymentFileError` for floats, bools, >2 decimal places."""
    if isinstance(amount, bool) or not isinstance(amount, int | Decimal):
        raise PaymentFileError([problem("amount_type")])
    if isinstance(amount, int):
        return amount
    try:
        if not amount.is_finite():
            raise PaymentFileError([problem("amount_type")])
        scaled = amount.scaleb(2)
        if scaled != scaled.to_integral_value():
            raise PaymentFileError([problem("amount_precision", amount=str(amount))])
        return int(scaled)
    except InvalidOperation as exc:
        raise PaymentFileError([problem("amount_type")]) from exc


def grosze_format(grosze: int, *, separator: str = ".") -> str:
    """``12345`` → ``123.45`` (or ``123,45``); never an exponent or a sign for zero."""
    sign = "-" if grosze < 0 else ""
    whole, cents = divmod(abs(grosze), 100)
    return f"{sign}{whole}{separator}{cents:02d}"


def grosze_decimal(grosze: int) -> Decimal:
    return Decimal(grosze).scaleb(-2)
