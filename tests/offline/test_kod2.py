"""KOD II (ksef-api.md §10.3): links signed with an Offline certificate (RSA-PSS and ECDSA P-256) verify
against the certificate's public key, and the simulator's QR verification page accepts them."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from accounts.models import Company
from ksef_integration.ksef.crypto import sha256_b64
from ksef_integration.ksef.qr import kod1_url, kod2_url
from ksef_simulator.pages.qr import qr_link_verify
from tests.offline.conftest import issue_certificate, plain_key

pytestmark = pytest.mark.django_db

HOST = "qr-test.ksef.mf.gov.pl"
INVOICE_HASH = sha256_b64(b"<Faktura>test</Faktura>")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _split(link: str) -> tuple[bytes, bytes]:
    """(the signed text, the signature) of a KOD II link."""
    body = link.removeprefix("https://")
    signed, signature = body.rsplit("/", 1)
    return signed.encode(), _b64url_decode(signature)


def _link(company: Company, key_type: str) -> tuple[str, x509.Certificate]:
    certificate_pem, key_pem = issue_certificate(company.nip, key_type=key_type)
    certificate = x509.load_pem_x509_certificate(certificate_pem)
    link = kod2_url(
        qr_host=HOST,
        context_type="Nip",
        context_value=company.nip,
        seller_nip=company.nip,
        certificate=certificate,
        private_key=plain_key(key_pem),
        invoice_hash=INVOICE_HASH,
    )
    return link, certificate


def test_rsa_kod2_verifies_with_pss_and_the_simulator_accepts_it(company_a: Company) -> None:
    link, certificate = _link(company_a, "RSA")
    assert link.startswith(f"https://{HOST}/certificate/Nip/{company_a.nip}/{company_a.nip}/")
    signed, signature = _split(link)
    public: Any = certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(
        signature, signed, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256()
    )
    check = qr_link_verify(link)
    assert (check.kind, check.ok) == ("KOD II", True), check.messages


def test_ec_kod2_verifies_as_p1363_and_the_simulator_accepts_it(company_a: Company) -> None:
    link, certificate = _link(company_a, "EC")
    signed, signature = _split(link)
    assert len(signature) == 64  # IEEE P1363 r||s
    public: Any = certificate.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    public.verify(der, signed, ec.ECDSA(hashes.SHA256()))
    check = qr_link_verify(link)
    assert check.ok, check.messages


def test_the_simulator_refuses_a_tampered_link_an_authentication_certificate_and_another_nip(
    company_a: Company, company_b: Company
) -> None:
    link, _certificate = _link(company_a, "EC")
    signed, _signature = _split(link)
    # Another invoice hash under the same signature.
    other_hash = base64.urlsafe_b64encode(b"\x01" * 32).decode().rstrip("=")
    tampered = "https://" + signed.decode().rsplit("/", 1)[0] + f"/{other_hash}/" + link.rsplit("/", 1)[1]
    check = qr_link_verify(tampered)
    assert not check.ok
    assert "Podpis kodu nie jest prawidłowy." in check.messages
    # Signed by an Authentication certificate: KSeF refuses it for KOD II.
    auth_pem, auth_key = issue_certificate(company_a.nip, kind="Authentication", key_type="EC")
    auth_link = kod2_url(
        qr_host=HOST,
        context_type="Nip",
        context_value=company_a.nip,
        seller_nip=company_a.nip,
        certificate=x509.load_pem_x509_certificate(auth_pem),
        private_key=plain_key(auth_key),
        invoice_hash=INVOICE_HASH,
    )
    check = qr_link_verify(auth_link)
    assert not check.ok
    assert "Certyfikat nie jest typu Offline." in check.messages
    # A certificate of company A used in company B's context.
    foreign = link.replace(f"/Nip/{company_a.nip}/{company_a.nip}/", f"/Nip/{company_b.nip}/{company_b.nip}/")
    assert not qr_link_verify(foreign).ok


def test_the_verification_page_shows_the_result(client: Any, company_a: Company) -> None:
    link, _certificate = _link(company_a, "RSA")
    page = client.get("/ksef-sim/weryfikacja-qr/", {"link": link}).content.decode()
    assert 'data-ok="1"' in page
    assert "Kod wystawcy jest prawidłowy" in page
    kod1 = kod1_url(
        qr_host=HOST,
        seller_nip=company_a.nip,
        issue_date=dt.date(2026, 11, 2),
        invoice_hash=INVOICE_HASH,
    )
    page = client.get("/ksef-sim/weryfikacja-qr/", {"link": kod1}).content.decode()
    assert 'data-ok="0"' in page
    assert "nie ma (jeszcze) w KSeF" in page
    assert (
        'data-kind=""'
        in client.get("/ksef-sim/weryfikacja-qr/", {"link": "https://example.com/"}).content.decode()
    )
