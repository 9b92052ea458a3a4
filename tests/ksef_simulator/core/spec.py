"""Validate a simulator response against open-api-2.9.0.json by path template, method and status."""

from __future__ import annotations

import functools
import json
from typing import Any

from openapi_schema_validator import OAS30Validator

from tests.official import OPENAPI

SPEC = OPENAPI


@functools.cache
def spec() -> dict[str, Any]:
    return dict(json.loads(SPEC.read_text(encoding="utf-8")))


def _schema_errors(schema: dict[str, Any], instance: Any) -> list[str]:
    wrapped = {"allOf": [schema], "components": spec()["components"]}
    validator = OAS30Validator(wrapped, format_checker=OAS30Validator.FORMAT_CHECKER)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator.iter_errors(instance)
    ]


def assert_response_matches(response: Any, method: str, template: str) -> Any:
    """The response's JSON after checking it against the schema the spec gives for its status."""
    operation = spec()["paths"][template][method.lower()]
    described = operation["responses"].get(str(response.status_code))
    assert described is not None, f"{method} {template}: status {response.status_code} not in the spec"
    content_type = (
        response["Content-Type"].split(";")[0].strip() if response.has_header("Content-Type") else ""
    )
    content = described.get("content")
    if not content:
        return None
    assert content_type in content, f"{content_type} not among {sorted(content)}"
    payload = json.loads(response.content)
    errors = _schema_errors(content[content_type]["schema"], payload)
    assert not errors, f"{method} {template} → {response.status_code}: {errors}"
    return payload


def assert_request_matches(body: Any, method: str, template: str) -> None:
    operation = spec()["paths"][template][method.lower()]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    errors = _schema_errors(schema, body)
    assert not errors, errors
