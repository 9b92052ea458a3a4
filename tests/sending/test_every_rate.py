"""Issue 16: one invoice of every VAT rate the Wystaw form offers, typed into the form and sent to the
simulator over real HTTP, is accepted; its invoice, PDF and XML pages answer."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Company
from invoices.models import Invoice, KsefStatus, VatRate
from ksef_integration.models import SubmissionStatus as S
from tests.sending.test_send_simulator import connected, run  # noqa: F401 - connected is the fixture

pytestmark = pytest.mark.django_db(transaction=True)

BUYERS = {
    "0 WDT": {"nip": "", "foreign_id": "DE123456789", "country_code": "DE"},
    "np II": {"nip": "", "foreign_id": "FR12345678901", "country_code": "FR"},
    "0 EX": {"nip": "", "foreign_id": "12-3456789", "country_code": "US"},
}


def wystaw(rate: str) -> dict[str, str]:
    today = timezone.localdate().isoformat()
    return {
        "idempotency_key": str(uuid.uuid4()),
        "name": "Kontrahent Sp. z o.o.",
        "nip": "5260250274",
        "foreign_id": "",
        "country_code": "PL",
        "address_line1": "ul. Prosta 1",
        "address_line2": "00-950 Warszawa",
        "issue_date": today,
        "sale_date": today,
        "currency": "EUR" if rate in BUYERS else "PLN",
        "exchange_rate": "4,2512" if rate in BUYERS else "",
        "payment_method": "6",
        "due_date": today,
        "bank_account": "61 1090 1014 0000 0712 1981 2874",
        "exemption_basis": "act",
        "exemption_text": "art. 43 ust. 1 pkt 37 ustawy o VAT",
        "lines-TOTAL_FORMS": "2",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "1",
        "lines-MAX_NUM_FORMS": "1000",
        "lines-0-name": f"Pozycja ze stawką {rate}",
        "lines-0-quantity": "3",
        "lines-0-unit": "szt.",
        "lines-0-unit_price": "99,99",
        "lines-0-vat_rate": rate,
        "lines-1-name": "Druga pozycja",
        "lines-1-quantity": "0,5",
        "lines-1-unit": "h",
        "lines-1-unit_price": "10",
        "lines-1-vat_rate": rate,
        **BUYERS.get(rate, {}),
    }


@pytest.mark.usefixtures("connected")
@pytest.mark.parametrize("rate", VatRate.values)
def test_every_rate_from_the_form_is_accepted_by_the_simulator(
    company_a: Company, alice_client: Any, rate: str
) -> None:
    response = alice_client.post(reverse("invoices:issue"), wystaw(rate))
    assert response.status_code == 302, response.context["form"].errors if response.context else ""
    invoice = Invoice.objects.get(company=company_a)
    submission = run(invoice)
    assert submission.status == S.ACCEPTED, submission.last_error_message
    invoice.refresh_from_db()
    assert invoice.ksef_status == KsefStatus.ACCEPTED
    for name in ("invoices:detail", "invoices:pdf", "ksef_integration:invoice_xml"):
        assert alice_client.get(reverse(name, kwargs={"invoice_uuid": invoice.uuid})).status_code == 200
