"""Issuing an invoice offline (issue 8, ksef-api.md §9): which mode applies to a just-issued invoice
(``issue_mode``), giving it that mode with its FA(3) file built now (KOD I and KOD II carry its hash), the
arguments its delivery with ``offlineMode: true`` takes (``send_options``), and the technical correction of an
offline invoice KSeF rejected.

Delivery goes through the sending machinery: an offline invoice is a ``Submission`` whose XML is built at
issue time and sent byte for byte later.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from invoices.models import Invoice, KsefOfflineMode, KsefStatus
from ksef_integration import queue
from ksef_integration.models import KsefOutage, OfflineInvoice, Submission, SubmissionEvent, SubmissionStatus
from ksef_integration.offline.availability import ksef_unavailable, outage_active
from ksef_integration.sending.mapping import XmlProblems, invoice_xml_build

logger = logging.getLogger(__name__)

S = SubmissionStatus


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
    "invoice_issue_offline",
    "issue_mode",
    "offline_choice_drop",
    "send_options",
    "technical_correction",
    "technical_correction_possible",
]
