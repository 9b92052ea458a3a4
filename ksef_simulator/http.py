"""The request pipeline of every simulator endpoint: JSON in, the hooks around the call.

``@api_view("POST", name="sessions.online.open")`` wraps a view so that it:
- answers only the given methods, is CSRF-exempt (an API, authenticated by bearer tokens);
- runs ``hooks.before_request`` first (fault injection, "KSeF unavailable", rate limits) and
  ``hooks.after_response`` last (e.g. drop the response after the work was done);
- renders ``ApiError`` with ``responses.error_response`` (the spec's two error formats);
- echoes ``X-Test-System-Warning`` as ``X-System-Warning`` like the TEST environment.

The answers themselves (errors, time style) live in the leaf module ``ksef_simulator.responses``, which
the hooks use too; nothing the hooks import may import this module.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ksef_simulator import hooks
from ksef_simulator.conf import config_scope
from ksef_simulator.responses import ApiError, error_response, validation_error

View = Callable[..., HttpResponse]


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
        wrapper.ksef_methods = frozenset(allowed)  # type: ignore[attr-defined]
        return wrapper

    return decorator
