"""A logged-in client for background work: cached KSeF session reused, re-login when it is gone."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from accounts.models import Company
from ksef_integration.connect.session import NotConnected, ksef_client_for
from ksef_integration.models import AuthMethod, KsefConnection
from ksef_simulator import services_core
from ksef_simulator.conf import config_update
from ksef_simulator.models import AuthOperation

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def connected(live_server: Any, alice_client: Any, company_a: Company) -> Any:
    config_update(token_activation_delay=0, auth_delay=0)
    with override_settings(KSEF_API_URL=f"{live_server.url}/ksef-sim/v2"):
        _, token = services_core.token_generate(
            nip=company_a.nip, permissions=["InvoiceRead", "InvoiceWrite"], description="portal"
        )
        assert alice_client.post("/uslugi-dodatkowe/ksef/token/", {"token": token}).status_code == 302
        yield KsefConnection.objects.get(company=company_a)


def test_cached_session_is_reused_then_a_fresh_login_when_it_is_gone(connected: KsefConnection) -> None:
    logins = AuthOperation.objects.count()
    client = ksef_client_for(company=connected.company)
    client.token_get(reference_number=connected.token_reference)
    assert AuthOperation.objects.count() == logins  # no new login

    KsefConnection.objects.filter(pk=connected.pk).update(
        access_token_ciphertext="",
        refresh_token_ciphertext="",
        access_valid_until=None,
        refresh_valid_until=None,
    )
    client = ksef_client_for(company=connected.company)
    status = client.token_get(reference_number=connected.token_reference)
    assert status.has("InvoiceWrite")
    assert AuthOperation.objects.count() == logins + 1
    connected.refresh_from_db()
    assert connected.refresh_token_ciphertext  # the new session was saved for the next task
    assert connected.method == AuthMethod.TOKEN


def test_disconnected_company_has_no_client(connected: KsefConnection, alice_client: Any) -> None:
    alice_client.post("/ustawienia/ksef/rozlacz/")
    with pytest.raises(NotConnected):
        ksef_client_for(company=connected.company)
