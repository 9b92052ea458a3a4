"""Connecting a company against the simulator over real HTTP: the happy path, every unhappy path of
PRODUCT.md §1 with its message and nothing stored, and the token never appearing anywhere in clear."""

from __future__ import annotations

import datetime as dt
import io
import logging
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings

from accounts.models import Company, Role, User
from ksef_integration.company_lock import company_lock
from ksef_integration.connect import gateway
from ksef_integration.connect import services as connect_services
from ksef_integration.models import AuditEvent, ConnectionStatus, KsefConnection
from ksef_simulator import services_core
from ksef_simulator.conf import config_update
from ksef_simulator.faults import fault_arm
from tests.conftest import add_member

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/uslugi-dodatkowe/ksef/token/"
ALL = [
    "InvoiceWrite",
    "InvoiceRead",
    "CredentialsRead",
    "CredentialsManage",
    "Introspection",
    "SubunitManage",
]


@pytest.fixture
def simulator(live_server: Any) -> Any:
    config_update(token_activation_delay=0, auth_delay=0)
    with override_settings(KSEF_API_URL=f"{live_server.url}/ksef-sim/v2"):
        yield live_server


def _token(company: Company, permissions: list[str] = ALL) -> str:
    _, token = services_core.token_generate(
        nip=company.nip, permissions=permissions, description="KSeF Portal"
    )
    return token


def _connect(client: Any, token: str) -> Any:
    return client.post(URL, {"token": token})


def _nothing_stored(company: Company) -> bool:
    connection = KsefConnection.objects.filter(company=company).first()
    return connection is None or not any(getattr(connection, f) for f in KsefConnection.SECRET_FIELDS)


def test_connect_with_a_token_then_verify_and_disconnect(
    simulator: Any, alice_client: Any, company_a: Company, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = _token(company_a)
    response = _connect(alice_client, token)
    assert response.status_code == 302
    assert response["Location"] == "/uslugi-dodatkowe/ksef/gotowe/"
    connection = KsefConnection.objects.get(company=company_a)
    assert connection.status == ConnectionStatus.ACTIVE
    assert connection.token_last4 == token[-4:]
    assert connection.token_reference == token.split("|")[0]
    assert {"InvoiceWrite", "InvoiceRead"} <= set(connection.permissions)
    assert connection.auto_send
    assert connection.auto_import
    assert connection.environment == "simulator"

    pages = [
        alice_client.get("/uslugi-dodatkowe/ksef/gotowe/"),
        alice_client.get("/ustawienia/ksef/"),
        alice_client.post("/ustawienia/ksef/sprawdz/", follow=True),
    ]
    assert "Połączenie z KSeF działa." in pages[2].content.decode()
    staff = User.objects.create_superuser(email="staff@example.com", password="x")
    alice_client.force_login(staff)
    pages += [
        alice_client.get("/admin/ksef_integration/ksefconnection/"),
        alice_client.get(f"/admin/ksef_integration/ksefconnection/{connection.pk}/change/"),
        alice_client.get("/admin/ksef_integration/auditevent/"),
    ]
    secret_part = token.split("|")[2]
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert secret_part not in html
        assert token not in html
    assert f"••••{token[-4:]}" in pages[4].content.decode()

    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)  # every table of every app
    assert secret_part not in dump.getvalue()
    assert secret_part not in caplog.text

    alice_client.force_login(User.objects.get(email="alice@example.com"))
    alice_client.post("/ustawienia/ksef/rozlacz/")
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.DISCONNECTED
    assert _nothing_stored(company_a)
    assert list(
        AuditEvent.objects.filter(company=company_a).values_list("kind", flat=True).order_by("id")
    ) == [
        "connected",
        "verified",
        "disconnected",
    ]


def test_revoked_token(simulator: Any, alice_client: Any, company_a: Company) -> None:
    token = _token(company_a)
    services_core.token_revoke(nip=company_a.nip, reference=token.split("|")[0])
    config_update(token_activation_delay=0)
    html = _connect(alice_client, token).content.decode()
    assert "unieważniony" in html
    assert _nothing_stored(company_a)


def test_inactive_token(simulator: Any, alice_client: Any, company_a: Company) -> None:
    config_update(token_activation_delay=dt.timedelta(hours=1))
    html = _connect(alice_client, _token(company_a)).content.decode()
    assert "Token KSeF nie jest aktywny" in html
    assert _nothing_stored(company_a)


