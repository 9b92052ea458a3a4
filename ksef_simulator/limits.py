"""Request-rate limits (ksef-api.md §11.1) and the context/subject limits (§11.2) of the simulator.

Requests are counted per (context, client IP, group) over sliding windows of one second, one minute and
one hour; limits of -1 mean "no limit". Like KSeF's docs (limity-api.md), each endpoint of the ``other``
and ``anonymous`` groups has its own counter. A breach answers 429 with ``Retry-After`` (seconds until the
oldest counted request leaves the breached window), and the caller is blocked for that long: every
request is refused without being counted until the block ends. Like KSeF's (ksef-api.md §11.1), blocks
grow with repeated breaches: each breach within an hour of the previous block doubles the wait (at most
an hour). Changing or resetting a context's limits ends its blocks. Profiles: ``default`` (TEST = PRD
since 2.5.0), per-context ``custom``/``production`` set through ``/testdata/rate-limits``, and the
simulator-only ``off``. The ``global`` group is published but not enforced.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from django.db.models import Count, Max, Min, Q
from django.http import HttpRequest, HttpResponse

from ksef_simulator import security
from ksef_simulator.conf import get_config
from ksef_simulator.models import ContextLimitOverride, RateLimitHit, SimulatorConfig
from ksef_simulator.responses import error_response, now_utc, too_many_requests

Values = dict[str, int]
WINDOWS = (
    ("perSecond", dt.timedelta(seconds=1), "sekundę"),
    ("perMinute", dt.timedelta(minutes=1), "minutę"),
    ("perHour", dt.timedelta(hours=1), "godzinę"),
)


def _v(second: int, minute: int, hour: int) -> Values:
    return {"perSecond": second, "perMinute": minute, "perHour": hour}


# GET /rate-limits of API 2.9.0 (the spec's example, equal to each operation's x-rate-limits).
DEFAULT_LIMITS: dict[str, Values] = {
    "onlineSession": _v(10, 30, 120),
    "onlineSessionClose": _v(20, 60, 240),
    "batchSession": _v(10, 20, 60),
    "batchSessionClose": _v(20, 40, 120),
    "invoiceSend": _v(10, 30, 180),
    "invoiceStatus": _v(30, 120, 1200),
    "sessionList": _v(5, 10, 60),
    "sessionInvoiceList": _v(10, 20, 200),
    "sessionMisc": _v(10, 120, 1200),
    "invoiceMetadata": _v(8, 16, 20),
    "invoiceExport": _v(8, 16, 20),
    "invoiceExportStatus": _v(10, 60, 600),
    "invoiceDownload": _v(8, 16, 64),
    "collectiveIdentifier": _v(20, 120, 240),
    "other": _v(10, 30, 120),
    "anonymous": _v(60, -1, -1),
    "global": _v(75, -1, -1),
}
PRODUCTION_LIMITS = DEFAULT_LIMITS  # since 2.5.0 TEST's defaults equal PRD
OVERRIDABLE = [
    g for g in DEFAULT_LIMITS if g not in ("anonymous", "global", "onlineSessionClose", "batchSessionClose")
]

_REF = r"[^/]+"
# (method, path relative to /v2, group); the first match wins, so literals come before parameters.
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(f"^{p}$"), g)
    for m, p, g in [
        ("POST", "sessions/online", "onlineSession"),
        ("POST", f"sessions/online/{_REF}/close", "onlineSessionClose"),
        ("POST", f"sessions/online/{_REF}/invoices", "invoiceSend"),
        ("POST", "sessions/batch", "batchSession"),
        ("POST", f"sessions/batch/{_REF}/close", "batchSessionClose"),
        ("GET", "sessions", "sessionList"),
        ("GET", f"sessions/{_REF}/invoices(/failed)?", "sessionInvoiceList"),
        ("GET", f"sessions/{_REF}/invoices/ksef/{_REF}/upo", "sessionMisc"),
        ("GET", f"sessions/{_REF}/invoices/{_REF}/upo", "sessionMisc"),
        ("GET", f"sessions/{_REF}/invoices/{_REF}", "invoiceStatus"),
        ("GET", f"sessions/{_REF}(/upo/{_REF})?", "sessionMisc"),
        ("POST", "invoices/query/metadata", "invoiceMetadata"),
        ("POST", "invoices/exports", "invoiceExport"),
        ("GET", f"invoices/exports/{_REF}", "invoiceExportStatus"),
        ("GET", f"invoices/ksef/{_REF}", "invoiceDownload"),
        ("*", "collective-identifiers(/.*)?", "collectiveIdentifier"),
        ("POST", "auth/(challenge|ksef-token|xades-signature|token/redeem|token/refresh)", "anonymous"),
        ("GET", "auth/sessions", "other"),
        ("GET", f"auth/{_REF}", "anonymous"),
        ("GET", "security/public-key-certificates", "anonymous"),
        ("GET", "peppol/query", "anonymous"),
        ("POST", "testdata/(person|subject|permissions|attachment)(/remove|/revoke)?", "anonymous"),
    ]
]
API_PREFIXES = ("/ksef-sim/v2/", "/ksef-sim/api/v2/")


def group_for(method: str, path: str) -> str | None:
    """The rate-limit group of a request, or None for paths outside the API (uploads, downloads)."""
    for prefix in API_PREFIXES:
        if path.startswith(prefix):
            relative = path[len(prefix) :].rstrip("/")
            break
    else:
        return None
    for route_method, pattern, group in ROUTES:
        if route_method in ("*", method) and pattern.match(relative):
            return group
    return "other"


# --- profiles ------------------------------------------------------------------------------------


def _override(kind: str, context_type: str, context_value: str) -> ContextLimitOverride | None:
    return ContextLimitOverride.objects.filter(
        kind=kind, context_type=context_type, context_value=context_value
    ).first()


def effective_rate_limits(
    context_type: str | None = None, context_value: str | None = None
) -> dict[str, Values]:
    """The limits in force for a context (the defaults when it has no override)."""
    limits = {group: dict(values) for group, values in DEFAULT_LIMITS.items()}
    if context_type and context_value:
        override = _override("rate", context_type, context_value)
        if override is not None:
            for group, values in override.values.items():
                if group in limits:
                    limits[group] = {key: int(values[key]) for key in ("perSecond", "perMinute", "perHour")}
    return limits


def rate_limits_set(*, context_type: str, context_value: str, limits: dict[str, Any]) -> None:
    ContextLimitOverride.objects.update_or_create(
        kind="rate", context_type=context_type, context_value=context_value, defaults={"values": limits}
    )
    _blocks_end(context_type, context_value)


def rate_limits_reset(*, context_type: str, context_value: str) -> None:
    ContextLimitOverride.objects.filter(
        kind="rate", context_type=context_type, context_value=context_value
    ).delete()
    _blocks_end(context_type, context_value)


def _blocks_end(context_type: str, context_value: str) -> None:
    RateLimitHit.objects.filter(key__startswith=f"{_BLOCK}{context_type}:{context_value}|").delete()


# --- counting ------------------------------------------------------------------------------------


def _caller(request: HttpRequest) -> tuple[str | None, str | None]:
    """The context a bearer token names (any kind), without judging the token (the view does that)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    claims = security.jwt_decode(token.strip()) if scheme.lower() == "bearer" and token else None
    if claims is None:
        return None, None
    return claims.get("context-identifier-type"), claims.get("context-identifier-value")


