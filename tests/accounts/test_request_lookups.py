"""The two lookups of every page: the user of the session (Django's ModelBackend) and the membership it
works in (one query, the company the session names first, else the first by name)."""

from typing import Any

import pytest
from django.contrib.auth import get_user
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.backends import UserBackend
from accounts.current import SESSION_KEY, current_company_set, current_membership
from accounts.models import Company, Membership, Role, User
from accounts.selectors import membership_current, memberships_for_user
from tests.factories import CompanyFactory, MembershipFactory
from tests.statements import page_statements

pytestmark = pytest.mark.django_db


def test_the_user_is_the_orms_user(alice: User) -> None:
    loaded = UserBackend().get_user(alice.pk)
    assert loaded is not None
    orm = User.objects.get(pk=alice.pk)
    assert [getattr(loaded, f.attname) for f in User._meta.concrete_fields] == [
        getattr(orm, f.attname) for f in User._meta.concrete_fields
    ]
    assert loaded._state.adding is False
    assert UserBackend().get_user(alice.pk + 10_000) is None
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert UserBackend().get_user(alice.pk) is None


def test_a_deactivated_or_repassworded_user_is_logged_out(alice_client: Any, alice: User) -> None:
    start = reverse("accounts:start")
    assert alice_client.get(start).status_code == 200
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert alice_client.get(start).status_code == 302  # to the login page
    User.objects.filter(pk=alice.pk).update(is_active=True)
    assert alice_client.get(start).status_code == 200
    alice.set_password("a new password 123")
    alice.save()
    assert alice_client.get(start).status_code == 302  # the session's password hash no longer matches


def test_logging_in_records_this_backend(client: Any, alice: User, company_a: Company) -> None:
    alice.set_password("correct horse 42")
    alice.save()
    response = client.post(
        reverse("accounts:login"), {"username": alice.email, "password": "correct horse 42"}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_backend"] == "accounts.backends.UserBackend"
    request = RequestFactory().get("/")
    request.session = client.session
    assert get_user(request) == alice


def test_the_membership_is_the_chosen_one_else_the_first_by_name(alice: User, company_b: Company) -> None:
    assert membership_current(user=alice, company_uuid=None) is None
    zeta = MembershipFactory.create(
        user=alice, company=CompanyFactory.create(name="Zeta SA"), role=Role.VIEWER
    )
    alfa = MembershipFactory.create(
        user=alice, company=CompanyFactory.create(name="Alfa SA"), role=Role.OWNER
    )
    first = memberships_for_user(user=alice).first()
    assert first == alfa
    for chosen, expected in [
        (None, alfa),
        (str(zeta.company.uuid), zeta),
        (str(company_b.uuid), alfa),  # another tenant's company: never chosen
        ("not-a-uuid", alfa),
        ("", alfa),
    ]:
        membership = membership_current(user=alice, company_uuid=chosen)
        assert membership == expected
        orm = Membership.objects.select_related("company").get(pk=expected.pk)
        assert membership.role == orm.role
        assert membership.created_at == orm.created_at
        company_fields = [f.attname for f in Company._meta.concrete_fields]
        assert [getattr(membership.company, f) for f in company_fields] == [
            getattr(orm.company, f) for f in company_fields
        ]
        assert membership.user is alice


def test_the_session_choice_is_used_once_per_request(alice: User, django_assert_num_queries: Any) -> None:
    beta = MembershipFactory.create(user=alice, company=CompanyFactory.create(name="Beta SA"))
    MembershipFactory.create(user=alice, company=CompanyFactory.create(name="Alfa SA"))
    request = RequestFactory().get("/")
    request.user = alice
    request.session = {SESSION_KEY: str(beta.company.uuid)}  # type: ignore[assignment]
    with django_assert_num_queries(1):
        assert current_membership(request) == beta
        assert current_membership(request) == beta
        assert request._current_membership.company.name == "Beta SA"  # type: ignore[attr-defined]


def test_the_membership_is_one_statement_unless_the_session_names_a_company_left(
    alice: User, django_assert_num_queries: Any
) -> None:
    zeta = MembershipFactory.create(user=alice, company=CompanyFactory.create(name="Zeta SA"))
    alfa = MembershipFactory.create(user=alice, company=CompanyFactory.create(name="Alfa SA"))
    left = CompanyFactory.create(name="Opuszczona SA")  # not (or no longer) one of alice's companies
    for wanted, expected, statements in [
        (None, alfa, 1),
        (str(alfa.company.uuid), alfa, 1),
        (str(zeta.company.uuid), zeta, 1),
        ("not-a-uuid", alfa, 1),
        (str(left.uuid), alfa, 2),  # another tenant's company is never chosen: the first of her own is
    ]:
        with django_assert_num_queries(statements):
            membership = membership_current(user=alice, company_uuid=wanted)
            assert membership is not None
            assert membership.company.name == expected.company.name  # the company came with it
        assert membership == expected
        assert membership.user is alice


def test_a_user_without_a_company_then_with_one_in_the_same_request(alice: User) -> None:
    Membership.objects.filter(user=alice).delete()
    user = UserBackend().get_user(alice.pk)
    assert user is not None
    assert membership_current(user=user, company_uuid=None) is None
    user = UserBackend().get_user(alice.pk)
    assert user is not None
    created = MembershipFactory.create(user=alice, company=CompanyFactory.create(name="Nowa Sp. z o.o."))
    # The user was loaded before the company existed; the session now names it (the switcher, onboarding).
    assert membership_current(user=user, company_uuid=str(created.company.uuid)) == created


def test_the_company_switch_in_a_request_is_seen_in_that_request(alice: User) -> None:
    MembershipFactory.create(user=alice, company=CompanyFactory.create(name="Alfa SA"))
    zeta = MembershipFactory.create(user=alice, company=CompanyFactory.create(name="Zeta SA"))
    request = RequestFactory().get("/")
    request.user = UserBackend().get_user(alice.pk)  # type: ignore[assignment]
    request.session = {}  # type: ignore[assignment]
    first = current_membership(request)
    assert first is not None
    assert first.company.name == "Alfa SA"
    current_company_set(request, zeta.company)
    assert current_membership(request) == zeta


def test_a_list_page_costs_three_statements(alice_client: Any, company_a: Company) -> None:
    """The user, their membership with its company, and the page of invoices (and the session, where it is
    not cached)."""
    url = reverse("invoices:list")
    assert alice_client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as captured:
        assert alice_client.get(url).status_code == 200
    statements = page_statements(captured)
    assert len(statements) == 3
    assert "accounts_user" in statements[0]
    assert "accounts_membership" in statements[1]
    assert "invoices_invoice" in statements[2]
