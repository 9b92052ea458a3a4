"""The company's KSeF Offline certificate (issue 8, ksef-api.md §9.2): uploading it (checked and stored with
the private key encrypted), removing it, and signing KOD II of an offline invoice with it (``kod2_for``)."""

from __future__ import annotations

import logging

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from accounts.models import Company, User
from invoices.models import Invoice
from ksef_integration.connect import credentials, gateway
from ksef_integration.encryption import SecretUnreadable, secret_decrypt, secret_encrypt
from ksef_integration.errors import ConnectError
from ksef_integration.ksef.qr import certificate_serial_hex, kod2_url
from ksef_integration.models import AuditEvent, OfflineCertificate

logger = logging.getLogger(__name__)


def offline_certificate_for(*, company: Company) -> OfflineCertificate | None:
    return OfflineCertificate.objects.filter(company=company).first()


@sensitive_variables()
def offline_certificate_upload(
    *, company: Company, user: User | None, certificate_bytes: bytes, private_key_bytes: bytes, password: str
) -> OfflineCertificate:
    """Check and store the company's Offline certificate; raises ``ConnectError`` with the reason.

    Checked by ``credentials.certificate_load``: sizes, that both files read, that the key belongs to the
    certificate, that it is valid now and of the Offline type; here: that it was issued for the company's
    NIP. The private key is stored encrypted only.
    """
    loaded = credentials.certificate_load(
        certificate_bytes=certificate_bytes,
        private_key_bytes=private_key_bytes,
        password=password or None,
        purpose="offline",
    )
    certificate = x509.load_pem_x509_certificate(loaded.certificate_pem.encode())
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
        return credentials.stored_certificate(
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
