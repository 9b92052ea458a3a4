"""The Dokumenty list with 100,000 invoices in one company (throwaway SQLite or PostgreSQL test database).

Measures the whole request through the Django test client: the first page, a deep page (seek pagination
from the 90,000th row) and a filtered page. With OFFSET pagination the deep page would cost ~100x more.
"""

from __future__ import annotations

from bench.common import invoices_bulk_build, median_ms, throwaway_database

INVOICES = 100_000
ROUNDS = 50


def run() -> dict[str, float]:
    with throwaway_database():
        return _measure()


def _measure() -> dict[str, float]:
    from django.test import Client

    from invoices.models import Direction, Invoice
    from invoices.selectors import Cursor
    from tests.factories import MembershipFactory

    membership = MembershipFactory.create()
    company = membership.company
    invoices_bulk_build(company=company, count=INVOICES)
    deep = (
        Invoice.objects.filter(company=company, direction=Direction.SALES)
        .order_by("-issue_date", "-id")
        .values_list("issue_date", "id")[int(INVOICES * 0.8 * 0.9)]
    )
    deep_url = f"/dokumenty/?after={Cursor(deep[0], deep[1]).encode()}"
    filtered_url = "/dokumenty/?status=rejected&amount_from=5000&date_from=2024-01-01"
    client = Client()
    client.force_login(membership.user)
    for url in ("/dokumenty/", deep_url, filtered_url):
        response = client.get(url)
        if response.status_code != 200 or b"doc-card__party" not in response.content:
            raise RuntimeError(f"{url} did not list invoices; the figures would be meaningless")
    return {
        "invoices_list_ms_median": median_ms(lambda: client.get("/dokumenty/"), ROUNDS),
        "invoices_list_deep_page_ms_median": median_ms(lambda: client.get(deep_url), ROUNDS),
        "invoices_list_filtered_ms_median": median_ms(lambda: client.get(filtered_url), ROUNDS),
    }
