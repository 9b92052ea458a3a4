"""KSeF certificates in the simulator: enrollment data, CSR checks (25001-25011), asynchronous processing,
limits, retrieve, query, revoke, TEST's validity shortening, and the new certificate at work (XAdES login
for Authentication, KOD II for Offline)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ksef_simulator import limits, services_certificates, services_core
from ksef_simulator.conf import config_update
from ksef_simulator.models import CertificateEnrollment, IssuedCertificate
from ksef_simulator.pages.qr import qr_link_verify
from tests.ksef_simulator.core.conftest import (
    V2,
    Session,
    Signer,
    auth_request_xml,
    bearer,
    get_challenge,
    login_token,
    login_xades,
    post_json,
    post_xades,
    random_nip,
    self_signed,
    start_xades,
    wait_status,
    xades_sign,
)
from tests.ksef_simulator.core.spec import assert_request_matches, assert_response_matches

pytestmark = pytest.mark.django_db

PESEL = "85010112345"
OIDS = {
    "commonName": NameOID.COMMON_NAME,
    "countryName": NameOID.COUNTRY_NAME,
    "givenName": NameOID.GIVEN_NAME,
    "surname": NameOID.SURNAME,
    "serialNumber": NameOID.SERIAL_NUMBER,
    "organizationName": NameOID.ORGANIZATION_NAME,
    "organizationIdentifier": NameOID.ORGANIZATION_IDENTIFIER,
}


@pytest.fixture(autouse=True)
def enrollments_at_once(db: Any) -> None:
    config_update(certificate_enrollment_delay=0)


def error_code(response: Any) -> int:
    return int(response.json()["exception"]["exceptionDetailList"][0]["exceptionCode"])


def new_key(key_type: str = "EC") -> Any:
    if key_type == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def csr_b64(data: dict[str, str], key: Any, *, algorithm: Any = None, **sign: Any) -> str:
    """A PKCS#10 request for the enrollment data (attributes in this client's own order), DER Base64."""
    subject = x509.Name([x509.NameAttribute(OIDS[name], value) for name, value in reversed(data.items())])
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .sign(key, algorithm or hashes.SHA256(), **sign)
    )
    return base64.b64encode(csr.public_bytes(serialization.Encoding.DER)).decode()


def enrollment_data(client: Any, session: Session) -> dict[str, str]:
    response = client.get(f"{V2}/certificates/enrollments/data", **bearer(session.access_token))
    return assert_response_matches(response, "GET", "/certificates/enrollments/data")


def send(client: Any, session: Session, csr: str, *, kind: str = "Authentication", **extra: Any) -> Any:
    body = {"certificateName": f"Certyfikat {kind}", "certificateType": kind, "csr": csr, **extra}
    return post_json(client, "/certificates/enrollments", body, **bearer(session.access_token))


def status(client: Any, session: Session, reference: str) -> dict[str, Any]:
    response = client.get(f"{V2}/certificates/enrollments/{reference}", **bearer(session.access_token))
    return assert_response_matches(response, "GET", "/certificates/enrollments/{referenceNumber}")


def retrieve(client: Any, session: Session, serials: list[str]) -> list[dict[str, Any]]:
    body = {"certificateSerialNumbers": serials}
    assert_request_matches(body, "POST", "/certificates/retrieve")
    response = post_json(client, "/certificates/retrieve", body, **bearer(session.access_token))
    return assert_response_matches(response, "POST", "/certificates/retrieve")["certificates"]


def query(client: Any, session: Session, filters: dict[str, Any] | None = None, params: str = "") -> Any:
    response = post_json(
        client, f"/certificates/query{params}", filters or {}, **bearer(session.access_token)
    )
    return assert_response_matches(response, "POST", "/certificates/query")


def obtain(
    client: Any, session: Session, *, kind: str = "Authentication", key_type: str = "EC"
) -> tuple[x509.Certificate, Any]:
    """Enrollment data → CSR → enrollment → status 200 → retrieve: (certificate, private key)."""
    key = new_key(key_type)
    accepted = send(client, session, csr_b64(enrollment_data(client, session), key), kind=kind)
    reference = assert_response_matches(accepted, "POST", "/certificates/enrollments")["referenceNumber"]
    done = status(client, session, reference)
    assert done["status"]["code"] == 200, done
    (item,) = retrieve(client, session, [done["certificateSerialNumber"]])
    return x509.load_der_x509_certificate(base64.b64decode(item["certificate"])), key


