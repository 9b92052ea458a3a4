"""Dane i ustawienia → KSeF → Uprawnienia against the simulator over real HTTP: an owner grants an accounting
office InvoiceRead, the worker's part (called directly, as the worker would) grants it in KSeF and the page
lists the office with since when; "Odbierz" revokes it; a token without CredentialsManage gets the reason
and no forms; KSeF's refusal is shown in Polish; a double submit grants once; only owners get in; the htmx
poll stops when nothing is pending."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.utils.html import escape

from accounts.models import Company, Membership, Role, User
from ksef_integration import queue, tasks
from ksef_integration.models import AuditEvent, KsefGrant, PermissionChange, PermissionSnapshot
from ksef_simulator.models import SimGrant
from tests.conftest import add_member
from tests.factories import valid_nip
from tests.ksef_integration.ksef.test_permissions import random_pesel
from tests.permissions.conftest import PAGE, office_form, person_form

pytestmark = pytest.mark.django_db(transaction=True)
Status = PermissionChange.Status


def _run_all(queued: Any) -> list[str]:
    """What the worker would do with the queued permission work (changes, then refreshes)."""
    outcomes = [tasks.permission_change(change_id) for (change_id,) in queued.args(queue.PERMISSION_CHANGE)]
    outcomes += [
        tasks.permissions_refresh(company_id) for (company_id,) in queued.args(queue.PERMISSIONS_REFRESH)
    ]
    queued.messages.clear()
    return outcomes


def test_owner_grants_an_office_read_then_revokes_it(
    managing: Company, alice_client: Any, queued: Any
) -> None:
    page = alice_client.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="grant-office"' in html
    assert 'id="grant-person"' in html
    assert 'id="permissions-cannot-manage"' not in html
    assert queued.args(queue.PERMISSIONS_REFRESH) == [(managing.pk,)]  # opening the page reads KSeF
    _run_all(queued)

    office = valid_nip()
    response = alice_client.post(PAGE + "nadaj-biuru/", office_form(office))
    assert response.status_code == 302
    change = PermissionChange.objects.get(company=managing)
    assert (change.kind, change.status, change.permissions) == (
        "grant_entity",
        Status.PENDING,
        ["InvoiceRead"],
    )
    assert queued.args(queue.PERMISSION_CHANGE) == [(change.pk,)]
    live = alice_client.get(PAGE + "stan/").content.decode()
    assert 'hx-trigger="every 2s"' in live
    assert f'id="change-{change.uuid}"' in live

    assert _run_all(queued) == [Status.DONE]
    change.refresh_from_db()
    assert (change.status, change.error_message) == (Status.DONE, "")
    assert change.operation_reference.startswith("20")  # KSeF's EG reference, kept
    grant = KsefGrant.objects.get(company=managing)
    assert (grant.subject, grant.identifier_value, grant.scope) == ("entity", office, "InvoiceRead")
    assert grant.name == "Biuro Rachunkowe Liczykrupa sp. z o.o."
    assert grant.author_value == managing.nip
    html = alice_client.get(PAGE).content.decode()
    assert f'data-identifier="{office}"' in html
    assert grant.start_date.astimezone().strftime("%d.%m.%Y") in html  # since when
    assert "hx-trigger" not in html  # nothing pending: no polling
    messages = list(
        AuditEvent.objects.filter(company=managing, kind="permissions_changed").values_list(
            "message", flat=True
        )
    )
    assert len(messages) == 2
    assert all(office in m for m in messages)  # asked for, then done

    response = alice_client.post(f"{PAGE}{grant.permission_id}/odbierz/")
    assert response.status_code == 302
    alice_client.post(f"{PAGE}{grant.permission_id}/odbierz/")  # a double click revokes once
    revoke = PermissionChange.objects.get(company=managing, kind="revoke")
    assert revoke.permission_id == str(grant.permission_id)
    html = alice_client.get(PAGE).content.decode()
    assert 'class="permission-revoking"' in html
    assert f"{grant.permission_id}/odbierz/" not in html  # no second "Odbierz" while it is on its way
    assert _run_all(queued) == [Status.DONE]
    assert not KsefGrant.objects.filter(company=managing).exists()
    assert not SimGrant.objects.filter(context_nip=managing.nip).exists()
    assert f'data-identifier="{office}"' not in alice_client.get(PAGE).content.decode()


def test_a_double_submit_grants_once(managing: Company, alice_client: Any, queued: Any) -> None:
    key = uuid.uuid4()
    office = valid_nip()
    for _ in range(3):
        assert (
            alice_client.post(
                PAGE + "nadaj-biuru/", office_form(office, key=key, write=True, delegate=True)
            ).status_code
            == 302
        )
    assert PermissionChange.objects.filter(company=managing).count() == 1
    assert len(queued.args(queue.PERMISSION_CHANGE)) == 1
    _run_all(queued)
    grants = SimGrant.objects.filter(context_nip=managing.nip, authorized_value=office)
    assert sorted((g.permission, g.can_delegate) for g in grants) == [
        ("InvoiceRead", True),
        ("InvoiceWrite", True),
    ]
    assert KsefGrant.objects.filter(company=managing, can_delegate=True).count() == 2


def test_a_person_by_pesel(managing: Company, alice_client: Any, queued: Any) -> None:
    pesel = random_pesel()
    assert alice_client.post(PAGE + "nadaj-osobie/", person_form(pesel)).status_code == 302
    _run_all(queued)
    grants = KsefGrant.objects.filter(company=managing, identifier_type="Pesel", identifier_value=pesel)
    assert sorted(g.scope for g in grants) == ["InvoiceRead", "InvoiceWrite"]
    assert {g.name for g in grants} == {"Anna Nowak"}
    html = alice_client.get(PAGE).content.decode()
    assert f"PESEL {pesel}" in html
    assert "alice@example.com" in html  # who asked for it in the portal


def test_ksef_refusing_shows_the_reason_in_polish(managing: Company, alice_client: Any, queued: Any) -> None:
    # The owner's own NIP: KSeF ends the operation with 450 (the owner has every permission already).
    alice_client.post(PAGE + "nadaj-osobie/", person_form(managing.nip))
    assert _run_all(queued) == [Status.REFUSED]
    change = PermissionChange.objects.get(company=managing)
    assert change.status == Status.REFUSED
    assert change.error_message.startswith("KSeF odmówił")
    html = alice_client.get(PAGE).content.decode()
    assert escape(change.error_message) in html
    assert 'data-status="refused"' in html
    assert not KsefGrant.objects.filter(company=managing).exists()


def test_bad_identifiers_are_refused_by_the_form(managing: Company, alice_client: Any, queued: Any) -> None:
    pesel = random_pesel()
    broken = pesel[:-1] + str((int(pesel[-1]) + 1) % 10)
    response = alice_client.post(PAGE + "nadaj-osobie/", person_form(broken))
    assert response.status_code == 200
    assert "PESEL" in response.content.decode()
    nip = valid_nip()
    response = alice_client.post(PAGE + "nadaj-biuru/", office_form(nip[:-1] + str((int(nip[-1]) + 1) % 10)))
    assert response.status_code == 200
    data = office_form(valid_nip())
    del data["office-invoice_read"]
    assert alice_client.post(PAGE + "nadaj-biuru/", data).status_code == 200  # no permission chosen
    assert not PermissionChange.objects.exists()
    assert queued.args(queue.PERMISSION_CHANGE) == []


def test_a_token_without_credentials_manage_cannot_grant(
    not_managing: Company, alice_client: Any, queued: Any
) -> None:
    html = alice_client.get(PAGE).content.decode()
    assert 'id="permissions-cannot-manage"' in html
    assert "CredentialsManage" in html
    assert 'id="grant-office"' not in html
    assert 'id="grant-person"' not in html
    response = alice_client.post(PAGE + "nadaj-biuru/", office_form(valid_nip()), follow=True)
    assert "CredentialsManage" in response.content.decode()
    assert not PermissionChange.objects.exists()
    assert queued.args(queue.PERMISSION_CHANGE) == []
    # Reading needs CredentialsRead or CredentialsManage too: the page says why the list is empty.
    _run_all(queued)
    snapshot = PermissionSnapshot.objects.get(company=not_managing)
    assert "CredentialsRead" in snapshot.error_message
    assert 'id="permissions-read-error"' in alice_client.get(PAGE).content.decode()


def test_ksef_itself_refusing_a_grant_without_credentials_manage(
    managing: Company, alice_client: Any, queued: Any
) -> None:
    """The connection lost CredentialsManage after the page was rendered: KSeF answers 403 and the row says
    what is needed."""
    alice_client.post(PAGE + "nadaj-biuru/", office_form(valid_nip()))
    SimGrant.objects.all().delete()
    from ksef_integration.models import KsefConnection
    from ksef_simulator.models import KsefToken as SimToken

    SimToken.objects.filter(context_value=managing.nip).update(permissions=["InvoiceRead", "InvoiceWrite"])
    KsefConnection.objects.filter(company=managing).update(
        access_token_ciphertext="",
        refresh_token_ciphertext="",
        access_valid_until=None,
        refresh_valid_until=None,
    )
    assert _run_all(queued)[0] == Status.REFUSED
    change = PermissionChange.objects.get(company=managing)
    assert "CredentialsManage" in change.error_message
    assert KsefConnection.objects.get(company=managing).permissions  # nothing else changed


def test_opening_the_page_refreshes_only_an_old_snapshot(
    managing: Company, alice_client: Any, queued: Any
) -> None:
    alice_client.get(PAGE)
    alice_client.get(PAGE)
    assert queued.args(queue.PERMISSIONS_REFRESH) == [(managing.pk,)]  # once while it is on its way
    assert 'hx-trigger="every 2s"' in alice_client.get(PAGE + "stan/").content.decode()
    assert _run_all(queued) == ["refreshed"]
    assert "hx-trigger" not in alice_client.get(PAGE + "stan/").content.decode()
    alice_client.get(PAGE)
    assert queued.args(queue.PERMISSIONS_REFRESH) == []  # fresh: nothing to read
    alice_client.post(PAGE + "odswiez/")
    assert queued.args(queue.PERMISSIONS_REFRESH) == [(managing.pk,)]  # "Odśwież" reads again


@pytest.mark.parametrize("role", [Role.ACCOUNTANT, Role.VIEWER])
def test_only_owners(managing: Company, client: Any, role: str, queued: Any) -> None:
    member = add_member(managing, role, f"{role}@example.com")
    client.force_login(member.user)
    grant = KsefGrant.objects.create(
        company=managing, permission_id=uuid.uuid4(), subject="entity", identifier_type="Nip",
        identifier_value=valid_nip(), scope="InvoiceRead", state="Active", start_date="2026-01-01T00:00Z",
    )  # fmt: skip
    assert client.get(PAGE).status_code == 403
    assert client.get(PAGE + "stan/").status_code == 403
    assert client.post(PAGE + "nadaj-biuru/", office_form(valid_nip())).status_code == 403
    assert client.post(PAGE + "nadaj-osobie/", person_form(random_pesel())).status_code == 403
    assert client.post(f"{PAGE}{grant.permission_id}/odbierz/").status_code == 403
    assert client.post(PAGE + "odswiez/").status_code == 403
    assert not PermissionChange.objects.exists()
    assert queued.messages == []


def test_another_companys_grant_is_404(managing: Company, alice_client: Any, company_b: Company) -> None:
    theirs = KsefGrant.objects.create(
        company=company_b, permission_id=uuid.uuid4(), subject="entity", identifier_type="Nip",
        identifier_value=valid_nip(), scope="InvoiceRead", state="Active", start_date="2026-01-01T00:00Z",
    )  # fmt: skip
    assert alice_client.post(f"{PAGE}{theirs.permission_id}/odbierz/").status_code == 404
    assert alice_client.post(f"{PAGE}{uuid.uuid4()}/odbierz/").status_code == 404
    assert not PermissionChange.objects.exists()


def test_the_settings_page_links_here(managing: Company, alice_client: Any) -> None:
    html = alice_client.get("/ustawienia/ksef/").content.decode()
    assert f'href="{PAGE}"' in html


def test_inviting_an_accountant_grants_in_ksef(
    managing: Company, alice_client: Any, alice: User, queued: Any
) -> None:
    pesel = random_pesel()
    response = alice_client.post(
        "/ustawienia/uzytkownicy/",
        {
            "email": "ksiegowa@example.com", "role": Role.ACCOUNTANT, "ksef_grant": "on",
            "ksef_identifier": pesel, "ksef_first_name": "Ewa", "ksef_last_name": "Księgowa",
        },
    )  # fmt: skip
    assert response.status_code == 302
    change = PermissionChange.objects.get(company=managing)
    assert (change.source, change.identifier_type, change.identifier_value) == ("invitation", "Pesel", pesel)
    assert sorted(change.permissions) == ["InvoiceRead", "InvoiceWrite"]
    assert change.requested_by == alice
    _run_all(queued)
    grants = KsefGrant.objects.filter(company=managing, identifier_value=pesel)
    assert sorted(g.scope for g in grants) == ["InvoiceRead", "InvoiceWrite"]
    assert {g.name for g in grants} == {"Ewa Księgowa"}


def test_the_invitation_checks_the_ksef_part(managing: Company, alice_client: Any, queued: Any) -> None:
    base = {
        "email": "k@example.com",
        "role": Role.ACCOUNTANT,
        "ksef_grant": "on",
        "ksef_first_name": "Ewa",
        "ksef_last_name": "Nowak",
    }
    assert (
        alice_client.post("/ustawienia/uzytkownicy/", {**base, "ksef_identifier": "12345"}).status_code == 200
    )
    assert (
        alice_client.post(
            "/ustawienia/uzytkownicy/", {**base, "ksef_identifier": random_pesel(), "role": Role.VIEWER}
        ).status_code
        == 200
    )
    assert not PermissionChange.objects.exists()
    # Without the tick nothing is asked of KSeF.
    assert (
        alice_client.post(
            "/ustawienia/uzytkownicy/", {"email": "v@example.com", "role": Role.ACCOUNTANT}
        ).status_code
        == 302
    )
    assert not PermissionChange.objects.exists()


def test_an_invitation_while_the_connection_cannot_grant_says_why(
    not_managing: Company, alice_client: Any, queued: Any
) -> None:
    response = alice_client.post(
        "/ustawienia/uzytkownicy/",
        {"email": "k@example.com", "role": Role.ACCOUNTANT, "ksef_grant": "on",
         "ksef_identifier": random_pesel(), "ksef_first_name": "Ewa", "ksef_last_name": "Nowak"},
    )  # fmt: skip
    assert response.status_code == 302  # the invitation stands
    change = PermissionChange.objects.get(company=not_managing)
    assert change.status == Status.REFUSED
    assert "CredentialsManage" in change.error_message
    assert queued.args(queue.PERMISSION_CHANGE) == []
    assert escape(change.error_message) in alice_client.get(PAGE).content.decode()


def _invite_and_grant(managing: Company, alice_client: Any, queued: Any, email: str) -> tuple[str, Any]:
    """An accountant invited with "nadaj też uprawnienia w KSeF", granted by the worker, who then joined."""
    pesel = random_pesel()
    alice_client.post(
        "/ustawienia/uzytkownicy/",
        {"email": email, "role": Role.ACCOUNTANT, "ksef_grant": "on", "ksef_identifier": pesel,
         "ksef_first_name": "Ewa", "ksef_last_name": "Księgowa"},
    )  # fmt: skip
    _run_all(queued)
    assert KsefGrant.objects.filter(company=managing, identifier_value=pesel).count() == 2
    member = add_member(managing, Role.ACCOUNTANT, email)
    return pesel, member


def test_removing_a_member_offers_to_revoke_their_ksef_permissions(
    managing: Company, alice_client: Any, alice: User, queued: Any
) -> None:
    pesel, member = _invite_and_grant(managing, alice_client, queued, "ewa@example.com")
    html = alice_client.get("/ustawienia/uzytkownicy/").content.decode()
    form = re.search(rf'id="remove-{member.uuid}"(.*?)</form>', html, flags=re.S)
    assert form is not None
    assert 'name="ksef_revoke"' in form.group(1)  # offered, not ticked
    assert 'name="ksef_revoke" checked' not in form.group(1)

    response = alice_client.post(
        f"/ustawienia/uzytkownicy/{member.uuid}/usun/", {"ksef_revoke": "on", "ksef_identifier": pesel}
    )
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=member.pk).exists()
    revokes = PermissionChange.objects.filter(company=managing, kind="revoke")
    assert sorted(r.permissions[0] for r in revokes) == ["InvoiceRead", "InvoiceWrite"]
    assert {(r.source, r.identifier_value, r.requested_by_id) for r in revokes} == {
        ("removal", pesel, alice.pk)
    }
    assert sorted(queued.args(queue.PERMISSION_CHANGE)) == sorted((r.pk,) for r in revokes)
    assert set(_run_all(queued)) == {Status.DONE}
    assert not KsefGrant.objects.filter(company=managing, identifier_value=pesel).exists()
    assert not SimGrant.objects.filter(context_nip=managing.nip, authorized_value=pesel).exists()


def test_removing_without_the_tick_leaves_ksef_alone(
    managing: Company, alice_client: Any, queued: Any
) -> None:
    pesel, member = _invite_and_grant(managing, alice_client, queued, "ewa@example.com")
    assert alice_client.post(f"/ustawienia/uzytkownicy/{member.uuid}/usun/").status_code == 302
    assert not Membership.objects.filter(pk=member.pk).exists()
    assert not PermissionChange.objects.filter(kind="revoke").exists()
    assert queued.args(queue.PERMISSION_CHANGE) == []
    assert SimGrant.objects.filter(context_nip=managing.nip, authorized_value=pesel).count() == 2


def test_a_bad_identifier_removes_nobody(managing: Company, alice_client: Any, queued: Any) -> None:
    _pesel, member = _invite_and_grant(managing, alice_client, queued, "ewa@example.com")
    response = alice_client.post(
        f"/ustawienia/uzytkownicy/{member.uuid}/usun/", {"ksef_revoke": "on", "ksef_identifier": "12345"},
        follow=True,
    )  # fmt: skip
    assert response.status_code == 200
    assert Membership.objects.filter(pk=member.pk).exists()
    assert not PermissionChange.objects.filter(kind="revoke").exists()


def test_removing_while_the_connection_cannot_revoke_says_why(
    not_managing: Company, alice_client: Any, queued: Any
) -> None:
    member = add_member(not_managing, Role.ACCOUNTANT, "ewa@example.com")
    pesel = random_pesel()
    response = alice_client.post(
        f"/ustawienia/uzytkownicy/{member.uuid}/usun/", {"ksef_revoke": "on", "ksef_identifier": pesel}
    )
    assert response.status_code == 302  # the removal stands
    assert not Membership.objects.filter(pk=member.pk).exists()
    change = PermissionChange.objects.get(company=not_managing)
    assert (change.kind, change.status, change.source) == ("revoke", Status.REFUSED, "removal")
    assert "CredentialsManage" in change.error_message
    assert queued.args(queue.PERMISSION_CHANGE) == []
    assert escape(change.error_message) in alice_client.get(PAGE).content.decode()
