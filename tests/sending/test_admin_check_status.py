"""The admin's "check the status in KSeF now" queues the company's drain; it never talks to KSeF inside the
request (it used to drain for up to 20 s there)."""

from __future__ import annotations

import datetime as dt
import socket
import time
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Company
from invoices import services as invoice_services
from ksef_integration import queue
from ksef_integration.models import Submission
from ksef_integration.models import SubmissionStatus as S
from ksef_integration.sending.drain import submission_enqueue
from tests.conftest import Queued
from tests.factories import UserFactory, active_connection
from tests.invoices.factories import issue_data

pytestmark = pytest.mark.django_db(transaction=True)


def test_check_status_queues_the_drain_and_returns_at_once(
    client: Any, company_a: Company, queued: Queued
) -> None:
    active_connection(company_a)
    today = timezone.localdate()
    invoice = invoice_services.invoice_issue(
        company=company_a, user=None, data=issue_data(issue_date=today, sale_date=today, due_date=today)
    )
    submission = submission_enqueue(invoice=invoice)
    later = timezone.now() + dt.timedelta(hours=1)
    Submission.objects.filter(pk=submission.pk).update(
        status=S.SENT,
        next_attempt_at=later,
        session_reference="20261204-SO-16251E808B-904E752A9B-11",
        invoice_reference="20261204-EE-2EDD82F306-71265D7996-C6",
    )
    staff = UserFactory.create(email="staff@example.com", is_staff=True, is_superuser=True)
    client.force_login(staff)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    started = time.monotonic()
    with override_settings(KSEF_API_URL=f"http://127.0.0.1:{closed}/ksef-sim/v2"):  # KSeF must not be asked
        response = client.post(
            reverse("admin:ksef_integration_submission_changelist"),
            {"action": "check_status", "_selected_action": [submission.pk]},
            follow=True,
        )
    assert response.status_code == 200
    assert time.monotonic() - started < 5
    assert queued.args(queue.SEND) == [(submission.pk,)]
    submission.refresh_from_db()
    assert submission.status == S.SENT
    assert submission.next_attempt_at <= timezone.now()
    assert "1 oczekuje na sprawdzenie w KSeF" in response.content.decode()
