"""Celery tasks of the KSeF integration: thin wrappers, one service call each, IDs as arguments.

Nothing imports this module: work is queued by task name through ``ksef_integration.queue``.
"""

from __future__ import annotations

import smtplib

from celery import Task, shared_task

from ksef_integration import queue

IMPORT_BUSY_RETRY_SECONDS = 15
IMPORT_BUSY_RETRIES = 8  # two minutes; the fan-out (every minute) picks up what is still due after that

# --- importing (issue 7) --------------------------------------------------------------------------------


@shared_task(name="ksef.import", bind=True, acks_late=True, soft_time_limit=25 * 60, time_limit=30 * 60)
def ksef_import(self: Task, company_id: int, resume: bool = False) -> str:
    """One turn of a company's import from KSeF (both subject types, up to the high water mark; a turn
    with more to do queues the next itself: ``import_turn``). ``resume``: a continuation of a parked run.
    When the company is busy (its lock is held: a drain, another import, a dead worker's lock running out)
    it tries again shortly, so "Pobierz teraz" is not lost; the fan-out catches anything beyond that."""
    from ksef_integration.importing.services import import_turn

    queue.started(queue.IMPORT, company_id)
    status = import_turn(company_id=company_id, resume=resume).status
    if status == "busy" and self.request.retries < IMPORT_BUSY_RETRIES:
        raise self.retry(countdown=IMPORT_BUSY_RETRY_SECONDS, max_retries=IMPORT_BUSY_RETRIES)
    return status


@shared_task(name="ksef.import_due", acks_late=True, expires=55, soft_time_limit=50, time_limit=60)
def ksef_import_due() -> int:
    """Beat fan-out: enqueue ``ksef.import`` for each company that is due (interval or retry)."""
    from ksef_integration.importing.services import companies_due_for_import

    due = companies_due_for_import()
    for company_id in due:
        queue.import_company(company_id=company_id, expires=10 * 60)
    return len(due)


@shared_task(name="ksef.import_digest", acks_late=True, soft_time_limit=110, time_limit=150)
def ksef_import_digest(run_id: int) -> int:
    """E-mail the members who opted in about the new purchase invoices of one import run."""
    from ksef_integration.importing.digest import digest_send

    return digest_send(run_id=run_id)


# --- end of importing -----------------------------------------------------------------------------------


# --- sending (issue 6) ----------------------------------------------------------------------------------


@shared_task(name="ksef.send", acks_late=True, soft_time_limit=110, time_limit=150)
def send(submission_id: int) -> None:
    """Send one submission to KSeF (and whatever else of its company is due, under the company lock)."""
    from ksef_integration.sending.drain import submission_send

    submission_send(submission_id=submission_id)  # drops the company's queued marker before it looks


@shared_task(name="ksef.sweep", acks_late=True, expires=25, soft_time_limit=25, time_limit=30)
def sweep() -> int:
    """Beat: hand back rows whose worker vanished and queue ``ksef.send`` for companies with due work."""
    from ksef_integration.sending.drain import submissions_sweep

    return submissions_sweep()


# --- end of sending -------------------------------------------------------------------------------------


# --- sending alerts (issue 6) ---------------------------------------------------------------------------


@shared_task(name="ksef.send_alerts", acks_late=True, expires=240, soft_time_limit=110, time_limit=150)
def send_alerts() -> int:
    """Beat, every 5 minutes: e-mail owners about invoices stuck on their way to KSeF."""
    from ksef_integration.sending.alerts import stuck_submissions_notify

    return stuck_submissions_notify()


# --- end of sending alerts ------------------------------------------------------------------------------


# --- offline (issue 8) ----------------------------------------------------------------------------------


@shared_task(name="ksef.offline_probe", acks_late=True, expires=55, soft_time_limit=50, time_limit=60)
def offline_probe() -> int:
    """Beat, every minute: ask KSeF whether it answers companies marked unavailable; send what waited."""
    from ksef_integration.offline.availability import unavailable_companies_probe

    return unavailable_companies_probe()


@shared_task(name="ksef.offline_deadlines", acks_late=True, expires=600, soft_time_limit=110, time_limit=150)
def offline_deadlines() -> int:
    """Beat, hourly: e-mail owners about offline invoices whose deadline for KSeF ends within a day."""
    from ksef_integration.offline.reminders import deadlines_notify

    return deadlines_notify()


# --- end of offline -------------------------------------------------------------------------------------


# --- token sunset (issue 18) ------------------------------------------------------------------------------


