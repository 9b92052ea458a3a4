"""Import a company's invoices from KSeF: Subject2 (purchases) and Subject1 (own sales issued elsewhere).

One import per company at a time (a RUNNING ``ImportRun`` is the lock). Each export window is stored in one
transaction together with the cursor's new checkpoint, so the cursor never runs ahead of the invoices; a
transient failure or a 429 stops the run and keeps the cursor where the last committed window left it.

The worker imports in turns (``import_turn``; why, in ``pacing``): a turn does at most ``TURN_WINDOWS``
windows and never sleeps on a context's limits; a run with more to do is *parked* (RUNNING with
``retry_at``) and its company queued again, and the next turn adopts it. ``company_import`` does the whole
run at once, waiting short 429s out (tests, benchmarks).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar
from zoneinfo import ZoneInfo

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Company
from ksef_integration import notify, queue
from ksef_integration.company_lock import company_lock
from ksef_integration.connect.session import (
    NotConnected,
    OfficeUnavailable,
    ksef_client_for,
    office_refusal,
)
from ksef_integration.encryption import SecretUnreadable, secret_decrypt, secret_encrypt
from ksef_integration.importing.mapping import ImportMappingError, failure_retry, window_import
from ksef_integration.importing.pacing import ContextPacer, ContextWait, PacedSession
from ksef_integration.ksef.client import KsefClient
from ksef_integration.ksef.crypto import AES_IV_SIZE, AES_KEY_SIZE, AesKey
from ksef_integration.ksef.errors import KsefAuthError, KsefError, KsefRateLimited, KsefTransientError
from ksef_integration.ksef.exports import ExportHandle, SyncHooks, SyncWindow, WindowExport
from ksef_integration.models import (
    AuditEvent,
    ConnectionStatus,
    ImportFailure,
    ImportRun,
    KsefConnection,
    SubjectType,
    SyncCursor,
)

logger = logging.getLogger(__name__)

WARSAW = ZoneInfo("Europe/Warsaw")
EARLIEST_START = dt.date(2026, 2, 1)  # KSeF 2.0 holds nothing older
SUBJECT_TYPES: tuple[str, ...] = (SubjectType.SUBJECT2, SubjectType.SUBJECT1)
# A run that has not reported progress for this long belongs to a dead worker and may be taken over.
LEASE = dt.timedelta(minutes=15)
FAILURES_BEFORE_MAIL = 3
# A 429 asking for at most this long is waited out inside the run (the user never sees it); a longer one
# (the hourly export limit) ends the run and the next scheduled run continues from the cursor.
MAX_INLINE_WAIT = 120
WAIT_BUDGET = 10 * 60  # all the 429 waits of one run together
# After a run that failed for a passing reason the company is due again after 1, 2, 4, … minutes (consecutive
# failures), never later than its interval; a 429 waits at least as long as KSeF asked (Retry-After).
RETRY_FIRST = dt.timedelta(minutes=1)
RETRY_JITTER = 0.25  # a backoff is shortened by up to a quarter, so companies that failed together spread out
RATE_LIMIT_JITTER = 30  # seconds added at most to Retry-After, for the same reason
TURN_WINDOWS = 1  # export windows per turn of the worker before the company goes to the back of the queue
# A parked run whose continuation is this late lost its message: the fan-out queues the company again.
PARK_SLACK = dt.timedelta(minutes=2)
CONTINUES = "continues"  # ImportResult.status of a turn that parked its run
_sleep: Callable[[float], None] = time.sleep  # tests replace it
_random = random.Random()  # noqa: S311 -- jitter, not a secret
T = TypeVar("T")


@dataclass(frozen=True)
class ImportResult:
    status: str  # an ImportRun.Status value, or "busy" / "not_connected" / CONTINUES / "idle"
    invoices_new: int = 0
    invoices_updated: int = 0
    error: str = ""
    retry_in: float = 0.0  # CONTINUES: seconds until the run may go on


def import_start(connection: KsefConnection) -> dt.datetime:
    """Where a first import begins: the chosen start date, else the first day of the month of connection;
    never before 2026-02-01. Midnight in Warsaw, as an aware datetime."""
    start = connection.import_start_date
    if start is None:
        connected = timezone.localtime(connection.connected_at or timezone.now(), WARSAW)
        start = connected.date().replace(day=1)
    return dt.datetime.combine(max(start, EARLIEST_START), dt.time.min, tzinfo=WARSAW).astimezone(dt.UTC)


# --- the per-company lock ---------------------------------------------------------------------------


def _claim(company: Company) -> ImportRun | None:
    """Start a run, or None when another (live) run of the company holds the lock."""
    now = timezone.now()
    with translation.override("pl"):
        reason = _("The import was interrupted (the worker stopped); the next run continued it.")
    ImportRun.objects.filter(
        company=company, status=ImportRun.Status.RUNNING, heartbeat_at__lt=now - LEASE
    ).update(status=ImportRun.Status.ABANDONED, finished_at=now, error=reason)
    # Under the company lock nobody else works on a parked run: this turn goes on with it.
    parked = ImportRun.objects.filter(
        company=company, status=ImportRun.Status.RUNNING, retry_at__isnull=False
    ).first()
    if parked is not None:
        parked.retry_at = None
        parked.heartbeat_at = now
        parked.save(update_fields=["retry_at", "heartbeat_at"])
        return parked
    try:
        with transaction.atomic():
            return ImportRun.objects.create(company=company, started_at=now, heartbeat_at=now)
    except IntegrityError:
        return None


def _park(run: ImportRun, seconds: float) -> None:
    """End the turn; the run stays RUNNING, to go on after ``seconds`` (see ``import_turn``)."""
    now = timezone.now()
    run.retry_at = now + dt.timedelta(seconds=seconds)
    run.heartbeat_at = now
    run.save(update_fields=["retry_at", "heartbeat_at", "invoices_new", "invoices_updated", "windows"])


def _finish(run: ImportRun, status: str, error: str = "", retry_at: dt.datetime | None = None) -> None:
    run.status = status
    run.error = error[:500]
    run.finished_at = timezone.now()
    run.retry_at = retry_at
    run.save(
        update_fields=[
            "status",
            "error",
            "finished_at",
            "retry_at",
            "invoices_new",
            "invoices_updated",
            "windows",
        ]
    )


# --- retrying after a passing failure ------------------------------------------------------------------


def _is_passing(exc: BaseException) -> bool:
    """KSeF down or slow (transport error, 5xx, timeout) or asking us to wait (429): worth a quick retry."""
    return isinstance(exc, KsefTransientError | requests.RequestException)


def retry_delay(*, failures: int, interval: dt.timedelta, retry_after: int | None = None) -> dt.timedelta:
    """How long after a failed run its company is due again.

    ``retry_after``: KSeF answered 429 and asked for that many seconds; we wait that long plus a little
    jitter (not capped: an earlier try would only be refused again). Otherwise ``failures`` (consecutive,
    this one included) gives 1, 2, 4, … minutes, capped at ``interval``, shortened by up to a quarter.
    """
    if retry_after is not None:
        return dt.timedelta(seconds=max(1, retry_after) + _random.uniform(0, RATE_LIMIT_JITTER))
    backoff = min(RETRY_FIRST * 2 ** min(max(failures, 1) - 1, 20), interval)
    return backoff * (1 - _random.uniform(0, RETRY_JITTER))


def _clock(when: dt.datetime) -> str:
    """A due time as the user reads it: the Warsaw minute at which the per-minute fan-out picks it up
    (rounded up), with the date when it is not today."""
    local = timezone.localtime(when, WARSAW)
    if local.second or local.microsecond:
        local = local.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    if local.date() != timezone.localtime(timezone.now(), WARSAW).date():
        return local.strftime("%d.%m.%Y %H:%M")
    return local.strftime("%H:%M")


# --- errors in plain words -------------------------------------------------------------------------


def _describe(exc: BaseException, *, retry_at: dt.datetime | None = None, automatic: bool = True) -> str:
    """A failure as the owner should read it, in Polish (stored, shown later to anyone). ``retry_at``: when
    the company is due again (a passing failure); ``automatic``: whether the fan-out will retry then."""
    with translation.override("pl"):
        when = {"time": _clock(retry_at)} if retry_at is not None else None
        if isinstance(exc, KsefRateLimited):
            if when is None:
                return _("KSeF limited the number of requests; the import will be retried automatically.")
            if automatic:
                return _("KSeF limited the number of requests; we will try again at about %(time)s.") % when
            return _("KSeF limited the number of requests; try again after %(time)s.") % when
        if _is_passing(exc):
            if when is None:
                return _("KSeF was not answering; the import will be retried automatically.")
            if automatic:
                return _("KSeF was not answering; we will try again at about %(time)s.") % when
            return _("KSeF was not answering; try again in a few minutes.")
        if isinstance(exc, KsefAuthError):
            return _("KSeF did not accept our credentials (%(reason)s). Check the connection.") % {
                "reason": exc.message_pl
            }
        if isinstance(exc, ImportMappingError):
            return _("Invoice %(number)s from KSeF could not be saved; we are looking into it.") % {
                "number": exc.ksef_number
            }
        if isinstance(exc, OfficeUnavailable):
            return exc.error.message
        if isinstance(exc, NotConnected):
            return _("The company is not connected to KSeF.")
        return _("Importing from KSeF failed; it will be retried automatically.")


def _attention(company: Company, message: str, *, revoked: bool = False) -> None:
    """Mark the connection "needs attention" with ``message``; ``revoked``: KSeF lets it do nothing any more
    (an office whose client took its permissions back), so its permissions are emptied too."""
    columns: dict[str, object] = {"permissions": []} if revoked else {}
    updated = KsefConnection.objects.filter(company=company, status=ConnectionStatus.ACTIVE).update(
        status=ConnectionStatus.ATTENTION,
        attention_reason=message[:300],
        updated_at=timezone.now(),
        **columns,
    )
    if updated:
        AuditEvent.objects.create(
            company=company, kind=AuditEvent.Kind.VERIFY_FAILED, message=message[:500], data={"by": "import"}
        )


def _count_failure(cursor: SyncCursor, *, counts: bool = True) -> int:
    """Consecutive failures of the cursor, this one included if it ``counts`` (a rate-limit pause does not:
    nothing is wrong)."""
    if counts:
        SyncCursor.objects.filter(pk=cursor.pk).update(failures_in_row=F("failures_in_row") + 1)
    cursor.refresh_from_db(fields=["failures_in_row"])
    return cursor.failures_in_row


def _record_failure(cursor: SyncCursor, message: str, *, counts: bool = True) -> None:
    """Show the error; the owners are e-mailed once, when a streak of counted failures reaches the limit."""
    SyncCursor.objects.filter(pk=cursor.pk).update(last_error=message[:500], last_error_at=timezone.now())
    if counts and cursor.failures_in_row == FAILURES_BEFORE_MAIL:
        _mail_failures(cursor.company_id, message)


def _mail_failures(company_id: int, message: str) -> None:
    company = Company.objects.get(pk=company_id)
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("KSeF: importing invoices for %(company)s keeps failing") % {"company": company.name}
        body = _(
            "Importing invoices from KSeF for %(company)s failed %(count)s times in a row.\n\n"
            "Last error: %(message)s\n\nCheck Data and settings → KSeF in the portal."
        ) % {"company": company.name, "count": FAILURES_BEFORE_MAIL, "message": message}
    notify.company_notify(company_id=company_id, subject=subject, body=body)


# --- the import --------------------------------------------------------------------------------------


def _cursor(company: Company, connection: KsefConnection, subject_type: str) -> SyncCursor:
    cursor, _created = SyncCursor.objects.get_or_create(
        company=company, subject_type=subject_type, defaults={"checkpoint": import_start(connection)}
    )
    return cursor


# The export in flight, as stored on the cursor; all empty when there is none.
_NO_EXPORT: dict[str, str | None] = {
    "export_reference": "",
    "export_key": "",
    "export_from": None,
    "export_to": None,
}


def _export_cleared(cursor: SyncCursor) -> None:
    """The in-memory cursor, once its export has been cleared in the database."""
    for name, empty in _NO_EXPORT.items():
        setattr(cursor, name, empty)


class _CursorExport(SyncHooks):
    """The cursor keeps the export in flight (reference, encrypted AES key, window), so that an interrupted
    run resumes it instead of starting another; KSeF's short 429s are waited out within the run's budget."""

    def __init__(self, cursor: SyncCursor, waited: list[float], *, turns: bool = False) -> None:
        self.cursor = cursor
        self.waited = waited
        self.turns = turns

    def stored(self) -> WindowExport | None:
        cursor = self.cursor
        if not cursor.export_reference:
            return None
        if cursor.export_from is None:
            self.forget()
            return None
        try:
            raw = secret_decrypt(cursor.export_key)
            aes = AesKey(key=raw[:AES_KEY_SIZE], iv=raw[AES_KEY_SIZE : AES_KEY_SIZE + AES_IV_SIZE])
        except (SecretUnreadable, ValueError) as exc:
            logger.info("ksef import: export %s cannot be resumed (%s)", cursor.export_reference, exc)
            self.forget()
            return None
        handle = ExportHandle(reference_number=cursor.export_reference, aes=aes)
        return WindowExport(date_from=cursor.export_from, date_to=cursor.export_to, handle=handle)

    def started(self, export: WindowExport) -> None:
        """Committed at once (outside any transaction), before the first poll."""
        cursor = self.cursor
        cursor.export_reference = export.handle.reference_number
        cursor.export_key = secret_encrypt(export.handle.aes.key + export.handle.aes.iv)
        cursor.export_from, cursor.export_to = export.date_from, export.date_to
        cursor.save(update_fields=list(_NO_EXPORT))

    def forget(self) -> None:
        SyncCursor.objects.filter(pk=self.cursor.pk).update(**_NO_EXPORT)
        _export_cleared(self.cursor)

    def call(self, request: Callable[[], T]) -> T:
        """``request()``, waiting out KSeF's 429s that ask for a short pause (``Retry-After``), within the
        run's budget."""
        while True:
            try:
                return request()
            except KsefRateLimited as exc:
                pause = max(1, exc.retry_after)
                if self.turns and pause <= MAX_INLINE_WAIT:
                    raise ContextWait("429", pause) from None  # the turn ends; other companies go on
                if pause > MAX_INLINE_WAIT or self.waited[0] + pause > WAIT_BUDGET:
                    raise
                logger.info("ksef import: rate limited, waiting %s s as KSeF asks", pause)
                self.waited[0] += pause
                _sleep(pause)


