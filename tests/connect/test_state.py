"""One source for "KSeF niedostępny": Start, Dane i ustawienia → KSeF and the owners' e-mail agree; and an
address that refuses connections is knocked at less and less often, and logged once with the address."""

from __future__ import annotations

import logging
import socket
from typing import Any

import pytest
from django.core import mail
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Company
from invoices import services as invoice_services
from ksef_integration.encryption import secret_encrypt
from ksef_integration.models import ConnectionStatus, KsefConnection, Submission
from ksef_integration.offline import availability
from ksef_integration.sending.drain import company_send_due, submission_enqueue
from tests.factories import active_connection
from tests.invoices.factories import issue_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection(company_a: Company) -> KsefConnection:
    return active_connection(
        company_a,
        token_ciphertext=secret_encrypt("20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-5265877635|" + "a" * 64),
        auto_send=True,
    )


def _shown(client: Any) -> tuple[str, str]:
    start = client.get(reverse("accounts:start")).content.decode()
    settings_page = client.get(reverse("ksef_integration:settings")).content.decode()
    start_status = start.split('id="start-ksef-status">', 1)[1].split("<", 1)[0]
    settings_status = settings_page.split('id="ksef-status">', 1)[1].split("<", 1)[0]
    return start_status, settings_status


def test_start_settings_and_the_email_agree_when_ksef_does_not_answer(
    alice_client: Any, connection: KsefConnection, company_a: Company, django_capture_on_commit_callbacks: Any
) -> None:
    assert _shown(alice_client) == ("KSeF: aktywne", "aktywne")
    with django_capture_on_commit_callbacks(execute=True):  # the e-mail is queued on commit
        for _attempt in range(3):  # KSEF_OFFLINE_FAILURES
            availability.transport_failed(company_id=company_a.pk)
    assert [m.subject for m in mail.outbox] == ["KSeF nie odpowiada"]
    assert _shown(alice_client) == ("KSeF: KSeF niedostępny", "KSeF niedostępny")

    availability.availability_restored(company_id=company_a.pk)
    assert _shown(alice_client) == ("KSeF: aktywne", "aktywne")


def test_a_connection_needing_attention_is_not_called_active_anywhere(
    alice_client: Any, connection: KsefConnection
) -> None:
    KsefConnection.objects.filter(pk=connection.pk).update(status=ConnectionStatus.ATTENTION)
    assert _shown(alice_client) == ("KSeF: wymaga uwagi", "wymaga uwagi")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_refusing_address_is_retried_with_growing_waits_and_logged_once(
    connection: KsefConnection, company_a: Company, caplog: pytest.LogCaptureFixture
) -> None:
    address = f"http://127.0.0.1:{_closed_port()}"
    today = timezone.localdate()
    invoice = invoice_services.invoice_issue(
        company=company_a, user=None, data=issue_data(issue_date=today, sale_date=today, due_date=today)
    )
    submission = submission_enqueue(invoice=invoice)
    waits = []
    caplog.set_level(logging.DEBUG, logger="ksef")
    with override_settings(KSEF_API_URL=f"{address}/ksef-sim/v2", KSEF_SEND_BACKOFF_SECONDS=5):
        for _attempt in range(6):
            Submission.objects.filter(pk=submission.pk).update(next_attempt_at=timezone.now())  # due now
            before = timezone.now()
            assert company_send_due(company_id=company_a.pk) == 0
            submission.refresh_from_db()
            waits.append((submission.next_attempt_at - before).total_seconds())
    # base·2^(n-1) with jitter in the upper half: each wait at least the lower bound of its step
    for n, wait in enumerate(waits, start=1):
        assert 5 * 2 ** (n - 1) * 0.5 - 1 <= wait <= 5 * 2 ** (n - 1) + 1, waits
    warnings = [r.getMessage() for r in caplog.records if r.name == "ksef" and r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert address in warnings[0]
    assert "connection refused" in warnings[0]
    assert submission.status == "pending"  # nothing lost: it waits for the address to answer
