"""Pre-signed storage URLs: UPO and export-part downloads, batch-part uploads, without Authorization.

A URL is ``/ksef-sim/storage/<kind>/<ident>?se=<unix expiry>&sig=<hmac>``; the signature covers the
method, the kind, the identifier and the expiry, so a URL cannot be reused for another object or past its
time. Absolute URLs use ``KSEF_SIMULATOR_PUBLIC_URL`` when set, else the host of the request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest

STORAGE_PREFIX = "/ksef-sim/storage"
UPO_SESSION = "upo-session"
UPO_INVOICE = "upo-invoice"
EXPORT_PART = "export-part"
BATCH_PART = "batch-part"
KINDS = {UPO_SESSION: "GET", UPO_INVOICE: "GET", EXPORT_PART: "GET", BATCH_PART: "PUT"}


def _secret() -> bytes:
    return hashlib.sha256(("ksef-simulator-storage:" + settings.SECRET_KEY).encode()).digest()


def signature(kind: str, ident: str, expires: int) -> str:
    message = f"{KINDS[kind]}\n{kind}\n{ident}\n{expires}".encode()
    return hmac.new(_secret(), message, hashlib.sha256).hexdigest()


def base_url(request: HttpRequest | None) -> str:
    public = str(getattr(settings, "KSEF_SIMULATOR_PUBLIC_URL", "") or "").rstrip("/")
    if public:
        return public
    if request is None:
        return "http://localhost:8000"
    return f"{request.scheme}://{request.get_host()}"


def signed_url(request: HttpRequest | None, *, kind: str, ident: str, expires_at: dt.datetime) -> str:
    expires = int(expires_at.timestamp())
    query = urlencode({"se": expires, "sig": signature(kind, ident, expires)})
    return f"{base_url(request)}{STORAGE_PREFIX}/{kind}/{ident}?{query}"


def verify(*, kind: str, ident: str, se: str | None, sig: str | None, now: dt.datetime) -> str | None:
    """None when the URL is valid now, else the reason it is not (in Polish, as the storage says)."""
    if kind not in KINDS:
        return "Nieznany zasób."
    if not se or not sig or not se.isdigit():
        return "Brak podpisu adresu."
    if not hmac.compare_digest(signature(kind, ident, int(se)), sig):
        return "Nieprawidłowy podpis adresu."
    if int(se) < now.timestamp():
        return "Adres wygasł."
    return None
