"""A purchase invoice imported from KSeF (the simulator over HTTP) produces ``purchase_invoice.received``;
an own sales invoice issued elsewhere does not."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEvent
from integrations.webhooks import services as webhooks
from invoices.models import Direction, Invoice
from ksef_integration.importing.services import company_import
from ksef_integration.models import KsefConnection
from ksef_simulator import services_invoices
from tests.importing.conftest import START, connected  # noqa: F401 - the fixture
from tests.integrations.conftest import Receiver
from tests.integrations.webhook_helpers import run_queued

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_imported_purchase_invoice_produces_purchase_invoice_received(
    connected: KsefConnection,  # noqa: F811
    receiver: Receiver,
    queued: Any,
) -> None:
    company = connected.company
    owner = company.memberships.get().user
    _endpoint, _secret = webhooks.endpoint_create(
        company=company, user=owner, url=receiver.url, events=["purchase_invoice.received"]
    )
    numbers = services_invoices.invoices_generate(
        buyer_nip=company.nip, count=3, date_from=START, date_to=START.replace(day=20), sellers=2, seed=5
    )
    company_import(company_id=company.pk)
    purchases = Invoice.objects.filter(company=company, direction=Direction.PURCHASE)
    assert set(purchases.values_list("ksef_number", flat=True)) == set(numbers)
    assert run_queued(queued, []) == 3
    assert sorted(r.json["data"]["invoice"]["ksef_number"] for r in receiver.received) == sorted(numbers)
    assert {r.json["type"] for r in receiver.received} == {"purchase_invoice.received"}
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}
    company_import(company_id=company.pk)  # nothing new in KSeF: no new event
    assert WebhookEvent.objects.count() == 3
