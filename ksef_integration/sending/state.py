"""The states of a ``Submission`` on its way to KSeF and every change between them (DESIGN.md §3).

A row is claimed with a conditional UPDATE (PENDING → INFLIGHT, or a SENT row to poll) under one token per
round, so only one worker works on it; every later write is conditional on that token (``claimed``), so a
worker that lost its claim (sweeper, restart) cannot overwrite a newer outcome. Nothing here talks to KSeF:
the online and batch paths call KSeF and record what it said through these functions.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import random
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from lxml import etree

from accounts.models import Company
from invoices import signals
from invoices.models import Invoice, KsefStatus
from ksef_integration import notify
from ksef_integration.connect import gateway
from ksef_integration.connect.session import NotConnected, office_refusal
from ksef_integration.ksef.errors import KsefAuthError, KsefRejected, KsefTransientError
from ksef_integration.ksef.sessions import InvoiceStatus
from ksef_integration.models import (
    AuditEvent,
    ConnectionStatus,
    KsefConnection,
    Submission,
    SubmissionEvent,
    SubmissionStatus,
)
from ksef_integration.sending.mapping import XmlProblems, invoice_xml_build

logger = logging.getLogger(__name__)

S = SubmissionStatus
MAX_BACKOFF_SECONDS = 900.0
UPO_NS = "{http://upo.schematy.mf.gov.pl/KSeF/v4-3}"
ACCEPTED_FIELDS = [
    "status", "ksef_number", "acquisition_date", "upo", "duplicate", "claim_token", "finished_at",
    "last_error_code", "last_error_message",
]  # fmt: skip
INVOICE_ACCEPTED_FIELDS = [
    "ksef_status", "ksef_number", "ksef_acquisition_date", "ksef_status_message", "xml_sha256_b64",
]  # fmt: skip


def _setting(name: str, default: float) -> float:
    """A tunable from Django settings (read from the environment in ksefportal/settings.py)."""
    return float(getattr(settings, name, default))


def lease() -> dt.timedelta:
    """How long a claim lasts before the sweeper may hand the row to another worker."""
    return dt.timedelta(seconds=_setting("KSEF_SEND_LEASE_SECONDS", 300))


def backoff(attempts: int) -> dt.timedelta:
    """Exponential backoff with full jitter in the upper half: base·2^(n-1), at most 15 minutes."""
    base = _setting("KSEF_SEND_BACKOFF_SECONDS", 5)
    delay = min(base * 2 ** max(0, attempts - 1), MAX_BACKOFF_SECONDS)
    return dt.timedelta(seconds=delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not crypto


def due(company_id: int) -> QuerySet[Submission]:
    """The company's rows waiting for work now: PENDING to send, SENT to poll."""
    return Submission.objects.filter(
        company_id=company_id, status__in=(S.PENDING, S.SENT), next_attempt_at__lte=timezone.now()
    )


class Stop(Exception):
    """Stop talking to KSeF for this company for now (rate limit or an auth problem)."""


def event(submission_id: int, kind: str, message: str = "") -> None:
    """Add an entry to the submission's timeline (what the invoice page shows)."""
    SubmissionEvent.objects.create(submission_id=submission_id, kind=kind, message=message[:2000])


# --- state changes (each conditional on the claim) -------------------------------------------------------


def mirror(invoice_id: int, **fields: Any) -> None:
    """Copy the submission's outcome onto its invoice (the ``ksef_*`` fields the portal lists show)."""
    Invoice.objects.filter(pk=invoice_id).update(**fields)


def claimed(submission: Submission, token: str) -> QuerySet[Submission]:
    """The row, only while this worker's claim ``token`` still holds it: every write goes through this."""
    return Submission.objects.filter(pk=submission.pk, claim_token=token)


def claim(pks: list[int], token: str, *, to_poll: bool = True) -> list[Submission]:
    """Claim these rows for one round under ``token``, each only if still due and unclaimed: PENDING rows to
    send (INFLIGHT, one more attempt) and, ``to_poll``, SENT rows to ask KSeF about. The one way a row is
    claimed; returns the claimed rows (another worker's are not among them)."""
    if not pks:
        return []
    now = timezone.now()
    lease_end = now + lease()
    Submission.objects.filter(pk__in=pks, status=S.PENDING, next_attempt_at__lte=now).update(
        status=S.INFLIGHT,
        claim_token=token,
        claimed_at=now,
        attempts=F("attempts") + 1,
        next_attempt_at=lease_end,
    )
    if to_poll:
        Submission.objects.filter(pk__in=pks, status=S.SENT, next_attempt_at__lte=now).update(
            claim_token=token, claimed_at=now, next_attempt_at=lease_end
        )
    return list(Submission.objects.filter(pk__in=pks, claim_token=token).order_by("id"))