def sync_windows(
    client: KsefClient, cursor: SyncCursor, waited: list[float], *, turns: bool = False
) -> Iterator[SyncWindow]:
    """The client's HWM loop (ksef-api.md §8.4) from ``cursor.checkpoint``, one ``SyncWindow`` per export,
    with the export in flight kept on the cursor (``_CursorExport``). The caller commits a window's invoices
    with its checkpoint, and clears the stored export, before asking for the next one. ``turns``: a 429
    ends the turn (``ContextWait``) instead of being waited out."""
    hooks = _CursorExport(cursor, waited, turns=turns)
    return client.incremental_sync(
        subject_type=cursor.subject_type, checkpoint=cursor.checkpoint, hooks=hooks
    )


def _sync_subject(
    client: KsefClient,
    company: Company,
    cursor: SyncCursor,
    run: ImportRun,
    purchases: list[int],
    waited: list[float],
    turn: list[int] | None,
) -> None:
    """``turn``: windows left in this turn of the worker (None: the whole backlog now)."""
    cursor.last_run_at = timezone.now()
    cursor.save(update_fields=["last_run_at"])
    if turn is None:
        windows = sync_windows(client, cursor, waited)
    else:
        windows = sync_windows(client, cursor, waited, turns=True)
    for window in windows:
        with transaction.atomic():
            stats = window_import(
                company=company,
                subject_type=cursor.subject_type,
                invoices=window.invoices,
                metadata=window.metadata,
            )
            # Same transaction as the invoices: the checkpoint can never be ahead of what is stored.
            SyncCursor.objects.filter(pk=cursor.pk).update(
                checkpoint=window.checkpoint,
                invoices_total=F("invoices_total") + stats.created,
                **_NO_EXPORT,
            )
            run.invoices_new += stats.created
            if cursor.subject_type == SubjectType.SUBJECT2:
                purchases.extend(stats.created_ids)
            run.invoices_updated += stats.recognised
            run.windows += 1
            run.heartbeat_at = timezone.now()
            run.save(update_fields=["invoices_new", "invoices_updated", "windows", "heartbeat_at"])
        cursor.checkpoint = window.checkpoint
        _export_cleared(cursor)
        logger.info(
            "ksef import window: company=%s subject=%s new=%s recognised=%s checkpoint=%s",
            company.uuid, cursor.subject_type, stats.created, stats.recognised, window.checkpoint.isoformat(),
        )  # fmt: skip
        if turn is not None and not window.caught_up:
            turn[0] -= 1
            if turn[0] <= 0:
                raise ContextWait("turn", 0.0)  # more to do: to the back of the queue
    SyncCursor.objects.filter(pk=cursor.pk).update(
        last_success_at=timezone.now(), last_error="", failures_in_row=0
    )


