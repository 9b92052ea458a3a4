"""The Dokumenty list: tabs, filters, seek pagination without duplicates or gaps, bounded query count,
each row rendered once, and cached rows that never show stale values."""

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.urls import reverse

from accounts.models import Company
from invoices.list_cache import rows_cache_key
from invoices.models import Direction, Invoice, InvoiceKind, KsefStatus
from invoices.selectors import Cursor, InvoiceFilters, invoice_list
from tests.invoices.factories import invoice_make

pytestmark = pytest.mark.django_db


def _walk(company: Company, filters: InvoiceFilters, page_size: int) -> list[list[str]]:
    pages, after = [], None
    while True:
        page = invoice_list(company=company, filters=filters, after=after, page_size=page_size)
        pages.append([invoice.number for invoice in page.invoices])
        if page.next_cursor is None:
            return pages
        after = page.next_cursor


def test_seek_pages_cover_everything_once_in_order(company_a: Company, company_b: Company) -> None:
    # Many invoices share a date, so the id must break ties; ids and dates are deliberately not in step.
    days = [dt.date(2026, 11, 1) + dt.timedelta(days=(i * 7) % 5) for i in range(53)]
    for i, day in enumerate(days):
        invoice_make(company_a, number=f"FV/{i}", issue_date=day)
    invoice_make(company_b, number="B/1")
    invoice_make(company_a, number="ZAKUP/1", direction=Direction.PURCHASE)
    pages = _walk(company_a, InvoiceFilters(), page_size=10)
    assert [len(p) for p in pages] == [10, 10, 10, 10, 10, 3]
    flat = [n for page in pages for n in page]
    assert len(flat) == len(set(flat)) == 53
    expected = [f"FV/{i}" for i, _ in sorted(enumerate(days), key=lambda x: (x[1], x[0]), reverse=True)]
    assert flat == expected


def test_filters(company_a: Company) -> None:
    invoice_make(
        company_a, number="A", issue_date=dt.date(2026, 10, 1), net="100.00", buyer_name="Alfa Sp. z o.o."
    )
    invoice_make(
        company_a, number="B", issue_date=dt.date(2026, 11, 1), net="1000.00", buyer_nip="5260250274"
    )
    invoice_make(company_a, number="C", issue_date=dt.date(2026, 11, 15), ksef_status=KsefStatus.ACCEPTED)
    invoice_make(company_a, number="K", kind=InvoiceKind.KOR, corrected_number="A", net="-10.00")
    invoice_make(company_a, number="P", direction=Direction.PURCHASE, seller_name="Dostawca Prąd SA")

    def numbers(**kwargs: Any) -> list[str]:
        page = invoice_list(company=company_a, filters=InvoiceFilters(**kwargs))
        return sorted(invoice.number for invoice in page.invoices)

    assert numbers() == ["A", "B", "C", "K"]
    assert numbers(direction=Direction.PURCHASE) == ["P"]
    assert numbers(direction=Direction.PURCHASE, contractor="prąd") == ["P"]
    assert numbers(kind=InvoiceKind.KOR) == ["K"]
    assert numbers(ksef_status=KsefStatus.ACCEPTED) == ["C"]
    assert numbers(date_from=dt.date(2026, 11, 1), date_to=dt.date(2026, 11, 1)) == ["B"]
    assert numbers(contractor="alfa") == ["A"]
    assert numbers(contractor="526-025") == ["B"]
    assert numbers(amount_from=Decimal("1000")) == ["B"]
    assert numbers(amount_to=Decimal("0")) == ["K"]


def test_cursor_round_trip_and_garbage() -> None:
    cursor = Cursor(dt.date(2026, 11, 25), 12345)
    assert Cursor.decode(cursor.encode()) == cursor
    for bad in ("", "x", "2026-13-01_1", "2026-11-01_x", None):
        assert Cursor.decode(bad) is None


def test_list_page_tabs_filters_and_next_link(alice_client: Any, company_a: Company) -> None:
    for i in range(55):
        invoice_make(
            company_a, number=f"FV/{i}/2026", issue_date=dt.date(2026, 11, 1) + dt.timedelta(days=i % 20)
        )
    invoice_make(company_a, number="ZAKUP-1", direction=Direction.PURCHASE)
    html = alice_client.get(reverse("invoices:list")).content.decode()
    assert "ZAKUP-1" not in html
    next_link = re.search(r'href="(\?[^"]*after=[^"]+)" rel="next"', html)
    assert next_link is not None
    second = alice_client.get(
        reverse("invoices:list") + next_link.group(1).replace("&amp;", "&")
    ).content.decode()
    first_numbers = set(re.findall(r"FV/\d+/2026", html))
    second_numbers = set(re.findall(r"FV/\d+/2026", second))
    assert len(first_numbers) == 50
    assert len(second_numbers) == 5
    assert first_numbers.isdisjoint(second_numbers)
    assert 'rel="next"' not in second
    purchases = alice_client.get(reverse("invoices:list"), {"direction": "purchase"}).content.decode()
    assert "ZAKUP-1" in purchases
    assert "FV/1/2026" not in purchases
    filtered = alice_client.get(reverse("invoices:list"), {"contractor": "nobody-matches"}).content.decode()
    assert "Brak pasujących dokumentów" in filtered


