"""Renewal without the user, against the simulator: KSeF is asked how long the connection's certificate
is valid (TEST can shorten it), a successor is enrolled with the current certificate, proven, switched to,
and the old one revoked; with KSeF refusing enrollments the owners get one e-mail and the old certificate
keeps working."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Company
from ksef_integration import queue
from ksef_integration.connect import services as connect_services
from ksef_integration.connect.session import ksef_client_for
from ksef_integration.enrollment import services
from ksef_integration.ksef.certificates import CertificateFilters
from ksef_integration.models import (
    AuthMethod,
    CertificateEnrollment,
    ConnectionStatus,
    KsefConnection,
)
from ksef_simulator.faults import fault_arm

pytestmark = pytest.mark.django_db(transaction=True)
Status = CertificateEnrollment.Status


def _shorten(company: Company, days: int) -> str:
    """Make KSeF end the connection's certificate in ``days`` days (``PUT /testdata/certificates``)."""
    serial = KsefConnection.objects.get(company=company).certificate_serial
    client = ksef_client_for(company=company)
    client.certificates.testdata_validity_shorten(
        serial_number=serial, valid_to=timezone.now() + dt.timedelta(days=days)
    )
    return serial


def _status(company: Company, serial: str) -> str:
    client = ksef_client_for(company=company)
    found = list(client.certificates.query(filters=CertificateFilters(serial_number=serial)))
    return found[0].status


def _renewal_queued(company: Company, queued: Any) -> CertificateEnrollment:
    """The hourly beat, then the check it queued, then the beat again (as the hours go by)."""
    services.renewals_start()
    assert (queue.CERTIFICATE_CHECK, (company.pk,), {}) in queued.messages
    assert services.certificate_check(company_id=company.pk) == "checked"
    assert services.renewals_start() == 1
    return CertificateEnrollment.objects.get(company=company, kind=CertificateEnrollment.Kind.RENEWAL)


def test_a_certificate_ksef_ends_soon_is_renewed_and_the_old_one_revoked(
    on_certificate: Company, queued: Any
) -> None:
    assert services.renewals_start() == 0  # a new certificate: nothing to renew
    old = _shorten(on_certificate, days=5)
    row = _renewal_queued(on_certificate, queued)
    assert row.replaced_serial == old
    assert services.enrollment_run(row.pk) == "done"

    connection = KsefConnection.objects.get(company=on_certificate)
    row.refresh_from_db()
    assert connection.method == AuthMethod.CERTIFICATE
    assert connection.certificate_serial == row.authentication_serial
    assert connection.certificate_serial != old
    assert connection.certificate_valid_to is not None
    assert connection.certificate_valid_to > timezone.now() + dt.timedelta(days=300)
    assert row.offline_serial == ""  # the Offline certificate was not ending: kept
    assert _status(on_certificate, old) == "Revoked"
    assert (
        connect_services.connection_verify(company=on_certificate, user=None).status
        == ConnectionStatus.ACTIVE
    )
    assert services.renewals_start() == 0


def test_when_ksef_refuses_the_renewal_the_owners_hear_once_and_the_old_certificate_works(
    on_certificate: Company, queued: Any
) -> None:
    old = _shorten(on_certificate, days=5)
    fault_arm(pattern="certificates.enrollments.send", action="503", count=100)
    row = _renewal_queued(on_certificate, queued)
    mail.outbox.clear()
    assert services.enrollment_run(row.pk) == "failed"
    assert len(mail.outbox) == 1
    assert "nie" in mail.outbox[0].subject.lower() or "not renewed" in mail.outbox[0].subject
    connection = KsefConnection.objects.get(company=on_certificate)
    assert connection.certificate_serial == old
    assert (
        connect_services.connection_verify(company=on_certificate, user=None).status
        == ConnectionStatus.ACTIVE
    )

    # A day later it is tried again; the owners are not told twice.
    CertificateEnrollment.objects.filter(pk=row.pk).update(finished_at=timezone.now() - dt.timedelta(days=1))
    assert services.renewals_start() == 1
    again = CertificateEnrollment.objects.get(status=Status.QUEUED)
    assert services.enrollment_run(again.pk) == "failed"
    assert len(mail.outbox) == 1
