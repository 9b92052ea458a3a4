"""Send claimed invoices one by one in the company's online session, and poll KSeF for their outcome.

The invoice reference is saved as soon as the send call returns. The XML is built once and resent byte for
byte, so a resend after an unknown outcome is answered by KSeF with 440 (duplicate), which counts as success;
before resending we first look the invoice up in the session by its hash. The rows' states change only
through ``state`` (each write conditional on the claim token).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import logging
import time

from django.utils import timezone

from accounts.models import Company
from ksef_integration.encryption import SecretUnreadable, secret_decrypt, secret_encrypt
from ksef_integration.ksef.client import KsefClient
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
from ksef_integration.models import KsefOnlineSession, Submission
from ksef_integration.offline import availability, issue
from ksef_integration.sending import state
from ksef_integration.sending.state import S

logger = logging.getLogger(__name__)

# Session errors that mean "open a new session and send again" rather than "the invoice is wrong".
SESSION_GONE_CODES = frozenset({21155, 21173, 21180})
SESSION_MARGIN = dt.timedelta(minutes=30)
# Invoice statuses that show KSeF has (or had) this file; 500/550 mean it must be sent again.
KNOWN_TO_KSEF = frozenset({100, 150, 200, 440})
# More than LIST_THRESHOLD waiting invoices of one session are polled through the session's invoice list
# rather than one by one; UPOs download on a few threads.
LIST_THRESHOLD = 3
LIST_MIN_INTERVAL = 3.0  # sessionInvoiceList allows 20 requests a minute (ksef-api.md §11.1)
UPO_THREADS = 8
# --- the conversation with KSeF --------------------------------------------------------------------------


def _online_session(client: KsefClient, company: Company) -> OnlineSession:
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


def _lookup(client: KsefClient, *, session_reference: str, invoice_hash: str) -> InvoiceStatus | None:
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


def _send_claimed(
    client: KsefClient,
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
    with ``deferred`` the invoice's "sent" mirror and event are left to ``state.sent_bookkeeping``.
    """
    if not state.xml_ready([submission], token):
        return False
    xml = bytes(submission.xml or b"")
    if submission.invoice_reference:  # sent before; only its status is missing
        return state.mark_sent(
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
            return state.mark_sent(
                submission,
                token,
                session_reference=submission.session_reference,
                invoice_reference=found.reference_number,
            )
    session = session or _online_session(client, company)
    if submission.session_reference != session.reference_number:
        state.claimed(submission, token).update(session_reference=session.reference_number)
        submission.session_reference = session.reference_number
    try:
        sent = client.sessions.invoice_send(session=session, xml=xml, **issue.send_options(submission))
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
        return state.mark_sent(
            submission,
            token,
            session_reference=session.reference_number,
            invoice_reference=found.reference_number,
        )
    except KsefRejected as exc:
        if exc.code in SESSION_GONE_CODES:
            _session_forget(company, session.reference_number)
            state.release(submission, token, status=S.PENDING, wait=dt.timedelta(0))
            return False
        raise
    return state.mark_sent(
        submission,
        token,
        session_reference=session.reference_number,
        invoice_reference=sent.reference_number,
        deferred=deferred,
    )


def _finish(client: KsefClient, submission: Submission, token: str, status: InvoiceStatus) -> None:
    """Act on a final invoice status: accepted (200, or 440 = already there), rejected, or send again."""
    try:
        status.raise_for_failure()
    except KsefDuplicate as dup:
        if not dup.original_ksef_number:
            state.release(
                submission, token, status=S.SENT, wait=state.backoff(submission.attempts), error=dup
            )
            return
        upo = b""
        if dup.original_session_reference:
            with contextlib.suppress(KsefError):
                upo = client.sessions.invoice_upo_by_ksef(
                    session_reference=dup.original_session_reference, ksef_number=dup.original_ksef_number
                )
        state.mark_accepted(
            submission,
            token,
            ksef_number=dup.original_ksef_number,
            acquisition_date=None,
            upo=upo,
            duplicate=True,
        )
        return
    except KsefTransientError as exc:  # 500/550: KSeF dropped the file; send the same bytes again
        state.mark_dropped(submission, token, code=status.code, error=exc)
        return
    except KsefRejected as exc:
        state.mark_refused(submission, token, exc)
        return
    assert status.ksef_number  # noqa: S101 - status 200 always carries it
    if status.upo_download_url:
        upo = client.sessions.upo_download(url=status.upo_download_url)
    else:
        upo = client.sessions.invoice_upo(
            session_reference=submission.session_reference, invoice_reference=submission.invoice_reference
        )
    state.mark_accepted(
        submission,
        token,
        ksef_number=status.ksef_number,
        acquisition_date=status.acquisition_date,
        upo=upo,
        duplicate=False,
    )


def _upo_fetch_all(client: KsefClient, urls: list[str]) -> list[bytes | KsefError]:
    """Download UPOs from their pre-signed URLs (no rate limit applies to them), a few at a time."""
    if len(urls) <= 1:
        return [_upo_or_error(client, url) for url in urls]
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(UPO_THREADS, len(urls))) as pool:
        return list(pool.map(lambda url: _upo_or_error(client, url), urls))