def test_empty_states(alice_client: Any, company_a: Company) -> None:
    assert "Brak faktur sprzedaży" in alice_client.get(reverse("invoices:list")).content.decode()
    purchases = alice_client.get(reverse("invoices:list"), {"direction": "purchase"}).content.decode()
    assert "Brak faktur zakupu" in purchases


def test_list_query_count_does_not_grow_with_rows(
    alice_client: Any, company_a: Company, django_assert_max_num_queries: Any
) -> None:
    for i in range(60):
        invoice_make(company_a, number=f"FV/{i}")
    alice_client.get(reverse("invoices:list"))  # warm the session
    with django_assert_max_num_queries(5):  # session, user, membership, the page of invoices
        response = alice_client.get(reverse("invoices:list"), {"kind": "VAT", "contractor": "odbiorca"})
    assert response.status_code == 200
    assert response.content.decode().count("doc-card__party") == 50


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr class="doc-card">.*?</tr>', html, flags=re.S)


def test_each_invoice_is_rendered_once_with_its_values(alice_client: Any, company_a: Company) -> None:
    invoice = invoice_make(
        company_a, number="FV/7/2026", kind=InvoiceKind.ZAL, net="1234.50", issue_date=dt.date(2026, 3, 9),
        buyer_name="Odbiorca <b>Beta</b>", ksef_status=KsefStatus.REJECTED,
    )  # fmt: skip
    html = alice_client.get(reverse("invoices:list")).content.decode()
    rows = _rows(html)
    assert len(rows) == 1
    assert html.count("FV/7/2026") == 1  # one markup for the table and the phone cards
    row = rows[0]
    assert f'href="/dokumenty/{invoice.uuid}/"' in row
    assert '<span class="badge">ZAL</span>' in row
    assert "09.03.2026" in row
    assert "Odbiorca &lt;b&gt;Beta&lt;/b&gt;" in row  # escaped
    assert f"NIP {invoice.buyer_nip}" in row
    assert "1\xa0234,50<" in row  # net
    assert "<strong>1\xa0518,44 PLN</strong>" in row  # gross
    assert 'ksef-status--rejected">odrzucona przez KSeF<' in row


def test_a_status_change_shows_on_the_next_request(alice_client: Any, company_a: Company) -> None:
    invoice = invoice_make(company_a, number="FV/1/2026", ksef_status=KsefStatus.QUEUED)
    first = alice_client.get(reverse("invoices:list")).content.decode()
    assert "ksef-status--queued" in first
    page = invoice_list(company=company_a, filters=InvoiceFilters())
    assert cache.get(rows_cache_key(invoices=page.invoices, language="pl")) is not None  # the rows are cached
    # a bare UPDATE, as a mirror of KSeF statuses might do: no signal, no updated_at
    Invoice.objects.filter(pk=invoice.pk).update(ksef_status=KsefStatus.ACCEPTED)
    second = alice_client.get(reverse("invoices:list")).content.decode()
    assert "ksef-status--queued" not in second
    assert 'ksef-status--accepted">przyjęta przez KSeF<' in second
    Invoice.objects.filter(pk=invoice.pk).update(
        buyer_name="Nowa Nazwa sp. z o.o.",
        total_net=Decimal("4.00"),
        total_vat=Decimal("1.00"),
        total_gross=Decimal("5.00"),
    )
    third = alice_client.get(reverse("invoices:list")).content.decode()
    assert "Nowa Nazwa sp. z o.o." in third
    assert "5,00 PLN" in third


def test_the_cached_filters_panel_never_shows_another_requests_values(
    alice_client: Any, company_a: Company
) -> None:
    invoice_make(company_a, number="FV/1/2026", buyer_name="Alfa")
    plain = alice_client.get(reverse("invoices:list")).content.decode()
    assert '<details class="card filters">' in plain
    filtered = alice_client.get(reverse("invoices:list"), {"contractor": "Alfa"}).content.decode()
    assert '<details class="card filters" open>' in filtered
    assert 'value="Alfa"' in filtered
    invalid = alice_client.get(reverse("invoices:list"), {"date_from": "not-a-date"}).content.decode()
    assert 'class="field field--error"' in invalid
    again = alice_client.get(reverse("invoices:list")).content.decode()
    assert 'value="Alfa"' not in again
    assert "field--error" not in again
    purchases = alice_client.get(reverse("invoices:list"), {"direction": "purchase"}).content.decode()
    assert 'name="only_new"' in purchases  # the purchase panel has its own entry
    assert 'name="only_new"' not in again
