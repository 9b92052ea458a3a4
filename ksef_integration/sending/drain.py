"""The per-company drain and the ways into it (DESIGN.md §3 "Send a sales invoice").

An invoice is queued once (``submission_enqueue``); one ``ksef.send`` task per company drains what is due
(``company_send_due``): under the company lock (one KSeF conversation per company), KSeF is called outside any
database transaction, and a backlog goes through a batch session (``batch``) while the rest is sent one by
one in the company's online session (``online``). After the drain the next one is queued for when the
earliest row in backoff is due; the sweeper (``submissions_sweep``) hands back rows of vanished workers.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Min, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Company
from invoices.models import Direction, Invoice, KsefStatus
from ksef_integration import queue
from ksef_integration.company_lock import CompanyLock, company_lock
from ksef_integration.connect.session import NotConnected, ksef_client_for
from ksef_integration.ksef.errors import KsefAuthError, KsefTransientError
from ksef_integration.models import (
    KsefConnection,
    Submission,
    SubmissionEvent,
)
from ksef_integration.offline import availability
from ksef_integration.sending import batch, online, state
from ksef_integration.sending.state import S

logger = logging.getLogger(__name__)

# A drain round claims this many due rows; while some wait for KSeF the drain asks again after a pause that
# grows from POLL_FIRST_DELAY to POLL_MAX_DELAY.
ROUND_SIZE = 200
POLL_FIRST_DELAY = 0.05
POLL_MAX_DELAY = 1.0


# --- queueing ------------------------------------------------------------------------------------------


def submission_enqueue(*, invoice: Invoice) -> Submission:
    """Queue a sales invoice for KSeF (once: a second call returns the existing submission)."""
    if invoice.direction != Direction.SALES:
        raise ValueError("only sales invoices are sent to KSeF")
    with transaction.atomic():
        submission, created = Submission.objects.get_or_create(
            invoice=invoice, defaults={"company_id": invoice.company_id}
        )
        if created:
            Invoice.objects.filter(pk=invoice.pk).update(ksef_status=KsefStatus.QUEUED)
            state.event(submission.pk, SubmissionEvent.Kind.QUEUED)
            queue.send_company(company_id=invoice.company_id, submission_id=submission.pk)
    return submission


def unsent_invoices(*, company_id: int) -> QuerySet[Invoice]:
    """The company's issued sales invoices that are on no way to KSeF: no KSeF number, never queued, not
    issued offline (offline ones have their own queue and deadline). Whatever the reason they stayed behind
    (automatic sending off, no connection, a connection that needed attention), one action sends them."""
    return Invoice.objects.filter(
        company_id=company_id,
        direction=Direction.SALES,
        ksef_status=KsefStatus.NOT_SENT,
        ksef_number__isnull=True,
        ksef_submission__isnull=True,
    )


# Banners say "more than 99": counting 10,000 unsent invoices on every page is not worth it.
UNSENT_COUNT_CAP = 99


def unsent_count(*, company_id: int) -> int:
    """How many invoices ``unsent_invoices`` has, counted up to ``UNSENT_COUNT_CAP`` + 1 (a number above the
    cap means "more than the cap"), so that Start and the Dokumenty banner stay quick for a company with
    thousands of unsent invoices (16 ms → 2 ms of PostgreSQL with 10,000 of them)."""
    return unsent_invoices(company_id=company_id).order_by().values("pk")[: UNSENT_COUNT_CAP + 1].count()


def unsent_send_all(*, company_id: int) -> int:
    """Queue every unsent invoice of the company and make what waited in the queue (paused by a credential
    problem or a long backoff) due now; returns how many invoices were queued. Nothing happens unless the
    company can send (an active connection with InvoiceWrite)."""
    connection = KsefConnection.objects.filter(company_id=company_id).first()
    if connection is None or not connection.can_send:
        return 0
    queued = 0
    with transaction.atomic():
        for invoice in unsent_invoices(company_id=company_id).order_by("issue_date", "id"):
            submission_enqueue(invoice=invoice)
            queued += 1
        waiting = Submission.objects.filter(company_id=company_id, status__in=(S.PENDING, S.SENT))
        waiting.filter(next_attempt_at__gt=timezone.now()).update(next_attempt_at=timezone.now())
        if not queued:  # what waited (in backoff, or while nothing could log in) goes now, not at the sweep
            first = waiting.order_by("id").values_list("pk", flat=True).first()
            if first is not None:
                queue.send_company(company_id=company_id, submission_id=first)
    if queued:
        logger.info("ksef unsent invoices queued: company=%s count=%s", connection.company_id, queued)
    return queued


def on_connection_active(*, company_id: int) -> int:
    """A connection became (again) able to send: what waited goes out at once when the company sends
    automatically (the promise of "Gotowe!"); otherwise it waits for "Wyślij wszystkie niewysłane"."""
    connection = KsefConnection.objects.filter(company_id=company_id).first()
    if connection is None or not connection.auto_send:
        return 0
    return unsent_send_all(company_id=company_id)


def _batch_threshold() -> int:
    """More due PENDING rows than this go through a batch session."""
    return int(getattr(settings, "KSEF_SEND_BATCH_THRESHOLD", 50))


def _scan(company_id: int, *, holding: set[int], limit: int) -> list[Mapping[str, Any]]:
    """The company's due rows (oldest first), in one statement: what a drain round decides on."""
    return list(
        state.due(company_id)
        .exclude(pk__in=holding)
        .order_by("next_attempt_at", "id")
        .values(
            "pk",
            "status",
            "batch_reference",
            "invoice_reference",
            "session_reference",
            "invoice__ksef_offline_mode",
        )[:limit]
    )


