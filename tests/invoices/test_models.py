"""Database invariants of invoices, lines and contractors."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from accounts.models import Company
from invoices.models import Contractor, Direction, Invoice, InvoiceKind, InvoiceLine, VatRate
from tests.invoices.factories import invoice_make

pytestmark = pytest.mark.django_db


def test_vat_rates_are_exactly_the_fa3_codes() -> None:
    from ksef_integration.fa3.model import VatRate as Fa3Rate

    assert VatRate.values == [r.value for r in Fa3Rate]


def test_sales_numbers_are_unique_per_company_direction_and_kind(
    company_a: Company, company_b: Company
) -> None:
    invoice_make(company_a, number="FV/1/11/2026")
    invoice_make(company_b, number="FV/1/11/2026")  # another company may use the same number
    invoice_make(company_a, number="FV/1/11/2026", kind=InvoiceKind.KOR, corrected_number="FV/0")
    with pytest.raises(IntegrityError), transaction.atomic():
        invoice_make(company_a, number="FV/1/11/2026")


def test_purchase_numbers_may_repeat(company_a: Company) -> None:
    invoice_make(company_a, number="1/2026", direction=Direction.PURCHASE)
    invoice_make(company_a, number="1/2026", direction=Direction.PURCHASE)
    assert Invoice.objects.filter(number="1/2026").count() == 2


def test_ksef_number_unique_per_company_when_set(company_a: Company, company_b: Company) -> None:
    invoice_make(company_a, direction=Direction.PURCHASE)
    invoice_make(company_a, direction=Direction.PURCHASE)  # two NULLs are fine
    invoice_make(company_a, direction=Direction.PURCHASE, ksef_number="5265877635-20260101-0100001AF629-AF")
    invoice_make(company_b, direction=Direction.PURCHASE, ksef_number="5265877635-20260101-0100001AF629-AF")
    with pytest.raises(IntegrityError), transaction.atomic():
        invoice_make(
            company_a, direction=Direction.PURCHASE, ksef_number="5265877635-20260101-0100001AF629-AF"
        )


@pytest.mark.parametrize(
    "fields",
    [
        {"currency": "zł"},
        {"currency": "eur"},
        {"exchange_rate": Decimal("0")},
        {"ksef_status": "lost"},
        {"buyer_nip": "123"},
        {"total_gross": Decimal("1.00")},  # not net + VAT
        {"kind": InvoiceKind.KOR},  # a correction must name the corrected invoice
        {"net": "-10.00"},  # a VAT invoice cannot be negative
    ],
)
def test_check_constraints(company_a: Company, fields: dict[str, object]) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        invoice_make(company_a, **fields)


def test_a_correction_may_be_negative(company_a: Company) -> None:
    invoice = invoice_make(company_a, kind=InvoiceKind.KOR, corrected_number="FV/1", net="-10.00")
    assert invoice.total_gross == Decimal("-12.30")


def _line(invoice: Invoice, **fields: object) -> InvoiceLine:
    values: dict[str, object] = {
        "invoice": invoice, "ordinal": 1, "name": "x", "quantity": Decimal(1), "unit_price": Decimal(10),
        "vat_rate": "23", "net_value": Decimal("10.00"), "vat_amount": Decimal("2.30"),
        "gross_value": Decimal("12.30"),
    }  # fmt: skip
    values.update(fields)
    return InvoiceLine.objects.create(**values)


def test_line_constraints(company_a: Company) -> None:
    invoice = invoice_make(company_a)
    _line(invoice)
    for bad in (
        {"ordinal": 1},
        {"ordinal": 2, "quantity": Decimal(-1)},
        {"ordinal": 3, "vat_rate": "24"},
        {"ordinal": 4, "gross_value": Decimal("12.31")},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            _line(invoice, **bad)
    _line(invoice, ordinal=5, quantity=Decimal(-1), allows_negative=True)  # an imported difference line


def test_contractor_nip_unique_per_company(company_a: Company, company_b: Company) -> None:
    Contractor.objects.create(company=company_a, nip="5260250274", name="A")
    Contractor.objects.create(company=company_b, nip="5260250274", name="A")
    Contractor.objects.create(company=company_a, name="Jan Kowalski")
    Contractor.objects.create(company=company_a, name="Jan Nowak")  # without NIP: no uniqueness
    with pytest.raises(IntegrityError), transaction.atomic():
        Contractor.objects.create(company=company_a, nip="5260250274", name="B")