def _upo_or_error(client: KsefClient, url: str) -> bytes | KsefError:
    try:
        return bytes(client.sessions.upo_download(url=url))
    except KsefError as exc:
        return exc


def _accept_many(client: KsefClient, accepted: list[tuple[Submission, str, InvoiceStatus]]) -> None:
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
            state.release(
                submission, token, status=S.SENT, wait=state.backoff(submission.attempts), error=exc
            )
    state.mark_accepted_many(ready)


_last_listed: dict[str, float] = {}  # session reference → when this process last listed its invoices


def _statuses(client: KsefClient, session_reference: str, references: list[str]) -> dict[str, InvoiceStatus]:
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


def poll(
    client: KsefClient,
    claimed: list[tuple[Submission, str]],
    *,
    known: dict[str, InvoiceStatus] | None = None,
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
                state.release(other, other_token, status=S.SENT, wait=dt.timedelta(seconds=exc.retry_after))
            raise state.Stop from exc
        except KsefNotFound as exc:
            for submission, token in group:  # the session is gone: ask about each invoice later
                state.release(
                    submission, token, status=S.SENT, wait=state.backoff(submission.attempts), error=exc
                )
            continue
        except KsefTransientError as exc:
            for submission, token in group:
                state.release(
                    submission, token, status=S.SENT, wait=state.backoff(submission.attempts), error=exc
                )
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
                    wait = state.backoff(submission.attempts)
                    state.release(submission, token, status=S.SENT, wait=wait, error=exc)
        _accept_many(client, accepted)
    return still


def _session_tie(rows: list[Submission], token: str, *, session_reference: str) -> list[Submission]:
    """The rows ready to send (``state.xml_ready``), tied to the round's session before sending, in one
    statement (a crash after the send is then resolved by asking that session)."""
    ready = state.xml_ready(rows, token)
    for row in ready:
        row.session_reference = session_reference
    if ready:
        Submission.objects.filter(pk__in=[row.pk for row in ready], claim_token=token).update(
            session_reference=session_reference
        )
    return ready


def send_round(
    client: KsefClient, company: Company, rows: list[Submission], token: str
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
            fresh = _session_tie(fresh, token, session_reference=session.reference_number)
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
                state.release(submission, token, status=S.PENDING, wait=wait)
                state.release_untried([row for row, _fresh in queue[index + 1 :]], token, wait=wait)
                stop = True
                break
            except KsefAuthError as exc:
                wait = dt.timedelta(minutes=5)
                state.release(submission, token, status=S.PENDING, wait=wait)
                state.release_untried([row for row, _fresh in queue[index + 1 :]], token, wait=wait)
                state.pause(company, exc)
                stop = True
                break
            except KsefTransientError as exc:
                failures = availability.transport_failed(
                    company_id=company.pk
                )  # N in a row = KSeF unavailable
                wait = state.backoff(max(submission.attempts, failures))
                state.release(submission, token, status=S.PENDING, wait=wait, error=exc)
            except KsefRejected as exc:
                state.mark_refused(submission, token, exc)
    except KsefError as exc:  # opening the session failed: nothing was sent
        if isinstance(exc, KsefRateLimited):
            wait = dt.timedelta(seconds=exc.retry_after)
        elif isinstance(exc, KsefAuthError):
            wait = state.backoff(1)
            state.pause(company, exc)
        else:  # KSeF (or the address configured for it) does not answer: wait longer each time in a row
            wait = state.backoff(availability.transport_failed(company_id=company.pk))
        state.release_untried([row for row in rows if row.status == S.INFLIGHT], token, wait=wait)
        stop = True
    finally:
        state.sent_bookkeeping(deferred)
    return sent, stop
