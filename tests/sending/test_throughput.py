"""What made sending slow, pinned down: database statements per invoice, polling one invoice at a time, and
rows in backoff waiting for the sweeper (the simulator in-process, over HTTP)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from invoices.signals import invoices_accepted
from ksef_integration import queue
from ksef_integration.models import KsefConnection, Submission
from ksef_integration.models import SubmissionStatus as S
from ksef_integration.sending import drain, online
from ksef_simulator.conf import config_update
from ksef_simulator.faults import fault_arm
from tests import contract
from tests.conftest import Queued
from tests.sending import test_send_simulator

pytestmark = pytest.mark.django_db(transaction=True)
connected = test_send_simulator.connected  # the fixture: a company connected to the in-process simulator
issue = test_send_simulator.issue

COUNT = 30
STATUS_ONE = re.compile(r"/sessions/[^/]+/invoices/[^/]+$")
STATUS_LIST = re.compile(r"/sessions/[^/]+/invoices$")


def _requests(pattern: re.Pattern[str], since: int) -> int:
    return sum(1 for e in contract.RECORDS[since:] if e.method == "GET" and pattern.search(e.path))


@override_settings(KSEF_SEND_BATCH_THRESHOLD=10_000)
def test_online_sending_costs_two_statements_per_invoice_and_lists_statuses(
    connected: KsefConnection,
) -> None:
    company = connected.company
    config_update(invoice_processing_delay=200)  # KSeF answers "processing" at first: statuses are polled
    invoices = [issue(company) for _ in range(COUNT)]  # auto_send queued each
    Submission.objects.filter(company=company).update(next_attempt_at=timezone.now())
    since = len(contract.RECORDS)
    announced: list[int] = []

    def heard(sender: object, *, invoice_ids: list[int], **kwargs: object) -> None:
        announced.append(len(invoice_ids))

    invoices_accepted.connect(heard)
    try:
        with CaptureQueriesContext(connection) as queries:
            drain.company_send_due(company_id=company.pk)
    finally:
        invoices_accepted.disconnect(heard)
    assert Submission.objects.filter(company=company, status=S.ACCEPTED).count() == len(invoices)
    # Acceptance is announced once per batch KSeF's list settles (issue 22), not once per invoice, and each
    # announcement costs its receivers one statement each: the buyer e-mails to queue, the webhook endpoints.
    assert sum(announced) == len(invoices)
    assert len(announced) <= _requests(STATUS_LIST, since) + _requests(STATUS_ONE, since)
    # 18 statements per invoice before (claim, read, XML, session, sent, mirror, events, one by one);
    # now one UPDATE per send (the reference, saved at once) plus a few per round, plus (issue 8) one
    # read per send for the offline-mode options: 3 per invoice. Each round of polling the session's list
    # adds ~8 (measured: 97 statements with one round, 105 with two); how many rounds KSeF's "processing"
    # takes depends on the machine's speed, so they are allowed for, not counted against the invoices.
    rounds = _requests(STATUS_LIST, since)
    per_invoice = (len(queries.captured_queries) - 10 * rounds - 2 * len(announced)) / COUNT
    assert per_invoice <= 3.0, (len(queries.captured_queries), rounds)
    # Statuses come from the session's invoice list, not one request per invoice (only the last few
    # stragglers are asked about one by one).
    assert _requests(STATUS_ONE, since) <= 2 * online.LIST_THRESHOLD
    assert 1 <= _requests(STATUS_LIST, since) <= 15


def test_a_row_in_backoff_is_queued_again_when_due_not_by_the_sweeper(
    connected: KsefConnection,
    queued: Queued,
) -> None:
    fault_arm(pattern="sessions.online.send", action="503")
    with override_settings(KSEF_SEND_BACKOFF_SECONDS=2):
        invoice = issue(connected.company)
        drain.company_send_due(company_id=connected.company_id)
    submission = Submission.objects.get(invoice=invoice)
    assert submission.status == S.PENDING
    wait = (submission.next_attempt_at - timezone.now()).total_seconds()
    assert 0 < wait <= 2
    [(_name, args, options)] = [m for m in queued.messages if "countdown" in m[2]]  # not the one on issue
    assert args == (submission.pk,)
    assert 0 < options["countdown"] <= 2.1


def test_nothing_is_queued_when_all_is_delivered(connected: KsefConnection, queued: Queued) -> None:
    invoice = issue(connected.company)
    on_issue = list(queued.messages)
    drain.company_send_due(company_id=connected.company_id)
    assert Submission.objects.get(invoice=invoice).status == S.ACCEPTED
    assert queued.messages == on_issue


def test_a_run_of_invoices_queues_one_task_per_company(
    connected: KsefConnection,
    company_b: Any,
    queued: Queued,
) -> None:
    from django.db import transaction

    from invoices.models import Invoice

    connected.auto_send = False
    connected.save(update_fields=["auto_send"])
    ours = [issue(connected.company) for _ in range(5)]
    theirs = issue(company_b)
    with transaction.atomic():
        for invoice in [*ours, theirs]:
            drain.submission_enqueue(invoice=invoice)
        assert queued.messages == []  # nothing before the commit
    first_of_ours = Submission.objects.get(invoice=ours[0]).pk
    assert sorted(queued.args(queue.SEND)) == sorted(
        [(first_of_ours,), (Submission.objects.get(invoice=theirs).pk,)]
    )
    # While that task waits in the broker, later commits do not queue another: it will see their rows too.
    more = [issue(connected.company) for _ in range(2)]
    drain.submission_enqueue(invoice=more[0])
    assert len(queued.args(queue.SEND)) == 2
    # Once it has started (and dropped the marker) the next commit queues the next drain.
    queue.started(queue.SEND, connected.company_id)
    drain.submission_enqueue(invoice=more[1])
    assert len(queued.args(queue.SEND)) == 3
    assert Invoice.objects.filter(pk__in=[i.pk for i in more], ksef_status="queued").count() == 2
