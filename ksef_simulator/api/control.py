"""The simulator's own control API under ``/ksef-sim/control/`` (not KSeF's).

Open (no login, no CSRF token: scripts and the test suite drive it) only with DEBUG on or in the test suite;
when the simulator runs with DEBUG off (``KSEF_SIMULATOR_UNSAFE_IN_PRODUCTION``) it takes a logged-in staff
user and, for a POST or DELETE, Django's CSRF token: one cross-site form could otherwise arm a "hang" fault.
Scripts (the benches) send ``Authorization: Bearer`` with ``KSEF_SIMULATOR_CONTROL_TOKEN`` instead.

- ``GET /ksef-sim/control/config`` → the knobs; ``POST`` the same shape (any subset) to change them:
  ``{"unavailable": bool, "authDelayMs", "tokenActivationDelayMs", "invoiceProcessingDelayMs",
  "permanentStorageLagMs", "hwmLagMs", "certificateEnrollmentDelayMs": int,
  "rateLimitProfile": "default" | "off"}``.
- ``GET /ksef-sim/control/faults`` lists armed faults; ``POST`` arms one
  ``{"pattern": "sessions.online.*", "action": "429"|"500"|"503"|"hang"|"drop", "count": 1, "seconds": 0}``
  (see ``ksef_simulator.faults``); ``DELETE`` disarms all.
- ``POST /ksef-sim/control/reset`` restores the default knobs and disarms every fault.
- ``GET /ksef-sim/control/peppol-providers`` lists the registered Peppol providers; ``POST``
  ``{"id": "PPL123456", "name": "..."}`` registers one (what KSeF does at a provider's first login);
  ``DELETE`` forgets them all.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from dataclasses import asdict
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from ksef_simulator import faults, services_peppol
from ksef_simulator.conf import Config, config_reset, config_update, get_config
from ksef_simulator.models import FaultRule, SimulatorConfig

_MS_FIELDS = {
    "authDelayMs": "auth_delay",
    "tokenActivationDelayMs": "token_activation_delay",
    "permissionOperationDelayMs": "permission_operation_delay",
    "certificateEnrollmentDelayMs": "certificate_enrollment_delay",
    "invoiceProcessingDelayMs": "invoice_processing_delay",
    "permanentStorageLagMs": "permanent_storage_lag",
    "hwmLagMs": "hwm_lag",
}
_PROFILES = (SimulatorConfig.RateLimitProfile.DEFAULT, SimulatorConfig.RateLimitProfile.OFF)


View = Callable[[HttpRequest], HttpResponse]


def _bearer_matches(request: HttpRequest) -> bool:
    """A script's ``Authorization: Bearer <KSEF_SIMULATOR_CONTROL_TOKEN>`` (a browser cannot send this header
    cross-site without the server's consent, so it needs no CSRF token)."""
    token = settings.KSEF_SIMULATOR_CONTROL_TOKEN
    given = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def _control(view: View) -> View:
    """Open in development and tests; with DEBUG off, staff only and CSRF-protected (see the docstring)."""
    protected = csrf_protect(view)

    @wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        if settings.DEBUG or settings.TESTING or _bearer_matches(request):
            return view(request)
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_staff:
            return JsonResponse({"error": "the simulator's control API needs a staff user"}, status=403)
        return protected(request)

    return csrf_exempt(wrapper)


def _config_json(config: Config) -> dict[str, Any]:
    data = asdict(config)
    body: dict[str, Any] = {"unavailable": config.unavailable, "rateLimitProfile": config.rate_limit_profile}
    for key, name in _MS_FIELDS.items():
        body[key] = int(data[name].total_seconds() * 1000)
    return body


def _problem(message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=400)


def _json(request: HttpRequest) -> dict[str, Any] | None:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _changes(data: dict[str, Any]) -> dict[str, Any] | str:
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key in _MS_FIELDS:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                return f"{key} must be a non-negative integer"
            changes[_MS_FIELDS[key]] = value
        elif key == "unavailable" and isinstance(value, bool):
            changes["unavailable"] = value
        elif key == "rateLimitProfile" and value in _PROFILES:
            changes["rate_limit_profile"] = value
        else:
            return f"unknown or invalid setting {key!r}"
    return changes


@_control
@require_http_methods(["GET", "POST"])
def config(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return JsonResponse(_config_json(get_config()))
    data = _json(request)
    if data is None:
        return _problem("body must be a JSON object")
    changes = _changes(data)
    if isinstance(changes, str):
        return _problem(changes)
    return JsonResponse(_config_json(config_update(**changes)))


def _fault_json(rule: FaultRule) -> dict[str, Any]:
    return {
        "id": rule.pk,
        "pattern": rule.pattern,
        "action": rule.action,
        "remaining": rule.remaining,
        "seconds": rule.seconds,
    }


@_control
@require_http_methods(["GET", "POST", "DELETE"])
def fault_rules(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return JsonResponse({"faults": [_fault_json(r) for r in FaultRule.objects.all()]})
    if request.method == "DELETE":
        return JsonResponse({"deleted": faults.faults_clear()})
    data = _json(request)
    if data is None or not isinstance(data.get("pattern"), str) or not data["pattern"]:
        return _problem("pattern is required")
    try:
        rule = faults.fault_arm(
            pattern=data["pattern"],
            action=str(data.get("action", "")),
            count=int(data.get("count", 1)),
            seconds=float(data.get("seconds", 0)),
        )
    except (TypeError, ValueError) as exc:
        return _problem(str(exc))
    return JsonResponse(_fault_json(rule), status=201)


@_control
@require_http_methods(["POST"])
def reset(request: HttpRequest) -> HttpResponse:
    faults.faults_clear()
    return JsonResponse(_config_json(config_reset()))


@_control
@require_http_methods(["GET", "POST", "DELETE"])
def peppol_providers(request: HttpRequest) -> HttpResponse:
    if request.method == "DELETE":
        return JsonResponse({"deleted": services_peppol.providers_clear()})
    if request.method == "GET":
        rows = services_peppol.providers()
        return JsonResponse({"providers": [{"id": p.provider_id, "name": p.name} for p in rows]})
    data = _json(request)
    if data is None or not isinstance(data.get("id"), str) or not isinstance(data.get("name"), str):
        return _problem("id and name are required strings")
    try:
        provider = services_peppol.provider_register(provider_id=data["id"], name=data["name"])
    except services_peppol.PeppolError as exc:
        return _problem(str(exc))
    return JsonResponse({"id": provider.provider_id, "name": provider.name}, status=201)
