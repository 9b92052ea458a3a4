"""The simulator's answers that need nothing of the request pipeline: errors, their bodies, KSeF's time style.

A leaf module: it imports nothing from ``ksef_simulator``, so the hooks around every call (faults, limits,
security) can build answers with it while ``http.api_view`` calls those hooks.

``ApiError`` is rendered by :func:`error_response` in the legacy ``ExceptionResponse`` format, or as
``application/problem+json`` when the request has ``X-Error-Format: problem-details`` (401/403/410 are
always problem+json).
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    410: "Gone",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(value: dt.datetime | None) -> str | None:
    """KSeF's timestamp style: ISO-8601 with 7 fractional digits and an offset."""
    if value is None:
        return None
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}0+00:00"


class ApiError(Exception):
    """An error answer. ``code`` is the KSeF exception code for 400s (e.g. 21405)."""

    def __init__(
        self,
        status: int,
        code: int | None = None,
        description: str = "",
        details: list[str] | None = None,
        *,
        reason_code: str | None = None,
        security: dict[str, Any] | None = None,
        retry_after: int | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(f"{status} {code or ''} {description}".strip())
        self.status = status
        self.code = code
        self.description = description
        self.details = details or []
        self.reason_code = reason_code
        self.security = security
        self.retry_after = retry_after
        self.detail = detail


def bad_request(code: int, description: str, *details: str) -> ApiError:
    return ApiError(400, code, description, list(details))


def validation_error(*details: str) -> ApiError:
    return bad_request(21405, "Błąd walidacji danych wejściowych.", *details)


def unauthorized(detail: str = "Wymagane jest uwierzytelnienie.") -> ApiError:
    return ApiError(401, detail=detail)


def forbidden(reason_code: str, detail: str, security: dict[str, Any] | None = None) -> ApiError:
    return ApiError(403, reason_code=reason_code, detail=detail, security=security)


def gone() -> ApiError:
    return ApiError(410, detail="Operacja wygasła i nie jest już dostępna.")


def too_many_requests(retry_after: int, detail: str) -> ApiError:
    return ApiError(429, retry_after=retry_after, detail=detail)


def error_response(request: HttpRequest, error: ApiError) -> HttpResponse:
    status = error.status
    problem = request.headers.get("X-Error-Format", "").lower() == "problem-details" or status in (
        401,
        403,
        410,
    )
    trace_id = secrets.token_hex(16)
    body: dict[str, Any]
    if status == 429 and not problem:
        body = {"status": {"code": 429, "description": "Too Many Requests", "details": [error.detail or ""]}}
        response: HttpResponse = JsonResponse(body, status=429)
    elif problem:
        body = {
            "title": _TITLES.get(status, "Error"),
            "status": status,
            "instance": request.path,
            "detail": error.detail or error.description or _TITLES.get(status, "Error"),
            "timestamp": iso(now_utc()),
            "traceId": trace_id,
        }
        if status == 400:
            body["errors"] = [
                {"code": error.code, "description": error.description, "details": error.details}
            ]
        if status == 403:
            body["reasonCode"] = error.reason_code
            if error.security is not None:
                body["security"] = error.security
        response = JsonResponse(body, status=status, content_type="application/problem+json")
    else:
        body = {
            "exception": {
                "exceptionDetailList": [
                    {
                        "exceptionCode": error.code or status,
                        "exceptionDescription": error.description or error.detail or _TITLES.get(status, ""),
                        "details": error.details,
                    }
                ],
                # The error's own reference: KSeF sends a 36-character identifier (a UUID in the example).
                "referenceNumber": str(uuid.uuid4()),
                # The call's W3C trace context (traceparent: version-trace-span-flags), as KSeF sends.
                "serviceCode": f"00-{trace_id}-{secrets.token_hex(8)}-00",
                "serviceCtx": "srvKSEFSIM",
                "serviceName": "ksef-simulator",
                "timestamp": iso(now_utc()),
            }
        }
        response = JsonResponse(body, status=status)
    if error.retry_after is not None:
        response["Retry-After"] = str(error.retry_after)
    return response
