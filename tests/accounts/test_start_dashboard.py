"""Start as a dashboard (issue 22): this month's sales and purchases in PLN, the 12-month chart, the KSeF
numbers each linking to the list they count, polling only while invoices wait for KSeF, and a page cost
that does not grow with the number of invoices."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from accounts.models import Company
from invoices.dashboard import dashboard
from invoices.models import Direction, KsefStatus
from ksef_integration.encryption import secret_encrypt
from ksef_integration.models import AuthMethod, ConnectionStatus, KsefConnection
from tests.invoices.factories import invoice_make

pytestmark = pytest.mark.django_db


def _month_ago(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


def test_totals_of_this_month_in_pln_and_twelve_months_of_gross(company_a: Company) -> None:
    today = dt.date(2026, 11, 20)
    this_month = today.replace(day=1)
    invoice_make(company_a, issue_date=this_month, net="1000.00")  # 1230 gross
    invoice_make(  # 100 EUR net at 4.25 = 425.00 PLN net, 97.75 VAT
        company_a, issue_date=today, net="100.00", currency="EUR", exchange_rate=Decimal("4.25")
    )
    invoice_make(company_a, issue_date=today, net="200.00", direction=Direction.PURCHASE)
    invoice_make(company_a, issue_date=_month_ago(today, 1), net="50.00")
    invoice_make(company_a, issue_date=_month_ago(today, 12), net="999.00")  # 13 months back: not shown
    invoice_make(company_a, issue_date=today.replace(day=30) + dt.timedelta(days=2), net="7.00")  # next month

    board = dashboard(company=company_a, today=today)
    assert board.sales.net == Decimal("1425.00")
    assert board.sales.vat == Decimal("230.00") + Decimal("97.75")
    assert board.sales.gross == Decimal("1230.00") + Decimal("522.75")
    assert (board.purchases.net, board.purchases.gross) == (Decimal("200.00"), Decimal("246.00"))
    assert len(board.bars) == 12
    assert board.bars[-1].month == this_month
    assert board.bars[-2].sales == Decimal("61.50")
    assert board.bars[0].month == _month_ago(today, 11)
    assert all(bar.sales == 0 for bar in board.bars[:-2])


def test_start_shows_the_month_the_chart_and_links_to_the_filtered_lists(
    alice_client: Any, company_a: Company
) -> None:
    today = timezone.localdate()
    invoice_make(company_a, issue_date=today, net="1000.00", number="FV/START/1")
    invoice_make(company_a, issue_date=_month_ago(today, 3), net="10.00", number="FV/OLD/1")
    html = alice_client.get(reverse("accounts:start")).content.decode()
    assert 'id="dashboard-month"' in html
    # The month opens the heading ("Grudzień 2026 (bieżący miesiąc)"): a capitalised month name mid-sentence
    # ("Ten miesiąc (Grudzień 2026)") is wrong in Polish.
    heading = re.search(r'<h2 id="dashboard-month-title">([^<]+)</h2>', html)
    assert heading is not None
    assert heading.group(1) == f"{date_format(today, 'F Y')} (bieżący miesiąc)"
    assert len(re.findall(r'<rect class="chart-bar', html)) == 24
    sales_row = html[html.index('id="dashboard-sales"') :]
    sales_row = sales_row[: sales_row.index("</tr>")]
    assert "1 230,00" in sales_row.replace("\xa0", " ")
    link = re.search(r'href="([^"]+)">[^<]*</a></th>', sales_row)
    assert link is not None
    listed = alice_client.get(link.group(1).replace("&amp;", "&")).content.decode()
    assert "FV/START/1" in listed
    assert "FV/OLD/1" not in listed


def _connect(company: Company) -> KsefConnection:
    return KsefConnection.objects.create(
        company=company,
        status=ConnectionStatus.ACTIVE,
        method=AuthMethod.TOKEN,
        token_last4="abcd",
        token_ciphertext=secret_encrypt("not-a-real-token"),
        permissions=["InvoiceRead", "InvoiceWrite"],
        import_start_date=timezone.localdate(),
    )


def test_the_ksef_numbers_link_to_their_lists_and_poll_only_while_something_waits(
    alice_client: Any, company_a: Company
) -> None:
    _connect(company_a)
    waiting = invoice_make(company_a, ksef_status=KsefStatus.QUEUED, number="FV/WAIT/1")
    invoice_make(company_a, ksef_status=KsefStatus.REJECTED, number="FV/REJ/1")
    invoice_make(company_a, ksef_status=KsefStatus.ACCEPTED, ksef_number="X-1", number="FV/OK/1")
    invoice_make(company_a, direction=Direction.PURCHASE, is_new=True, number="FZ/NEW/1")
    html = alice_client.get(reverse("accounts:start")).content.decode()
    panel = html[html.index('id="start-ksef"') :]
    panel = panel[: panel.index("</section>")]
    assert 'hx-trigger="every' in panel  # an invoice waits: Start asks again
    counts = dict(re.findall(r'<li id="start-(\w+)"[^>]*><a href="[^"]+"><strong data-count="(\d+)"', panel))
    assert counts == {"waiting": "1", "rejected": "1", "offline": "0", "new": "1"}
    links = dict(re.findall(r'<li id="start-(\w+)"[^>]*><a href="([^"]+)"', panel))
    expected = {"waiting": "FV/WAIT/1", "rejected": "FV/REJ/1", "new": "FZ/NEW/1"}
    for name, number in expected.items():
        listed = alice_client.get(links[name].replace("&amp;", "&")).content.decode()
        assert number in listed, name
        assert "FV/OK/1" not in listed, name

    waiting.ksef_status = KsefStatus.ACCEPTED
    waiting.ksef_number = "X-2"
    waiting.save()
    fragment = alice_client.get(reverse("ksef_integration:start_panel")).content.decode()
    assert 'data-count="0"' in fragment
    assert "hx-trigger" not in fragment  # nothing waits: the polling stops


def test_the_start_page_costs_the_same_queries_with_more_invoices(
    alice_client: Any, company_a: Company, django_assert_max_num_queries: Any
) -> None:
    _connect(company_a)
    today = timezone.localdate()
    invoice_make(company_a, issue_date=today)
    alice_client.get(reverse("accounts:start"))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        alice_client.get(reverse("accounts:start"))
    for back in range(12):
        for _ in range(5):
            invoice_make(company_a, issue_date=_month_ago(today, back), ksef_status=KsefStatus.QUEUED)
            invoice_make(company_a, issue_date=_month_ago(today, back), direction=Direction.PURCHASE)
    with CaptureQueriesContext(connection) as many:
        alice_client.get(reverse("accounts:start"))
    assert len(many) == len(few)
    dashboard_queries = [q["sql"] for q in many.captured_queries if "date_trunc" in q["sql"].lower()]
    assert len(dashboard_queries) == 1  # the month and the chart: one aggregate query