def company_import(*, company_id: int, subject_types: Sequence[str] = SUBJECT_TYPES) -> ImportResult:
    """Bring the company's invoices of ``subject_types`` up to KSeF's high water mark, under the company's
    lock (one KSeF conversation per company). When a drain of the sending queue holds it, the import is
    "busy" and the fan-out (``ksef.import_due``, every minute) starts it again: sending goes first."""
    with company_lock(company_id) as lock:
        if lock is None:
            return ImportResult(status="busy")
        return _company_import(company_id=company_id, subject_types=subject_types)


def import_turn(*, company_id: int, resume: bool = False) -> ImportResult:
    """One turn of the company's import (the ``ksef.import`` task): at most ``TURN_WINDOWS`` windows, each
    request paced to the context's limits (``pacing``). When more remains the run is parked and the company
    queued again — at once, to the back of the queue, or when its limits allow — and the worker moves on.
    ``resume``: a continuation, which does nothing when no parked run is left (another turn finished it)."""
    with company_lock(company_id) as lock:
        if lock is None:
            return ImportResult(status="busy")
        parked = ImportRun.objects.filter(
            company_id=company_id, status=ImportRun.Status.RUNNING, retry_at__isnull=False
        )
        if resume and not parked.exists():
            return ImportResult(status="idle")
        result = _company_import(company_id=company_id, subject_types=SUBJECT_TYPES, turns=True)
    if result.status == CONTINUES:
        queue.import_continue(company_id=company_id, countdown=result.retry_in)
    return result


