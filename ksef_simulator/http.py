"""HTTP plumbing shared by every simulator endpoint: JSON in/out, the spec's error formats, hooks.

``@api_view("POST", name="sessions.online.open")`` wraps a view so that it:
- answers only the given methods, is CSRF-exempt (an API, authenticated by bearer tokens);
- runs ``hooks.before_request`` first (fault injection, "KSeF unavailable", rate limits) and
  ``hooks.after_response`` last (e.g. drop the response after the work was done);
- renders ``ApiError`` in the legacy ``ExceptionResponse`` format, or as ``application/problem+json``
  when the request has ``X-Error-Format: problem-details`` (401/403/410 are always problem+json);
- echoes ``X-Test-System-Warning`` as ``X-System-Warning`` like the TEST environment.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from ksef_simulator import hooks

View = Callable[..., HttpResponse]

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
                "serviceCode": trace_id,
                "serviceCtx": "srvKSEFSIM",
                "serviceName": "ksef-simulator",
                "timestamp": iso(now_utc()),
            }
        }
        response = JsonResponse(body, status=status)
    if error.retry_after is not None:
        response["Retry-After"] = str(error.retry_after)
    return response


def read_json(request: HttpRequest) -> Any:
    """The request body as JSON, or a 21405 error a client can act on."""
    if not request.body:
        raise validation_error("Brak treści żądania.")
    try:
        return json.loads(request.body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise validation_error(f"Nieprawidłowy JSON: {exc.__class__.__name__}.") from exc


def json_object(request: HttpRequest) -> dict[str, Any]:
    data = read_json(request)
    if not isinstance(data, dict):
        raise validation_error("Treść żądania musi być obiektem JSON.")
    return data


def _check_path_values(kwargs: dict[str, Any]) -> None:
    """Path parameters are identifiers: a NUL byte or an absurd length is a bad request, not a DB error."""
    for value in kwargs.values():
        if isinstance(value, str) and ("\x00" in value or len(value) > 200):
            raise validation_error("Nieprawidłowy parametr w ścieżce żądania.")


def api_view(*methods: str, name: str) -> Callable[[View], View]:
    allowed = {m.upper() for m in methods}

    def decorator(view: View) -> View:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in allowed:
                response: HttpResponse = error_response(request, ApiError(405, detail="Method Not Allowed"))
                response["Allow"] = ", ".join(sorted(allowed))
                return response
            from ksef_simulator.conf import config_scope  # conf reads models, which load after this module

            with config_scope():
                try:
                    _check_path_values(kwargs)
                    early = hooks.before_request(request, name)
                    if early is not None:
                        return early
                    response = view(request, *args, **kwargs)
                except ApiError as error:
                    response = error_response(request, error)
            warning = request.headers.get("X-Test-System-Warning")
            if warning and 200 <= response.status_code < 300:
                response["X-System-Warning"] = warning
            return hooks.after_response(request, name, response)

        wrapper.ksef_endpoint = name  # type: ignore[attr-defined]
        return wrapper

    return decorator
