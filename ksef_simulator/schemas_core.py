"""Request-body validation against the official schemas: the auth XSDs in ``vendor/ksef-docs`` and
``ksef_simulator/schemas/openapi-2.9.0-core-requests.json``, an extract of the official OpenAPI file (the
request schemas of the auth, token, limit and test-data operations). The
validator covers the subset of OpenAPI 3.0 those schemas use and reports in the style of KSeF's 21405.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import re
from pathlib import Path
from typing import Any

from django.conf import settings
from lxml import etree

from ksef_simulator.paging import enum_spelling
from ksef_simulator.responses import validation_error

SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"
AUTH_NAMESPACES = {
    "http://ksef.mf.gov.pl/auth/token/2.0": "schemat_auth_v2-0.xsd",
    "http://ksef.mf.gov.pl/auth/token/2.1": "schemat_auth_v2-1.xsd",
}


@functools.cache
def _document() -> dict[str, Any]:
    text = (SCHEMAS_DIR / "openapi-2.9.0-core-requests.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


# The 2.0 XSD's IP patterns are not valid XSD regular expressions (``\\b``, PCRE-style ``^...$``), so lxml
# cannot compile it. Namespace 2.1 differs from 2.0 only by fixing those patterns, so 2.0 documents are
# checked with the 2.1 schema moved to the 2.0 namespace. Both official files are kept verbatim.
@functools.cache
def auth_xsd(namespace: str) -> etree.XMLSchema:
    """The official AuthTokenRequest XSD for a namespace (KeyError for an unknown one)."""
    AUTH_NAMESPACES[namespace]
    latest = "http://ksef.mf.gov.pl/auth/token/2.1"
    xsd = Path(settings.KSEF_DOCS_DIR) / "auth" / "schemy" / AUTH_NAMESPACES[latest]
    text = xsd.read_text(encoding="utf-8").replace(latest, namespace)
    # The NipVatUe and PeppolId patterns end (and start) with PCRE anchors, which XSD reads as literal
    # characters, so no value could match; KSeF's .NET validator reads them as anchors. XSD patterns are
    # anchored anyway, so dropping them keeps the intended meaning.
    text = re.sub(r'(pattern value=")\^?([^"]*?)\$(")', r"\1\2\3", text)
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.fromstring(text.encode(), parser))


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = _document()["components"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _is_type(value: Any, expected: str) -> bool:
    checks: dict[str, Any] = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "boolean": lambda v: isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    }
    return bool(checks.get(expected, lambda v: True)(value))


def _format_ok(value: str, fmt: str | None) -> bool:
    try:
        if fmt == "byte":
            base64.b64decode(value, validate=True)
        elif fmt == "date-time":
            dt.datetime.fromisoformat(value)
        elif fmt == "date":
            dt.date.fromisoformat(value)
    except (ValueError, binascii.Error):
        return False
    return True


def _check_string(schema: dict[str, Any], value: str, where: str) -> list[str]:
    errors = []
    if "minLength" in schema and len(value) < schema["minLength"]:
        errors.append(f"{where}: minimalna długość to {schema['minLength']}.")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append(f"{where}: maksymalna długość to {schema['maxLength']}.")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{where}: wartość nie pasuje do wzorca {schema['pattern']}.")
    if not _format_ok(value, schema.get("format")):
        errors.append(f"{where}: nieprawidłowy format ({schema.get('format')}).")
    return errors


def _enum(schema: dict[str, Any]) -> list[str] | None:
    """The enum a (possibly ``allOf``-wrapped) schema restricts a string to, if any."""
    schema = _resolve(schema)
    if "enum" in schema:
        return [str(choice) for choice in schema["enum"]]
    for part in schema.get("allOf", []):
        found = _enum(part)
        if found is not None:
            return found
    return None


def _spelled(schema: dict[str, Any], value: Any) -> Any:
    """An enum value in its spec spelling when it matches ignoring case (``nip`` → ``Nip``), as KSeF's
    JSON reader accepts it; anything else unchanged (and judged by the schema)."""
    if not isinstance(value, str):
        return value
    choices = _enum(schema)
    return enum_spelling(value, choices) or value if choices else value


def _errors(schema: dict[str, Any], value: Any, where: str) -> list[str]:
    schema = _resolve(schema)
    if value is None:
        return [] if schema.get("nullable") else [f"{where}: wartość nie może być pusta."]
    errors: list[str] = []
    for part in schema.get("allOf", []):
        errors += _errors(part, value, where)
    expected = schema.get("type")
    if expected and not _is_type(value, expected):
        return [*errors, f"{where}: oczekiwano typu {expected}."]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: dozwolone wartości to {', '.join(map(str, schema['enum']))}.")
    if isinstance(value, str):
        errors += _check_string(schema, value, where)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: minimalna wartość to {schema['minimum']}.")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: maksymalna wartość to {schema['maximum']}.")
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{where}: maksymalna liczba elementów to {schema['maxItems']}.")
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{where}: minimalna liczba elementów to {schema['minItems']}.")
        for index, item in enumerate(value):
            value[index] = _spelled(schema.get("items", {}), item)
            errors += _errors(schema.get("items", {}), value[index], f"{where}[{index}]")
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{where}.{name}: pole jest wymagane.".lstrip("."))
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                value[name] = _spelled(sub, value[name])
                errors += _errors(sub, value[name], f"{where}.{name}".lstrip("."))
    return errors


def request_errors(operation: str, body: Any) -> list[str]:
    """What is wrong with a request body for ``"POST /tokens"`` and the like (empty when valid). Enum
    values matched ignoring case are rewritten in ``body`` to the spec's spelling, so callers read them
    as the spec spells them."""
    return _errors(_document()["requests"][operation], body, "")


def validate_request(operation: str, body: Any) -> None:
    """Raise 21405 listing every problem of the body against the official request schema (enum values
    in the body are put in the spec's spelling, see ``request_errors``)."""
    errors = request_errors(operation, body)
    if errors:
        raise validation_error(*errors)
