"""An exception in a view or service that handles a secret (a KSeF token, a key password, a private key, a
login password) never shows the secret in Django's technical 500 report: neither on the DEBUG page (frame
locals, POST data) nor in the e-mail sent to ADMINS."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import got_request_exception
from django.http import HttpRequest
from django.test import Client, override_settings
from django.views.debug import ExceptionReporter

from accounts.models import Company, User
from tests.offline.conftest import issue_certificate

pytestmark = pytest.mark.django_db

KEY_PASSWORD = "Haslo-Do-Klucza-7fQ2"  # also what the fake key's body says, to be found if it leaks
TOKEN_SECRET = "ab" * 32
TOKEN = "20261125-EC-1DCE3E3000-12ECB5B36E-45|nip-{nip}|" + TOKEN_SECRET
LOGIN_PASSWORD = "Moje-Haslo-Logowania-93kd"

Captured = tuple[HttpRequest, type[BaseException], BaseException, TracebackType]


class Boom(RuntimeError):
    pass


def _boom(*args: Any, **kwargs: Any) -> None:
    raise Boom("deep inside")


@pytest.fixture
def captured() -> Iterator[list[Captured]]:
    seen: list[Captured] = []

    def receiver(sender: Any, request: HttpRequest, **kwargs: Any) -> None:
        exc_type, exc_value, tb = sys.exc_info()
        if exc_type is not None and exc_value is not None and tb is not None:
            seen.append((request, exc_type, exc_value, tb))

    got_request_exception.connect(receiver)
    yield seen
    got_request_exception.disconnect(receiver)


def _reports(seen: list[Captured]) -> list[str]:
    assert seen, "the view did not fail"
    request, exc_type, exc_value, tb = seen[-1]
    assert exc_type is Boom
    pages: list[str] = []
    for debug in (True, False):  # the DEBUG page, and the report e-mailed to ADMINS with DEBUG off
        with override_settings(DEBUG=debug):
            reporter = ExceptionReporter(request, exc_type, exc_value, tb)
            pages += [reporter.get_traceback_html(), reporter.get_traceback_text()]
    return pages


def _post(client: Client, url: str, data: dict[str, Any]) -> None:
    with pytest.raises(Boom):
        client.post(url, data)


@pytest.mark.parametrize(
    "url", ["/uslugi-dodatkowe/ksef/certyfikat/", "/ustawienia/ksef/certyfikat-offline/"]
)
def test_a_key_password_and_the_key_never_appear_in_an_error_report(
    alice: User, company_a: Company, captured: list[Captured], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setattr("ksef_integration.connect.keyfile.private_key_load", _boom)
    certificate, key = issue_certificate(company_a.nip)
    client = Client(raise_request_exception=True)
    client.force_login(alice)
    _post(
        client,
        url,
        {
            "certificate": SimpleUploadedFile("a.crt", certificate),
            "private_key": SimpleUploadedFile("a.key", key),
            "password": KEY_PASSWORD,
        },
    )
    key_body = key.decode().splitlines()[3]  # a line of the key's base64, well inside the PEM
    for page in _reports(captured):
        assert KEY_PASSWORD not in page
        assert key_body not in page
        assert "deep inside" in page  # the report itself is still there


def test_a_ksef_token_never_appears_in_an_error_report(
    alice: User, company_a: Company, captured: list[Captured], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ksef_integration.connect.gateway.token_login", _boom)
    client = Client(raise_request_exception=True)
    client.force_login(alice)
    _post(client, "/uslugi-dodatkowe/ksef/token/", {"token": TOKEN.format(nip=company_a.nip)})
    for page in _reports(captured):
        assert TOKEN_SECRET not in page
        assert "deep inside" in page


def test_a_sign_up_password_never_appears_in_an_error_report(
    db: Any, captured: list[Captured], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("accounts.services.company_create", _boom)
    data = {
        "email": "nowa@example.com",
        "full_name": "Nowa Osoba",
        "password1": LOGIN_PASSWORD,
        "password2": LOGIN_PASSWORD,
        "company_name": "Nowa sp. z o.o.",
        "nip": "5260250274",
        "address_line1": "ul. Prosta 1",
        "address_line2": "00-001 Warszawa",
        "country_code": "PL",
    }
    _post(Client(raise_request_exception=True), "/rejestracja/", data)
    for page in _reports(captured):
        assert LOGIN_PASSWORD not in page
        assert "deep inside" in page