def release(
    submission: Submission, token: str, *, status: str, wait: dt.timedelta, error: Exception | None = None
) -> None:
    """Give the row back for a later attempt (PENDING to send, SENT to poll); ``error`` is recorded in the
    words the invoice's timeline shows (gateway.error_text), never the client's English."""
    message = gateway.error_text(error) if error is not None else ""
    with transaction.atomic():
        updated = claimed(submission, token).update(
            status=status,
            next_attempt_at=timezone.now() + wait,
            claim_token="",
            claimed_at=None,
            last_error_message=message[:2000],
        )
        if updated and message:
            event(submission.pk, SubmissionEvent.Kind.RETRY, message)


def release_untried(rows: list[Submission], token: str, *, wait: dt.timedelta) -> None:
    """Give back claimed rows that were never sent this round (KSeF said stop): their claim does not
    count as an attempt, so their backoff does not grow because of other invoices' trouble."""
    if rows:
        Submission.objects.filter(
            pk__in=[row.pk for row in rows], claim_token=token, status=S.INFLIGHT
        ).update(
            status=S.PENDING,
            next_attempt_at=timezone.now() + wait,
            claim_token="",
            claimed_at=None,
            attempts=F("attempts") - 1,
        )


def xml_ready(rows: list[Submission], token: str) -> list[Submission]:
    """The claimed ``rows`` whose FA(3) file is ready to send. A row without one gets it built now and saved
    (built once: every later attempt sends these bytes again); a row whose data cannot make a valid file
    fails locally (FAILED_LOCAL: KSeF never sees it, the owner is told) and is left out."""
    missing = [row for row in rows if not row.xml]
    if missing:
        invoices = Invoice.objects.prefetch_related("lines").in_bulk([row.invoice_id for row in missing])
        built_rows: list[Submission] = []
        for row in missing:
            try:
                built = invoice_xml_build(invoices[row.invoice_id])
            except XmlProblems as exc:
                message = _("The invoice was not sent because of problems in its data: %(problems)s") % {
                    "problems": "; ".join(exc.problems)
                }
                mark_rejected(row, token, code="local", message=message, local=True)
                row.status = S.FAILED_LOCAL
                continue
            row.xml = built.xml
            row.xml_sha256_b64 = built.sha256_b64
            built_rows.append(row)
        if built_rows:
            Submission.objects.filter(claim_token=token).bulk_update(built_rows, ["xml", "xml_sha256_b64"])
    return [row for row in rows if row.status != S.FAILED_LOCAL]


def mark_sent(
    submission: Submission,
    token: str,
    *,
    session_reference: str,
    invoice_reference: str,
    deferred: list[Submission] | None = None,
) -> bool:
    """Save the invoice reference at once: from now on we only ever ask KSeF about this file.

    With ``deferred`` only the submission row is written (one UPDATE); the invoice's mirror and the timeline
    event follow for the whole round in ``sent_bookkeeping`` (they are for display only).
    """
    submission.session_reference = session_reference
    submission.invoice_reference = invoice_reference
    if deferred is not None:
        updated = claimed(submission, token).update(
            status=S.SENT, session_reference=session_reference, invoice_reference=invoice_reference
        )
        if updated:
            deferred.append(submission)
        return bool(updated)
    with transaction.atomic():
        updated = claimed(submission, token).update(
            status=S.SENT, session_reference=session_reference, invoice_reference=invoice_reference
        )
        if updated:
            mirror(submission.invoice_id, ksef_status=KsefStatus.SENT, ksef_status_message="")
            event(submission.pk, SubmissionEvent.Kind.SENT, invoice_reference)
    return bool(updated)


def sent_bookkeeping(sent: list[Submission]) -> None:
    """The "sent" mirror on the invoices and the timeline events of a round, in two statements."""
    if not sent:
        return
    with transaction.atomic():
        Invoice.objects.filter(pk__in=[s.invoice_id for s in sent], ksef_status=KsefStatus.QUEUED).update(
            ksef_status=KsefStatus.SENT, ksef_status_message=""
        )
        SubmissionEvent.objects.bulk_create(
            SubmissionEvent(submission_id=s.pk, kind=SubmissionEvent.Kind.SENT, message=s.invoice_reference)
            for s in sent
        )


def upo_acquisition_date(upo: bytes) -> dt.datetime | None:
    """When KSeF gave the invoice its number, as the UPO states it (None when the UPO does not say)."""
    with contextlib.suppress(etree.XMLSyntaxError, ValueError):
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        root = etree.fromstring(upo, parser)
        text = root.findtext(f".//{UPO_NS}DataNadaniaNumeruKSeF")
        if text:
            moment = dt.datetime.fromisoformat(text)
            return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return None


