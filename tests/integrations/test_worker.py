"""End to end with a REAL Celery worker (subprocess, Redis, PostgreSQL) and the simulator over HTTP: an
invoice created over the API is accepted by KSeF through the worker, its status, PDF, XML and UPO read over
the API, and the worker delivers the signed ``invoice.accepted`` webhook to a local receiver."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from integrations.api.keys import key_create
from integrations.models import ApiScope, DeliveryStatus, WebhookDelivery
from integrations.webhooks import services as webhooks
from ksef_integration.models import KsefConnection
from tests.conftest import wait_until
from tests.importing.conftest import connected  # noqa: F401 - the fixture
from tests.integrations.conftest import Receiver, invoice_body
from tests.security import leaks

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_broker]


@pytest.fixture
def simulator_url_for_worker(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KSEF_API_URL", f"{live_server.url}/ksef-sim/v2")


def test_created_over_the_api_accepted_through_the_worker_then_read_and_announced(
    simulator_url_for_worker: None,
    celery_worker_process: dict[str, Any],
    connected: KsefConnection,  # noqa: F811
    live_server: Any,
    receiver: Receiver,
) -> None:
    company = connected.company
    KsefConnection.objects.filter(pk=connected.pk).update(auto_send=True)
    owner = company.memberships.get().user
    plain = key_create(company=company, user=owner, name="sklep", scope=ApiScope.WRITE).plain
    leaks.remember(plain, "an API key")
    _endpoint, secret = webhooks.endpoint_create(
        company=company, user=owner, url=receiver.url, events=["invoice.accepted"]
    )
    leaks.remember(secret, "a webhook secret")
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {plain}"
    base = f"{live_server.url}/api/v1"

    created = http.post(f"{base}/invoices", json=invoice_body(), timeout=30)
    assert created.status_code == 201, created.text
    invoice_id = created.json()["id"]
    assert created.json()["ksef"]["status"] == "queued"

    def status() -> dict[str, Any]:
        return dict(http.get(f"{base}/invoices/{invoice_id}/ksef-status", timeout=30).json())

    log = celery_worker_process["log"]
    assert wait_until(lambda: status()["status"] == "accepted", timeout=90), log.read_text()[-3000:]
    ksef_number = status()["ksef_number"]
    assert ksef_number
    assert status()["acquisition_date"]
    pdf = http.get(f"{base}/invoices/{invoice_id}/pdf", timeout=30)
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    upo = http.get(f"{base}/invoices/{invoice_id}/upo", timeout=30)
    assert upo.status_code == 200
    assert ksef_number.encode() in upo.content
    xml = http.get(f"{base}/invoices/{invoice_id}/xml", timeout=30)
    assert xml.status_code == 200
    assert b"<Faktura" in xml.content

    # the worker heard KSeF's acceptance and delivered the signed event
    assert wait_until(lambda: len(receiver.received) == 1, timeout=60), log.read_text()[-3000:]
    (got,) = receiver.received
    event = Webhook(secret).verify(got.body, got.headers)
    assert event["type"] == "invoice.accepted"
    assert event["data"]["invoice"]["id"] == invoice_id
    assert event["data"]["invoice"]["ksef_number"] == ksef_number
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempts == 1
