"""Invoice QR codes (ksef-api.md §10.3): KOD I (verify the invoice) and KOD II (offline issuer certificate),
plus SVG/PNG images with ``segno``."""

from __future__ import annotations

import io
from datetime import date

import segno
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ksef_integration.ksef.crypto import b64decode, b64url, sha256
from ksef_integration.ksef.environments import Environment
from ksef_integration.ksef.identifiers import CONTEXT_TYPES

LABEL_OFFLINE = "OFFLINE"
LABEL_CERTIFICATE = "CERTYFIKAT"
PSS_SALT_LENGTH = 32


def _host(qr_host: str | Environment) -> str:
    host = qr_host.qr_host if isinstance(qr_host, Environment) else qr_host
    return host.removeprefix("https://").rstrip("/")


def _hash_b64url(*, xml: bytes | None, invoice_hash: str | None) -> str:
    if (xml is None) == (invoice_hash is None):
        raise ValueError("give either the invoice XML or its hash")
    digest = sha256(xml) if xml is not None else b64decode(invoice_hash or "")
    if len(digest) != 32:
        raise ValueError("an invoice hash is a SHA-256 digest")
    return b64url(digest)


def kod1_url(
    *,
    qr_host: str | Environment,
    seller_nip: str,
    issue_date: date,
    xml: bytes | None = None,
    invoice_hash: str | None = None,
) -> str:
    """KOD I: ``https://{host}/invoice/{NIP}/{DD-MM-YYYY}/{SHA-256 base64url}``.

    ``invoice_hash`` is the standard-Base64 hash KSeF uses in JSON; or give the exact ``xml`` bytes sent.
    """
    hash_part = _hash_b64url(xml=xml, invoice_hash=invoice_hash)
    return f"https://{_host(qr_host)}/invoice/{seller_nip}/{issue_date.strftime('%d-%m-%Y')}/{hash_part}"


def certificate_serial_hex(certificate: x509.Certificate) -> str:
    """The certificate serial number as KSeF prints it: upper hex, at least 16 digits."""
    text = format(certificate.serial_number, "X")
    text = text.zfill(max(16, len(text) + len(text) % 2))
    return text


def kod2_signed_text(
    *,
    qr_host: str | Environment,
    context_type: str,
    context_value: str,
    seller_nip: str,
    certificate_serial: str,
    hash_b64url: str,
) -> str:
    """The string KOD II signs: the URL without ``https://`` and without the signature."""
    if context_type not in CONTEXT_TYPES:
        raise ValueError(f"unknown context type {context_type!r}")
    path = f"certificate/{context_type}/{context_value}/{seller_nip}/{certificate_serial}/{hash_b64url}"
    return f"{_host(qr_host)}/{path}"


def kod2_sign(*, text: str, private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    """RSA-PSS (SHA-256, MGF1-SHA-256, salt 32) or ECDSA P-256/SHA-256 as IEEE P1363 ``r||s``."""
    data = text.encode("utf-8")
    if isinstance(private_key, rsa.RSAPrivateKey):
        if private_key.key_size < 2048:
            raise ValueError("KOD II needs an RSA key of at least 2048 bits")
        return private_key.sign(
            data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT_LENGTH), hashes.SHA256()
        )
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError("KOD II signs with an EC P-256 key")
        r, s = decode_dss_signature(private_key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    raise TypeError("KOD II needs an RSA or EC private key")


def kod2_url(
    *,
    qr_host: str | Environment,
    context_type: str,
    context_value: str,
    seller_nip: str,
    certificate: x509.Certificate,
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    xml: bytes | None = None,
    invoice_hash: str | None = None,
) -> str:
    """KOD II for an offline invoice, signed with the private key of an **Offline** KSeF certificate."""
    text = kod2_signed_text(
        qr_host=qr_host,
        context_type=context_type,
        context_value=context_value,
        seller_nip=seller_nip,
        certificate_serial=certificate_serial_hex(certificate),
        hash_b64url=_hash_b64url(xml=xml, invoice_hash=invoice_hash),
    )
    return f"https://{text}/{b64url(kod2_sign(text=text, private_key=private_key))}"


def qr_svg(url: str, *, scale: int = 4, border: int = 4) -> bytes:
    """The QR image as SVG (error correction M, as most invoice printers use)."""
    buffer = io.BytesIO()
    segno.make(url, error="m", micro=False).save(buffer, kind="svg", scale=scale, border=border, xmldecl=True)
    return buffer.getvalue()


def qr_png(url: str, *, scale: int = 4, border: int = 4) -> bytes:
    buffer = io.BytesIO()
    segno.make(url, error="m", micro=False).save(buffer, kind="png", scale=scale, border=border)
    return buffer.getvalue()
