"""The simulator's stand-in for KSeF's QR verification site (ksef-api.md §10.3): paste a scanned KOD I or
KOD II link and see what KSeF would say. KOD II is checked like KSeF does: the certificate is a KSeF
certificate of type Offline, valid and not revoked, issued for the context; the signature (RSASSA-PSS
SHA-256 salt 32, or ECDSA P-256 SHA-256 as R||S or DER) covers the link without ``https://`` and signature.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from ksef_simulator import services_certificates, services_permissions
from ksef_simulator.models import SimInvoice

_B64URL = r"[A-Za-z0-9_-]+"
KOD1 = re.compile(
    rf"^https?://(?P<host>[^/]+)/invoice/(?P<nip>\d{{10}})/(?P<date>\d{{2}}-\d{{2}}-\d{{4}})/(?P<hash>{_B64URL})/?$"
)
KOD2 = re.compile(
    rf"^https?://(?P<signed>(?P<host>[^/]+)/certificate/(?P<ctx_type>Nip|InternalId|NipVatUe|PeppolId)/"
    rf"(?P<ctx_value>[^/]+)/(?P<nip>\d{{10}})/(?P<serial>[0-9A-Fa-f]+)/(?P<hash>{_B64URL}))/(?P<sig>{_B64URL})/?$"
)
MAX_LINK = 2000
_IDENTIFIER_NAMES = {"Nip": "NIP", "Pesel": "PESEL", "Fingerprint": "odcisk certyfikatu"}


@dataclass
class QrCheck:
    kind: str  # "KOD I", "KOD II" or "" (not a KSeF link)
    ok: bool = False
    messages: list[str] = field(default_factory=list)
    invoice: SimInvoice | None = None


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _invoice_for(nip: str, hash_b64url: str) -> SimInvoice | None:
    try:
        digest = _b64url_decode(hash_b64url)
    except ValueError:
        return None
    if len(digest) != 32:
        return None
    standard = base64.b64encode(digest).decode()
    accepted = SimInvoice.objects.filter(invoice_hash=standard, seller_nip=nip, status_code=200).first()
    if accepted is not None:
        return accepted
    # A technical correction replaced a rejected file: its old KOD I leads to the corrected invoice.
    return SimInvoice.objects.filter(
        hash_of_corrected_invoice=standard, seller_nip=nip, status_code=200
    ).first()


def _kod1(match: re.Match[str]) -> QrCheck:
    check = QrCheck(kind="KOD I")
    try:
        day, month, year = (int(part) for part in match["date"].split("-"))
        issue_date = dt.date(year, month, day)
    except ValueError:
        check.messages.append("Nieprawidłowa data wystawienia w linku.")
        return check
    invoice = _invoice_for(match["nip"], match["hash"])
    if invoice is None:
        check.messages.append("Faktury o tym skrócie nie ma (jeszcze) w KSeF.")
        return check
    if invoice.issue_date and invoice.issue_date != issue_date:
        check.messages.append("Data wystawienia w linku nie zgadza się z fakturą.")
        return check
    check.ok, check.invoice = True, invoice
    check.messages.append(f"Faktura jest w KSeF: {invoice.ksef_number} (tryb {invoice.invoicing_mode}).")
    return check


def _signature_ok(certificate: x509.Certificate, signed: bytes, signature: bytes) -> bool:
    key = certificate.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(
                signature,
                signed,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                hashes.SHA256(),
            )
            return True
        if isinstance(key, ec.EllipticCurvePublicKey):
            if len(signature) == 64:  # IEEE P1363 r||s
                r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
                signature = encode_dss_signature(r, s)
            key.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
            return True
    except (InvalidSignature, ValueError):
        return False
    return False


def _kod2(match: re.Match[str]) -> QrCheck:
    check = QrCheck(kind="KOD II")
    row = services_certificates.issued_certificate_by_serial(match["serial"])
    if row is None:
        check.messages.append("Certyfikat o tym numerze nie został wystawiony w KSeF.")
        return check
    now = timezone.now()
    if row.kind != "Offline":
        check.messages.append("Certyfikat nie jest typu Offline.")
    if row.revoked_at is not None:
        check.messages.append("Certyfikat został unieważniony.")
    if not row.valid_from <= now < row.valid_to:
        check.messages.append("Certyfikat nie jest ważny.")
    rights = services_permissions.permissions_for(
        context_type=match["ctx_type"],
        context_value=match["ctx_value"],
        subject_type=row.subject_type,
        subject_value=row.subject_value,
    )
    if "InvoiceWrite" not in rights:
        check.messages.append("Właściciel certyfikatu nie ma uprawnień w tym kontekście.")
    if match["nip"] != match["ctx_value"]:
        check.messages.append("Kontekst nie może wystawiać faktur w imieniu tego sprzedawcy.")
    try:
        digest = _b64url_decode(match["hash"])
        signature = _b64url_decode(match["sig"])
    except ValueError:
        digest, signature = b"", b""
    if len(digest) != 32:
        check.messages.append("Nieprawidłowy skrót faktury w linku.")
    certificate = x509.load_der_x509_certificate(bytes(row.certificate_der))
    if not _signature_ok(certificate, match["signed"].encode(), signature):
        check.messages.append("Podpis kodu nie jest prawidłowy.")
    if check.messages:
        return check
    check.ok = True
    check.messages.append(
        f"Kod wystawcy jest prawidłowy: certyfikat Offline {row.serial_number}, "
        f"{_IDENTIFIER_NAMES.get(row.subject_type, row.subject_type)} {row.subject_value}."
    )
    check.invoice = _invoice_for(match["nip"], match["hash"])
    return check


def qr_link_verify(link: str) -> QrCheck:
    """What KSeF's verification page says about a scanned KOD I or KOD II link."""
    link = link.strip()
    if len(link) > MAX_LINK:
        return QrCheck(kind="", messages=["To nie jest link z kodu QR KSeF."])
    if match := KOD2.match(link):
        return _kod2(match)
    if match := KOD1.match(link):
        return _kod1(match)
    return QrCheck(kind="", messages=["To nie jest link z kodu QR KSeF."])


def qr_verify(request: HttpRequest) -> HttpResponse:
    """Weryfikacja kodu QR: paste the scanned link (``?link=``)."""
    link = request.GET.get("link", "")
    check = qr_link_verify(link) if link else None
    return render(request, "ksef_simulator/qr_verify.html", {"link": link, "check": check})
