"""Unhappy paths of "Integruj z KSeF" that are decided before KSeF is asked: each gives a clear Polish
message and stores no credential."""

from typing import Any

import pytest
from django.urls import reverse

from accounts.models import Company, Role
from ksef_integration.models import AuditEvent, KsefConnection
from tests.conftest import add_member

pytestmark = pytest.mark.django_db
URL = "/uslugi-dodatkowe/ksef/token/"


def _post(client: Any, token: str) -> str:
    response = client.post(URL, {"token": token})
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "Wklej token wygenerowany w KSeF."),
        ("   ", "Wklej token wygenerowany w KSeF."),
        ("to nie jest token", "To nie jest token KSeF 2.0"),
        ("20261125-EC-1DCE3E3000-12ECB5B36E-45|nip-1234563218|abc", "Ostatnia część tokena jest niepełna"),
        ("A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90", "token z KSeF 1.0"),
        ("x" * 401, "To nie jest token KSeF: jest za długi."),
    ],
)
def test_bad_tokens_are_refused_with_a_reason(alice_client: Any, token: str, message: str) -> None:
    html = _post(alice_client, token)
    assert message in html
    assert not KsefConnection.objects.exists()


def test_token_of_another_nip_is_refused(alice_client: Any, company_a: Company) -> None:
    other = "5265877635" if company_a.nip != "5265877635" else "1234563218"
    token = f"20261125-EC-1DCE3E3000-12ECB5B36E-45|nip-{other}|" + "0f" * 32
    html = _post(alice_client, token)
    assert f"Ten token wygenerowano dla NIP {other}" in html
    assert company_a.nip in html
    assert not KsefConnection.objects.exists()
    event = AuditEvent.objects.get()
    assert event.kind == AuditEvent.Kind.CONNECT_FAILED
    assert "0f" * 32 not in str(AuditEvent.objects.values().get())
    # The pasted token is not echoed back into the page.
    assert "0f" * 32 not in html


@pytest.mark.parametrize("role", [Role.ACCOUNTANT, Role.VIEWER])
def test_only_owners_connect(client: Any, company_a: Company, role: str) -> None:
    member = add_member(company_a, role, f"{role}@example.com")
    client.force_login(member.user)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"token": "x"}).status_code == 403
    assert client.get(reverse("ksef_integration:choose")).status_code == 403
    landing = client.get(reverse("ksef_integration:landing")).content.decode()
    assert "Tylko właściciel firmy może połączyć ją z KSeF." in landing
    assert client.get(reverse("ksef_integration:settings")).status_code == 200


def test_the_guided_pages_carry_the_texts(alice_client: Any) -> None:
    landing = alice_client.get(reverse("ksef_integration:landing")).content.decode()
    assert "Dołącz do Krajowego Systemu e-Faktur (KSeF)" in landing
    assert "Uwierzytelnienie" in landing
    assert "Praca w trybie offline" in landing
    assert "Uruchom KSeF" in landing
    choose = alice_client.get(reverse("ksef_integration:choose")).content.decode()
    assert "Wybierz sposób weryfikacji tożsamości w KSeF:" in choose
    assert "Certyfikat uwierzytelniający" in choose
    token_page = alice_client.get(URL).content.decode()
    for text in [
        "Integracja z Krajowym Systemem e-Faktur",
        "Sprawdź, jak to zrobić krok po kroku",
        "Numer tokena",
        "wygenerowany na stronie ksef.mf.gov.pl",
        "każdy token wygenerowany po 1 lutego 2026 będzie ważny tylko do końca 2026",
        "Integruj z KSeF",
        "/ksef-sim/",
    ]:
        assert text in token_page, text
    offline = alice_client.get(reverse("ksef_integration:landing") + "?zakladka=offline").content.decode()
    assert "Offline" in offline
