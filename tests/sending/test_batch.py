"""A backlog of queued invoices goes through one batch session (the simulator in-process, over HTTP), with the
online path's guarantees: every outcome comes from KSeF's session invoice list, a lost close answer or a
worker that died after the upload is resolved by asking KSeF, and nothing is ever in KSeF twice."""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.models import Company
from invoices.models import Invoice, KsefStatus
from ksef_integration.ksef.batch import Batches
from ksef_integration.models import KsefConnection, Submission
from ksef_integration.models import SubmissionStatus as S
from ksef_integration.sending import batch as send_batch
from ksef_integration.sending import drain as send_drain
from ksef_simulator.faults import fault_arm
from ksef_simulator.models import SimInvoice, SimSession
from tests.sending import test_send_simulator

pytestmark = pytest.mark.django_db(transaction=True)
connected = test_send_simulator.connected  # the fixture: a company connected to the in-process simulator
issue = test_send_simulator.issue

THRESHOLD = 3
BACKLOG = 5


class Crash(BaseException):
    """The worker process dies here (nothing below it runs, no handler catches it)."""


@pytest.fixture
def backlog(connected: KsefConnection) -> Iterator[list[Invoice]]:
    """``BACKLOG`` queued invoices of a company whose threshold for a batch is ``THRESHOLD``."""
    with override_settings(KSEF_SEND_BATCH_THRESHOLD=THRESHOLD):
        yield [issue(connected.company) for _ in range(BACKLOG)]


def drain(company: Company) -> None:
    Submission.objects.filter(company=company, status=S.PENDING).update(next_attempt_at=timezone.now())
    send_drain.company_send_due(company_id=company.pk, budget=20)


def sweep_after_lease(company: Company) -> None:
    """What the sweeper does once a dead worker's lease has run out."""
    Submission.objects.filter(company=company, status=S.INFLIGHT).update(
        claimed_at=timezone.now() - dt.timedelta(hours=1)
    )
    send_drain.submissions_sweep()  # queues nothing for real here (tests/conftest.py ``queued``)


def batch_sessions(company: Company) -> list[SimSession]:
    return list(
        SimSession.objects.filter(context_value=company.nip, kind=SimSession.Kind.BATCH).order_by("id")
    )


def assert_delivered_once(company: Company, invoices: list[Invoice]) -> None:
    statuses = collections.Counter(
        Submission.objects.filter(company=company).values_list("status", flat=True)
    )
    assert statuses == {S.ACCEPTED: len(invoices)}
    held = collections.Counter(
        SimInvoice.objects.filter(context_nip=company.nip, status_code=200).values_list(
            "invoice_number", flat=True
        )
    )
    assert held == {invoice.number: 1 for invoice in invoices}
    for invoice in Invoice.objects.filter(company=company).select_related("ksef_submission"):
        submission = invoice.ksef_submission
        assert invoice.ksef_status == KsefStatus.ACCEPTED
        assert invoice.ksef_number == submission.ksef_number
        assert submission.ksef_number in submission.upo
        assert SimInvoice.objects.get(ksef_number=submission.ksef_number).invoice_number == invoice.number


def test_backlog_goes_through_one_batch_session(connected: KsefConnection, backlog: list[Invoice]) -> None:
    company = connected.company
    drain(company)
    assert_delivered_once(company, backlog)
    [session] = batch_sessions(company)
    assert session.invoices.count() == BACKLOG
    references = set(
        Submission.objects.filter(company=company).values_list("batch_reference", "session_reference")
    )
    assert references == {(session.reference_number, session.reference_number)}
    assert not SimSession.objects.filter(context_value=company.nip, kind=SimSession.Kind.ONLINE).exists()
    # Each row carries the reference of its own invoice in that session.
    assert {s.invoice_reference for s in Submission.objects.filter(company=company)} == set(
        session.invoices.values_list("reference_number", flat=True)
    )


def test_a_few_queued_invoices_go_online(connected: KsefConnection) -> None:
    with override_settings(KSEF_SEND_BATCH_THRESHOLD=THRESHOLD):
        invoices = [issue(connected.company) for _ in range(THRESHOLD)]
        drain(connected.company)
    assert_delivered_once(connected.company, invoices)
    assert batch_sessions(connected.company) == []


