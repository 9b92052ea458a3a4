"""Invoicing when KSeF is down (issue 8, ksef-api.md §9): detecting that KSeF does not answer, issuing in an
offline mode (offline24, announced unavailability, announced failure) with KOD I + KOD II, deadlines and their
reminders, automatic delivery with ``offlineMode: true`` when KSeF answers again, and technical corrections.

Delivery goes through the sending machinery (``services.send``): an offline invoice is a ``Submission`` whose
XML is built at issue time (the QR codes carry its hash) and sent byte for byte later.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from accounts.models import Company, User
from invoices.models import Invoice, KsefOfflineMode, KsefStatus
from ksef_integration import notify, queue
from ksef_integration.connect import gateway
from ksef_integration.encryption import SecretUnreadable, secret_decrypt, secret_encrypt
from ksef_integration.errors import ConnectError
from ksef_integration.ksef.client import KsefClient
from ksef_integration.ksef.errors import KsefError, KsefTransientError
from ksef_integration.ksef.qr import certificate_serial_hex, kod2_url
from ksef_integration.models import (
    AuditEvent,
    KsefAvailability,
    KsefOutage,
    OfflineCertificate,
    OfflineInvoice,
    OutageKind,
    Submission,
    SubmissionEvent,
    SubmissionStatus,
)
from ksef_integration.offline import deadlines as offline_deadlines
from ksef_integration.sending.mapping import XmlProblems, invoice_xml_build

logger = logging.getLogger(__name__)

S = SubmissionStatus
MAX_CERTIFICATE_BYTES = 64 * 1024
MAX_KEY_BYTES = 64 * 1024
PROBE_TIMEOUT = (3.0, 5.0)


def _failures_before_unavailable() -> int:
    return int(getattr(settings, "KSEF_OFFLINE_FAILURES", 3))


def _hint_key(company_id: int) -> str:
    return f"ksef:offline:failing:{company_id}"


# --- is KSeF answering? ----------------------------------------------------------------------------------


def transport_failed(*, company_id: int) -> int:
    """KSeF did not answer a call for this company (connection error, timeout, 5xx). After N failures in a
    row the company's KSeF is "unavailable". Returns how many failures in a row there have been now, which
    is what the next attempt's backoff grows with."""
    now = timezone.now()
    cache.set(_hint_key(company_id), 1, timeout=7 * 24 * 3600)
    with transaction.atomic():
        row, _created = KsefAvailability.objects.select_for_update().get_or_create(company_id=company_id)
        row.consecutive_failures += 1
        row.last_failure_at = now
        became = row.unavailable_since is None and row.consecutive_failures >= _failures_before_unavailable()
        if became:
            row.unavailable_since = now
        row.save(update_fields=["consecutive_failures", "last_failure_at", "unavailable_since"])
        if became:
            AuditEvent.objects.create(
                company_id=company_id,
                kind=AuditEvent.Kind.VERIFY_FAILED,
                message=_("KSeF is not answering: invoices are issued offline and sent when it is back."),
            )
    if became:
        logger.warning("ksef unavailable: company=%s", company_id)
        notify.company_notify(
            company_id=company_id,
            subject=_("KSeF is not answering"),
            body=_(
                "KSeF has not answered our last %(count)s attempts.\n\n"
                "You can keep issuing invoices: they are issued offline with two QR codes and sent to KSeF "
                "automatically as soon as it answers again."
            )
            % {"count": row.consecutive_failures},
        )
    return int(row.consecutive_failures)


def transport_ok(*, company_id: int) -> None:
    """KSeF answered a call for this company: clear the failure count and, if it was unavailable, send what
    waited. Cheap when nothing failed before (a cache hint, no query)."""
    if cache.get(_hint_key(company_id)) is None:
        return
    availability_restored(company_id=company_id)


def availability_restored(*, company_id: int) -> bool:
    """Mark KSeF as answering for the company; returns True when it had been unavailable."""
    cache.delete(_hint_key(company_id))
    now = timezone.now()
    with transaction.atomic():
        was = (
            KsefAvailability.objects.filter(company_id=company_id, unavailable_since__isnull=False)
            .select_for_update()
            .exists()
        )
        KsefAvailability.objects.filter(company_id=company_id).update(
            consecutive_failures=0, unavailable_since=None, last_success_at=now
        )
        if was:
            AuditEvent.objects.create(
                company_id=company_id,
                kind=AuditEvent.Kind.VERIFIED,
                message=_("KSeF answers again: invoices issued offline are being sent."),
            )
            _resend_waiting(company_id)
    if was:
        logger.info("ksef available again: company=%s", company_id)
    return was


