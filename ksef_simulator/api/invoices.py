"""Reading invoices: ``POST /invoices/query/metadata`` and ``GET /invoices/ksef/{ksefNumber}``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from ksef_simulator import invoice_queries, processing, storage
from ksef_simulator.api.common_invoices import json_body, looks_like_identifier
from ksef_simulator.http import api_view
from ksef_simulator.models import SimInvoice
from ksef_simulator.paging import query_enum, query_int
from ksef_simulator.responses import bad_request, iso
from ksef_simulator.security import principal_from_request, require_any_permission

READ = ["InvoiceRead"]


@api_view("POST", name="invoices.query.metadata")
def query_metadata(request: HttpRequest) -> HttpResponse:
    principal = principal_from_request(request)
    require_any_permission(principal, READ)
    page_offset = query_int(request, "pageOffset", default=0, minimum=0, maximum=2**31 - 1)
    size = query_int(request, "pageSize", default=10, minimum=10, maximum=250)
    sort = query_enum(request, "sortOrder", ("Asc", "Desc"), default="Asc")
    query = invoice_queries.parse_filters(json_body(request), principal)
    processing.settle()
    moment = processing.now()
    hwm = processing.hwm(moment)
    if not invoice_queries.hwm_check(query, hwm):
        raise invoice_queries.hwm_exceeded()
    qs = invoice_queries.invoices(query, moment=moment, hwm=hwm, ascending=sort == "Asc")
    limit = invoice_queries.MAX_RESULTS
    start = page_offset * size
    end = min(start + size, limit)
    rows = list(qs[start:end]) if start < end else []
    has_more = qs[max(start, end) : max(start, end) + 1].exists()
    body: dict[str, Any] = {
        "hasMore": has_more,
        # The filter set is capped at 10,000 records; the page that reaches the cap says so.
        "isTruncated": has_more and end >= limit,
        "permanentStorageHwmDate": iso(hwm) if query.date_type == "PermanentStorage" else None,
        "invoices": [invoice_queries.metadata_json(i) for i in rows],
    }
    return JsonResponse(body)


@api_view("GET", name="invoices.download")
def invoice_download(request: HttpRequest, ksef_number: str) -> HttpResponse:
    principal = principal_from_request(request)
    require_any_permission(principal, READ)
    processing.settle()
    if not looks_like_identifier(ksef_number):
        raise bad_request(
            21164, "Faktura o podanym identyfikatorze nie istnieje.", f"Brak faktury {ksef_number[:40]}."
        )
    invoice = (
        SimInvoice.objects.filter(
            invoice_queries.party_condition(principal.nip), ksef_number=ksef_number, status_code=200
        )
        .only("xml", "permanent_storage_date")
        .first()
    )
    if invoice is None or invoice.xml is None:
        raise bad_request(
            21164, "Faktura o podanym identyfikatorze nie istnieje.", f"Brak faktury {ksef_number}."
        )
    if invoice.permanent_storage_date is None or invoice.permanent_storage_date > processing.now():
        raise bad_request(
            21165,
            "Faktura o podanym numerze KSeF nie jest jeszcze dostępna.",
            "Faktura została przetworzona, ale nie jest jeszcze dostępna do pobrania. "
            "Spróbuj ponownie później.",
        )
    return storage.object_response(bytes(invoice.xml))