def test_eligible_rows_are_queued_never_sent_ones(connected: KsefConnection, backlog: list[Invoice]) -> None:
    company = connected.company
    first = Submission.objects.get(invoice=backlog[0])
    Submission.objects.filter(pk=first.pk).update(session_reference="ref-of-an-earlier-attempt")
    eligible = send_batch.eligible(Submission.objects.filter(company=company))
    assert set(eligible.values_list("pk", flat=True)) == set(
        Submission.objects.filter(company=company).exclude(pk=first.pk).values_list("pk", flat=True)
    )


def test_offline_backlog_goes_online_with_offline_mode(connected: KsefConnection) -> None:
    """A batch declares offlineMode for the whole package, so offline invoices stay on the online path."""
    with override_settings(KSEF_SEND_BATCH_THRESHOLD=THRESHOLD):
        invoices = [issue(connected.company, ksef_offline_mode="offline24") for _ in range(BACKLOG)]
        drain(connected.company)
    assert_delivered_once(connected.company, invoices)
    assert batch_sessions(connected.company) == []
    held = SimInvoice.objects.filter(context_nip=connected.company.nip, status_code=200)
    assert set(held.values_list("offline_requested", "invoicing_mode")) == {(True, "Offline")}


def test_lost_close_answer_is_resolved_by_asking_ksef(
    connected: KsefConnection, backlog: list[Invoice]
) -> None:
    company = connected.company
    fault_arm(pattern="sessions.batch.close", action="drop")  # KSeF closes the session; we hear 504
    drain(company)
    rows = Submission.objects.filter(company=company)
    [session] = batch_sessions(company)
    # Outcome unknown: the rows keep their batch, waiting to ask KSeF (not a resend into a new session).
    assert set(rows.values_list("status", "batch_reference")) == {(S.PENDING, session.reference_number)}
    drain(company)
    assert_delivered_once(company, backlog)
    assert len(batch_sessions(company)) == 1


def test_worker_dying_after_the_upload_loses_and_doubles_nothing(
    connected: KsefConnection,
    backlog: list[Invoice],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    company = connected.company

    def die(self: Batches, **kwargs: Any) -> None:
        raise Crash

    with monkeypatch.context() as patched:
        patched.setattr(Batches, "batch_close", die)
        with pytest.raises(Crash):
            drain(company)
    [session] = batch_sessions(company)
    rows = Submission.objects.filter(company=company)
    assert set(rows.values_list("status", "batch_reference")) == {(S.INFLIGHT, session.reference_number)}
    sweep_after_lease(company)
    drain(company)  # asks KSeF: the session is open and complete, so closing it delivers the files
    assert_delivered_once(company, backlog)
    assert len(batch_sessions(company)) == 1


def test_worker_dying_before_the_upload_sends_again_once_ksef_refuses_the_close(
    connected: KsefConnection,
    backlog: list[Invoice],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    company = connected.company

    def die(self: Batches, **kwargs: Any) -> None:
        raise Crash

    with monkeypatch.context() as patched:
        patched.setattr(Batches, "batch_upload", die)
        with pytest.raises(Crash):
            drain(company)
    sweep_after_lease(company)
    drain(company)  # KSeF refuses to close a session whose part never arrived (21205): send in a new batch
    assert_delivered_once(company, backlog)
    first, second = batch_sessions(company)
    assert first.invoices.count() == 0
    assert second.invoices.count() == BACKLOG


def test_open_call_failing_leaves_the_rows_queued(connected: KsefConnection, backlog: list[Invoice]) -> None:
    company = connected.company
    fault_arm(pattern="sessions.batch.open", action="drop")
    drain(company)
    # The drain learnt nothing about the batch it may have opened and uploaded nothing: a new batch next time.
    rows = Submission.objects.filter(company=company)
    assert set(rows.values_list("status", "batch_reference")) == {(S.PENDING, "")}
    drain(company)
    assert_delivered_once(company, backlog)
