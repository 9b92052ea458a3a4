"""The company's KSeF Offline certificate (issue 8, ksef-api.md §9.2): uploading it (checked and stored with
the private key encrypted), removing it, and signing KOD II of an offline invoice with it (``kod2_for``)."""

from __future__ import annotations

import logging

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from accounts.models import Company, User
from invoices.models import Invoice
from ksef_integration.connect import gateway
from ksef_integration.encryption import SecretUnreadable, secret_decrypt, secret_encrypt
from ksef_integration.errors import ConnectError
from ksef_integration.ksef.qr import certificate_serial_hex, kod2_url
from ksef_integration.models import AuditEvent, OfflineCertificate

logger = logging.getLogger(__name__)

MAX_CERTIFICATE_BYTES = 64 * 1024
MAX_KEY_BYTES = 64 * 1024


def offline_certificate_for(*, company: Company) -> OfflineCertificate | None:
    return OfflineCertificate.objects.filter(company=company).first()


def _is_offline_type(certificate: x509.Certificate) -> bool:
    """A KSeF Offline certificate signs content (nonRepudiation) but not logins (no digitalSignature)."""
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return bool(usage.content_commitment) and not usage.digital_signature


@sensitive_variables()
def offline_certificate_upload(
    *, company: Company, user: User | None, certificate_bytes: bytes, private_key_bytes: bytes, password: str
) -> OfflineCertificate:
    """Check and store the company's Offline certificate; raises ``ConnectError`` with the reason.

    Checked: sizes, that both files read, that the key belongs to the certificate, that it is valid now, of
    the Offline type and issued for the company's NIP. The private key is stored encrypted only.
    """
    if len(certificate_bytes) > MAX_CERTIFICATE_BYTES or len(private_key_bytes) > MAX_KEY_BYTES:
        raise ConnectError("too_large", _("The file is too large for a KSeF certificate or key."))
    try:
        loaded = gateway.certificate_load(
            certificate_bytes=certificate_bytes,
            private_key_bytes=private_key_bytes,
            password=password or None,
        )
    except ConnectError as exc:
        if exc.code != "certificate_offline":
            raise
        loaded = None  # the login checks call an Offline certificate unfit for logins: exactly what we want
    if loaded is None:
        loaded = _load_offline(certificate_bytes, private_key_bytes, password)
    certificate = x509.load_pem_x509_certificate(loaded.certificate_pem.encode())
    if not _is_offline_type(certificate):
        raise ConnectError(
            "not_offline",
            _(
                "This is not a certificate of the Offline type. In the KSeF Taxpayer Application choose "
                "Certyfikaty → a new certificate of the Offline type."
            ),
        )
    if loaded.nip and loaded.nip != company.nip:
        raise ConnectError(
            "wrong_nip",
            _("The certificate was issued for NIP %(nip)s, not for this company.") % {"nip": loaded.nip},
        )
    key = certificate.public_key()
    key_type = "EC" if isinstance(key, ec.EllipticCurvePublicKey) else "RSA"
    row, _created = OfflineCertificate.objects.update_or_create(
        company=company,
        defaults={
            "certificate_pem": loaded.certificate_pem,
            "private_key_ciphertext": secret_encrypt(loaded.private_key_pkcs8),
            "serial": certificate_serial_hex(certificate),
            "key_type": key_type,
            "subject_nip": loaded.nip or "",
            "valid_from": loaded.valid_from,
            "valid_to": loaded.valid_to,
            "uploaded_at": timezone.now(),
            "uploaded_by": user,
        },
    )
    AuditEvent.objects.create(
        company=company,
        kind=AuditEvent.Kind.SETTINGS_CHANGED,
        actor=user,
        message=_("Offline certificate %(serial)s saved (valid to %(end)s).")
        % {"serial": row.serial, "end": f"{row.valid_to:%d.%m.%Y}"},
    )
    return row


@sensitive_variables()
def _load_offline(
    certificate_bytes: bytes, private_key_bytes: bytes, password: str
) -> gateway.CertificateCredential:
    """``gateway.certificate_load`` without the login-only check (used for an Offline certificate)."""
    certificate = gateway.certificate_read(certificate_bytes)
    key = gateway.private_key_read(private_key_bytes, password or None)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if certificate.public_key().public_bytes(
        serialization.Encoding.DER, spki
    ) != key.public_key().public_bytes(serialization.Encoding.DER, spki):
        raise ConnectError("key_mismatch", _("The private key does not belong to this certificate."))
    now = timezone.now()
    if not certificate.not_valid_before_utc <= now < certificate.not_valid_after_utc:
        raise ConnectError(
            "certificate_expired",
            _("The certificate is not valid now (valid from %(start)s to %(end)s).")
            % {
                "start": f"{certificate.not_valid_before_utc:%d.%m.%Y}",
                "end": f"{certificate.not_valid_after_utc:%d.%m.%Y}",
            },
        )
    return gateway.CertificateCredential(
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
        private_key_pkcs8=key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        serial=f"{certificate.serial_number:X}",
        valid_from=certificate.not_valid_before_utc,
        valid_to=certificate.not_valid_after_utc,
        nip=gateway.subject_nip(certificate),
    )


def offline_certificate_delete(*, company: Company, user: User | None) -> bool:
    deleted, _rows = OfflineCertificate.objects.filter(company=company).delete()
    if deleted:
        AuditEvent.objects.create(
            company=company,
            kind=AuditEvent.Kind.SETTINGS_CHANGED,
            actor=user,
            message=_("Offline certificate removed."),
        )
    return bool(deleted)


@sensitive_variables()
def _signing_material(
    row: OfflineCertificate,
) -> tuple[x509.Certificate, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey] | None:
    try:
        return gateway.stored_certificate(
            certificate_pem=row.certificate_pem, private_key_pkcs8=secret_decrypt(row.private_key_ciphertext)
        )
    except (SecretUnreadable, ConnectError, ValueError):
        logger.warning("offline certificate unreadable: company=%s", row.company_id)
        return None


def kod2_for(*, invoice: Invoice, invoice_hash: str) -> str | None:
    """KOD II for an offline invoice, signed with the company's Offline certificate (None without one)."""
    row = OfflineCertificate.objects.filter(company_id=invoice.company_id).first()
    if row is None or not row.is_valid_now or not invoice.seller_nip:
        return None
    material = _signing_material(row)
    if material is None:
        return None
    certificate, key = material
    company_nip = Company.objects.filter(pk=invoice.company_id).values_list("nip", flat=True).first()
    return kod2_url(
        qr_host=gateway.environment(),
        context_type="Nip",
        context_value=company_nip or invoice.seller_nip,
        seller_nip=invoice.seller_nip,
        certificate=certificate,
        private_key=key,
        invoice_hash=invoice_hash,
    )


__all__ = [
    "kod2_for",
    "offline_certificate_delete",
    "offline_certificate_for",
    "offline_certificate_upload",
]
