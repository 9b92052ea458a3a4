"""Fixtures for the KSeF client's unit tests: MF-like key certificates and a client on a fake base URL."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import responses
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ksef_integration.ksef.auth import AuthTokens
from ksef_integration.ksef.client import KsefClient
from ksef_integration.ksef.environments import simulator
from ksef_integration.ksef.secret import Secret

BASE = "https://ksef.example.test/v2"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@dataclass
class MfKey:
    """A key pair with a self-signed certificate, shaped like an entry of KSeF's key list."""

    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    usage: list[str]
    valid_from: datetime
    valid_to: datetime

    @property
    def public_key_id(self) -> str:
        spki = self.certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(hashlib.sha256(spki).digest()).decode()

    def as_json(self) -> dict[str, Any]:
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return {
            "certificate": base64.b64encode(der).decode(),
            "certificateId": base64.b64encode(hashlib.sha256(der).digest()).decode(),
            "publicKeyId": self.public_key_id,
            "validFrom": self.valid_from.isoformat(),
            "validTo": self.valid_to.isoformat(),
            "usage": self.usage,
            "someFutureField": {"ignored": True},
        }


_RSA_CACHE: list[rsa.RSAPrivateKey] = []


def rsa_key(index: int = 0) -> rsa.RSAPrivateKey:
    # Generating RSA keys is slow; a few are enough for the whole run.
    while len(_RSA_CACHE) <= index:
        _RSA_CACHE.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return _RSA_CACHE[index]


def self_signed(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    *,
    name: str = "Ministerstwo Finansów",
    serial: int | None = None,
    extra: list[x509.NameAttribute] | None = None,
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name), *(extra or [])])
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=400))
        .not_valid_after(NOW + timedelta(days=400))
        .sign(key, hashes.SHA256())
    )


def mf_key(
    usage: str, *, index: int, valid_from: datetime | None = None, valid_to: datetime | None = None
) -> MfKey:
    key = rsa_key(index)
    return MfKey(
        private_key=key,
        certificate=self_signed(key, serial=1000 + index),
        usage=[usage],
        valid_from=valid_from or NOW - timedelta(days=30),
        valid_to=valid_to or NOW + timedelta(days=300),
    )


@pytest.fixture
def token_key() -> MfKey:
    return mf_key("KsefTokenEncryption", index=0)


@pytest.fixture
def symmetric_key() -> MfKey:
    return mf_key("SymmetricKeyEncryption", index=1)


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def keys_served(mocked: responses.RequestsMock, token_key: MfKey, symmetric_key: MfKey) -> None:
    mocked.get(
        f"{BASE}/security/public-key-certificates", json=[token_key.as_json(), symmetric_key.as_json()]
    )


def tokens(
    *, access: str = "access-jwt-0123456789", valid_for: timedelta = timedelta(minutes=15)
) -> AuthTokens:
    return AuthTokens(
        access_token=Secret(access),
        access_valid_until=NOW + valid_for,
        refresh_token=Secret("refresh-jwt-9876543210"),
        refresh_valid_until=NOW + timedelta(days=7),
        reference_number="20261125-AU-0000000000-0000000000-00",
    )


@pytest.fixture
def client() -> KsefClient:
    return KsefClient(
        environment=simulator(api_url=BASE),
        tokens=tokens(),
        sleep=lambda seconds: None,
        clock=lambda: NOW,
    )


def body(call: Any) -> Any:
    import json

    return json.loads(call.request.body)
