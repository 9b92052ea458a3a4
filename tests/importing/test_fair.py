"""Imports in turns, fair across companies (issue 20: an office importing for many clients): a company with a
small backlog is not kept behind others' big ones, each KSeF context is paced to the limits it announces,
and a 429 with Retry-After delays only its own context. Against the simulator over real HTTP; the broker's
FIFO queue is played by this test (what the code queues, taken in order, as one worker thread would)."""

from __future__ import annotations

import datetime as dt
import itertools
import time

import pytest
from django.utils import timezone

from accounts.models import Company
from invoices.models import Invoice
from ksef_integration import queue
from ksef_integration.connect.services import connection_connect_token
from ksef_integration.importing import pacing
from ksef_integration.importing.services import CONTINUES, ImportResult, import_turn
from ksef_integration.models import ImportRun, KsefConnection
from ksef_simulator import limits as sim_limits
from ksef_simulator import services_core, services_invoices
from ksef_simulator.api import exports as sim_exports
from ksef_simulator.conf import config_update
from ksef_simulator.faults import fault_arm
from ksef_simulator.models import RateLimitHit, SimExport
from tests.conftest import Queued
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _client_company(name: str, invoices: int, seed: int) -> Company:
    """A company connected to the simulator by token, with ``invoices`` purchase invoices waiting in KSeF."""
    membership = MembershipFactory.create(company__name=name)
    company = membership.company
    _, token = services_core.token_generate(
        nip=company.nip, permissions=["InvoiceRead", "InvoiceWrite"], description="fair import"
    )
    connection_connect_token(company=company, user=membership.user, raw_token=token)
    today = timezone.localdate()  # one window of ≤ 100 days per subject type, unless packages truncate it
    KsefConnection.objects.filter(company=company).update(import_start_date=today - dt.timedelta(days=30))
    services_invoices.invoices_generate(
        buyer_nip=company.nip, count=invoices, date_from=today - dt.timedelta(days=20), date_to=today,
        sellers=3, seed=seed,
    )  # fmt: skip
    return company


def _work(queued: Queued, *, patience: float = 5.0) -> list[tuple[int, ImportResult]]:
    """One worker thread over the queue: every ``ksef.import`` message in FIFO order (one with a countdown
    when it is due), as the task runs it, until the queue is empty or the next message would make it wait
    longer than ``patience``; the turns it took."""
    turns: list[tuple[int, ImportResult]] = []
    position = 0
    while position < len(queued.messages):
        name, args, options = queued.messages[position]
        if name != queue.IMPORT:
            position += 1
            continue
        countdown = float(options.get("countdown") or 0)
        if countdown > patience:
            break
        time.sleep(countdown)
        position += 1
        company_id, resume = args[0], bool(args[1:] and args[1])
        queue.started(queue.IMPORT, company_id)
        turns.append((company_id, import_turn(company_id=company_id, resume=resume)))
    return turns


def test_a_small_backlog_is_done_in_its_first_turn_while_two_big_ones_take_turns(
    connected: KsefConnection, queued: Queued, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sim_exports, "MAX_INVOICES", 5)  # small packages: a big backlog is many windows
    big_one = _client_company("Duży Jeden sp. z o.o.", 24, seed=21)
    big_two = _client_company("Duży Dwa sp. z o.o.", 24, seed=22)
    small = _client_company("Mały sp. z o.o.", 3, seed=23)
    for company in (big_one, big_two, small):  # the beat found all three due; the small one queued last
        queue.import_company(company_id=company.pk)

    turns = _work(queued)

    order = [company_id for company_id, _ in turns]
    finished = [company_id for company_id, result in turns if result.status == ImportRun.Status.SUCCEEDED]
    assert finished[0] == small.pk, order
    assert order.index(small.pk) == 2  # its first turn, right after one turn of each big one
    assert order.count(small.pk) == 1
    # the big ones alternate, one window a turn, until one of them has caught up
    first_done = finished[1]
    bigs = [company_id for company_id in order[: order.index(first_done) + 1] if company_id != small.pk]
    assert all(a != b for a, b in itertools.pairwise(bigs)), order
    assert all(r.status in (CONTINUES, ImportRun.Status.SUCCEEDED) for _, r in turns)
    assert all(r.retry_in == 0 for _, r in turns)  # the limits never made anyone wait
    for company, count in ((big_one, 24), (big_two, 24), (small, 3)):
        numbers = list(Invoice.objects.filter(company=company).values_list("ksef_number", flat=True))
        assert len(numbers) == len(set(numbers)) == count
        run = ImportRun.objects.get(company=company)  # one run over all its turns
        assert (run.status, run.invoices_new, run.retry_at) == (ImportRun.Status.SUCCEEDED, count, None)
        assert run.windows == SimExport.objects.filter(context_value=company.nip).count()
    assert ImportRun.objects.get(company=big_one).windows >= 5