def _message(limit: int, unit: str, retry_after: int) -> str:
    return f"Przekroczono limit {limit} żądań na {unit}. Spróbuj ponownie po {retry_after} sekundach."


# A block is a RateLimitHit under "block|<counter key>" whose ``at`` is the moment the block ends.
_BLOCK = "block|"
MAX_BLOCK = dt.timedelta(hours=1)
# Breaches this long after the last block's end still escalate; also how long hits are kept (the longest
# window), so it may not be shorter than an hour.
BREACH_MEMORY = dt.timedelta(hours=1)


def _refused_while_blocked(request: HttpRequest, ends: dt.datetime, now: dt.datetime) -> HttpResponse:
    """429 with the time left of the counter's block (the request is not counted)."""
    retry_after = max(1, math.ceil((ends - now).total_seconds()))
    detail = f"Dostęp zablokowany po przekroczeniu limitu żądań. Spróbuj ponownie po {retry_after} sekundach."
    return error_response(request, too_many_requests(retry_after, detail))


def _block(key: str, now: dt.datetime, wait: int, earlier: int) -> int:
    """Start a block after a breach: ``wait`` seconds, doubled for each ``earlier`` breach remembered."""
    seconds = min(int(MAX_BLOCK.total_seconds()), wait * 2**earlier)
    RateLimitHit.objects.create(key=_BLOCK + key, at=now + dt.timedelta(seconds=seconds))
    return seconds


