"""Numbers stay unique and gapless when many people issue invoices at the same moment (PostgreSQL)."""

import threading
import uuid
from typing import Any

import pytest
from django.db import connection

from accounts.models import Company
from invoices import services
from invoices.models import Invoice
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
