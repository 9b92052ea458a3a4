"""Security headers on representative responses of each kind: HTML pages (also error pages), a PDF, the
JSON health check. (check --deploy with production settings: tests/ksefportal/test_settings.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from csp.constants import NONCE, SELF
from csp.decorators import csp_exempt, csp_update
from csp.exceptions import CSPNonceError
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from django.http import HttpResponse, HttpResponseBase
from django.test import Client, RequestFactory, override_settings

from accounts.models import Company
from ksefportal.middleware import CSPMiddleware
from tests.invoices.factories import invoice_make

pytestmark = pytest.mark.django_db

COMMON = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _assert_headers(response: Any, label: str) -> None:
    for header, value in COMMON.items():
        assert response.get(header) == value, (label, header, response.get(header))
    csp = response.get("Content-Security-Policy", "")
    directives = dict([*d.strip().split(" ", 1), ""][:2] for d in csp.split(";") if d.strip())
    assert directives.get("default-src") == "'self'", (label, csp)
    assert directives.get("script-src") == "'self'", (label, csp)
    assert directives.get("frame-ancestors") == "'none'", (label, csp)
    assert directives.get("object-src") == "'none'", (label, csp)
    assert directives.get("form-action") == "'self'", (label, csp)
    assert "unsafe-inline" not in csp, (label, csp)
    assert "unsafe-eval" not in csp, (label, csp)


def test_html_pdf_and_json_responses_carry_the_headers(alice_client: Any, company_a: Company) -> None:
    invoice = invoice_make(company_a)
    responses = {
        "Start (HTML)": alice_client.get("/"),
        "Dokumenty (HTML)": alice_client.get("/dokumenty/"),
        "invoice (HTML)": alice_client.get(f"/dokumenty/{invoice.uuid}/"),
        "KSeF settings (HTML)": alice_client.get("/ustawienia/ksef/"),
        "PDF": alice_client.get(f"/dokumenty/{invoice.uuid}/pdf/"),
        "healthz (JSON)": Client().get("/healthz"),
        "login (HTML, anonymous)": Client().get("/logowanie/"),
        "404": alice_client.get("/nie-ma-takiej-strony/"),
        "403 (CSRF)": Client(enforce_csrf_checks=True).post("/logowanie/", {}),
    }
    assert responses["PDF"]["Content-Type"] == "application/pdf"
    assert responses["healthz (JSON)"]["Content-Type"].startswith("application/json")
    assert responses["404"].status_code == 404
    assert responses["403 (CSRF)"].status_code == 403
    for label, response in responses.items():
        assert response.status_code in (200, 403, 404), label
        _assert_headers(response, label)


def test_the_lockout_page_carries_them_too(client: Client, alice: Any) -> None:
    for _ in range(5):
        response = client.post("/logowanie/", {"username": "alice@example.com", "password": "nie-to-haslo"})
    assert response.status_code == 429
    _assert_headers(response, "lockout (429)")


def test_session_and_csrf_cookies_are_httponly_and_samesite(client: Client, alice: Any) -> None:
    from tests.conftest import PASSWORD

    client.get("/logowanie/")
    response = client.post("/logowanie/", {"username": "alice@example.com", "password": PASSWORD})
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert session["httponly"]
    assert session["samesite"] == "Lax"
    assert client.cookies["csrftoken"]["samesite"] == "Lax"


# ksefportal.middleware.CSPMiddleware builds the headers once; every case django-csp handles per response
# must still come out as django-csp would write it.


def _through(middleware: Any, request: Any, response: Any) -> Any:
    return middleware.process_response(request, response)


def _csp_request() -> Any:
    request = RequestFactory().get("/")
    CSPMiddleware(lambda r: HttpResponse()).process_request(request)
    return request


def _both(response_factory: Any, *, nonce: bool = False) -> tuple[Any, Any]:
    """The same response through django-csp's middleware and through ours."""
    results = []
    for middleware_class in (DjangoCSPMiddleware, CSPMiddleware):
        request = _csp_request()
        if nonce:
            str(request.csp_nonce)
        results.append(_through(middleware_class(lambda r: HttpResponse()), request, response_factory()))
    return results[0], results[1]


def test_the_built_once_headers_are_django_csps() -> None:
    theirs, ours = _both(HttpResponse)
    assert ours["Content-Security-Policy"] == theirs["Content-Security-Policy"]
    assert "Content-Security-Policy-Report-Only" not in ours
    with override_settings(
        CONTENT_SECURITY_POLICY={"DIRECTIVES": {"default-src": ["'self'", "https://cdn.example"]}},
        CONTENT_SECURITY_POLICY_REPORT_ONLY={"DIRECTIVES": {"default-src": ["'none'"]}},
    ):
        theirs, ours = _both(HttpResponse)
        assert ours["Content-Security-Policy"] == theirs["Content-Security-Policy"]
        assert "https://cdn.example" in ours["Content-Security-Policy"]
        assert ours["Content-Security-Policy-Report-Only"] == theirs["Content-Security-Policy-Report-Only"]
    theirs, ours = _both(HttpResponse)  # the settings are back, and so is the header
    assert ours["Content-Security-Policy"] == theirs["Content-Security-Policy"]
    assert "cdn.example" not in ours["Content-Security-Policy"]


def test_per_view_policies_nonces_and_exemptions_still_apply() -> None:
    request = RequestFactory().get("/")

    def updated() -> HttpResponseBase:
        return csp_update({"img-src": ["https://img.example"]})(lambda r: HttpResponse())(request)

    def exempt() -> HttpResponseBase:
        return csp_exempt()(lambda r: HttpResponse())(request)

    theirs, ours = _both(updated)
    assert "https://img.example" in ours["Content-Security-Policy"]
    assert ours["Content-Security-Policy"] == theirs["Content-Security-Policy"]
    theirs, ours = _both(exempt)
    assert "Content-Security-Policy" not in ours
    assert "Content-Security-Policy" not in theirs
    theirs, ours = _both(HttpResponse, nonce=True)  # our policy names no nonce: the header stays as it is
    assert ours["Content-Security-Policy"] == theirs["Content-Security-Policy"]
    with override_settings(CONTENT_SECURITY_POLICY={"DIRECTIVES": {"script-src": [SELF, NONCE]}}):
        request = _csp_request()
        nonce = str(request.csp_nonce)
        response = _through(CSPMiddleware(lambda r: HttpResponse()), request, HttpResponse())
        assert f"script-src 'self' 'nonce-{nonce}'" in response["Content-Security-Policy"]
    # A nonce asked for after the header is written is an error, as with django-csp.
    request = _csp_request()
    _through(CSPMiddleware(lambda r: HttpResponse()), request, HttpResponse())
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)
