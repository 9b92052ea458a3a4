"""Issuing offline against the simulator over real HTTP (no worker; the send service is called directly):
offline24 chosen on Wystaw, detection of an unreachable KSeF and its recovery, announced outages from admin,
deadline reminders, and the technical correction of a rejected offline invoice."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import Company, User
from invoices.models import Invoice, KsefStatus
from invoices.visualisation import qr_codes
from ksef_integration.ksef.qr import LABEL_CERTIFICATE, LABEL_OFFLINE
from ksef_integration.models import (
    KsefAvailability,
    KsefConnection,
    KsefOutage,
    OfflineInvoice,
    OutageKind,
    Submission,
)
from ksef_integration.models import SubmissionStatus as S
from ksef_integration.offline.availability import availability_probe, unavailable_companies_probe
from ksef_integration.offline.issue import CorrectionRefused, invoice_issue_offline, technical_correction
from ksef_integration.offline.reminders import deadlines_notify, invoice_deadline
from ksef_integration.sending import drain
from ksef_simulator.conf import config_update
from ksef_simulator.models import SimInvoice
from ksef_simulator.pages.qr import qr_link_verify
from tests.invoices.test_views import issue_post
from tests.offline.conftest import issue, upload_certificate

pytestmark = pytest.mark.django_db(transaction=True)


def deliver(invoice: Invoice) -> Submission:
    submission = Submission.objects.get(invoice=invoice)
    Submission.objects.filter(pk=submission.pk).update(next_attempt_at=timezone.now())
    drain.submission_send(submission_id=submission.pk)
    submission.refresh_from_db()
    return submission


def test_offline24_chosen_on_wystaw_has_both_codes_a_deadline_and_is_delivered_as_offline(
    connected: KsefConnection, alice_client: Any
) -> None:
    company = connected.company
    upload_certificate(company, key_type="EC")
    today = timezone.localdate().isoformat()
    response = alice_client.post(
        reverse("invoices:issue"),
        issue_post(offline24="on", issue_date=today, sale_date=today, due_date=today),
    )
    assert response.status_code == 302
    invoice = Invoice.objects.get(company=company)
    assert (invoice.ksef_offline_mode, invoice.ksef_status) == ("offline24", KsefStatus.OFFLINE)
    assert OfflineInvoice.objects.get(invoice=invoice).reason == OfflineInvoice.Reason.CHOSEN
    submission = Submission.objects.get(invoice=invoice)
    assert submission.xml_sha256_b64 == invoice.xml_sha256_b64  # the codes carry the hash of the file sent
    codes = qr_codes(invoice)
    assert [code.label for code in codes] == [LABEL_OFFLINE, LABEL_CERTIFICATE]
    assert qr_link_verify(codes[1].url).ok  # KOD II, scanned before the invoice is in KSeF
    page = alice_client.get(
        reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid})
    ).content.decode()
    deadline = invoice_deadline(invoice=invoice)
    assert deadline is not None
    assert deadline.day is not None
    assert deadline.day > invoice.issue_date
    assert f"{deadline.day:%d.%m.%Y}" in page
    assert "CERTYFIKAT" in page
    assert "pozostało" in page  # the countdown
    pdf = alice_client.get(reverse("invoices:pdf", kwargs={"invoice_uuid": invoice.uuid}))
    assert pdf.content.startswith(b"%PDF")
    assert b"/certificate/Nip/" in pdf.content  # KOD II is linked on the PDF too

    submission = deliver(invoice)
    assert submission.status == S.ACCEPTED, submission.last_error_message
    held = SimInvoice.objects.get(invoice_hash=submission.xml_sha256_b64)
    assert held.offline_requested
    assert held.invoicing_mode == "Offline"
    invoice.refresh_from_db()
    codes = qr_codes(invoice)
    assert codes[0].label == invoice.ksef_number  # the KSeF number replaces OFFLINE
    assert qr_link_verify(codes[0].url).ok


def test_ksef_unreachable_marks_the_connection_then_recovers_and_sends_what_waited(
    connected: KsefConnection, alice_client: Any, settings: Any
) -> None:
    settings.KSEF_OFFLINE_FAILURES = 2
    company = connected.company
    config_update(unavailable=True)
    online = issue(company)  # auto_send queues it; KSeF does not answer
    for _attempt in range(2):
        assert deliver(online).status == S.PENDING
    availability = KsefAvailability.objects.get(company=company)
    assert availability.is_unavailable
    assert any("KSeF nie odpowiada" in message.subject for message in mail.outbox)
    page = alice_client.get(reverse("ksef_integration:settings")).content.decode()
    assert "KSeF niedostępny" in page
    # Issued while KSeF is down: offline24 automatically, KOD I only (no offline certificate), said plainly.
    waiting = issue(company)
    waiting.refresh_from_db()
    assert waiting.ksef_offline_mode == "offline24"
    assert OfflineInvoice.objects.get(invoice=waiting).reason == OfflineInvoice.Reason.UNREACHABLE
    assert [code.label for code in qr_codes(waiting)] == [LABEL_OFFLINE]
    detail = alice_client.get(reverse("invoices:detail", kwargs={"invoice_uuid": waiting.uuid})).content
    assert "nie ma KODU II" in detail.decode()
    assert not availability_probe(company_id=company.pk)  # still down

    config_update(unavailable=False)
    Submission.objects.update(next_attempt_at=timezone.now() + dt.timedelta(hours=1))  # deep in backoff
    assert unavailable_companies_probe() == 0
    assert not KsefAvailability.objects.get(company=company).is_unavailable
    assert Submission.objects.filter(next_attempt_at__gt=timezone.now()).count() == 0  # due again
    drain.company_send_due(company_id=company.pk)
    assert set(Submission.objects.values_list("status", flat=True)) == {S.ACCEPTED}
    modes = dict(
        SimInvoice.objects.filter(seller_nip=company.nip).values_list("invoice_number", "offline_requested")
    )
    assert modes == {online.number: False, waiting.number: True}


def test_an_announced_failure_recorded_in_admin_gives_invoices_its_mode_and_deadline(
    connected: KsefConnection, admin_client: Any, admin_user: User
) -> None:
    now = timezone.now()
    response = admin_client.post(
        reverse("admin:ksef_integration_ksefoutage_add"),
        {
            "kind": OutageKind.FAILURE,
            "starts_at_0": f"{now - dt.timedelta(hours=1):%Y-%m-%d}",
            "starts_at_1": f"{now - dt.timedelta(hours=1):%H:%M:%S}",
            "ends_at_0": "",
            "ends_at_1": "",
            "announced_at_0": f"{now:%Y-%m-%d}",
            "announced_at_1": f"{now - dt.timedelta(minutes=30):%H:%M:%S}",
            "note": "Komunikat MF",
        },
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    outage = KsefOutage.objects.get()
    assert outage.created_by == admin_user
    invoice = issue(connected.company)
    invoice.refresh_from_db()
    assert invoice.ksef_offline_mode == "awaryjny"
    deadline = invoice_deadline(invoice=invoice)
    assert deadline is not None
    assert deadline.day is None  # the failure still lasts
    KsefOutage.objects.filter(pk=outage.pk).update(ends_at=now)
    deadline = invoice_deadline(invoice=invoice)
    assert deadline is not None
    assert deadline.day is not None
    assert (deadline.day - timezone.localdate()).days >= 9  # 7 business days, at least one weekend


def test_the_owner_is_reminded_once_before_the_deadline_passes(connected: KsefConnection) -> None:
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    invoice = issue(connected.company, issue_date=yesterday, sale_date=yesterday, due_date=yesterday)
    invoice_issue_offline(invoice=invoice, mode="offline24", reason=OfflineInvoice.Reason.CHOSEN)
    invoice.refresh_from_db()
    deadline = invoice_deadline(invoice=invoice)
    assert deadline is not None
    assert deadline.ends_at is not None
    mail.outbox.clear()
    assert deadlines_notify(now=deadline.ends_at - dt.timedelta(days=3)) == 0
    assert deadlines_notify(now=deadline.ends_at - dt.timedelta(hours=5)) == 1
    assert invoice.number in mail.outbox[-1].body
    assert mail.outbox[-1].to == ["alice@example.com"]
    assert deadlines_notify(now=deadline.ends_at - dt.timedelta(hours=4)) == 0  # once per deadline


def test_a_technical_correction_resends_the_same_content_linked_to_the_rejected_file(
    connected: KsefConnection, alice_client: Any
) -> None:
    company = connected.company
    upload_certificate(company)
    invoice = issue(company)
    invoice_issue_offline(invoice=invoice, mode="offline24", reason=OfflineInvoice.Reason.CHOSEN)
    submission = Submission.objects.get(invoice=invoice)
    # A technically broken file (an element the schema does not know) is what KSeF receives first.
    assert submission.xml is not None
    broken = bytes(submission.xml).replace(b"</Fa>", b"<Nieznany>1</Nieznany></Fa>", 1)
    assert broken != bytes(submission.xml)
    from ksef_integration.ksef.crypto import sha256_b64

    Submission.objects.filter(pk=submission.pk).update(xml=broken, xml_sha256_b64=sha256_b64(broken))
    rejected = deliver(invoice)
    assert rejected.status == S.REJECTED
    invoice.refresh_from_db()
    page = alice_client.get(
        reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid})
    ).content.decode()
    assert "Wyślij korektę techniczną" in page
    response = alice_client.post(
        reverse("ksef_integration:invoice_technical_correction", kwargs={"invoice_uuid": invoice.uuid})
    )
    assert response.status_code == 302
    corrected = deliver(invoice)
    assert corrected.status == S.ACCEPTED, corrected.last_error_message
    held = SimInvoice.objects.get(invoice_hash=corrected.xml_sha256_b64)
    assert held.hash_of_corrected_invoice == rejected.xml_sha256_b64
    assert held.offline_requested
    # The old KOD I (the rejected file's hash) now leads to the corrected invoice.
    from ksef_integration.ksef.qr import kod1_url

    old = kod1_url(
        qr_host="qr-test.ksef.mf.gov.pl",
        seller_nip=company.nip,
        issue_date=invoice.issue_date,
        invoice_hash=rejected.xml_sha256_b64,
    )
    check = qr_link_verify(old)
    assert check.ok
    assert check.invoice == held
    # Only once.
    with pytest.raises(CorrectionRefused):
        technical_correction(invoice=Invoice.objects.get(pk=invoice.pk), user=None)


def test_an_invoice_issued_without_a_connection_stays_online(alice_client: Any, company_a: Company) -> None:
    today = timezone.localdate().isoformat()
    alice_client.post(
        reverse("invoices:issue"),
        issue_post(
            offline24="on",
            issue_date=today,
            sale_date=today,
            due_date=today,
            idempotency_key=str(uuid.uuid4()),
        ),
    )
    invoice = Invoice.objects.get(company=company_a)
    assert invoice.ksef_offline_mode == ""
    assert not Submission.objects.exists()


def test_the_offline_admin_pages_render_and_never_show_the_key(admin_client: Any, company_a: Company) -> None:
    upload_certificate(company_a)
    for model in ("ksefoutage", "ksefavailability", "offlinecertificate", "offlineinvoice"):
        page = admin_client.get(reverse(f"admin:ksef_integration_{model}_changelist"))
        assert page.status_code == 200, model
        assert b"private_key" not in page.content