def put_json(client: Any, path: str, body: Any, session: Session) -> Any:
    return client.put(
        f"{V2}{path}", data=body, content_type="application/json", **bearer(session.access_token)
    )


def shift(reference: str, **delta: float) -> None:
    enrollment = CertificateEnrollment.objects.get(reference_number=reference)
    enrollment.requested_at -= dt.timedelta(**delta)
    enrollment.save(update_fields=["requested_at"])


# --- enrollment data --------------------------------------------------------------------------------


def test_enrollment_data_of_a_seal_comes_from_its_certificate(client: Any, nip: str) -> None:
    session = login_xades(client, nip, self_signed(nip=nip, seal=True))
    assert enrollment_data(client, session) == {
        "commonName": "Test",
        "countryName": "PL",
        "organizationName": "Firma testowa",
        "organizationIdentifier": f"VATPL-{nip}",
    }


def test_enrollment_data_of_a_person_by_nip_or_pesel(client: Any, nip: str) -> None:
    by_nip = login_xades(client, nip, self_signed(nip=nip))
    assert enrollment_data(client, by_nip) == {
        "commonName": "Test",
        "countryName": "PL",
        "givenName": "Jan",
        "surname": "Kowalski",
        "serialNumber": f"TINPL-{nip}",
    }
    post_json(
        client,
        "/testdata/person",
        {"nip": nip, "pesel": PESEL, "isBailiff": False, "description": "osoba testowa"},
    )
    by_pesel = login_xades(client, nip, self_signed(pesel=PESEL))
    assert enrollment_data(client, by_pesel)["serialNumber"] == f"PNOPL-{PESEL}"


# --- the happy path and the new certificate at work ---------------------------------------------------


def test_enrollment_happy_path_and_login_with_the_new_certificate(client: Any, nip: str) -> None:
    owner = login_xades(client, nip)
    response = client.get(f"{V2}/certificates/limits", **bearer(owner.access_token))
    assert assert_response_matches(response, "GET", "/certificates/limits") == {
        "canRequest": True,
        "enrollment": {"limit": 300, "remaining": 300},
        "certificate": {"limit": 100, "remaining": 100},
    }
    data = enrollment_data(client, owner)
    key = new_key("EC")
    valid_from = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=-5)).isoformat()
    body = {"certificateName": "Portal KSeF - logowanie", "certificateType": "Authentication",
            "csr": csr_b64(data, key), "validFrom": valid_from}  # fmt: skip
    assert_request_matches(body, "POST", "/certificates/enrollments")
    accepted = post_json(client, "/certificates/enrollments", body, **bearer(owner.access_token))
    assert accepted.status_code == 202
    reference = assert_response_matches(accepted, "POST", "/certificates/enrollments")["referenceNumber"]
    assert re.fullmatch(r"\d{8}-CE-[0-9A-F]{10}-[0-9A-F]{10}-[0-9A-F]{2}", reference)

    done = status(client, owner, reference)
    assert done["status"] == {"code": 200, "description": "Wniosek obsłużony (certyfikat wygenerowany)"}
    serial = done["certificateSerialNumber"]
    assert re.fullmatch(r"[0-9A-F]{16}", serial)
    (item,) = retrieve(client, owner, [serial])
    assert (item["certificateName"], item["certificateType"]) == ("Portal KSeF - logowanie", "Authentication")
    certificate = x509.load_der_x509_certificate(base64.b64decode(item["certificate"]))
    assert f"{certificate.serial_number:016X}" == serial
    certificate.verify_directly_issued_by(services_certificates.ca_certificate())
    assert sorted(a.rfc4514_string() for a in certificate.subject) == sorted(
        x509.NameAttribute(OIDS[k], v).rfc4514_string() for k, v in data.items()
    )
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert not usage.content_commitment
    eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in eku
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert certificate.public_key().public_bytes(
        serialization.Encoding.DER, spki
    ) == key.public_key().public_bytes(serialization.Encoding.DER, spki)

    listed = query(client, owner)
    assert listed["hasMore"] is False
    (row,) = listed["certificates"]
    assert row["certificateSerialNumber"] == serial
    assert row["status"] == "Active"
    assert row["subjectIdentifier"] == {"type": "Nip", "value": nip}
    assert row["lastUseDate"] is None

    # At once usable for /auth/xades-signature, even with the chain check (it is the KSeF CA's).
    challenge = get_challenge(client)["challenge"]
    signed = xades_sign(auth_request_xml(challenge, nip), Signer(key=key, certificate=certificate))
    init = assert_response_matches(
        post_xades(client, signed, "?verifyCertificateChain=true"), "POST", "/auth/xades-signature"
    )
    result = wait_status(client, init["referenceNumber"], init["authenticationToken"]["token"])
    assert result["status"]["code"] == 200
    assert result["authenticationMethodInfo"]["code"] == "xades.internal-certificate"
    assert query(client, owner)["certificates"][0]["lastUseDate"] is not None

    # Logged in with the KSeF certificate, the subject may renew it: same data, a successor.
    renewed = login_xades(client, nip, Signer(key=key, certificate=certificate))
    assert enrollment_data(client, renewed) == data
    successor, _ = obtain(client, renewed)
    assert f"{successor.serial_number:016X}" != serial
    limits_now = client.get(f"{V2}/certificates/limits", **bearer(renewed.access_token)).json()
    assert limits_now["enrollment"]["remaining"] == 298
    assert limits_now["certificate"]["remaining"] == 98


