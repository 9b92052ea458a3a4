"""Deliver each issued sales invoice to KSeF exactly once (DESIGN.md §3 "Send a sales invoice").

A ``Submission`` is claimed with a conditional UPDATE (PENDING → INFLIGHT) so only one worker sends it; KSeF
is called outside any database transaction, under a per-company lock (one KSeF conversation per company);
the invoice reference is saved as soon as the send call returns. The XML is built once and resent byte for
byte, so a resend after an unknown outcome is answered by KSeF with 440 (duplicate), which counts as success;
before resending we first look the invoice up in the session by its hash. Every later write is conditional
on the claim token, so a worker that lost its claim (sweeper, restart) cannot overwrite a newer outcome.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Min
from django.utils import timezone
from django.utils.translation import gettext as _
from lxml import etree

from accounts.models import Company, Membership, Role
from invoices.models import Direction, Invoice, KsefStatus
from ksef_integration.fa3_mapping import XmlProblems, invoice_xml_build
from ksef_integration.ksef.crypto import AesKey
from ksef_integration.ksef.errors import (
    KsefAuthError,
    KsefDuplicate,
    KsefError,
    KsefNotFound,
    KsefRateLimited,
    KsefRejected,
    KsefTransientError,
)
from ksef_integration.ksef.sessions import InvoiceStatus, OnlineSession
from ksef_integration.models import (
    AuditEvent,
    ConnectionStatus,
    KsefConnection,
    KsefOnlineSession,
    Submission,
    SubmissionEvent,
    SubmissionStatus,
)
from ksef_integration.secrets import SecretUnreadable, secret_decrypt, secret_encrypt
from ksef_integration.services.ksef_session import NotConnected, ksef_client_for

logger = logging.getLogger(__name__)

S = SubmissionStatus
# Session errors that mean "open a new session and send again" rather than "the invoice is wrong".
SESSION_GONE_CODES = frozenset({21155, 21173, 21180})
SESSION_MARGIN = dt.timedelta(minutes=30)
# Invoice statuses that show KSeF has (or had) this file; 500/550 mean it must be sent again.
KNOWN_TO_KSEF = frozenset({100, 150, 200, 440})
UPO_NS = "{http://upo.schematy.mf.gov.pl/KSeF/v4-3}"


def _setting(name: str, default: float) -> float:
    """A tunable from Django settings (read from the environment in ksefportal/settings.py)."""
    return float(getattr(settings, name, default))


def _lease() -> dt.timedelta:
    """How long a claim lasts before the sweeper may hand the row to another worker."""
    return dt.timedelta(seconds=_setting("KSEF_SEND_LEASE_SECONDS", 300))


def _backoff(attempts: int) -> dt.timedelta:
    """Exponential backoff with full jitter in the upper half: base·2^(n-1), at most 15 minutes."""
    base = _setting("KSEF_SEND_BACKOFF_SECONDS", 5)
    delay = min(base * 2 ** max(0, attempts - 1), 900.0)
    return dt.timedelta(seconds=delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not crypto


# --- the per-company lock ------------------------------------------------------------------------------


class _CompanyLock:
    """One KSeF conversation per company across all workers: Redis when configured, else the cache."""

    def __init__(self, company_id: int) -> None:
        self.key = f"ksef:send-lock:{company_id}"
        self.ttl = _lease().total_seconds()
        self._redis_lock: Any = None

    def acquire(self) -> bool:
        if settings.REDIS_URL:
            import redis

            client = redis.Redis.from_url(settings.REDIS_URL)
            self._redis_lock = client.lock(self.key, timeout=self.ttl, blocking=False)
            return bool(self._redis_lock.acquire(blocking=False))
        return bool(cache.add(self.key, "1", timeout=int(self.ttl) + 1))

    def extend(self) -> None:
        """Keep the lock while a long drain makes progress."""
        if self._redis_lock is not None:
            with contextlib.suppress(Exception):
                self._redis_lock.reacquire()
        else:
            cache.touch(self.key, timeout=int(self.ttl) + 1)

    def release(self) -> None:
        if self._redis_lock is not None:
            with contextlib.suppress(Exception):
                self._redis_lock.release()
        else:
            cache.delete(self.key)


@contextlib.contextmanager
def _company_lock(company_id: int) -> Iterator[_CompanyLock | None]:
    lock = _CompanyLock(company_id)
    if not lock.acquire():
        yield None
        return
    try:
        yield lock
    finally:
        lock.release()


# --- queueing ------------------------------------------------------------------------------------------


def _event(submission_id: int, kind: str, message: str = "") -> None:
    SubmissionEvent.objects.create(submission_id=submission_id, kind=kind, message=message[:2000])


def _enqueue_on_commit(submission_id: int) -> None:
    from ksef_integration.tasks import send as send_task

    transaction.on_commit(lambda: send_task.delay(submission_id))


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
            _event(submission.pk, SubmissionEvent.Kind.QUEUED)
            _enqueue_on_commit(submission.pk)
    return submission


def on_invoice_issued(sender: object, *, invoice: Invoice, **kwargs: object) -> None:
    """``invoice_issued`` receiver: queue the invoice when the company sends automatically."""
    if invoice.direction != Direction.SALES:
        return
    connection = KsefConnection.objects.filter(company_id=invoice.company_id).first()
    if connection is not None and connection.auto_send and connection.can_send:
        submission_enqueue(invoice=invoice)


# --- state changes (each conditional on the claim) -------------------------------------------------------


def _mirror(invoice_id: int, **fields: Any) -> None:
    Invoice.objects.filter(pk=invoice_id).update(**fields)


def _claimed(submission: Submission, token: str) -> Any:
    return Submission.objects.filter(pk=submission.pk, claim_token=token)


def _release(submission: Submission, token: str, *, status: str, wait: dt.timedelta, error: str = "") -> None:
    """Give the row back for a later attempt (PENDING to send, SENT to poll)."""
    with transaction.atomic():
        updated = _claimed(submission, token).update(
            status=status,
            next_attempt_at=timezone.now() + wait,
            claim_token="",
            claimed_at=None,
            last_error_message=error[:2000],
        )
        if updated and error:
            _event(submission.pk, SubmissionEvent.Kind.RETRY, error)


def _claim_send(submission_id: int) -> str | None:
    token = uuid.uuid4().hex
    now = timezone.now()
    updated = Submission.objects.filter(pk=submission_id, status=S.PENDING, next_attempt_at__lte=now).update(
        status=S.INFLIGHT,
        claim_token=token,
        claimed_at=now,
        attempts=F("attempts") + 1,
        next_attempt_at=now + _lease(),
    )
    return token if updated == 1 else None


def _claim_poll(submission_id: int) -> str | None:
    token = uuid.uuid4().hex
    now = timezone.now()
    updated = Submission.objects.filter(pk=submission_id, status=S.SENT, next_attempt_at__lte=now).update(
        claim_token=token, claimed_at=now, next_attempt_at=now + _lease()
    )
    return token if updated == 1 else None


def _mark_sent(submission: Submission, token: str, *, session_reference: str, invoice_reference: str) -> bool:
    """Save the invoice reference at once: from now on we only ever ask KSeF about this file."""
    with transaction.atomic():
        updated = _claimed(submission, token).update(
            status=S.SENT, session_reference=session_reference, invoice_reference=invoice_reference
        )
        if updated:
            _mirror(submission.invoice_id, ksef_status=KsefStatus.SENT, ksef_status_message="")
            _event(submission.pk, SubmissionEvent.Kind.SENT, invoice_reference)
    submission.session_reference = session_reference
    submission.invoice_reference = invoice_reference
    return bool(updated)


def _upo_acquisition_date(upo: bytes) -> dt.datetime | None:
    with contextlib.suppress(etree.XMLSyntaxError, ValueError):
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        root = etree.fromstring(upo, parser)
        text = root.findtext(f".//{UPO_NS}DataNadaniaNumeruKSeF")
        if text:
            moment = dt.datetime.fromisoformat(text)
            return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return None


def _mark_accepted(
    submission: Submission,
    token: str,
    *,
    ksef_number: str,
    acquisition_date: dt.datetime | None,
    upo: bytes,
    duplicate: bool,
) -> None:
    now = timezone.now()
    acquired = acquisition_date or _upo_acquisition_date(upo)
    with transaction.atomic():
        updated = _claimed(submission, token).update(
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
        _mirror(
            submission.invoice_id,
            ksef_status=KsefStatus.ACCEPTED,
            ksef_number=ksef_number,
            ksef_acquisition_date=acquired,
            ksef_status_message="",
            xml_sha256_b64=submission.xml_sha256_b64,
        )
        note = _("KSeF already had this invoice; its original KSeF number was adopted.") if duplicate else ""
        _event(submission.pk, SubmissionEvent.Kind.ACCEPTED, f"{ksef_number} {note}".strip())
        if upo:
            _event(submission.pk, SubmissionEvent.Kind.UPO)
    logger.info("ksef invoice accepted: submission=%s duplicate=%s", submission.pk, duplicate)


def _mark_rejected(
    submission: Submission, token: str, *, code: str, message: str, local: bool = False
) -> None:
    status = S.FAILED_LOCAL if local else S.REJECTED
    with transaction.atomic():
        updated = _claimed(submission, token).update(
            status=status,
            claim_token="",
            finished_at=timezone.now(),
            last_error_code=code[:32],
            last_error_message=message,
        )
        if not updated:
            return
        _mirror(submission.invoice_id, ksef_status=KsefStatus.REJECTED, ksef_status_message=message)
        kind = SubmissionEvent.Kind.FAILED_LOCAL if local else SubmissionEvent.Kind.REJECTED
        _event(submission.pk, kind, message)
    invoice = Invoice.objects.get(pk=submission.invoice_id)
    _notify_owners(
        submission.company,
        subject=_("Invoice %(number)s was not accepted by KSeF") % {"number": invoice.number},
        body=_("KSeF did not accept invoice %(number)s.\n\nReason: %(reason)s\n\n%(advice)s")
        % {
            "number": invoice.number,
            "reason": message,
            "advice": _("Open the invoice in the portal to correct it and send it again."),
        },
    )
    logger.info("ksef invoice rejected: submission=%s code=%s local=%s", submission.pk, code, local)


def _notify_owners(company: Company, *, subject: str, body: str) -> None:
    emails = list(
        Membership.objects.filter(company=company, role=Role.OWNER)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if emails:
        send_mail(subject, body, None, emails, fail_silently=True)


def _rejection_text(code: int, description: str, details: list[str] | tuple[str, ...]) -> str:
    reason = description or _("no description given")
    if details:
        reason += " — " + "; ".join(details)[:300]
    return _("KSeF rejected the invoice (code %(code)s): %(reason)s") % {"code": code, "reason": reason}


# --- the conversation with KSeF --------------------------------------------------------------------------


def _online_session(client: Any, company: Company) -> OnlineSession:
    """The company's open online session, reused while valid; a new one when there is none."""
    row = KsefOnlineSession.objects.filter(
        company=company, valid_until__gt=timezone.now() + SESSION_MARGIN
    ).first()
    if row is not None:
        try:
            secret = secret_decrypt(row.key_ciphertext)
            aes = AesKey(key=secret[:32], iv=secret[32:])
            return OnlineSession(reference_number=row.reference_number, valid_until=row.valid_until, aes=aes)
        except (SecretUnreadable, ValueError):
            row.delete()
    session = client.sessions.online_open()
    valid_until = session.valid_until or timezone.now() + dt.timedelta(hours=11)
    KsefOnlineSession.objects.update_or_create(
        company=company,
        defaults={
            "reference_number": session.reference_number,
            "key_ciphertext": secret_encrypt(session.aes.key + session.aes.iv),
            "valid_until": valid_until,
            "created_at": timezone.now(),
        },
    )
    return session


