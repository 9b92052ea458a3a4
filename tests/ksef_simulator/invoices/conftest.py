"""Fixtures for the simulator's invoice side: a movable clock, access tokens, and a client that encrypts."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.test import Client

from ksef_simulator import ids, processing
from ksef_simulator.conf import config_update
from ksef_simulator.security import ACCESS, KSEF_TOKEN_REF, SUBJECT_TYPE, SUBJECT_VALUE, token_issue
from tests.ksef_simulator.invoices import fa3
from tests.ksef_simulator.invoices.openapi import assert_valid

API = "/ksef-sim/v2"
DELAY = dt.timedelta(seconds=2)
STORAGE_LAG = dt.timedelta(seconds=1)
HWM_LAG = dt.timedelta(seconds=3)


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta = DELAY * 2) -> None:
        self.now += delta


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch, db: Any) -> Clock:
    config_update(invoice_processing_delay=DELAY, permanent_storage_lag=STORAGE_LAG, hwm_lag=HWM_LAG)
    moving = Clock()
    monkeypatch.setattr(processing, "now", moving)
    return moving


def sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def aes(key: bytes, iv: bytes, data: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padder.update(data) + padder.finalize()) + encryptor.finalize()


def aes_open(key: bytes, iv: bytes, data: bytes) -> bytes:
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(decryptor.update(data) + decryptor.finalize()) + unpadder.finalize()


@dataclass
class Ksef:
    """A tiny KSeF client over Django's test client, written from the spec (not from our own client)."""

    client: Client
    nip: str
    permissions: list[str]
    key: bytes = field(default_factory=lambda: os.urandom(32))
    iv: bytes = field(default_factory=lambda: os.urandom(16))
    context_type: str = "Nip"
    context_suffix: str = ""  # e.g. "-ATU12345678" for a NipVatUe context
    subject: tuple[str, str] | None = None  # (type, value) of who authenticated; the context's NIP by default
    ksef_token: str | None = None  # the reference of the KSeF token it authenticated with

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": self.bearer}

    @property
    def bearer(self) -> str:
        token, _ = token_issue(
            kind=ACCESS,
            context_type=self.context_type,
            context_value=self.nip + self.context_suffix,
            auth_reference=ids.reference_number("AU"),
            permissions=self.permissions,
            lifetime=dt.timedelta(minutes=15),
            extra={
                SUBJECT_TYPE: (self.subject or ("Nip", self.nip))[0],
                SUBJECT_VALUE: (self.subject or ("Nip", self.nip))[1],
                **({KSEF_TOKEN_REF: self.ksef_token} if self.ksef_token else {}),
            },
        )
        return f"Bearer {token}"

    def get(self, path: str, **extra: Any) -> Any:
        return self.client.get(API + path, headers=self.auth, **extra)

    def post(self, path: str, body: Any = None, *, schema: str | None = None, **extra: Any) -> Any:
        if schema is not None:
            assert_valid(schema, body)
        data = json.dumps(body) if body is not None else ""
        return self.client.post(
            API + path, data=data, content_type="application/json", headers=self.auth, **extra
        )

    def encryption(self, key: bytes | None = None) -> dict[str, str]:
        certificates = self.client.get(API + "/security/public-key-certificates").json()
        chosen = next(c for c in certificates if "SymmetricKeyEncryption" in c["usage"])
        public_key = x509.load_der_x509_certificate(base64.b64decode(chosen["certificate"])).public_key()
        assert isinstance(public_key, rsa.RSAPublicKey)
        oaep = asym_padding.OAEP(
            mgf=asym_padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None
        )
        wrapped = public_key.encrypt(key if key is not None else self.key, oaep)
        return {
            "encryptedSymmetricKey": base64.b64encode(wrapped).decode(),
            "initializationVector": base64.b64encode(self.iv).decode(),
            "publicKeyId": chosen["publicKeyId"],
        }

    def open_online(self, system_code: str = "FA (3)") -> str:
        body = {
            "formCode": {"systemCode": system_code, "schemaVersion": "1-0E", "value": "FA"},
            "encryption": self.encryption(),
        }
        response = self.post("/sessions/online", body, schema="OpenOnlineSessionRequest")
        assert response.status_code == 201, response.content
        assert_valid("OpenOnlineSessionResponse", response.json())
        return str(response.json()["referenceNumber"])

    def send_body(self, xml: bytes, **overrides: Any) -> dict[str, Any]:
        encrypted = aes(self.key, self.iv, xml)
        body = {
            "invoiceHash": sha(xml),
            "invoiceSize": len(xml),
            "encryptedInvoiceHash": sha(encrypted),
            "encryptedInvoiceSize": len(encrypted),
            "encryptedInvoiceContent": base64.b64encode(encrypted).decode(),
            "offlineMode": False,
        }
        body.update(overrides)
        return body

    def send(self, session: str, xml: bytes, **overrides: Any) -> Any:
        body = self.send_body(xml, **overrides)
        return self.post(f"/sessions/online/{session}/invoices", body)

    def send_ok(self, session: str, xml: bytes, **overrides: Any) -> str:
        response = self.send(session, xml, **overrides)
        assert response.status_code == 202, response.content
        assert_valid("SendInvoiceResponse", response.json())
        return str(response.json()["referenceNumber"])

    def invoice_status(self, session: str, invoice: str) -> dict[str, Any]:
        response = self.get(f"/sessions/{session}/invoices/{invoice}")
        assert response.status_code == 200, response.content
        assert_valid("SessionInvoiceStatusResponse", response.json())
        return dict(response.json())

    def session_status(self, session: str) -> dict[str, Any]:
        response = self.get(f"/sessions/{session}")
        assert response.status_code == 200, response.content
        assert_valid("SessionStatusResponse", response.json())
        return dict(response.json())


@pytest.fixture
def seller(client: Client, clock: Clock) -> Ksef:
    return Ksef(client=client, nip=fa3.nip(), permissions=["InvoiceWrite", "InvoiceRead"])


@pytest.fixture
def buyer(client: Client, clock: Clock) -> Ksef:
    return Ksef(client=client, nip=fa3.nip(), permissions=["InvoiceRead"])
