"""Collective identifiers: ``POST /collective-identifiers``, ``…/query``, ``…/invoices`` and
``GET /collective-identifiers/ksef/{ksefNumber}`` (rate-limit group ``collectiveIdentifier``).

Every rule is ``services_collective``'s; these views read requests and write KSeF's answers.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from ksef_simulator import ids, processing, security, services_collective
from ksef_simulator.http import api_view, json_object
from ksef_simulator.models import CollectiveIdentifier, CollectiveIdentifierEntry
from ksef_simulator.paging import Pager
from ksef_simulator.responses import iso, validation_error
from ksef_simulator.schemas_core import validate_request
from ksef_simulator.services_collective import Context

PERMISSIONS = ("InvoiceRead", "InvoiceWrite", "CollectiveIdentifierManage")


def _context(request: HttpRequest) -> Context:
    principal = security.principal_from_request(request)
    security.require_any_permission(principal, PERMISSIONS)
    return Context(principal.context_type, principal.context_value)


def _body(request: HttpRequest, operation: str) -> dict[str, Any]:
    body = json_object(request)
    validate_request(operation, body)
    return body


def _summary(identifier: CollectiveIdentifier, context: Context) -> dict[str, Any]:
    return {
        "collectiveIdentifierNumber": identifier.number,
        "dateCreated": iso(identifier.created_at),
        "createdInCurrentContext": services_collective.created_here(identifier, context),
    }


def _number(value: Any) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def _entry(entry: CollectiveIdentifierEntry, visible: bool) -> dict[str, Any]:
    has_details = entry.amount is not None or bool(entry.description)
    item: dict[str, Any] = {
        "ksefNumber": entry.ksef_number,
        "collectiveIdentifierNumber": entry.identifier.number,
        "detailsHidden": has_details and not visible,
    }
    if visible:
        if entry.amount is not None:
            item["payment"] = {"amount": _number(entry.amount), "currency": entry.currency}
        if entry.description:
            item["description"] = entry.description
    return item


@api_view("POST", name="collective-identifiers.generate")
def generate(request: HttpRequest) -> HttpResponse:
    context = _context(request)
    body = _body(request, "POST /collective-identifiers")
    processing.settle()
    identifier = services_collective.identifier_generate(context=context, invoices=body["invoices"])
    return JsonResponse({"collectiveIdentifierNumber": identifier.number}, status=201)


@api_view("POST", name="collective-identifiers.query")
def query(request: HttpRequest) -> HttpResponse:
    pager = Pager.from_request(request, max_size=200)
    context = _context(request)
    body = _body(request, "POST /collective-identifiers/query")
    rows, more = pager.page(services_collective.identifiers_query(context=context, body=body))
    items = [{**_summary(row, context), "invoiceCount": row.invoice_count} for row in rows]
    return JsonResponse({"collectiveIdentifiers": items, **more})


@api_view("POST", name="collective-identifiers.invoices")
def invoices(request: HttpRequest) -> HttpResponse:
    pager = Pager.from_request(request, max_size=500)
    context = _context(request)
    body = _body(request, "POST /collective-identifiers/invoices")
    numbers = [str(n) for n in body["collectiveIdentifierNumbers"]]
    rows, more = pager.page(services_collective.entries_of(numbers=numbers))
    visible = services_collective.details_visible(context=context, entries=rows)
    return JsonResponse({"invoices": [_entry(row, row.pk in visible) for row in rows], **more})


@api_view("GET", name="collective-identifiers.by-ksef-number")
def by_ksef_number(request: HttpRequest, ksef_number: str) -> HttpResponse:
    pager = Pager.from_request(request, max_size=200)
    context = _context(request)
    if not ids.ksef_number_is_valid(ksef_number):
        raise validation_error(f"ksefNumber: nieprawidłowy numer KSeF {ksef_number[:40]}.")
    processing.settle()
    rows, more = pager.page(
        services_collective.identifiers_of_invoice(context=context, ksef_number=ksef_number)
    )
    return JsonResponse({"collectiveIdentifiers": [_summary(row, context) for row in rows], **more})
