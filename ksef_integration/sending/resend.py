"""Send again a sales invoice KSeF did not accept (rejected, or stopped by our own checks), with its current
data: after the owner or accountant corrected it in Wystaw (``invoice_edited``) or from its page.

This is a corrected resend of an online invoice under the same number: the rejected file never existed in
KSeF. (A technical correction with ``hashOfCorrectedInvoice`` is only for offline invoices.)
"""

from __future__ import annotations

import logging

from invoices.models import Direction, Invoice
from ksef_integration.models import KsefConnection, Submission, SubmissionStatus
from ksef_integration.sending.drain import submission_enqueue, submission_retry

logger = logging.getLogger(__name__)

RESENDABLE = (SubmissionStatus.REJECTED, SubmissionStatus.FAILED_LOCAL)


def invoice_can_resend(*, invoice: Invoice) -> bool:
    """A sales invoice whose last attempt ended rejected or stopped locally."""
    return (
        invoice.direction == Direction.SALES
        and not invoice.ksef_number
        and Submission.objects.filter(invoice_id=invoice.pk, status__in=RESENDABLE).exists()
    )


def invoice_resend(*, invoice: Invoice) -> Submission | None:
    """Queue the invoice's current data for KSeF (the XML is rebuilt); None when there is nothing to resend.

    An invoice that was never queued is queued now if the company can send.
    """
    submission = Submission.objects.filter(invoice_id=invoice.pk).first()
    if submission is None:
        connection = KsefConnection.objects.filter(company_id=invoice.company_id).first()
        if invoice.direction != Direction.SALES or connection is None or not connection.can_send:
            return None
        return submission_enqueue(invoice=invoice)
    if submission.status not in RESENDABLE:
        return None
    logger.info("ksef resend queued: submission=%s", submission.pk)
    return submission_retry(submission=submission)


def on_invoice_edited(sender: object, *, invoice: Invoice, **kwargs: object) -> None:
    """``invoice_edited`` receiver: the corrected invoice goes to KSeF again."""
    invoice_resend(invoice=invoice)
