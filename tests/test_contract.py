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