def _company_import(*, company_id: int, subject_types: Sequence[str], turns: bool = False) -> ImportResult:
    company = Company.objects.get(pk=company_id)
    connection = KsefConnection.objects.filter(company=company).first()
    if connection is None or not connection.can_import:
        return ImportResult(status="not_connected")
    run = _claim(company)
    if run is None:
        return ImportResult(status="busy")
    resumed = run.windows > 0  # a parked run adopted by this turn, with windows already committed
    cursors = [_cursor(company, connection, subject_type) for subject_type in subject_types]
    current = cursors[0]
    purchases: list[int] = []  # new Subject2 invoices, committed window by window
    waited = [0.0]  # seconds spent waiting out 429s in this run
    turn = [TURN_WINDOWS] if turns else None
    try:
        try:
            if not resumed:
                _failures_retry(company, run, purchases)
            pacer = ContextPacer(company.nip) if turns else None  # the client's NIP is the context
            session = PacedSession(pacer) if pacer is not None else None
            client = ksef_client_for(company=company, session=session)
            if pacer is not None:
                pacer.learn(client)
            for current in cursors:
                if current.last_success_at and current.last_success_at >= run.started_at:
                    continue  # caught up in an earlier turn of this run
                _sync_subject(client, company, current, run, purchases, waited, turn)
        except ContextWait as wait:
            if wait.seconds <= MAX_INLINE_WAIT:
                _park(run, wait.seconds)
                logger.info(
                    "ksef import: company=%s continues in %.1f s (%s)", company.uuid, wait.seconds, wait.group
                )
                return ImportResult(CONTINUES, run.invoices_new, run.invoices_updated, retry_in=wait.seconds)
            raise KsefRateLimited(math.ceil(wait.seconds)) from None  # a long wait: as KSeF's own 429
    except (KsefError, NotConnected, ImportMappingError, requests.RequestException) as exc:
        counts = not isinstance(exc, KsefRateLimited)
        failures = _count_failure(current, counts=counts)
        retry_at = None
        if _is_passing(exc):
            retry_at = timezone.now() + retry_delay(
                failures=failures,
                interval=dt.timedelta(minutes=connection.import_interval_minutes),
                retry_after=exc.retry_after if isinstance(exc, KsefRateLimited) else None,
            )
        message = _describe(exc, retry_at=retry_at, automatic=connection.auto_import)
        refusal = None
        if isinstance(exc, KsefAuthError):
            with translation.override("pl"):
                refusal = office_refusal(company=company)
        if refusal is not None:  # an office in its client's context: the client took its permissions back
            message = refusal.message
        logger.warning(
            "ksef import failed: company=%s subject=%s failures=%s retry_at=%s error=%s",
            company.uuid, current.subject_type, failures, retry_at.isoformat() if retry_at else "-", exc,
        )  # fmt: skip
        _record_failure(current, message, counts=counts)
        if isinstance(exc, KsefAuthError | OfficeUnavailable):
            _attention(company, message, revoked=refusal is not None)
        _finish(run, ImportRun.Status.FAILED, message, retry_at)
        _digest(run, purchases, resumed=resumed)
        return ImportResult(ImportRun.Status.FAILED, run.invoices_new, run.invoices_updated, message)
    except BaseException:
        _finish(run, ImportRun.Status.FAILED, _describe(Exception()))
        raise
    _finish(run, ImportRun.Status.SUCCEEDED)
    _digest(run, purchases, resumed=resumed)
    return ImportResult(ImportRun.Status.SUCCEEDED, run.invoices_new, run.invoices_updated)


