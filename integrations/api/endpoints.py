"""The endpoints of ``/api/v1/``. Every read goes through the key's company (``request.auth.company``):
another company's invoice is a 404, exactly like an invoice that does not exist."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Header, Query, Router, Schema, Status

from integrations.api import creating, problems
from integrations.api.representation import invoice_out, ksef_out, summary_out
from integrations.api.schemas import (
    DirectionCode,
    InvoiceCreateIn,
    InvoiceOut,
    InvoicePageOut,
    InvoiceSummaryOut,
    KindCode,
    KsefOut,
    ProblemOut,
    StatusCode,
)
from integrations.models import ApiKey
from invoices import selectors
from invoices.models import Invoice
from invoices.pdf import invoice_pdf_bytes
from invoices.visualisation import qr_codes
from ksef_integration.sending.display import invoice_upo_bytes, invoice_xml_bytes

router = Router(tags=["invoices"])
ERRORS: dict[int, Any] = {
    400: ProblemOut,
    401: ProblemOut,
    403: ProblemOut,
    404: ProblemOut,
    429: ProblemOut,
}


def _key(request: HttpRequest) -> ApiKey:
    key = request.auth  # type: ignore[attr-defined]
    if not isinstance(key, ApiKey):  # every endpoint is behind KeyAuth
        raise problems.Problem(401)
    return key


def _invoice(request: HttpRequest, invoice_id: uuid.UUID) -> Invoice:
    return selectors.invoice_get_for_company_or_404(company=_key(request).company, invoice_uuid=invoice_id)


@router.post(
    "/invoices",
    response={200: InvoiceOut, 201: InvoiceOut, **ERRORS},
    url_name="invoice_create",
    summary="Issue a sales invoice",
    description="Checked and issued exactly as the Wystaw form does; it then goes to KSeF by itself when "
    "the company sends automatically. 201 with the invoice (its `ksef.status` is `queued` or `offline` "
    "once on its way), 200 for a repeated idempotency key. Needs a key with the write scope.",
)
def invoice_create(
    request: HttpRequest,
    payload: InvoiceCreateIn,
    idempotency_key: uuid.UUID | None = Header(None, alias="Idempotency-Key"),  # noqa: B008 - ninja
) -> Status[dict[str, Any]]:
    key = _key(request)
    if not key.can_write:
        raise problems.Problem(
            403,
            type_=problems.SCOPE,
            title=_("This API key may only read"),
            detail=_("Creating invoices needs a key with the write scope."),
        )
    try:
        invoice, created = creating.invoice_create(
            company=key.company, user=key.created_by, body=payload, idempotency_key=idempotency_key
        )
    except creating.Refused as exc:
        raise problems.Problem(
            400,
            type_=problems.VALIDATION,
            title=_("The invoice was not issued"),
            detail=_("Correct the listed fields; nothing was saved and no number was used."),
            errors=exc.errors,
        ) from exc
    invoice = _invoice(request, invoice.uuid)  # as every reader sees it: lines and the KSeF state now
    return Status(201 if created else 200, invoice_out(invoice))


class ListQuery(Schema):
    direction: DirectionCode = Field("sales", description="sales or purchase")
    status: StatusCode | None = Field(None, description="KSeF status")
    kind: KindCode | None = None
    issued_from: dt.date | None = None
    issued_to: dt.date | None = None
    contractor: str = Field("", max_length=100, description="The buyer's (sales) or seller's name or NIP.")
    gross_from: Decimal | None = None
    gross_to: Decimal | None = None
    only_new: bool = Field(False, description="Purchases nobody has opened yet.")
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=100)


def _cursor_decode(value: str) -> selectors.Cursor:
    try:
        text = base64.urlsafe_b64decode(value.encode() + b"=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    cursor = selectors.Cursor.decode(text)
    if cursor is None:
        raise problems.Problem(
            400,
            type_=problems.VALIDATION,
            title=_("The request is not valid"),
            errors=[problems.FieldError("cursor", _("Not a cursor this API gave."))],
        )
    return cursor


def _cursor_encode(cursor: selectors.Cursor) -> str:
    return base64.urlsafe_b64encode(cursor.encode().encode()).decode().rstrip("=")


@router.get(
    "/invoices",
    response={200: InvoicePageOut, **ERRORS},
    url_name="invoice_list",
    summary="List invoices",
    description="Sales or purchase invoices, newest first (issue date, then creation), a page at a time.",
)
def invoice_list(request: HttpRequest, filters: Query[ListQuery]) -> dict[str, Any]:
    after = _cursor_decode(filters.cursor) if filters.cursor else None
    page = selectors.invoice_list(
        company=_key(request).company,
        filters=selectors.InvoiceFilters(
            direction=filters.direction,
            kind=filters.kind or "",
            ksef_status=filters.status or "",
            date_from=filters.issued_from,
            date_to=filters.issued_to,
            contractor=filters.contractor,
            amount_from=filters.gross_from,
            amount_to=filters.gross_to,
            only_new=filters.only_new and filters.direction == "purchase",
        ),
        after=after,
        page_size=filters.limit,
    )
    return {
        "items": [summary_out(row) for row in page.invoices],
        "next_cursor": _cursor_encode(page.next_cursor) if page.next_cursor else None,
    }


@router.get(
    "/invoices/{uuid:invoice_id}",
    response={200: InvoiceOut, **ERRORS},
    url_name="invoice_get",
    summary="Get an invoice",
)
def invoice_get(request: HttpRequest, invoice_id: uuid.UUID) -> dict[str, Any]:
    return invoice_out(_invoice(request, invoice_id))


@router.get(
    "/invoices/{uuid:invoice_id}/ksef-status",
    response={200: KsefOut, **ERRORS},
    url_name="invoice_ksef_status",
    summary="Get an invoice's KSeF status",
)
def invoice_ksef_status(request: HttpRequest, invoice_id: uuid.UUID) -> dict[str, Any]:
    return ksef_out(_invoice(request, invoice_id))


def _file(request: HttpRequest, body: bytes | None, *, content_type: str, name: str) -> HttpResponse:
    from integrations.api.site import with_rate_headers

    if body is None:
        raise problems.Problem(
            404,
            type_=problems.NOT_AVAILABLE,
            title=_("Not available yet"),
            detail=_("KSeF has not given this document for the invoice (yet)."),
        )
    response = HttpResponse(body, content_type=content_type)
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
    response["Content-Disposition"] = f'attachment; filename="{safe}"'
    return with_rate_headers(request, response)


FILE_ERRORS = {404: ProblemOut, 401: ProblemOut, 429: ProblemOut}


@router.get(
    "/invoices/{uuid:invoice_id}/xml",
    response={200: None, **FILE_ERRORS},
    url_name="invoice_xml",
    summary="Get the invoice's FA(3) XML",
    description="The original KSeF holds for an imported invoice, else the file the portal sent.",
    openapi_extra={"responses": {200: {"description": "FA(3) XML", "content": {"application/xml": {}}}}},
)
def invoice_xml(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    invoice = _invoice(request, invoice_id)
    number = invoice.ksef_number or invoice.number
    return _file(request, invoice_xml_bytes(invoice), content_type="application/xml", name=f"{number}.xml")


@router.get(
    "/invoices/{uuid:invoice_id}/upo",
    response={200: None, **FILE_ERRORS},
    url_name="invoice_upo",
    summary="Get the UPO KSeF issued for the invoice",
    openapi_extra={"responses": {200: {"description": "UPO XML", "content": {"application/xml": {}}}}},
)
def invoice_upo(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    invoice = _invoice(request, invoice_id)
    number = invoice.ksef_number or invoice.number
    return _file(
        request, invoice_upo_bytes(invoice), content_type="application/xml", name=f"UPO_{number}.xml"
    )


@router.get(
    "/invoices/{uuid:invoice_id}/pdf",
    response={200: None, **FILE_ERRORS},
    url_name="invoice_pdf",
    summary="Get the invoice as PDF",
    description="With KOD I (and KOD II offline) as the invoice page shows them.",
    openapi_extra={"responses": {200: {"description": "PDF", "content": {"application/pdf": {}}}}},
)
def invoice_pdf(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    invoice = _invoice(request, invoice_id)
    pdf = invoice_pdf_bytes(invoice, qr_codes=qr_codes(invoice))
    return _file(request, pdf, content_type="application/pdf", name=f"faktura_{invoice.number}.pdf")


__all__ = ["InvoiceSummaryOut", "router"]
