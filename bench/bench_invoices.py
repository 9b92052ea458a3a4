"""The Dokumenty list with 100,000 invoices in one company (throwaway SQLite or PostgreSQL test database).

Measures the whole request through the Django test client: the first page, a deep page (seek pagination
from the 90,000th row) and a filtered page. With OFFSET pagination the deep page would cost ~100x more.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from bench.common import median_ms, throwaway_database

INVOICES = 100_000
ROUNDS = 50


def run() -> dict[str, float]:
    with throwaway_database():
        return _measure()


def _measure() -> dict[str, float]:
    from django.db import connection
    from django.test import Client

    from invoices.models import Direction, Invoice, KsefStatus
    from invoices.selectors import Cursor
    from tests.factories import MembershipFactory, valid_nip

    membership = MembershipFactory.create()
    company = membership.company
    buyers = [(f"Kontrahent {i} sp. z o.o.", valid_nip()) for i in range(500)]
    start_day = dt.date(2023, 1, 1)
    statuses = [KsefStatus.ACCEPTED] * 8 + [KsefStatus.NOT_SENT, KsefStatus.REJECTED]
    batch = []
    for i in range(INVOICES):
        name, nip = buyers[i % len(buyers)]
        net = Decimal(100 + (i * 37) % 10_000)
        vat = (net * Decimal("0.23")).quantize(Decimal("0.01"))
        batch.append(
            Invoice(
                uuid=uuid.uuid4(), company=company, number=f"FV/{i + 1}/B",
                direction=Direction.SALES if i % 5 else Direction.PURCHASE,
                issue_date=start_day + dt.timedelta(days=(i * 1096) // INVOICES),
                seller_name=company.name, seller_nip=company.nip, buyer_name=name, buyer_nip=nip,
                total_net=net, total_vat=vat, total_gross=net + vat,
                ksef_status=statuses[i % len(statuses)],
            )
        )  # fmt: skip
        if len(batch) == 5000:
            Invoice.objects.bulk_create(batch)
            batch = []
    if batch:
        Invoice.objects.bulk_create(batch)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE invoices_invoice")
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
