"""Validate request and response bodies against open-api-2.9.0.json, with $ref resolution."""

from __future__ import annotations

import functools
import json
from typing import Any

from openapi_schema_validator import OAS30Validator

from tests.official import OPENAPI

SPEC = OPENAPI


@functools.cache
def spec() -> dict[str, Any]:
    return json.loads(SPEC.read_text(encoding="utf-8"))


def errors(schema_name: str, instance: Any) -> list[str]:
    wrapped = {"allOf": [{"$ref": f"#/components/schemas/{schema_name}"}], "components": spec()["components"]}
    validator = OAS30Validator(wrapped, format_checker=OAS30Validator.FORMAT_CHECKER)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator.iter_errors(instance)
    ]


def assert_valid(schema_name: str, instance: Any) -> None:
    problems = errors(schema_name, instance)
    assert not problems, f"{schema_name}: {problems}"
