"""A person signs up, sees Start, logs out and logs in again, in Debian's Chromium."""

from typing import Any

import pytest

from accounts.models import Company, Membership, User
from tests.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_up_log_out_and_log_in(page: Any) -> None:
    page.goto("/rejestracja/")
    assert page.locator("h1").inner_text() == "Załóż konto"
    page.get_by_label("Adres e-mail").fill("marta@example.com")
    page.get_by_label("Imię i nazwisko").fill("Marta Wiśniewska")
    page.get_by_label("Hasło", exact=True).fill("Wiosenny-Deszcz-2026")
    page.get_by_label("Powtórz hasło").fill("Wiosenny-Deszcz-2026")
    page.get_by_label("Nazwa firmy").fill("Wiśniewska Design")
    page.get_by_label("NIP").fill("123-456-32-19")  # a typo in the check digit first
    page.get_by_label("Adres (linia 1)").fill("ul. Kwiatowa 7")
    page.get_by_label("Adres (linia 2)").fill("60-001 Poznań")
    page.get_by_role("button", name="Załóż konto").click()
    assert "błędną cyfrę kontrolną" in page.locator(".field--error").inner_text()
    assert not User.objects.exists()
    screenshot(page, "signup-bad-nip")

    page.get_by_label("Hasło", exact=True).fill("Wiosenny-Deszcz-2026")
    page.get_by_label("Powtórz hasło").fill("Wiosenny-Deszcz-2026")
    page.get_by_label("NIP").fill("123-456-32-18")
    page.get_by_role("button", name="Załóż konto").click()
    page.wait_for_url("**/")
    assert "Wiśniewska Design" in page.locator(".card").first.inner_text()
    assert page.locator(".bottombar").is_visible()
    screenshot(page, "start")
    assert Membership.objects.get().company == Company.objects.get(nip="1234563218")

    page.locator(".bottombar").get_by_text("Więcej").click()
    page.wait_for_url("**/wiecej/")
    screenshot(page, "more")
    page.get_by_role("button", name="Wyloguj").click()
    page.wait_for_url("**/logowanie/")

    page.get_by_label("Adres e-mail").fill("marta@example.com")
    page.get_by_label("Hasło").fill("Wiosenny-Deszcz-2026")
    page.get_by_role("button", name="Zaloguj się").click()
    page.wait_for_url("**/")
    assert "Witaj, Marta" in page.locator("h1").inner_text()