def test_offline_certificate_signs_kod2_and_cannot_log_in(client: Any, nip: str) -> None:
    owner = login_xades(client, nip)
    certificate, key = obtain(client, owner, kind="Offline", key_type="RSA")
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.content_commitment
    assert not usage.digital_signature

    init = start_xades(client, nip, Signer(key=key, certificate=certificate)).json()
    result = wait_status(client, init["referenceNumber"], init["authenticationToken"]["token"])["status"]
    assert (result["code"], result["details"]) == (460, ["Niepoprawny certyfikat"])

    link = kod2_link(nip, certificate, key)
    check = qr_link_verify(link)
    assert check.ok, check.messages


def kod2_link(nip: str, certificate: x509.Certificate, key: Any) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(b"<Faktura/>").digest()).decode().rstrip("=")
    signed = f"qr-test.ksef.mf.gov.pl/certificate/Nip/{nip}/{nip}/{certificate.serial_number:016X}/{digest}"
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    signature = key.sign(signed.encode(), pss, hashes.SHA256())
    return f"https://{signed}/{base64.urlsafe_b64encode(signature).decode().rstrip('=')}"


def test_status_is_100_until_processed_and_410_after_30_days(client: Any, owner: Session) -> None:
    config_update(certificate_enrollment_delay=dt.timedelta(minutes=5))
    accepted = send(client, owner, csr_b64(enrollment_data(client, owner), new_key()))
    reference = accepted.json()["referenceNumber"]
    waiting = status(client, owner, reference)
    assert waiting["status"] == {"code": 100, "description": "Wniosek przyjęty do realizacji"}
    assert "certificateSerialNumber" not in waiting
    assert retrieve(client, owner, ["0123456789ABCDEF"]) == []
    shift(reference, minutes=6)
    assert status(client, owner, reference)["status"]["code"] == 200
    shift(reference, days=31)
    gone = client.get(f"{V2}/certificates/enrollments/{reference}", **bearer(owner.access_token))
    assert gone.status_code == 410
    assert_response_matches(gone, "GET", "/certificates/enrollments/{referenceNumber}")


# --- refusals ------------------------------------------------------------------------------------------


def test_unknown_or_foreign_enrollment_is_25005(client: Any, owner: Session) -> None:
    reference = send(client, owner, csr_b64(enrollment_data(client, owner), new_key())).json()[
        "referenceNumber"
    ]
    stranger = login_xades(client, random_nip())
    for session, ref in ((owner, "20260101-CE-0000000000-0000000000-00"), (stranger, reference)):
        response = client.get(f"{V2}/certificates/enrollments/{ref}", **bearer(session.access_token))
        assert response.status_code == 400
        assert error_code(response) == 25005
        assert_response_matches(response, "GET", "/certificates/enrollments/{referenceNumber}")


