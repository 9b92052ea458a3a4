"""``InvoiceCounts`` is kept by database triggers (migration ksef_integration 0019): whatever writes the
invoices — ``save()``, ``QuerySet.update()``, ``bulk_create()``, deletes, an invoice moved to another company,
plain SQL, concurrent transactions, a rollback — each company's row equals counting its invoices with the
three rules of ``office.selectors`` (``WAITING``, ``REJECTED``, ``NEW_PURCHASES``). Runs on the database the
suite runs on: SQLite locally, PostgreSQL in CI (the concurrent test needs PostgreSQL)."""

from __future__ import annotations

import contextlib
import threading
import uuid
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Company
from invoices.models import Direction, Invoice, KsefOfflineMode, KsefStatus
from ksef_integration.models import InvoiceCounts
from ksef_integration.office.selectors import NEW_PURCHASES, REJECTED, WAITING
from tests.factories import CompanyFactory

COMPANIES = 3
_WAITING_VALUES = {
    "direction": "sales",
    "ksef_status": "not_sent",
    "ksef_offline_mode": "",
    "numbered": False,
    "is_new": False,
}

values = st.fixed_dictionaries(
    {
        "direction": st.sampled_from(Direction.values),
        "ksef_status": st.sampled_from(KsefStatus.values),
        "ksef_offline_mode": st.sampled_from(KsefOfflineMode.values),
        "numbered": st.booleans(),
        "is_new": st.booleans(),
    }
)
# What a QuerySet.update() may set: any of the counted columns (a KSeF number only taken away: it is unique).
changes = st.fixed_dictionaries(
    {},
    optional={
        "direction": st.sampled_from(Direction.values),
        "ksef_status": st.sampled_from(KsefStatus.values),
        "ksef_offline_mode": st.sampled_from(KsefOfflineMode.values),
        "ksef_number": st.none(),
        "is_new": st.booleans(),
    },
).filter(bool)
# Which of a company's invoices an update or a delete takes.
selections = st.sampled_from(
    [{}, {"direction": "sales"}, {"direction": "purchase"}, {"is_new": True}, {"ksef_status": "queued"}]
)
company = st.integers(0, COMPANIES - 1)
invoice = st.integers(0, 1_000)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("create"), company, values),
        st.tuples(st.just("bulk_create"), company, st.lists(values, min_size=1, max_size=4)),
        st.tuples(st.just("save"), invoice, values),
        st.tuples(st.just("update"), company, selections, changes),
        st.tuples(st.just("move"), invoice, company),
        st.tuples(st.just("delete"), invoice),
        st.tuples(st.just("delete_all"), company, selections),
        st.tuples(st.just("rolled_back"), company, values),
        st.tuples(st.just("sql"), invoice, st.sampled_from(KsefStatus.values)),
    ),
    max_size=30,
)


class _RolledBackError(Exception):
    pass


def _invoice(company: Company, data: dict[str, Any]) -> Invoice:
    return Invoice(
        company=company,
        direction=data["direction"],
        number=f"C/{uuid.uuid4().hex[:12]}",
        issue_date=timezone.localdate(),
        seller_name="Sprzedawca",
        buyer_name="Nabywca",
        ksef_status=data["ksef_status"],
        ksef_offline_mode=data["ksef_offline_mode"],
        ksef_number=f"K-{uuid.uuid4().hex}" if data["numbered"] else None,
        is_new=data["is_new"],
    )


def _assign(invoice: Invoice, data: dict[str, Any]) -> None:
    invoice.direction = data["direction"]
    invoice.ksef_status = data["ksef_status"]
    invoice.ksef_offline_mode = data["ksef_offline_mode"]
    invoice.ksef_number = f"K-{uuid.uuid4().hex}" if data["numbered"] else None
    invoice.is_new = data["is_new"]


def counted(companies: list[Company]) -> dict[int, tuple[int, int, int]]:
    """Each company's counts as the rules give them, from its invoices."""
    live = (
        Invoice.objects.filter(company__in=companies)
        .values("company_id")
        .annotate(
            waiting=Count("pk", filter=WAITING),
            rejected=Count("pk", filter=REJECTED),
            new=Count("pk", filter=NEW_PURCHASES),
        )
        .order_by()
    )
    found = {row["company_id"]: (row["waiting"], row["rejected"], row["new"]) for row in live}
    return {c.pk: found.get(c.pk, (0, 0, 0)) for c in companies}


