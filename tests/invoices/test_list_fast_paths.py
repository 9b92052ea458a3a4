"""The Dokumenty list's fast paths (issue 9): the query compiled once gives what the ORM gives, and a whole
page kept in memory is served only when everything it shows is the same."""

import datetime as dt
from typing import Any

import pytest
from django.contrib.messages import constants, get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.cache import SessionStore
from django.db import connection, transaction
from django.db.models import Q
from django.http import HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Company, Role
from invoices.list_cache import ListPageCache
from invoices.models import Direction, Invoice, KsefStatus
from invoices.selectors import (
    PAGE_SIZE,
    Cursor,
    InvoiceFilters,
    _page_queryset,
    invoice_list,
    invoice_list_queryset,
    invoice_list_versions,
)
from ksefportal.model_rows import CompiledQuery
from tests.conftest import add_member, need
from tests.invoices.factories import invoice_make

pytestmark = pytest.mark.django_db


def _need_row_versions() -> None:
    need(connection.vendor == "postgresql", "whole pages are kept only on PostgreSQL (row versions)")


def _orm_page(company: Company, direction: str, after: Cursor | None) -> list[tuple[Any, ...]]:
    qs = invoice_list_queryset(company=company, filters=InvoiceFilters(direction))
    return [tuple(row) for row in _page_queryset(qs, after, PAGE_SIZE)][:PAGE_SIZE]


def test_the_compiled_list_query_gives_the_orm_pages(company_a: Company, company_b: Company) -> None:
    # 130 sales over five days (ties broken by id), purchases and another company's invoices around them
    for i in range(130):
        invoice_make(company_a, number=f"FV/{i}", issue_date=dt.date(2026, 11, 1) + dt.timedelta(days=i % 5))
    for i in range(7):
        invoice_make(
            company_a, number=f"Z/{i}", direction=Direction.PURCHASE, issue_date=dt.date(2026, 11, 3)
        )
        invoice_make(company_b, number=f"B/{i}", issue_date=dt.date(2026, 11, 3))
    for direction, expected_total in ((Direction.SALES, 130), (Direction.PURCHASE, 7)):
        after, seen = None, []
        while True:
            page = invoice_list(company=company_a, filters=InvoiceFilters(direction), after=after)
            assert [tuple(row) for row in page.invoices] == _orm_page(company_a, direction, after)
            seen += [row.number for row in page.invoices]
            if page.next_cursor is None:
                break
            after = page.next_cursor
        assert len(seen) == len(set(seen)) == expected_total


def test_a_compiled_query_refuses_markers_it_cannot_place() -> None:
    contains = CompiledQuery(
        lambda name: Invoice.objects.filter(number__contains=name).values_list("id"), name="x"
    )
    with pytest.raises(ValueError, match="do not reach"):
        contains.rows()
    twins = CompiledQuery(
        lambda a, b: Invoice.objects.filter(Q(number=a) | Q(buyer_name=b)).values_list("id"),
        a="same",
        b="same",
    )
    with pytest.raises(ValueError, match="same SQL parameter"):
        twins.rows(a="1", b="2")


@pytest.mark.django_db(transaction=True)  # committed row versions, as in production
def test_the_second_identical_request_is_served_without_rendering(
    alice_client: Any, company_a: Company
) -> None:
    _need_row_versions()
    invoice_make(company_a, number="FV/1/2026")
    first = alice_client.get(reverse("invoices:list"))
    with CaptureQueriesContext(connection) as captured:
        second = alice_client.get(reverse("invoices:list"))
    assert "invoices/document_list.html" in [t.name for t in first.templates]
    assert second.templates == []  # from the page cache
    # The user with their membership, then the rows' ids and versions only, not what the rows hold.
    assert len(captured) == 2
    assert "xmin" in captured[1]["sql"]
    assert "total_gross" not in captured[1]["sql"]
    assert second.content == first.content
    filtered = alice_client.get(reverse("invoices:list"), {"contractor": "x"})
    assert "invoices/document_list.html" in [t.name for t in filtered.templates]  # filters: never cached


@pytest.mark.django_db(transaction=True)  # committed row versions, as in production
def test_a_changed_value_is_shown_at_once(alice_client: Any, company_a: Company) -> None:
    invoice = invoice_make(company_a, number="FV/1/2026", ksef_status=KsefStatus.QUEUED)
    assert "ksef-status--queued" in alice_client.get(reverse("invoices:list")).content.decode()
    Invoice.objects.filter(pk=invoice.pk).update(ksef_status=KsefStatus.ACCEPTED)  # no signal, no timestamp
    assert "ksef-status--accepted" in alice_client.get(reverse("invoices:list")).content.decode()
    Company.objects.filter(pk=company_a.pk).update(name="Alfa Nowa sp. z o.o.")
    assert "Alfa Nowa sp. z o.o." in alice_client.get(reverse("invoices:list")).content.decode()
    invoice_make(company_a, number="FV/2/2026", issue_date=dt.date(2026, 11, 20))
    assert "FV/2/2026" in alice_client.get(reverse("invoices:list")).content.decode()


