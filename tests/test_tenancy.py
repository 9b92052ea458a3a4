"""A user of company A gets 404 for every URL that names an object of company B."""

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts import services
from accounts.models import Company, Invitation, Membership, Role, User
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def _patterns(resolver: URLResolver, namespace: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _patterns(entry, inner)
        elif entry.name:
            yield f"{namespace}{entry.name}", entry


def _uuid_urls() -> dict[str, list[str]]:
    found = {}
    for name, pattern in _patterns(get_resolver()):
        converters = getattr(pattern.pattern, "converters", {})
        uuid_kwargs = [k for k, c in converters.items() if type(c).__name__ == "UUIDConverter"]
        if uuid_kwargs and not name.startswith("admin:"):
            found[name] = uuid_kwargs
    return found


@pytest.fixture
def company_b_objects(company_b: Company, bob: User) -> dict[str, uuid.UUID]:
    member = MembershipFactory.create(company=company_b, role=Role.ACCOUNTANT)
    invitation = services.invitation_create(
        company=company_b, email="x@example.com", role="viewer", invited_by=bob
    )
    from tests.invoices.factories import invoice_make

    invoice = invoice_make(company_b)
    return {
        "company_uuid": company_b.uuid,
        "membership_uuid": member.uuid,
        "invitation_uuid": invitation.uuid,
        "invoice_uuid": invoice.uuid,
    }


def test_every_uuid_url_is_covered(company_b_objects: dict[str, uuid.UUID]) -> None:
    # A new URL with a new kind of UUID must be added to the fixture above (and so to the matrix).
    kinds = {kwarg for kwargs in _uuid_urls().values() for kwarg in kwargs}
    assert kinds <= set(company_b_objects)
    assert len(_uuid_urls()) >= 5


def test_outsider_gets_404_for_every_company_b_url(
    alice_client: Any, company_b: Company, company_b_objects: dict[str, uuid.UUID]
) -> None:
    before = (
        list(Membership.objects.filter(company=company_b).values_list("uuid", "role")),
        list(Invitation.objects.filter(company=company_b).values_list("uuid", "email")),
        Company.objects.filter(pk=company_b.pk).values().get(),
    )
    checked = []
    for name, kwargs in _uuid_urls().items():
        url = reverse(name, kwargs={k: company_b_objects[k] for k in kwargs})
        random_url = reverse(name, kwargs={k: uuid.uuid4() for k in kwargs})
        assert alice_client.post(url, {"role": "viewer"}).status_code == 404, name
        get_status = alice_client.get(url).status_code
        assert get_status in (404, 405), name
        assert get_status == alice_client.get(random_url).status_code, name  # existence does not leak
        checked.append(name)
    after = (
        list(Membership.objects.filter(company=company_b).values_list("uuid", "role")),
        list(Invitation.objects.filter(company=company_b).values_list("uuid", "email")),
        Company.objects.filter(pk=company_b.pk).values().get(),
    )
    assert before == after
    assert "accounts:company_switch" in checked


def test_company_b_never_appears_on_company_a_pages(alice_client: Any, company_b: Company) -> None:
    for name in ["accounts:start", "accounts:more", "accounts:members", "accounts:company_edit"]:
        html = alice_client.get(reverse(name)).content.decode()
        assert company_b.name not in html
        assert company_b.nip not in html


def test_the_session_cannot_point_at_a_foreign_company(alice_client: Any, company_b: Company) -> None:
    session = alice_client.session
    session["current_company_uuid"] = str(company_b.uuid)
    session.save()
    html = alice_client.get(reverse("accounts:start")).content.decode()
    assert company_b.name not in html
    assert "Alfa sp. z o.o." in html
