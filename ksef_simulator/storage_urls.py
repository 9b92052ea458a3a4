"""The simulator's "blob storage": pre-signed downloads (UPO, export parts) and batch-part uploads.

Include at ``/ksef-sim/storage/`` (outside the API prefix, like KSeF's storage host). No Authorization:
the signature and expiry in the query string are the credential (ksef-api.md §18).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from ksef_simulator import crypto, processing, storage
from ksef_simulator.models import SimBatchPart, SimExportPart, SimInvoice, SimSession


def _refuse(status: int, message: str) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def _checked(request: HttpRequest, kind: str, ident: str) -> HttpResponse | None:
    if request.method != storage.KINDS.get(kind):
        return _refuse(405, "Niedozwolona metoda.")
    reason = storage.verify(
        kind=kind, ident=ident, se=request.GET.get("se"), sig=request.GET.get("sig"), now=processing.now()
    )
    return _refuse(403, reason) if reason else None


def _upo(request: HttpRequest, kind: str, ident: str) -> HttpResponse:
    from ksef_simulator.api.sessions import invoice_upo_bytes, session_upo_bytes, xml_response

    if kind == storage.UPO_SESSION:
        processing.settle()
        session = SimSession.objects.filter(upo_reference=ident, finalized=True, status_code=200).first()
        return xml_response(session_upo_bytes(session)) if session else _refuse(404, "Nie znaleziono UPO.")
    invoice = SimInvoice.objects.select_related("session").filter(reference_number=ident).first()
    if invoice is not None and not invoice.processed:  # an invoice's UPO needs only its own outcome
        processing.settle()
        invoice = SimInvoice.objects.select_related("session").filter(reference_number=ident).first()
    if invoice is None or not invoice.accepted or invoice.session is None:
        return _refuse(404, "Nie znaleziono UPO.")
    return xml_response(invoice_upo_bytes(invoice))


def _export_part(ident: str) -> HttpResponse:
    reference, _, ordinal = ident.rpartition("/")
    part = (
        SimExportPart.objects.filter(export__reference_number=reference, ordinal_number=int(ordinal)).first()
        if ordinal.isdigit()
        else None
    )
    if part is None:
        return _refuse(404, "Nie znaleziono części paczki.")
    content = bytes(part.content)
    response = HttpResponse(content, content_type="application/octet-stream")
    # Like KSeF's blob storage: the object's hash as metadata (Base64 SHA-256 of the encrypted part, i.e.
    # the part's encryptedPartHash), which clients such as ksef-client 0.20 require and check.
    response["x-ms-meta-hash"] = crypto.sha256_b64(content)
    return response


def _batch_part(request: HttpRequest, ident: str) -> HttpResponse:
    reference, _, ordinal = ident.rpartition("/")
    session = SimSession.objects.filter(reference_number=reference, kind=SimSession.Kind.BATCH).first()
    if session is None or not ordinal.isdigit():
        return _refuse(404, "Nie znaleziono sesji.")
    if session.closed_at is not None or session.finalized:
        return _refuse(400, "Sesja nie przyjmuje już części paczki.")
    if int(ordinal) not in {p["ordinalNumber"] for p in session.declared_parts}:
        return _refuse(400, "Nieznany numer części.")
    SimBatchPart.objects.update_or_create(
        session=session,
        ordinal_number=int(ordinal),
        defaults={"content": request.body, "uploaded_at": processing.now()},
    )
    return HttpResponse(status=201)


@csrf_exempt
def storage_object(request: HttpRequest, kind: str, ident: str) -> HttpResponse:
    refused = _checked(request, kind, ident)
    if refused is not None:
        return refused
    if kind in (storage.UPO_SESSION, storage.UPO_INVOICE):
        return _upo(request, kind, ident)
    if kind == storage.EXPORT_PART:
        return _export_part(ident)
    return _batch_part(request, ident)


urlpatterns = [
    path("<str:kind>/<path:ident>", storage_object, name="ksef-sim-storage"),
]