def _resend_waiting(company_id: int) -> None:
    """Make every waiting submission of the company due now and queue one ``ksef.send`` (on commit)."""
    waiting = Submission.objects.filter(company_id=company_id, status__in=(S.PENDING, S.SENT))
    waiting.update(next_attempt_at=timezone.now())
    first = waiting.aggregate(first=Min("id"))["first"]
    if first is not None:
        queue.send_company(company_id=company_id, submission_id=first)


def ksef_unavailable(*, company_id: int) -> bool:
    return KsefAvailability.objects.filter(company_id=company_id, unavailable_since__isnull=False).exists()


def availability_probe(*, company_id: int) -> bool:
    """Ask KSeF one cheap public question (its public key certificates) for the company; record the outcome.

    Returns True when KSeF answered."""
    client = KsefClient(environment=gateway.environment(), timeout=PROBE_TIMEOUT)
    try:
        client.keys.fetch()
    except KsefTransientError:
        transport_failed(company_id=company_id)
        return False
    except KsefError:
        pass  # KSeF answered, even if with an error: it is up
    availability_restored(company_id=company_id)
    return True


def unavailable_companies_probe() -> int:
    """Beat: probe KSeF for every company marked unavailable; returns how many are still unavailable."""
    still = 0
    for company_id in KsefAvailability.objects.filter(unavailable_since__isnull=False).values_list(
        "company_id", flat=True
    ):
        if not availability_probe(company_id=company_id):
            still += 1
    return still


# --- announced outages -----------------------------------------------------------------------------------


def outage_active(*, at: dt.datetime | None = None) -> KsefOutage | None:
    """The announced unavailability or failure going on at ``at`` (a failure wins over an unavailability)."""
    moment = at or timezone.now()
    rows = KsefOutage.objects.filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=moment),
        starts_at__lte=moment,
        kind__in=(OutageKind.UNAVAILABILITY, OutageKind.FAILURE),
    )
    return rows.order_by("kind", "-starts_at").first()  # "awaryjny" sorts before "offline"