def _drain_locked(company: Company, lock: CompanyLock, *, budget: float) -> int:
    """Send and poll the company's due submissions until none is left or ``budget`` seconds have passed.

    Work is pipelined in rounds: each round claims due rows (one token), sends the PENDING ones in the
    company's online session, then asks KSeF once about everything in flight (the session's invoice list
    gives up to 1,000 statuses per request) and accepts what is final in a few statements. A backlog of
    more than ``KSEF_SEND_BATCH_THRESHOLD`` queued invoices goes through a batch session instead.
    """
    try:
        client = ksef_client_for(company=company)
    except NotConnected:
        return 0
    except KsefAuthError as exc:
        state.pause(company, exc)
        return 0
    except KsefTransientError:
        # Nothing was claimed: the due rows wait longer each time in a row, so that neither the next drain
        # nor the sweeper knocks at an address that does not answer every few seconds.
        wait = state.backoff(availability.transport_failed(company_id=company.pk))
        state.due(company.pk).update(next_attempt_at=timezone.now() + wait)
        return 0
    deadline = time.monotonic() + budget
    handled = 0
    waiting: list[tuple[Submission, str]] = []
    delay = POLL_FIRST_DELAY
    try:
        while time.monotonic() < deadline:
            threshold = _batch_threshold()
            due = _scan(company.pk, holding={s.pk for s, _ in waiting}, limit=ROUND_SIZE + threshold + 1)
            unresolved = [r for r in due if r["batch_reference"] and not r["invoice_reference"]]
            progressed = 0
            if unresolved or len(batch.eligible_rows(due)) > threshold:
                progressed = batch.company_batches(
                    client=client, company=company, lock=lock, threshold=threshold, deadline=deadline
                )
                handled += progressed
                if progressed:
                    continue
            token = uuid.uuid4().hex
            # Rows of a batch whose outcome is unknown are only ever resolved by asking about that batch.
            skip = {r["pk"] for r in unresolved}
            rows = state.claim([r["pk"] for r in due[:ROUND_SIZE] if r["pk"] not in skip], token)
            handled += len(rows)
            to_send = [row for row in rows if row.status == S.INFLIGHT]
            waiting += [(row, token) for row in rows if row.status == S.SENT]
            sent, stop = online.send_round(client, company, to_send, token) if to_send else ([], False)
            waiting += sent
            if sent:
                availability.transport_ok(company_id=company.pk)  # issue 8: KSeF answers again
            lock.extend()
            if stop:
                raise state.Stop
            if waiting:
                waiting = online.poll(client, waiting)
            if not rows and not progressed:
                if not waiting:
                    break
                time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                delay = min(delay * 1.5, POLL_MAX_DELAY)
            else:
                delay = POLL_FIRST_DELAY
            lock.extend()
    except state.Stop:
        pass
    except KsefAuthError as exc:
        for submission, token in waiting:
            state.release(submission, token, status=S.SENT, wait=dt.timedelta(minutes=5))
        waiting = []
        state.pause(company, exc)
    finally:
        for submission, token in waiting:  # still processing in KSeF: the next drain asks again
            state.release(submission, token, status=S.SENT, wait=dt.timedelta(0))
    return handled