@pytest.mark.django_db(transaction=True)  # committed row versions, as in production
def test_a_viewer_never_gets_an_owners_cached_page(
    alice_client: Any, client: Any, company_a: Company
) -> None:
    invoice_make(company_a, number="FV/1/2026")
    issue = reverse("invoices:issue")
    assert issue in alice_client.get(reverse("invoices:list")).content.decode()  # owner: "Wystaw fakturę"
    viewer = add_member(company_a, Role.VIEWER, "viewer@example.com").user
    client.force_login(viewer)
    html = client.get(reverse("invoices:list")).content.decode()
    assert "FV/1/2026" in html
    assert f'class="button" href="{issue}"' not in html


def _request_with_messages(*texts: str) -> Any:
    request: Any = RequestFactory().get("/dokumenty/")
    request.session = SessionStore()
    request._messages = storage = FallbackStorage(request)
    for text in texts:
        storage.add(constants.SUCCESS, text)
    return request


@pytest.mark.django_db(transaction=True)
def test_pages_with_messages_a_csrf_token_or_in_a_transaction_are_not_kept() -> None:
    assert ListPageCache.usable(_request_with_messages()) is True
    with transaction.atomic():  # its own row versions do not identify rows: see ListPageCache.usable
        assert ListPageCache.usable(_request_with_messages()) is False
    with_message = _request_with_messages("Faktura zapisana.")
    assert ListPageCache.usable(with_message) is False
    assert len(get_messages(with_message)) == 1  # asking did not use the message up

    pages = ListPageCache()
    shown = pages.shown("a", rows=((), False))
    request = _request_with_messages()
    request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True  # what rendering {% csrf_token %} sets
    pages.put(shown, request, HttpResponse(b"<form>token</form>"))
    assert pages.get(shown) is None
    pages.put(shown, _request_with_messages(), HttpResponse(b"page", status=404))
    assert pages.get(shown) is None
    pages.put(shown, _request_with_messages(), HttpResponse(b"page"))
    cached = pages.get(shown)
    assert cached is not None
    assert cached.content == b"page"


def test_a_hash_collision_is_a_miss_and_the_oldest_page_goes_first() -> None:
    pages = ListPageCache(max_pages=2)
    one, two, three = (pages.shown(n, rows=((), False)) for n in ("1", "2", "3"))
    pages.put(one, _request_with_messages(), HttpResponse(b"one"))
    pages._pages[hash(two)] = (one, b"one")  # another page filed under two's hash
    assert pages.get(two) is None
    pages.put(two, _request_with_messages(), HttpResponse(b"two"))
    assert pages.get(one) is not None  # one is now the most recently used
    pages.put(three, _request_with_messages(), HttpResponse(b"three"))
    assert pages.get(two) is None
    assert pages.get(one) is not None
    assert pages.get(three) is not None


@pytest.mark.django_db(transaction=True)  # committed row versions, as in production
def test_the_versions_identify_every_page_and_change_with_any_row(
    company_a: Company, company_b: Company
) -> None:
    _need_row_versions()
    for i in range(60):
        invoice_make(company_a, number=f"FV/{i}", issue_date=dt.date(2026, 11, 1) + dt.timedelta(days=i % 3))
    invoice_make(company_a, number="Z/1", direction=Direction.PURCHASE)
    other = invoice_make(company_b, number="B/1")

    def pages() -> list[Any]:
        """Each page's versions, read alone and read with the rows, which must agree."""
        out, after = [], None
        while True:
            page = invoice_list(company=company_a, filters=InvoiceFilters(Direction.SALES), after=after)
            versions = invoice_list_versions(company=company_a, direction=Direction.SALES, after=after)
            assert versions == page.versions()
            out.append(versions)
            if page.next_cursor is None:
                return out
            after = page.next_cursor

    before = pages()
    assert [len(rows) for rows, _ in before] == [50, 10]
    assert [more for _, more in before] == [True, False]
    assert pages() == before  # nothing changed, nothing differs
    Invoice.objects.filter(pk=other.pk).update(buyer_name="Inna firma")  # another company
    Invoice.objects.filter(direction=Direction.PURCHASE).update(is_new=False)  # the other direction
    assert pages() == before
    on_second = Invoice.objects.get(company=company_a, number="FV/0")
    assert on_second.id in [row_id for row_id, _ in before[1][0]]
    Invoice.objects.filter(pk=on_second.pk).update(total_gross=on_second.total_gross)  # same value, new row
    after_update = pages()
    assert after_update[0] == before[0]
    assert after_update[1] != before[1]
    Invoice.objects.filter(pk=on_second.pk).delete()
    assert pages()[1][0] == tuple(row for row in after_update[1][0] if row[0] != on_second.pk)