def test_csr_subject_must_equal_the_enrollment_data_25003(client: Any, owner: Session) -> None:
    data = enrollment_data(client, owner)
    for changed in (
        {**data, "commonName": "Ktoś inny"},
        {**data, "givenName": "Jan"},
        {"commonName": "Test"},
    ):
        response = send(client, owner, csr_b64(changed, new_key()))
        assert response.status_code == 400
        assert error_code(response) == 25003
        assert_response_matches(response, "POST", "/certificates/enrollments")


def test_unreadable_or_badly_signed_csr_is_25004(client: Any, owner: Session) -> None:
    data = enrollment_data(client, owner)
    garbage = base64.b64encode(b"not a certificate request").decode()
    der = bytearray(base64.b64decode(csr_b64(data, new_key())))
    der[-1] ^= 0x01  # the last byte of the signature
    for csr in (garbage, base64.b64encode(bytes(der)).decode()):
        body = {"certificateName": "Certyfikat", "certificateType": "Authentication", "csr": csr}
        response = post_json(
            client,
            "/certificates/enrollments",
            body,
            HTTP_X_ERROR_FORMAT="problem-details",
            **bearer(owner.access_token),
        )
        assert response.status_code == 400
        problem = assert_response_matches(response, "POST", "/certificates/enrollments")
        assert problem["errors"][0]["code"] == 25004


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(lambda: rsa.generate_private_key(public_exponent=65537, key_size=3072), id="rsa-3072"),
        pytest.param(lambda: ec.generate_private_key(ec.SECP384R1()), id="ec-p384"),
    ],
)
def test_key_type_or_length_is_25010(client: Any, owner: Session, key: Any) -> None:
    response = send(client, owner, csr_b64(enrollment_data(client, owner), key()))
    assert response.status_code == 400
    assert error_code(response) == 25010


def test_signature_algorithm_is_25011(client: Any, owner: Session) -> None:
    response = send(
        client, owner, csr_b64(enrollment_data(client, owner), new_key("RSA"), algorithm=hashes.SHA224())
    )
    assert response.status_code == 400
    assert error_code(response) == 25011


def test_rsa_pss_signed_csr_is_accepted(client: Any, owner: Session) -> None:
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    csr = csr_b64(enrollment_data(client, owner), new_key("RSA"), rsa_padding=pss)
    reference = send(client, owner, csr, kind="Offline").json()["referenceNumber"]
    assert status(client, owner, reference)["status"]["code"] == 200


@pytest.mark.parametrize(
    "change",
    [
        {"certificateType": "Both"},
        {"certificateName": "x"},
        {"certificateName": "Nazwa <script>"},
        {"csr": "@@@"},
        {"validFrom": "jutro"},
    ],
)
def test_invalid_request_is_21405(client: Any, owner: Session, change: dict[str, Any]) -> None:
    body = {"certificateName": "Certyfikat", "certificateType": "Offline",
            "csr": csr_b64(enrollment_data(client, owner), new_key()), **change}  # fmt: skip
    response = post_json(client, "/certificates/enrollments", body, **bearer(owner.access_token))
    assert response.status_code == 400
    assert error_code(response) == 21405


def test_token_authenticated_caller_is_refused(client: Any, owner: Session, nip: str) -> None:
    token = services_core.token_generate(nip=nip, permissions=["InvoiceWrite"], description="token testowy")[
        1
    ]
    by_token = login_token(client, token, nip)
    data = client.get(f"{V2}/certificates/enrollments/data", **bearer(by_token.access_token))
    assert data.status_code == 400
    assert error_code(data) == 25001
    assert_response_matches(data, "GET", "/certificates/enrollments/data")
    sent = send(client, by_token, csr_b64(enrollment_data(client, owner), new_key()))
    assert sent.status_code == 400
    assert error_code(sent) == 25002
    limits_body = client.get(f"{V2}/certificates/limits", **bearer(by_token.access_token)).json()
    assert limits_body["canRequest"] is False

    certificate, _ = obtain(client, owner)
    serial = f"{certificate.serial_number:016X}"
    assert [c["certificateSerialNumber"] for c in query(client, by_token)["certificates"]] == [serial]
    revoked = post_json(client, f"/certificates/{serial}/revoke", {}, **bearer(by_token.access_token))
    assert revoked.status_code == 403
    problem = assert_response_matches(revoked, "POST", "/certificates/{certificateSerialNumber}/revoke")
    assert problem["reasonCode"] == "auth-method-not-allowed"
    assert problem["security"] == {"authenticationMethodCategory": "Token"}
    assert IssuedCertificate.objects.get(serial_number=serial).revoked_at is None