def _local_date(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date()


def _failures() -> list[offline_deadlines.Failure]:
    return [
        offline_deadlines.Failure(
            announced=_local_date(row.announced_at), ends=_local_date(row.ends_at) if row.ends_at else None
        )
        for row in KsefOutage.objects.filter(kind=OutageKind.FAILURE).only("announced_at", "ends_at")
    ]


# --- the offline certificate -----------------------------------------------------------------------------


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


# --- issuing offline -------------------------------------------------------------------------------------


def issue_mode(invoice: Invoice) -> tuple[str, str, KsefOutage | None]:
    """(mode, reason, outage) for a just-issued sales invoice of a company that can send; mode "" means
    online."""
    outage = outage_active()
    if outage is not None:
        return outage.kind, OfflineInvoice.Reason.ANNOUNCED, outage
    if invoice.ksef_offline_mode == KsefOfflineMode.OFFLINE24:
        return KsefOfflineMode.OFFLINE24, OfflineInvoice.Reason.CHOSEN, None
    if ksef_unavailable(company_id=invoice.company_id):
        return KsefOfflineMode.OFFLINE24, OfflineInvoice.Reason.UNREACHABLE, None
    return "", "", None


def offline_choice_drop(*, invoice: Invoice) -> None:
    """The issuer chose offline24 but the company cannot send at all: there is nothing offline to track."""
    if invoice.ksef_offline_mode:
        Invoice.objects.filter(pk=invoice.pk).update(ksef_offline_mode="")


def invoice_issue_offline(
    *, invoice: Invoice, mode: str, reason: str, outage: KsefOutage | None = None
) -> Submission | None:
    """Give the invoice its offline mode: build its FA(3) file now (KOD I and KOD II carry its hash), queue
    it for sending with ``offlineMode: true``. Returns None when the file cannot be built (the sending path
    then reports the problems as for any invoice)."""
    invoice = Invoice.objects.prefetch_related("lines").get(pk=invoice.pk)
    try:
        built = invoice_xml_build(invoice)
    except XmlProblems:
        Invoice.objects.filter(pk=invoice.pk).update(ksef_offline_mode="")
        return None
    unavailable = ksef_unavailable(company_id=invoice.company_id) or outage is not None
    with transaction.atomic():
        submission, created = Submission.objects.get_or_create(
            invoice=invoice,
            defaults={
                "company_id": invoice.company_id,
                "xml": built.xml,
                "xml_sha256_b64": built.sha256_b64,
            },
        )
        if not created and not submission.xml:
            Submission.objects.filter(pk=submission.pk, xml__isnull=True).update(
                xml=built.xml, xml_sha256_b64=built.sha256_b64
            )
            submission.refresh_from_db()
        Invoice.objects.filter(pk=invoice.pk).update(
            ksef_offline_mode=mode,
            ksef_status=KsefStatus.OFFLINE,
            xml_sha256_b64=submission.xml_sha256_b64,
        )
        OfflineInvoice.objects.get_or_create(
            invoice=invoice,
            defaults={"company_id": invoice.company_id, "reason": reason, "outage": outage},
        )
        if created:
            SubmissionEvent.objects.create(
                submission=submission,
                kind=SubmissionEvent.Kind.QUEUED,
                message=_("Issued offline, mode: %(mode)s; it is sent to KSeF automatically.")
                % {"mode": KsefOfflineMode(mode).label},
            )
            if not unavailable:  # otherwise the sweeper and the availability probe send it later
                queue.send_company(company_id=invoice.company_id, submission_id=submission.pk)
    logger.info("invoice issued offline: invoice=%s mode=%s", invoice.uuid, mode)
    return submission


def send_options(submission: Submission) -> dict[str, Any]:
    """Extra arguments for ``sessions.invoice_send``: ``offline_mode`` and a technical correction's
    ``hash_of_corrected_invoice``."""
    row = (
        OfflineInvoice.objects.filter(invoice_id=submission.invoice_id)
        .values("corrected_invoice_hash")
        .first()
    )
    if row is None:
        return {"offline_mode": False}
    return {"offline_mode": True, "hash_of_corrected_invoice": row["corrected_invoice_hash"] or None}


# --- deadlines -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    day: dt.date | None  # None: set once the outage ends
    ends_at: dt.datetime | None  # the end of that day, local time
    remaining: dt.timedelta | None
    overdue: bool


def invoice_deadline(*, invoice: Invoice, now: dt.datetime | None = None) -> Deadline | None:
    """The legal deadline for sending an offline invoice to KSeF (None for an online invoice)."""
    if not invoice.ksef_offline_mode:
        return None
    offline = OfflineInvoice.objects.filter(invoice_id=invoice.pk).select_related("outage").first()
    ends = None
    if offline is not None and offline.outage is not None and offline.outage.ends_at is not None:
        ends = _local_date(offline.outage.ends_at)
    day = offline_deadlines.deadline(
        mode=invoice.ksef_offline_mode,
        issue_date=invoice.issue_date,
        unavailability_ends=ends,
        failures=_failures(),
    )
    if day is None:
        return Deadline(day=None, ends_at=None, remaining=None, overdue=False)
    moment = now or timezone.now()
    end = timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time()))
    return Deadline(day=day, ends_at=end, remaining=end - moment, overdue=moment >= end)


