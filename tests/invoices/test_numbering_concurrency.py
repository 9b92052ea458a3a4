"""Numbers stay unique and gapless when many people issue invoices at the same moment, and issuers wait for
each other only while one takes its number and commits (PostgreSQL)."""

import threading
import time
import uuid
from typing import Any

import pytest
from django.db import connection

from accounts.models import Company
from invoices import services
from invoices.models import Contractor, Invoice
from invoices.services import PartyData
from tests.factories import CompanyFactory
from tests.invoices.factories import issue_data

pytestmark = pytest.mark.services

THREADS = 8
PER_THREAD = 6


@pytest.mark.django_db(transaction=True)
def test_concurrent_issues_get_gapless_unique_numbers(postgres_and_redis: None) -> None:
    company: Company = CompanyFactory.create()
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            for _ in range(PER_THREAD):
                services.invoice_issue(
                    company=company, user=None, data=issue_data(idempotency_key=uuid.uuid4())
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    numbers = sorted(
        int(n.split("/")[1]) for n in Invoice.objects.filter(company=company).values_list("number", flat=True)
    )
    assert numbers == list(range(1, THREADS * PER_THREAD + 1))


@pytest.mark.django_db(transaction=True)
def test_the_same_form_sent_twice_at_once_makes_one_invoice(postgres_and_redis: None) -> None:
    company: Company = CompanyFactory.create()
    data = issue_data()
    barrier = threading.Barrier(4)
    results: list[Any] = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(services.invoice_issue(company=company, user=None, data=data).pk)
        except BaseException as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(set(results)) == 1, results
    assert Invoice.objects.filter(company=company).count() == 1


# --- what issuers wait for (issue 22): only the numbering step ---------------------------------------------


class Paused:
    """Holds one thread inside its issuing transaction: just before (``after=False``) or just after
    (``after=True``) it takes its number, until ``go`` is set."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, after: bool) -> None:
        self.thread: threading.Thread | None = None
        self.reached = threading.Event()
        self.go = threading.Event()
        original = services.number_allocate

        def number_allocate(**kwargs: Any) -> str:
            if threading.current_thread() is not self.thread:
                return original(**kwargs)
            number = original(**kwargs) if after else ""
            self.reached.set()
            assert self.go.wait(timeout=60), "never let go"
            return number if after else original(**kwargs)

        monkeypatch.setattr(services, "number_allocate", number_allocate)

    def start(self, target: Any) -> threading.Thread:
        self.thread = threading.Thread(target=target)
        self.thread.start()
        assert self.reached.wait(timeout=60), "the paused issuer never got to its number"
        return self.thread


def _issuing(company: Company, results: dict[str, Any], name: str, **overrides: Any) -> Any:
    def issue() -> None:
        try:
            results[name] = services.invoice_issue(
                company=company, user=None, data=issue_data(**overrides)
            ).number
        except BaseException as exc:
            results[name] = exc
        finally:
            connection.close()

    return issue


def _waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_an_issuer_to_the_same_buyer_does_not_wait_before_the_numbering(
    postgres_and_redis: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction that has checked, built and remembered its invoice but not yet taken its number holds no
    lock another issuer needs: the second invoice to the same buyer is issued (and numbered) meanwhile. Were
    the contractor's row written or locked before the numbering, the second issuer would wait here."""
    company: Company = CompanyFactory.create()
    services.invoice_issue(company=company, user=None, data=issue_data())  # the buyer and the series exist
    paused = Paused(monkeypatch, after=False)
    results: dict[str, Any] = {}
    first = paused.start(_issuing(company, results, "first"))
    second = threading.Thread(target=_issuing(company, results, "second"))
    second.start()
    second.join(timeout=60)
    waited = second.is_alive()
    paused.go.set()
    first.join(timeout=60)
    second.join(timeout=60)
    assert not waited, "the second issuer waited for the first one's transaction"
    assert results == {"second": "FV/2/11/2026", "first": "FV/3/11/2026"}


@pytest.mark.django_db(transaction=True)
def test_a_buyer_whose_data_changes_meanwhile_does_not_deadlock_with_a_numbered_issuer(
    postgres_and_redis: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first issuer holds the series (numbered, not committed); the second changes the buyer's address, so
    it locks the contractor's row and then waits for the series. The first one's commit checks its foreign
    key to that contractor: with a full FOR UPDATE on the row, the two would wait for each other."""
    company: Company = CompanyFactory.create()
    services.invoice_issue(company=company, user=None, data=issue_data())
    paused = Paused(monkeypatch, after=True)
    results: dict[str, Any] = {}
    first = paused.start(_issuing(company, results, "first"))
    moved = PartyData(
        name="Zakład Usług Różnych Łęcki",
        nip="5260250274",
        address_line1="ul. Nowa 7",
        address_line2="00-001 Warszawa",
    )
    second = threading.Thread(target=_issuing(company, results, "second", party=moved))
    second.start()
    deadline = time.monotonic() + 60
    while _waiting_on_a_lock() == 0 and second.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    paused.go.set()
    first.join(timeout=60)
    second.join(timeout=60)
    assert results == {"first": "FV/2/11/2026", "second": "FV/3/11/2026"}
    assert Contractor.objects.get(company=company).address_line1 == "ul. Nowa 7"
