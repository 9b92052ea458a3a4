"""The contract checker itself: it must catch what it is there to catch."""

import json

from tests.contract import Exchange, violations


def _exchange(method: str, path: str, status: int, body: object, request: object = None) -> Exchange:
    return Exchange(
        method=method,
        path=path,
        request_type="application/json",
        request_body=json.dumps(request).encode() if request is not None else b"",
        status=status,
        response_type="application/json",
        response_body=json.dumps(body).encode(),
    )


def test_a_response_missing_required_fields_is_caught() -> None:
    bad = _exchange("POST", "/ksef-sim/v2/auth/challenge", 200, {"challenge": "x"})
    assert any("timestamp" in line for line in violations(bad))


def test_a_valid_response_passes() -> None:
    good = _exchange(
        "POST",
        "/ksef-sim/v2/auth/challenge",
        200,
        {
            "challenge": "20250514-CR-226FB7B000-3ACF9BE4C0-10",
            "timestamp": "2025-07-11T12:23:56.0154302+00:00",
            "timestampMs": 1752236636015,
            "clientIp": "127.0.0.1",
        },
    )
    assert violations(good) == []


def test_an_accepted_invalid_request_body_is_caught() -> None:
    accepted = _exchange(
        "POST", "/ksef-sim/v2/sessions/online", 201, {"referenceNumber": "x"}, request={"formCode": 1}
    )
    assert any("accepted request" in line for line in violations(accepted))


def test_undescribed_status_and_unknown_paths_are_caught() -> None:
    assert violations(_exchange("GET", "/ksef-sim/v2/no/such/thing", 200, {}))
    teapot = _exchange("POST", "/ksef-sim/v2/auth/challenge", 418, {})
    assert any("not described" in line for line in violations(teapot))


def test_certificate_operations_are_checked_too() -> None:
    status = {
        "requestDate": "2026-12-05T10:00:00.0000000+00:00",
        "status": {"code": 200, "description": "ok"},
    }
    path = "/ksef-sim/v2/certificates/enrollments/20261205-CE-0000000000-0000000000-00"
    assert (
        violations(_exchange("GET", path, 200, {**status, "certificateSerialNumber": "01F20A5D352AE590"}))
        == []
    )
    short_serial = _exchange("GET", path, 200, {**status, "certificateSerialNumber": "1F20A5D352AE590"})
    assert any("certificateSerialNumber" in line for line in violations(short_serial))
    query = _exchange("POST", "/ksef-sim/v2/certificates/query", 200, {"certificates": [{"name": "x"}]}, {})
    assert any("hasMore" in line for line in violations(query))
    path = "/ksef-sim/v2/testdata/certificates/01F20A5D352AE590"
    assert violations(_exchange("PUT", path, 200, None, {"validTo": "2026-12-05T10:00:00+00:00"})) == []
    assert any("validTo" in line for line in violations(_exchange("PUT", path, 200, None, {})))