def test_token_without_invoice_permissions(simulator: Any, alice_client: Any, company_a: Company) -> None:
    html = _connect(alice_client, _token(company_a, ["CredentialsRead"])).content.decode()
    assert "nie ma uprawnienia ani do wystawiania, ani do przeglądania faktur" in html
    assert _nothing_stored(company_a)


def test_token_with_read_only_connects_and_explains(
    simulator: Any, alice_client: Any, company_a: Company
) -> None:
    response = _connect(alice_client, _token(company_a, ["InvoiceRead"]))
    assert response.status_code == 302
    done = alice_client.get(response["Location"]).content.decode()
    assert "nie nadał uprawnienia do wystawiania faktur (InvoiceWrite)" in done
    connection = KsefConnection.objects.get(company=company_a)
    assert connection.auto_import
    assert not connection.auto_send
    # The switch cannot be forced on without the permission.
    alice_client.post(
        "/ustawienia/ksef/", {"auto_send": "on", "auto_import": "on", "import_interval_minutes": 30}
    )
    connection.refresh_from_db()
    assert not connection.auto_send
    assert connection.import_interval_minutes == 30


def test_ksef_unavailable(simulator: Any, alice_client: Any, company_a: Company) -> None:
    token = _token(company_a)
    config_update(unavailable=True)
    html = _connect(alice_client, token).content.decode()
    assert "KSeF teraz nie odpowiada" in html
    assert _nothing_stored(company_a)


def test_ksef_slow(
    simulator: Any, alice_client: Any, company_a: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = _token(company_a)
    monkeypatch.setattr(gateway, "CONNECT_TIMEOUT", (2.0, 0.5))
    fault_arm(pattern="auth.challenge", action="hang", seconds=2)
    html = _connect(alice_client, token).content.decode()
    assert "KSeF teraz nie odpowiada" in html
    assert _nothing_stored(company_a)


def test_rate_limited(simulator: Any, alice_client: Any, company_a: Company) -> None:
    token = _token(company_a)
    fault_arm(pattern="auth.challenge", action="429", seconds=30)
    html = _connect(alice_client, token).content.decode()
    assert "KSeF ogranicza teraz liczbę zapytań. Spróbuj ponownie za 30 s." in html
    assert _nothing_stored(company_a)


def test_double_click_waits_its_turn(
    simulator: Any, alice_client: Any, company_a: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connect_services, "CONNECT_WAIT_SECONDS", 0.5)
    with company_lock(company_a.pk):  # the first click's conversation with KSeF, still going on
        html = _connect(alice_client, _token(company_a)).content.decode()
    assert "Łączenie z KSeF już trwa" in html
    assert _nothing_stored(company_a)


def test_back_button_and_resubmit_is_harmless(simulator: Any, alice_client: Any, company_a: Company) -> None:
    token = _token(company_a)
    assert _connect(alice_client, token).status_code == 302
    assert _connect(alice_client, token).status_code == 302
    assert KsefConnection.objects.filter(company=company_a).count() == 1
    assert KsefConnection.objects.get(company=company_a).status == ConnectionStatus.ACTIVE


def test_expired_session_and_expired_form(simulator: Any, client: Any, company_a: Company) -> None:
    response = client.post(URL, {"token": "x"})
    assert response.status_code == 302
    assert response["Location"].startswith("/logowanie/")
    csrf_client = type(client)(enforce_csrf_checks=True)
    csrf_client.force_login(User.objects.get(email="alice@example.com"))
    expired = csrf_client.post(URL, {"token": "x"})
    assert expired.status_code == 403
    assert "Strona wygasła" in expired.content.decode()
    assert _nothing_stored(company_a)


def test_viewer_sees_status_but_no_controls(
    simulator: Any, alice_client: Any, client: Any, company_a: Company
) -> None:
    token = _token(company_a)
    _connect(alice_client, token)
    viewer = add_member(company_a, Role.VIEWER, "viewer@example.com")
    client.force_login(viewer.user)
    html = client.get("/ustawienia/ksef/").content.decode()
    assert "aktywne" in html
    assert "Usuń token / Rozłącz" not in html
    assert token.split("|")[2] not in html
    assert client.post("/ustawienia/ksef/rozlacz/").status_code == 403
    assert KsefConnection.objects.get(company=company_a).status == ConnectionStatus.ACTIVE
