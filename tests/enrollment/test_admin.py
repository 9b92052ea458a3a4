"""Staff see enrollments and certificate connections by expiry; "Odnów teraz" only queues; never a key."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Company
from ksef_integration import queue
from ksef_integration.models import CertificateEnrollment, KsefConnection

pytestmark = pytest.mark.django_db(transaction=True)


def test_staff_see_expiries_and_renew_now_only_queues(
    on_certificate: Company, admin_client: Any, queued: Any
) -> None:
    connection = KsefConnection.objects.get(company=on_certificate)
    KsefConnection.objects.filter(pk=connection.pk).update(
        certificate_valid_to=timezone.now() + dt.timedelta(days=10)
    )
    page = admin_client.get("/admin/ksef_integration/certificateconnection/?expires=window").content.decode()
    assert connection.certificate_serial in page
    enrollment = CertificateEnrollment.objects.get(company=on_certificate)
    listing = admin_client.get("/admin/ksef_integration/certificateenrollment/").content.decode()
    detail = admin_client.get(
        f"/admin/ksef_integration/certificateenrollment/{enrollment.pk}/change/"
    ).content
    assert enrollment.authentication_serial in listing
    assert b"PRIVATE KEY" not in detail
    assert b"gAAAAA" not in detail  # no Fernet ciphertext either

    queued.messages.clear()
    response = admin_client.post(
        "/admin/ksef_integration/certificateconnection/",
        {"action": "renew_now", "_selected_action": [connection.pk]},
    )
    assert response.status_code == 302
    renewal = CertificateEnrollment.objects.get(kind=CertificateEnrollment.Kind.RENEWAL)
    assert renewal.status == CertificateEnrollment.Status.QUEUED
    assert queued.messages == [(queue.CERTIFICATE_ENROLLMENT, (renewal.pk,), {})]
