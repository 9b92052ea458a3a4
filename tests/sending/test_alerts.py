"""E-mails about invoices stuck on their way to KSeF (``ksef.send_alerts``): who is told, about what, how
often, in Polish, and the beat row that runs it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from accounts.models import Company, Role
from invoices.models import Invoice
from ksef_integration.encryption import secret_encrypt
from ksef_integration.models import (
    AuthMethod,
    ConnectionStatus,
    KsefConnection,
    Submission,
    SubmissionEvent,
    SubmissionStatus,
)
from ksef_integration.schedule import schedule_register
from ksef_integration.sending import drain
from ksef_integration.sending.alerts import stuck_submissions_notify, submissions_stuck
from tests.conftest import add_member
from tests.invoices.factories import invoice_make

pytestmark = pytest.mark.django_db(transaction=True)

S = SubmissionStatus
ALERTS_TASK = "ksef.send_alerts"


def connect(company: Company, *, status: str = ConnectionStatus.ACTIVE) -> KsefConnection:
    return KsefConnection.objects.create(
        company=company,
        status=status,
        environment="simulator",
        method=AuthMethod.TOKEN,
        token_ciphertext=secret_encrypt("not-a-real-token"),
        token_last4="oken",
        permissions=["InvoiceRead", "InvoiceWrite"],
    )


def queued(company: Company, *, minutes_ago: float, status: str = S.PENDING, **fields: Any) -> Submission:
    """A submission queued ``minutes_ago`` (its QUEUED event and row moved back in time)."""
    invoice = invoice_make(company)
    submission = drain.submission_enqueue(invoice=invoice)
    when = timezone.now() - dt.timedelta(minutes=minutes_ago)
    SubmissionEvent.objects.filter(submission=submission).update(created_at=when)
    Submission.objects.filter(pk=submission.pk).update(created_at=when, status=status, **fields)
    submission.refresh_from_db()
    return submission


def number_of(submission: Submission) -> str:
    return Invoice.objects.get(pk=submission.invoice_id).number


def test_stuck_invoice_is_reported_once_to_the_owners_in_polish(company_a: Company) -> None:
    connect(company_a)
    add_member(company_a, Role.OWNER, "owner2@example.com")
    add_member(company_a, Role.ACCOUNTANT, "accountant@example.com")
    stuck = queued(
        company_a,
        minutes_ago=75,
        status=S.SENT,
        invoice_reference="20261125-EE-0000000000-0000000000-01",
        last_error_message="KSeF nie odpowiada (503). Spróbujemy ponownie.",
    )
    fresh = queued(company_a, minutes_ago=10)
    mail.outbox.clear()

    assert stuck_submissions_notify() == 1

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    # the one rule of ksef_integration.notify: the owners and the accountants
    assert sorted(message.to) == ["accountant@example.com", "alice@example.com", "owner2@example.com"]
    assert message.subject == f"KSeF: faktury firmy {company_a.name} jeszcze nieprzyjęte (1)"
    body = message.body
    assert number_of(stuck) in body
    assert number_of(fresh) not in body
    since = timezone.localtime(stuck.created_at).strftime("%d.%m.%Y %H:%M")
    assert f"w kolejce od {since}" in body
    assert "KSeF jeszcze nie potwierdził" in body  # where it stands, in plain words
    assert "KSeF nie odpowiada (503)" in body  # the last problem
    invoice = Invoice.objects.get(pk=stuck.invoice_id)
    assert f"/dokumenty/{invoice.uuid}/" in body
    stuck.refresh_from_db()
    assert stuck.stuck_notified_at is not None

    mail.outbox.clear()
    assert stuck_submissions_notify() == 0  # at most once
    assert mail.outbox == []


def test_one_email_per_company_listing_all_its_stuck_invoices(company_a: Company, company_b: Company) -> None:
    connect(company_a)
    connect(company_b)
    first = queued(company_a, minutes_ago=120)
    second = queued(company_a, minutes_ago=90, status=S.INFLIGHT)
    other = queued(company_b, minutes_ago=61)
    mail.outbox.clear()

    assert stuck_submissions_notify() == 3

    by_recipient = {tuple(m.to): m for m in mail.outbox}
    assert set(by_recipient) == {("alice@example.com",), ("bob@example.com",)}
    alice_mail = by_recipient[("alice@example.com",)]
    assert alice_mail.subject.endswith("(2)")
    assert number_of(first) in alice_mail.body
    assert number_of(second) in alice_mail.body
    assert number_of(other) not in alice_mail.body  # no other company's invoices
    assert alice_mail.body.index(number_of(first)) < alice_mail.body.index(number_of(second))  # oldest first
    assert number_of(other) in by_recipient[("bob@example.com",)].body


def test_final_statuses_are_never_stuck(company_a: Company) -> None:
    connect(company_a)
    queued(company_a, minutes_ago=300, status=S.ACCEPTED, ksef_number="5265877635-20261125-0100A0B0C0D0-E1")
    queued(company_a, minutes_ago=300, status=S.REJECTED)
    queued(company_a, minutes_ago=300, status=S.FAILED_LOCAL)
    mail.outbox.clear()
    assert stuck_submissions_notify() == 0
    assert mail.outbox == []


def test_offline_invoices_are_left_to_their_deadline_warnings(company_a: Company) -> None:
    connect(company_a)
    waiting = queued(company_a, minutes_ago=300)
    online = queued(company_a, minutes_ago=300)
    Invoice.objects.filter(pk=waiting.invoice_id).update(ksef_offline_mode="offline24")
    assert list(submissions_stuck()) == [online]


@override_settings(KSEF_SEND_STUCK_MINUTES=5)
def test_threshold_comes_from_settings(company_a: Company) -> None:
    connect(company_a)
    queued(company_a, minutes_ago=6)
    queued(company_a, minutes_ago=4)
    mail.outbox.clear()
    assert stuck_submissions_notify() == 1
    assert "ponad 5 minut" in mail.outbox[0].body


def test_a_paused_connection_is_named_as_the_reason(company_a: Company) -> None:
    connect(company_a, status=ConnectionStatus.ATTENTION)
    queued(company_a, minutes_ago=61)
    mail.outbox.clear()
    assert stuck_submissions_notify() == 1
    assert "Wysyłanie jest wstrzymane" in mail.outbox[0].body


def test_queued_again_and_stuck_again_is_reported_again(company_a: Company) -> None:
    connect(company_a)
    submission = queued(company_a, minutes_ago=90)
    assert stuck_submissions_notify() == 1
    # It was later rejected and resent by hand: a new queuing, reported only once it is stuck again.
    Submission.objects.filter(pk=submission.pk).update(status=S.REJECTED)
    submission.refresh_from_db()
    drain.submission_retry(submission=submission)
    assert not submissions_stuck().filter(pk=submission.pk).exists()
    assert stuck_submissions_notify() == 0
    later = timezone.now() + dt.timedelta(minutes=61)
    assert submissions_stuck(now=later).filter(pk=submission.pk).exists()
    mail.outbox.clear()
    assert stuck_submissions_notify(now=later) == 1
    assert number_of(submission) in mail.outbox[0].body


def test_two_runs_at_once_report_each_invoice_once(company_a: Company) -> None:
    connect(company_a)
    submission = queued(company_a, minutes_ago=61)
    from ksef_integration.sending.alerts import _claim

    queued_at = timezone.now() - dt.timedelta(minutes=61)
    now = timezone.now()
    assert _claim(submission.pk, queued_at, now) is True
    assert _claim(submission.pk, queued_at, now) is False  # the other run lost the conditional UPDATE
    assert stuck_submissions_notify() == 0


def test_a_company_with_nobody_to_tell_sends_nothing_but_still_records(company_a: Company) -> None:
    connect(company_a)
    company_a.memberships.update(role=Role.VIEWER)  # viewers are not told (ksef_integration.notify)
    submission = queued(company_a, minutes_ago=61)
    mail.outbox.clear()
    assert stuck_submissions_notify() == 1
    assert mail.outbox == []
    submission.refresh_from_db()
    assert submission.stuck_notified_at is not None


def test_the_beat_row_runs_every_five_minutes() -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    PeriodicTask.objects.filter(task=ALERTS_TASK).delete()
    schedule_register()
    schedule_register()  # idempotent
    task = PeriodicTask.objects.get(task=ALERTS_TASK)
    assert task.task == ALERTS_TASK
    assert task.enabled
    assert (task.interval.every, task.interval.period) == (5, IntervalSchedule.MINUTES)


def test_the_task_is_registered_and_calls_the_service(company_a: Company) -> None:
    from ksef_integration.tasks import send_alerts
    from ksefportal.celery import app

    assert ALERTS_TASK in app.tasks
    connect(company_a)
    queued(company_a, minutes_ago=61)
    mail.outbox.clear()
    assert send_alerts() == 1
    assert len(mail.outbox) == 1
