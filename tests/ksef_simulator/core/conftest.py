"""Helpers for the simulator core's tests: NIPs, challenges, encrypted KSeF tokens, XAdES signing, logins.

Written independently of ``ksef_integration`` on purpose: the tests play an outside KSeF client.
"""

from __future__ import annotations

import base64
import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import methods
from signxml.algorithms import SignatureMethod
from signxml.xades import XAdESSigner

from ksef_simulator.conf import config_update
from tests.ksef_simulator.core.spec import assert_response_matches

V2 = "/ksef-sim/v2"
AUTH_NS = "http://ksef.mf.gov.pl/auth/token/2.0"
_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)


def random_nip() -> str:
    while True:
        head = [random.randint(1, 9), *(random.randint(0, 9) for _ in range(8))]
        check = sum(d * w for d, w in zip(head, _WEIGHTS, strict=True)) % 11
        nip = "".join(map(str, head)) + str(check)
        if check != 10 and nip[1:3] != "00":
            return nip


@pytest.fixture(autouse=True)
def fast_simulator(db: Any) -> None:
    """No artificial delays unless a test asks for them; rate limits on (their defaults)."""
    config_update(auth_delay=0, token_activation_delay=0)


@pytest.fixture
def nip() -> str:
    return random_nip()


def get_challenge(client: Any) -> dict[str, Any]:
    response = client.post(f"{V2}/auth/challenge")
    return assert_response_matches(response, "POST", "/auth/challenge")


def token_key(client: Any) -> tuple[rsa.RSAPublicKey, str]:
    items = client.get(f"{V2}/security/public-key-certificates").json()
    item = next(i for i in items if "KsefTokenEncryption" in i["usage"])
    public_key = x509.load_der_x509_certificate(base64.b64decode(item["certificate"])).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    return public_key, item["publicKeyId"]


def encrypt_token(public_key: rsa.RSAPublicKey, plaintext: str) -> str:
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    return base64.b64encode(public_key.encrypt(plaintext.encode(), oaep)).decode()


def ksef_token_body(
    client: Any, token: str, nip: str, *, timestamp_ms: int | None = None, context_type: str = "Nip"
) -> dict[str, Any]:
    challenge = get_challenge(client)
    public_key, key_id = token_key(client)
    stamp = challenge["timestampMs"] if timestamp_ms is None else timestamp_ms
    return {
        "challenge": challenge["challenge"],
        "contextIdentifier": {"type": context_type, "value": nip},
        "encryptedToken": encrypt_token(public_key, f"{token}|{stamp}"),
        "publicKeyId": key_id,
    }


def post_json(client: Any, path: str, body: Any, **headers: Any) -> Any:
    return client.post(f"{V2}{path}", data=body, content_type="application/json", **headers)


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


# --- certificates and XAdES ----------------------------------------------------------------------


@dataclass
class Signer:
    key: Any
    certificate: x509.Certificate

    @property
    def cert_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()


def self_signed(
    *,
    nip: str | None = None,
    pesel: str | None = None,
    seal: bool = False,
    key_type: str = "RSA",
    days: tuple[int, int] = (-1, 365),
) -> Signer:
    key: Any = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if key_type == "RSA"
        else ec.generate_private_key(ec.SECP256R1())
    )
    attributes = [
        x509.NameAttribute(NameOID.COMMON_NAME, "Test"),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
    ]
    if seal and nip:
        attributes += [
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"VATPL-{nip}"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Firma testowa"),
        ]
    elif nip or pesel:
        serial = f"TINPL-{nip}" if nip else f"PNOPL-{pesel}"
        attributes += [
            x509.NameAttribute(NameOID.SERIAL_NUMBER, serial),
            x509.NameAttribute(NameOID.GIVEN_NAME, "Jan"),
            x509.NameAttribute(NameOID.SURNAME, "Kowalski"),
        ]
    name = x509.Name(attributes)
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + dt.timedelta(days=days[0]))
        .not_valid_after(now + dt.timedelta(days=days[1]))
        .sign(key, hashes.SHA256())
    )
    return Signer(key=key, certificate=certificate)


def auth_request_xml(
    challenge: str, context_value: str, *, context_type: str = "Nip", subject: str = "certificateSubject",
    namespace: str = AUTH_NS, allowed_ips: list[str] | None = None,
) -> bytes:  # fmt: skip
    ips = ""
    if allowed_ips:
        ips = (
            "<AuthorizationPolicy><AllowedIps>"
            + "".join(f"<Ip4Address>{ip}</Ip4Address>" for ip in allowed_ips)
            + "</AllowedIps></AuthorizationPolicy>"
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><AuthTokenRequest xmlns="{namespace}">'
        f"<Challenge>{challenge}</Challenge>"
        f"<ContextIdentifier><{context_type}>{context_value}</{context_type}></ContextIdentifier>"
        f"<SubjectIdentifierType>{subject}</SubjectIdentifierType>{ips}</AuthTokenRequest>"
    ).encode()


def xades_sign(document: bytes, signer: Signer) -> bytes:
    root = etree.fromstring(document)
    algorithm = (
        SignatureMethod.ECDSA_SHA256
        if isinstance(signer.key, ec.EllipticCurvePrivateKey)
        else SignatureMethod.RSA_SHA256
    )
    xades = XAdESSigner(method=methods.enveloped, signature_algorithm=algorithm)
    signed = xades.sign(root, key=signer.key, cert=[signer.cert_pem])
    return etree.tostring(signed, xml_declaration=True, encoding="utf-8")


def post_xades(client: Any, body: bytes, query: str = "") -> Any:
    return client.post(f"{V2}/auth/xades-signature{query}", data=body, content_type="application/xml")


# --- whole logins --------------------------------------------------------------------------------


@dataclass
class Session:
    reference: str
    authentication_token: str
    access_token: str
    refresh_token: str


def wait_status(client: Any, reference: str, token: str) -> dict[str, Any]:
    response = client.get(f"{V2}/auth/{reference}", **bearer(token))
    return assert_response_matches(response, "GET", "/auth/{referenceNumber}")


def redeem(client: Any, init: dict[str, Any]) -> Session:
    token = init["authenticationToken"]["token"]
    assert wait_status(client, init["referenceNumber"], token)["status"]["code"] == 200
    response = client.post(f"{V2}/auth/token/redeem", **bearer(token))
    tokens = assert_response_matches(response, "POST", "/auth/token/redeem")
    return Session(
        reference=init["referenceNumber"],
        authentication_token=token,
        access_token=tokens["accessToken"]["token"],
        refresh_token=tokens["refreshToken"]["token"],
    )


def start_xades(client: Any, nip: str, signer: Signer | None = None, **kwargs: Any) -> Any:
    challenge = get_challenge(client)["challenge"]
    body = xades_sign(auth_request_xml(challenge, nip, **kwargs), signer or self_signed(nip=nip, seal=True))
    return post_xades(client, body)


def login_xades(client: Any, nip: str, signer: Signer | None = None) -> Session:
    response = start_xades(client, nip, signer)
    return redeem(client, assert_response_matches(response, "POST", "/auth/xades-signature"))


def login_token(client: Any, token: str, nip: str) -> Session:
    response = post_json(client, "/auth/ksef-token", ksef_token_body(client, token, nip))
    return redeem(client, assert_response_matches(response, "POST", "/auth/ksef-token"))


@pytest.fixture
def owner(client: Any, nip: str) -> Session:
    """A session of the owner of ``nip`` (XAdES with a self-signed seal)."""
    return login_xades(client, nip)
