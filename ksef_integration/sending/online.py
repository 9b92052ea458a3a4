"""Deliver each issued sales invoice to KSeF exactly once (DESIGN.md §3 "Send a sales invoice").

A ``Submission`` is claimed with a conditional UPDATE (PENDING → INFLIGHT) so only one worker sends it; KSeF
is called outside any database transaction, under a per-company lock (one KSeF conversation per company);
the invoice reference is saved as soon as the send call returns. The XML is built once and resent byte for
byte, so a resend after an unknown outcome is answered by KSeF with 440 (duplicate), which counts as success;
before resending we first look the invoice up in the session by its hash. Every later write is conditional
on the claim token, so a worker that lost its claim (sweeper, restart) cannot overwrite a newer outcome.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import logging
import random
import time
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from lxml import etree

from accounts.models import Company
from invoices.models import Direction, Invoice, KsefStatus
from ksef_integration import notify, queue
from ksef_integration.company_lock import CompanyLock, company_lock
from ksef_integration.connect import gateway
from ksef_integration.connect.session import NotConnected, ksef_client_for
from ksef_integration.encryption import SecretUnreadable, secret_decrypt, secret_encrypt
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
from ksef_integration.offline import availability
from ksef_integration.offline.issue import send_options
from ksef_integration.sending.mapping import XmlProblems, invoice_xml_build

logger = logging.getLogger(__name__)

S = SubmissionStatus
# Session errors that mean "open a new session and send again" rather than "the invoice is wrong".
SESSION_GONE_CODES = frozenset({21155, 21173, 21180})
SESSION_MARGIN = dt.timedelta(minutes=30)
# Invoice statuses that show KSeF has (or had) this file; 500/550 mean it must be sent again.
KNOWN_TO_KSEF = frozenset({100, 150, 200, 440})
UPO_NS = "{http://upo.schematy.mf.gov.pl/KSeF/v4-3}"
# A drain round claims this many due rows; more than LIST_THRESHOLD waiting invoices of one session are
# polled through the session's invoice list rather than one by one; UPOs download on a few threads.
ROUND_SIZE = 200
MAX_BACKOFF_SECONDS = 900.0
LIST_THRESHOLD = 3
LIST_MIN_INTERVAL = 3.0  # sessionInvoiceList allows 20 requests a minute (ksef-api.md §11.1)
UPO_THREADS = 8
POLL_FIRST_DELAY = 0.05
POLL_MAX_DELAY = 1.0
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


def _lease() -> dt.timedelta:
    """How long a claim lasts before the sweeper may hand the row to another worker."""
    return dt.timedelta(seconds=_setting("KSEF_SEND_LEASE_SECONDS", 300))


def _backoff(attempts: int) -> dt.timedelta:
    """Exponential backoff with full jitter in the upper half: base·2^(n-1), at most 15 minutes."""
    base = _setting("KSEF_SEND_BACKOFF_SECONDS", 5)
    delay = min(base * 2 ** max(0, attempts - 1), MAX_BACKOFF_SECONDS)
    return dt.timedelta(seconds=delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not crypto


# --- queueing ------------------------------------------------------------------------------------------


def _event(submission_id: int, kind: str, message: str = "") -> None:
    SubmissionEvent.objects.create(submission_id=submission_id, kind=kind, message=message[:2000])


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
            queue.send_company(company_id=invoice.company_id, submission_id=submission.pk)
    return submission


def unsent_invoices(*, company_id: int) -> Any:
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
        if (
            waiting.filter(next_attempt_at__gt=timezone.now()).update(next_attempt_at=timezone.now())
            and not queued
        ):
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


# --- state changes (each conditional on the claim) -------------------------------------------------------


def _mirror(invoice_id: int, **fields: Any) -> None:
    Invoice.objects.filter(pk=invoice_id).update(**fields)


def _claimed(submission: Submission, token: str) -> Any:
    return Submission.objects.filter(pk=submission.pk, claim_token=token)


def _release(
    submission: Submission, token: str, *, status: str, wait: dt.timedelta, error: Exception | None = None
) -> None:
    """Give the row back for a later attempt (PENDING to send, SENT to poll); ``error`` is recorded in the
    words the invoice's timeline shows (gateway.error_text), never the client's English."""
    message = gateway.error_text(error) if error is not None else ""
    with transaction.atomic():
        updated = _claimed(submission, token).update(
            status=status,
            next_attempt_at=timezone.now() + wait,
            claim_token="",
            claimed_at=None,
            last_error_message=message[:2000],
        )
        if updated and message:
            _event(submission.pk, SubmissionEvent.Kind.RETRY, message)


def _release_untried(rows: list[Submission], token: str, *, wait: dt.timedelta) -> None:
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


def _mark_sent(
    submission: Submission,
    token: str,
    *,
    session_reference: str,
    invoice_reference: str,
    deferred: list[Submission] | None = None,
) -> bool:
    """Save the invoice reference at once: from now on we only ever ask KSeF about this file.

    With ``deferred`` only the submission row is written (one UPDATE); the invoice's mirror and the timeline
    event follow for the whole round in ``_sent_bookkeeping`` (they are for display only).
    """
    submission.session_reference = session_reference
    submission.invoice_reference = invoice_reference
    if deferred is not None:
        updated = _claimed(submission, token).update(
            status=S.SENT, session_reference=session_reference, invoice_reference=invoice_reference
        )
        if updated:
            deferred.append(submission)
        return bool(updated)
    with transaction.atomic():
        updated = _claimed(submission, token).update(
            status=S.SENT, session_reference=session_reference, invoice_reference=invoice_reference
        )
        if updated:
            _mirror(submission.invoice_id, ksef_status=KsefStatus.SENT, ksef_status_message="")
            _event(submission.pk, SubmissionEvent.Kind.SENT, invoice_reference)
    return bool(updated)


def _sent_bookkeeping(sent: list[Submission]) -> None:
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
        # A local failure never reached KSeF: it must not be called a KSeF rejection anywhere.
        invoice_status = KsefStatus.FAILED_LOCAL if local else KsefStatus.REJECTED
        _mirror(submission.invoice_id, ksef_status=invoice_status, ksef_status_message=message)
        kind = SubmissionEvent.Kind.FAILED_LOCAL if local else SubmissionEvent.Kind.REJECTED
        _event(submission.pk, kind, message)
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


def _send_claimed(
    client: Any,
    company: Company,
    submission: Submission,
    token: str,
    *,
    session: OnlineSession | None = None,
    fresh: bool = False,
    deferred: list[Submission] | None = None,
) -> bool:
    """Send one claimed submission; True when it now has an invoice reference (to be polled).

    ``session`` is the round's online session (else the company's is looked up); ``fresh`` says the row
    never reached KSeF before (no session reference when claimed), so there is nothing to look up first;
    with ``deferred`` the invoice's "sent" mirror and event are left to ``_sent_bookkeeping``.
    """
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
    if not fresh:
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
    session = session or _online_session(client, company)
    if submission.session_reference != session.reference_number:
        _claimed(submission, token).update(session_reference=session.reference_number)
        submission.session_reference = session.reference_number
    try:
        sent = client.sessions.invoice_send(session=session, xml=xml, **send_options(submission))
    except KsefRateLimited:
        raise
    except KsefTransientError:
        found = None
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
        submission,
        token,
        session_reference=session.reference_number,
        invoice_reference=sent.reference_number,
        deferred=deferred,
    )


def _finish(client: Any, submission: Submission, token: str, status: InvoiceStatus) -> None:
    """Act on a final invoice status: accepted (200, or 440 = already there), rejected, or send again."""
    try:
        status.raise_for_failure()
    except KsefDuplicate as dup:
        if not dup.original_ksef_number:
            _release(submission, token, status=S.SENT, wait=_backoff(submission.attempts), error=dup)
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
        message = gateway.error_text(exc)
        with transaction.atomic():
            if _claimed(submission, token).update(
                status=S.PENDING,
                invoice_reference="",
                session_reference="",
                claim_token="",
                claimed_at=None,
                next_attempt_at=timezone.now() + _backoff(submission.attempts),
                last_error_code=str(status.code),
                last_error_message=message,
            ):
                _event(submission.pk, SubmissionEvent.Kind.RETRY, message)
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


def _upo_fetch_all(client: Any, urls: list[str]) -> list[bytes | KsefError]:
    """Download UPOs from their pre-signed URLs (no rate limit applies to them), a few at a time."""
    if len(urls) <= 1:
        return [_upo_or_error(client, url) for url in urls]
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(UPO_THREADS, len(urls))) as pool:
        return list(pool.map(lambda url: _upo_or_error(client, url), urls))


def _upo_or_error(client: Any, url: str) -> bytes | KsefError:
    try:
        return bytes(client.sessions.upo_download(url=url))
    except KsefError as exc:
        return exc


def _accept_many(client: Any, accepted: list[tuple[Submission, str, InvoiceStatus]]) -> None:
    """Mark a poll's successes accepted in a handful of statements (their UPOs fetched in parallel)."""
    with_url = [(s, t, st) for s, t, st in accepted if st.upo_download_url]
    upos = _upo_fetch_all(client, [st.upo_download_url or "" for _, _, st in with_url])
    ready: list[tuple[Submission, str, InvoiceStatus, bytes]] = []
    retry = [(s, t, st) for s, t, st in accepted if not st.upo_download_url]
    for (submission, token, status), upo in zip(with_url, upos, strict=True):
        if isinstance(upo, KsefError):
            retry.append((submission, token, status))
        else:
            ready.append((submission, token, status, upo))
    for submission, token, status in retry:  # rare: the one-by-one way, with the API's UPO endpoint
        try:
            _finish(client, submission, token, status)
        except KsefTransientError as exc:
            _release(submission, token, status=S.SENT, wait=_backoff(submission.attempts), error=exc)
    if not ready:
        return
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
            acquired = status.acquisition_date or _upo_acquisition_date(upo)
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
    logger.info("ksef invoices accepted: %s", len(owned))