def remaining_text(remaining: dt.timedelta) -> str:
    total_hours = max(0, int(remaining.total_seconds() // 3600))
    days, hours = divmod(total_hours, 24)
    if days:
        return _("%(days)s d %(hours)s h left") % {"days": days, "hours": hours}
    minutes = max(0, int(remaining.total_seconds() // 60) % 60)
    return _("%(hours)s h %(minutes)s min left") % {"hours": hours, "minutes": minutes}


def deadlines_notify(*, now: dt.datetime | None = None) -> int:
    """Beat: e-mail the owners about offline invoices not yet in KSeF whose deadline ends within a day (or
    has passed), once per deadline. Returns how many invoices were reported."""
    moment = now or timezone.now()
    waiting = (
        OfflineInvoice.objects.exclude(invoice__ksef_status=KsefStatus.ACCEPTED)
        .select_related("invoice")
        .order_by("company_id", "id")
    )
    by_company: dict[int, list[tuple[OfflineInvoice, Deadline]]] = {}
    for row in waiting:
        deadline = invoice_deadline(invoice=row.invoice, now=moment)
        if deadline is None or deadline.day is None or deadline.remaining is None:
            continue
        if deadline.remaining > dt.timedelta(days=1) or row.deadline_notified_for == deadline.day:
            continue
        by_company.setdefault(row.company_id, []).append((row, deadline))
    reported = 0
    for company_id, rows in by_company.items():
        lines = [
            _("%(number)s — send by %(day)s (%(state)s)")
            % {
                "number": row.invoice.number,
                "day": f"{deadline.day:%d.%m.%Y}",
                "state": _("overdue")
                if deadline.overdue
                else remaining_text(deadline.remaining or dt.timedelta()),
            }
            for row, deadline in rows
        ]
        notify.company_notify(
            company_id=company_id,
            subject=_("Offline invoices must reach KSeF soon"),
            body=_(
                "These invoices were issued offline and KSeF has not accepted them yet:\n\n%(lines)s\n\n"
                "They are sent automatically as soon as KSeF answers. If KSeF stays unreachable, check the "
                "connection in Data and settings → KSeF."
            )
            % {"lines": "\n".join(lines)},
        )
        for row, deadline in rows:
            OfflineInvoice.objects.filter(pk=row.pk).update(deadline_notified_for=deadline.day)
            reported += 1
    return reported


# --- technical correction --------------------------------------------------------------------------------


class CorrectionRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def technical_correction_possible(*, invoice: Invoice) -> bool:
    if not invoice.ksef_offline_mode or invoice.ksef_number:
        return False
    return Submission.objects.filter(invoice_id=invoice.pk, status=S.REJECTED).exists()


def technical_correction(*, invoice: Invoice, user: User | None) -> Submission:
    """Send again an offline invoice KSeF rejected for technical reasons: the same content in a new FA(3)
    file, with ``hashOfCorrectedInvoice`` = the rejected file's hash (ksef-api.md §9.3)."""
    if not technical_correction_possible(invoice=invoice):
        raise CorrectionRefused(
            _("A technical correction is only possible for an offline invoice that KSeF rejected.")
        )
    submission = Submission.objects.get(invoice_id=invoice.pk)
    rejected_hash = submission.xml_sha256_b64
    try:
        built = invoice_xml_build(Invoice.objects.prefetch_related("lines").get(pk=invoice.pk))
    except XmlProblems as exc:
        raise CorrectionRefused("; ".join(exc.problems)) from exc
    if built.sha256_b64 == rejected_hash:
        raise CorrectionRefused(_("The new file is identical to the rejected one."))
    with transaction.atomic():
        changed = Submission.objects.filter(pk=submission.pk, status=S.REJECTED).update(
            status=S.PENDING,
            xml=built.xml,
            xml_sha256_b64=built.sha256_b64,
            invoice_reference="",
            session_reference="",
            ksef_number="",
            next_attempt_at=timezone.now(),
            finished_at=None,
            claim_token="",
            last_error_code="",
            last_error_message="",
        )
        if not changed:
            raise CorrectionRefused(_("The invoice's sending state changed meanwhile; reload the page."))
        OfflineInvoice.objects.filter(invoice_id=invoice.pk).update(
            corrected_invoice_hash=rejected_hash, corrections=F("corrections") + 1
        )
        Invoice.objects.filter(pk=invoice.pk).update(
            ksef_status=KsefStatus.QUEUED, ksef_status_message="", xml_sha256_b64=built.sha256_b64
        )
        SubmissionEvent.objects.create(
            submission_id=submission.pk,
            kind=SubmissionEvent.Kind.QUEUED,
            message=_("Technical correction of the rejected file %(hash)s.") % {"hash": rejected_hash},
        )
        queue.send_company(company_id=submission.company_id, submission_id=submission.pk)
    submission.refresh_from_db()
    return submission


__all__ = [
    "CorrectionRefused",
    "Deadline",
    "availability_probe",
    "availability_restored",
    "deadlines_notify",
    "invoice_deadline",
    "invoice_issue_offline",
    "issue_mode",
    "kod2_for",
    "ksef_unavailable",
    "offline_certificate_delete",
    "offline_certificate_upload",
    "offline_choice_drop",
    "outage_active",
    "send_options",
    "technical_correction",
    "transport_failed",
    "transport_ok",
    "unavailable_companies_probe",
]
