"""Errors as problem details (RFC 9457, ``application/problem+json``).

``errors`` (an extension member) lists each field that was refused: ``field`` is a path into the request
(``buyer.nip``, ``lines[0].unit_price``; null for the request as a whole), ``message`` what is wrong, in the
language the request asked for (``Accept-Language``, Polish by default).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from django.http import HttpRequest, HttpResponse

CONTENT_TYPE = "application/problem+json"
# Problem types of our own are tag URIs (RFC 4151): stable identifiers, not links.
VALIDATION = "tag:ksef-portal,2026:problem:validation"
RATE_LIMITED = "tag:ksef-portal,2026:problem:rate-limited"
SCOPE = "tag:ksef-portal,2026:problem:insufficient-scope"
NOT_AVAILABLE = "tag:ksef-portal,2026:problem:not-available"


@dataclass(frozen=True)
class FieldError:
    field: str | None
    message: str
    code: str = "invalid"

    def as_json(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message, "code": self.code}


class Problem(Exception):
    """Raised by an endpoint; the API turns it into a problem-details response."""

    def __init__(
        self,
        status: int,
        *,
        type_: str = "about:blank",
        title: str | None = None,
        detail: str = "",
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title or HTTPStatus(status).phrase)
        self.status = status
        self.type = type_
        self.title = title or HTTPStatus(status).phrase
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


def problem_response(request: HttpRequest, problem: Problem) -> HttpResponse:
    body: dict[str, Any] = {
        "type": problem.type,
        "title": problem.title,
        "status": problem.status,
        "instance": request.path,
    }
    if problem.detail:
        body["detail"] = problem.detail
    if problem.errors is not None:
        body["errors"] = [error.as_json() for error in problem.errors]
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False), status=problem.status, content_type=CONTENT_TYPE
    )
    for name, value in problem.headers.items():
        response[name] = value
    return response


def field_path(loc: tuple[Any, ...] | list[Any]) -> str | None:
    """A pydantic location (``("body", "payload", "lines", 0, "name")``) as ``lines[0].name``."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        source = parts.pop(0)
        if source == "body" and parts:
            parts.pop(0)  # the endpoint's parameter name
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or None
