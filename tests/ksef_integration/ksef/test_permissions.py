"""``KsefClient.permissions`` against the simulator over real HTTP: an owner grants an accounting office
InvoiceRead, the office (its own seal, the client's context) reads the client's invoices, the owner
revokes and the office is refused; operations, queries, paging and the errors' reasons and messages."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import responses

from ksef_integration.ksef.auth import PollPolicy
from ksef_integration.ksef.client import KsefClient
from ksef_integration.ksef.environments import simulator
from ksef_integration.ksef.errors import (
    KsefForbidden,
    KsefPermissionRefused,
    KsefTransientError,
    KsefUnauthorized,
)
from ksef_integration.ksef.identifiers import ContextIdentifier
from ksef_integration.ksef.invoices import InvoiceFilters
from ksef_integration.ksef.permissions import Identifier, Permissions, PersonsFilters
from ksef_integration.ksef.secret import Secret
from ksef_simulator.conf import config_update
from ksef_simulator.services_invoices import fa3_build, invoice_store_incoming
from tests.ksef_integration.ksef.conftest import BASE, rsa_key
from tests.ksef_integration.ksef.test_simulator import (
    certificate_login,
    mint_token,
    new_client,
    random_nip,
    seal,
)

pytestmark = pytest.mark.django_db(transaction=True)
_PESEL_WEIGHTS = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)


def random_pesel() -> str:
    born = f"{random.randint(50, 99):02d}{random.randint(1, 12):02d}{random.randint(1, 28):02d}"
    head = f"{born}{random.randint(0, 9999):04d}"
    return head + str((10 - sum(int(d) * w for d, w in zip(head, _PESEL_WEIGHTS, strict=True)) % 10) % 10)


@pytest.fixture
def sim_url(live_server: Any) -> str:
    config_update(auth_delay=0, token_activation_delay=0, permission_operation_delay=200)
    return str(live_server.url) + "/ksef-sim/v2"


def office_in(sim_url: str, client_nip: str, office_nip: str) -> KsefClient:
    client = new_client(sim_url)
    key = rsa_key(5)
    client.login_with_certificate(
        certificate=seal(office_nip, key), private_key=key, context=ContextIdentifier.nip(client_nip)
    )
    return client


def purchases(client: KsefClient) -> list[str]:
    filters = InvoiceFilters(
        subject_type="Subject2", date_type="Invoicing", date_from=datetime.now(tz=UTC) - timedelta(days=2)
    )
    return [invoice.ksef_number for invoice in client.invoices.metadata_query(filters=filters)]


def test_grant_read_revoke_an_accounting_office(sim_url: str) -> None:
    nip, office = random_nip(), random_nip()
    today = datetime.now(tz=UTC).date()
    ksef_number = invoice_store_incoming(
        xml_bytes=fa3_build(
            seller_nip=random_nip(),
            buyer_nip=nip,
            number="FV/1/2026",
            issue_date=today,
            net=Decimal("100.00"),
            seller_name="Dostawca",
        ),
        acquisition=datetime.now(tz=UTC) - timedelta(hours=1),
    )
    owner = certificate_login(sim_url, nip)
    reference = owner.permissions.grant_to_entity(
        nip=office,
        permissions={"InvoiceRead": False},
        description="Biuro rachunkowe",
        full_name="Biuro Rachunkowe Sp. z o.o.",
    )
    assert owner.permissions.operation_status(reference_number=reference).in_progress
    assert owner.permissions.operation_wait(reference_number=reference).succeeded

    as_office = office_in(sim_url, nip, office)
    assert purchases(as_office) == [ksef_number]
    # At home, the office sees what its client let it do.
    (received,) = office_in(sim_url, office, office).permissions.entities()
    assert (received.context, received.scope, received.can_delegate) == (
        Identifier("Nip", nip),
        "InvoiceRead",
        False,
    )

    (listed,) = owner.permissions.persons()
    assert (listed.authorized, listed.scope, listed.entity_name) == (
        Identifier("Nip", office),
        "InvoiceRead",
        "Biuro Rachunkowe Sp. z o.o.",
    )
    owner.permissions.operation_wait(reference_number=owner.permissions.revoke(permission_id=listed.id))
    assert list(owner.permissions.persons()) == []
    with pytest.raises((KsefUnauthorized, KsefForbidden)):
        purchases(as_office)


def test_no_credentials_manage_means_forbidden_with_reason_and_messages(sim_url: str) -> None:
    nip = random_nip()
    owner = certificate_login(sim_url, nip)
    token = mint_token(owner, ["InvoiceRead"])
    narrow = new_client(sim_url)
    narrow.login_with_token(token=token, context=ContextIdentifier.nip(nip))
    with pytest.raises(KsefForbidden) as refused:
        narrow.permissions.grant_to_person(
            identifier=Identifier("Pesel", random_pesel()), permissions=["InvoiceRead"],
            description="Księgowa", first_name="Anna", last_name="Nowak",
        )  # fmt: skip
    error = refused.value
    assert error.reason_code == "missing-permissions"
    assert error.required_permissions == ["CredentialsManage"]
    assert error.present_permissions == ["InvoiceRead"]
    assert "CredentialsManage" in error.message_pl
    assert "Brak uprawnień" in error.message_pl
    assert "CredentialsManage" in error.message_en


def test_person_grants_personal_view_and_refusals(sim_url: str) -> None:
    nip = random_nip()
    owner = certificate_login(sim_url, nip)
    pesel = random_pesel()
    owner.permissions.operation_wait(
        reference_number=owner.permissions.grant_to_person(
            identifier=Identifier("Pesel", pesel), permissions=["InvoiceWrite", "InvoiceRead"],
            description="Księgowa w firmie", first_name="Anna", last_name="Nowak",
        )
    )  # fmt: skip
    grants = list(owner.permissions.persons(filters=PersonsFilters(authorized=Identifier("Pesel", pesel))))
    assert sorted(g.scope for g in grants) == ["InvoiceRead", "InvoiceWrite"]
    assert {g.person_name for g in grants} == {"Anna Nowak"}
    assert {g.author for g in grants} == {Identifier("Nip", nip)}
    assert list(owner.permissions.personal()) == []  # the Owner is never a row
    # KSeF refuses granting the owner anything: the operation ends with 450.
    with pytest.raises(KsefPermissionRefused) as refused:
        owner.permissions.operation_wait(
            reference_number=owner.permissions.grant_to_person(
                identifier=Identifier("Nip", nip), permissions=["InvoiceRead"],
                description="Właściciel", first_name="Jan", last_name="Kowalski",
            )
        )  # fmt: skip
    assert (refused.value.code, refused.value.reason) == (450, "identifier_not_allowed")
    assert refused.value.message_pl.startswith("KSeF odmówił")
    assert refused.value.message_en.startswith("KSeF refused")
    # An indirect grant for a client that never delegated anything: 440.
    with pytest.raises(KsefPermissionRefused) as no_relation:
        owner.permissions.operation_wait(
            reference_number=owner.permissions.grant_indirect(
                identifier=Identifier("Pesel", pesel), permissions=["InvoiceRead"], client_nip=random_nip(),
                description="Obsługa klienta", first_name="Anna", last_name="Nowak",
            )
        )  # fmt: skip
    assert no_relation.value.reason == "relation"
    assert list(owner.permissions.roles()) == []


def test_pages_walk_every_grant(sim_url: str) -> None:
    config_update(permission_operation_delay=0)
    owner = certificate_login(sim_url, random_nip())
    pesels = {random_pesel() for _ in range(12)}
    for pesel in pesels:
        owner.permissions.grant_to_person(
            identifier=Identifier("Pesel", pesel), permissions=["InvoiceRead"],
            description="Pracownik", first_name="Jan", last_name="Nowak",
        )  # fmt: skip
    first = owner.permissions.persons_page(page_size=10)
    assert (len(first.items), first.has_more) == (10, True)
    assert {g.authorized.value for g in owner.permissions.persons(page_size=10) if g.authorized} == pesels


def test_arguments_are_checked_before_calling_ksef() -> None:
    client = KsefClient(environment=simulator(api_url=BASE))
    permissions = client.permissions
    with pytest.raises(ValueError, match="once"):
        permissions.grant_to_person(
            identifier=Identifier("Pesel", "1"),
            permissions=["InvoiceRead", "InvoiceRead"],
            description="Opis ok",
            first_name="A",
            last_name="B",
        )
    with pytest.raises(ValueError, match="not allowed"):
        permissions.grant_to_entity(
            nip="5260250274",
            permissions={"CredentialsManage": False},
            description="Opis ok",
            full_name="Firma sp. z o.o.",
        )
    with pytest.raises(ValueError, match="36"):
        permissions.revoke(permission_id="abc")


@responses.activate
def test_operation_wait_maps_500_550_and_timeouts() -> None:
    client = KsefClient(environment=simulator(api_url=BASE))
    waits = Permissions(
        http=client.http,
        bearer=lambda: Secret("t"),
        poll=PollPolicy(initial=0.01, timeout=0.05),
        sleep=lambda _: None,
    )
    url = f"{BASE}/permissions/operations/REF"
    responses.get(
        url, json={"status": {"code": 550, "description": "Operacja została anulowana przez system"}}
    )
    with pytest.raises(KsefTransientError):
        waits.operation_wait(reference_number="REF")
    responses.replace(
        responses.GET, url, json={"status": {"code": 100, "description": "Operacja przyjęta do realizacji"}}
    )
    with pytest.raises(KsefTransientError, match="still being processed"):
        waits.operation_wait(reference_number="REF")
    responses.replace(
        responses.GET, url, json={"status": {"code": 420, "description": "x", "details": ["brak"]}}
    )
    with pytest.raises(KsefPermissionRefused) as refused:
        waits.operation_wait(reference_number="REF")
    assert (refused.value.reason, refused.value.details) == ("not_allowed_for_credentials", ["brak"])
