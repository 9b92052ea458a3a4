"""Login with a KSeF token and with a certificate, auth status failures, refresh, revoke and token info."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
import responses
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import SignatureConfiguration
from signxml.xades import XAdESVerifier

from ksef_integration.ksef.client import KsefClient
from ksef_integration.ksef.crypto import rsa_oaep_decrypt
from ksef_integration.ksef.errors import KsefAuthError, KsefError, KsefTransientError, KsefUnauthorized
from ksef_integration.ksef.identifiers import ContextIdentifier, KsefToken
from ksef_integration.ksef.xades import AUTH_NAMESPACE, AllowedIps, auth_token_request_build
from tests.ksef_integration.ksef.conftest import BASE, NOW, MfKey, body, rsa_key, self_signed
from tests.official import AUTH_SCHEMAS

TOKEN_TEXT = "20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-5265877635|" + "919f7044" * 8
AUTH_REF = "20261125-AU-1111111111-2222222222-33"
CHALLENGE = "20261125-CR-226FB7B000-3ACF9BE4C0-10"
AUTH_XSD = AUTH_SCHEMAS / "schemat_auth_v2-1.xsd"


def serve_login(mocked: responses.RequestsMock, *, statuses: list[dict]) -> None:
    mocked.post(
        f"{BASE}/auth/challenge",
        json={
            "challenge": CHALLENGE,
            "timestamp": "2026-11-25T12:00:00.1234567+00:00",
            "timestampMs": 1795608000123,
            "clientIp": "127.0.0.1",
        },
    )
    init = {
        "referenceNumber": AUTH_REF,
        "authenticationToken": {"token": "operation-jwt-AAAA1111", "validUntil": "2026-11-25T12:45:00+00:00"},
    }
    mocked.post(f"{BASE}/auth/ksef-token", status=202, json=init)
    mocked.post(f"{BASE}/auth/xades-signature", status=202, json=init)
    for status in statuses:
        mocked.get(
            f"{BASE}/auth/{AUTH_REF}",
            json={
                "startDate": "2026-11-25T12:00:01+00:00",
                "authenticationMethod": "Token",
                "authenticationMethodInfo": {
                    "category": "Token",
                    "code": "token.ksef",
                    "displayName": "Token",
                },
                "status": status,
                "unknownNewField": 1,
            },
        )
    mocked.post(
        f"{BASE}/auth/token/redeem",
        json={
            "accessToken": {
                "token": "access-jwt-BBBB2222",
                "validUntil": "2026-11-25T12:15:00.0000001+00:00",
            },
            "refreshToken": {"token": "refresh-jwt-CCCC3333", "validUntil": "2026-12-02T12:00:00Z"},
        },
    )


def fresh_client() -> KsefClient:
    from ksef_integration.ksef.environments import simulator

    return KsefClient(environment=simulator(api_url=BASE), sleep=lambda s: None, clock=lambda: NOW)


def test_login_with_token(mocked: responses.RequestsMock, keys_served: None, token_key: MfKey):
    serve_login(
        mocked,
        statuses=[
            {"code": 100, "description": "Uwierzytelnianie w toku"},
            {"code": 200, "description": "Uwierzytelnianie zakończone sukcesem"},
        ],
    )
    stored: list = []
    client = fresh_client()
    client._on_tokens = stored.append
    tokens = client.login_with_token(token=TOKEN_TEXT)

    assert tokens.access_token.reveal() == "access-jwt-BBBB2222"
    assert tokens.refresh_token.reveal() == "refresh-jwt-CCCC3333"
    assert tokens.access_valid_until.isoformat() == "2026-11-25T12:15:00+00:00"
    assert tokens.reference_number == AUTH_REF
    assert stored == [tokens]

    sent = body(next(c for c in mocked.calls if str(c.request.url).endswith("/auth/ksef-token")))
    assert sent["challenge"] == CHALLENGE
    assert sent["contextIdentifier"] == {"type": "Nip", "value": "5265877635"}
    assert sent["publicKeyId"] == token_key.public_key_id
    plain = rsa_oaep_decrypt(private_key=token_key.private_key, data=base64.b64decode(sent["encryptedToken"]))
    assert plain == f"{TOKEN_TEXT}|1795608000123".encode()

    polls = [c for c in mocked.calls if str(c.request.url).endswith(f"/auth/{AUTH_REF}")]
    assert len(polls) == 2
    assert all(c.request.headers["Authorization"] == "Bearer operation-jwt-AAAA1111" for c in polls)
    redeem = next(c for c in mocked.calls if str(c.request.url).endswith("/auth/token/redeem"))
    assert redeem.request.headers["Authorization"] == "Bearer operation-jwt-AAAA1111"


@pytest.mark.parametrize(
    ("detail", "reason", "polish", "english"),
    [
        ("Nieprawidłowe wyzwanie autoryzacyjne", "invalid_challenge", "Wyzwanie autoryzacyjne", "challenge"),
        ("Nieprawidłowy token", "invalid_token", "Token KSeF jest nieprawidłowy", "token is invalid"),
        ("Nieprawidłowy czas tokena", "invalid_token_time", "znacznik czasu", "timestamp"),
        ("Token unieważniony", "token_revoked", "unieważniony", "revoked"),
        ("Token nieaktywny", "token_inactive", "nie jest aktywny", "not active"),
    ],
)
def test_450_details_become_plain_messages(
    mocked: responses.RequestsMock, keys_served: None, detail: str, reason: str, polish: str, english: str
):
    serve_login(
        mocked,
        statuses=[
            {"code": 450, "description": "Uwierzytelnianie zakończone niepowodzeniem", "details": [detail]}
        ],
    )
    with pytest.raises(KsefAuthError) as caught:
        fresh_client().login_with_token(token=TOKEN_TEXT)
    assert caught.value.code == 450
    assert caught.value.reason == reason
    assert polish in caught.value.message_pl
    assert english in caught.value.message_en
    assert "919f7044" not in str(caught.value)


@pytest.mark.parametrize(
    ("code", "reason", "polish", "english"),
    [
        (415, "no_permissions", "nie ma żadnych uprawnień", "no KSeF permissions"),
        (425, "revoked", "unieważnione", "revoked"),
        (460, "certificate_error", "Certyfikat", "certificate"),
        (480, "blocked", "zablokowane", "blocked"),
    ],
)
def test_other_auth_failures(
    mocked: responses.RequestsMock, keys_served: None, code: int, reason: str, polish: str, english: str
):
    serve_login(mocked, statuses=[{"code": code, "description": "x", "details": ["y"]}])
    with pytest.raises(KsefAuthError) as caught:
        fresh_client().login_with_token(token=TOKEN_TEXT)
    assert (caught.value.code, caught.value.reason) == (code, reason)
    assert polish in caught.value.message_pl
    assert english in caught.value.message_en


def test_status_550_is_transient(mocked: responses.RequestsMock, keys_served: None):
    serve_login(mocked, statuses=[{"code": 550, "description": "Operacja została anulowana przez system"}])
    with pytest.raises(KsefTransientError) as caught:
        fresh_client().login_with_token(token=TOKEN_TEXT)
    assert not isinstance(caught.value, KsefAuthError)


def test_polling_gives_up_after_its_timeout(mocked: responses.RequestsMock, keys_served: None):
    from ksef_integration.ksef.auth import Authenticator, PollPolicy
    from ksef_integration.ksef.http import KsefHttp
    from ksef_integration.ksef.keys import PublicKeyStore

    serve_login(mocked, statuses=[{"code": 100, "description": "w toku"}])
    clock = [0.0]
    http = KsefHttp(base_url=BASE)

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    auth = Authenticator(
        http=http,
        keys=PublicKeyStore(http=http, clock=lambda: NOW),
        poll=PollPolicy(initial=1, factor=2, maximum=4, timeout=10),
        sleep=sleep,
        monotonic=lambda: clock[0],
    )
    with pytest.raises(KsefTransientError, match="still in progress"):
        auth.login_with_token(token=KsefToken.parse(TOKEN_TEXT))
    assert clock[0] <= 10
    polls = [c for c in mocked.calls if str(c.request.url).endswith(f"/auth/{AUTH_REF}")]
    assert len(polls) == 4  # at 0, 1, 3 and 7 s; the next wait (4 s) would pass the deadline


def test_refresh_before_expiry(mocked: responses.RequestsMock, client: KsefClient):
    from tests.ksef_integration.ksef.conftest import tokens

    client.tokens = tokens(valid_for=timedelta(seconds=60))
    mocked.post(
        f"{BASE}/auth/token/refresh",
        json={"accessToken": {"token": "access-jwt-NEW-5555", "validUntil": "2026-11-25T12:15:00Z"}},
    )
    mocked.get(
        f"{BASE}/sessions/20261125-SO-0000000000-0000000000-00",
        json={"status": {"code": 100, "description": "d"}},
    )
    client.sessions.session_status(session_reference="20261125-SO-0000000000-0000000000-00")
    refresh, status = mocked.calls
    assert refresh.request.headers["Authorization"] == "Bearer refresh-jwt-9876543210"
    assert status.request.headers["Authorization"] == "Bearer access-jwt-NEW-5555"
    assert client.tokens is not None
    assert client.tokens.refresh_token.reveal() == "refresh-jwt-9876543210"


def test_no_refresh_while_the_access_token_is_fresh(mocked: responses.RequestsMock, client: KsefClient):
    mocked.get(f"{BASE}/sessions/S", json={"status": {"code": 100, "description": "d"}})
    client.sessions.session_status(session_reference="S")
    assert len(mocked.calls) == 1


def test_not_logged_in(client: KsefClient):
    client.tokens = None
    with pytest.raises(KsefError, match="not logged in"):
        client.access_token()


def test_refresh_failure_is_an_auth_error(mocked: responses.RequestsMock, client: KsefClient):
    mocked.post(f"{BASE}/auth/token/refresh", status=401, json={"title": "Unauthorized", "status": 401})
    with pytest.raises(KsefUnauthorized):
        client.refresh()


def test_revoke_current_session(mocked: responses.RequestsMock, client: KsefClient):
    mocked.delete(f"{BASE}/auth/sessions/current", status=204)
    client.logout()
    assert mocked.calls[0].request.headers["Authorization"] == "Bearer access-jwt-0123456789"
    assert client.tokens is None


def test_token_get_returns_permissions(mocked: responses.RequestsMock, client: KsefClient):
    reference = "20251010-EC-1DCE3E3000-12ECB5B36E-45"
    mocked.get(
        f"{BASE}/tokens/{reference}",
        json={
            "referenceNumber": reference,
            "authorIdentifier": {"type": "Nip", "value": "5265877635"},
            "contextIdentifier": {"type": "Nip", "value": "5265877635"},
            "description": "Portal KSeF",
            "requestedPermissions": ["InvoiceRead", "InvoiceWrite"],
            "dateCreated": "2026-11-01T10:00:00+00:00",
            "lastUseDate": None,
            "status": "Active",
            "futureField": "x",
        },
    )
    info = client.token_get(reference_number=reference)
    assert info.is_active
    assert info.has("InvoiceWrite")
    assert info.has("InvoiceRead")
    assert not info.has("CredentialsManage")
    assert info.context == ContextIdentifier.nip("5265877635")


# --- certificate (XAdES) login ----------------------------------------------------------------------


def _seal(key):
    return self_signed(
        key,
        name="Firma Testowa",
        extra=[
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, "VATPL-5265877635"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Firma Testowa"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
        ],
    )


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_login_with_certificate(mocked: responses.RequestsMock, kind: str):
    key = rsa_key(3) if kind == "rsa" else ec.generate_private_key(ec.SECP256R1())
    certificate = _seal(key)
    serve_login(mocked, statuses=[{"code": 200, "description": "ok"}])
    tokens = fresh_client().login_with_certificate(
        certificate=certificate, private_key=key, context=ContextIdentifier.nip("5265877635")
    )
    assert tokens.access_token.reveal() == "access-jwt-BBBB2222"

    call = next(c for c in mocked.calls if "/auth/xades-signature" in str(c.request.url))
    assert call.request.headers["Content-Type"] == "application/xml"
    assert "verifyCertificateChain=false" in str(call.request.url)
    signed = call.request.body
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    XAdESVerifier().verify(signed, x509_cert=pem, expect_config=SignatureConfiguration(expect_references=3))

    root = etree.fromstring(signed)
    assert root.tag == f"{{{AUTH_NAMESPACE}}}AuthTokenRequest"
    assert root[-1].tag == "{http://www.w3.org/2000/09/xmldsig#}Signature"  # enveloped, last child
    assert root.findtext(f"{{{AUTH_NAMESPACE}}}Challenge") == CHALLENGE
    algorithm = root.find(".//{http://www.w3.org/2000/09/xmldsig#}SignatureMethod").get("Algorithm")
    assert algorithm.endswith("rsa-sha256" if kind == "rsa" else "ecdsa-sha256")


def test_tampered_signed_request_does_not_verify(mocked: responses.RequestsMock):
    key = rsa_key(3)
    certificate = _seal(key)
    serve_login(mocked, statuses=[{"code": 200, "description": "ok"}])
    fresh_client().login_with_certificate(
        certificate=certificate, private_key=key, context=ContextIdentifier.nip("5265877635")
    )
    call = next(c for c in mocked.calls if "/auth/xades-signature" in str(c.request.url))
    assert isinstance(call.request.body, bytes)
    signed = call.request.body
    tampered = signed.replace(b"<Nip>5265877635</Nip>", b"<Nip>1111111111</Nip>")
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    with pytest.raises(Exception, match=r"(?i)digest|signature"):
        XAdESVerifier().verify(
            tampered, x509_cert=pem, expect_config=SignatureConfiguration(expect_references=3)
        )


@pytest.mark.skipif(not AUTH_XSD.exists(), reason="the official auth XSD is not available here")
def test_unsigned_request_is_valid_against_the_official_schema():
    schema = etree.XMLSchema(etree.parse(str(AUTH_XSD)))
    document = auth_token_request_build(
        challenge=CHALLENGE,
        context=ContextIdentifier.nip("5265877635"),
        subject_identifier_type="certificateFingerprint",
        allowed_ips=AllowedIps(
            addresses=["192.168.0.10"], ranges=["10.0.0.1-10.0.0.254"], masks=["172.16.0.0/16"]
        ),
    )
    assert schema.validate(document), schema.error_log
    broken = auth_token_request_build(
        challenge="not-a-challenge", context=ContextIdentifier.nip("5265877635")
    )
    assert not schema.validate(broken)


def test_revoke_with_an_expired_access_token_uses_the_refresh_token(
    mocked: responses.RequestsMock, client: KsefClient
):
    from tests.ksef_integration.ksef.conftest import tokens

    client.tokens = tokens(valid_for=timedelta(seconds=-1))
    mocked.delete(f"{BASE}/auth/sessions/current", status=204)
    client.logout()
    assert mocked.calls[0].request.headers["Authorization"] == "Bearer refresh-jwt-9876543210"