@shared_task(
    name="ksef.token_sunset_reminders",
    acks_late=True,
    expires=6 * 3600,
    soft_time_limit=110,
    time_limit=150,
)
def token_sunset_reminders() -> int:
    """Beat, daily: remind companies still connected by a KSeF token that tokens end (30, 14, 7, 1 days
    before ``KSEF_TOKEN_SUNSET``, once after); each reminder once per company and threshold."""
    from ksef_integration.connect.sunset import reminders_send

    return reminders_send()


# --- end of token sunset ----------------------------------------------------------------------------------


# --- KSeF certificates obtained by the portal (issue 18) --------------------------------------------------


@shared_task(name="ksef.certificate_enrollment", acks_late=True, soft_time_limit=14 * 60, time_limit=15 * 60)
def certificate_enrollment(enrollment_id: int) -> str:
    """Obtain, prove and switch to the certificates of one enrollment (switch from a token, or renewal)."""
    from ksef_integration.enrollment.services import enrollment_run

    return enrollment_run(enrollment_id)


@shared_task(name="ksef.connection_verify", acks_late=True, soft_time_limit=110, time_limit=150)
def connection_verify(company_id: int) -> str:
    """Log in with the company's stored credential and record the outcome (the admin's "verify now")."""
    from accounts.models import Company
    from ksef_integration.connect.services import connection_verify as verify
    from ksef_integration.errors import ConnectError

    queue.started(queue.CONNECTION_VERIFY, company_id)
    company = Company.objects.filter(pk=company_id).first()
    if company is None:
        return "no company"
    try:
        verify(company=company, user=None)
    except ConnectError as exc:
        return exc.code
    return "ok"


@shared_task(
    name="ksef.certificate_renewals", acks_late=True, expires=1800, soft_time_limit=110, time_limit=150
)
def certificate_renewals() -> int:
    """Beat, hourly: start the renewal of every certificate connection about to expire."""
    from ksef_integration.enrollment.services import renewals_start

    return renewals_start()


# --- KSeF permissions (issue 20) ---------------------------------------------------------------------------

PERMISSIONS_BUSY_RETRY_SECONDS = 15
PERMISSIONS_BUSY_RETRIES = 8


@shared_task(name="ksef.permission_change", acks_late=True, soft_time_limit=110, time_limit=150)
def permission_change(change_id: int) -> str:
    """Grant or revoke KSeF permissions as one ``PermissionChange`` asks, then read the grants again."""
    from ksef_integration.permissions.services import change_run

    return change_run(change_id)


@shared_task(name="ksef.permissions_refresh", bind=True, acks_late=True, soft_time_limit=110, time_limit=150)
def permissions_refresh(self: Task, company_id: int) -> str:
    """Read who has which KSeF permissions in the company's context; tried again while the company is busy."""
    from ksef_integration.permissions.services import snapshot_refresh

    queue.started(queue.PERMISSIONS_REFRESH, company_id)
    status = snapshot_refresh(company_id)
    if status == "busy" and self.request.retries < PERMISSIONS_BUSY_RETRIES:
        raise self.retry(countdown=PERMISSIONS_BUSY_RETRY_SECONDS, max_retries=PERMISSIONS_BUSY_RETRIES)
    return status


# --- notifications ----------------------------------------------------------------------------------------


@shared_task(
    name="ksef.notify",
    acks_late=True,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=30,
    retry_backoff_max=30 * 60,
    max_retries=8,
    soft_time_limit=60,
    time_limit=90,
)
def notify(company_id: int, subject: str, body: str) -> int:
    """E-mail the people told about a company's KSeF matters; retried while the mail server fails."""
    from ksef_integration.notify import notification_send

    return notification_send(company_id=company_id, subject=subject, body=body)


# --- invoices e-mailed to buyers (issue 22) ---------------------------------------------------------------


@shared_task(name="ksef.delivery_send", bind=True, acks_late=True, soft_time_limit=110, time_limit=150)
def delivery_send(self: Task, delivery_id: int) -> str:
    """E-mail an invoice to its buyer, once; while the mail server fails, tried again with backoff (the
    attempts and the log live on the row, so "wyślij ponownie" starts a fresh count)."""
    from ksef_integration.delivery.services import delivery_send as send_now

    outcome = send_now(delivery_id=delivery_id)
    if outcome.status == "retry":
        raise self.retry(countdown=outcome.retry_in, max_retries=None)
    return outcome.status


@shared_task(name="ksef.delivery_sweep", acks_late=True, expires=240, soft_time_limit=60, time_limit=90)
def delivery_sweep() -> int:
    """Queue again the buyer e-mails whose message was lost."""
    from ksef_integration.delivery.services import deliveries_sweep

    return deliveries_sweep()
