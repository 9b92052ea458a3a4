"""The client's KSeF certificates: the CSR it builds, its typed results and errors, and the whole way
(enrollment data → CSR → enrollment → status → retrieve → login with the new certificate) against the
simulator over real HTTP."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import responses
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ksef_integration.ksef.auth import PollPolicy
from ksef_integration.ksef.certificates import (
    AUTHENTICATION,
    OFFLINE,
    CertificateFilters,
    EnrollmentData,
    KsefCertificate,
    csr_build,
    enrollment_data_parse,
)
from ksef_integration.ksef.client import KsefClient
from ksef_integration.ksef.errors import (
    KsefCertificateRefused,
    KsefForbidden,
    KsefNotFound,
    KsefRejected,
    KsefTransientError,
)
from ksef_integration.ksef.identifiers import ContextIdentifier
from ksef_integration.ksef.qr import certificate_serial_hex
from ksef_integration.ksef.xades import auth_token_request_build, xades_sign
from tests.ksef_integration.ksef.conftest import BASE, NOW, self_signed
from tests.ksef_integration.ksef.test_simulator import certificate_login, mint_token, new_client, random_nip

SEAL = EnrollmentData(
    common_name="Firma 5260250274",
    country_name="PL",
    organization_name="Firma sp. z o.o.",
    organization_identifier="VATPL-5260250274",
)
PERSON = EnrollmentData(
    common_name="Jan Kowalski",
    country_name="PL",
    given_name="Jan",
    surname="Kowalski",
    serial_number="TINPL-5260250274",
)


# --- without KSeF ------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [SEAL, PERSON], ids=["seal", "person"])
def test_csr_carries_exactly_the_enrollment_data(data: EnrollmentData) -> None:
    request = csr_build(data)
    csr = x509.load_der_x509_csr(request.csr_der)
    assert csr.is_signature_valid
    assert set(csr.subject) == set(data.subject())
    assert len(list(csr.subject)) == len(list(data.subject()))
    assert isinstance(request.private_key, ec.EllipticCurvePrivateKey)
    assert isinstance(request.private_key.curve, ec.SECP256R1)
    assert data.is_seal is (data is SEAL)


def test_csr_with_rsa_2048_and_refused_keys() -> None:
    request = csr_build(PERSON, key_type="RSA")
    assert isinstance(request.private_key, rsa.RSAPrivateKey)
    assert request.private_key.key_size == 2048
    assert request.key_type == "RSA"
    with pytest.raises(ValueError, match="P-256"):
        csr_build(PERSON, private_key=ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(ValueError, match="unknown key type"):
        csr_build(PERSON, key_type="DSA")


def test_enrollment_data_parse_keeps_only_what_ksef_sent() -> None:
    data = enrollment_data_parse(
        {
            "commonName": "Jan",
            "countryName": "PL",
            "serialNumber": "PNOPL-85010112345",
            "surname": None,
            "x": 1,
        }
    )
    assert data == EnrollmentData(common_name="Jan", country_name="PL", serial_number="PNOPL-85010112345")
    names = {attribute.oid for attribute in data.subject()}
    assert names == {NameOID.COMMON_NAME, NameOID.COUNTRY_NAME, NameOID.SERIAL_NUMBER}
    with pytest.raises(KsefTransientError):
        enrollment_data_parse({"countryName": "PL"})


def test_private_keys_stay_out_of_reprs_and_pickles() -> None:
    request = csr_build(SEAL)
    key_der = request.private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    issued = KsefCertificate(
        serial_number="01F20A5D352AE590",
        name="Portal",
        certificate_type=AUTHENTICATION,
        certificate=self_signed(request.private_key),
        private_key=request.private_key,
    )
    for value in (request, issued):
        assert "private_key" not in repr(value)
        with pytest.raises(TypeError):
            pickle.dumps(value)
    assert issued.private_key_pkcs8() == key_der


def test_filters_and_names_are_checked_before_calling_ksef(client: KsefClient) -> None:
    assert CertificateFilters(certificate_type=OFFLINE, status="Active").to_json() == {
        "type": "Offline",
        "status": "Active",
    }
    bad_filters: list[dict[str, Any]] = [
        {"certificate_type": "Both"},
        {"status": "Gone"},
        {"serial_number": "abc"},
    ]
    for bad in bad_filters:
        with pytest.raises(ValueError, match=r"unknown|hex"):
            CertificateFilters(**bad)
    with pytest.raises(ValueError, match="certificate name"):
        client.certificates.enroll(name="a.b", certificate_type=AUTHENTICATION, csr=b"x")


def test_certificate_error_codes_map_onto_the_error_tree(
    client: KsefClient, mocked: responses.RequestsMock
) -> None:
    def legacy(code: int) -> dict[str, Any]:
        return {"exception": {"exceptionDetailList": [{"exceptionCode": code, "exceptionDescription": "x"}]}}

    mocked.get(f"{BASE}/certificates/enrollments/data", status=400, json=legacy(25001))
    with pytest.raises(KsefCertificateRefused) as refused:
        client.certificates.enrollment_data()
    assert (refused.value.code, refused.value.reason) == (25001, "auth_method_not_allowed")
    assert "podpisem" in refused.value.message_pl

    mocked.get(
        f"{BASE}/certificates/enrollments/20261205-CE-0000000000-0000000000-00",
        status=400,
        json=legacy(25005),
    )
    with pytest.raises(KsefNotFound):
        client.certificates.enrollment_status(reference_number="20261205-CE-0000000000-0000000000-00")

    mocked.post(
        f"{BASE}/certificates/0123456789ABCDEF/revoke",
        status=403,
        json={"title": "Forbidden", "status": 403, "detail": "x", "reasonCode": "auth-method-not-allowed"},
        content_type="application/problem+json",
    )
    with pytest.raises(KsefForbidden) as forbidden:
        client.certificates.revoke(serial_number="0123456789ABCDEF")
    assert forbidden.value.reason_code == "auth-method-not-allowed"
    assert "tokenem" in forbidden.value.message_pl


def test_enrollment_status_400_550_and_timeout(client: KsefClient, mocked: responses.RequestsMock) -> None:
    reference = "20261205-CE-0000000000-0000000000-00"
    url = f"{BASE}/certificates/enrollments/{reference}"

    def status(code: int, *details: str) -> dict[str, Any]:
        body: dict[str, Any] = {"code": code, "description": "opis"}
        if details:
            body["details"] = list(details)
        return {"requestDate": "2026-12-05T10:00:00.0000000+00:00", "status": body}

    mocked.get(url, json=status(400, "Klucz publiczny został już certyfikowany przez inny podmiot."))
    with pytest.raises(KsefCertificateRefused) as refused:
        client.certificates.enrollment_wait(reference_number=reference)
    assert refused.value.reason == "rejected"
    assert refused.value.details == ["Klucz publiczny został już certyfikowany przez inny podmiot."]
    mocked.replace(responses.GET, url, json=status(550))
    with pytest.raises(KsefTransientError):
        client.certificates.enrollment_wait(reference_number=reference)
    mocked.replace(responses.GET, url, json=status(100))
    impatient = KsefClient(
        environment=client.environment, tokens=client.tokens, poll=PollPolicy(timeout=0), clock=lambda: NOW
    )
    with pytest.raises(KsefTransientError, match="still being processed"):
        impatient.certificates.enrollment_wait(reference_number=reference)


# --- against the simulator ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("key_type", ["EC", "RSA"])
def test_obtain_then_log_in_with_the_new_certificate(sim_url: str, key_type: str) -> None:
    nip = random_nip()
    client = certificate_login(sim_url, nip)
    limits = client.certificates.limits()
    assert limits.can_request
    assert (limits.enrollment_limit, limits.certificate_limit) == (300, 100)
    data = client.certificates.enrollment_data()
    assert data.organization_identifier == f"VATPL-{nip}"

    issued = client.certificates.obtain(
        name="KSeF Portal logowanie", certificate_type=AUTHENTICATION, key_type=key_type
    )
    assert issued.serial_number == certificate_serial_hex(issued.certificate)
    assert len(issued.serial_number) == 16
    assert issued.valid_to > datetime.now(tz=UTC) + timedelta(days=365)
    assert set(issued.certificate.subject) == set(data.subject())

    (listed,) = client.certificates.query()
    assert (listed.serial_number, listed.status, listed.certificate_type) == (
        issued.serial_number,
        "Active",
        AUTHENTICATION,
    )
    assert (listed.subject_type, listed.subject_value) == ("Nip", nip)
    (again,) = client.certificates.retrieve(serial_numbers=[issued.serial_number])
    assert again.certificate == issued.certificate

    fresh = new_client(sim_url)
    tokens = fresh.login_with_certificate(
        certificate=issued.certificate,
        private_key=issued.private_key,
        context=ContextIdentifier.nip(nip),
        verify_certificate_chain=True,
    )
    assert tokens.access_token
    assert client.certificates.query_page().certificates[0].last_use_date is not None


@pytest.mark.django_db(transaction=True)
def test_offline_certificate_query_filters_revoke_and_shortened_validity(sim_url: str) -> None:
    nip = random_nip()
    client = certificate_login(sim_url, nip)
    login = client.certificates.obtain(name="Logowanie", certificate_type=AUTHENTICATION)
    offline = client.certificates.obtain(name="KOD II offline", certificate_type=OFFLINE, key_type="RSA")
    usage = offline.certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.content_commitment
    assert not usage.digital_signature

    newest_first = [c.serial_number for c in client.certificates.query(page_size=10)]
    assert newest_first == [offline.serial_number, login.serial_number]
    only_offline = client.certificates.query_page(filters=CertificateFilters(certificate_type=OFFLINE))
    assert [c.serial_number for c in only_offline.certificates] == [offline.serial_number]
    assert only_offline.has_more is False

    client.certificates.testdata_validity_shorten(
        serial_number=login.serial_number, valid_to=datetime.now(tz=UTC) - timedelta(seconds=1)
    )
    expired = client.certificates.query_page(filters=CertificateFilters(status="Expired")).certificates
    assert [c.serial_number for c in expired] == [login.serial_number]
    with pytest.raises(KsefRejected):  # 21405: validity can only be shortened
        client.certificates.testdata_validity_shorten(
            serial_number=offline.serial_number, valid_to=datetime.now(tz=UTC) + timedelta(days=5000)
        )

    client.certificates.revoke(serial_number=offline.serial_number, reason="Superseded")
    with pytest.raises(KsefCertificateRefused) as refused:
        client.certificates.revoke(serial_number=offline.serial_number)
    assert refused.value.reason == "not_revocable"
    with pytest.raises(KsefNotFound):
        client.certificates.revoke(serial_number="0123456789ABCDEF")


@pytest.mark.django_db(transaction=True)
def test_token_login_cannot_enroll_or_revoke(sim_url: str) -> None:
    nip = random_nip()
    owner = certificate_login(sim_url, nip)
    issued = owner.certificates.obtain(name="Logowanie", certificate_type=AUTHENTICATION)
    token = mint_token(owner, ["InvoiceWrite", "InvoiceRead"])
    by_token = new_client(sim_url)
    by_token.login_with_token(token=token)
    assert by_token.certificates.limits().can_request is False
    with pytest.raises(KsefCertificateRefused) as refused:
        by_token.certificates.enrollment_data()
    assert refused.value.reason == "auth_method_not_allowed"
    with pytest.raises(KsefCertificateRefused) as refused_enroll:
        by_token.certificates.enroll(
            name="Nie wolno",
            certificate_type=AUTHENTICATION,
            csr=csr_build(owner.certificates.enrollment_data()),
        )
    assert refused_enroll.value.code == 25002
    with pytest.raises(KsefForbidden):
        by_token.certificates.revoke(serial_number=issued.serial_number)


@pytest.mark.django_db(transaction=True)
def test_limit_reached_is_a_refusal_with_its_reason(sim_url: str) -> None:
    nip = random_nip()
    client = certificate_login(sim_url, nip)
    client.http.call(
        "POST",
        "/testdata/limits/subject/certificate",
        bearer=client.access_token(),
        json_body={"subjectIdentifierType": "Nip", "certificate": {"maxCertificates": 0}},
    )
    assert client.certificates.limits().can_request is False
    with pytest.raises(KsefCertificateRefused) as refused:
        client.certificates.obtain(name="Za dużo", certificate_type=AUTHENTICATION)
    assert refused.value.reason == "certificate_limit"


@pytest.fixture
def sim_url(live_server: Any) -> str:
    return live_server.url + "/ksef-sim/v2"


@pytest.mark.django_db(transaction=True)
def test_request_signed_by_the_owner_then_both_certificates(sim_url: str) -> None:
    """The wizard's way: the owner signs the AuthTokenRequest elsewhere (here a self-signed personal
    certificate, as TEST accepts), the client completes the login and obtains both certificates."""
    nip = random_nip()
    client = new_client(sim_url)
    owner_key = ec.generate_private_key(ec.SECP256R1())
    owner = self_signed(
        owner_key,
        name="Jan Kowalski",
        extra=[
            x509.NameAttribute(NameOID.GIVEN_NAME, "Jan"),
            x509.NameAttribute(NameOID.SURNAME, "Kowalski"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, f"TINPL-{nip}"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
        ],
    )
    document = auth_token_request_build(
        challenge=client.auth.challenge().challenge, context=ContextIdentifier.nip(nip)
    )
    signed = xades_sign(document=document, certificate=owner, private_key=owner_key)
    client.login_with_signed_request(signed_xml=signed)

    data = client.certificates.enrollment_data()
    assert (data.given_name, data.surname, data.serial_number) == ("Jan", "Kowalski", f"TINPL-{nip}")
    assert not data.is_seal
    login = client.certificates.obtain(name="KSeF Portal logowanie", certificate_type=AUTHENTICATION)
    offline = client.certificates.obtain(name="KSeF Portal offline", certificate_type=OFFLINE)
    assert {login.certificate_type, offline.certificate_type} == {AUTHENTICATION, OFFLINE}
    assert login.certificate.subject == offline.certificate.subject

    proof = new_client(sim_url)
    proof.login_with_certificate(
        certificate=login.certificate, private_key=login.private_key, context=ContextIdentifier.nip(nip)
    )
    assert proof.certificates.enrollment_data() == data