def test_operations_need_an_access_token(client: Any) -> None:
    response = client.get(f"{V2}/certificates/limits")
    assert response.status_code == 401
    assert_response_matches(response, "GET", "/certificates/limits")


# --- limits -------------------------------------------------------------------------------------------


def override(
    client: Any, session: Session, *, enrollments: int | None = None, certificates: int | None = None
) -> None:
    body: dict[str, Any] = {"subjectIdentifierType": "Nip"}
    if enrollments is not None:
        body["enrollment"] = {"maxEnrollments": enrollments}
    if certificates is not None:
        body["certificate"] = {"maxCertificates": certificates}
    response = post_json(client, "/testdata/limits/subject/certificate", body, **bearer(session.access_token))
    assert response.status_code == 200


def test_enrollment_limit_is_25006(client: Any, owner: Session) -> None:
    override(client, owner, enrollments=1)
    data = enrollment_data(client, owner)
    assert send(client, owner, csr_b64(data, new_key())).status_code == 202
    refused = send(client, owner, csr_b64(data, new_key()))
    assert refused.status_code == 400
    assert error_code(refused) == 25006
    body = client.get(f"{V2}/certificates/limits", **bearer(owner.access_token)).json()
    assert body == {"canRequest": False, "enrollment": {"limit": 1, "remaining": 0},
                    "certificate": {"limit": 100, "remaining": 99}}  # fmt: skip


def test_certificate_limit_is_25007_and_counts_only_active_ones(client: Any, owner: Session) -> None:
    override(client, owner, certificates=1)
    certificate, _ = obtain(client, owner)
    refused = send(client, owner, csr_b64(enrollment_data(client, owner), new_key()))
    assert refused.status_code == 400
    assert error_code(refused) == 25007
    serial = f"{certificate.serial_number:016X}"
    assert (
        post_json(client, f"/certificates/{serial}/revoke", {}, **bearer(owner.access_token)).status_code
        == 204
    )
    obtain(client, owner)  # a revoked certificate no longer counts


def test_limit_reached_while_processing_rejects_the_enrollment(client: Any, owner: Session) -> None:
    config_update(certificate_enrollment_delay=dt.timedelta(minutes=5))
    override(client, owner, certificates=1)
    data = enrollment_data(client, owner)
    first, second = (
        send(client, owner, csr_b64(data, new_key())).json()["referenceNumber"] for _ in range(2)
    )
    shift(first, minutes=6)
    shift(second, minutes=6)
    assert status(client, owner, first)["status"]["code"] == 200
    rejected = status(client, owner, second)
    assert rejected["status"] == {
        "code": 400,
        "description": "Wniosek odrzucony",
        "details": ["Osiągnięto dopuszczalny limit posiadanych certyfikatów."],
    }


def test_a_key_certified_for_another_subject_is_rejected(client: Any, owner: Session) -> None:
    key = new_key()
    reference = send(client, owner, csr_b64(enrollment_data(client, owner), key)).json()["referenceNumber"]
    assert status(client, owner, reference)["status"]["code"] == 200
    other = login_xades(client, random_nip())
    again = send(client, other, csr_b64(enrollment_data(client, other), key)).json()["referenceNumber"]
    assert status(client, other, again)["status"]["details"] == [
        "Klucz publiczny został już certyfikowany przez inny podmiot."
    ]


