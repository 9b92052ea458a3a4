"""Limits: ``GET /rate-limits``, ``GET /limits/context``, ``GET /limits/subject`` and TEST's overrides
under ``/testdata/rate-limits`` and ``/testdata/limits/...`` (all for the caller's context)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from ksef_simulator import limits, security
from ksef_simulator.http import api_view, json_object
from ksef_simulator.schemas_core import validate_request


@api_view("GET", name="limits.rate-limits")
def rate_limits(request: HttpRequest) -> HttpResponse:
    principal = security.principal_from_request(request)
    return JsonResponse(limits.effective_rate_limits(principal.context_type, principal.context_value))


@api_view("GET", name="limits.context")
def context(request: HttpRequest) -> HttpResponse:
    principal = security.principal_from_request(request)
    return JsonResponse(
        limits.context_limits(context_type=principal.context_type, context_value=principal.context_value)
    )


@api_view("GET", name="limits.subject")
def subject(request: HttpRequest) -> HttpResponse:
    principal = security.principal_from_request(request)
    return JsonResponse(
        limits.subject_limits(subject_type=principal.subject_type, subject_value=principal.subject_value)
    )


@api_view("POST", "DELETE", name="testdata.rate-limits")
def testdata_rate_limits(request: HttpRequest) -> HttpResponse:
    principal = security.principal_from_request(request)
    where = {"context_type": principal.context_type, "context_value": principal.context_value}
    if request.method == "DELETE":
        limits.rate_limits_reset(**where)
        return HttpResponse(status=200)
    body = json_object(request)
    validate_request("POST /testdata/rate-limits", body)
    limits.rate_limits_set(**where, limits=body["rateLimits"])
    return HttpResponse(status=200)


@api_view("POST", name="testdata.rate-limits.production")
def testdata_rate_limits_production(request: HttpRequest) -> HttpResponse:
    principal = security.principal_from_request(request)
    limits.rate_limits_set(
        context_type=principal.context_type,
        context_value=principal.context_value,
        limits={group: dict(values) for group, values in limits.PRODUCTION_LIMITS.items()},
    )
    return HttpResponse(status=200)


@api_view("POST", "DELETE", name="testdata.limits.context.session")
def testdata_session_limits(request: HttpRequest) -> HttpResponse:
    principal = security.principal_from_request(request)
    values = None
    if request.method == "POST":
        values = json_object(request)
        validate_request("POST /testdata/limits/context/session", values)
    limits.limits_override(
        kind="session",
        context_type=principal.context_type,
        context_value=principal.context_value,
        values=values,
    )
    return HttpResponse(status=200)


@api_view("POST", "DELETE", name="testdata.limits.subject.certificate")
def testdata_subject_limits(request: HttpRequest) -> HttpResponse:
    principal = security.principal_from_request(request)
    values = None
    if request.method == "POST":
        body = json_object(request)
        validate_request("POST /testdata/limits/subject/certificate", body)
        values = {name: body[name] for name in ("enrollment", "certificate") if body.get(name) is not None}
    limits.limits_override(
        kind="subject",
        context_type=principal.subject_type,
        context_value=principal.subject_value,
        values=values,
    )
    return HttpResponse(status=200)
