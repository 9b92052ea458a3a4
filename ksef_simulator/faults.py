"""Fault injection (simulator only): make the next N calls of an endpoint misbehave, or all of KSeF vanish.

Armed through the control API under ``/ksef-sim/control/`` (not part of KSeF's API; see
``ksef_simulator.api.control``) or with :func:`fault_arm` from Python:

- ``pattern``: the endpoint's ``name=`` from ``@api_view`` (``"sessions.online.open"``), a prefix
  (``"auth."``) or a shell glob (``"sessions.*.close"``); ``"*"`` matches every call.
- ``action``: ``"429"`` (with ``Retry-After: seconds``, default 1), ``"500"``, ``"503"``, ``"hang"`` (sleep
  ``seconds``, then answer normally: a client timeout) or ``"drop"`` (do the work, then answer 504 with an
  empty body, as a proxy would after losing the upstream's answer).
- ``count``: how many matching calls misbehave; the rule then disappears.

The "KSeF unavailable" switch (``SimulatorConfig.unavailable``) answers every API call with 503.
"""

from __future__ import annotations

import fnmatch
import math
import time

from django.db import transaction
from django.http import HttpRequest, HttpResponse

from ksef_simulator.conf import get_config
from ksef_simulator.models import FaultRule
from ksef_simulator.responses import ApiError, error_response, too_many_requests

_DROP_FLAG = "_ksef_sim_drop_response"
MAX_HANG_SECONDS = 600.0


def matches(pattern: str, endpoint: str) -> bool:
    return endpoint == pattern or endpoint.startswith(pattern) or fnmatch.fnmatchcase(endpoint, pattern)


def fault_arm(*, pattern: str, action: str, count: int = 1, seconds: float = 0) -> FaultRule:
    if action not in FaultRule.Action.values:
        raise ValueError(f"unknown action {action!r}")
    if count < 1 or not 0 <= seconds <= MAX_HANG_SECONDS:
        raise ValueError("count must be ≥ 1 and seconds within 0..600")
    return FaultRule.objects.create(pattern=pattern, action=action, remaining=count, seconds=seconds)


def faults_clear() -> int:
    deleted, _ = FaultRule.objects.all().delete()
    return deleted


def _take(endpoint: str) -> FaultRule | None:
    """Consume one use of the oldest rule matching the endpoint."""
    with transaction.atomic():
        for rule in FaultRule.objects.select_for_update().filter(remaining__gt=0).order_by("id"):
            if matches(rule.pattern, endpoint):
                if rule.remaining <= 1:
                    rule.delete()
                else:
                    FaultRule.objects.filter(pk=rule.pk).update(remaining=rule.remaining - 1)
                return rule
    return None


def before(request: HttpRequest, endpoint: str) -> HttpResponse | None:
    config = get_config()
    if config.unavailable:
        return error_response(request, ApiError(503, detail="Usługa KSeF jest chwilowo niedostępna."))
    if not config.faults_armed:
        return None
    rule = _take(endpoint)
    if rule is None:
        return None
    if rule.action == FaultRule.Action.TOO_MANY:
        retry_after = max(1, math.ceil(rule.seconds or 1))
        detail = f"Przekroczono limit żądań. Spróbuj ponownie po {retry_after} sekundach."
        return error_response(request, too_many_requests(retry_after, detail))
    if rule.action in (FaultRule.Action.ERROR, FaultRule.Action.UNAVAILABLE):
        status = int(rule.action)
        return error_response(request, ApiError(status, detail="Błąd wstrzyknięty przez symulator."))
    if rule.action == FaultRule.Action.HANG:
        time.sleep(rule.seconds)
    if rule.action == FaultRule.Action.DROP:
        setattr(request, _DROP_FLAG, True)
    return None


def after(request: HttpRequest, endpoint: str, response: HttpResponse) -> HttpResponse:
    if getattr(request, _DROP_FLAG, False):
        return HttpResponse(status=504, content=b"")
    return response
