"""The simulator's "blob storage": pre-signed URLs for UPO and export-part downloads and batch-part uploads.

A URL is ``/ksef-sim/storage/<kind>/<ident>?se=<unix expiry>&sig=<hmac>``; the signature covers the
method, the kind, the identifier and the expiry, so a URL cannot be reused for another object or past its
time. Absolute URLs use ``KSEF_SIMULATOR_PUBLIC_URL`` when set, else the host of the request.

``urlpatterns`` is included at ``/ksef-sim/storage/`` (outside the API prefix, like KSeF's storage host).
No Authorization: the signature and expiry in the query string are the credential (ksef-api.md §18).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from ksef_simulator import crypto, processing, upo
from ksef_simulator.models import SimBatchPart, SimExportPart, SimInvoice, SimSession

_STORAGE_PREFIX = "/ksef-sim/storage"
UPO_SESSION = "upo-session"
UPO_INVOICE = "upo-invoice"
EXPORT_PART = "export-part"
BATCH_PART = "batch-part"
_KINDS = {UPO_SESSION: "GET", UPO_INVOICE: "GET", EXPORT_PART: "GET", BATCH_PART: "PUT"}


def _secret() -> bytes:
    return hashlib.sha256(("ksef-simulator-storage:" + settings.SECRET_KEY).encode()).digest()


def _signature(kind: str, ident: str, expires: int) -> str:
    message = f"{_KINDS[kind]}\n{kind}\n{ident}\n{expires}".encode()
    return hmac.new(_secret(), message, hashlib.sha256).hexdigest()


def _base_url(request: HttpRequest | None) -> str:
    public = str(getattr(settings, "KSEF_SIMULATOR_PUBLIC_URL", "") or "").rstrip("/")
    if public:
        return public
    if request is None:
        return "http://localhost:8000"
    return f"{request.scheme}://{request.get_host()}"


def signed_url(request: HttpRequest | None, *, kind: str, ident: str, expires_at: dt.datetime) -> str:
    expires = int(expires_at.timestamp())
    query = urlencode({"se": expires, "sig": _signature(kind, ident, expires)})
    return f"{_base_url(request)}{_STORAGE_PREFIX}/{kind}/{ident}?{query}"


def _verify(*, kind: str, ident: str, se: str | None, sig: str | None, now: dt.datetime) -> str | None:
    """None when the URL is valid now, else the reason it is not (in Polish, as the storage says)."""
    if kind not in _KINDS:
        return "Nieznany zasób."
    if not se or not sig or not se.isdigit():
        return "Brak podpisu adresu."
    if not hmac.compare_digest(_signature(kind, ident, int(se)), sig):
        return "Nieprawidłowy podpis adresu."
    if int(se) < now.timestamp():
        return "Adres wygasł."
    return None


def object_response(content: bytes, content_type: str = "application/xml") -> HttpResponse:
    """A stored object as KSeF hands it out: with its hash as metadata (Base64 SHA-256 of the bytes sent,
    for an export part its encryptedPartHash), which clients such as ksef-client 0.20 require and check."""
    response = HttpResponse(content, content_type=content_type)
    response["x-ms-meta-hash"] = crypto.sha256_b64(content)
    return response


def _refuse(status: int, message: str) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def _checked(request: HttpRequest, kind: str, ident: str) -> HttpResponse | None:
    if request.method != _KINDS.get(kind):
        return _refuse(405, "Niedozwolona metoda.")
    reason = _verify(
        kind=kind, ident=ident, se=request.GET.get("se"), sig=request.GET.get("sig"), now=processing.now()
    )
    return _refuse(403, reason) if reason else None


def _upo(kind: str, ident: str) -> HttpResponse:
    if kind == UPO_SESSION:
        processing.settle()
        session = SimSession.objects.filter(upo_reference=ident, finalized=True, status_code=200).first()
        return object_response(upo.session_upo(session)) if session else _refuse(404, "Nie znaleziono UPO.")
    invoice = SimInvoice.objects.select_related("session").filter(reference_number=ident).first()
    if invoice is not None and not invoice.processed:  # an invoice's UPO needs only its own outcome
        processing.settle()
        invoice = SimInvoice.objects.select_related("session").filter(reference_number=ident).first()
    if invoice is None or not invoice.accepted or invoice.session is None:
        return _refuse(404, "Nie znaleziono UPO.")
    return object_response(upo.invoice_upo(invoice))


def _export_part(ident: str) -> HttpResponse:
    reference, _, ordinal = ident.rpartition("/")
    part = (
        SimExportPart.objects.filter(export__reference_number=reference, ordinal_number=int(ordinal)).first()
        if ordinal.isdigit()
        else None
    )
    if part is None:
        return _refuse(404, "Nie znaleziono części paczki.")
    return object_response(bytes(part.content), content_type="application/octet-stream")


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
    if kind in (UPO_SESSION, UPO_INVOICE):
        return _upo(kind, ident)
    if kind == EXPORT_PART:
        return _export_part(ident)
    return _batch_part(request, ident)


urlpatterns = [
    path("<str:kind>/<path:ident>", storage_object, name="ksef-sim-storage"),
]