def _session_forget(company: Company, reference: str) -> None:
    KsefOnlineSession.objects.filter(company=company, reference_number=reference).delete()


def _lookup(client: Any, *, session_reference: str, invoice_hash: str) -> InvoiceStatus | None:
    """The file with this hash in the session, if KSeF has it (and has not thrown it away)."""
    if not (session_reference and invoice_hash):
        return None
    try:
        for status in client.sessions.invoices(session_reference=session_reference, page_size=1000):
            if status.invoice_hash == invoice_hash and status.code in KNOWN_TO_KSEF:
                return status
    except KsefNotFound:
        return None
    return None


class _Stop(Exception):
    """Stop talking to KSeF for this company for now (rate limit or an auth problem)."""


def _ensure_xml(submission: Submission, token: str) -> bytes | None:
    if submission.xml:
        return bytes(submission.xml)
    invoice = Invoice.objects.prefetch_related("lines").get(pk=submission.invoice_id)
    try:
        built = invoice_xml_build(invoice)
    except XmlProblems as exc:
        message = _("The invoice was not sent because of problems in its data: %(problems)s") % {
            "problems": "; ".join(exc.problems)
        }
        _mark_rejected(submission, token, code="local", message=message, local=True)
        return None
    _claimed(submission, token).update(xml=built.xml, xml_sha256_b64=built.sha256_b64)
    submission.xml = built.xml
    submission.xml_sha256_b64 = built.sha256_b64
    return built.xml


