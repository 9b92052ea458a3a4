"""The buyer's e-mail through a real Celery worker and a real SMTP conversation: the mail server is down,
the task retries with backoff and logs each answer, the server comes back, exactly one e-mail arrives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ksef_integration.models import InvoiceDelivery, KsefConnection, Submission
from ksef_integration.models import SubmissionStatus as S
from tests.conftest import wait_until
from tests.delivery.smtp import SmtpServer
from tests.sending.test_send_simulator import issue, run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer(mode="busy") as server:
        yield server


@pytest.fixture
def celery_worker_env(smtp: SmtpServer) -> dict[str, str]:
    return {"EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}", "INVOICE_EMAIL_RETRY_SECONDS": "1"}


def test_a_mail_server_that_is_down_is_retried_by_the_worker_and_nothing_is_lost(
    connected: KsefConnection, celery_worker_process: dict[str, Any], smtp: SmtpServer
) -> None:
    invoice = issue(connected.company, delivery_email="faktury@lecki.example")
    # Sent here or by the worker, which also has the task issuing queued: whichever claims it first. Its
    # acceptance queues the e-mail for the worker.
    submission = run(invoice)
    assert wait_until(
        lambda: Submission.objects.filter(pk=submission.pk, status=S.ACCEPTED).exists(), timeout=60
    ), celery_worker_process["log"].read_text()
    delivery = InvoiceDelivery.objects.get(invoice=invoice)

    def retries() -> int:
        return delivery.events.filter(kind="retry").count()

    assert wait_until(lambda: retries() >= 2, timeout=60), celery_worker_process["log"].read_text()
    assert smtp.state.received == []
    smtp.state.mode = "accept"
    assert wait_until(
        lambda: InvoiceDelivery.objects.filter(pk=delivery.pk, status="sent").exists(), timeout=60
    ), celery_worker_process["log"].read_text()
    (message,) = smtp.state.received
    assert message["To"] == "faktury@lecki.example"
    kinds = list(delivery.events.order_by("created_at", "id").values_list("kind", flat=True))
    assert kinds[0] == "queued"
    assert kinds[-1] == "sent"
    assert set(kinds[1:-1]) == {"retry"}
    assert all("421" in m for m in delivery.events.filter(kind="retry").values_list("message", flat=True))
