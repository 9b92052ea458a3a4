"""Fixtures of the offline tests: a company connected to the simulator, and Offline certificates."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from django.test import override_settings
from django.utils import timezone

from accounts.models import Company
from invoices import services as invoice_services
from invoices.models import Invoice
from ksef_integration.models import KsefConnection, OfflineCertificate
from ksef_integration.services import offline
from ksef_simulator import services_core
from ksef_simulator.conf import config_update
from tests.invoices.factories import issue_data

PASSWORD = "haslo-offline-1"


def issue_certificate(nip: str, *, kind: str = "Offline", key_type: str = "RSA") -> tuple[bytes, bytes]:
    """A KSeF certificate from the simulator's Certyfikaty: (certificate PEM, password-encrypted key PEM)."""
    certificate, key, _serial = services_core.certificate_issue(
        nip=nip, kind=kind, key_type=key_type, password=PASSWORD
    )
    return certificate.encode(), key.encode()


def upload_certificate(company: Company, *, key_type: str = "RSA") -> OfflineCertificate:
    certificate, key = issue_certificate(company.nip, key_type=key_type)
    return offline.offline_certificate_upload(
        company=company, user=None, certificate_bytes=certificate, private_key_bytes=key, password=PASSWORD
    )


def plain_key(encrypted_pem: bytes) -> Any:
    return serialization.load_pem_private_key(encrypted_pem, password=PASSWORD.encode())


def issue(company: Company, **overrides: Any) -> Invoice:
    today = timezone.localdate()
    values: dict[str, Any] = {"issue_date": today, "sale_date": today, "due_date": today}
    values.update(overrides)
    return invoice_services.invoice_issue(company=company, user=None, data=issue_data(**values))


@pytest.fixture
def connected(live_server: Any, alice_client: Any, company_a: Company) -> Iterator[KsefConnection]:
    config_update(token_activation_delay=0, auth_delay=0, invoice_processing_delay=0)
    with override_settings(
        KSEF_API_URL=f"{live_server.url}/ksef-sim/v2",
        KSEF_SEND_BACKOFF_SECONDS=60,
        KSEF_SEND_LEASE_SECONDS=30,
    ):
        _, token = services_core.token_generate(
            nip=company_a.nip, permissions=["InvoiceRead", "InvoiceWrite"], description="portal"
        )
        assert alice_client.post("/uslugi-dodatkowe/ksef/token/", {"token": token}).status_code == 302
        connection = KsefConnection.objects.get(company=company_a)
        connection.auto_send = True
        connection.save(update_fields=["auto_send"])
        yield connection
