"""The shared plumbing: IDs with CRC-8, keys served per usage, error formats."""

import base64
import datetime as dt
import hashlib
import json
import re
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import given
from hypothesis import strategies as st

from ksef_simulator import ids
from ksef_simulator.schemas_core import SCHEMAS_DIR
from tests.official import OPENAPI

pytestmark = pytest.mark.django_db


def test_documented_examples_verify() -> None:
    assert ids.ksef_number_is_valid("5265877635-20250826-0100001AF629-AF")
    assert ids.reference_number_is_valid("20250514-CR-226FB7B000-3ACF9BE4C0-10")
    assert not ids.ksef_number_is_valid("5265877635-20250826-0100001AF629-AE")


@given(
    st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2099, 12, 31)),
    st.sampled_from(["SO", "EE", "AU"]),
)
def test_minted_numbers_carry_a_valid_checksum(day: dt.date, kind: str) -> None:
    number = ids.ksef_number("5265877635", day)
    assert len(number) == 35
    assert ids.ksef_number_is_valid(number)
    reference = ids.reference_number(kind, dt.datetime.combine(day, dt.time(), dt.UTC))
    assert len(reference) == 36
    assert ids.reference_number_is_valid(reference)


def test_public_keys_one_per_usage_with_correct_ids(client: Any) -> None:
    response = client.get("/ksef-sim/v2/security/public-key-certificates")
    assert response.status_code == 200
    items = response.json()
    assert sorted(u for item in items for u in item["usage"]) == [
        "KsefTokenEncryption",
        "SymmetricKeyEncryption",
    ]
    for item in items:
        der = base64.b64decode(item["certificate"])
        cert = x509.load_der_x509_certificate(der)
        spki = cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert item["certificateId"] == base64.b64encode(hashlib.sha256(der).digest()).decode()
        assert item["publicKeyId"] == base64.b64encode(hashlib.sha256(spki).digest()).decode()
        assert 0 < cert.serial_number < 2**64  # 16 hex digits like KSeF's, not ~40
    # Stable across calls (and restarts: they live in the database).
    assert client.get("/ksef-sim/v2/security/public-key-certificates").json() == items


def test_wrong_method_is_405_in_the_problem_format(client: Any) -> None:
    response = client.post(
        "/ksef-sim/v2/security/public-key-certificates", HTTP_X_ERROR_FORMAT="problem-details"
    )
    assert response.status_code == 405
    assert response["Content-Type"] == "application/problem+json"


def test_legacy_error_carries_a_w3c_traceparent_as_service_code(client: Any) -> None:
    """Like the spec's ExceptionResponse example: ``00-<32 hex trace>-<16 hex span>-00``, new per answer."""
    codes = set()
    for _ in range(2):
        response = client.post("/ksef-sim/v2/security/public-key-certificates")
        assert response.status_code == 405
        exception = response.json()["exception"]
        assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-00", exception["serviceCode"])
        assert len(exception["referenceNumber"]) == 36
        codes.add(exception["serviceCode"])
    assert len(codes) == 2


def test_the_request_schemas_are_the_official_ones() -> None:
    """``schemas/openapi-2.9.0-core-requests.json`` is an extract of the official file: every request schema
    and component in it equals the spec's, descriptions and examples removed."""
    spec = json.loads(OPENAPI.read_text(encoding="utf-8"))
    extract = json.loads((SCHEMAS_DIR / "openapi-2.9.0-core-requests.json").read_text(encoding="utf-8"))

    def bare(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: bare(v)
                for k, v in node.items()
                if not (k in ("description", "example", "title") and isinstance(v, str)) and k != "example"
            }
        return [bare(v) for v in node] if isinstance(node, list) else node

    for operation, schema in extract["requests"].items():
        method, path = operation.split(" ", 1)
        official = spec["paths"][path][method.lower()]["requestBody"]["content"]["application/json"]["schema"]
        assert bare(official) == schema, operation
    for name, schema in extract["components"].items():
        assert bare(spec["components"]["schemas"][name]) == schema, name
    assert len(extract["requests"]) >= 37
