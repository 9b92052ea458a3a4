"""Start as a dashboard (issue 22) with 100,000 invoices in one company: the whole page through the test
client (the month's totals and the 12-month chart in one aggregate query, the KSeF counts), and that query
alone. The invoices are spread over the last three years up to today, so the 12 months hold a third."""

from __future__ import annotations

import datetime as dt

from bench.common import invoices_bulk_build, median_ms, throwaway_database

INVOICES = 100_000
ROUNDS = 30


def run() -> dict[str, float]:
    with throwaway_database():
        return _measure()


def _measure() -> dict[str, float]:
    from django.db.models import F
    from django.test import Client
    from django.utils import timezone

    from invoices.dashboard import dashboard
    from invoices.models import Invoice
    from tests.factories import MembershipFactory

    membership = MembershipFactory.create()
    company = membership.company
    invoices_bulk_build(company=company, count=INVOICES)
    today = timezone.localdate()
    # The builder's three years end on 31.12.2025; move them to end today.
    Invoice.objects.filter(company=company).update(
        issue_date=F("issue_date") + (today - dt.date(2025, 12, 31))
    )
    client = Client()
    client.force_login(membership.user)
    response = client.get("/")
    if response.status_code != 200 or b'id="dashboard-month"' not in response.content:
        raise RuntimeError("Start did not show the dashboard; the figures would be meaningless")
    board = dashboard(company=company, today=today)
    if not board.sales.gross:
        raise RuntimeError("no sales this month; the figures would be meaningless")
    return {
        "start_page_ms_median": median_ms(lambda: client.get("/"), ROUNDS),
        "start_dashboard_query_ms_median": median_ms(lambda: dashboard(company=company, today=today), ROUNDS),
    }