def _failures_retry(company: Company, run: ImportRun, purchases: list[int]) -> None:
    """Invoices earlier runs could not import are tried again first (a fix may have been deployed)."""
    for failure in ImportFailure.objects.filter(company=company).order_by("id"):
        invoice = failure_retry(failure=failure)
        if invoice is None or not invoice.stated_kind:  # still failing, or recognised as our own
            continue
        run.invoices_new += 1
        if failure.subject_type == SubjectType.SUBJECT2:
            purchases.append(invoice.pk)
    run.save(update_fields=["invoices_new"])


def _digest(run: ImportRun, purchases: list[int], *, resumed: bool = False) -> None:
    """The run brought new purchase invoices: e-mail those who asked for it (one message per run, also of a
    run ``resumed`` over several turns, whose earlier turns' purchases are only in the database)."""
    from ksef_integration.importing.digest import digest_enqueue_on_commit, digest_wanted, run_purchases

    if not digest_wanted(company_id=run.company_id):
        return
    if purchases or (resumed and run_purchases(run)):
        digest_enqueue_on_commit(run=run)


def companies_due_for_import(*, now: dt.datetime | None = None) -> list[int]:
    """Companies with automatic import on that are due: their interval has passed since their last run
    started or, when that run failed for a passing reason, its ``retry_at`` has come. A company with a live
    run is not due; one whose run's worker died (stale heartbeat) is, and the new run takes the lock over."""
    now = now or timezone.now()
    due = []
    connections = KsefConnection.objects.filter(status=ConnectionStatus.ACTIVE, auto_import=True)
    for connection in connections.only("company_id", "import_interval_minutes", "permissions"):
        if not connection.can_import:
            continue
        last = (
            ImportRun.objects.filter(company_id=connection.company_id)
            .order_by("-started_at", "-id")
            .values_list("started_at", "status", "retry_at", "heartbeat_at")
            .first()
        )
        if last is None:
            due.append(connection.company_id)
            continue
        started_at, status, retry_at, heartbeat_at = last
        if status == ImportRun.Status.RUNNING:
            lost = retry_at is not None and retry_at <= now - PARK_SLACK  # parked; its message lost
            if heartbeat_at < now - LEASE or lost:
                due.append(connection.company_id)
            continue
        if status == ImportRun.Status.FAILED and retry_at is not None:
            due_at = retry_at
        else:
            due_at = started_at + dt.timedelta(minutes=connection.import_interval_minutes)
        if due_at <= now:
            due.append(connection.company_id)
    return due


def import_enqueue_on_commit(*, company: Company) -> None:
    """Ask a worker to import now ("Pobierz teraz"), once the current transaction has committed."""
    queue.import_company(company_id=company.pk)


__all__ = [
    "CONTINUES",
    "LEASE",
    "ImportResult",
    "companies_due_for_import",
    "company_import",
    "import_enqueue_on_commit",
    "import_start",
    "import_turn",
    "retry_delay",
    "sync_windows",
]
