"""The import against the simulator over real HTTP: windows, cursor, completeness, cost of an idle sync."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from invoices.models import Contractor, Direction, Invoice
from ksef_integration.importing import services as importing
from ksef_integration.importing.services import company_import, import_start
from ksef_integration.ksef.client import KsefClient
from ksef_integration.models import ConnectionStatus, ImportRun, KsefConnection, SubjectType, SyncCursor
from ksef_simulator import services_invoices
from ksef_simulator.api import exports as sim_exports
from ksef_simulator.faults import fault_arm
from ksef_simulator.models import SimInvoice
from tests import contract
from tests.importing.conftest import START

pytestmark = pytest.mark.django_db(transaction=True)

END = dt.date(2026, 11, 24)


def api_calls(since: int) -> list[contract.Exchange]:
    """The simulator API calls recorded since ``since`` (read without taking them from the contract check)."""
    return [r for r in contract.RECORDS[since:] if r.path.startswith(contract.API_PREFIXES)]


LATE_PER_WINDOW = 5
LATE_WINDOWS = 3


@pytest.fixture
def store_during_sync(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Sellers keep sending while the sync runs: after each of the first Subject2 windows is committed,
    5 more purchase invoices are stored in KSeF with acquisition dates just after the high water mark that
    window reported, i.e. in (HWM, now], where KSeF may still add invoices (ksef-api.md §8.4)."""
    stored: list[str] = []
    original = importing.sync_windows

    def sync_windows(client: KsefClient, cursor: SyncCursor, waited: list[float]) -> Iterator[Any]:
        for index, window in enumerate(original(client, cursor, waited)):
            yield window  # the caller has committed this window when it asks for the next one
            if cursor.subject_type != SubjectType.SUBJECT2 or index >= LATE_WINDOWS or len(stored) >= LATE:
                continue
            hwm = window.permanent_storage_hwm_date
            assert hwm is not None
            for n in range(LATE_PER_WINDOW):
                stored.append(
                    services_invoices.invoice_store_incoming(
                        xml_bytes=services_invoices.fa3_build(
                            seller_nip=SELLERS[n], buyer_nip=NIP[0], number=f"LATE/{index}/{n}",
                            issue_date=timezone.localdate(), net=Decimal("12.34"),
                        ),
                        acquisition=hwm + dt.timedelta(milliseconds=1 + n),
                    )
                )  # fmt: skip

    monkeypatch.setattr(importing, "sync_windows", sync_windows)
    return stored


NIP: list[str] = []
SELLERS: list[str] = []


def test_start_date_rules(connected: KsefConnection) -> None:
    connected.import_start_date = dt.date(2025, 12, 1)
    assert import_start(connected) == dt.datetime(2026, 1, 31, 23, tzinfo=dt.UTC)
    connected.import_start_date = None
    connected.connected_at = dt.datetime(2026, 11, 25, 10, tzinfo=dt.UTC)
    start = import_start(connected)
    assert start == dt.datetime(2026, 10, 31, 23, tzinfo=dt.UTC)  # midnight in Warsaw


TOTAL = 2_500
LATE = LATE_PER_WINDOW * LATE_WINDOWS


