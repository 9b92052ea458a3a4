"""Companies, the switcher, roles, invitations."""

from typing import Any

import pytest
from django.core import mail
from django.urls import reverse

from accounts import services
from accounts.models import Company, Invitation, Membership, Role, User
from tests.conftest import add_member
from tests.factories import CompanyFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def test_add_a_second_company_and_switch_between_them(
    alice_client: Any, alice: User, company_a: Company
) -> None:
    response = alice_client.post(
        reverse("accounts:company_create"),
        {
            "company_name": "Druga Firma",
            "nip": "1234563218",
            "address_line1": "ul. Długa 2",
            "country_code": "PL",
        },
    )
    assert response.status_code == 302
    second = Company.objects.get(name="Druga Firma")
    assert Membership.objects.get(user=alice, company=second).role == Role.OWNER
    assert "Druga Firma" in alice_client.get(reverse("accounts:start")).content.decode()

    alice_client.post(reverse("accounts:company_switch", args=[company_a.uuid]))
    page = alice_client.get(reverse("accounts:start")).content.decode()
    assert "Alfa sp. z o.o." in page


def test_switch_needs_post(alice_client: Any, company_a: Company) -> None:
    assert alice_client.get(reverse("accounts:company_switch", args=[company_a.uuid])).status_code == 405


def test_company_data_edit_by_owner_and_refusal_of_bad_nip(alice_client: Any, company_a: Company) -> None:
    url = reverse("accounts:company_edit")
    data = {
        "company_name": "Alfa Nowa",
        "nip": "1234563218",
        "address_line1": "ul. Nowa 1",
        "country_code": "PL",
    }
    assert alice_client.post(url, data).status_code == 302
    company_a.refresh_from_db()
    assert company_a.name == "Alfa Nowa"

    response = alice_client.post(url, {**data, "nip": "1234563210", "company_name": "Zmieniona"})
    assert "błędną cyfrę kontrolną" in response.content.decode()
    company_a.refresh_from_db()
    assert company_a.name == "Alfa Nowa"


@pytest.mark.parametrize("role", [Role.ACCOUNTANT, Role.VIEWER])
def test_non_owners_see_company_data_but_cannot_change_it(client: Any, company_a: Company, role: str) -> None:
    member = add_member(company_a, role, f"{role}@example.com")
    client.force_login(member.user)
    url = reverse("accounts:company_edit")
    page = client.get(url)
    assert page.status_code == 200
    assert "Tylko właściciel firmy może zmieniać te dane" in page.content.decode()
    data = {"company_name": "Hack", "nip": "1234563218", "address_line1": "x", "country_code": "PL"}
    assert client.post(url, data).status_code == 403
    assert (
        client.post(reverse("accounts:members"), {"email": "x@example.com", "role": "owner"}).status_code
        == 403
    )
    company_a.refresh_from_db()
    assert company_a.name != "Hack"
    assert not Invitation.objects.exists()


