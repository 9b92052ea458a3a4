"""Invoices e-mailed to their buyers (issue 22), against the simulator over real HTTP: nothing before KSeF
accepted the invoice, then exactly one e-mail with the PDF whose QR code is the invoice's KOD I link and the
XML KSeF holds; an offline invoice at once, with KOD I and KOD II; a failing mail server (a real SMTP
conversation on loopback) retried and logged, a refused address logged as bounced, "wyślij ponownie"."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Company, Role
from invoices import signals
from invoices.models import Contractor, Invoice, KsefStatus
from invoices.visualisation import qr_codes
from ksef_integration import queue
from ksef_integration.delivery import services
from ksef_integration.ksef.qr import LABEL_CERTIFICATE, LABEL_OFFLINE
from ksef_integration.models import DeliveryEvent, InvoiceDelivery, KsefConnection, Submission
from ksef_integration.models import SubmissionStatus as S
from ksef_simulator.pages.qr import qr_link_verify
from tests.conftest import Queued, add_member
from tests.delivery.conftest import attachments, pdf_qr_texts, run_queued_deliveries
from tests.delivery.smtp import SmtpServer
from tests.offline.conftest import upload_certificate
from tests.sending.test_send_simulator import issue, run

pytestmark = pytest.mark.django_db(transaction=True)

BUYER = "ksiegowosc@lecki.example"


def _log(delivery: InvoiceDelivery) -> list[str]:
    return list(delivery.events.order_by("created_at", "id").values_list("kind", flat=True))


def test_no_email_before_acceptance_then_exactly_one_with_the_kod1_pdf_and_the_xml(
    connected: KsefConnection, queued: Queued
) -> None:
    company = connected.company
    Company.objects.filter(pk=company.pk).update(email="biuro@alfa.example")
    invoice = issue(company, delivery_email=BUYER, delivery_language="en")
    invoice.refresh_from_db()
    assert invoice.ksef_status == KsefStatus.QUEUED
    assert run_queued_deliveries(queued) == []
    assert mail.outbox == []
    assert not InvoiceDelivery.objects.exists()

    assert run(invoice).status == S.ACCEPTED  # the drain records the acceptance; the signal follows
    invoice.refresh_from_db()
    (delivery,) = InvoiceDelivery.objects.filter(invoice=invoice)
    assert (delivery.kind, delivery.status, delivery.to_email) == ("accepted", "queued", BUYER)
    assert queued.args(queue.DELIVERY_SEND) == [(delivery.pk,)]
    assert mail.outbox == []  # queued, not sent inside the drain

    assert [o.status for o in run_queued_deliveries(queued)] == ["sent"]
    (message,) = mail.outbox
    assert message.to == [BUYER]
    assert message.reply_to == ["biuro@alfa.example"]
    assert invoice.number in message.subject
    body = str(message.body)
    assert invoice.ksef_number
    assert invoice.ksef_number in body  # English: the contractor's language
    assert "The invoice is in the National e-Invoice System (KSeF)" in body
    files = attachments(message)
    pdf_name = next(name for name in files if name.endswith(".pdf"))
    xml_name = next(name for name in files if name.endswith(".xml"))
    assert files[pdf_name][1] == "application/pdf"
    (kod1,) = qr_codes(invoice)
    assert kod1.label == invoice.ksef_number
    assert pdf_qr_texts(files[pdf_name][0]) == [kod1.url]  # the QR code on the PDF is the KOD I link
    assert kod1.url in message.body
    assert files[xml_name][0] == bytes(Submission.objects.get(invoice=invoice).xml or b"")

    # The signal again (a second poll, a redelivered message): no second row, no second e-mail.
    signals.invoices_accepted.send(sender=None, company_id=company.pk, invoice_ids=[invoice.pk])
    assert InvoiceDelivery.objects.filter(invoice=invoice).count() == 1
    assert services.delivery_send(delivery_id=delivery.pk).status == "sent"  # a duplicate message
    assert run_queued_deliveries(queued) == []
    assert len(mail.outbox) == 1
    delivery.refresh_from_db()
    assert _log(delivery) == ["queued", "sent"]
    assert delivery.sent_at is not None


def test_the_address_and_language_are_remembered_per_contractor_and_offered_on_wystaw(
    alice_client: Any, company_a: Company
) -> None:
    from tests.invoices.test_views import issue_post

    response = alice_client.post(
        reverse("invoices:issue"), issue_post(delivery_email=BUYER, delivery_language="en")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    invoice = Invoice.objects.get(company=company_a)
    assert (invoice.delivery_email, invoice.delivery_language) == (BUYER, "en")
    assert invoice.contractor_id is not None
    contractor = Contractor.objects.get(pk=invoice.contractor_id)
    assert (contractor.delivery_email, contractor.delivery_language) == (BUYER, "en")
    found = alice_client.get(reverse("invoices:contractor_lookup"), {"nip": contractor.nip}).json()
    assert (found["delivery_email"], found["delivery_language"]) == (BUYER, "en")
    page = alice_client.get(reverse("invoices:issue")).content.decode()
    assert 'name="delivery_email"' in page
    assert 'name="delivery_language"' in page
    # A malformed address is a message next to the field, and nothing is issued.
    bad = alice_client.post(reverse("invoices:issue"), issue_post(delivery_email="not-an-address"))
    assert bad.status_code == 200
    assert 'id="id_delivery_email"' in bad.content.decode()
    assert Invoice.objects.filter(company=company_a).count() == 1


def test_an_offline_invoice_is_emailed_at_once_with_kod1_and_kod2(
    connected: KsefConnection, alice_client: Any, queued: Queued
) -> None:
    from tests.invoices.test_views import issue_post

    company = connected.company
    upload_certificate(company, key_type="EC")
    today = timezone.localdate().isoformat()
    response = alice_client.post(
        reverse("invoices:issue"),
        issue_post(offline24="on", issue_date=today, sale_date=today, due_date=today, delivery_email=BUYER),
    )
    assert response.status_code == 302
    invoice = Invoice.objects.get(company=company)
    assert invoice.ksef_status == KsefStatus.OFFLINE
    (delivery,) = InvoiceDelivery.objects.filter(invoice=invoice)
    assert delivery.kind == InvoiceDelivery.Kind.OFFLINE

    assert [o.status for o in run_queued_deliveries(queued)] == ["sent"]
    (message,) = mail.outbox
    kod1, kod2 = qr_codes(invoice)
    assert (kod1.label, kod2.label) == (LABEL_OFFLINE, LABEL_CERTIFICATE)
    files = attachments(message)
    pdf = next(content for name, (content, _type) in files.items() if name.endswith(".pdf"))
    decoded = pdf_qr_texts(pdf)
    assert len(decoded) == 2
    assert kod1.url in decoded  # KOD I is the same link whenever it is made
    (decoded_kod2,) = [text for text in decoded if text != kod1.url]
    # KOD II carries a fresh ECDSA signature each time it is made: the same certificate and invoice hash,
    # and KSeF's verification (the simulator's) accepts the one on the PDF.
    assert decoded_kod2.rsplit("/", 1)[0] == kod2.url.rsplit("/", 1)[0]
    assert qr_link_verify(decoded_kod2).ok
    assert kod1.url in message.body
    assert decoded_kod2 in message.body  # the e-mail names the very codes its PDF carries
    assert any(name.endswith(".xml") for name in files)

    # KSeF accepts it later: the buyer already has it, no second e-mail.
    submission = Submission.objects.get(invoice=invoice)
    Submission.objects.filter(pk=submission.pk).update(next_attempt_at=timezone.now())
    assert run(invoice).status == S.ACCEPTED
    assert qr_link_verify(kod1.url).ok  # the KOD I the buyer got now finds the invoice in KSeF
    run_queued_deliveries(queued)
    assert InvoiceDelivery.objects.filter(invoice=invoice).count() == 1
    assert len(mail.outbox) == 1


def _smtp_settings(port: int) -> Any:
    return override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
        EMAIL_USE_TLS=False,
        EMAIL_USE_SSL=False,
        EMAIL_HOST_USER="",
        EMAIL_HOST_PASSWORD="",
        EMAIL_TIMEOUT=5,
    )


def _accepted_with_delivery(connected: KsefConnection) -> InvoiceDelivery:
    invoice = issue(connected.company, delivery_email=BUYER)
    assert run(invoice).status == S.ACCEPTED
    return InvoiceDelivery.objects.get(invoice=invoice)


def test_a_failing_mail_server_is_retried_with_backoff_and_logged_and_nothing_is_lost(
    connected: KsefConnection, queued: Queued
) -> None:
    delivery = _accepted_with_delivery(connected)
    with SmtpServer(mode="busy") as smtp, _smtp_settings(smtp.port):
        first = services.delivery_send(delivery_id=delivery.pk)
        assert first.status == "retry"
        assert first.retry_in == services.retry_delay(1)
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("queued", 1)
        assert "421" in delivery.last_error
        assert "Service not available" in delivery.last_error
        assert delivery.next_attempt_at is not None
        # A message arriving before the retry is due (the sweeper's) does not try early.
        assert services.delivery_send(delivery_id=delivery.pk).status == "not_due"
        InvoiceDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        second = services.delivery_send(delivery_id=delivery.pk)
        assert second.status == "retry"
        assert second.retry_in == 2 * first.retry_in  # backoff
        smtp.state.mode = "accept"
        InvoiceDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        assert services.delivery_send(delivery_id=delivery.pk).status == "sent"
        (received,) = smtp.state.received
    assert received["To"] == BUYER
    parts = [part.get_content_type() for part in received.walk()]
    assert "application/pdf" in parts
    assert "application/xml" in parts
    delivery.refresh_from_db()
    assert delivery.status == "sent"
    assert _log(delivery) == ["queued", "retry", "retry", "sent"]
    retry_messages = delivery.events.filter(kind=DeliveryEvent.Kind.RETRY).values_list("message", flat=True)
    assert all("421" in text for text in retry_messages)


def test_the_sweeper_requeues_a_delivery_whose_message_was_lost(
    connected: KsefConnection, queued: Queued
) -> None:
    delivery = _accepted_with_delivery(connected)
    later = timezone.now() + services.SWEEP_AFTER + dt.timedelta(minutes=1)
    assert services.deliveries_sweep() == 0  # just queued: its message is on its way
    queued.messages.clear()
    assert services.deliveries_sweep(now=later) == 1
    assert queued.args(queue.DELIVERY_SEND) == [(delivery.pk,)]


def test_giving_up_after_the_last_attempt_then_send_again_from_the_invoice_page(
    connected: KsefConnection, alice_client: Any, queued: Queued
) -> None:
    delivery = _accepted_with_delivery(connected)
    InvoiceDelivery.objects.filter(pk=delivery.pk).update(attempts=services.MAX_ATTEMPTS - 1)
    with SmtpServer(mode="busy") as smtp, _smtp_settings(smtp.port):
        assert services.delivery_send(delivery_id=delivery.pk).status == "failed"
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert _log(delivery)[-1] == "failed"

    invoice = delivery.invoice
    panel = alice_client.get(reverse("ksef_integration:delivery_panel", args=[invoice.uuid])).content.decode()
    assert 'data-status="failed"' in panel
    assert "421" in panel  # the mail server's answer in the log
    assert 'id="delivery-resend"' in panel
    assert "hx-trigger" not in panel  # nothing moves: the panel does not poll

    queued.messages.clear()
    response = alice_client.post(reverse("ksef_integration:delivery_resend", args=[invoice.uuid]))
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("queued", 0)
    assert queued.args(queue.DELIVERY_SEND) == [(delivery.pk,)]
    requeued = delivery.events.get(kind=DeliveryEvent.Kind.REQUEUED)
    assert requeued.actor is not None
    assert requeued.actor.email == "alice@example.com"
    assert (
        "hx-trigger"
        in alice_client.get(reverse("ksef_integration:delivery_panel", args=[invoice.uuid])).content.decode()
    )  # on its way again: the panel polls
    assert [o.status for o in run_queued_deliveries(queued)] == ["sent"]
    assert len(mail.outbox) == 1


def test_a_refused_address_is_logged_as_bounced_and_not_retried(connected: KsefConnection) -> None:
    delivery = _accepted_with_delivery(connected)
    with SmtpServer(mode="refuse") as smtp, _smtp_settings(smtp.port):
        assert services.delivery_send(delivery_id=delivery.pk).status == "bounced"
        assert services.delivery_send(delivery_id=delivery.pk).status == "bounced"  # final: not tried again
        assert smtp.state.sessions == 1
    delivery.refresh_from_db()
    assert delivery.status == "bounced"
    assert "550" in delivery.last_error
    assert BUYER in delivery.last_error
    assert _log(delivery) == ["queued", "bounced"]


def test_a_viewer_sees_the_log_but_cannot_send_again(
    connected: KsefConnection, client: Any, queued: Queued
) -> None:
    delivery = _accepted_with_delivery(connected)
    viewer = add_member(connected.company, Role.VIEWER, "podglad@example.com")
    client.force_login(viewer.user)
    invoice = delivery.invoice
    panel = client.get(reverse("ksef_integration:delivery_panel", args=[invoice.uuid])).content.decode()
    assert BUYER in panel
    assert 'id="delivery-resend"' not in panel
    assert client.post(reverse("ksef_integration:delivery_resend", args=[invoice.uuid])).status_code == 403
