"""With DEBUG off outside the test suite (KSEF_SIMULATOR_UNSAFE_IN_PRODUCTION) the simulator's control API
takes a staff user and a CSRF token; its login page's ``next`` never leads off the site."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client, override_settings

from ksef_simulator.models import FaultRule
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
FAULT = json.dumps({"pattern": "sessions.*", "action": "hang", "count": 1, "seconds": 1})


def _arm(client: Client, **extra: Any) -> Any:
    return client.post("/ksef-sim/control/faults", FAULT, content_type="application/json", **extra)


@override_settings(DEBUG=False, TESTING=False)
def test_outside_development_the_control_api_needs_staff_and_csrf() -> None:
    anonymous = Client(enforce_csrf_checks=True)
    assert _arm(anonymous).status_code == 403
    assert anonymous.get("/ksef-sim/control/config").status_code == 403
    assert anonymous.post("/ksef-sim/control/reset").status_code == 403
    person = Client(enforce_csrf_checks=True)
    person.force_login(UserFactory.create(email="ktos@example.com"))
    assert _arm(person).status_code == 403
    staff = Client(enforce_csrf_checks=True)
    staff.force_login(UserFactory.create(email="obsluga@example.com", is_staff=True))
    # A cross-site POST (no CSRF token) from a staff member's browser is refused as well.
    assert _arm(staff, HTTP_ORIGIN="https://evil.example").status_code == 403
    assert not FaultRule.objects.exists()
    assert staff.get("/ksef-sim/control/config").status_code == 200
    staff.get("/admin/")  # any page with a form sets the CSRF cookie
    token = staff.cookies["csrftoken"].value
    assert _arm(staff, HTTP_X_CSRFTOKEN=token).status_code == 201
    assert FaultRule.objects.filter(action="hang").count() == 1


def test_in_the_test_suite_the_control_api_stays_open_for_scripts() -> None:
    assert _arm(Client(enforce_csrf_checks=True)).status_code == 201
    assert Client().delete("/ksef-sim/control/faults").status_code == 200


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "https:/evil.example", "javascript:alert(1)"]
)
def test_the_login_page_next_stays_on_the_site(target: str) -> None:
    response = Client().post(f"/ksef-sim/?next={target}", {"nip": "5260250274"})
    assert response.status_code == 302
    assert response["Location"] == "/ksef-sim/tokeny/"


def test_the_login_page_next_on_the_site_is_followed() -> None:
    response = Client().post("/ksef-sim/?next=/ksef-sim/certyfikaty/", {"nip": "5260250274"})
    assert response["Location"] == "/ksef-sim/certyfikaty/"


def test_a_script_with_the_control_token_needs_no_staff_login(client: Any, settings: Any) -> None:
    settings.DEBUG = False
    settings.TESTING = False
    settings.KSEF_SIMULATOR_CONTROL_TOKEN = "bench-token-of-this-run"
    assert client.get("/ksef-sim/control/config").status_code == 403
    wrong = {"HTTP_AUTHORIZATION": "Bearer another-token"}
    assert client.get("/ksef-sim/control/config", **wrong).status_code == 403
    right = {"HTTP_AUTHORIZATION": "Bearer bench-token-of-this-run"}
    assert client.get("/ksef-sim/control/config", **right).status_code == 200
    posted = client.post("/ksef-sim/control/config", {"unavailable": False}, "application/json", **right)
    assert posted.status_code == 200
    settings.KSEF_SIMULATOR_CONTROL_TOKEN = ""
    assert client.get("/ksef-sim/control/config", HTTP_AUTHORIZATION="Bearer ").status_code == 403