def kept(companies: list[Company]) -> dict[int, tuple[int, int, int]]:
    """Each company's counts as the triggers kept them (no row: zeros)."""
    rows = InvoiceCounts.objects.filter(company__in=companies).values_list(
        "company_id", "waiting", "rejected", "new_purchases"
    )
    found = {company_id: (w, r, n) for company_id, w, r, n in rows}
    return {c.pk: found.get(c.pk, (0, 0, 0)) for c in companies}


def _apply(operation: tuple[Any, ...], companies: list[Company]) -> None:
    kind = operation[0]
    mine = Invoice.objects.filter(company__in=companies).order_by("pk")
    existing = list(mine.values_list("pk", flat=True))
    if kind == "create":
        _invoice(companies[operation[1]], operation[2]).save()
    elif kind == "bulk_create":
        Invoice.objects.bulk_create(_invoice(companies[operation[1]], data) for data in operation[2])
    elif kind == "rolled_back":
        with contextlib.suppress(_RolledBackError), transaction.atomic():
            _invoice(companies[operation[1]], operation[2]).save()
            raise _RolledBackError
    elif kind == "update":
        mine.filter(company=companies[operation[1]], **operation[2]).update(**operation[3])
    elif kind == "delete_all":
        mine.filter(company=companies[operation[1]], **operation[2]).delete()
    elif existing:
        target = Invoice.objects.get(pk=existing[operation[1] % len(existing)])
        if kind == "save":
            _assign(target, operation[2])
            target.save()
        elif kind == "move":
            target.company = companies[operation[2]]
            target.ksef_number = None  # unique per company
            target.save()
        elif kind == "delete":
            target.delete()
        elif kind == "sql":
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {Invoice._meta.db_table} SET ksef_status = %s WHERE id = %s",  # noqa: S608
                    [operation[2], target.pk],
                )


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=operations)
def test_the_kept_counts_equal_the_rules_whatever_writes_the_invoices(operations: list[Any]) -> None:
    companies = [CompanyFactory.create() for _ in range(COMPANIES)]
    for operation in operations:
        _apply(operation, companies)
        assert kept(companies) == counted(companies), operation


@pytest.mark.django_db
def test_a_deleted_company_takes_its_counts_along() -> None:
    company = CompanyFactory.create()
    _invoice(company, _WAITING_VALUES).save()
    assert kept([company]) == {company.pk: (1, 0, 0)}
    company_pk = company.pk
    company.delete()
    assert not InvoiceCounts.objects.filter(company_id=company_pk).exists()


@pytest.mark.services
@pytest.mark.django_db
def test_truncating_the_invoices_empties_the_counts(postgres_and_redis: None) -> None:
    """TRUNCATE fires no row trigger (PostgreSQL): a statement trigger empties the counts with it."""
    company = CompanyFactory.create()
    _invoice(company, _WAITING_VALUES).save()
    assert kept([company]) == {company.pk: (1, 0, 0)}
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's own inserts are checked first
        cursor.execute(f"TRUNCATE {Invoice._meta.db_table} CASCADE")
    assert not InvoiceCounts.objects.exists()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_the_counts_exact(postgres_and_redis: None) -> None:
    """Eight connections add invoices to one company and move others between the counts at the same time."""
    company = CompanyFactory.create()
    Invoice.objects.bulk_create(_invoice(company, _WAITING_VALUES) for _ in range(40))
    ids = list(Invoice.objects.filter(company=company).values_list("pk", flat=True))
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            barrier.wait()
            for i in range(10):
                with transaction.atomic():
                    if n % 2:
                        _invoice(company, {**_WAITING_VALUES, "is_new": True, "direction": "purchase"}).save()
                    else:
                        status = (KsefStatus.QUEUED, KsefStatus.REJECTED, KsefStatus.ACCEPTED)[i % 3]
                        Invoice.objects.filter(pk=ids[(n * 10 + i) % len(ids)]).update(ksef_status=status)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert kept([company]) == counted([company])
    assert kept([company])[company.pk][2] == 40  # four writers added ten new purchases each
