"""Authentication: challenge, KSeF-token and XAdES logins, status, redeem/refresh, auth sessions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree
from signxml import methods
from signxml.algorithms import SignatureMethod
from signxml.xades import XAdESSigner

from ksef_simulator import ids, security, services_core, services_permissions
from ksef_simulator.conf import config_update
from ksef_simulator.models import AuthOperation, BlockedContext, SimPerson
from tests.ksef_simulator.core.conftest import (
    AUTH_NS,
    V2,
    Session,
    auth_request_xml,
    bearer,
    get_challenge,
    ksef_token_body,
    login_token,
    login_xades,
    post_json,
    post_xades,
    random_nip,
    redeem,
    self_signed,
    start_xades,
    wait_status,
    xades_sign,
)
from tests.ksef_simulator.core.spec import assert_response_matches

pytestmark = pytest.mark.django_db
ALL_OWNER = sorted(services_permissions.OWNER_PERMISSIONS)


def claims(token: str) -> dict[str, Any]:
    decoded = security.jwt_decode(token)
    assert decoded is not None
    return decoded


def error_code(response: Any) -> int:
    return int(response.json()["exception"]["exceptionDetailList"][0]["exceptionCode"])


def test_challenge_shape(client: Any) -> None:
    body = get_challenge(client)
    assert len(body["challenge"]) == 36
    assert "-CR-" in body["challenge"]
    assert ids.reference_number_is_valid(body["challenge"])
    stamp = dt.datetime.fromisoformat(body["timestamp"])
    assert abs(stamp.timestamp() * 1000 - body["timestampMs"]) < 1
    assert body["clientIp"] == "127.0.0.1"


def test_xades_owner_gets_owner_permissions(client: Any, nip: str) -> None:
    session = login_xades(client, nip)
    access = claims(session.access_token)
    assert access["context-identifier-value"] == nip
    assert access["permissions"] == ALL_OWNER
    assert "VatUeManage" not in access["permissions"]
    status = wait_status(client, session.reference, session.authentication_token)
    assert status["authenticationMethodInfo"]["category"] == "XadesSignature"
    assert status["isTokenRedeemed"] is True


@pytest.mark.parametrize("namespace", [AUTH_NS, "http://ksef.mf.gov.pl/auth/token/2.1"])
def test_xades_person_certificate_and_both_namespaces(client: Any, nip: str, namespace: str) -> None:
    challenge = get_challenge(client)["challenge"]
    body = xades_sign(auth_request_xml(challenge, nip, namespace=namespace), self_signed(nip=nip))
    response = post_xades(client, body)
    init = assert_response_matches(response, "POST", "/auth/xades-signature")
    assert response.status_code == 202
    assert (
        wait_status(client, init["referenceNumber"], init["authenticationToken"]["token"])["status"]["code"]
        == 200
    )


def test_xades_other_nip_has_no_permissions_415(client: Any, nip: str) -> None:
    response = start_xades(client, nip, self_signed(nip=random_nip(), seal=True))
    init = response.json()
    status = wait_status(client, init["referenceNumber"], init["authenticationToken"]["token"])["status"]
    assert status["code"] == 415
    assert status["details"] == ["Brak przypisanych uprawnień"]
    redeem = client.post(f"{V2}/auth/token/redeem", **bearer(init["authenticationToken"]["token"]))
    assert redeem.status_code == 400
    assert error_code(redeem) == 21301


def test_xades_tampered_document_is_9105(client: Any, nip: str) -> None:
    challenge = get_challenge(client)["challenge"]
    body = xades_sign(auth_request_xml(challenge, nip), self_signed(nip=nip, seal=True))
    other = random_nip()
    response = post_xades(client, body.replace(nip.encode(), other.encode()))
    assert response.status_code == 400
    assert error_code(response) == 9105
    assert_response_matches(response, "POST", "/auth/xades-signature")


def test_xades_unsigned_is_9102_and_garbage_is_21001(client: Any, nip: str) -> None:
    challenge = get_challenge(client)["challenge"]
    assert error_code(post_xades(client, auth_request_xml(challenge, nip))) == 9102
    assert error_code(post_xades(client, b"<not-xml")) == 21001


def test_xades_schema_violation_is_21401(client: Any, nip: str) -> None:
    challenge = get_challenge(client)["challenge"]
    document = auth_request_xml(challenge, nip, subject="somethingElse")
    response = post_xades(client, xades_sign(document, self_signed(nip=nip, seal=True)))
    assert response.status_code == 400
    assert error_code(response) == 21401
    assert response.json()["exception"]["exceptionDetailList"][0]["details"]


def test_xades_unknown_challenge_21111_and_bad_nip_21117(client: Any, nip: str) -> None:
    fake = ids.reference_number("CR")
    response = post_xades(client, xades_sign(auth_request_xml(fake, nip), self_signed(nip=nip, seal=True)))
    assert error_code(response) == 21111
    bad_nip = nip[:9] + str((int(nip[9]) + 1) % 10)
    challenge = get_challenge(client)["challenge"]
    response = post_xades(
        client, xades_sign(auth_request_xml(challenge, bad_nip), self_signed(nip=nip, seal=True))
    )
    assert error_code(response) == 21117


def test_xades_certificate_without_identity_is_21115(client: Any, nip: str) -> None:
    response = start_xades(client, nip, self_signed())
    assert response.status_code == 400
    assert error_code(response) == 21115


def test_xades_wrong_content_type_is_rejected(client: Any, nip: str) -> None:
    response = client.post(f"{V2}/auth/xades-signature", data=b"<x/>", content_type="text/plain")
    assert response.status_code == 400
    assert error_code(response) == 21405


def test_expired_certificate_is_status_460(client: Any, nip: str) -> None:
    init = start_xades(client, nip, self_signed(nip=nip, seal=True, days=(-30, -1))).json()
    status = wait_status(client, init["referenceNumber"], init["authenticationToken"]["token"])["status"]
    assert (status["code"], status["details"]) == (460, ["Nieważny certyfikat"])


def test_chain_verification_rejects_self_signed_but_accepts_ksef_certificate(client: Any, nip: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from tests.ksef_simulator.core.conftest import Signer

    challenge = get_challenge(client)["challenge"]
    body = xades_sign(auth_request_xml(challenge, nip), self_signed(nip=nip, seal=True))
    init = post_xades(client, body, "?verifyCertificateChain=true").json()
    status = wait_status(client, init["referenceNumber"], init["authenticationToken"]["token"])["status"]
    assert (status["code"], status["details"]) == (460, ["Niezaufany łańcuch certyfikatów"])

    cert_pem, key_pem, _ = services_core.certificate_issue(
        nip=nip, kind="Authentication", key_type="EC", password="sekret-123"
    )
    signer = Signer(
        key=serialization.load_pem_private_key(key_pem.encode(), password=b"sekret-123"),
        certificate=x509.load_pem_x509_certificate(cert_pem.encode()),
    )
    challenge = get_challenge(client)["challenge"]
    init = post_xades(
        client, xades_sign(auth_request_xml(challenge, nip), signer), "?verifyCertificateChain=true"
    )
    body_json = assert_response_matches(init, "POST", "/auth/xades-signature")
    status_body = wait_status(client, body_json["referenceNumber"], body_json["authenticationToken"]["token"])
    assert status_body["status"]["code"] == 200
    assert status_body["authenticationMethodInfo"]["code"] == "xades.internal-certificate"


def test_offline_certificate_cannot_log_in(client: Any, nip: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from tests.ksef_simulator.core.conftest import Signer

    cert_pem, key_pem, _ = services_core.certificate_issue(
        nip=nip, kind="Offline", key_type="RSA", password="pw"
    )
    signer = Signer(
        key=serialization.load_pem_private_key(key_pem.encode(), password=b"pw"),
        certificate=x509.load_pem_x509_certificate(cert_pem.encode()),
    )
    init = start_xades(client, nip, signer).json()
    status = wait_status(client, init["referenceNumber"], init["authenticationToken"]["token"])["status"]
    assert (status["code"], status["details"]) == (460, ["Niepoprawny certyfikat"])


def test_status_is_100_during_the_auth_delay(client: Any, nip: str) -> None:
    config_update(auth_delay=dt.timedelta(seconds=60))
    init = start_xades(client, nip).json()
    token = init["authenticationToken"]["token"]
    assert wait_status(client, init["referenceNumber"], token)["status"]["code"] == 100
    early = client.post(f"{V2}/auth/token/redeem", **bearer(token))
    assert early.status_code == 400
    assert error_code(early) == 21301
    AuthOperation.objects.filter(reference_number=init["referenceNumber"]).update(
        started_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=61)
    )
    assert wait_status(client, init["referenceNumber"], token)["status"]["code"] == 200


def test_status_unknown_reference_and_retention(client: Any, nip: str) -> None:
    init = start_xades(client, nip).json()
    token = init["authenticationToken"]["token"]
    other = client.get(f"{V2}/auth/{ids.reference_number('AU')}", **bearer(token))
    assert other.status_code == 400
    assert error_code(other) == 21304
    assert client.get(f"{V2}/auth/{init['referenceNumber']}").status_code == 401
    AuthOperation.objects.filter(reference_number=init["referenceNumber"]).update(
        started_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=8)
    )
    gone = client.get(f"{V2}/auth/{init['referenceNumber']}", **bearer(token))
    assert gone.status_code == 410
    assert_response_matches(gone, "GET", "/auth/{referenceNumber}")


def test_redeem_only_once(client: Any, nip: str) -> None:
    session = login_xades(client, nip)
    again = client.post(f"{V2}/auth/token/redeem", **bearer(session.authentication_token))
    assert again.status_code == 400
    assert error_code(again) == 21301
    assert_response_matches(again, "POST", "/auth/token/redeem")


def test_refresh_carries_current_permissions(client: Any, nip: str) -> None:
    from ksef_simulator.models import SimGrant

    outsider = random_nip()
    SimGrant.objects.create(
        context_nip=nip, authorized_type="Nip", authorized_value=outsider, permission="InvoiceRead",
        description="dostęp testowy",
    )  # fmt: skip
    session = login_xades(client, nip, self_signed(nip=outsider, seal=True))
    assert claims(session.access_token)["permissions"] == ["InvoiceRead"]
    SimGrant.objects.create(
        context_nip=nip, authorized_type="Nip", authorized_value=outsider, permission="InvoiceWrite",
        description="dostęp testowy",
    )  # fmt: skip
    response = client.post(f"{V2}/auth/token/refresh", **bearer(session.refresh_token))
    body = assert_response_matches(response, "POST", "/auth/token/refresh")
    assert claims(body["accessToken"]["token"])["permissions"] == ["InvoiceRead", "InvoiceWrite"]
    # An access token is not a refresh token.
    assert client.post(f"{V2}/auth/token/refresh", **bearer(session.access_token)).status_code == 401


def test_blocked_context_is_480(client: Any, nip: str) -> None:
    BlockedContext.objects.create(context_type="Nip", context_value=nip)
    init = start_xades(client, nip).json()
    status = wait_status(client, init["referenceNumber"], init["authenticationToken"]["token"])["status"]
    assert status["code"] == 480


def test_deceased_person_is_470(client: Any, nip: str) -> None:
    SimPerson.objects.create(
        nip=nip, pesel="90010112345", description="osoba zmarła", is_deceased=True,
        created_at=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    init = start_xades(client, nip, self_signed(nip=nip)).json()
    assert (
        wait_status(client, init["referenceNumber"], init["authenticationToken"]["token"])["status"]["code"]
        == 470
    )


def test_pesel_linked_person_is_owner(client: Any, nip: str) -> None:
    SimPerson.objects.create(
        nip=nip, pesel="90010112345", description="JDG", created_at=dt.datetime.now(dt.UTC)
    )
    session = login_xades(client, nip, self_signed(pesel="90010112345"))
    assert claims(session.access_token)["permissions"] == ALL_OWNER


def test_allowed_ips_policy_is_enforced(client: Any, nip: str) -> None:
    challenge = get_challenge(client)["challenge"]
    body = xades_sign(
        auth_request_xml(challenge, nip, allowed_ips=["10.1.2.3"]), self_signed(nip=nip, seal=True)
    )
    init = post_xades(client, body).json()
    from tests.ksef_simulator.core.conftest import redeem

    session = redeem(client, init)
    response = client.get(f"{V2}/auth/sessions", **bearer(session.access_token))
    assert response.status_code == 403
    assert response.json()["reasonCode"] == "ip-not-allowed"
    assert_response_matches(response, "GET", "/auth/sessions")
    ok = client.get(f"{V2}/auth/sessions", REMOTE_ADDR="10.1.2.3", **bearer(session.access_token))
    assert ok.status_code == 200


# --- KSeF token login -----------------------------------------------------------------------------


def _token_status(client: Any, body: dict[str, Any]) -> dict[str, Any]:
    response = post_json(client, "/auth/ksef-token", body)
    init = assert_response_matches(response, "POST", "/auth/ksef-token")
    assert response.status_code == 202
    return wait_status(client, init["referenceNumber"], init["authenticationToken"]["token"])["status"]


def test_ksef_token_login(client: Any, nip: str) -> None:
    _, token = services_core.token_generate(nip=nip, permissions=["InvoiceRead"], description="token testowy")
    session = login_token(client, token, nip)
    access = claims(session.access_token)
    assert access["permissions"] == ["InvoiceRead"]
    status = wait_status(client, session.reference, session.authentication_token)
    assert status["authenticationMethod"] == "Token"
    assert status["authenticationMethodInfo"]["category"] == "Token"


@pytest.mark.parametrize(
    ("case", "detail"),
    [
        ("forged", "Nieprawidłowy token"),
        ("time", "Nieprawidłowy czas tokena"),
        ("revoked", "Token unieważniony"),
        ("inactive", "Token nieaktywny"),
        ("context", "Token nie może być użyty w kontekście"),
    ],
)
def test_bad_ksef_tokens_end_in_450(client: Any, nip: str, case: str, detail: str) -> None:
    if case == "inactive":
        config_update(token_activation_delay=dt.timedelta(minutes=5))
    reference, token = services_core.token_generate(nip=nip, permissions=["InvoiceRead"], description="token")
    context = nip
    if case == "forged":
        token = token[:-4] + ("0000" if not token.endswith("0000") else "1111")
    if case == "revoked":
        services_core.token_revoke(nip=nip, reference=reference)
    if case == "context":
        context = random_nip()
    body = ksef_token_body(client, token, context)
    if case == "time":
        body = ksef_token_body(client, token, context, timestamp_ms=1)
    status = _token_status(client, body)
    assert status["code"] == 450
    assert status["details"][0].startswith(detail)


def test_ksef_token_validation_and_unknown_challenge(client: Any, nip: str) -> None:
    response = post_json(client, "/auth/ksef-token", {"challenge": "x"})
    assert response.status_code == 400
    assert error_code(response) == 21405
    assert response.json()["exception"]["exceptionDetailList"][0]["details"]
    _, token = services_core.token_generate(nip=nip, permissions=["InvoiceRead"], description="token")
    body = ksef_token_body(client, token, nip)
    body["challenge"] = ids.reference_number("CR")
    assert error_code(post_json(client, "/auth/ksef-token", body)) == 21111
    body = ksef_token_body(client, token, nip)
    body["publicKeyId"] = "A" * 43 + "="
    response = post_json(client, "/auth/ksef-token", body, HTTP_X_ERROR_FORMAT="problem-details")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == 21470
    assert_response_matches(response, "POST", "/auth/ksef-token")


def test_reused_challenge_ends_in_450(client: Any, nip: str) -> None:
    _, token = services_core.token_generate(nip=nip, permissions=["InvoiceRead"], description="token")
    body = ksef_token_body(client, token, nip)
    assert _token_status(client, body)["code"] == 200
    status = _token_status(client, body)
    assert (status["code"], status["details"]) == (450, ["Nieprawidłowe wyzwanie autoryzacyjne"])


def test_revoked_ksef_token_stops_refresh(client: Any, nip: str) -> None:
    reference, token = services_core.token_generate(nip=nip, permissions=["InvoiceRead"], description="token")
    session = login_token(client, token, nip)
    services_core.token_revoke(nip=nip, reference=reference)
    response = client.post(f"{V2}/auth/token/refresh", **bearer(session.refresh_token))
    assert response.status_code == 400
    assert error_code(response) == 21301


# --- auth sessions --------------------------------------------------------------------------------


def test_sessions_list_paging_and_current(client: Any, nip: str) -> None:
    sessions = [login_xades(client, nip) for _ in range(12)]
    current = sessions[-1]
    first = client.get(f"{V2}/auth/sessions", **bearer(current.access_token))
    page = assert_response_matches(first, "GET", "/auth/sessions")
    assert len(page["items"]) == 10
    assert page["continuationToken"]
    assert page["items"][0]["referenceNumber"] == current.reference
    assert page["items"][0]["isCurrent"] is True
    assert not any(item["isCurrent"] for item in page["items"][1:])
    second = client.get(
        f"{V2}/auth/sessions",
        HTTP_X_CONTINUATION_TOKEN=page["continuationToken"],
        **bearer(current.access_token),
    )
    rest = assert_response_matches(second, "GET", "/auth/sessions")
    assert len(rest["items"]) == 2
    assert not rest.get("continuationToken")
    seen = {i["referenceNumber"] for i in page["items"] + rest["items"]}
    assert seen == {s.reference for s in sessions}
    bad = client.get(f"{V2}/auth/sessions?pageSize=5", **bearer(current.access_token))
    assert bad.status_code == 400
    assert error_code(bad) == 21405
    broken = client.get(
        f"{V2}/auth/sessions", HTTP_X_CONTINUATION_TOKEN="???", **bearer(current.access_token)
    )
    assert broken.status_code == 400
    assert error_code(broken) == 21418


def _revoked_checks(client: Any, session: Session) -> None:
    refresh = client.post(f"{V2}/auth/token/refresh", **bearer(session.refresh_token))
    assert refresh.status_code == 400
    assert error_code(refresh) == 21301
    # Live access tokens keep working until they expire.
    assert client.get(f"{V2}/auth/sessions", **bearer(session.access_token)).status_code == 200
    assert wait_status(client, session.reference, session.authentication_token)["status"]["code"] == 425


def test_revoke_current_session(client: Any, nip: str) -> None:
    session = login_xades(client, nip)
    response = client.delete(f"{V2}/auth/sessions/current", **bearer(session.refresh_token))
    assert response.status_code == 204
    _revoked_checks(client, session)


def test_revoke_other_session_by_reference(client: Any, nip: str) -> None:
    victim, admin = login_xades(client, nip), login_xades(client, nip)
    response = client.delete(f"{V2}/auth/sessions/{victim.reference}", **bearer(admin.access_token))
    assert response.status_code == 204
    _revoked_checks(client, victim)
    listed = client.get(f"{V2}/auth/sessions", **bearer(admin.access_token)).json()
    assert victim.reference not in {i["referenceNumber"] for i in listed["items"]}
    stranger = login_xades(client, random_nip())
    response = client.delete(f"{V2}/auth/sessions/{admin.reference}", **bearer(stranger.access_token))
    assert response.status_code == 400
    assert error_code(response) == 21304


def test_an_enveloping_xades_signature_logs_in(client: Any, nip: str) -> None:
    """KSeF accepts the AuthTokenRequest inside the signature (enveloping) as well as the signature inside
    the request (enveloped); the request read is the signed one, so altering it breaks the signature."""
    signer = self_signed(nip=nip, seal=True)
    algorithm = (
        SignatureMethod.ECDSA_SHA256
        if isinstance(signer.key, ec.EllipticCurvePrivateKey)
        else SignatureMethod.RSA_SHA256
    )

    def enveloping(document: bytes) -> bytes:
        signed = XAdESSigner(method=methods.enveloping, signature_algorithm=algorithm).sign(
            etree.fromstring(document), key=signer.key, cert=[signer.cert_pem]
        )
        return etree.tostring(signed, xml_declaration=True, encoding="utf-8")

    body = enveloping(auth_request_xml(get_challenge(client)["challenge"], nip))
    session = redeem(
        client, assert_response_matches(post_xades(client, body), "POST", "/auth/xades-signature")
    )
    assert session.access_token

    # The signed content altered: the signature no longer verifies.
    other = random_nip()
    tampered = body.replace(f"<Nip>{nip}</Nip>".encode(), f"<Nip>{other}</Nip>".encode())
    assert tampered != body
    response = post_xades(client, tampered)
    assert response.status_code == 400
    assert response.json()["exception"]["exceptionDetailList"][0]["exceptionCode"] == 9105
