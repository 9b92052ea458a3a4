"""Annex 15 and split payment (art. 106e ust. 1 pkt 18a): a sales invoice the portal issues gets it above
15,000 PLN gross; a purchase invoice typed by hand keeps what its seller wrote."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest

from accounts.models import Company
from invoices import services
from invoices.services import LineData, split_payment_required
from tests.invoices.factories import issue_data

pytestmark = pytest.mark.django_db

PHONES = LineData("Telefony", Decimal("10"), Decimal("1300"), "23", "szt.", annex15=True)  # 15,990 gross


@pytest.mark.parametrize(
    ("lines", "currency", "rate", "required", "why"),
    [
        ([PHONES], "PLN", None, True, "15,990 PLN gross with Annex 15 goods"),
        (
            [replace(PHONES, unit_price=Decimal("1200"))],
            "PLN",
            None,
            False,
            "14,760 PLN gross: below the threshold",
        ),
        ([LineData("Usługa", Decimal("1"), Decimal("20000"), "23")], "PLN", None, False, "no Annex 15 line"),
        (
            [replace(PHONES, unit_price=Decimal("300"))],
            "EUR",
            Decimal("4.25"),
            True,
            "3,690 EUR at 4.25 = 15,682 PLN",
        ),
        (
            [replace(PHONES, unit_price=Decimal("300"))],
            "EUR",
            Decimal("4"),
            False,
            "3,690 EUR at 4 = 14,760 PLN",
        ),
    ],
)
def test_the_threshold(
    lines: list[LineData], currency: str, rate: Decimal | None, required: bool, why: str
) -> None:
    assert split_payment_required(lines, currency=currency, exchange_rate=rate) is required, why


def test_issued_sales_invoice_gets_it_and_a_purchase_keeps_what_was_written(company_a: Company) -> None:
    sale = services.invoice_issue(company=company_a, user=None, data=issue_data(lines=[PHONES]))
    assert sale.split_payment
    purchase = services.invoice_purchase_add(
        company=company_a,
        user=None,
        data=issue_data(lines=[PHONES], number="FZ/1/2026", issue_date=dt.date(2026, 11, 20)),
    )
    assert not purchase.split_payment
