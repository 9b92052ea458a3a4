"""Sending across the token sunset against the simulator (issue 18): with the clock past ``KSEF_TOKEN_SUNSET``
a token connection is shown as expired, nothing talks to KSeF with the token (no login, no session, no failed
submission, no error e-mail), an invoice issued meanwhile waits in the queue, and once the owner connects with
a KSeF certificate it goes out at once, by certificate. Nothing is lost.

The simulator still takes tokens after the sunset, so anything the portal sent with the token would show up
in its tables: the test looks there."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Company
from invoices.models import KsefStatus
from ksef_integration import queue
from ksef_integration.connect import sunset
from ksef_integration.importing.services import companies_due_for_import, company_import
from ksef_integration.models import (
    AuthMethod,
    ConnectionStatus,
    ImportRun,
    KsefConnection,
    Submission,
    SubmissionEvent,
)
from ksef_integration.models import SubmissionStatus as S
from ksef_integration.sending import drain
from ksef_integration.sending.alerts import stuck_submissions_notify
from ksef_simulator.models import AuthOperation, SimInvoice, SimSession
from tests.conftest import Queued
from tests.offline.conftest import PASSWORD, issue_certificate
from tests.sending.test_send_simulator import connected, issue, run

pytestmark = pytest.mark.django_db(transaction=True)

__all__ = ["connected"]  # the fixture: a company connected to the simulator by a token, sending automatically


def talks_with_ksef(nip: str) -> tuple[int, int, int]:
    """What the simulator saw of the company: logins with a token, sessions, invoices."""
    return (
        AuthOperation.objects.filter(context_value=nip).exclude(ksef_token_reference="").count(),
        SimSession.objects.filter(context_nip=nip).count(),
        SimInvoice.objects.filter(seller_nip=nip).count(),
    )


def test_after_the_sunset_invoices_wait_and_go_out_by_certificate(
    connected: KsefConnection, alice_client: Any, settings: Any, queued: Queued
) -> None:
    company: Company = connected.company
    assert run(issue(company)).status == S.ACCEPTED  # before the sunset the token sends

    settings.KSEF_TOKEN_SUNSET = timezone.localdate() - dt.timedelta(days=1)  # the clock moves past it
    seen = talks_with_ksef(company.nip)
    mail.outbox.clear()

    invoice = issue(company)  # issued meanwhile: queued, as any other
    submission = Submission.objects.get(invoice=invoice)
    invoice.refresh_from_db()
    assert invoice.ksef_status == KsefStatus.QUEUED
    # Every way in that would talk to KSeF: the drain the issue queued, the sweeper, the stuck-invoice
    # alerts hours later, the import fan-out and an import, "Sprawdź połączenie".
    drain.submission_send(submission_id=submission.pk)
    assert drain.submissions_sweep() == 0
    assert stuck_submissions_notify(now=timezone.now() + dt.timedelta(hours=5)) == 0
    assert company.pk not in companies_due_for_import()
    assert company_import(company_id=company.pk).status == "not_connected"
    verify = alice_client.post(reverse("ksef_integration:verify"), follow=True).content.decode()
    assert settings.KSEF_TOKEN_SUNSET.strftime("%d.%m.%Y") in verify

    assert talks_with_ksef(company.nip) == seen  # nothing went to KSeF with the token
    submission.refresh_from_db()
    assert (submission.status, submission.attempts, submission.last_error_message) == (S.PENDING, 0, "")
    assert not submission.events.exclude(kind=SubmissionEvent.Kind.QUEUED).exists()
    assert not ImportRun.objects.filter(company=company, status=ImportRun.Status.FAILED).exists()
    connected.refresh_from_db()
    assert connected.status == ConnectionStatus.ACTIVE  # not "needs attention"
    assert mail.outbox == []  # no error e-mails

    # What the owner sees: the token expired (not a KSeF failure), why the invoice waits, the way out.
    with translation.override("pl"):
        expired = sunset.expired_text()
    start = alice_client.get(reverse("accounts:start")).content.decode()
    assert expired in start
    assert f'id="certificate-switch" href="{sunset.switch_url()}"' in start
    page = alice_client.get(
        reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid})
    ).content.decode()
    assert 'id="ksef-token-expired"' in page

    # The owner connects with a KSeF certificate: the waiting invoice is queued to go at once.
    certificate, key = issue_certificate(company.nip, kind="Authentication", key_type="EC")
    queued.messages.clear()
    response = alice_client.post(
        reverse("ksef_integration:certificate"),  # the upload of certificate files still works
        {
            "certificate": SimpleUploadedFile("ksef.crt", certificate),
            "private_key": SimpleUploadedFile("ksef.key", key),
            "password": PASSWORD,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    connected.refresh_from_db()
    assert connected.method == AuthMethod.CERTIFICATE
    assert connected.token_ciphertext == ""  # the token is gone with the switch
    assert not connected.token_expired
    assert (queue.SEND, (submission.pk,)) in [(name, args) for name, args, _ in queued.messages]

    drain.submission_send(submission_id=submission.pk)
    submission.refresh_from_db()
    assert submission.status == S.ACCEPTED
    assert submission.ksef_number
    sent = SimInvoice.objects.get(ksef_number=submission.ksef_number)
    assert sent.session is not None
    assert sent.session.ksef_token_reference == ""  # a session opened by certificate, not by the token
    assert talks_with_ksef(company.nip)[0] == seen[0]  # and still no token login
    start = alice_client.get(reverse("accounts:start")).content.decode()
    assert 'id="token-sunset"' not in start
    assert expired not in start


def test_after_the_sunset_unsent_invoices_of_manual_sending_wait_too(
    connected: KsefConnection, alice_client: Any, settings: Any
) -> None:
    """With automatic sending off, "Wyślij do KSeF" still queues an invoice after the sunset; it waits the
    same way (no login with the token) and the sweeper leaves it alone."""
    KsefConnection.objects.filter(pk=connected.pk).update(auto_send=False)
    settings.KSEF_TOKEN_SUNSET = timezone.localdate() - dt.timedelta(days=1)
    seen = talks_with_ksef(connected.company.nip)
    invoice = issue(connected.company)
    assert not Submission.objects.filter(invoice=invoice).exists()
    assert drain.unsent_send_all(company_id=connected.company.pk) == 1
    submission = Submission.objects.get(invoice=invoice)
    drain.submission_send(submission_id=submission.pk)
    assert drain.submissions_sweep() == 0
    submission.refresh_from_db()
    assert submission.status == S.PENDING
    assert talks_with_ksef(connected.company.nip) == seen
