"""QR codes: KOD I exactly as in the documentation, KOD II signatures that verify, and images."""

from __future__ import annotations

import base64
from datetime import date

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ksef_integration.ksef.crypto import b64url_decode, sha256, sha256_b64
from ksef_integration.ksef.environments import PROD, TEST
from ksef_integration.ksef.qr import certificate_serial_hex, kod1_url, kod2_url, qr_png, qr_svg
from tests.ksef_integration.ksef.conftest import rsa_key, self_signed

DOC_KOD1 = (
    "https://qr-test.ksef.mf.gov.pl/invoice/1111111111/01-02-2026/UtQp9Gpc51y-u3xApZjIjgkpZ01js-J8KflSPW8WzIE"
)
DOC_HASH_B64URL = "UtQp9Gpc51y-u3xApZjIjgkpZ01js-J8KflSPW8WzIE"
SERIAL = 0x01F20A5D352AE590


def doc_hash() -> str:
    return base64.b64encode(b64url_decode(DOC_HASH_B64URL)).decode()


def test_kod1_reproduces_the_documentation_example():
    url = kod1_url(
        qr_host=TEST, seller_nip="1111111111", issue_date=date(2026, 2, 1), invoice_hash=doc_hash()
    )
    assert url == DOC_KOD1


def test_kod1_from_xml_bytes_on_production():
    xml = b"<Faktura>x</Faktura>"
    url = kod1_url(qr_host=PROD, seller_nip="5265877635", issue_date=date(2026, 12, 31), xml=xml)
    hash_part = url.rsplit("/", 1)[1]
    assert url.startswith("https://qr.ksef.mf.gov.pl/invoice/5265877635/31-12-2026/")
    assert len(hash_part) == 43
    assert b64url_decode(hash_part) == sha256(xml)
    assert (
        kod1_url(
            qr_host=PROD, seller_nip="5265877635", issue_date=date(2026, 12, 31), invoice_hash=sha256_b64(xml)
        )
        == url
    )


def test_kod1_needs_exactly_one_source():
    with pytest.raises(ValueError, match="either"):
        kod1_url(qr_host=TEST, seller_nip="1111111111", issue_date=date(2026, 2, 1))


def test_rsa_kod2_is_pss_signed_and_verifies():
    key = rsa_key(3)
    certificate = self_signed(key, serial=SERIAL)
    url = kod2_url(
        qr_host=TEST,
        context_type="Nip",
        context_value="1111111111",
        seller_nip="1111111111",
        certificate=certificate,
        private_key=key,
        invoice_hash=doc_hash(),
    )
    signed_text = (
        "qr-test.ksef.mf.gov.pl/certificate/Nip/1111111111/1111111111/01F20A5D352AE590/" + DOC_HASH_B64URL
    )
    assert url.startswith("https://" + signed_text + "/")
    signature_text = url.rsplit("/", 1)[1]
    assert "=" not in signature_text
    assert len(signature_text) == 342
    signature = b64url_decode(signature_text)
    public_key = certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(
        signature,
        signed_text.encode(),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )
    with pytest.raises(InvalidSignature):
        public_key.verify(
            signature,
            signed_text.replace("Nip/1111111111/", "Nip/5265877635/", 1).encode(),
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
            hashes.SHA256(),
        )


def test_ec_kod2_is_p1363_and_verifies():
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = self_signed(key, serial=SERIAL)
    url = kod2_url(
        qr_host=TEST,
        context_type="Nip",
        context_value="5265877635",
        seller_nip="5265877635",
        certificate=certificate,
        private_key=key,
        xml=b"<Faktura/>",
    )
    base, signature_text = url.rsplit("/", 1)
    raw = b64url_decode(signature_text)
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public_key = certificate.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(der, base.removeprefix("https://").encode(), ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        public_key.verify(der, base.removeprefix("https://").encode() + b"x", ec.ECDSA(hashes.SHA256()))


def test_kod2_refuses_other_curves_and_contexts():
    key = ec.generate_private_key(ec.SECP384R1())
    certificate = self_signed(key)
    with pytest.raises(ValueError, match="P-256"):
        kod2_url(
            qr_host=TEST,
            context_type="Nip",
            context_value="1111111111",
            seller_nip="1111111111",
            certificate=certificate,
            private_key=key,
            xml=b"x",
        )
    with pytest.raises(ValueError, match="context type"):
        kod2_url(
            qr_host=TEST,
            context_type="Pesel",
            context_value="1",
            seller_nip="1111111111",
            certificate=certificate,
            private_key=key,
            xml=b"x",
        )


def test_certificate_serial_is_16_upper_hex():
    assert certificate_serial_hex(self_signed(rsa_key(3), serial=SERIAL)) == "01F20A5D352AE590"


def test_images():
    svg = qr_svg(DOC_KOD1)
    assert svg.startswith(b"<?xml")
    assert b"<svg" in svg
    png = qr_png(DOC_KOD1)
    assert png.startswith(b"\x89PNG")
    assert qr_png(DOC_KOD1 + "x") != png
