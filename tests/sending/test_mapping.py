"""FA(3) mapping of issued invoices: valid XML, stable bytes, local failures readable."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from lxml import etree

from accounts.models import Company
from invoices import services
from invoices.services import CorrectionData, LineData
from ksef_integration.fa3 import parse_invoice, validate
from ksef_integration.sending.mapping import XmlProblems, invoice_xml_build
from tests.invoices.factories import issue_data

NS = {"fa": "http://crd.gov.pl/wzor/2025/06/25/13775/"}


def _issue(company: Company, **overrides: Any) -> Any:
    today = timezone.localdate()
    values: dict[str, Any] = {"issue_date": today, "sale_date": today, "due_date": today}
    values.update(overrides)
    return services.invoice_issue(company=company, user=None, data=issue_data(**values))


def test_issued_invoice_maps_to_valid_fa3_with_our_number(company_a: Company) -> None:
    invoice = _issue(company_a)
    built = invoice_xml_build(invoice)
    assert validate(built.xml) == []
    doc = etree.fromstring(built.xml)
    assert doc.findtext("fa:Fa/fa:P_2", namespaces=NS) == invoice.number
    assert doc.findtext("fa:Podmiot1/fa:DaneIdentyfikacyjne/fa:NIP", namespaces=NS) == company_a.nip
    assert doc.findtext("fa:Fa/fa:RodzajFaktury", namespaces=NS) == "VAT"
    parsed = parse_invoice(built.xml)
    assert parsed.totals is not None
    assert parsed.totals.gross == invoice.total_gross
    assert len(built.sha256_b64) == 44


def test_same_invoice_and_moment_give_the_same_bytes(company_a: Company) -> None:
    invoice = _issue(company_a)
    moment = timezone.now()
    assert (
        invoice_xml_build(invoice, created_at=moment).xml == invoice_xml_build(invoice, created_at=moment).xml
    )


def test_correction_maps_with_the_corrected_invoice(company_a: Company) -> None:
    original = _issue(company_a)
    correction = services.invoice_correct(
        original=original,
        user=None,
        data=CorrectionData(
            reason="Rabat",
            lines=[LineData("Usługa księgowa", Decimal("1"), Decimal("800.00"), "23", "usł.")],
            issue_date=timezone.localdate(),
        ),
    )
    built = invoice_xml_build(correction)
    assert validate(built.xml) == []
    doc = etree.fromstring(built.xml)
    assert doc.findtext("fa:Fa/fa:RodzajFaktury", namespaces=NS) == "KOR"
    assert doc.findtext("fa:Fa/fa:DaneFaKorygowanej/fa:NrFaKorygowanej", namespaces=NS) == original.number
    assert doc.findtext("fa:Fa/fa:P_15", namespaces=NS) == "-246.00"


def test_local_problem_is_readable_and_nothing_is_built(company_a: Company) -> None:
    invoice = _issue(company_a)
    invoice.seller_nip = "1234567890"  # bad checksum: a snapshot gone wrong
    with pytest.raises(XmlProblems) as caught:
        invoice_xml_build(invoice)
    assert caught.value.problems
    assert all(isinstance(p, str) and p for p in caught.value.problems)


@pytest.mark.parametrize(
    ("notes", "where"),
    [
        ("Dziękujemy za zakupy.", "DodatkowyOpis"),
        ("u" * 256, "DodatkowyOpis"),
        ("u" * 257, "StopkaFaktury"),  # was cut to 256 characters
        ("Termin montażu: 12.01.\nKontakt: 600 100 200", "StopkaFaktury"),  # the line break is kept
        (("Warunki gwarancji. " * 184).strip(), "StopkaFaktury"),  # 3,495 characters: the form allows 3,500
    ],
)
def test_notes_arrive_whole(company_a: Company, notes: str, where: str) -> None:
    invoice = _issue(company_a, notes=notes)
    built = invoice_xml_build(invoice)
    assert validate(built.xml) == []
    doc = etree.fromstring(built.xml)
    if where == "DodatkowyOpis":
        assert doc.findtext("fa:Fa/fa:DodatkowyOpis/fa:Klucz", namespaces=NS) == "Uwagi"
        assert doc.findtext("fa:Fa/fa:DodatkowyOpis/fa:Wartosc", namespaces=NS) == notes
        assert doc.find("fa:Stopka", namespaces=NS) is None
    else:
        assert doc.findtext("fa:Stopka/fa:Informacje/fa:StopkaFaktury", namespaces=NS) == notes
        assert doc.find("fa:Fa/fa:DodatkowyOpis", namespaces=NS) is None


def test_lines_state_no_tax_of_their_own(company_a: Company) -> None:
    """P_11Vat is for the case of art. 106e ust. 10 only; the tax is stated per rate (P_14_x), which line
    amounts rounded one by one would not always add up to."""
    lines = [
        LineData("Śruby", Decimal("3"), Decimal("0.33"), "23", "szt."),
        LineData("Nakrętki", Decimal("7"), Decimal("0.17"), "23", "szt."),
        LineData("Podkładki", Decimal("11"), Decimal("0.07"), "23", "szt."),
        LineData("Książka", Decimal("1"), Decimal("39.99"), "5", "szt."),
    ]
    invoice = _issue(company_a, lines=lines)
    built = invoice_xml_build(invoice)
    assert validate(built.xml) == []
    doc = etree.fromstring(built.xml)
    assert doc.findall(".//fa:FaWiersz/fa:P_11Vat", namespaces=NS) == []
    # 23 %: 2.95 of net (0.99 + 1.19 + 0.77) → 0.68 of tax; 5 %: 39.99 → 2.00.
    assert doc.findtext("fa:Fa/fa:P_13_1", namespaces=NS) == "2.95"
    assert doc.findtext("fa:Fa/fa:P_14_1", namespaces=NS) == "0.68"
    assert doc.findtext("fa:Fa/fa:P_14_3", namespaces=NS) == "2.00"


def test_paid_in_full_maps_to_zaplacono(company_a: Company) -> None:
    paid = timezone.localdate()
    invoice = _issue(company_a, paid_on=paid)
    built = invoice_xml_build(invoice)
    assert validate(built.xml) == []
    doc = etree.fromstring(built.xml)
    assert doc.findtext("fa:Fa/fa:Platnosc/fa:Zaplacono", namespaces=NS) == "1"
    assert doc.findtext("fa:Fa/fa:Platnosc/fa:DataZaplaty", namespaces=NS) == paid.isoformat()
    assert parse_invoice(built.xml).payment.paid_on == paid  # type: ignore[union-attr]
