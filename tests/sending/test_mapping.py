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
