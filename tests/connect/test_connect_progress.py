"""The steps of "Integruj z KSeF" shown while KSeF is asked (issue 22): the POST reports each step for the
page's attempt, the fragment shows them done, an attempt that failed stops at its step, and another
company never sees them."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse

from accounts.models import Company
from ksef_integration.connect import services
from ksef_simulator import services_core
from ksef_simulator.conf import config_update

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/uslugi-dodatkowe/ksef/token/"


@pytest.fixture
def simulator(live_server: Any) -> Any:
    config_update(token_activation_delay=0, auth_delay=0)
    with override_settings(KSEF_API_URL=f"{live_server.url}/ksef-sim/v2"):
        yield live_server


def _token(company: Company, permissions: tuple[str, ...] = ("InvoiceRead", "InvoiceWrite")) -> str:
    _, token = services_core.token_generate(
        nip=company.nip, permissions=list(permissions), description="portal"
    )
    return token


def _steps(client: Any, attempt: str) -> dict[str, str]:
    html = client.get(reverse("ksef_integration:connect_progress"), {"attempt": attempt}).content.decode()

    return {
        step: ("done" if "is-done" in cls else "current" if "is-current" in cls else "")
        for cls, step in re.findall(r'<li class="([^"]*)" data-step="(\w+)"', html)
    }


def test_the_page_carries_an_attempt_and_a_progress_list_that_starts_when_the_form_is_sent(
    alice_client: Any,
) -> None:
    html = alice_client.get(URL).content.decode()
    assert 'name="attempt"' in html
    assert 'hx-trigger="portal-submit from:#token-form"' in html
    assert "htmx" in html


def test_each_step_is_shown_done_after_the_post_and_only_to_the_company(
    simulator: Any, alice_client: Any, company_a: Company, company_b: Company, bob: Any
) -> None:
    from django.test import Client

    bob_client = Client()
    bob_client.force_login(bob)
    attempt = str(uuid.uuid4())
    assert _steps(alice_client, attempt) == {"checked": "current", "logged_in": "", "permissions": ""}
    response = alice_client.post(URL, {"token": _token(company_a), "attempt": attempt})
    assert response.status_code == 302
    assert _steps(alice_client, attempt) == {"checked": "done", "logged_in": "done", "permissions": "done"}
    # Bob's company asks about the same attempt id: nothing of Alice's attempt.
    assert _steps(bob_client, attempt) == {"checked": "current", "logged_in": "", "permissions": ""}


def test_a_token_without_invoice_permissions_stops_after_logging_in(
    simulator: Any, alice_client: Any, company_a: Company
) -> None:
    attempt = str(uuid.uuid4())
    response = alice_client.post(URL, {"token": _token(company_a, ("Introspection",)), "attempt": attempt})
    assert response.status_code == 200  # the page again, with the message
    assert _steps(alice_client, attempt) == {"checked": "done", "logged_in": "done", "permissions": "current"}


def test_a_garbage_attempt_id_keeps_nothing(simulator: Any, alice_client: Any, company_a: Company) -> None:
    response = alice_client.post(URL, {"token": _token(company_a), "attempt": "../../etc"})
    assert response.status_code == 302  # connecting does not depend on the steps being shown
    assert _steps(alice_client, "../../etc") == {"checked": "current", "logged_in": "", "permissions": ""}
    assert services.STEPS == ("checked", "logged_in", "permissions")
