"""Every object that carries a credential shows none of it in ``repr()``/``str()`` (a traceback's locals,
a log line, an error report): tokens, session tokens, private keys."""

from __future__ import annotations

import datetime as dt

import pytest

from ksef_integration.connect import credentials, gateway
from ksef_integration.ksef.auth import AuthTokens
from ksef_integration.ksef.identifiers import ContextIdentifier, KsefToken
from ksef_integration.ksef.secret import Secret

ACCESS = "eyJhbGciOiJSUzI1NiJ9.access-part-that-must-not-leak.c2lnbmF0dXJl"
REFRESH = "eyJhbGciOiJSUzI1NiJ9.refresh-part-that-must-not-leak.c2lnbmF0dXJl"
KEY = b"-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg-must-not-leak\n"
TOKEN = "20251010-EC-1DCE3E3000-12ECB5B36E-45|nip-5265877635|" + "919f7044" * 8
LATER = dt.datetime(2026, 12, 31, tzinfo=dt.UTC)


def carriers() -> list[tuple[object, list[str]]]:
    return [
        (
            gateway.Login(
                permissions=["InvoiceWrite"],
                tokens=AuthTokens(
                    access_token=Secret(ACCESS),
                    access_valid_until=LATER,
                    refresh_token=Secret(REFRESH),
                    refresh_valid_until=LATER,
                ),
            ),
            [ACCESS, REFRESH, "access-part", "refresh-part"],
        ),
        (
            credentials.CertificateCredential(
                certificate_pem="-----BEGIN CERTIFICATE-----",
                private_key_pkcs8=KEY,
                serial="01",
                valid_from=LATER,
                valid_to=LATER,
                nip="5265877635",
            ),
            ["must-not-leak", "PRIVATE KEY"],
        ),
        (
            AuthTokens(
                access_token=Secret(ACCESS),
                access_valid_until=LATER,
                refresh_token=Secret(REFRESH),
                refresh_valid_until=LATER,
            ),
            ["access-part", "refresh-part"],
        ),
        (
            KsefToken(
                secret=Secret(TOKEN),
                reference_number="20251010-EC-1DCE3E3000-12ECB5B36E-45",
                context=ContextIdentifier("Nip", "5265877635"),
            ),
            ["919f7044919f"],
        ),
    ]


@pytest.mark.parametrize(("carrier", "secrets"), carriers(), ids=lambda value: type(value).__name__)
def test_no_credential_in_repr_or_str(carrier: object, secrets: list[str]) -> None:
    for text in (repr(carrier), str(carrier), f"{carrier}", repr([carrier]), repr({"x": carrier})):
        assert not [secret for secret in secrets if secret in text], text