def _announce_accepted(company_id: int, invoice_ids: list[int]) -> None:
    """``invoices_accepted`` once the surrounding transaction commits."""
    transaction.on_commit(
        lambda: signals.invoices_accepted.send(
            sender=Submission, company_id=company_id, invoice_ids=invoice_ids
        )
    )


def mark_accepted(
    submission: Submission,
    token: str,
    *,
    ksef_number: str,
    acquisition_date: dt.datetime | None,
    upo: bytes,
    duplicate: bool,
) -> None:
    """KSeF accepted the file (``duplicate``: it already had it, under ``ksef_number``): the row is final."""
    now = timezone.now()
    acquired = acquisition_date or upo_acquisition_date(upo)
    with transaction.atomic():
        updated = claimed(submission, token).update(
            status=S.ACCEPTED,
            ksef_number=ksef_number,
            acquisition_date=acquired,
            upo=upo.decode("utf-8", errors="replace"),
            duplicate=duplicate,
            claim_token="",
            finished_at=now,
            last_error_code="",
            last_error_message="",
        )
        if not updated:
            return
        mirror(
            submission.invoice_id,
            ksef_status=KsefStatus.ACCEPTED,
            ksef_number=ksef_number,
            ksef_acquisition_date=acquired,
            ksef_status_message="",
            xml_sha256_b64=submission.xml_sha256_b64,
        )
        note = _("KSeF already had this invoice; its original KSeF number was adopted.") if duplicate else ""
        event(submission.pk, SubmissionEvent.Kind.ACCEPTED, f"{ksef_number} {note}".strip())
        if upo:
            event(submission.pk, SubmissionEvent.Kind.UPO)
        _announce_accepted(submission.company_id, [submission.invoice_id])
    logger.info("ksef invoice accepted: submission=%s duplicate=%s", submission.pk, duplicate)


def mark_accepted_many(ready: list[tuple[Submission, str, InvoiceStatus, bytes]]) -> int:
    """``mark_accepted`` for many rows at once (a poll's successes, each with its status and UPO), in a
    handful of statements; rows whose claim was lost are left alone. Returns how many were accepted."""
    if not ready:
        return 0
    now = timezone.now()
    by_pk = {submission.pk: (submission, token, status, upo) for submission, token, status, upo in ready}
    with transaction.atomic():
        owned_filter = Q()
        for submission, token, _status, _upo in ready:
            owned_filter |= Q(pk=submission.pk, claim_token=token)
        owned = set(Submission.objects.select_for_update().filter(owned_filter).values_list("pk", flat=True))
        rows: list[Submission] = []
        invoices: list[Invoice] = []
        events: list[SubmissionEvent] = []
        for pk in sorted(owned):
            submission, _token, status, upo = by_pk[pk]
            acquired = status.acquisition_date or upo_acquisition_date(upo)
            submission.status = S.ACCEPTED
            submission.ksef_number = status.ksef_number or ""
            submission.acquisition_date = acquired
            submission.upo = upo.decode("utf-8", errors="replace")
            submission.duplicate = False
            submission.claim_token = ""
            submission.finished_at = now
            submission.last_error_code = ""
            submission.last_error_message = ""
            rows.append(submission)
            invoices.append(
                Invoice(
                    pk=submission.invoice_id,
                    ksef_status=KsefStatus.ACCEPTED,
                    ksef_number=submission.ksef_number,
                    ksef_acquisition_date=acquired,
                    ksef_status_message="",
                    xml_sha256_b64=submission.xml_sha256_b64,
                )
            )
            events.append(
                SubmissionEvent(
                    submission_id=pk, kind=SubmissionEvent.Kind.ACCEPTED, message=submission.ksef_number
                )
            )
            events.append(SubmissionEvent(submission_id=pk, kind=SubmissionEvent.Kind.UPO))
        if rows:
            Submission.objects.bulk_update(rows, ACCEPTED_FIELDS)
            Invoice.objects.bulk_update(invoices, INVOICE_ACCEPTED_FIELDS)
            SubmissionEvent.objects.bulk_create(events)
        for company_id in sorted({row.company_id for row in rows}):
            _announce_accepted(company_id, [row.invoice_id for row in rows if row.company_id == company_id])
    logger.info("ksef invoices accepted: %s", len(owned))
    return len(owned)


def mark_dropped(submission: Submission, token: str, *, code: int, error: KsefTransientError) -> None:
    """KSeF dropped the file (status 500/550): back to PENDING without its references, to send the same
    bytes again after a backoff."""
    message = gateway.error_text(error)
    with transaction.atomic():
        if claimed(submission, token).update(
            status=S.PENDING,
            invoice_reference="",
            session_reference="",
            claim_token="",
            claimed_at=None,
            next_attempt_at=timezone.now() + backoff(submission.attempts),
            last_error_code=str(code),
            last_error_message=message,
        ):
            event(submission.pk, SubmissionEvent.Kind.RETRY, message)


