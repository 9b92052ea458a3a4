"""A backlog goes to KSeF in a batch session (DESIGN.md §3, ksef-api.md §7) with the online guarantees.

When a company has more than ``KSEF_SEND_BATCH_THRESHOLD`` due PENDING submissions, the drain claims them
(one token), packs their stored XMLs (built once, byte for byte the same on every retry) into one package
named ``<submission id>.xml`` per file, opens a batch session and **records the batch reference on every row
before the upload**. The results are then read from the session's invoice list and mapped back by file name
(and hash); each row continues as an online one would (SENT with its invoice reference, then ACCEPTED with
its KSeF number and UPO; 440 = success with the original number).

An unknown outcome is resolved by asking KSeF, never by sending again blindly:
- the open call failed: nothing was uploaded, so KSeF cannot process that (unclosed) session; send again;
- the upload or close failed and we never closed: KSeF only processes a batch after its close; send again;
- the close answer was lost, or the worker died after recording the batch: the rows keep their batch
  reference; the next drain asks KSeF about that session (``_resolve``) and closes it, waits for it, or,
  when KSeF proves the files are not there (close refused, session failed as a whole, file missing from a
  processed session), sends them again.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Company
from ksef_integration.company_lock import CompanyLock
from ksef_integration.connect import gateway
from ksef_integration.ksef.batch import package_build
from ksef_integration.ksef.client import KsefClient
from ksef_integration.ksef.errors import (
    KsefAuthError,
    KsefError,
    KsefNotFound,
    KsefRateLimited,
    KsefRejected,
    KsefTransientError,
)
from ksef_integration.ksef.sessions import InvoiceStatus, SessionStatus
from ksef_integration.models import Submission, SubmissionStatus
from ksef_integration.sending import online, state

logger = logging.getLogger(__name__)

S = SubmissionStatus
T = TypeVar("T")
BATCH_MAX_INVOICES = 5_000  # KSeF takes 10,000 per session; smaller packages keep memory and retries small
# A backlog goes out in up to this many batches (of at least BATCH_CHUNK_MIN invoices), all closed before
# the first is waited for: KSeF processes the next while we fetch the UPOs of the previous one.
BATCH_PIPELINE = 4
BATCH_CHUNK_MIN = 100
UPLOAD_ATTEMPTS = 3
# Batch session statuses after which KSeF processed nothing: the files are provably not in KSeF.
FAILED_AS_A_WHOLE = frozenset({405, 415, 420, 430, 435, 440, 500})
STATUS_POLL_FIRST = 0.1
STATUS_POLL_MAX = 1.0  # sessionMisc allows 120 requests per minute: stay below 2 per second on average


def eligible(queryset: QuerySet[Submission]) -> QuerySet[Submission]:
    """The rows of ``queryset`` (due rows of one company) that may go into a new batch package.

    Invoices issued in an offline mode are left to the online path, which declares ``offlineMode`` per
    invoice (a batch declares it for the whole package)."""
    return queryset.filter(
        status=S.PENDING,
        invoice_reference="",
        batch_reference="",
        session_reference="",
        invoice__ksef_offline_mode="",
    )


def eligible_rows(rows: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """``eligible`` for rows already read (the drain's scan): the drain's cheap "is it a backlog?"."""
    return [
        row
        for row in rows
        if row["status"] == S.PENDING
        and not (row["invoice_reference"] or row["batch_reference"] or row["session_reference"])
        and not row.get("invoice__ksef_offline_mode")
    ]


def _file_name(submission: Submission) -> str:
    return f"{submission.pk}.xml"


# --- claims ----------------------------------------------------------------------------------------------


def _keep_claim(tokens: list[str]) -> None:
    """Still working on these rows (waiting for KSeF): keep the sweeper's hands off them."""
    now = timezone.now()
    Submission.objects.filter(claim_token__in=tokens, status=S.INFLIGHT).update(
        claimed_at=now, next_attempt_at=now + state.lease()
    )


def _give_back(
    token: str, *, wait: dt.timedelta, forget_batch: bool, error: Exception | str | None = None
) -> None:
    """Hand the still-claimed rows back as PENDING; ``forget_batch`` only when KSeF cannot have the files.
    An exception as ``error`` is recorded as the timeline words it (gateway.error_text)."""
    fields: dict[str, Any] = {
        "status": S.PENDING,
        "claim_token": "",
        "claimed_at": None,
        "next_attempt_at": timezone.now() + wait,
    }
    if forget_batch:
        fields.update(batch_reference="", session_reference="")
    if error:
        text = gateway.error_text(error) if isinstance(error, Exception) else error
        fields["last_error_message"] = text[:2000]
    Submission.objects.filter(claim_token=token, status=S.INFLIGHT).update(**fields)


# --- the drain's entry point --------------------------------------------------------------------------


def company_batches(
    *, client: KsefClient, company: Company, lock: CompanyLock, threshold: int, deadline: float
) -> int:
    """Resolve the company's batches of unknown outcome, then send a new one when the backlog of due PENDING
    rows exceeds ``threshold``. Returns how many rows were handled. Raises ``state.Stop`` on 429/auth."""
    handled = 0
    due = state.due(company.pk)
    unresolved = list(
        due.filter(status=S.PENDING, invoice_reference="")
        .exclude(batch_reference="")
        .values_list("batch_reference", flat=True)
        .distinct()
    )
    for reference in unresolved:
        handled += _resolve(client, company, lock, reference, deadline=deadline)
    backlog = eligible(state.due(company.pk))
    if threshold >= 0 and backlog.count() > threshold:
        pks = list(
            backlog.order_by("next_attempt_at", "id").values_list("pk", flat=True)[:BATCH_MAX_INVOICES]
        )
        handled += _send_new(client, company, lock, pks, deadline=deadline)
    return handled


def _guarded(token: str, call: Callable[[], T], *, forget_batch: bool) -> T:
    """Run ``call``; on 429 or an auth failure give the rows back and stop talking to KSeF."""
    try:
        return call()
    except KsefRateLimited as exc:
        _give_back(token, wait=dt.timedelta(seconds=exc.retry_after), forget_batch=forget_batch)
        raise state.Stop from exc
    except KsefAuthError:
        _give_back(token, wait=dt.timedelta(minutes=5), forget_batch=forget_batch)
        raise


def _send_new(
    client: KsefClient, company: Company, lock: CompanyLock, pks: list[int], *, deadline: float
) -> int:
    """Send the backlog ``pks`` in up to ``BATCH_PIPELINE`` batches: each is opened, uploaded and closed
    before the first is waited for, so KSeF processes one while we read the results of another."""
    size = max(BATCH_CHUNK_MIN, math.ceil(len(pks) / BATCH_PIPELINE))
    handled = 0
    closed: list[tuple[str, str]] = []
    try:
        for start in range(0, len(pks), size):
            count, opened = _open_upload_close(client, company, lock, pks[start : start + size])
            handled += count
            if opened is not None:
                closed.append(opened)
        while closed:
            reference, token = closed[0]
            _wait_and_apply(
                client, lock, reference, token, deadline=deadline, status=None, also=[t for _, t in closed]
            )
            closed.pop(0)
    finally:
        for _reference, token in closed:  # not waited for (stopped early): the next drain asks KSeF
            _give_back(token, wait=dt.timedelta(0), forget_batch=False)
    return handled


def _open_upload_close(
    client: KsefClient, company: Company, lock: CompanyLock, pks: list[int]
) -> tuple[int, tuple[str, str] | None]:
    """Claim ``pks``, pack their XMLs, open a batch session, record it on the rows, upload and close it.
    Returns (rows handled, (batch reference, claim token) when KSeF is processing the batch)."""
    token = uuid.uuid4().hex
    started = time.monotonic()
    rows = state.claim(pks, token, to_poll=False)
    if not rows:
        return 0, None
    ready = state.xml_ready(rows, token)
    if not ready:
        return len(rows), None
    archive = package_build({_file_name(row): bytes(row.xml or b"") for row in ready})
    try:
        session = _guarded(token, lambda: client.batches.batch_open(archive=archive), forget_batch=True)
    except KsefTransientError as exc:
        # No upload happened, so KSeF will never process that session (if it opened one at all).
        _give_back(token, wait=state.backoff(1), forget_batch=True, error=exc)
        return len(rows), None
    reference = session.reference_number
    # Before a single byte is uploaded: these rows are now in this batch, and we only ever ask KSeF about it.
    for row in ready:
        row.batch_reference = reference
        row.session_reference = reference
    Submission.objects.filter(pk__in=[row.pk for row in ready], claim_token=token).update(
        batch_reference=reference, session_reference=reference
    )
    for attempt in range(1, UPLOAD_ATTEMPTS + 1):
        try:
            _guarded(token, lambda: client.batches.batch_upload(session=session), forget_batch=True)
            break
        except KsefError as exc:
            if attempt == UPLOAD_ATTEMPTS:
                # Never closed, so never processed: the files are not in KSeF.
                _give_back(token, wait=state.backoff(1), forget_batch=True, error=exc)
                return len(rows), None
    lock.extend()
    if not _close(client, reference, token):
        return len(rows), None
    logger.info(
        "ksef batch sent: company=%s invoices=%s in %.2f s",
        company.uuid,
        len(ready),
        time.monotonic() - started,
    )
    return len(rows), (reference, token)


# --- finding out what KSeF did with a batch ---------------------------------------------------------------


def _resolve(
    client: KsefClient, company: Company, lock: CompanyLock, reference: str, *, deadline: float
) -> int:
    """Rows recorded in batch ``reference`` whose outcome we do not know: ask KSeF about that session."""
    token = uuid.uuid4().hex
    pks = list(
        state.due(company.pk)
        .filter(status=S.PENDING, batch_reference=reference, invoice_reference="")
        .values_list("pk", flat=True)
    )
    rows = state.claim(pks, token, to_poll=False)
    if not rows:
        return 0
    try:
        status = _guarded(
            token, lambda: client.sessions.session_status(session_reference=reference), forget_batch=False
        )
    except (KsefTransientError, KsefNotFound) as exc:
        _give_back(token, wait=state.backoff(rows[0].attempts), forget_batch=False, error=exc)
        return len(rows)
    if status.code == 100:  # uploaded (or not) but never closed: closing it tells us which
        _close_and_apply(client, lock, reference, token, deadline=deadline)
    else:
        _wait_and_apply(client, lock, reference, token, deadline=deadline, status=status)
    return len(rows)


def _close(client: KsefClient, reference: str, token: str) -> bool:
    """Close the batch; True when KSeF is now processing it (else the rows were given back)."""
    try:
        _guarded(token, lambda: client.batches.batch_close(session_reference=reference), forget_batch=False)
    except KsefRejected as exc:
        # KSeF refused to close it (e.g. 21205: a declared part was never uploaded): it will never be
        # processed, so the files are provably not in KSeF.
        logger.info("ksef batch close refused: code=%s", exc.code)
        _give_back(token, wait=dt.timedelta(0), forget_batch=True, error=exc)
        return False
    except (KsefTransientError, KsefNotFound) as exc:
        # Closed or not? The next drain asks KSeF (the rows keep their batch reference).
        _give_back(token, wait=state.backoff(1), forget_batch=False, error=exc)
        return False
    return True


def _close_and_apply(
    client: KsefClient, lock: CompanyLock, reference: str, token: str, *, deadline: float
) -> None:
    if _close(client, reference, token):
        _wait_and_apply(client, lock, reference, token, deadline=deadline, status=None)


def _wait_and_apply(
    client: KsefClient,
    lock: CompanyLock,
    reference: str,
    token: str,
    *,
    deadline: float,
    status: SessionStatus | None,
    also: list[str] | None = None,
) -> None:
    """Wait (within the drain's budget) until KSeF finished the batch, then map its results to our rows.
    ``also``: the claim tokens of other batches waiting their turn (their claims are kept alive too)."""
    delay = STATUS_POLL_FIRST
    while status is None or not status.is_final:
        if time.monotonic() + delay > deadline:
            _give_back(token, wait=dt.timedelta(0), forget_batch=False)
            return
        time.sleep(delay)
        delay = min(delay * 1.5, STATUS_POLL_MAX)
        _keep_claim([token, *(also or [])])
        lock.extend()
        try:
            status = _guarded(
                token, lambda: client.sessions.session_status(session_reference=reference), forget_batch=False
            )
        except (KsefTransientError, KsefNotFound) as exc:
            _give_back(token, wait=state.backoff(1), forget_batch=False, error=exc)
            return
    logger.info("ksef batch processed by KSeF: code=%s", status.code)
    if status.code in FAILED_AS_A_WHOLE:
        message = _(
            "KSeF processed none of the invoices of batch session %(reference)s (status %(code)s: "
            "%(description)s); they will be sent again."
        ) % {"reference": reference, "code": status.code, "description": status.description}
        _give_back(token, wait=state.backoff(1), forget_batch=True, error=message)
        return
    _apply(client, reference, token)


def _apply(client: KsefClient, reference: str, token: str) -> None:
    """Map the batch session's invoice list to our rows by file name (else hash); rows KSeF does not list
    were not in the processed package: they are sent again."""
    rows = list(Submission.objects.filter(claim_token=token, status=S.INFLIGHT))
    by_name = {_file_name(row): row for row in rows}
    by_hash = {row.xml_sha256_b64: row for row in rows}
    found: dict[int, str] = {}
    try:
        listed = list(
            _guarded(
                token,
                lambda: list(client.sessions.invoices(session_reference=reference, page_size=1000)),
                forget_batch=False,
            )
        )
    except (KsefTransientError, KsefNotFound) as exc:
        _give_back(token, wait=state.backoff(1), forget_batch=False, error=exc)
        return
    for status in listed:
        row = by_name.get(status.invoice_file_name or "") or by_hash.get(status.invoice_hash or "")
        if row is not None and (row.xml_sha256_b64 == status.invoice_hash or not status.invoice_hash):
            found[row.pk] = status.reference_number
    sent: list[Submission] = []
    for row in rows:
        if row.pk in found:
            row.invoice_reference = found[row.pk]
            row.status = S.SENT
            sent.append(row)
    if sent:
        Submission.objects.filter(claim_token=token).bulk_update(sent, ["invoice_reference", "status"])
        state.sent_bookkeeping(sent)
    # Not in the processed session's list: KSeF does not have these files.
    _give_back(token, wait=dt.timedelta(0), forget_batch=True)
    waiting = [(row, token) for row in sent]
    known: dict[str, InvoiceStatus] | None = {status.reference_number: status for status in listed}
    for _round in range(3):
        if not waiting:
            break
        waiting = online.poll(client, waiting, known=known)
        known = None  # the session is final, so this is only for statuses that could not be acted on
    for row, row_token in waiting:
        state.release(row, row_token, status=S.SENT, wait=dt.timedelta(0))
    logger.info("ksef batch applied: listed=%s ours=%s", len(listed), len(sent))


__all__ = ["company_batches"]
