"""Issuing, numbering, correcting and adding purchase invoices through the services."""

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest

from accounts.models import Company, User
from invoices import services
from invoices.errors import InvoiceError
from invoices.models import Contractor, Direction, Invoice, InvoiceKind, NumberingReset, NumberingSeries
from invoices.services import CorrectionData, LineData, PartyData
from invoices.signals import invoice_issued
from tests.invoices.factories import issue_data

pytestmark = pytest.mark.django_db


def test_issue_numbers_snapshots_and_totals(company_a: Company, alice: User) -> None:
    data = issue_data(
        lines=[
            LineData("Usługa", Decimal("2"), Decimal("100.005"), "23", "h"),
            LineData("Książka", Decimal("1"), Decimal("40"), "5"),
            LineData("Szkolenie", Decimal("1"), Decimal("500"), "zw"),
        ],
        exemption_basis="act",
        exemption_text="art. 43 ust. 1 pkt 29 lit. b ustawy o VAT",
    )
    invoice = services.invoice_issue(company=company_a, user=alice, data=data)
    assert invoice.number == "FV/1/11/2026"
    assert (invoice.direction, invoice.kind, invoice.ksef_status) == ("sales", "VAT", "not_sent")
    assert (invoice.seller_name, invoice.seller_nip) == (company_a.name, company_a.nip)
    assert (invoice.buyer_name, invoice.buyer_nip) == ("Zakład Usług Różnych Łęcki", "5260250274")
    assert invoice.total_net == Decimal("740.01")  # 200.01 + 40 + 500
    assert invoice.total_vat == Decimal("48.00")  # 46.00 + 2.00
    assert invoice.total_gross == Decimal("788.01")
    assert [line.ordinal for line in invoice.lines.order_by("ordinal")] == [1, 2, 3]
    assert invoice.created_by == alice
    assert invoice.contractor is not None
    assert invoice.contractor.name == "Zakład Usług Różnych Łęcki"


def test_numbers_count_per_month_and_per_kind(company_a: Company, company_b: Company) -> None:
    numbers = [
        services.invoice_issue(company=company_a, user=None, data=issue_data(issue_date=day)).number
        for day in (dt.date(2026, 11, 3), dt.date(2026, 11, 30), dt.date(2026, 12, 1), dt.date(2026, 11, 4))
    ]
    assert numbers == ["FV/1/11/2026", "FV/2/11/2026", "FV/1/12/2026", "FV/3/11/2026"]
    assert services.invoice_issue(company=company_b, user=None, data=issue_data()).number == "FV/1/11/2026"


def test_yearly_series_with_own_pattern(company_a: Company) -> None:
    NumberingSeries.objects.create(
        company=company_a, kind=InvoiceKind.VAT, pattern="{YYYY}/S/{n}", reset=NumberingReset.YEARLY
    )
    numbers = [
        services.invoice_issue(
            company=company_a,
            user=None,
            data=issue_data(issue_date=dt.date(2026, m, 1), sale_date=dt.date(2026, m, 1)),
        ).number
        for m in (1, 7, 12)
    ]
    assert numbers == ["2026/S/1", "2026/S/2", "2026/S/3"]


def test_a_failed_issue_gives_its_number_back(company_a: Company, monkeypatch: pytest.MonkeyPatch) -> None:
    original = services.number_allocate

    def explode(**kwargs: Any) -> str:
        original(**kwargs)  # the number is taken, then saving the invoice fails
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "number_allocate", explode)
    with pytest.raises(RuntimeError):
        services.invoice_issue(company=company_a, user=None, data=issue_data())
    monkeypatch.setattr(services, "number_allocate", original)
    assert services.invoice_issue(company=company_a, user=None, data=issue_data()).number == "FV/1/11/2026"


def test_signal_is_sent_only_after_commit(
    company_a: Company, django_capture_on_commit_callbacks: Any
) -> None:
    received: list[Invoice] = []

    def receiver(sender: Any, invoice: Invoice, **kwargs: Any) -> None:
        received.append(invoice)

    invoice_issued.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            invoice = services.invoice_issue(company=company_a, user=None, data=issue_data())
        assert received == []  # nothing before the commit
        assert len(callbacks) == 1
        callbacks[0]()
        assert received == [invoice]
    finally:
        invoice_issued.disconnect(receiver)