def mark_refused(submission: Submission, token: str, error: KsefRejected) -> None:
    """KSeF rejected the file: ``mark_rejected`` with KSeF's code and its reason in the timeline's words."""
    mark_rejected(
        submission,
        token,
        code=str(error.code),
        message=_rejection_text(error.code, error.description, error.details),
    )


def _rejection_text(code: int, description: str, details: list[str] | tuple[str, ...]) -> str:
    """KSeF's reason for a rejection, in the words the timeline and the e-mail show."""
    reason = description or _("no description given")
    if details:
        reason += " — " + "; ".join(details)[:300]
    return _("KSeF rejected the invoice (code %(code)s): %(reason)s") % {"code": code, "reason": reason}


def mark_rejected(
    submission: Submission, token: str, *, code: str, message: str, local: bool = False
) -> None:
    """KSeF rejected the file, or (``local``) our own checks stopped it before KSeF saw it: the row is final
    and the people told about the company's KSeF problems get an e-mail."""
    status = S.FAILED_LOCAL if local else S.REJECTED
    with transaction.atomic():
        updated = claimed(submission, token).update(
            status=status,
            claim_token="",
            finished_at=timezone.now(),
            last_error_code=code[:32],
            last_error_message=message,
        )
        if not updated:
            return
        # A local failure never reached KSeF: it must not be called a KSeF rejection anywhere.
        invoice_status = KsefStatus.FAILED_LOCAL if local else KsefStatus.REJECTED
        mirror(submission.invoice_id, ksef_status=invoice_status, ksef_status_message=message)
        kind = SubmissionEvent.Kind.FAILED_LOCAL if local else SubmissionEvent.Kind.REJECTED
        event(submission.pk, kind, message)
        company_id, invoice_id = submission.company_id, submission.invoice_id
        transaction.on_commit(
            lambda: signals.invoice_rejected.send(
                sender=Submission, company_id=company_id, invoice_id=invoice_id, local=local
            )
        )
    invoice = Invoice.objects.get(pk=submission.invoice_id)
    advice = _("Open the invoice in the portal to correct it and send it again.")
    if local:
        subject = _("Invoice %(number)s was not sent to KSeF: error in the invoice data") % {
            "number": invoice.number
        }
        body = _(
            "Invoice %(number)s was not sent to KSeF: its data cannot make a valid FA(3) file, so the "
            "portal stopped it before sending. KSeF has not seen it.\n\nReason: %(reason)s\n\n%(advice)s"
        ) % {"number": invoice.number, "reason": message, "advice": advice}
    else:
        subject = _("Invoice %(number)s was not accepted by KSeF") % {"number": invoice.number}
        body = _("KSeF did not accept invoice %(number)s.\n\nReason: %(reason)s\n\n%(advice)s") % {
            "number": invoice.number,
            "reason": message,
            "advice": advice,
        }
    notify.company_notify(company_id=submission.company_id, subject=subject, body=body)
    logger.info("ksef invoice rejected: submission=%s code=%s local=%s", submission.pk, code, local)


def pause(company: Company, error: KsefAuthError | NotConnected) -> None:
    """KSeF refused our credentials: mark the connection "needs attention" and tell the owner once."""
    refusal = office_refusal(company=company) if isinstance(error, KsefAuthError) else None
    reason = (
        refusal.message
        if refusal is not None  # an office in its client's context: the client took its permissions back
        else getattr(error, "message_pl", "") or _("KSeF refused the stored credentials.")
    )
    with transaction.atomic():
        changed = KsefConnection.objects.filter(company=company, status=ConnectionStatus.ACTIVE).update(
            status=ConnectionStatus.ATTENTION, attention_reason=reason[:300]
        )
        if changed:
            AuditEvent.objects.create(
                company=company,
                kind=AuditEvent.Kind.VERIFY_FAILED,
                message=_("Sending to KSeF paused: %(reason)s") % {"reason": reason},
            )
            notify.company_notify(
                company_id=company.pk,
                subject=_("Sending invoices to KSeF is paused"),
                body=_(
                    "KSeF refused the credentials stored for %(company)s, so sending invoices is paused.\n\n"
                    "Reason: %(reason)s\n\nConnect to KSeF again in the portal; "
                    "queued invoices will then be sent."
                )
                % {"company": company.name, "reason": reason},
            )
    logger.warning("ksef sending paused: company=%s", company.uuid)