def _requeue(company_id: int, *, handled: int) -> None:
    """After a drain: queue the next one for when the company's earliest waiting row is due, so a row in
    backoff is retried on time instead of waiting for the sweeper. A drain that got nothing done (KSeF
    unreachable, nothing due) queues nothing for rows due now: no busy loop; the sweeper comes back."""
    if not KsefConnection.objects.usable().filter(company_id=company_id).exists():
        return
    row = (
        Submission.objects.filter(company_id=company_id, status__in=(S.PENDING, S.SENT))
        .order_by("next_attempt_at")
        .values("pk", "next_attempt_at")
        .first()
    )
    if row is None:
        return
    countdown = (row["next_attempt_at"] - timezone.now()).total_seconds() + 0.05
    if countdown <= 0.05 and not handled:
        return
    if countdown <= max(
        state.lease().total_seconds(), state.MAX_BACKOFF_SECONDS
    ):  # later ones: the sweeper's job
        queue.send_company_later(submission_id=row["pk"], countdown=countdown)


def company_send_due(*, company_id: int, budget: float = 60.0) -> int:
    """Send (and poll) the company's due submissions under its lock; returns how many were handled.

    When another worker holds the lock this returns 0 at once: the holder queues the next drain when it
    releases the lock, so nothing is left behind.
    """
    company = Company.objects.get(pk=company_id)
    with company_lock(company_id) as lock:
        if lock is None:
            return 0
        handled = _drain_locked(company, lock, budget=budget)
    _requeue(company_id, handled=handled)
    return handled


def submission_send(*, submission_id: int) -> None:
    """The ``ksef.send`` task's work: send this submission (and whatever else of its company is due)."""
    row = Submission.objects.filter(pk=submission_id).values("company_id", "status").first()
    if row is None:
        return
    queue.started(queue.SEND, row["company_id"])
    if row["status"] in (S.ACCEPTED, S.REJECTED, S.FAILED_LOCAL):
        return
    company_send_due(company_id=row["company_id"])


# --- sweeper and admin actions -----------------------------------------------------------------------


def submissions_sweep() -> int:
    """Hand back rows whose worker vanished (claim older than the lease), then queue one ``ksef.send`` per
    company with due work. Returns how many tasks were queued."""
    now = timezone.now()
    stale = now - state.lease()
    Submission.objects.filter(status=S.INFLIGHT, claimed_at__lt=stale).update(
        status=S.PENDING, claim_token="", claimed_at=None, next_attempt_at=now
    )
    # Only companies whose credential logs in: a token after the sunset waits for a certificate.
    active = KsefConnection.objects.usable().values("company_id")
    due = (
        Submission.objects.filter(
            status__in=(S.PENDING, S.SENT), next_attempt_at__lte=now, company_id__in=active
        )
        .values("company_id")
        .annotate(first=Min("id"))
    )
    count = 0
    for row in due:
        queue.send_company(company_id=row["company_id"], submission_id=row["first"])
        count += 1
    return count


def submission_retry(*, submission: Submission) -> Submission:
    """Admin "retry": try again now. A rejected or locally failed invoice is rebuilt from its current data."""
    with transaction.atomic():
        if submission.status in (S.REJECTED, S.FAILED_LOCAL):
            Submission.objects.filter(pk=submission.pk, status=submission.status).update(
                status=S.PENDING,
                xml=None,
                xml_sha256_b64="",
                invoice_reference="",
                session_reference="",
                next_attempt_at=timezone.now(),
                finished_at=None,
            )
            state.mirror(submission.invoice_id, ksef_status=KsefStatus.QUEUED, ksef_status_message="")
        else:
            Submission.objects.filter(pk=submission.pk, status__in=(S.PENDING, S.SENT)).update(
                next_attempt_at=timezone.now()
            )
        state.event(submission.pk, SubmissionEvent.Kind.QUEUED, _("Queued again by hand."))
        queue.send_company(company_id=submission.company_id, submission_id=submission.pk)
    submission.refresh_from_db()
    return submission


def submission_check_status(*, submission: Submission) -> bool:
    """Admin "check status": make a sent invoice due now and queue its company's drain, which asks KSeF.
    Nothing talks to KSeF inside the admin's request. Returns whether there was anything to ask about."""
    with transaction.atomic():
        due = Submission.objects.filter(pk=submission.pk, status__in=(S.SENT, S.PENDING)).update(
            next_attempt_at=timezone.now()
        )
        if due:
            queue.send_company(company_id=submission.company_id, submission_id=submission.pk)
    return bool(due)


__all__ = [
    "company_send_due",
    "submission_check_status",
    "submission_enqueue",
    "submission_retry",
    "submission_send",
    "submissions_sweep",
]