def test_same_form_key_twice_gives_one_invoice(company_a: Company) -> None:
    data = issue_data()
    first = services.invoice_issue(company=company_a, user=None, data=data)
    second = services.invoice_issue(company=company_a, user=None, data=data)
    assert first.pk == second.pk
    assert Invoice.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"lines": []}, "no_lines"),
        ({"lines": [LineData("x", Decimal("-1"), Decimal("1"), "23")]}, "line_negative"),
        ({"lines": [LineData("x", Decimal("1"), Decimal("1"), "24")]}, "line_rate"),
        ({"currency": "EUR"}, "rate"),
        ({"party": PartyData(name="X", nip="1234567890")}, "party_nip"),
        ({"party": PartyData(name=" ")}, "party_name"),
    ],
)
def test_bad_data_is_refused_and_nothing_is_saved(
    company_a: Company, overrides: dict[str, Any], code: str
) -> None:
    with pytest.raises(InvoiceError) as error:
        services.invoice_issue(company=company_a, user=None, data=issue_data(**overrides))
    assert error.value.code == code
    assert Invoice.objects.count() == 0
    assert Contractor.objects.count() == 0


def test_contractor_is_remembered_and_updated_by_nip(company_a: Company) -> None:
    services.invoice_issue(company=company_a, user=None, data=issue_data())
    moved = PartyData(name="Zakład Usług Różnych Łęcki", nip="526-025-02-74", address_line1="ul. Nowa 1")
    invoice = services.invoice_issue(company=company_a, user=None, data=issue_data(party=moved))
    contractor = Contractor.objects.get(company=company_a, nip="5260250274")
    assert contractor.address_line1 == "ul. Nowa 1"
    assert Contractor.objects.filter(company=company_a).count() == 1
    first = Invoice.objects.get(number="FV/1/11/2026")
    assert first.buyer_address_line1 == "ul. Źródlana 5"  # the issued invoice keeps its data
    assert invoice.buyer_address_line1 == "ul. Nowa 1"


def test_foreign_currency_invoice(company_a: Company) -> None:
    invoice = services.invoice_issue(
        company=company_a, user=None, data=issue_data(currency="EUR", exchange_rate=Decimal("4.2512"))
    )
    [total] = invoice.rate_totals()
    assert (invoice.currency, total.vat, total.vat_pln) == ("EUR", Decimal("230.00"), Decimal("977.78"))


def test_correction_shows_before_and_after(
    company_a: Company, django_capture_on_commit_callbacks: Any
) -> None:
    original = services.invoice_issue(company=company_a, user=None, data=issue_data())
    original.ksef_number = "5265877635-20261120-0100001AF629-9D"
    original.save()
    data = CorrectionData(
        reason="Rabat posprzedażowy",
        lines=[LineData("Usługa księgowa", Decimal("1"), Decimal("800.00"), "23", "usł.")],
        issue_date=dt.date(2026, 11, 25),
        idempotency_key=uuid.uuid4(),
    )
    with django_capture_on_commit_callbacks() as callbacks:
        kor = services.invoice_correct(original=original, user=None, data=data)
    assert len(callbacks) == 1
    assert (kor.kind, kor.number, kor.corrected_invoice) == (InvoiceKind.KOR, "KOR/1/11/2026", original)
    assert (kor.corrected_number, kor.corrected_issue_date) == ("FV/1/11/2026", dt.date(2026, 11, 20))
    assert kor.corrected_ksef_number == "5265877635-20261120-0100001AF629-9D"
    assert (kor.total_net, kor.total_vat, kor.total_gross) == (
        Decimal("-200.00"),
        Decimal("-46.00"),
        Decimal("-246.00"),
    )
    assert kor.lines.filter(before_correction=True).get().unit_price == Decimal("1000")
    # a second correction starts from the state after the first one
    again = services.invoice_correct(
        original=original,
        user=None,
        data=CorrectionData(
            "Zwrot", [LineData("Usługa księgowa", Decimal("1"), Decimal("700"), "23")], dt.date(2026, 11, 26)
        ),
    )
    assert again.number == "KOR/2/11/2026"
    assert again.total_net == Decimal("-100.00")