def test_pesel_and_fingerprint_subjects_have_12_and_6(client: Any, nip: str) -> None:
    post_json(
        client,
        "/testdata/person",
        {"nip": nip, "pesel": PESEL, "isBailiff": False, "description": "osoba testowa"},
    )
    person = login_xades(client, nip, self_signed(pesel=PESEL))
    body = client.get(f"{V2}/certificates/limits", **bearer(person.access_token)).json()
    assert (body["enrollment"]["limit"], body["certificate"]["limit"]) == (12, 6)

    signer = self_signed(key_type="EC")
    fingerprint = (
        hashlib.sha256(signer.certificate.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    )
    grant = {
        "contextIdentifier": {"type": "Nip", "value": nip},
        "authorizedIdentifier": {"type": "Fingerprint", "value": fingerprint},
        "permissions": [{"permissionType": "InvoiceWrite", "description": "biuro rachunkowe"}],
    }
    assert post_json(client, "/testdata/permissions", grant).status_code == 200
    challenge = get_challenge(client)["challenge"]
    signed = xades_sign(auth_request_xml(challenge, nip, subject="certificateFingerprint"), signer)
    from tests.ksef_simulator.core.conftest import redeem

    by_fingerprint = redeem(client, post_xades(client, signed).json())
    body = client.get(f"{V2}/certificates/limits", **bearer(by_fingerprint.access_token)).json()
    assert (body["enrollment"]["limit"], body["certificate"]["limit"]) == (12, 6)
    certificate, key = obtain(client, by_fingerprint)
    (row,) = query(client, by_fingerprint)["certificates"]
    assert row["subjectIdentifier"] == {"type": "Fingerprint", "value": fingerprint}
    # The KSeF certificate carries the fingerprint identity: it logs in with the granted rights.
    assert login_xades(client, nip, Signer(key=key, certificate=certificate)).access_token


# --- the subject's certificates -------------------------------------------------------------------------


def test_query_filters_paging_and_order(client: Any, owner: Session) -> None:
    data = enrollment_data(client, owner)
    serials = []
    for index in range(12):
        kind = "Offline" if index % 3 == 0 else "Authentication"
        body = {
            "certificateName": f"Certyfikat nr {index:02d}",
            "certificateType": kind,
            "csr": csr_b64(data, new_key()),
        }
        reference = post_json(client, "/certificates/enrollments", body, **bearer(owner.access_token)).json()[
            "referenceNumber"
        ]
        serials.append(status(client, owner, reference)["certificateSerialNumber"])
    first = query(client, owner)
    assert first["hasMore"] is True
    assert [c["certificateSerialNumber"] for c in first["certificates"]] == serials[::-1][:10]
    second = query(client, owner, params="?pageOffset=1")
    assert second["hasMore"] is False
    assert [c["certificateSerialNumber"] for c in second["certificates"]] == serials[1::-1]
    dates = [c["requestDate"] for c in first["certificates"] + second["certificates"]]
    assert dates == sorted(dates, reverse=True)
    assert len(query(client, owner, params="?pageSize=50")["certificates"]) == 12

    offline = query(client, owner, {"type": "Offline"}, "?pageSize=50")["certificates"]
    assert {c["certificateSerialNumber"] for c in offline} == set(serials[::3])
    named = query(client, owner, {"name": "NR 07"})["certificates"]
    assert [c["certificateSerialNumber"] for c in named] == [serials[7]]
    exact = query(client, owner, {"certificateSerialNumber": serials[4]})["certificates"]
    assert [c["name"] for c in exact] == ["Certyfikat nr 04"]
    post_json(client, f"/certificates/{serials[0]}/revoke", {"revocationReason": "Superseded"},
              **bearer(owner.access_token))  # fmt: skip
    revoked = query(client, owner, {"status": "Revoked"})["certificates"]
    assert [c["certificateSerialNumber"] for c in revoked] == [serials[0]]
    assert len(query(client, owner, {"status": "Active"}, "?pageSize=50")["certificates"]) == 11
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3 * 365)).isoformat()
    assert query(client, owner, {"expiresAfter": later})["certificates"] == []
    for params in ("?pageSize=5", "?pageSize=51", "?pageOffset=-1"):
        response = post_json(client, f"/certificates/query{params}", {}, **bearer(owner.access_token))
        assert response.status_code == 400
        assert error_code(response) == 21405
    assert query(client, login_xades(client, random_nip()))["certificates"] == []


