"""A client served through its accounting office, against the simulator over real HTTP: the client's owner
grants the office's NIP InvoiceRead in KSeF (the simulator's Aplikacja Podatnika, where a client without
the portal does it); the office's user, owner of the office (connected with its own KSeF certificate) and
accountant of the client, chooses "Pobieraj przez biuro"; the import for the client logs in with the office's
certificate in the client's NIP context and brings the client's purchase invoices; once the client revokes
the office, the next import is refused and the client's KSeF page and Biuro say why."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape

from accounts.models import Company, Membership, Role, User
from invoices import services as invoice_services
from invoices.models import Direction, Invoice
from ksef_integration import errors
from ksef_integration.company_lock import company_lock
from ksef_integration.connect import services as connect_services
from ksef_integration.importing.services import company_import
from ksef_integration.models import (
    AuthMethod,
    ConnectionStatus,
    ImportRun,
    KsefConnection,
    Submission,
    SubmissionStatus,
)
from ksef_integration.sending import drain
from ksef_simulator import services_core, services_invoices
from ksef_simulator.conf import config_update
from ksef_simulator.models import SimGrant, SimInvoice
from tests.factories import MembershipFactory
from tests.invoices.factories import issue_data

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "haslo-biura-1"
SETTINGS = reverse("ksef_integration:settings")
VIA_OFFICE = reverse("ksef_integration:via_office")
OFFICE_PAGE = reverse("ksef_integration:office")


@pytest.fixture
def simulator(live_server: Any) -> Iterator[Any]:
    config_update(
        token_activation_delay=0, auth_delay=0, permission_operation_delay=0, invoice_processing_delay=0,
        permanent_storage_lag=0, hwm_lag=0,
    )  # fmt: skip
    with override_settings(KSEF_API_URL=f"{live_server.url}/ksef-sim/v2"):
        yield live_server


def connect_with_certificate(company: Company, user: User) -> KsefConnection:
    """``company`` connected with a KSeF certificate of its own seal, as an owner uploads it."""
    certificate, key, _serial = services_core.certificate_issue(
        nip=company.nip, kind="Authentication", key_type="EC", password=PASSWORD
    )
    return connect_services.connection_connect_certificate(
        company=company, user=user, certificate_bytes=certificate.encode(), private_key_bytes=key.encode(),
        password=PASSWORD,
    ).connection  # fmt: skip


class KsefApp:
    """The client's owner in the simulator's Aplikacja Podatnika (the Uprawnienia page)."""

    def __init__(self, nip: str) -> None:
        self.browser = Client()
        assert self.browser.post("/ksef-sim/", {"nip": nip}).status_code == 302

    def grant_office(self, office_nip: str, permissions: list[str]) -> None:
        entity = {
            "entity-nip": office_nip, "entity-full_name": "Biuro Rachunkowe Beta",
            "entity-permissions": permissions, "entity-description": "Obsługa księgowa",
        }  # fmt: skip
        assert self.browser.post("/ksef-sim/uprawnienia/podmiot/", entity).status_code == 302

    def revoke_office(self, office_nip: str) -> None:
        grants = SimGrant.objects.filter(authorized_value=office_nip)
        assert grants.exists()
        for grant in grants:
            assert self.browser.post(f"/ksef-sim/uprawnienia/{grant.grant_id}/odbierz/").status_code == 302


@pytest.fixture
def office(simulator: Any, company_b: Company, bob: User, company_a: Company) -> Company:
    """Beta (Bob's) is the accounting office, on its own certificate; Bob keeps Alfa's books."""
    connect_with_certificate(company_b, bob)
    MembershipFactory.create(user=bob, company=company_a, role=Role.ACCOUNTANT)
    return company_b


def work_in(browser: Any, user: User, company: Company) -> Any:
    """``user``'s browser, working in ``company`` (the switcher under Więcej)."""
    browser.force_login(user)
    assert browser.post(reverse("accounts:company_switch", args=[company.uuid])).status_code == 302
    return browser


@pytest.fixture
def bob_in_client(office: Company, client: Any, bob: User, company_a: Company) -> Any:
    return work_in(client, bob, company_a)


def _purchases(nip: str, count: int) -> list[str]:
    today = timezone.localdate()
    return services_invoices.invoices_generate(
        buyer_nip=nip, count=count, date_from=today - dt.timedelta(days=3), date_to=today, sellers=2
    )


def _work_through_office(browser: Any, office: Company) -> Any:
    html = browser.get(SETTINGS).content.decode()
    assert 'id="via-office"' in html
    assert f'value="{office.uuid}"' in html
    return browser.post(VIA_OFFICE, {"office": str(office.uuid)}, follow=True)


def test_the_office_imports_with_its_own_certificate_until_the_client_revokes(
    office: Company, company_a: Company, bob_in_client: Any
) -> None:
    ksef_app = KsefApp(company_a.nip)
    ksef_app.grant_office(office.nip, ["InvoiceRead"])

    response = _work_through_office(bob_in_client, office)
    assert response.status_code == 200
    connection = KsefConnection.objects.get(company=company_a)
    assert (connection.status, connection.method, connection.via_office_id) == (
        ConnectionStatus.ACTIVE,
        AuthMethod.OFFICE,
        office.pk,
    )
    assert connection.permissions == ["InvoiceRead"]  # what KSeF lists for the office there, nothing more
    assert not connection.token_ciphertext  # no secret of its own
    assert not connection.private_key_ciphertext
    assert connection.access_token_ciphertext  # the office's session in the client's context
    html = bob_in_client.get(SETTINGS).content.decode()
    method = re.search(r'id="ksef-method">(.*?)</dd>', html, flags=re.S)
    assert method is not None
    assert office.nip in method.group(1)
    office_connection = KsefConnection.objects.get(company=office)  # untouched
    assert office_connection.method == AuthMethod.CERTIFICATE
    assert office_connection.status == ConnectionStatus.ACTIVE

    numbers = _purchases(company_a.nip, 5)
    result = company_import(company_id=company_a.pk)
    assert (result.status, result.invoices_new) == (ImportRun.Status.SUCCEEDED, 5)
    imported = Invoice.objects.filter(company=company_a, direction=Direction.PURCHASE)
    assert sorted(str(n) for n in imported.values_list("ksef_number", flat=True)) == sorted(numbers)
    assert not Invoice.objects.filter(company=office).exists()  # nothing lands in the office's books

    ksef_app.revoke_office(office.nip)
    late = _purchases(company_a.nip, 1)
    refused = company_import(company_id=company_a.pk)
    assert refused.status == ImportRun.Status.FAILED
    assert not Invoice.objects.filter(company=company_a, ksef_number__in=late).exists()
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.ATTENTION
    assert connection.permissions == []
    # Why, naming both sides (the Polish text comes from the catalogue: the same msgid under "pl").
    assert office.nip in refused.error
    assert company_a.name in refused.error
    assert office.name in refused.error
    with translation.override("pl"):
        expected = errors.office_not_granted(office.name, office.nip, company_a.name).message
    assert refused.error == expected == connection.attention_reason
    assert escape(expected) in bob_in_client.get(SETTINGS).content.decode()
    biuro = bob_in_client.get(OFFICE_PAGE).content.decode()
    card = re.search(rf'id="client-{company_a.nip}"(.*?)</tr>', biuro, re.S)
    assert card is not None
    assert 'data-health="no_permissions"' in card.group(0)
    # The fan-out leaves it alone until someone acts: no login is tried again and again.
    assert not KsefConnection.objects.get(company=company_a).can_import

    # The client grants again; "Połącz przez biuro ponownie" brings it back and the next import catches up.
    ksef_app.grant_office(office.nip, ["InvoiceRead"])
    _work_through_office(bob_in_client, office)
    assert company_import(company_id=company_a.pk).invoices_new == 1


def test_without_the_clients_grant_nothing_is_stored_and_the_reason_is_shown(
    office: Company, company_a: Company, bob_in_client: Any
) -> None:
    response = _work_through_office(bob_in_client, office)
    assert response.status_code == 200
    assert not KsefConnection.objects.filter(company=company_a).exists()
    html = response.content.decode()
    assert office.nip in html  # "No permissions: Alfa … NIP …"
    assert escape(company_a.name) in html


def test_an_office_on_a_token_is_not_offered(
    simulator: Any, company_a: Company, company_b: Company, bob: User, client: Any
) -> None:
    MembershipFactory.create(user=bob, company=company_a, role=Role.ACCOUNTANT)
    bob_in_client = work_in(client, bob, company_a)
    _, token = services_core.token_generate(
        nip=company_b.nip, permissions=["InvoiceRead", "InvoiceWrite"], description="biuro"
    )
    connect_services.connection_connect_token(company=company_b, user=bob, raw_token=token)
    KsefApp(company_a.nip).grant_office(company_b.nip, ["InvoiceRead"])
    assert 'id="via-office"' not in bob_in_client.get(SETTINGS).content.decode()
    assert bob_in_client.post(VIA_OFFICE, {"office": str(company_b.uuid)}).status_code == 404
    assert bob_in_client.post(VIA_OFFICE, {"office": "not-a-uuid"}).status_code == 404
    assert not KsefConnection.objects.filter(company=company_a).exists()


def test_only_an_owner_of_the_office_may_lend_its_certificate(
    simulator: Any, company_a: Company, company_b: Company, bob: User, alice: User, alice_client: Any
) -> None:
    """Alice owns the client but not the office: she cannot make Beta's certificate work for Alfa."""
    connect_with_certificate(company_b, bob)
    KsefApp(company_a.nip).grant_office(company_b.nip, ["InvoiceRead"])
    assert 'id="via-office"' not in alice_client.get(SETTINGS).content.decode()
    assert alice_client.post(VIA_OFFICE, {"office": str(company_b.uuid)}).status_code == 404
    assert not KsefConnection.objects.filter(company=company_a).exists()


def test_a_viewer_of_the_client_cannot(office: Company, company_a: Company, bob: User, client: Any) -> None:
    Membership.objects.filter(user=bob, company=company_a).update(role=Role.VIEWER)
    work_in(client, bob, company_a)
    assert client.post(VIA_OFFICE, {"office": str(office.uuid)}).status_code == 403
    assert not KsefConnection.objects.filter(company=company_a).exists()


def test_the_conversation_is_the_clients_so_the_clients_lock_is_taken(
    office: Company, company_a: Company, bob_in_client: Any
) -> None:
    """One KSeF conversation per company: the office's import for Alfa talks in Alfa's context, so it waits
    for Alfa's lock (a drain of Alfa's queue), not for Beta's (Beta's own conversations are in Beta's
    context)."""
    KsefApp(company_a.nip).grant_office(office.nip, ["InvoiceRead"])
    _work_through_office(bob_in_client, office)
    _purchases(company_a.nip, 2)
    with company_lock(company_a.pk) as held:
        assert held is not None
        assert company_import(company_id=company_a.pk).status == "busy"
    with company_lock(office.pk) as held:
        assert held is not None
        assert company_import(company_id=company_a.pk).invoices_new == 2


def test_an_office_that_disconnected_stops_serving_its_clients(
    office: Company, company_a: Company, bob: User, bob_in_client: Any
) -> None:
    KsefApp(company_a.nip).grant_office(office.nip, ["InvoiceRead"])
    _work_through_office(bob_in_client, office)
    connect_services.connection_disconnect(company=office, user=bob)
    result = company_import(company_id=company_a.pk)
    assert result.status == ImportRun.Status.FAILED
    assert office.name in result.error
    connection = KsefConnection.objects.get(company=company_a)
    assert connection.status == ConnectionStatus.ATTENTION
    assert connection.attention_reason == result.error


def test_an_office_granted_invoice_write_sends_the_clients_sales_invoices(
    office: Company, company_a: Company, bob_in_client: Any
) -> None:
    """InvoiceWrite granted to the office's NIP: the client's issued invoice goes to KSeF in the client's
    name (the simulator holds it under the client's NIP as the seller), sent with the office's certificate."""

    KsefApp(company_a.nip).grant_office(office.nip, ["InvoiceRead", "InvoiceWrite"])
    _work_through_office(bob_in_client, office)
    connection = KsefConnection.objects.get(company=company_a)
    assert connection.permissions == ["InvoiceRead", "InvoiceWrite"]
    assert connection.can_send
    today = timezone.localdate()
    invoice = invoice_services.invoice_issue(
        company=company_a, user=None, data=issue_data(issue_date=today, sale_date=today, due_date=today)
    )
    submission = Submission.objects.get(invoice=invoice)  # automatic sending: issuing queued it
    drain.submission_send(submission_id=submission.pk)
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.ACCEPTED
    assert SimInvoice.objects.filter(seller_nip=company_a.nip, ksef_number=submission.ksef_number).exists()