def test_only_sales_vat_invoices_can_be_corrected(company_a: Company) -> None:
    purchase = services.invoice_purchase_add(company=company_a, user=None, data=issue_data(number="A/1"))
    data = CorrectionData("x", [LineData("a", Decimal(1), Decimal(1), "23")], dt.date(2026, 12, 1))
    with pytest.raises(InvoiceError):
        services.invoice_correct(original=purchase, user=None, data=data)
    original = services.invoice_issue(company=company_a, user=None, data=issue_data())
    with pytest.raises(InvoiceError):  # dated before the original
        services.invoice_correct(
            original=original, user=None, data=CorrectionData("x", data.lines, dt.date(2026, 1, 1))
        )


def test_purchase_add_keeps_the_sellers_number(
    company_a: Company, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        invoice = services.invoice_purchase_add(
            company=company_a, user=None, data=issue_data(number=" 17/11/2026 ")
        )
    assert callbacks == []  # a purchase is never sent anywhere
    assert (invoice.direction, invoice.number) == (Direction.PURCHASE, "17/11/2026")
    assert (invoice.seller_nip, invoice.buyer_nip) == ("5260250274", company_a.nip)
    with pytest.raises(InvoiceError):
        services.invoice_purchase_add(company=company_a, user=None, data=issue_data(number=""))


def test_a_correction_keeps_the_gross_prices_and_the_invoice_discount(company_a: Company) -> None:
    """Issue 19: a correction is priced as the invoice it corrects, so its lines before the correction are
    the original's (gross value, P_10 with the share of the invoice discount) and the difference follows."""
    from invoices.models import InvoiceLine
    from ksef_integration.fa3 import parse_invoice
    from ksef_integration.sending.mapping import invoice_xml_build

    kawa = [LineData("Kawa", Decimal("3"), Decimal("12.30"), "23", "szt.")]
    original = services.invoice_issue(
        company=company_a,
        user=None,
        data=issue_data(lines=kawa, prices_gross=True, discount_percent=Decimal(10)),
    )
    line = original.lines.get()
    assert (line.unit_price_gross, line.discount, line.invoice_discount, line.gross_value) == (
        Decimal("12.30"),
        Decimal("3.69"),
        Decimal("3.69"),
        Decimal("33.21"),
    )
    kor = services.invoice_correct(
        original=original,
        user=None,
        data=CorrectionData(
            "Zwrot jednej kawy",
            [LineData("Kawa", Decimal("2"), Decimal("12.30"), "23", "szt.")],
            dt.date(2026, 11, 25),
        ),
    )
    assert (kor.prices_gross, kor.discount_percent) == (True, Decimal(10))
    before, after = (kor.lines.get(before_correction=flag) for flag in (True, False))
    assert [(x.gross_value, x.discount) for x in (before, after)] == [
        (Decimal("33.21"), Decimal("3.69")),
        (Decimal("22.14"), Decimal("2.46")),
    ]
    # 33.21 gross → 6.21 tax, 27.00 net; 22.14 → 4.14, 18.00: the difference
    assert (kor.total_net, kor.total_vat, kor.total_gross) == (
        Decimal("-9.00"),
        Decimal("-2.07"),
        Decimal("-11.07"),
    )
    parsed = parse_invoice(invoice_xml_build(kor).xml)
    assert [(x.unit_price_gross, x.gross_value, x.net_value, x.before_correction) for x in parsed.lines] == [
        (Decimal("12.30"), Decimal("33.21"), None, True),
        (Decimal("12.30"), Decimal("22.14"), None, False),
    ]
    assert parsed.totals is not None
    assert parsed.totals.gross == Decimal("-11.07")
    assert InvoiceLine.objects.filter(invoice=original).count() == 1


def test_an_invoice_discount_above_the_lines_is_refused_at_its_field(company_a: Company) -> None:
    from invoices.errors import InvoiceInvalid

    with pytest.raises(InvoiceInvalid) as refused:
        services.invoice_issue(
            company=company_a, user=None, data=issue_data(discount_amount=Decimal("1000.01"))
        )
    assert [issue.field for issue in refused.value.issues] == ["discount_amount"]
    assert not Invoice.objects.filter(company=company_a).exists()