def _send_claimed(client: Any, company: Company, submission: Submission, token: str) -> bool:
    """Send one claimed submission; True when it now has an invoice reference (to be polled)."""
    xml = _ensure_xml(submission, token)
    if xml is None:
        return False
    if submission.invoice_reference:  # sent before; only its status is missing
        return _mark_sent(
            submission,
            token,
            session_reference=submission.session_reference,
            invoice_reference=submission.invoice_reference,
        )
    # An earlier attempt's outcome is unknown: ask KSeF before sending the file again.
    found = _lookup(
        client, session_reference=submission.session_reference, invoice_hash=submission.xml_sha256_b64
    )
    if found is not None:
        return _mark_sent(
            submission,
            token,
            session_reference=submission.session_reference,
            invoice_reference=found.reference_number,
        )
    session = _online_session(client, company)
    _claimed(submission, token).update(session_reference=session.reference_number)
    submission.session_reference = session.reference_number
    try:
        sent = client.sessions.invoice_send(session=session, xml=xml)
    except KsefRateLimited:
        raise
    except KsefTransientError:
        with contextlib.suppress(KsefTransientError):
            found = _lookup(
                client, session_reference=session.reference_number, invoice_hash=submission.xml_sha256_b64
            )
        if found is None:
            raise
        return _mark_sent(
            submission,
            token,
            session_reference=session.reference_number,
            invoice_reference=found.reference_number,
        )
    except KsefRejected as exc:
        if exc.code in SESSION_GONE_CODES:
            _session_forget(company, session.reference_number)
            _release(submission, token, status=S.PENDING, wait=dt.timedelta(0))
            return False
        raise
    return _mark_sent(
        submission, token, session_reference=session.reference_number, invoice_reference=sent.reference_number
    )