def test_revoke_then_the_certificate_cannot_log_in(client: Any, owner: Session, nip: str) -> None:
    certificate, key = obtain(client, owner)
    serial = f"{certificate.serial_number:016X}"
    body = {"revocationReason": "KeyCompromise"}
    assert_request_matches(body, "POST", "/certificates/{certificateSerialNumber}/revoke")
    response = post_json(client, f"/certificates/{serial}/revoke", body, **bearer(owner.access_token))
    assert response.status_code == 204
    assert query(client, owner)["certificates"][0]["status"] == "Revoked"
    again = post_json(client, f"/certificates/{serial}/revoke", {}, **bearer(owner.access_token))
    assert (again.status_code, error_code(again)) == (400, 25009)
    unknown = post_json(client, "/certificates/0123456789ABCDEF/revoke", {}, **bearer(owner.access_token))
    assert (unknown.status_code, error_code(unknown)) == (400, 25008)
    malformed = post_json(client, "/certificates/xyz/revoke", {}, **bearer(owner.access_token))
    assert (malformed.status_code, error_code(malformed)) == (400, 21405)
    stranger = login_xades(client, random_nip())
    foreign = post_json(client, f"/certificates/{serial}/revoke", {}, **bearer(stranger.access_token))
    assert (foreign.status_code, error_code(foreign)) == (400, 25008)
    init = start_xades(client, nip, Signer(key=key, certificate=certificate)).json()
    result = wait_status(client, init["referenceNumber"], init["authenticationToken"]["token"])["status"]
    assert (result["code"], result["details"]) == (460, ["Certyfikat odwołany"])


def test_validity_shortened_by_testdata_expires_the_certificate(
    client: Any, owner: Session, nip: str
) -> None:
    certificate, key = obtain(client, owner)
    offline, offline_key = obtain(client, owner, kind="Offline", key_type="RSA")
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    for issued in (certificate, offline):
        body = {"validTo": past}
        assert_request_matches(body, "PUT", "/testdata/certificates/{serialNumber}")
        response = put_json(client, f"/testdata/certificates/{issued.serial_number:016X}", body, owner)
        assert response.status_code == 200
    expired = query(client, owner, {"status": "Expired"})["certificates"]
    assert len(expired) == 2
    assert expired[0]["validTo"] < dt.datetime.now(dt.UTC).isoformat()
    init = start_xades(client, nip, Signer(key=key, certificate=certificate)).json()
    result = wait_status(client, init["referenceNumber"], init["authenticationToken"]["token"])["status"]
    assert (result["code"], result["details"]) == (460, ["Nieważny certyfikat"])
    assert "Certyfikat nie jest ważny." in qr_link_verify(kod2_link(nip, offline, offline_key)).messages

    serial = f"{certificate.serial_number:016X}"
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    for path, body, code in (
        (serial, {"validTo": later}, 21405),
        ("0123456789ABCDEF", {"validTo": past}, 25008),
        (serial, {"validTo": "wczoraj"}, 21405),
    ):
        response = put_json(client, f"/testdata/certificates/{path}", body, owner)
        assert (response.status_code, error_code(response)) == (400, code)
        assert_response_matches(response, "PUT", "/testdata/certificates/{serialNumber}")


def test_linked_pesel_sees_and_revokes_the_nip_certificates(client: Any, owner: Session, nip: str) -> None:
    certificate, _ = obtain(client, owner)
    post_json(
        client,
        "/testdata/person",
        {"nip": nip, "pesel": PESEL, "isBailiff": False, "description": "osoba testowa"},
    )
    person = login_xades(client, nip, self_signed(pesel=PESEL))
    serial = f"{certificate.serial_number:016X}"
    assert [c["certificateSerialNumber"] for c in query(client, person)["certificates"]] == [serial]
    assert (
        post_json(client, f"/certificates/{serial}/revoke", {}, **bearer(person.access_token)).status_code
        == 204
    )


# --- the Certyfikaty page uses the same service -----------------------------------------------------------


def test_page_certificates_are_enrollments_of_the_nip(client: Any, owner: Session, nip: str) -> None:
    _, _, serial = services_core.certificate_issue(
        nip=nip, kind="Offline", key_type="EC", password="sekret-123"
    )
    assert re.fullmatch(r"[0-9A-F]{16}", serial)
    (row,) = query(client, owner)["certificates"]
    assert (row["certificateSerialNumber"], row["type"], row["status"]) == (serial, "Offline", "Active")
    assert CertificateEnrollment.objects.get(certificate_serial=serial).outcome_code == 200
    limits.limits_override(
        kind="subject", context_type="Nip", context_value=nip, values={"certificate": {"maxCertificates": 1}}
    )
    with pytest.raises(services_core.CoreError) as refused:
        services_core.certificate_issue(nip=nip, kind="Authentication", key_type="EC", password="sekret-123")
    assert refused.value.code == 25007