def check(request: HttpRequest, endpoint: str) -> HttpResponse | None:
    """Count the request; a 429 response when one of its windows is full."""
    if get_config().rate_limit_profile == SimulatorConfig.RateLimitProfile.OFF:
        return None
    group = group_for(request.method or "GET", request.path)
    if group is None:
        return None
    context_type, context_value = _caller(request)
    limits = effective_rate_limits(context_type, context_value)[group]
    # Each endpoint (method + route) of these groups has its own counter.
    per_endpoint = f":{request.method} {endpoint}" if group in ("other", "anonymous") else ""
    key = f"{context_type or '-'}:{context_value or '-'}|{security.client_ip(request)}|{group}{per_endpoint}"
    now = now_utc()
    # One delete and one aggregate per request for the counter and its blocks (the window checks are hot).
    both = [key, _BLOCK + key]
    RateLimitHit.objects.filter(key__in=both, at__lte=now - BREACH_MEMORY).delete()
    counter = Q(key=key)
    aggregates: dict[str, Any] = {
        "block_end": Max("at", filter=Q(key=_BLOCK + key)),
        "breaches": Count("id", filter=Q(key=_BLOCK + key)),
    }
    for name, window, _ in WINDOWS:
        aggregates[f"{name}_count"] = Count("id", filter=counter & Q(at__gt=now - window))
        aggregates[f"{name}_oldest"] = Min("at", filter=counter & Q(at__gt=now - window))
    counted = RateLimitHit.objects.filter(key__in=both).aggregate(**aggregates)
    if counted["block_end"] is not None and counted["block_end"] > now:
        return _refused_while_blocked(request, counted["block_end"], now)
    for name, window, unit in WINDOWS:
        limit = limits[name]
        if limit >= 0 and counted[f"{name}_count"] >= limit:
            oldest = counted[f"{name}_oldest"] or now
            wait = max(1, math.ceil((oldest + window - now).total_seconds()))
            retry_after = _block(key, now, wait, counted["breaches"])
            return error_response(request, too_many_requests(retry_after, _message(limit, unit, retry_after)))
    RateLimitHit.objects.create(key=key, at=now)
    return None


# --- context and subject limits (§11.2) ----------------------------------------------------------

DEFAULT_SESSION_LIMITS: dict[str, dict[str, int]] = {
    "onlineSession": {"maxInvoiceSizeInMB": 1, "maxInvoiceWithAttachmentSizeInMB": 3, "maxInvoices": 10000},
    "batchSession": {"maxInvoiceSizeInMB": 1, "maxInvoiceWithAttachmentSizeInMB": 3, "maxInvoices": 10000},
    "collectiveIdentifier": {"maxInvoices": 500},
}
DEFAULT_SUBJECT_LIMITS = {
    "Nip": {"enrollment": {"maxEnrollments": 300}, "certificate": {"maxCertificates": 100}},
    "Pesel": {"enrollment": {"maxEnrollments": 12}, "certificate": {"maxCertificates": 6}},
    "Fingerprint": {"enrollment": {"maxEnrollments": 12}, "certificate": {"maxCertificates": 6}},
}


def context_limits(*, context_type: str, context_value: str) -> dict[str, dict[str, int]]:
    """``GET /limits/context`` for a context; the invoice side reads sizes (SI MB) and counts from here."""
    override = _override("session", context_type, context_value)
    limits = {name: dict(values) for name, values in DEFAULT_SESSION_LIMITS.items()}
    if override is not None:
        for name, values in override.values.items():
            limits.setdefault(name, {}).update(values)
    return limits


def subject_limits(*, subject_type: str, subject_value: str) -> dict[str, dict[str, int]]:
    override = _override("subject", subject_type, subject_value)
    limits = {name: dict(values) for name, values in DEFAULT_SUBJECT_LIMITS.get(subject_type, {}).items()}
    if override is not None:
        for name, values in override.values.items():
            if values is not None:
                limits[name] = dict(values)
    return limits


def limits_override(
    *, kind: str, context_type: str, context_value: str, values: dict[str, Any] | None
) -> None:
    """Set (``values``) or remove (None) a ``session`` or ``subject`` override."""
    if values is None:
        ContextLimitOverride.objects.filter(
            kind=kind, context_type=context_type, context_value=context_value
        ).delete()
        return
    ContextLimitOverride.objects.update_or_create(
        kind=kind, context_type=context_type, context_value=context_value, defaults={"values": values}
    )
