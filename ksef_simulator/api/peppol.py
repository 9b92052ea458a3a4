"""``GET /peppol/query``: the Peppol service providers registered in KSeF (public, rate-limit group
``anonymous``), paged by ``pageOffset``/``pageSize`` (10..100)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from ksef_simulator import services_peppol
from ksef_simulator.http import api_view
from ksef_simulator.paging import query_int
from ksef_simulator.responses import iso

MAX_OFFSET = 2**31 - 1


@api_view("GET", name="peppol.query")
def query(request: HttpRequest) -> HttpResponse:
    offset = query_int(request, "pageOffset", default=0, minimum=0, maximum=MAX_OFFSET)
    size = query_int(request, "pageSize", default=10, minimum=10, maximum=100)
    start = offset * size
    rows = list(services_peppol.providers()[start : start + size + 1])
    providers = [{"id": p.provider_id, "name": p.name, "dateCreated": iso(p.created_at)} for p in rows[:size]]
    return JsonResponse({"peppolProviders": providers, "hasMore": len(rows) > size})