def _finish(client: Any, submission: Submission, token: str, status: InvoiceStatus) -> None:
    """Act on a final invoice status: accepted (200, or 440 = already there), rejected, or send again."""
    try:
        status.raise_for_failure()
    except KsefDuplicate as dup:
        if not dup.original_ksef_number:
            _release(submission, token, status=S.SENT, wait=_backoff(submission.attempts), error=str(dup))
            return
        upo = b""
        if dup.original_session_reference:
            with contextlib.suppress(KsefError):
                upo = client.sessions.invoice_upo_by_ksef(
                    session_reference=dup.original_session_reference, ksef_number=dup.original_ksef_number
                )
        _mark_accepted(
            submission,
            token,
            ksef_number=dup.original_ksef_number,
            acquisition_date=None,
            upo=upo,
            duplicate=True,
        )
        return
    except KsefTransientError as exc:  # 500/550: KSeF dropped the file; send the same bytes again
        with transaction.atomic():
            if _claimed(submission, token).update(
                status=S.PENDING,
                invoice_reference="",
                session_reference="",
                claim_token="",
                claimed_at=None,
                next_attempt_at=timezone.now() + _backoff(submission.attempts),
                last_error_code=str(status.code),
                last_error_message=str(exc),
            ):
                _event(submission.pk, SubmissionEvent.Kind.RETRY, str(exc))
        return
    except KsefRejected as exc:
        _mark_rejected(
            submission,
            token,
            code=str(exc.code),
            message=_rejection_text(exc.code, exc.description, exc.details),
        )
        return
    assert status.ksef_number  # noqa: S101 - status 200 always carries it
    if status.upo_download_url:
        upo = client.sessions.upo_download(url=status.upo_download_url)
    else:
        upo = client.sessions.invoice_upo(
            session_reference=submission.session_reference, invoice_reference=submission.invoice_reference
        )
    _mark_accepted(
        submission,
        token,
        ksef_number=status.ksef_number,
        acquisition_date=status.acquisition_date,
        upo=upo,
        duplicate=False,
    )


