"""The simulator's contract with the official OpenAPI 2.9.0 file, checked on every exchange of every test.

``ContractRecorderMiddleware`` (installed by tests/settings.py) records each request to the simulator's
API and its response; the autouse fixture in tests/conftest.py validates what a test produced when the
test ends: every JSON response against the response schema for its status, and every request body the
simulator *accepted* (2xx) against the request schema. Nothing is hand-picked.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from jsonschema import validators
from openapi_schema_validator import OAS30Validator

from tests.official import OPENAPI

SPEC_PATH = OPENAPI
API_PREFIXES = ("/ksef-sim/v2/", "/ksef-sim/api/v2/")
# Answers the spec does not describe but a faithful server gives: plumbing (405) and injected faults.
UNDESCRIBED_OK = {405, 500, 502, 503, 504}


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    request_type: str
    request_body: bytes
    status: int
    response_type: str
    response_body: bytes


_lock = threading.Lock()
RECORDS: list[Exchange] = []


class ContractRecorderMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIXES):
            return self.get_response(request)
        body = request.body  # read before the view consumes the stream
        response = self.get_response(request)
        content = b"" if response.streaming else response.content
        with _lock:
            RECORDS.append(
                Exchange(
                    method=request.method or "GET",
                    path=request.path,
                    request_type=request.content_type or "",
                    request_body=body,
                    status=response.status_code,
                    response_type=response.get("Content-Type", "").split(";")[0].strip(),
                    response_body=content,
                )
            )
        return response


def take_records() -> list[Exchange]:
    with _lock:
        taken = list(RECORDS)
        RECORDS.clear()
    return taken


def _nullable_refs(node: Any) -> Any:
    """OpenAPI 3.0 writes an optional object as ``{"allOf": [{"$ref": ...}], "nullable": true}``; the
    validator applies ``nullable`` only beside a ``type``, so such a property would refuse ``null``, which the
    spec allows. Rewritten as "the object, or null"."""
    if isinstance(node, list):
        return [_nullable_refs(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable_refs(value) for key, value in node.items()}
    if node.get("nullable") is True and "allOf" in node and "type" not in node:
        rest = {key: value for key, value in node.items() if key not in ("nullable", "allOf")}
        return {
            **rest,
            "anyOf": [{"allOf": node["allOf"]}, {"type": "object", "nullable": True, "enum": [None]}],
        }
    return node


@functools.cache
def _spec() -> dict[str, Any]:
    spec: dict[str, Any] = _nullable_refs(json.loads(SPEC_PATH.read_text(encoding="utf-8")))
    return spec


@functools.cache
def _routes() -> list[tuple[str, re.Pattern[str], str]]:
    routes = []
    for template in _spec()["paths"]:
        pattern = re.escape(template)
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern)
        routes.append((template, re.compile(f"^{pattern}$"), template))
    # Literal segments win over parameters (e.g. /auth/sessions before /auth/{referenceNumber}).
    routes.sort(key=lambda r: (r[0].count("{"), -len(r[0])))
    return routes


def _operation(method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    for prefix in API_PREFIXES:
        if path.startswith(prefix):
            relative = "/" + path[len(prefix) :]
            break
    else:
        return None
    for template, regex, _ in _routes():
        operation = _spec()["paths"][template].get(method.lower())
        if operation is not None and regex.match(relative):
            return template, operation
    return None


def _enum_ignoring_case(validator: Any, enums: Any, instance: Any, schema: Any) -> Any:
    """KSeF (ASP.NET) reads enum values in request bodies ignoring case (``pesel`` for ``Pesel``)."""
    if isinstance(instance, str) and any(
        isinstance(e, str) and e.casefold() == instance.casefold() for e in enums
    ):
        return
    yield from OAS30Validator.VALIDATORS["enum"](validator, enums, instance, schema)


# Requests the simulator accepted are judged as KSeF reads them; its answers keep the spec's spelling.
RequestValidator = validators.extend(OAS30Validator, {"enum": _enum_ignoring_case})


def _errors(schema: dict[str, Any], instance: Any, *, request: bool = False) -> list[str]:
    wrapped = {"allOf": [schema], "components": _spec()["components"]}
    kind = RequestValidator if request else OAS30Validator
    validator = kind(wrapped, format_checker=OAS30Validator.FORMAT_CHECKER)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}"
        for e in validator.iter_errors(instance)
    ]


_STANDARD = {
    401: "UnauthorizedProblemDetails",
    403: "ForbiddenProblemDetails",
    410: "GoneProblemDetails",
}


def violations(exchange: Exchange) -> list[str]:
    """What is wrong with one exchange, as readable lines (empty when it keeps the contract)."""
    where = f"{exchange.method} {exchange.path} → {exchange.status}"
    if exchange.status in UNDESCRIBED_OK:
        return []
    found = _operation(exchange.method, exchange.path)
    if found is None:
        return [f"{where}: no such operation in open-api-2.9.0.json"]
    template, operation = found
    problems: list[str] = []

    body_spec = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body_spec and 200 <= exchange.status < 300 and exchange.request_type == "application/json":
        try:
            payload = json.loads(exchange.request_body)
        except ValueError:
            problems.append(f"{where}: accepted a request body that is not JSON")
        else:
            problems += [
                f"{where}: accepted request {e}" for e in _errors(body_spec["schema"], payload, request=True)
            ]

    if exchange.status == 204:
        return problems
    described = operation["responses"].get(str(exchange.status))
    if described is None:
        if exchange.status in _STANDARD:
            schema: dict[str, Any] | None = {"$ref": f"#/components/schemas/{_STANDARD[exchange.status]}"}
        else:
            return [*problems, f"{where}: status {exchange.status} is not described for {template}"]
    else:
        content = described.get("content", {})
        if not content:
            return problems
        media = content.get(exchange.response_type)
        if media is None:
            return [*problems, f"{where}: content type {exchange.response_type!r} not in {sorted(content)}"]
        schema = media.get("schema")
    if schema is None or not exchange.response_type.endswith("json"):
        return problems
    try:
        payload = json.loads(exchange.response_body)
    except ValueError:
        return [*problems, f"{where}: response is not JSON"]
    return problems + [f"{where}: response {e}" for e in _errors(schema, payload)]