@pytest.mark.slow
def test_2500_invoices_from_50_contractors_over_4_months_some_stored_while_syncing(
    connected: KsefConnection, monkeypatch: pytest.MonkeyPatch, store_during_sync: list[str]
) -> None:
    company = connected.company
    NIP[:] = [company.nip]
    monkeypatch.setattr(sim_exports, "MAX_INVOICES", 400)  # truncated packages: several windows
    generated = services_invoices.invoices_generate(
        buyer_nip=company.nip, count=TOTAL - LATE, date_from=START, date_to=END, sellers=50, seed=7
    )
    SELLERS[:] = sorted(set(SimInvoice.objects.values_list("context_nip", flat=True)))
    assert len(SELLERS) == 50

    started = time.perf_counter()
    result = company_import(company_id=company.pk)
    print(f"import of {TOTAL}: {time.perf_counter() - started:.1f} s")

    assert result.status == ImportRun.Status.SUCCEEDED, result.error
    assert len(store_during_sync) == LATE
    expected = set(generated) | set(store_during_sync)
    in_simulator = set(
        SimInvoice.objects.filter(ksef_number__isnull=False).values_list("ksef_number", flat=True)
    )
    assert expected == in_simulator
    assert len(expected) == TOTAL
    imported = list(Invoice.objects.filter(company=company).values_list("ksef_number", flat=True))
    assert len(imported) == len(set(imported)) == TOTAL
    assert set(imported) == expected
    assert Invoice.objects.filter(company=company, direction=Direction.PURCHASE, is_new=True).count() == TOTAL
    assert Contractor.objects.filter(company=company).count() == 50
    run = ImportRun.objects.get(company=company)
    assert run.invoices_new == TOTAL
    assert run.windows >= 7
    cursor = SyncCursor.objects.get(company=company, subject_type=SubjectType.SUBJECT2)
    assert cursor.invoices_total == TOTAL
    assert cursor.last_success_at
    assert cursor.failures_in_row == 0
    assert cursor.export_reference == cursor.export_key == ""
    assert cursor.checkpoint > timezone.now() - dt.timedelta(minutes=5)

    # a following sync with nothing new: at most 2 KSeF requests per subject type, nothing changes
    before = list(Invoice.objects.order_by("id").values_list("id", "updated_at"))
    since = len(contract.RECORDS)
    again = company_import(company_id=company.pk)
    calls = api_calls(since)
    assert again.status == ImportRun.Status.SUCCEEDED
    assert again.invoices_new == 0
    exports = [(c.method, c.path) for c in calls if "/invoices/" in c.path]
    assert len(exports) <= 4, exports  # POST /invoices/exports + one status GET per subject type
    assert [m for m, _ in exports].count("POST") == 2
    # nothing else: the public keys fetched by the first run are shared with the next client of the process
    assert [c.path for c in calls if "/invoices/" not in c.path] == []
    assert list(Invoice.objects.order_by("id").values_list("id", "updated_at")) == before
    assert Invoice.objects.filter(company=company).count() == TOTAL


def test_rerun_from_an_old_cursor_adds_no_duplicates(connected: KsefConnection) -> None:
    company = connected.company
    services_invoices.invoices_generate(
        buyer_nip=company.nip, count=20, date_from=START, date_to=END, sellers=3, seed=1
    )
    assert company_import(company_id=company.pk).invoices_new == 20
    # as if a worker died after committing the invoices of a window but before anything else
    SyncCursor.objects.filter(company=company).update(checkpoint=import_start(connected))
    again = company_import(company_id=company.pk)
    assert again.status == ImportRun.Status.SUCCEEDED
    assert again.invoices_new == 0
    assert Invoice.objects.filter(company=company).count() == 20


def test_subject1_imports_own_sales_issued_elsewhere(connected: KsefConnection) -> None:
    company = connected.company
    ksef_number = services_invoices.invoice_store_incoming(
        xml_bytes=services_invoices.fa3_build(
            seller_nip=company.nip, buyer_nip="7740001454", number="APP/1/11/2026",
            issue_date=timezone.localdate(), net=Decimal("99.00"),
        )
    )  # fmt: skip
    assert company_import(company_id=company.pk).status == ImportRun.Status.SUCCEEDED
    sale = Invoice.objects.get(company=company, ksef_number=ksef_number)
    assert sale.direction == Direction.SALES
    assert sale.buyer_nip == "7740001454"
    assert sale.ksef_acquisition_date is not None


