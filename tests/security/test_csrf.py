"""Every URL that accepts a POST refuses one without a CSRF token (the list comes from the URLconf)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.models import Company, Role, User
from tests.factories import MembershipFactory
from tests.invoices.factories import invoice_make
from tests.security.urlconf import ADMIN_FORMS, all_routes, app_routes, company_rows

pytestmark = pytest.mark.django_db

# The simulator's machine endpoints (KSeF's API, MF's white-list stand-in) are csrf-exempt, as the real APIs
# are (callers send bearer tokens or nothing, not cookies). So is the portal's public API (issue 22), which
# accepts only an API key in the Authorization header: a session cookie authenticates nothing there
# (tests/integrations/test_api.py). Nothing else may be.
EXEMPT_PREFIXES = (
    "api/v1/",
    "ksef-sim/api/", "ksef-sim/v2/", "ksef-sim/wl-api/", "ksef-sim/control/", "ksef-sim/storage/",
)  # fmt: skip


@pytest.fixture
def objects(company_a: Company, alice: User) -> dict[str, uuid.UUID]:
    member = MembershipFactory.create(company=company_a, role=Role.ACCOUNTANT)
    invitation = services.invitation_create(
        company=company_a, email="y@example.com", role="viewer", invited_by=alice
    )
    return {
        "company_uuid": company_a.uuid,
        "membership_uuid": member.uuid,
        "invitation_uuid": invitation.uuid,
        "invoice_uuid": invoice_make(company_a).uuid,
    }


@pytest.fixture
def csrf_client(alice: User, company_a: Company) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    return client


def _routes() -> list[Any]:
    simulator_pages = [
        r for r in all_routes() if r.route.startswith("ksef-sim/") and not r.route.startswith(EXEMPT_PREFIXES)
    ]
    admin = [r for r in all_routes() if r.name in ADMIN_FORMS]
    return [*app_routes(), *simulator_pages, *admin]


def test_only_the_simulator_machine_api_is_csrf_exempt() -> None:
    exempt = [r.route for r in all_routes() if getattr(r.callback, "csrf_exempt", False)]
    assert exempt, "the simulator API should be listed here"
    assert [route for route in exempt if not route.startswith(EXEMPT_PREFIXES)] == []


def test_every_post_without_a_token_is_refused_and_changes_nothing(
    csrf_client: Client, objects: dict[str, uuid.UUID]
) -> None:
    form = {"role": "owner", "email": "z@example.com", "name": "Zmieniona", "token": "x", "next": "/"}
    before = company_rows()
    checked = []
    for route in _routes():
        response = csrf_client.post(route.url(objects), form)
        assert response.status_code == 403, (route.name, response.status_code)
        assert "Strona wygasła" in response.content.decode(), route.name  # our page, not Django's
        checked.append(route.name)
    assert company_rows() == before
    assert "_auth_user_id" in csrf_client.session  # the logout POST was refused too
    assert len(checked) >= 50
    assert {"accounts:logout", "accounts:login", "ksef_integration:certificate", "admin:login"} <= set(
        checked
    )


def test_the_same_post_with_the_token_goes_through(csrf_client: Client, company_a: Company) -> None:
    # The control: the refusal above is CSRF, not something else about the request.
    url = reverse("accounts:company_edit")
    page = csrf_client.get(url)
    token = page.context["csrf_token"]
    data = {
        "csrfmiddlewaretoken": str(token),
        "name": "Alfa Nowa sp. z o.o.",
        "nip": company_a.nip,
        "street": "Prosta 1",
        "postal_code": "00-001",
        "city": "Warszawa",
        "country": "PL",
    }
    refused = csrf_client.post(url, {k: v for k, v in data.items() if k != "csrfmiddlewaretoken"})
    assert refused.status_code == 403
    response = csrf_client.post(url, data)
    assert response.status_code in (200, 302)
    assert "Strona wygasła" not in response.content.decode()