def _poll(client: Any, claimed: list[tuple[Submission, str]], *, budget: float) -> None:
    """Ask KSeF about each sent invoice until it is final or ``budget`` seconds have passed."""
    deadline = time.monotonic() + budget
    waiting = list(claimed)
    delay = 0.05
    while waiting:
        still: list[tuple[Submission, str]] = []
        for index, (submission, token) in enumerate(waiting):
            try:
                status = client.sessions.invoice_status(
                    session_reference=submission.session_reference,
                    invoice_reference=submission.invoice_reference,
                )
                if status.is_final:
                    _finish(client, submission, token, status)
                else:
                    still.append((submission, token))
            except KsefRateLimited as exc:
                for other, other_token in [*waiting[index:]]:
                    _release(other, other_token, status=S.SENT, wait=dt.timedelta(seconds=exc.retry_after))
                for other, other_token in still:
                    _release(other, other_token, status=S.SENT, wait=dt.timedelta(seconds=exc.retry_after))
                raise _Stop from exc
            except KsefTransientError as exc:
                _release(submission, token, status=S.SENT, wait=_backoff(submission.attempts), error=str(exc))
        waiting = still
        if waiting:
            if time.monotonic() + delay > deadline:
                for submission, token in waiting:
                    _release(submission, token, status=S.SENT, wait=dt.timedelta(seconds=15))
                return
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)


def _pause(company: Company, error: KsefAuthError | NotConnected) -> None:
    """KSeF refused our credentials: mark the connection "needs attention" and tell the owner once."""
    reason = getattr(error, "message_pl", "") or _("KSeF refused the stored credentials.")
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
    if changed:
        _notify_owners(
            company,
            subject=_("Sending invoices to KSeF is paused"),
            body=_(
                "KSeF refused the credentials stored for %(company)s, so sending invoices is paused.\n\n"
                "Reason: %(reason)s\n\nConnect to KSeF again in the portal; "
                "queued invoices will then be sent."
            )
            % {"company": company.name, "reason": reason},
        )
    logger.warning("ksef sending paused: company=%s", company.uuid)


def _due(company_id: int) -> Any:
    return Submission.objects.filter(
        company_id=company_id, status__in=(S.PENDING, S.SENT), next_attempt_at__lte=timezone.now()
    )


def _drain_locked(company: Company, lock: _CompanyLock, *, budget: float) -> int:
    """Send and poll every due submission of the company; returns how many were handled."""
    try:
        client = ksef_client_for(company=company)
    except NotConnected:
        return 0
    except KsefAuthError as exc:
        _pause(company, exc)
        return 0
    except KsefTransientError:
        return 0
    deadline = time.monotonic() + budget
    handled = 0
    while time.monotonic() < deadline:
        rows = list(_due(company.pk).order_by("next_attempt_at", "id").values_list("pk", "status")[:100])
        if not rows:
            break
        sent: list[tuple[Submission, str]] = []
        try:
            for pk, status in rows:
                token = _claim_send(pk) if status == S.PENDING else _claim_poll(pk)
                if token is None:
                    continue
                submission = Submission.objects.get(pk=pk)
                handled += 1
                if status == S.SENT:
                    sent.append((submission, token))
                    continue
                try:
                    if _send_claimed(client, company, submission, token):
                        sent.append((submission, token))
                except KsefRateLimited as exc:
                    _release(submission, token, status=S.PENDING, wait=dt.timedelta(seconds=exc.retry_after))
                    raise _Stop from exc
                except KsefAuthError as exc:
                    _release(submission, token, status=S.PENDING, wait=dt.timedelta(minutes=5))
                    _pause(company, exc)
                    raise _Stop from exc
                except KsefTransientError as exc:
                    _release(
                        submission,
                        token,
                        status=S.PENDING,
                        wait=_backoff(submission.attempts),
                        error=str(exc),
                    )
                except KsefRejected as exc:
                    _mark_rejected(
                        submission,
                        token,
                        code=str(exc.code),
                        message=_rejection_text(exc.code, exc.description, exc.details),
                    )
                lock.extend()
            _poll(client, sent, budget=max(5.0, deadline - time.monotonic()))
            sent = []
        except _Stop:
            for submission, token in sent:
                _release(submission, token, status=S.SENT, wait=dt.timedelta(seconds=1))
            break
        except KsefAuthError as exc:
            for submission, token in sent:
                _release(submission, token, status=S.SENT, wait=dt.timedelta(minutes=5))
            _pause(company, exc)
            break
        lock.extend()
    return handled


