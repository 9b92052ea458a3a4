"""The metadata query (page index paging, the truncation rule) and single-invoice download."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
import responses

from ksef_integration.ksef.client import KsefClient
from ksef_integration.ksef.crypto import sha256_b64
from ksef_integration.ksef.errors import KsefNotYetAvailable, KsefTransientError
from ksef_integration.ksef.invoices import InvoiceFilters
from tests.ksef_integration.ksef.conftest import BASE, NOW
from tests.ksef_integration.ksef.test_exports import ksef_number, metadata

URL = f"{BASE}/invoices/query/metadata"


def filters(start: datetime) -> InvoiceFilters:
    return InvoiceFilters(subject_type="Subject2", date_from=start, restrict_to_hwm=True)


def test_filters_json_uses_utc_with_an_offset():
    sent = InvoiceFilters(
        subject_type="Subject1",
        date_type="Invoicing",
        date_from=NOW,
        date_to=NOW + timedelta(days=1),
        extra={"sellerNip": "5265877635"},
    ).to_json()
    assert sent == {
        "sellerNip": "5265877635",
        "subjectType": "Subject1",
        "dateRange": {
            "dateType": "Invoicing",
            "from": "2026-11-25T12:00:00.000000+00:00",
            "to": "2026-11-26T12:00:00.000000+00:00",
        },
    }
    with pytest.raises(ValueError, match="subject type"):
        InvoiceFilters(subject_type="Buyer", date_from=NOW)


@pytest.fixture
def records() -> list[tuple[str, datetime]]:
    start = NOW - timedelta(days=3)
    return [(ksef_number(i, start), start + timedelta(minutes=i)) for i in range(25)]


def serve(
    mocked: responses.RequestsMock, records: list[tuple[str, datetime]], *, page_cap: int, total_cap: int
):
    """pageOffset is a page index; after ``total_cap`` records from ``from`` the result is truncated."""
    calls: list[dict[str, Any]] = []

    def reply(request: Any) -> tuple[int, dict, str]:
        query = dict(p.split("=") for p in request.url.split("?")[1].split("&"))
        sent = json.loads(request.body)
        calls.append({"query": query, "from": sent["dateRange"]["from"]})
        start = datetime.fromisoformat(sent["dateRange"]["from"])
        matching = [r for r in records if r[1] >= start]
        window = matching[:total_cap]
        offset, size = int(query["pageOffset"]), min(int(query["pageSize"]), page_cap)
        page = window[offset * size : (offset + 1) * size]
        has_more = (offset + 1) * size < len(matching)
        truncated = has_more and (offset + 1) * size >= len(window)
        return (
            200,
            {},
            json.dumps(
                {
                    "hasMore": has_more,
                    "isTruncated": truncated,
                    "permanentStorageHwmDate": NOW.isoformat(),
                    "invoices": [metadata(n, d) for n, d in page],
                }
            ),
        )

    mocked.add_callback(responses.POST, URL, callback=reply)
    return calls


def test_paging_uses_page_indexes(mocked: responses.RequestsMock, client: KsefClient, records):
    calls = serve(mocked, records, page_cap=10, total_cap=10_000)
    got = list(client.invoices.metadata_query(filters=filters(NOW - timedelta(days=4)), page_size=10))
    assert [m.ksef_number for m in got] == [n for n, _ in records]
    assert [c["query"]["pageOffset"] for c in calls] == ["0", "1", "2"]
    assert all(c["query"]["sortOrder"] == "Asc" for c in calls)


def test_truncation_restarts_from_the_last_date_and_drops_the_overlap(
    mocked: responses.RequestsMock, client: KsefClient, records
):
    calls = serve(mocked, records, page_cap=5, total_cap=10)
    got = list(client.invoices.metadata_query(filters=filters(NOW - timedelta(days=4)), page_size=5))
    numbers = [m.ksef_number for m in got]
    assert numbers == [n for n, _ in records]
    assert len(numbers) == len(set(numbers))
    restarts = [c for c in calls if c["query"]["pageOffset"] == "0"]
    assert len(restarts) > 1
    assert datetime.fromisoformat(restarts[1]["from"]) == records[9][1]


def test_metadata_amounts_are_decimals(mocked: responses.RequestsMock, client: KsefClient, records):
    serve(mocked, records[:1], page_cap=10, total_cap=100)
    (invoice,) = client.invoices.metadata_query(filters=filters(NOW - timedelta(days=4)))
    assert str(invoice.gross_amount) == "123.0"
    assert invoice.seller_nip == "5265877635"
    assert invoice.raw["someNewField"] == "ignored"


def test_invoice_download_checks_the_hash(mocked: responses.RequestsMock, client: KsefClient):
    xml = b"<Faktura>1</Faktura>"
    mocked.get(f"{BASE}/invoices/ksef/OK", body=xml, headers={"x-ms-meta-hash": sha256_b64(xml)})
    mocked.get(f"{BASE}/invoices/ksef/BAD", body=xml, headers={"x-ms-meta-hash": sha256_b64(b"other")})
    assert client.invoices.invoice_download(ksef_number="OK") == xml
    with pytest.raises(KsefTransientError, match="hash"):
        client.invoices.invoice_download(ksef_number="BAD")


def test_invoice_not_yet_stored(mocked: responses.RequestsMock, client: KsefClient):
    mocked.get(
        f"{BASE}/invoices/ksef/X",
        status=400,
        json={
            "exception": {
                "exceptionDetailList": [{"exceptionCode": 21165, "exceptionDescription": "Jeszcze nie"}]
            }
        },
    )
    with pytest.raises(KsefNotYetAvailable):
        client.invoices.invoice_download(ksef_number="X")
