"""The one place that queues background work of the KSeF integration.

- By the task's stable name (``ksef.send``…): nothing imports ``ksef_integration.tasks``; tasks import
  services and never the other way round.
- When the surrounding transaction commits: work of a rolled-back transaction is never queued, and a worker
  never looks for a row that is not committed yet. Outside a transaction it is queued at once.
- A company's drain (``ksef.send``) and import (``ksef.import``) at most once while one already waits in the
  broker: publishing takes the marker ``ksef:queued:<task>:<company>`` with the cache's atomic ``add``, and
  the task drops it (``started``) before it looks for work, so work committed after that queues it again and
  nothing is left behind. The marker expires by itself after ``MARKER_SECONDS`` should a message be lost or
  the task run where the cache is not shared; the sweeper looks for due work every 30 seconds as well. A
  month-end run of 1,000 invoices queues one drain.
- A message to send later (``countdown``) is not de-duplicated: it must not hold back work due now.
"""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.core.cache import cache
from django.db import transaction

SEND = "ksef.send"
IMPORT = "ksef.import"
IMPORT_DIGEST = "ksef.import_digest"
NOTIFY = "ksef.notify"
CERTIFICATE_ENROLLMENT = "ksef.certificate_enrollment"
CERTIFICATE_CHECK = "ksef.certificate_check"
CONNECTION_VERIFY = "ksef.connection_verify"
PERMISSION_CHANGE = "ksef.permission_change"
PERMISSIONS_REFRESH = "ksef.permissions_refresh"
DELIVERY_SEND = "ksef.delivery_send"
MARKER_SECONDS = 10


def publish(name: str, args: tuple[Any, ...], options: dict[str, Any]) -> None:
    """Hand one message to the broker (tests replace this to see what would be queued)."""
    current_app.send_task(name, args=args, **options)


def _marker(name: str, company_id: int) -> str:
    return f"ksef:queued:{name}:{company_id}"


def _queue(name: str, args: tuple[Any, ...], *, company_id: int | None = None, **options: Any) -> None:
    def send() -> None:
        if company_id is not None and not cache.add(_marker(name, company_id), 1, timeout=MARKER_SECONDS):
            return  # one is already waiting for this company; it will see this work too
        publish(name, args, options)

    transaction.on_commit(send)


def started(name: str, company_id: int) -> None:
    """Called by a per-company task as it starts, before it looks for work: what is committed from now on
    queues the task again."""
    cache.delete(_marker(name, company_id))


def send_company(*, company_id: int, submission_id: int) -> None:
    """Queue the drain of the company's due submissions (``submission_id`` names the one that asked)."""
    _queue(SEND, (submission_id,), company_id=company_id)


def send_company_later(*, submission_id: int, countdown: float) -> None:
    """Queue a drain for when the company's earliest row in backoff is due."""
    _queue(SEND, (submission_id,), countdown=countdown)


def import_company(*, company_id: int, expires: int | None = None) -> None:
    """Queue an import of the company's invoices from KSeF."""
    options = {"expires": expires} if expires else {}
    _queue(IMPORT, (company_id,), company_id=company_id, **options)


def import_continue(*, company_id: int, countdown: float = 0) -> None:
    """Queue the next turn of the company's parked import run (``importing.services.import_turn``): at once
    (to the back of the queue, at most one waiting) or after ``countdown`` seconds (its KSeF limits)."""
    if countdown > 0:
        _queue(IMPORT, (company_id, True), countdown=countdown)
    else:
        _queue(IMPORT, (company_id, True), company_id=company_id)


def import_digest(*, run_id: int) -> None:
    """Queue the e-mail digest of an import run's new purchase invoices."""
    _queue(IMPORT_DIGEST, (run_id,))


def notify(*, company_id: int, subject: str, body: str) -> None:
    """Queue an e-mail to the people told about the company's KSeF problems (``notify.recipients``)."""
    _queue(NOTIFY, (company_id, subject, body))


def certificate_enrollment(*, enrollment_id: int) -> None:
    """Queue the work of a certificate enrollment (the switch from a token, or a renewal)."""
    _queue(CERTIFICATE_ENROLLMENT, (enrollment_id,))


def certificate_check(*, company_id: int) -> None:
    """Queue asking KSeF how long the company's connection certificate is valid (at most one waiting)."""
    _queue(CERTIFICATE_CHECK, (company_id,), company_id=company_id)


def connection_verify(*, company_id: int) -> None:
    """Queue a check of the company's connection (a login with the stored credential), e.g. from the admin."""
    _queue(CONNECTION_VERIFY, (company_id,), company_id=company_id)


def permission_change(*, change_id: int, countdown: float | None = None) -> None:
    """Queue carrying out one grant or revocation of KSeF permissions (``countdown``: try again later)."""
    if countdown:
        _queue(PERMISSION_CHANGE, (change_id,), countdown=countdown)
    else:
        _queue(PERMISSION_CHANGE, (change_id,))


def permissions_refresh(*, company_id: int, countdown: float | None = None) -> None:
    """Queue reading who has which KSeF permissions in the company's context (at most one waiting)."""
    if countdown:
        _queue(PERMISSIONS_REFRESH, (company_id,), countdown=countdown)
    else:
        _queue(PERMISSIONS_REFRESH, (company_id,), company_id=company_id)


def delivery_send(*, delivery_id: int) -> None:
    """Queue e-mailing an invoice to its buyer (``delivery.services.delivery_send``; the task retries)."""
    _queue(DELIVERY_SEND, (delivery_id,))
