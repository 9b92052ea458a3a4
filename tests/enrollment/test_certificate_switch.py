"""Przejdź na certyfikat KSeF, against the simulator over real HTTP: the owner prepares the request, signs it
(in the test with a self-signed certificate, as KSeF TEST accepts), uploads it; the worker's part obtains an
Authentication and an Offline certificate, proves the first by logging in with it and switches; the token is
deleted only then. Every failure leaves the token connection working, with a message saying what to do."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from cryptography import x509
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import Company
from ksef_integration import queue
from ksef_integration.connect import services as connect_services
from ksef_integration.enrollment import services
from ksef_integration.models import AuthMethod, CertificateEnrollment, ConnectionStatus, KsefConnection
from ksef_integration.offline.certificate import offline_certificate_for
from ksef_simulator.faults import fault_arm
from tests.enrollment.conftest import Signer, person

pytestmark = pytest.mark.django_db(transaction=True)
PAGE = "/ustawienia/ksef/przejdz-na-certyfikat/"
Status = CertificateEnrollment.Status


def _prepare(client: Any) -> CertificateEnrollment:
    response = client.post(PAGE + "przygotuj/")
    assert response.status_code == 302
    return CertificateEnrollment.objects.get(status=Status.AWAITING_SIGNATURE)


def _download(client: Any, row: CertificateEnrollment) -> bytes:
    response = client.get(f"{PAGE}{row.uuid}/wniosek.xml")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    return b"".join(response.streaming_content) if response.streaming else response.content


def _upload(client: Any, row: CertificateEnrollment, data: bytes) -> Any:
    return client.post(
        f"{PAGE}{row.uuid}/podpisany/",
        {"signed_request": SimpleUploadedFile("wniosek.xml", data, content_type="application/xml")},
    )


def _token_kept(company: Company) -> bool:
    connection = KsefConnection.objects.get(company=company)
    return (
        connection.method == AuthMethod.TOKEN
        and connection.status == ConnectionStatus.ACTIVE
        and bool(connection.token_ciphertext)
    )


def test_the_whole_switch(on_token: Company, owner: Signer, alice_client: Any, queued: Any) -> None:
    page = alice_client.get(PAGE).content.decode()
    assert 'id="switch-prepare"' in page
    row = _prepare(alice_client)
    request_xml = _download(alice_client, row)
    assert row.challenge.encode() in request_xml
    assert f"<Nip>{on_token.nip}</Nip>".encode() in request_xml
    assert 'id="switch-download"' in alice_client.get(PAGE).content.decode()

    response = _upload(alice_client, row, owner.sign(request_xml))
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.status == Status.QUEUED
    assert row.signer == "Alicja Nowak"
    assert row.signed_request_ciphertext
    assert b"<" not in row.signed_request_ciphertext.encode()[:1]
    assert (queue.CERTIFICATE_ENROLLMENT, (row.pk,), {}) in queued.messages
    assert 'id="switch-working"' in alice_client.get(PAGE).content.decode()
    assert _token_kept(on_token)  # nothing changes until the new certificate has proven itself

    assert services.enrollment_run(row.pk) == "done"
    row.refresh_from_db()
    connection = KsefConnection.objects.get(company=on_token)
    assert row.status == Status.DONE
    assert re.fullmatch(r"[0-9A-F]{16}", row.authentication_serial)
    assert re.fullmatch(r"[0-9A-F]{16}", row.offline_serial)
    assert connection.method == AuthMethod.CERTIFICATE
    assert connection.status == ConnectionStatus.ACTIVE
    assert connection.token_ciphertext == ""
    assert connection.token_last4 == ""
    certificate = x509.load_pem_x509_certificate(connection.certificate_pem.encode())
    assert f"{certificate.serial_number:016X}" == row.authentication_serial
    assert {"InvoiceWrite", "InvoiceRead"} <= set(connection.permissions)
    offline = offline_certificate_for(company=on_token)
    assert offline is not None
    assert offline.serial == row.offline_serial
    # Nothing secret stays on the enrollment once the connection holds it.
    assert not any(getattr(row, field) for field in CertificateEnrollment.SECRET_FIELDS)

    page = alice_client.get(PAGE).content.decode()
    assert 'id="switch-done"' in page
    assert row.authentication_serial in page
    # The new certificate logs in again (what sending does every time).
    verified = connect_services.connection_verify(company=on_token, user=None)
    assert verified.status == ConnectionStatus.ACTIVE


def test_an_expired_request_is_refused_and_a_new_one_is_prepared(
    on_token: Company, owner: Signer, alice_client: Any
) -> None:
    row = _prepare(alice_client)
    request_xml = _download(alice_client, row)
    CertificateEnrollment.objects.filter(pk=row.pk).update(
        challenge_valid_until=timezone.now() - dt.timedelta(seconds=1)
    )
    response = _upload(alice_client, row, owner.sign(request_xml))
    assert response.status_code == 200
    assert "10 minut" in response.content.decode() or "10 minutes" in response.content.decode()
    assert 'id="switch-expired"' in alice_client.get(PAGE).content.decode()
    fresh = _prepare(alice_client)
    assert fresh.pk == row.pk
    assert fresh.challenge != row.challenge
    assert _token_kept(on_token)


@pytest.mark.parametrize(
    ("mangle", "code"),
    [
        (lambda signed, plain: plain, "signed_request_unsigned"),
        (
            lambda signed, plain: signed.replace(b"<SubjectIdentifierType>", b"<SubjectIdentifierType> "),
            "signed_request_tampered",
        ),
        (lambda signed, plain: b"<html>not a request</html>", "signed_request_unreadable"),
        (lambda signed, plain: b"\x00\xff" * 100, "signed_request_unreadable"),
    ],
)
def test_a_wrong_file_gets_a_message_and_nothing_changes(
    on_token: Company, owner: Signer, alice_client: Any, queued: Any, mangle: Any, code: str
) -> None:
    row = _prepare(alice_client)
    request_xml = _download(alice_client, row)
    data = mangle(owner.sign(request_xml), request_xml)
    response = _upload(alice_client, row, data)
    assert response.status_code == 200
    assert 'class="errorlist' in response.content.decode() or "error" in response.content.decode()
    row.refresh_from_db()
    assert row.status == Status.AWAITING_SIGNATURE
    assert row.signed_request_ciphertext == ""
    assert not queued.messages
    assert _token_kept(on_token)


def test_a_request_signed_for_an_earlier_challenge_is_refused(
    on_token: Company, owner: Signer, alice_client: Any
) -> None:
    row = _prepare(alice_client)
    old = owner.sign(_download(alice_client, row))
    row = _prepare(alice_client)  # a new challenge: the old file no longer counts
    response = _upload(alice_client, row, old)
    assert "not the latest one" in response.content.decode() or "nie ten" in response.content.decode()


def test_someone_without_rights_to_the_nip_fails_in_ksef_and_the_token_stays(
    on_token: Company, alice_client: Any
) -> None:
    stranger = person(nip="1111111111", name="Jan Obcy")
    row = _prepare(alice_client)
    _upload(alice_client, row, stranger.sign(_download(alice_client, row)))
    assert services.enrollment_run(row.pk) == "failed"
    row.refresh_from_db()
    assert row.status == Status.FAILED
    assert row.error_message
    assert row.signed_request_ciphertext == ""  # used once, gone
    assert _token_kept(on_token)
    page = alice_client.get(PAGE).content.decode()
    assert 'id="switch-failed"' in page
    assert 'id="switch-prepare"' in page


def test_when_ksef_refuses_the_certificates_the_token_stays(
    on_token: Company, owner: Signer, alice_client: Any
) -> None:
    fault_arm(pattern="certificates.enrollments.send", action="503", count=50)
    row = _prepare(alice_client)
    _upload(alice_client, row, owner.sign(_download(alice_client, row)))
    assert services.enrollment_run(row.pk) == "failed"
    assert _token_kept(on_token)
    assert not offline_certificate_for(company=on_token)


def test_only_an_owner_may_switch(on_token: Company, client: Any, company_a: Company) -> None:
    from tests.conftest import add_member

    accountant = add_member(company_a, "accountant", "ksiegowa@example.com")
    client.force_login(accountant.user)
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE + "przygotuj/").status_code == 403


def test_when_the_ksef_limit_is_reached_the_owner_is_told_and_the_token_stays(
    on_token: Company, owner: Signer, alice_client: Any
) -> None:
    from ksef_simulator import limits

    limits.limits_override(
        kind="subject",
        context_type="Nip",
        context_value=on_token.nip,
        values={"enrollment": {"maxEnrollments": 0}},
    )
    row = _prepare(alice_client)
    _upload(alice_client, row, owner.sign(_download(alice_client, row)))
    assert services.enrollment_run(row.pk) == "failed"
    row.refresh_from_db()
    assert row.error_code == "enrollment_limit"
    assert row.error_message in alice_client.get(PAGE).content.decode()
    assert _token_kept(on_token)


def test_after_the_sunset_the_wizard_still_switches_and_the_waiting_invoices_go_out(
    on_token: Company, owner: Signer, alice_client: Any, settings: Any, queued: Any
) -> None:
    """The token no longer logs in after the sunset, but the wizard does not need it: the owner's signature
    logs in. Invoices issued meanwhile wait, and go out by certificate after the switch."""
    from ksef_integration.sending import drain
    from ksef_simulator.models import SimInvoice
    from tests.sending.test_send_simulator import issue

    KsefConnection.objects.filter(company=on_token).update(auto_send=True)
    settings.KSEF_TOKEN_SUNSET = timezone.localdate() - dt.timedelta(days=1)
    waiting = issue(on_token)
    submission = waiting.ksef_submission
    drain.submission_send(submission_id=submission.pk)
    submission.refresh_from_db()
    assert submission.ksef_number == ""  # the expired token sends nothing
    row = _prepare(alice_client)
    _upload(alice_client, row, owner.sign(_download(alice_client, row)))
    assert services.enrollment_run(row.pk) == "done"
    drain.submission_send(submission_id=submission.pk)
    submission.refresh_from_db()
    assert submission.ksef_number
    session = SimInvoice.objects.get(ksef_number=submission.ksef_number).session
    assert session is not None
    assert session.ksef_token_reference == ""  # opened by the new certificate


def test_a_sole_trader_signing_with_profil_zaufany_by_pesel(on_token: Company, alice_client: Any) -> None:
    """Profil Zaufany names a person by PESEL, not NIP: KSeF lets the owner of a sole trader's NIP in (the
    NIP-PESEL link), issues the certificates for the person, and the portal connects the NIP with them."""
    from ksef_simulator.models import SimPerson

    pesel = "85010112345"
    SimPerson.objects.create(
        nip=on_token.nip, pesel=pesel, description="właściciel JDG", created_at=timezone.now()
    )
    signer = person(pesel=pesel, name="Alicja Nowak")
    row = _prepare(alice_client)
    _upload(alice_client, row, signer.sign(_download(alice_client, row)))
    assert services.enrollment_run(row.pk) == "done"
    connection = KsefConnection.objects.get(company=on_token)
    certificate = x509.load_pem_x509_certificate(connection.certificate_pem.encode())
    assert f"PNOPL-{pesel}" in certificate.subject.rfc4514_string()
    assert connection.method == AuthMethod.CERTIFICATE
    assert {"InvoiceWrite", "InvoiceRead"} <= set(connection.permissions)
    assert connect_services.connection_verify(company=on_token, user=None).status == ConnectionStatus.ACTIVE