def company_send_due(*, company_id: int, budget: float = 60.0) -> int:
    """Send (and poll) the company's due submissions under its lock; returns how many were handled.

    When another worker holds the lock this returns 0 at once: the holder checks for due rows again after
    releasing the lock, so nothing is left behind.
    """
    company = Company.objects.get(pk=company_id)
    handled = 0
    started = time.monotonic()
    for _round in range(20):
        with _company_lock(company_id) as lock:
            if lock is None:
                return handled
            this_round = _drain_locked(company, lock, budget=max(1.0, budget - (time.monotonic() - started)))
        handled += this_round
        if not this_round or time.monotonic() - started > budget or not _due(company_id).exists():
            break
    return handled


def submission_send(*, submission_id: int) -> None:
    """The ``ksef.send`` task's work: send this submission (and whatever else of its company is due)."""
    row = Submission.objects.filter(pk=submission_id).values("company_id", "status").first()
    if row is None or row["status"] in (S.ACCEPTED, S.REJECTED, S.FAILED_LOCAL):
        return
    company_send_due(company_id=row["company_id"])


# --- sweeper and admin actions -----------------------------------------------------------------------


def submissions_sweep(*, enqueue: Callable[[int], Any] | None = None) -> int:
    """Hand back rows whose worker vanished (claim older than the lease), then queue one ``ksef.send`` per
    company with due work. Returns how many tasks were queued."""
    now = timezone.now()
    stale = now - _lease()
    Submission.objects.filter(status=S.INFLIGHT, claimed_at__lt=stale).update(
        status=S.PENDING, claim_token="", claimed_at=None, next_attempt_at=now
    )
    active = KsefConnection.objects.filter(status=ConnectionStatus.ACTIVE).values("company_id")
    due = (
        Submission.objects.filter(
            status__in=(S.PENDING, S.SENT), next_attempt_at__lte=now, company_id__in=active
        )
        .values("company_id")
        .annotate(first=Min("id"))
    )
    if enqueue is None:
        from ksef_integration.tasks import send as send_task

        enqueue = send_task.delay
    count = 0
    for row in due:
        enqueue(row["first"])
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
            _mirror(submission.invoice_id, ksef_status=KsefStatus.QUEUED, ksef_status_message="")
        else:
            Submission.objects.filter(pk=submission.pk, status__in=(S.PENDING, S.SENT)).update(
                next_attempt_at=timezone.now()
            )
        _event(submission.pk, SubmissionEvent.Kind.QUEUED, _("Queued again by hand."))
        _enqueue_on_commit(submission.pk)
    submission.refresh_from_db()
    return submission


def submission_check_status(*, submission: Submission) -> Submission:
    """Admin "check status": ask KSeF now about a sent invoice (a due SENT row is polled by the drain)."""
    Submission.objects.filter(pk=submission.pk, status=S.SENT).update(next_attempt_at=timezone.now())
    company_send_due(company_id=submission.company_id, budget=20.0)
    submission.refresh_from_db()
    return submission


__all__ = [
    "company_send_due",
    "on_invoice_issued",
    "submission_check_status",
    "submission_enqueue",
    "submission_retry",
    "submission_send",
    "submissions_sweep",
]
