"""The HTTP wrapper's handling of odd replies: every failure lands on the right error."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
import requests
import responses

from ksef_integration.ksef.errors import (
    KsefError,
    KsefForbidden,
    KsefGone,
    KsefNotFound,
    KsefNotYetAvailable,
    KsefRateLimited,
    KsefRejected,
    KsefTransientError,
    KsefUnauthorized,
    KsefUnknownKey,
)
from ksef_integration.ksef.http import DEFAULT_RETRY_AFTER, KsefHttp, retry_after_seconds
from ksef_integration.ksef.secret import Secret
from tests.ksef_integration.ksef.conftest import BASE

LEGACY_400 = {
    "exception": {
        "exceptionDetailList": [
            {
                "exceptionCode": 21405,
                "exceptionDescription": "Błąd walidacji danych wejściowych.",
                "details": ["Wskazany kod formularza nie jest wspierany."],
            }
        ],
        "referenceNumber": "a1b2c3d4-e5f6-4789-ab12-cd34ef567890",
        "serviceCode": "00-c02cc3747020c605be02159bf3324f0e-eee7647dc67aa74a-00",
        "serviceCtx": "srvABCDA",
        "serviceName": "Undefined",
        "timestamp": "2025-10-11T12:23:56.0154302",
    }
}
PROBLEM_400 = {
    "title": "Bad Request",
    "status": 400,
    "instance": "/v2/sessions/batch",
    "detail": "Żądanie jest nieprawidłowe.",
    "errors": [
        {
            "code": 21157,
            "description": "Nieprawidłowy rozmiar części pakietu.",
            "details": ["Część 1 za duża."],
        },
        {"code": 21405, "description": "Błąd walidacji danych wejściowych.", "details": ["Zły kod."]},
    ],
    "timestamp": "2025-07-11T12:23:56.0154302+00:00",
    "traceId": "673843e023c432286660bc0501a3af44",
}


@pytest.fixture
def http() -> KsefHttp:
    return KsefHttp(base_url=BASE)


def test_json_reply_is_decoded_with_unknown_fields_kept_harmless(
    mocked: responses.RequestsMock, http: KsefHttp
):
    mocked.get(f"{BASE}/thing", json={"amount": 12.34, "brandNewField": [1, 2]})
    data = http.call("GET", "/thing")
    assert data["amount"] == Decimal("12.34")


def test_every_call_has_a_timeout(http: KsefHttp, monkeypatch: pytest.MonkeyPatch):
    seen: dict[str, object] = {}

    def fake_request(method: str, url: str, **kwargs: object) -> requests.Response:
        seen.update(kwargs)
        response = requests.Response()
        response.status_code = 204
        response._content = b""
        return response

    monkeypatch.setattr(http.session, "request", fake_request)
    http.call("POST", "/anything", expect=(204,))
    assert seen["timeout"] == (5.0, 30.0)
    assert seen["allow_redirects"] is False


def test_bearer_header_is_sent_only_when_asked(mocked: responses.RequestsMock, http: KsefHttp):
    mocked.get(f"{BASE}/private", json={})
    mocked.get(f"{BASE}/public", json={})
    http.call("GET", "/private", bearer=Secret("jwt-access-token-1234"))
    http.call("GET", "/public")
    assert mocked.calls[0].request.headers["Authorization"] == "Bearer jwt-access-token-1234"
    assert "Authorization" not in mocked.calls[1].request.headers


def test_json_body_is_sent_as_json(mocked: responses.RequestsMock, http: KsefHttp):
    mocked.post(f"{BASE}/echo", json={"ok": True})
    http.call("POST", "/echo", json_body={"amount": Decimal("1.10"), "name": "Łódź"})
    request = mocked.calls[0].request
    assert request.headers["Content-Type"] == "application/json"
    assert request.body == '{"amount": "1.10", "name": "Łódź"}'.encode()


def test_429_carries_retry_after(mocked: responses.RequestsMock, http: KsefHttp):
    mocked.post(
        f"{BASE}/invoices/exports",
        status=429,
        headers={"Retry-After": "30"},
        json={
            "status": {
                "code": 429,
                "description": "Too Many Requests",
                "details": ["Przekroczono limit 20 żądań na minutę. Spróbuj ponownie po 30 sekundach."],
            }
        },
    )
    with pytest.raises(KsefRateLimited) as caught:
        http.call("POST", "/invoices/exports", json_body={})
    assert caught.value.retry_after == 30
    assert "30 sekundach" in caught.value.details[0]
    assert isinstance(caught.value, KsefTransientError)


def test_429_without_retry_after_gets_a_default(mocked: responses.RequestsMock, http: KsefHttp):
    mocked.get(f"{BASE}/x", status=429, body="")
    with pytest.raises(KsefRateLimited) as caught:
        http.call("GET", "/x")
    assert caught.value.retry_after == DEFAULT_RETRY_AFTER


@pytest.mark.parametrize(
    ("header", "expected"), [("0", 0), ("120", 120), (" 7 ", 7), ("soon", DEFAULT_RETRY_AFTER)]
)
def test_retry_after_parsing(header: str, expected: int):
    assert retry_after_seconds(header) == expected


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_transient(mocked: responses.RequestsMock, http: KsefHttp, status: int):
    mocked.post(f"{BASE}/sessions/online", status=status, body="<html>gateway</html>")
    with pytest.raises(KsefTransientError) as caught:
        http.call("POST", "/sessions/online", json_body={})
    assert caught.value.status == status


def test_5xx_post_is_not_retried(mocked: responses.RequestsMock, http: KsefHttp):
    mocked.post(f"{BASE}/sessions/online/x/invoices", status=503)
    with pytest.raises(KsefTransientError):
        http.call("POST", "/sessions/online/x/invoices", json_body={})
    assert len(mocked.calls) == 1


def test_timeout_and_connection_errors_are_transient(mocked: responses.RequestsMock, http: KsefHttp):
    mocked.get(f"{BASE}/slow", body=requests.ReadTimeout("read timed out"))
    mocked.get(f"{BASE}/down", body=requests.ConnectionError("refused"))
    with pytest.raises(KsefTransientError, match="did not answer in time"):
        http.call("GET", "/slow")
    with pytest.raises(KsefTransientError, match="cannot reach KSeF"):
        http.call("GET", "/down")


def test_malformed_json_is_a_transient_protocol_error(mocked: responses.RequestsMock, http: KsefHttp):
    mocked.get(f"{BASE}/broken", body=b'{"status": {"code": 2', content_type="application/json")
    with pytest.raises(KsefTransientError, match="malformed JSON"):
        http.call("GET", "/broken")


def test_410_is_gone(mocked: responses.RequestsMock, http: KsefHttp):
    mocked.get(
        f"{BASE}/auth/20261101-AU-0000000000-0000000000-00",
        status=410,
        content_type="application/problem+json",
        json={
            "title": "Gone",
            "status": 410,
            "detail": "Operacja wygasła i nie jest już dostępna.",
            "instance": "x",
        },
    )
    with pytest.raises(KsefGone, match="wygasła"):
        http.call("GET", "/auth/20261101-AU-0000000000-0000000000-00")


def test_legacy_exception_format(mocked: responses.RequestsMock, http: KsefHttp):
    mocked.post(f"{BASE}/sessions/online", status=400, json=LEGACY_400)
    with pytest.raises(KsefRejected) as caught:
        http.call("POST", "/sessions/online", json_body={})
    assert caught.value.code == 21405
    assert caught.value.details == ["Wskazany kod formularza nie jest wspierany."]
    assert "21405" in str(caught.value)


def test_problem_details_format_lists_every_error(mocked: responses.RequestsMock, http: KsefHttp):
    mocked.post(
        f"{BASE}/sessions/batch", status=400, json=PROBLEM_400, content_type="application/problem+json"
    )
    with pytest.raises(KsefRejected) as caught:
        http.call("POST", "/sessions/batch", json_body={})
    assert caught.value.code == 21157
    assert [e.code for e in caught.value.errors] == [21157, 21405]
    assert caught.value.details == ["Część 1 za duża.", "Zły kod."]


def test_problem_details_header_is_opt_in(mocked: responses.RequestsMock):
    mocked.get(f"{BASE}/a", json={})
    KsefHttp(base_url=BASE, problem_details=True).call("GET", "/a")
    KsefHttp(base_url=BASE).call("GET", "/a")
    assert mocked.calls[0].request.headers["X-Error-Format"] == "problem-details"
    assert "X-Error-Format" not in mocked.calls[1].request.headers


@pytest.mark.parametrize("problem", [False, True])
def test_21470_is_unknown_key_in_both_formats(mocked: responses.RequestsMock, http: KsefHttp, problem: bool):
    error = {"code": 21470, "description": "Przesłany identyfikator klucza jest nieznany.", "details": []}
    reply = (
        {"title": "Bad Request", "status": 400, "errors": [error]}
        if problem
        else {"exception": {"exceptionDetailList": [{"exceptionCode": 21470, "exceptionDescription": "x"}]}}
    )
    mocked.post(f"{BASE}/invoices/exports", status=400, json=reply)
    with pytest.raises(KsefUnknownKey):
        http.call("POST", "/invoices/exports", json_body={})


@pytest.mark.parametrize(
    ("code", "error"),
    [(21164, KsefNotFound), (21173, KsefNotFound), (21165, KsefNotYetAvailable), (21155, KsefRejected)],
)
def test_specific_exception_codes(
    mocked: responses.RequestsMock, http: KsefHttp, code: int, error: type[KsefError]
):
    mocked.get(
        f"{BASE}/invoices/ksef/X",
        status=400,
        json={"exception": {"exceptionDetailList": [{"exceptionCode": code, "exceptionDescription": "d"}]}},
    )
    with pytest.raises(error):
        http.call("GET", "/invoices/ksef/X")


def test_401_and_403(mocked: responses.RequestsMock, http: KsefHttp):
    mocked.get(
        f"{BASE}/a", status=401, json={"title": "Unauthorized", "status": 401, "detail": "Token wygasł."}
    )
    mocked.get(
        f"{BASE}/b",
        status=403,
        json={
            "title": "Forbidden",
            "status": 403,
            "detail": "Brak uprawnień.",
            "reasonCode": "missing-permissions",
            "security": {"requiredAnyOfPermissions": ["InvoiceRead"], "presentPermissions": ["InvoiceWrite"]},
        },
    )
    with pytest.raises(KsefUnauthorized) as unauthorized:
        http.call("GET", "/a")
    assert unauthorized.value.code == 401
    with pytest.raises(KsefForbidden) as forbidden:
        http.call("GET", "/b")
    assert forbidden.value.reason_code == "missing-permissions"
    assert forbidden.value.required_permissions == ["InvoiceRead"]
    assert "InvoiceRead" in forbidden.value.message_pl
    assert "InvoiceRead" in forbidden.value.message_en


def test_404_without_body(mocked: responses.RequestsMock, http: KsefHttp):
    mocked.get(f"{BASE}/nothing", status=404)
    with pytest.raises(KsefNotFound):
        http.call("GET", "/nothing")


def test_system_warning_is_logged(
    mocked: responses.RequestsMock, http: KsefHttp, caplog: pytest.LogCaptureFixture
):
    mocked.get(
        f"{BASE}/sessions/x",
        json={},
        headers={"X-System-Warning": "[W001]: Planowana przerwa techniczna | [W002]: Inne"},
    )
    with caplog.at_level(logging.WARNING, logger="ksef"):
        http.call("GET", "/sessions/x")
    assert any("[W001]: Planowana przerwa techniczna" in r.getMessage() for r in caplog.records)
    assert all(r.name == "ksef" for r in caplog.records)


def test_external_urls_get_no_authorization_and_exact_headers(mocked: responses.RequestsMock, http: KsefHttp):
    url = "https://storage.example.test/part/1?sig=SIGNATURE123&se=2026"
    mocked.put(url, status=201)
    http.external("PUT", url, data=b"bytes", headers={"x-ms-blob-type": "BlockBlob"})
    request = mocked.calls[0].request
    assert "Authorization" not in request.headers
    assert request.headers["x-ms-blob-type"] == "BlockBlob"
    assert request.body == b"bytes"


def test_external_url_signature_never_logged(
    mocked: responses.RequestsMock, http: KsefHttp, caplog: pytest.LogCaptureFixture
):
    url = "https://storage.example.test/upo?sig=SIGNATURE123"
    mocked.get(url, status=503, headers={"X-System-Warning": "[X]: y"})
    with caplog.at_level(logging.DEBUG, logger="ksef"), pytest.raises(KsefTransientError) as caught:
        http.external("GET", url)
    assert "SIGNATURE123" not in caplog.text
    assert "SIGNATURE123" not in str(caught.value)