def test_invitation_by_email_to_a_new_person(
    alice_client: Any,
    client: Any,
    company_a: Company,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    enqueued: list[tuple[Any, ...]] = []
    monkeypatch.setattr("accounts.queue.publish", lambda name, args: enqueued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            reverse("accounts:members"), {"email": "Ksiegowa@Example.com", "role": Role.ACCOUNTANT}
        )
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert invitation.email == "ksiegowa@example.com"
    # Only the ID travels to the worker; the worker mints the link (tested with a real worker elsewhere).
    assert enqueued == [(invitation.pk,)]
    assert invitation.sent_at is None
    assert services.invitation_send(invitation_id=invitation.pk) is True
    invitation.refresh_from_db()
    assert invitation.sent_at is not None
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert "Alfa sp. z o.o." in body
    link = next(line for line in body.splitlines() if "/zaproszenie/" in line)
    # The link's secret is not stored, only its hash.
    assert link.rsplit("/zaproszenie/", 1)[1].strip("/") not in str(Invitation.objects.values().get())

    alice_client.logout()
    path = "/zaproszenie/" + link.rsplit("/zaproszenie/", 1)[1]
    page = client.get(path)
    assert "Utwórz konto" in page.content.decode()
    response = client.post(
        path,
        {"full_name": "Ewa Księgowa", "password1": "Bilans-Roczny-2026", "password2": "Bilans-Roczny-2026"},
    )
    assert response.status_code == 302
    new_user = User.objects.get(email="ksiegowa@example.com")
    assert Membership.objects.get(user=new_user).role == Role.ACCOUNTANT
    # A used link does not work twice.
    assert client.get(path).status_code == 404


def test_invitation_for_an_existing_user_needs_their_login(
    company_a: Company, alice: User, bob: User, client: Any
) -> None:
    invitation = services.invitation_create(
        company=company_a, email=bob.email, role=Role.VIEWER, invited_by=alice
    )
    services.invitation_send(invitation_id=invitation.pk)
    path = "/zaproszenie/" + mail.outbox[0].body.split("/zaproszenie/", 1)[1].split()[0]
    assert "Zaloguj się" in client.get(path).content.decode()

    client.force_login(alice)  # the wrong person
    response = client.post(path, follow=True)
    assert "Zaloguj się tym adresem" in response.content.decode()
    assert not Membership.objects.filter(user=alice, role=Role.VIEWER).exists()

    client.force_login(bob)
    client.post(path)
    assert Membership.objects.get(user=bob, company=company_a).role == Role.VIEWER


def test_inviting_a_member_again_is_refused(alice_client: Any, company_a: Company) -> None:
    add_member(company_a, Role.VIEWER, "viewer@example.com")
    response = alice_client.post(
        reverse("accounts:members"), {"email": "viewer@example.com", "role": "viewer"}
    )
    assert "już członkiem firmy" in response.content.decode()
    assert not Invitation.objects.exists()


def test_the_last_owner_cannot_leave_or_be_demoted(
    alice_client: Any, alice: User, company_a: Company
) -> None:
    own = Membership.objects.get(user=alice, company=company_a)
    response = alice_client.post(reverse("accounts:member_remove", args=[own.uuid]), follow=True)
    assert "co najmniej jednego właściciela" in response.content.decode()
    alice_client.post(reverse("accounts:member_role", args=[own.uuid]), {"role": Role.VIEWER})
    own.refresh_from_db()
    assert own.role == Role.OWNER

    second = MembershipFactory.create(company=company_a, role=Role.OWNER)
    alice_client.post(reverse("accounts:member_role", args=[second.uuid]), {"role": Role.ACCOUNTANT})
    second.refresh_from_db()
    assert second.role == Role.ACCOUNTANT


def test_user_without_a_company_is_sent_to_add_one(client: Any, db: Any) -> None:
    user = User.objects.create_user(email="solo@example.com", password="x")
    client.force_login(user)
    response = client.get(reverse("accounts:start"))
    assert response["Location"] == reverse("accounts:company_create")


def test_pages_of_the_shell_render_with_the_bottom_bar(alice_client: Any) -> None:
    pages = ["start", "more", "additional_services", "settings", "members", "company_edit"]
    names = [f"accounts:{p}" for p in pages] + ["invoices:list", "invoices:issue", "invoices:add"]
    for name in names:
        html = alice_client.get(reverse(name)).content.decode()
        for label in ["Start", "Dokumenty", "Dodaj", "Wystaw", "Więcej"]:
            assert f"<span>{label}</span>" in html, (name, label)
    more = alice_client.get(reverse("accounts:more")).content.decode()
    assert "Usługi dodatkowe" in more
    assert "Dane i ustawienia" in more


def test_company_nip_constraint_holds_in_the_database(db: Any) -> None:
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        CompanyFactory.create(nip="12345")