# The pacer keeps its windows in Redis (without it nothing is paced).
@pytest.mark.usefixtures("postgres_and_redis")
def test_a_429_with_retry_after_delays_only_its_own_context(
    connected: KsefConnection, queued: Queued
) -> None:
    first = _client_company("Pierwszy sp. z o.o.", 3, seed=31)
    second = _client_company("Drugi sp. z o.o.", 3, seed=32)
    fault_arm(pattern="invoices.exports.start", action="429", count=1, seconds=3)

    limited = import_turn(company_id=first.pk)
    assert (limited.status, limited.retry_in) == (CONTINUES, 3)  # as long as Retry-After asked
    assert queued.messages[-1] == (queue.IMPORT, (first.pk, True), {"countdown": 3})
    run = ImportRun.objects.get(company=first)
    assert run.status == ImportRun.Status.RUNNING
    assert run.retry_at is not None
    # the other context goes on at once
    assert import_turn(company_id=second.pk).status == ImportRun.Status.SUCCEEDED
    assert Invoice.objects.filter(company=second).count() == 3
    # the first one's turn, early (a duplicate message): nothing is sent to KSeF before the time is up
    early = import_turn(company_id=first.pk, resume=True)
    assert early.status == CONTINUES
    assert 0 < early.retry_in <= 3
    assert not SimExport.objects.filter(context_value=first.nip).exists()
    time.sleep(early.retry_in)
    done = import_turn(company_id=first.pk, resume=True)
    assert (done.status, done.invoices_new) == (ImportRun.Status.SUCCEEDED, 3)
    assert ImportRun.objects.filter(company=first).count() == 1  # the same run, adopted by each turn
    # a late continuation of a finished run does nothing
    assert import_turn(company_id=first.pk, resume=True).status == "idle"


# The pacer keeps its windows in Redis (without it nothing is paced).
@pytest.mark.usefixtures("postgres_and_redis")
def test_each_context_is_paced_to_the_limits_ksef_announces_so_no_429_is_earned(
    connected: KsefConnection, queued: Queued, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sim_exports, "MAX_INVOICES", 2)
    company = _client_company("Wolny sp. z o.o.", 6, seed=41)
    config_update(rate_limit_profile="default")  # the simulator counts and refuses
    custom = {"invoiceExport": {"perSecond": 8, "perMinute": 2, "perHour": 20}}
    sim_limits.rate_limits_set(context_type="Nip", context_value=company.nip, limits=custom)
    other = _client_company("Inny sp. z o.o.", 2, seed=42)  # on the production table

    queue.import_company(company_id=company.pk)
    first_turns = _work(queued)
    # a window a turn until the minute is full; then the turn waits for the oldest export to leave (two
    # exports, or one when the first try met KSeF's new encryption key and was sent again: KSeF counts both)
    assert [r.status for _, r in first_turns] == [CONTINUES] * len(first_turns)
    assert len(first_turns) in (2, 3)
    assert [r.retry_in for _, r in first_turns[:-1]] == [0] * (len(first_turns) - 1)
    assert 55 <= first_turns[-1][1].retry_in <= 62
    counted = RateLimitHit.objects.filter(
        key__startswith=f"Nip:{company.nip}|", key__endswith="|invoiceExport"
    )
    assert counted.count() == 2  # as many as the limit allows, and no more
    assert not RateLimitHit.objects.filter(key__startswith="block|").exists()  # KSeF never refused
    assert queued.messages[-1][2] == {"countdown": first_turns[-1][1].retry_in}
    # another context is not held up by it
    assert import_turn(company_id=other.pk).status == ImportRun.Status.SUCCEEDED
    assert 0 < Invoice.objects.filter(company=company).count() < 6


# The pacer keeps its windows in Redis (without it nothing is paced).
@pytest.mark.usefixtures("postgres_and_redis")
def test_the_pacer_keeps_the_sliding_windows_and_blocks(connected: KsefConnection) -> None:
    now = [1_000_000.0]
    pacer = pacing.ContextPacer("5260250274", clock=lambda: now[0])
    assert pacer.limits["invoiceExport"] == {"perSecond": 8, "perMinute": 16, "perHour": 20}
    for second in range(16):  # 16 a minute
        now[0] = 1_000_000.0 + second
        assert pacer.reserve("invoiceExport") == 0
    now[0] = 1_000_016.0
    assert pacer.reserve("invoiceExport") == pytest.approx(60 - 16 + 1, abs=0.01)  # the oldest leaves, +1 s
    now[0] = 1_000_061.0
    assert pacer.reserve("invoiceExport") == 0
    for _ in range(3):  # 20 an hour: 17, 18, 19, 20
        now[0] += 61
        assert pacer.reserve("invoiceExport") == 0
    now[0] += 61
    assert pacer.reserve("invoiceExport") == pytest.approx(1_000_000 + 3600 + 1 - now[0], abs=0.01)
    # per second: 10 at once, the 11th waits for the first to leave (a quarter second after)
    for _ in range(10):
        assert pacer.reserve("invoiceExportStatus") == 0
    assert pacer.reserve("invoiceExportStatus") == pytest.approx(1.25, abs=0.01)
    # a 429 blocks that group of that context only
    pacer.blocked("invoiceDownload", 30)
    assert pacer.reserve("invoiceDownload") == pytest.approx(30, abs=0.01)
    assert pacing.ContextPacer("7740001454", clock=lambda: now[0]).reserve("invoiceDownload") == 0
    assert pacing.request_group("POST", "https://ksef.example/v2/invoices/exports") == "invoiceExport"
    assert (
        pacing.request_group("GET", "https://ksef.example/v2/invoices/exports/EH-1") == "invoiceExportStatus"
    )
    assert pacing.request_group("GET", "https://ksef.example/storage/exports/EH-1/1?sig=x") is None
    assert pacing.request_group("POST", "https://ksef.example/v2/auth/challenge") is None


def test_a_parked_run_whose_message_was_lost_is_due_again(connected: KsefConnection) -> None:
    from ksef_integration.importing.services import PARK_SLACK, companies_due_for_import

    KsefConnection.objects.filter(pk=connected.pk).update(auto_import=True)
    now = timezone.now()
    ImportRun.objects.create(company=connected.company, heartbeat_at=now, retry_at=now + PARK_SLACK)
    assert companies_due_for_import(now=now) == []  # parked, its continuation on the way
    assert companies_due_for_import(now=now + PARK_SLACK * 2) == [connected.company_id]
