"""The ``NinjaAPI`` of ``/api/v1/``: key authentication with the per-key limit, problem details for every
error, and the endpoints (``integrations.api.endpoints``)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.docs import Swagger
from ninja.security import HttpBearer

from integrations.api import problems
from integrations.api.docs import DESCRIPTION
from integrations.api.endpoints import router
from integrations.api.keys import key_authenticate
from integrations.api.ratelimit import rate_take
from integrations.models import ApiKey


class KeyAuth(HttpBearer):
    """``Authorization: Bearer kp_…``; the key's company is the only one the request can see."""

    openapi_description = "An API key from Dane i ustawienia → Integracje."

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        key = key_authenticate(token)
        if key is None:
            return None
        allowance = rate_take(key_id=key.pk)
        request.rate_limit = allowance  # type: ignore[attr-defined]
        if not allowance.allowed:
            raise problems.Problem(
                429,
                type_=problems.RATE_LIMITED,
                title=_("Too many requests"),
                detail=_("This API key made more than %(limit)s requests in a minute.")
                % {"limit": allowance.limit},
                headers={"Retry-After": str(allowance.reset_seconds)},
            )
        return key


class PortalApi(NinjaAPI):
    def create_response(
        self,
        request: HttpRequest,
        data: Any,
        *,
        status: int | None = None,
        temporal_response: HttpResponse | None = None,
    ) -> HttpResponse:
        response = super().create_response(request, data, status=status, temporal_response=temporal_response)
        return with_rate_headers(request, response)


def with_rate_headers(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    allowance = getattr(request, "rate_limit", None)
    if allowance is not None:
        response["RateLimit-Limit"] = str(allowance.limit)
        response["RateLimit-Remaining"] = str(allowance.remaining)
        response["RateLimit-Reset"] = str(allowance.reset_seconds)
    return response


api = PortalApi(
    title="KSeF Portal API",
    version="1.0.0",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    auth=KeyAuth(),
    docs=Swagger(settings={"persistAuthorization": False}),
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def _problem(request: HttpRequest, exc: Any) -> HttpResponse:
    return with_rate_headers(request, problems.problem_response(request, exc))


def _validation(request: HttpRequest, exc: Any) -> HttpResponse:
    errors = [
        problems.FieldError(
            problems.field_path(error.get("loc", ())),
            str(error.get("msg", "")),
            str(error.get("type", "invalid")),
        )
        for error in exc.errors
    ]
    return _problem(
        request,
        problems.Problem(
            400,
            type_=problems.VALIDATION,
            title=_("The request is not valid"),
            detail=_("Correct the listed fields; nothing was saved."),
            errors=errors,
        ),
    )


def _authentication(request: HttpRequest, exc: Any) -> HttpResponse:
    problem = problems.Problem(
        401,
        detail=_("Send a valid API key: Authorization: Bearer kp_…"),
        headers={"WWW-Authenticate": 'Bearer realm="api"'},
    )
    return problems.problem_response(request, problem)


def _http_error(request: HttpRequest, exc: Any) -> HttpResponse:
    detail = str(exc) if exc.status_code == 400 else ""  # ninja's own 400s: an unreadable body
    return _problem(request, problems.Problem(exc.status_code, detail=detail))


def _not_found(request: HttpRequest, exc: Any) -> HttpResponse:
    return _problem(request, problems.Problem(404, detail=_("No such invoice in this company.")))


api.add_exception_handler(problems.Problem, _problem)
api.add_exception_handler(ValidationError, _validation)
api.add_exception_handler(AuthenticationError, _authentication)
api.add_exception_handler(HttpError, _http_error)
api.add_exception_handler(Http404, _not_found)

api.add_router("", router)
