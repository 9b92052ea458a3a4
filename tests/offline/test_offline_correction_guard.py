"""A correction (KOR) of an invoice issued offline waits for the original's KSeF number, which the KOR must
cite (ksef-api.md §9.1, §12.2): the service refuses, the page explains, and once KSeF accepts it, it works."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Company
from invoices import services as invoice_services
from invoices.errors import InvoiceError
from invoices.models import Invoice, InvoiceKind, KsefOfflineMode, KsefStatus
from ksef_integration.models import KsefConnection
from ksef_integration.models import SubmissionStatus as S
from tests.invoices.factories import invoice_make
from tests.offline.conftest import issue, upload_certificate
from tests.offline.test_offline_flow import deliver

WAIT_PL = "Poczekaj na numer KSeF: korekta musi go wskazać, a ta faktura otrzyma go, gdy KSeF ją przyjmie."


def _correction_data() -> invoice_services.CorrectionData:
    return invoice_services.CorrectionData(
        reason="Rabat",
        lines=[invoice_services.LineData("Usługa księgowa", Decimal(1), Decimal(900), "23", "usł.")],
        issue_date=timezone.localdate(),
    )


def _correction_post() -> dict[str, str]:
    return {
        "idempotency_key": str(uuid.uuid4()),
        "reason": "Rabat",
        "issue_date": timezone.localdate().isoformat(),
        "notes": "",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "1",
        "lines-MIN_NUM_FORMS": "1",
        "lines-MAX_NUM_FORMS": "500",
        "lines-0-name": "Usługa księgowa",
        "lines-0-quantity": "1",
        "lines-0-unit": "usł.",
        "lines-0-unit_price": "900",
        "lines-0-vat_rate": "23",
    }


def _issued_offline(company: Company) -> Invoice:
    """Offline24 chosen on Wystaw, with an Offline certificate: KOD I + KOD II, waiting to be sent."""
    upload_certificate(company, key_type="EC")
    invoice = issue(company, ksef_offline_mode=KsefOfflineMode.OFFLINE24)
    invoice.refresh_from_db()
    assert (invoice.ksef_status, invoice.ksef_number) == (KsefStatus.OFFLINE, None)
    return invoice


def _corrections() -> int:
    return Invoice.objects.filter(kind=InvoiceKind.KOR).count()


@pytest.mark.django_db(transaction=True)
def test_the_service_refuses_until_ksef_numbers_the_invoice_then_the_correction_cites_that_number(
    connected: KsefConnection,
) -> None:
    invoice = _issued_offline(connected.company)
    with pytest.raises(InvoiceError) as refused:
        invoice_services.invoice_correct(original=invoice, user=None, data=_correction_data())
    assert refused.value.code == "awaiting_ksef_number"
    assert _corrections() == 0

    assert deliver(invoice).status == S.ACCEPTED
    invoice.refresh_from_db()
    assert invoice.ksef_number
    kor = invoice_services.invoice_correct(original=invoice, user=None, data=_correction_data())
    assert kor.corrected_ksef_number == invoice.ksef_number
    assert kor.total_net == Decimal("-100.00")
    # KSeF takes the KOR, which names the original by its KSeF number (NrKSeF), not as issued outside it.
    assert deliver(kor).status == S.ACCEPTED


@pytest.mark.django_db(transaction=True)
def test_the_page_explains_and_the_view_refuses_in_polish_creating_nothing(
    connected: KsefConnection, alice_client: Any
) -> None:
    invoice = _issued_offline(connected.company)
    detail_url = reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid})
    correct_url = reverse("invoices:correct", kwargs={"invoice_uuid": invoice.uuid})
    page = alice_client.get(detail_url).content.decode()
    assert f'href="{correct_url}"' not in page
    assert 'disabled aria-describedby="correction-waits">Korekta</button>' in page
    assert "Wtedy będzie można wystawić korektę." in page

    for response in (alice_client.get(correct_url), alice_client.post(correct_url, _correction_post())):
        assert response.status_code == 302
        assert response["Location"] == detail_url
    shown = alice_client.get(correct_url, follow=True).content.decode()
    assert WAIT_PL in shown
    assert _corrections() == 0

    assert deliver(invoice).status == S.ACCEPTED
    page = alice_client.get(detail_url).content.decode()
    assert f'href="{correct_url}"' in page
    assert "correction-waits" not in page
    assert alice_client.get(correct_url).status_code == 200
    response = alice_client.post(correct_url, _correction_post())
    kor = Invoice.objects.get(kind=InvoiceKind.KOR)
    assert response["Location"] == reverse("invoices:detail", kwargs={"invoice_uuid": kor.uuid})
    invoice.refresh_from_db()
    assert kor.corrected_ksef_number == invoice.ksef_number


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "waits", "correctable"),
    [
        # Offline, sent, KSeF has not decided yet: still no number.
        ({"ksef_offline_mode": "offline24", "ksef_status": KsefStatus.SENT}, True, False),
        ({"ksef_offline_mode": "awaryjny", "ksef_status": KsefStatus.OFFLINE}, True, False),
        (
            {"ksef_offline_mode": "offline24", "ksef_status": KsefStatus.ACCEPTED, "ksef_number": "N-1"},
            False,
            True,
        ),
        # Issued online and on its way to KSeF: the same wait; never handed to KSeF: NrKSeFN, as before.
        ({"ksef_status": KsefStatus.QUEUED}, True, False),
        ({"ksef_status": KsefStatus.SENT}, True, False),
        ({"ksef_status": KsefStatus.ACCEPTED, "ksef_number": "N-2"}, False, True),
        ({"ksef_status": KsefStatus.NOT_SENT}, False, True),
        # A correction or a purchase is never corrected here, offline or not.
        (
            {"ksef_offline_mode": "offline24", "kind": InvoiceKind.KOR, "corrected_number": "FV/1"},
            False,
            False,
        ),
        ({"ksef_offline_mode": "offline24", "direction": "purchase"}, False, False),
    ],
)
def test_which_invoices_wait_for_their_ksef_number(
    company_a: Company, fields: dict[str, Any], waits: bool, correctable: bool
) -> None:
    invoice = invoice_make(company_a, issue_date=dt.date(2026, 11, 2), **fields)
    assert invoice.correction_waits_for_ksef_number() is waits
    assert invoice.can_be_corrected() is correctable
