"""A failed import run caused by a passing problem (5xx, transport error, timeout, 429) is retried after a
short backoff, not after the company's whole interval; the user is told when, and it really happens then.

Time is controlled through ``companies_due_for_import(now=...)`` and the stored ``retry_at``: no sleeping.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from invoices.models import Invoice
from ksef_integration.importing import services as importing
from ksef_integration.importing.services import (
    FAILURES_BEFORE_MAIL,
    LEASE,
    RETRY_FIRST,
    RETRY_JITTER,
    companies_due_for_import,
    company_import,
    retry_delay,
)
from ksef_integration.models import ImportRun, KsefConnection, SubjectType, SyncCursor
from ksef_integration.schedule import schedule_register
from ksef_simulator import services_invoices
from ksef_simulator.faults import fault_arm
from tests.importing.conftest import START

pytestmark = pytest.mark.django_db(transaction=True)

END = dt.date(2026, 11, 24)
WARSAW = ZoneInfo("Europe/Warsaw")
SECOND = dt.timedelta(seconds=1)


def last_run(connection: KsefConnection) -> ImportRun:
    run = ImportRun.objects.filter(company=connection.company).order_by("-started_at", "-id").first()
    assert run is not None
    return run


def clock(when: dt.datetime) -> str:
    """The minute the per-minute fan-out picks ``when`` up, in Warsaw (written independently of the code)."""
    local = when.astimezone(WARSAW)
    minute = local.replace(second=0, microsecond=0)
    return (minute if minute == local else minute + dt.timedelta(minutes=1)).strftime("%H:%M")


def test_a_503_makes_the_company_due_after_a_short_backoff_and_the_retry_imports_everything(
    connected: KsefConnection, alice_client: Any
) -> None:
    company = connected.company
    services_invoices.invoices_generate(
        buyer_nip=company.nip, count=6, date_from=START, date_to=END, sellers=2, seed=11
    )
    fault_arm(pattern="invoices.exports.start", action="503", count=1)
    before = timezone.now()
    result = company_import(company_id=company.pk)
    assert result.status == ImportRun.Status.FAILED
    run = last_run(connected)
    assert run.retry_at is not None
    assert run.finished_at is not None
    # the first retry: about a minute (jitter shortens it by up to a quarter), far sooner than the interval
    assert before + RETRY_FIRST * (1 - RETRY_JITTER) - SECOND <= run.retry_at <= run.finished_at + RETRY_FIRST
    assert run.retry_at < run.started_at + dt.timedelta(minutes=connected.import_interval_minutes)
    # the user is told the time it will really happen, in Polish
    expected = f"KSeF nie odpowiadał; spróbujemy ponownie około {clock(run.retry_at)}."
    assert result.error == expected
    page = alice_client.get("/ustawienia/ksef/", HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert expected in page
    # the fan-out does not pick it up a second early, and does at the due time
    assert companies_due_for_import(now=run.retry_at - SECOND) == []
    assert companies_due_for_import(now=run.retry_at) == [company.pk]
    # the retry succeeds and imports everything, once
    result = company_import(company_id=company.pk)
    assert result.status == ImportRun.Status.SUCCEEDED, result.error
    assert result.invoices_new == 6
    assert Invoice.objects.filter(company=company).count() == 6
    cursor = SyncCursor.objects.get(company=company, subject_type=SubjectType.SUBJECT2)
    assert (cursor.failures_in_row, cursor.last_error) == (0, "")
    # after a success the interval counts again
    run = last_run(connected)
    assert run.retry_at is None
    assert companies_due_for_import(now=run.started_at + dt.timedelta(minutes=5)) == []
    assert companies_due_for_import(now=run.started_at + dt.timedelta(minutes=15)) == [company.pk]


def test_a_429_with_retry_after_120_is_not_due_before_120_s_and_sends_no_mail(
    connected: KsefConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    company = connected.company
    monkeypatch.setattr(importing, "MAX_INLINE_WAIT", 60)  # 120 s is more than the run waits by itself
    slept: list[float] = []
    monkeypatch.setattr(importing, "_sleep", slept.append)
    # already at the e-mail threshold: a rate-limit pause is no failure, so no (second) e-mail about it
    SyncCursor.objects.create(
        company=company, subject_type=SubjectType.SUBJECT2, checkpoint=importing.import_start(connected),
        failures_in_row=FAILURES_BEFORE_MAIL,
    )  # fmt: skip
    fault_arm(pattern="invoices.exports.start", action="429", count=1, seconds=120)
    before = timezone.now()
    result = company_import(company_id=company.pk)
    assert result.status == ImportRun.Status.FAILED
    assert slept == []
    run = last_run(connected)
    assert run.retry_at is not None
    assert run.finished_at is not None
    assert run.retry_at >= before + dt.timedelta(seconds=120)
    assert run.retry_at <= run.finished_at + dt.timedelta(seconds=120 + importing.RATE_LIMIT_JITTER)
    assert result.error == f"KSeF ograniczył liczbę zapytań; spróbujemy ponownie około {clock(run.retry_at)}."
    assert companies_due_for_import(now=before + dt.timedelta(seconds=119)) == []
    assert companies_due_for_import(now=run.retry_at - SECOND) == []
    assert companies_due_for_import(now=run.retry_at) == [company.pk]
    cursor = SyncCursor.objects.get(company=company, subject_type=SubjectType.SUBJECT2)
    assert cursor.failures_in_row == FAILURES_BEFORE_MAIL  # not counted
    assert mail.outbox == []


def test_repeated_failures_back_off_and_e_mail_the_owners_once(connected: KsefConnection) -> None:
    company = connected.company
    interval = dt.timedelta(minutes=connected.import_interval_minutes)
    delays = []
    for attempt in range(1, 6):
        fault_arm(pattern="invoices.exports.start", action="503", count=1)
        assert company_import(company_id=company.pk).status == ImportRun.Status.FAILED
        run = last_run(connected)
        assert run.retry_at is not None
        assert run.finished_at is not None
        delays.append(run.retry_at - run.finished_at)
        backoff = min(RETRY_FIRST * 2 ** (attempt - 1), interval)
        assert backoff * (1 - RETRY_JITTER) - SECOND <= delays[-1] <= backoff, attempt
        assert companies_due_for_import(now=run.retry_at) == [company.pk]
        cursor = SyncCursor.objects.get(company=company, subject_type=SubjectType.SUBJECT2)
        assert cursor.failures_in_row == attempt
        assert len(mail.outbox) == (1 if attempt >= FAILURES_BEFORE_MAIL else 0), attempt
    assert delays[-1] > delays[0] * 8  # 1, 2, 4, 8, 15 minutes, not a constant
    assert "KSeF" in mail.outbox[0].subject


def test_retry_delay_grows_with_jitter_and_is_capped() -> None:
    interval = dt.timedelta(minutes=15)
    for failures, minutes in ((1, 1), (2, 2), (3, 4), (4, 8), (5, 15), (40, 15)):
        samples = {retry_delay(failures=failures, interval=interval) for _ in range(50)}
        top = dt.timedelta(minutes=minutes)
        assert all(top * (1 - RETRY_JITTER) <= delay <= top for delay in samples), failures
        assert len(samples) > 1  # jittered, so companies that failed together do not retry together
    limited = [retry_delay(failures=1, interval=interval, retry_after=3600) for _ in range(20)]
    assert all(dt.timedelta(seconds=3600) <= d <= dt.timedelta(seconds=3600 + 30) for d in limited)


def test_a_dead_workers_run_does_not_block_the_fan_out(connected: KsefConnection) -> None:
    now = timezone.now()
    ImportRun.objects.create(company=connected.company, started_at=now, heartbeat_at=now)
    assert companies_due_for_import(now=now + LEASE - SECOND) == []  # a live run: never two at once
    assert companies_due_for_import(now=now + LEASE + SECOND) == [connected.company.pk]
    # and the run it starts takes the lock over instead of running beside it
    assert importing._claim(connected.company) is None
    ImportRun.objects.filter(company=connected.company).update(heartbeat_at=now - LEASE - SECOND)
    assert importing._claim(connected.company) is not None
    statuses = sorted(ImportRun.objects.filter(company=connected.company).values_list("status", flat=True))
    assert statuses == [ImportRun.Status.ABANDONED, ImportRun.Status.RUNNING]


def test_the_fan_out_runs_often_enough_to_keep_the_promised_time() -> None:
    schedule_register()
    task = PeriodicTask.objects.get(task="ksef.import_due")
    assert task.enabled
    assert task.interval is not None
    period = dt.timedelta(**{task.interval.period: task.interval.every})
    assert period <= dt.timedelta(minutes=1)  # "około 14:05": picked up within the minute
    assert period <= RETRY_FIRST * (1 - RETRY_JITTER) + dt.timedelta(seconds=15)
