"""The guide, walked in Chromium exactly as a person does it: the token path and the certificate path.

Each step writes a screenshot to test-artifacts/ (the README shows some of them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from accounts.models import Company, User
from ksef_integration.models import ConnectionStatus, KsefConnection
from tests.conftest import PASSWORD, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def simulator_url(live_server: Any) -> Any:
    with override_settings(KSEF_API_URL=f"{live_server.url}/ksef-sim/v2"):
        yield live_server.url


def _log_in(page: Any, user: User) -> None:
    page.goto("/logowanie/")
    page.get_by_label("Adres e-mail").fill(user.email)
    page.get_by_label("Hasło").fill(PASSWORD)
    page.get_by_role("button", name="Zaloguj się").click()
    page.wait_for_url("**/")


def _to_method_choice(page: Any, prefix: str) -> None:
    page.locator(".bottombar").get_by_text("Więcej").click()
    page.get_by_role("link", name="Usługi dodatkowe").click()
    screenshot(page, f"{prefix}-01-uslugi-dodatkowe")
    page.get_by_role("link", name="Dowiedz się więcej").click()
    screenshot(page, f"{prefix}-02-dolacz-do-ksef")
    page.get_by_role("link", name="Uruchom KSeF").click()
    screenshot(page, f"{prefix}-03-wybierz-sposob")


def test_token_path(page: Any, simulator_url: str, alice: User, company_a: Company) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    _log_in(page, alice)
    _to_method_choice(page, "token")
    page.get_by_role("link", name="Token").first.click()
    screenshot(page, "token-04-strona-tokena")

    with page.context.expect_page() as opened:
        page.locator("#ksef-site-link").click()
    ksef = opened.value
    ksef.wait_for_load_state()
    ksef.get_by_label("NIP podatnika").fill(company_a.nip)
    ksef.get_by_role("button", name="Zaloguj się").click()
    screenshot(ksef, "token-05-ksef-zalogowano")
    ksef.get_by_role("link", name="Generuj token").first.click()
    ksef.get_by_label("Nazwa tokena").fill("KSeF Portal")
    for checkbox in ksef.locator("input[name=permissions]").all():
        checkbox.check()
    screenshot(ksef, "token-06-ksef-generuj")
    ksef.get_by_role("button", name="Generuj").click()
    ksef.get_by_role("button", name="Kopiuj").click()
    screenshot(ksef, "token-07-ksef-kopiuj")
    copied = ksef.evaluate("navigator.clipboard.readText()")
    assert f"|nip-{company_a.nip}|" in copied
    ksef.close()

    page.bring_to_front()
    page.get_by_label("Numer tokena").fill(copied)
    page.get_by_role("button", name="Integruj z KSeF").click()
    page.wait_for_url("**/gotowe/")
    screenshot(page, "token-08-gotowe")
    assert "Gotowe!" in page.locator("h1").inner_text()
    assert "Teraz Twoje faktury będą trafiały od razu do KSeF" in page.content()

    page.get_by_role("link", name="Dane i ustawienia → KSeF").click()
    screenshot(page, "token-09-ustawienia-ksef")
    assert page.locator("#ksef-status").inner_text() == "aktywne"
    assert f"••••{copied[-4:]}" in page.content()
    assert copied not in page.content()
    connection = KsefConnection.objects.get(company=company_a)
    assert connection.status == ConnectionStatus.ACTIVE
    assert {"InvoiceWrite", "InvoiceRead"} <= set(connection.permissions)


def test_certificate_path(
    page: Any, simulator_url: str, alice: User, company_a: Company, tmp_path: Path
) -> None:
    _log_in(page, alice)
    _to_method_choice(page, "cert")
    page.get_by_role("link", name="Certyfikat uwierzytelniający").click()
    screenshot(page, "cert-04-strona-certyfikatu")

    ksef = page.context.new_page()
    ksef.goto("/ksef-sim/")
    ksef.get_by_label("NIP podatnika").fill(company_a.nip)
    ksef.get_by_role("button", name="Zaloguj się").click()
    ksef.get_by_role("link", name="Certyfikaty").click()
    ksef.get_by_label("Uwierzytelnianie w KSeF").check()
    ksef.get_by_label("Hasło do klucza prywatnego").fill("tajne-haslo-123")
    ksef.get_by_role("button", name="Wystaw certyfikat").click()
    screenshot(ksef, "cert-05-ksef-certyfikat")
    files = {}
    for part, label in (("crt", "Pobierz certyfikat (.crt)"), ("key", "Pobierz klucz prywatny (.key)")):
        with ksef.expect_download() as download:
            ksef.get_by_role("link", name=label).click()
        target = tmp_path / f"ksef.{part}"
        download.value.save_as(target)
        files[part] = target
    ksef.close()

    page.bring_to_front()
    page.get_by_label("Certyfikat KSeF").set_input_files(str(files["crt"]))
    page.get_by_label("Klucz prywatny").set_input_files(str(files["key"]))
    page.get_by_label("Hasło do klucza prywatnego").fill("tajne-haslo-123")
    page.get_by_role("button", name="Integruj z KSeF").click()
    page.wait_for_url("**/gotowe/")
    screenshot(page, "cert-06-gotowe")
    page.get_by_role("link", name="Dane i ustawienia → KSeF").click()
    screenshot(page, "cert-07-ustawienia-ksef")
    assert page.locator("#ksef-status").inner_text() == "aktywne"
    connection = KsefConnection.objects.get(company=company_a)
    assert connection.method == "certificate"
    assert connection.certificate_serial in page.content()
    assert "PRIVATE KEY" not in page.content()