_last_listed: dict[str, float] = {}  # session reference → when this process last listed its invoices


def _statuses(client: Any, session_reference: str, references: list[str]) -> dict[str, InvoiceStatus]:
    """The status of each of ``references`` in one session: one by one when few, else from the session's
    invoice list (1,000 per request)."""
    if len(references) <= LIST_THRESHOLD:
        return {
            ref: client.sessions.invoice_status(session_reference=session_reference, invoice_reference=ref)
            for ref in references
        }
    now = time.monotonic()
    if now - _last_listed.get(session_reference, -LIST_MIN_INTERVAL) < LIST_MIN_INTERVAL:
        return {}  # listed a moment ago: ask again on a later round (the list has the tightest limit)
    _last_listed[session_reference] = now
    wanted = set(references)
    found: dict[str, InvoiceStatus] = {}
    for status in client.sessions.invoices(session_reference=session_reference, page_size=1000):
        if status.reference_number in wanted:
            found[status.reference_number] = status
    return found


def _poll(
    client: Any, claimed: list[tuple[Submission, str]], *, known: dict[str, InvoiceStatus] | None = None
) -> list[tuple[Submission, str]]:
    """Ask KSeF once about each sent invoice and act on the final ones; returns those still processing.
    ``known``: statuses just read (by invoice reference), used instead of asking again."""
    by_session: dict[str, list[tuple[Submission, str]]] = {}
    for submission, token in claimed:
        by_session.setdefault(submission.session_reference, []).append((submission, token))
    still: list[tuple[Submission, str]] = []
    for index, (session_reference, group) in enumerate(by_session.items()):
        try:
            references = [s.invoice_reference for s, _ in group]
            if known is not None and all(ref in known for ref in references):
                statuses = known
            else:
                statuses = _statuses(client, session_reference, references)
        except KsefRateLimited as exc:
            later = [pair for rest in list(by_session.values())[index:] for pair in rest]
            for other, other_token in [*later, *still]:
                _release(other, other_token, status=S.SENT, wait=dt.timedelta(seconds=exc.retry_after))
            raise _Stop from exc
        except KsefNotFound as exc:
            for submission, token in group:  # the session is gone: ask about each invoice later
                _release(submission, token, status=S.SENT, wait=_backoff(submission.attempts), error=exc)
            continue
        except KsefTransientError as exc:
            for submission, token in group:
                _release(submission, token, status=S.SENT, wait=_backoff(submission.attempts), error=exc)
            continue
        accepted: list[tuple[Submission, str, InvoiceStatus]] = []
        for submission, token in group:
            status = statuses.get(submission.invoice_reference)
            if status is None or not status.is_final:
                still.append((submission, token))
            elif status.is_success and status.ksef_number:
                accepted.append((submission, token, status))
            else:
                try:
                    _finish(client, submission, token, status)
                except KsefTransientError as exc:
                    wait = _backoff(submission.attempts)
                    _release(submission, token, status=S.SENT, wait=wait, error=exc)
        _accept_many(client, accepted)
    return still


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


