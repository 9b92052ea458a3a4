"""Fixtures of the offline tests: a company connected to the simulator, and Offline certificates."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from django.utils import timezone

from accounts.models import Company
from invoices import services as invoice_services
from invoices.models import Invoice
from ksef_integration.models import OfflineCertificate
from ksef_integration.offline.certificate import offline_certificate_upload
from ksef_simulator import services_core
from tests.invoices.factories import issue_data
from tests.sending import test_send_simulator

PASSWORD = "haslo-offline-1"


def issue_certificate(nip: str, *, kind: str = "Offline", key_type: str = "RSA") -> tuple[bytes, bytes]:
    """A KSeF certificate from the simulator's Certyfikaty: (certificate PEM, password-encrypted key PEM)."""
    certificate, key, _serial = services_core.certificate_issue(
        nip=nip, kind=kind, key_type=key_type, password=PASSWORD
    )
    return certificate.encode(), key.encode()


def upload_certificate(company: Company, *, key_type: str = "RSA") -> OfflineCertificate:
    certificate, key = issue_certificate(company.nip, key_type=key_type)
    return offline_certificate_upload(
        company=company, user=None, certificate_bytes=certificate, private_key_bytes=key, password=PASSWORD
    )


def plain_key(encrypted_pem: bytes) -> Any:
    return serialization.load_pem_private_key(encrypted_pem, password=PASSWORD.encode())


def issue(company: Company, **overrides: Any) -> Invoice:
    today = timezone.localdate()
    values: dict[str, Any] = {"issue_date": today, "sale_date": today, "due_date": today}
    values.update(overrides)
    return invoice_services.invoice_issue(company=company, user=None, data=issue_data(**values))


# A company connected to the simulator (served by live_server) with a KSeF token, sending automatically.
connected = test_send_simulator.connected
