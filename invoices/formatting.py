"""Polish number formatting for invoices: 1 234,50 with a no-break space, decimal comma."""

from __future__ import annotations

from decimal import Decimal


def money(value: Decimal | None, currency: str = "") -> str:
    """1234567.5 → "1 234 567,50" (Polish grouping with a no-break space)."""
    if value is None:
        return ""
    return f"{_grouped(f'{value:.2f}')} {currency}".strip()


def price(value: Decimal) -> str:
    """A unit price: grosze, or more decimals when it has them (12.5 → "12,50", 0.125 → "0,125")."""
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        return _grouped(f"{value.normalize():f}")
    return _grouped(f"{value:.2f}")


def _grouped(text: str) -> str:
    sign = "-" if text.startswith("-") else ""
    whole, _dot, frac = text.lstrip("-").partition(".")
    groups: list[str] = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return f"{sign}{chr(0xA0).join(groups or ['0'])},{frac}" if frac else f"{sign}{chr(0xA0).join(groups)}"


def quantity(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text.replace(".", ",")


def bank_account(value: str) -> str:
    """A Polish NRB (26 digits) in the usual groups "61 1090 1014 0000 0712 1981 2874"; others unchanged."""
    if len(value) == 26 and value.isdigit():
        return " ".join([value[:2], *(value[i : i + 4] for i in range(2, 26, 4))])
    if len(value) == 28 and value[:2].isalpha() and value[2:].isdigit():  # PL + NRB
        return f"{value[:2]} {bank_account(value[2:])}"
    return value


def rate_code(code: str) -> str:
    """A rate group's label: "23%" for a taxed rate, the FA(3) code for the others ("zw", "0 KR", "np I"),
    "OSS" for the OSS procedure and "margin scheme" for P_13_11."""
    from django.utils.translation import gettext

    from invoices.totals import MARGIN

    if code.isdigit():
        return f"{code}%"
    if code == MARGIN:
        return gettext("margin scheme")
    return code