def _due(company_id: int) -> Any:
    return Submission.objects.filter(
        company_id=company_id, status__in=(S.PENDING, S.SENT), next_attempt_at__lte=timezone.now()
    )


def _batch_threshold() -> int:
    return int(_setting("KSEF_SEND_BATCH_THRESHOLD", 50))


def _scan(company_id: int, *, holding: set[int], limit: int) -> list[dict[str, Any]]:
    """The company's due rows (oldest first), in one statement: what a drain round decides on."""
    return list(
        _due(company_id)
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


def _claim_round(pks: list[int], token: str) -> list[Submission]:
    """Claim these due rows for this round (one token for the round): PENDING rows to send and SENT rows
    to poll; each only if still due and unclaimed."""
    if not pks:
        return []
    now = timezone.now()
    lease_end = now + _lease()
    Submission.objects.filter(pk__in=pks, status=S.PENDING, next_attempt_at__lte=now).update(
        status=S.INFLIGHT,
        claim_token=token,
        claimed_at=now,
        attempts=F("attempts") + 1,
        next_attempt_at=lease_end,
    )
    Submission.objects.filter(pk__in=pks, status=S.SENT, next_attempt_at__lte=now).update(
        claim_token=token, claimed_at=now, next_attempt_at=lease_end
    )
    return list(Submission.objects.filter(pk__in=pks, claim_token=token).order_by("id"))


def _xml_prepare(rows: list[Submission], token: str, *, session_reference: str) -> None:
    """Build the XML of rows that have none yet and tie every row to the round's session before sending,
    in one statement (a crash after the send is then resolved by asking that session)."""
    missing = [row for row in rows if not row.xml]
    if missing:
        invoices = Invoice.objects.prefetch_related("lines").in_bulk([row.invoice_id for row in missing])
        for row in missing:
            try:
                built = invoice_xml_build(invoices[row.invoice_id])
            except XmlProblems as exc:
                message = _("The invoice was not sent because of problems in its data: %(problems)s") % {
                    "problems": "; ".join(exc.problems)
                }
                _mark_rejected(row, token, code="local", message=message, local=True)
                row.status = S.FAILED_LOCAL
                continue
            row.xml = built.xml
            row.xml_sha256_b64 = built.sha256_b64
    ready = [row for row in rows if row.status != S.FAILED_LOCAL]
    for row in ready:
        row.session_reference = session_reference
    if ready:
        Submission.objects.filter(claim_token=token).bulk_update(
            ready, ["xml", "xml_sha256_b64", "session_reference"]
        )


def _send_round(
    client: Any, company: Company, rows: list[Submission], token: str
) -> tuple[list[tuple[Submission, str]], bool]:
    """Send the round's PENDING rows; returns (rows now SENT, stop talking to KSeF?)."""
    sent: list[tuple[Submission, str]] = []
    fresh = [row for row in rows if not row.session_reference and not row.invoice_reference]
    others = [row for row in rows if row.session_reference or row.invoice_reference]
    deferred: list[Submission] = []
    stop = False
    session: OnlineSession | None = None
    try:
        if fresh:
            session = _online_session(client, company)
            _xml_prepare(fresh, token, session_reference=session.reference_number)
            fresh = [row for row in fresh if row.status != S.FAILED_LOCAL]
        queue = [(row, True) for row in fresh] + [(row, False) for row in others]
        for index, (submission, is_fresh) in enumerate(queue):
            try:
                if _send_claimed(
                    client,
                    company,
                    submission,
                    token,
                    session=session if is_fresh else None,
                    fresh=is_fresh,
                    deferred=deferred,
                ):
                    sent.append((submission, token))
            except KsefRateLimited as exc:
                wait = dt.timedelta(seconds=exc.retry_after)
                _release(submission, token, status=S.PENDING, wait=wait)
                _release_untried([row for row, _fresh in queue[index + 1 :]], token, wait=wait)
                stop = True
                break
            except KsefAuthError as exc:
                wait = dt.timedelta(minutes=5)
                _release(submission, token, status=S.PENDING, wait=wait)
                _release_untried([row for row, _fresh in queue[index + 1 :]], token, wait=wait)
                _pause(company, exc)
                stop = True
                break
            except KsefTransientError as exc:
                failures = availability.transport_failed(
                    company_id=company.pk
                )  # N in a row = KSeF unavailable
                wait = _backoff(max(submission.attempts, failures))
                _release(submission, token, status=S.PENDING, wait=wait, error=exc)
            except KsefRejected as exc:
                _mark_rejected(
                    submission,
                    token,
                    code=str(exc.code),
                    message=_rejection_text(exc.code, exc.description, exc.details),
                )
    except KsefError as exc:  # opening the session failed: nothing was sent
        if isinstance(exc, KsefRateLimited):
            wait = dt.timedelta(seconds=exc.retry_after)
        elif isinstance(exc, KsefAuthError):
            wait = _backoff(1)
            _pause(company, exc)
        else:  # KSeF (or the address configured for it) does not answer: wait longer each time in a row
            wait = _backoff(availability.transport_failed(company_id=company.pk))
        _release_untried([row for row in rows if row.status == S.INFLIGHT], token, wait=wait)
        stop = True
    finally:
        _sent_bookkeeping(deferred)
    return sent, stop


def _drain_locked(company: Company, lock: CompanyLock, *, budget: float) -> int:
    """Send and poll the company's due submissions until none is left or ``budget`` seconds have passed.

    Work is pipelined in rounds: each round claims due rows (one token), sends the PENDING ones in the
    company's online session, then asks KSeF once about everything in flight (the session's invoice list
    gives up to 1,000 statuses per request) and accepts what is final in a few statements. A backlog of
    more than ``KSEF_SEND_BATCH_THRESHOLD`` queued invoices goes through a batch session instead.
    """
    from ksef_integration.sending import batch as send_batch

    try:
        client = ksef_client_for(company=company)
    except NotConnected:
        return 0
    except KsefAuthError as exc:
        _pause(company, exc)
        return 0
    except KsefTransientError:
        # Nothing was claimed: the due rows wait longer each time in a row, so that neither the next drain
        # nor the sweeper knocks at an address that does not answer every few seconds.
        wait = _backoff(availability.transport_failed(company_id=company.pk))
        _due(company.pk).update(next_attempt_at=timezone.now() + wait)
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
            if unresolved or len(send_batch.eligible_rows(due)) > threshold:
                progressed = send_batch.company_batches(
                    client=client, company=company, lock=lock, threshold=threshold, deadline=deadline
                )
                handled += progressed
                if progressed:
                    continue
            token = uuid.uuid4().hex
            # Rows of a batch whose outcome is unknown are only ever resolved by asking about that batch.
            skip = {r["pk"] for r in unresolved}
            rows = _claim_round([r["pk"] for r in due[:ROUND_SIZE] if r["pk"] not in skip], token)
            handled += len(rows)
            to_send = [row for row in rows if row.status == S.INFLIGHT]
            waiting += [(row, token) for row in rows if row.status == S.SENT]
            sent, stop = _send_round(client, company, to_send, token) if to_send else ([], False)
            waiting += sent
            if sent:
                availability.transport_ok(company_id=company.pk)  # issue 8: KSeF answers again
            lock.extend()
            if stop:
                raise _Stop
            if waiting:
                waiting = _poll(client, waiting)
            if not rows and not progressed:
                if not waiting:
                    break
                time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                delay = min(delay * 1.5, POLL_MAX_DELAY)
            else:
                delay = POLL_FIRST_DELAY
            lock.extend()
    except _Stop:
        pass
    except KsefAuthError as exc:
        for submission, token in waiting:
            _release(submission, token, status=S.SENT, wait=dt.timedelta(minutes=5))
        waiting = []
        _pause(company, exc)
    finally:
        for submission, token in waiting:  # still processing in KSeF: the next drain asks again
            _release(submission, token, status=S.SENT, wait=dt.timedelta(0))
    return handled


def _requeue(company_id: int, *, handled: int) -> None:
    """After a drain: queue the next one for when the company's earliest waiting row is due, so a row in
    backoff is retried on time instead of waiting for the sweeper. A drain that got nothing done (KSeF
    unreachable, nothing due) queues nothing for rows due now: no busy loop; the sweeper comes back."""
    if not KsefConnection.objects.filter(company_id=company_id, status=ConnectionStatus.ACTIVE).exists():
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
    if countdown <= max(_lease().total_seconds(), MAX_BACKOFF_SECONDS):  # later ones: the sweeper's job
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
            _mirror(submission.invoice_id, ksef_status=KsefStatus.QUEUED, ksef_status_message="")
        else:
            Submission.objects.filter(pk=submission.pk, status__in=(S.PENDING, S.SENT)).update(
                next_attempt_at=timezone.now()
            )
        _event(submission.pk, SubmissionEvent.Kind.QUEUED, _("Queued again by hand."))
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
