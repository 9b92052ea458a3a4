"""E-mailing invoices to their buyers: the rows, the send, "wyślij ponownie" and the sweeper.

- One ``InvoiceDelivery`` per invoice and occasion (a unique constraint): the acceptance signal firing twice,
  or two workers hearing it, make one row and one log line "queued".
- The send is idempotent: the row is locked while its e-mail goes out, and a row that is not queued (sent,
  refused, given up) is left alone; so a repeated or duplicated message never sends a second e-mail.
  Should a worker die after the mail server took the message but before the row was marked sent, the
  message is delivered again (acks_late): at least once, never silently lost.
- A mail server that fails is tried again with backoff (``retry_delay``) up to ``MAX_ATTEMPTS``; each
  failure is logged with the server's answer. A refused address ("bounced") is final. Either way "wyślij
  ponownie" queues the row again. The sweeper queues rows whose retry message was lost.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from invoices.models import Direction, Invoice, KsefStatus
from ksef_integration import queue
from ksef_integration.delivery.message import delivery_message
from ksef_integration.models import DeliveryEvent, InvoiceDelivery

logger = logging.getLogger(__name__)

Kind = InvoiceDelivery.Kind
Status = InvoiceDelivery.Status
MAX_ATTEMPTS = 8
MAX_RETRY_SECONDS = 30 * 60
# A message may arrive a little before the moment the row says (clocks, the broker): not "too early".
EARLY_SLACK = dt.timedelta(seconds=5)
# A queued row nobody touched for this long lost its message: the sweeper queues it again.
SWEEP_AFTER = dt.timedelta(minutes=10)
ERROR_LENGTH = 500


def retry_delay(attempts: int) -> int:
    """Seconds before the next try after ``attempts`` failed ones: 30 s, 1, 2, 4 … minutes, at most 30
    (``settings.INVOICE_EMAIL_RETRY_SECONDS`` is the first wait)."""
    first = max(int(settings.INVOICE_EMAIL_RETRY_SECONDS), 1)
    return int(min(first * 2 ** max(attempts - 1, 0), MAX_RETRY_SECONDS))


def _create(invoice: Invoice, kind: str) -> InvoiceDelivery | None:
    """The invoice's row for ``kind``, queued, or None when it exists already (the signal fired again)."""
    try:
        with transaction.atomic():
            delivery, created = InvoiceDelivery.objects.get_or_create(
                invoice=invoice,
                kind=kind,
                defaults={
                    "company_id": invoice.company_id,
                    "to_email": invoice.delivery_email,
                    "language": invoice.delivery_language,
                },
            )
            if not created:
                return None
            DeliveryEvent.objects.create(
                delivery=delivery, kind=DeliveryEvent.Kind.QUEUED, message=delivery.to_email
            )
            queue.delivery_send(delivery_id=delivery.pk)
    except IntegrityError:  # another worker created it between the look-up and the insert
        return None
    return delivery


def accepted_deliveries_create(*, company_id: int, invoice_ids: list[int]) -> int:
    """KSeF accepted these invoices: queue the e-mail of each with a buyer's address (an invoice issued
    offline got its e-mail at issue, with its QR codes). Returns how many were queued now."""
    invoices = Invoice.objects.filter(
        company_id=company_id,
        pk__in=invoice_ids,
        direction=Direction.SALES,
        ksef_status=KsefStatus.ACCEPTED,
        ksef_offline_mode="",
    ).exclude(delivery_email="")
    return sum(1 for invoice in invoices if _create(invoice, Kind.ACCEPTED) is not None)


def offline_delivery_create(*, invoice_id: int) -> InvoiceDelivery | None:
    """An invoice was issued offline (its file, KOD I and KOD II exist now): queue its e-mail at once."""
    invoice = (
        Invoice.objects.filter(pk=invoice_id, direction=Direction.SALES)
        .exclude(ksef_offline_mode="")
        .exclude(delivery_email="")
        .first()
    )
    return _create(invoice, Kind.OFFLINE) if invoice is not None else None


@dataclass(frozen=True)
class Outcome:
    """What one run of the task did: ``status`` (sent, retry, bounced, failed, busy, not_due, or the row's
    final status when there was nothing to do) and, for ``retry``, the seconds until the next try."""

    status: str
    retry_in: int = 0


