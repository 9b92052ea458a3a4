"""Security headers on representative responses of each kind: HTML pages (also error pages), a PDF, the
JSON health check. (check --deploy with production settings: tests/ksefportal/test_settings.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import Company
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
