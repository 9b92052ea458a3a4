"""Template filters for amounts on invoice pages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import template

from invoices import formatting

register = template.Library()


@register.filter
def money(value: Decimal | None, currency: str = "") -> str:
    return formatting.money(value, currency)


@register.filter
def price(value: Decimal) -> str:
    return formatting.price(value)


@register.filter
def quantity(value: Decimal) -> str:
    return formatting.quantity(value)


@register.filter
def bank_account(value: str) -> str:
    return formatting.bank_account(value)


@register.filter
def rate_code(code: str) -> str:
    """A rate group as the document shows it: "23%", "zw", "0 KR", "OSS", the margin scheme."""
    return formatting.rate_code(code)


@register.filter
def register_cell(value: Any) -> str:
    """A VAT register's cell on the page: amounts as everywhere on the page, dates ISO, nothing as empty."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return formatting.money(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