def smtp_error_text(exc: BaseException) -> str:
    """The mail server's answer in one line (code and text), or the network error; never a secret (the
    server's greeting and the addresses at most)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        parts: list[str] = []
        for address, (code, answer) in exc.recipients.items():
            reason = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)
            parts.append(f"{address}: {code} {reason}")
        text = "; ".join(parts)
    elif isinstance(exc, smtplib.SMTPResponseException):
        reason = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        text = f"{exc.smtp_code} {reason}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:ERROR_LENGTH]


def _event(delivery: InvoiceDelivery, kind: str, message: str = "", actor: User | None = None) -> None:
    DeliveryEvent.objects.create(delivery=delivery, kind=kind, message=message[:ERROR_LENGTH], actor=actor)


def delivery_send(*, delivery_id: int) -> Outcome:
    """The ``ksef.delivery_send`` task's work: send the row's e-mail now, once. Mail-server failures are
    recorded here and returned as ``retry`` (the task queues itself again after ``retry_in``), ``bounced``
    (the address was refused) or ``failed`` (``MAX_ATTEMPTS`` used up); they never propagate."""
    now = timezone.now()
    with transaction.atomic():
        delivery = InvoiceDelivery.objects.select_for_update(skip_locked=True).filter(pk=delivery_id).first()
        if delivery is None:
            exists = InvoiceDelivery.objects.filter(pk=delivery_id).exists()
            return Outcome("busy" if exists else "missing")  # busy: another worker is sending it now
        if delivery.status != Status.QUEUED:
            return Outcome(delivery.status)
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now + EARLY_SLACK:
            return Outcome("not_due")  # a duplicate message (the sweeper's); the retry comes on time
        message = delivery_message(delivery)
        delivery.attempts += 1
        try:
            message.send()
        except smtplib.SMTPRecipientsRefused as exc:
            text = smtp_error_text(exc)
            delivery.status = Status.BOUNCED
            delivery.last_error = text
            delivery.next_attempt_at = None
            delivery.save(update_fields=["status", "attempts", "last_error", "next_attempt_at", "updated_at"])
            _event(delivery, DeliveryEvent.Kind.BOUNCED, text)
            logger.info("invoice e-mail refused: delivery=%s", delivery.uuid)
            return Outcome("bounced")
        except (smtplib.SMTPException, OSError) as exc:
            text = smtp_error_text(exc)
            delivery.last_error = text
            if delivery.attempts >= MAX_ATTEMPTS:
                delivery.status = Status.FAILED
                delivery.next_attempt_at = None
                delivery.save(
                    update_fields=["status", "attempts", "last_error", "next_attempt_at", "updated_at"]
                )
                _event(delivery, DeliveryEvent.Kind.FAILED, text)
                logger.warning(
                    "invoice e-mail given up: delivery=%s attempts=%s", delivery.uuid, delivery.attempts
                )
                return Outcome("failed")
            delay = retry_delay(delivery.attempts)
            delivery.next_attempt_at = now + dt.timedelta(seconds=delay)
            delivery.save(update_fields=["attempts", "last_error", "next_attempt_at", "updated_at"])
            _event(delivery, DeliveryEvent.Kind.RETRY, text)
            logger.info("invoice e-mail failed, retry in %ss: delivery=%s", delay, delivery.uuid)
            return Outcome("retry", retry_in=delay)
        delivery.status = Status.SENT
        delivery.sent_at = timezone.now()
        delivery.last_error = ""
        delivery.next_attempt_at = None
        delivery.save(
            update_fields=["status", "attempts", "sent_at", "last_error", "next_attempt_at", "updated_at"]
        )
        _event(
            delivery,
            DeliveryEvent.Kind.SENT,
            _("accepted by the mail server for %(address)s") % {"address": delivery.to_email},
        )
    logger.info("invoice e-mail sent: delivery=%s", delivery.uuid)
    return Outcome("sent")


def delivery_requeue(*, invoice: Invoice, user: User | None) -> InvoiceDelivery | None:
    """ "Wyślij ponownie": the invoice's latest e-mail is queued again (also one already sent: the person
    asked for another copy), with a fresh count of attempts. None when the invoice has none."""
    with transaction.atomic():
        delivery = (
            InvoiceDelivery.objects.select_for_update()
            .filter(invoice=invoice)
            .order_by("-created_at", "-id")
            .first()
        )
        if delivery is None:
            return None
        if delivery.status == Status.QUEUED and delivery.attempts == 0:
            return delivery  # on its way already (a double click queues it once)
        delivery.status = Status.QUEUED
        delivery.attempts = 0
        delivery.next_attempt_at = None
        delivery.save(update_fields=["status", "attempts", "next_attempt_at", "updated_at"])
        _event(delivery, DeliveryEvent.Kind.REQUEUED, delivery.to_email, actor=user)
        queue.delivery_send(delivery_id=delivery.pk)
    return delivery


def deliveries_sweep(*, now: dt.datetime | None = None) -> int:
    """Queue again the e-mails whose message was lost (a broker restart, a worker killed before it could
    queue its retry): queued rows untouched for ``SWEEP_AFTER`` past their due time."""
    cutoff = (now or timezone.now()) - SWEEP_AFTER
    due = list(
        InvoiceDelivery.objects.filter(status=Status.QUEUED)
        .filter(Q(next_attempt_at__lt=cutoff) | Q(next_attempt_at__isnull=True, updated_at__lt=cutoff))
        .values_list("pk", flat=True)[:500]
    )
    for delivery_id in due:
        queue.delivery_send(delivery_id=delivery_id)
    return len(due)