def test_rate_limit_keeps_the_cursor_and_three_failures_send_mail(connected: KsefConnection) -> None:
    company = connected.company
    services_invoices.invoices_generate(
        buyer_nip=company.nip, count=5, date_from=START, date_to=END, sellers=2, seed=3
    )
    start = import_start(connected)
    # a pause longer than the run waits by itself (MAX_INLINE_WAIT, e.g. the hourly export limit): the run
    # ends, says so in plain words, and the next one continues; being asked to wait is not a failure
    fault_arm(pattern="invoices.exports.start", action="429", count=1, seconds=600)
    result = company_import(company_id=company.pk)
    assert result.status == ImportRun.Status.FAILED
    assert "KSeF ograniczył liczbę zapytań" in result.error  # stored in plain Polish
    cursor = SyncCursor.objects.get(company=company, subject_type=SubjectType.SUBJECT2)
    assert cursor.checkpoint == start
    assert cursor.failures_in_row == 0
    assert "KSeF ograniczył liczbę zapytań" in cursor.last_error
    for attempt in range(3):
        fault_arm(pattern="invoices.exports.start", action="503", count=1)
        result = company_import(company_id=company.pk)
        assert result.status == ImportRun.Status.FAILED
        assert "KSeF nie odpowiadał" in result.error
        cursor = SyncCursor.objects.get(company=company, subject_type=SubjectType.SUBJECT2)
        assert cursor.checkpoint == start
        assert cursor.failures_in_row == attempt + 1
    assert Invoice.objects.filter(company=company).count() == 0
    assert len(mail.outbox) == 1
    assert "KSeF" in mail.outbox[0].subject
    assert company_import(company_id=company.pk).invoices_new == 5
    assert SyncCursor.objects.get(company=company, subject_type=SubjectType.SUBJECT2).failures_in_row == 0


def test_short_rate_limits_are_waited_out_within_the_run(
    connected: KsefConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    company = connected.company
    services_invoices.invoices_generate(
        buyer_nip=company.nip, count=4, date_from=START, date_to=END, sellers=2, seed=4
    )
    slept: list[float] = []
    monkeypatch.setattr(importing, "_sleep", slept.append)
    fault_arm(pattern="invoices.exports.start", action="429", count=2, seconds=7)
    fault_arm(pattern="invoices.exports.status", action="429", count=1, seconds=3)
    result = company_import(company_id=company.pk)
    assert result.status == ImportRun.Status.SUCCEEDED, result.error
    assert result.invoices_new == 4
    assert slept == [7, 7, 3]  # as long as Retry-After asked, no longer
    assert SyncCursor.objects.get(company=company, subject_type=SubjectType.SUBJECT2).failures_in_row == 0


def test_auth_failure_puts_the_connection_in_attention(
    connected: KsefConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ksef_integration.ksef.errors import KsefUnauthorized

    def refuse(**_kwargs: Any) -> KsefClient:
        raise KsefUnauthorized()

    monkeypatch.setattr(importing, "ksef_client_for", refuse)
    result = company_import(company_id=connected.company.pk)
    assert result.status == ImportRun.Status.FAILED
    connected.refresh_from_db()
    assert connected.status == ConnectionStatus.ATTENTION
    assert connected.attention_reason


def test_never_two_imports_of_one_company(connected: KsefConnection) -> None:
    company = connected.company
    running = ImportRun.objects.create(company=company)
    assert company_import(company_id=company.pk).status == "busy"
    # a run whose worker died (no heartbeat for longer than the lease) is taken over
    ImportRun.objects.filter(pk=running.pk).update(heartbeat_at=timezone.now() - importing.LEASE * 2)
    assert company_import(company_id=company.pk).status == ImportRun.Status.SUCCEEDED
    running.refresh_from_db()
    assert running.status == ImportRun.Status.ABANDONED


def test_random_order_of_runs_is_harmless(connected: KsefConnection) -> None:
    company = connected.company
    rng = random.Random(5)
    total = 0
    for _ in range(3):
        count = rng.randint(1, 6)
        total += count
        for n in range(count):  # stored now: KSeF never adds invoices below its high water mark
            services_invoices.invoice_store_incoming(
                xml_bytes=services_invoices.fa3_build(
                    seller_nip="5265877635", buyer_nip=company.nip, number=f"R/{total}/{n}",
                    issue_date=timezone.localdate(), net=Decimal("1.00"),
                )
            )  # fmt: skip
        company_import(company_id=company.pk)
    assert Invoice.objects.filter(company=company).count() == total
