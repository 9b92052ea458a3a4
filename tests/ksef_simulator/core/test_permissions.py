"""The simulator's permissions API: grants to persons and entities, indirect grants, revocation, the EG
operations, the queries; and that a grant really opens (and its revocation closes) another subject's way into
a context, with its own certificate or a token it generated there."""

from __future__ import annotations

import base64
import datetime as dt
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ksef_simulator import ids, services_permissions
from ksef_simulator.conf import config_update
from ksef_simulator.models import SimGrant
from ksef_simulator.services_invoices import invoice_store_incoming
from tests.ksef_simulator.core.conftest import (
    V2,
    Session,
    bearer,
    login_token,
    login_xades,
    post_json,
    random_nip,
    redeem,
    self_signed,
    start_xades,
    wait_status,
)
from tests.ksef_simulator.core.spec import assert_response_matches
from tests.ksef_simulator.invoices import fa3
from tests.ksef_simulator.invoices.conftest import Ksef, aes, sha

PERSON_DETAILS: dict[str, object] = {
    "subjectDetailsType": "PersonByIdentifier",
    "personById": {"firstName": "Anna", "lastName": "Nowak"},
}
_PESEL_WEIGHTS = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)


def random_pesel() -> str:
    year, month, day = random.randint(50, 99), random.randint(1, 12), random.randint(1, 28)
    head = f"{year:02d}{month:02d}{day:02d}{random.randint(0, 9999):04d}"
    check = (10 - sum(int(d) * w for d, w in zip(head, _PESEL_WEIGHTS, strict=True)) % 10) % 10
    return head + str(check)


def grant_entity(client: Any, session: Session, office: str, *, permissions: list[tuple[str, bool]]) -> str:
    body = {
        "subjectIdentifier": {"type": "Nip", "value": office},
        "permissions": [{"type": p, "canDelegate": d} for p, d in permissions],
        "description": "Biuro rachunkowe klienta",
        "subjectDetails": {"fullName": "Biuro Rachunkowe Sp. z o.o."},
    }
    response = post_json(client, "/permissions/entities/grants", body, **bearer(session.access_token))
    return str(assert_response_matches(response, "POST", "/permissions/entities/grants")["referenceNumber"])


def grant_person(client: Any, session: Session, kind: str, value: str, permissions: list[str]) -> Any:
    body = {
        "subjectIdentifier": {"type": kind, "value": value},
        "permissions": permissions,
        "description": "Pracownik działu księgowości",
        "subjectDetails": PERSON_DETAILS,
    }
    return post_json(client, "/permissions/persons/grants", body, **bearer(session.access_token))


def operation(client: Any, session: Session, reference: str) -> dict[str, Any]:
    response = client.get(f"{V2}/permissions/operations/{reference}", **bearer(session.access_token))
    return assert_response_matches(response, "GET", "/permissions/operations/{referenceNumber}")


def query(client: Any, session: Session, path: str, body: dict[str, Any], params: str = "") -> dict[str, Any]:
    response = post_json(client, f"{path}{params}", body, **bearer(session.access_token))
    return assert_response_matches(response, "POST", path)


def persons_in_context(client: Any, session: Session, params: str = "") -> dict[str, Any]:
    body = {"queryType": "PermissionsInCurrentContext"}
    return query(client, session, "/permissions/query/persons/grants", body, params)


def metadata(client: Any, session: Session) -> Any:
    now = dt.datetime.now(dt.UTC)
    filters = {
        "subjectType": "Subject2",
        "dateRange": {"dateType": "Invoicing", "from": (now - dt.timedelta(days=2)).isoformat()},
    }
    return post_json(client, "/invoices/query/metadata", filters, **bearer(session.access_token))


@pytest.fixture(autouse=True)
def instant_operations(db: Any) -> None:
    config_update(permission_operation_delay=0)


# --- the accounting office ---------------------------------------------------------------------------


def test_an_office_granted_invoice_read_reads_the_clients_invoices_until_revoked(
    client: Any, owner: Session, nip: str
) -> None:
    office = random_nip()
    ksef_number = invoice_store_incoming(
        xml_bytes=fa3.invoice(seller=random_nip(), buyer=nip, number=fa3.number()),
        acquisition=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
    )
    seal = self_signed(nip=office, seal=True)
    # Before any grant the office's own seal gets nowhere in the client's context.
    init = start_xades(client, nip, seal).json()
    assert (
        wait_status(client, init["referenceNumber"], init["authenticationToken"]["token"])["status"]["code"]
        == 415
    )

    reference = grant_entity(client, owner, office, permissions=[("InvoiceRead", False)])
    assert ids.reference_number_is_valid(reference)
    assert reference[9:11] == "EG"
    assert operation(client, owner, reference)["status"]["code"] == 200

    as_office = login_xades(client, nip, seal)
    found = assert_response_matches(metadata(client, as_office), "POST", "/invoices/query/metadata")
    assert [i["ksefNumber"] for i in found["invoices"]] == [ksef_number]
    # ... and runs an export of them.
    encryption = Ksef(client=client, nip=nip, permissions=[]).encryption()
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).isoformat()
    export = {
        "encryption": encryption,
        "filters": {"subjectType": "Subject2", "dateRange": {"dateType": "Invoicing", "from": since}},
    }
    exported = post_json(client, "/invoices/exports", export, **bearer(as_office.access_token))
    assert exported.status_code == 201, exported.content
    assert_response_matches(exported, "POST", "/invoices/exports")
    # InvoiceRead is not InvoiceWrite: no session, with the spec's missing-permissions body.
    denied = post_json(client, "/sessions/online", {}, **bearer(as_office.access_token))
    body = assert_response_matches(denied, "POST", "/sessions/online")
    assert denied.status_code == 403
    assert body["reasonCode"] == "missing-permissions"
    assert body["security"] == {
        "requiredAnyOfPermissions": ["EnforcementOperations", "InvoiceWrite", "PefInvoiceWrite"],
        "presentPermissions": ["InvoiceRead"],
    }

    # The office sees what it received; the client sees whom it granted.
    received = query(client, login_xades(client, office, seal), "/permissions/query/entities/grants", {})
    assert [(p["contextIdentifier"]["value"], p["permissionScope"]) for p in received["permissions"]] == [
        (nip, "InvoiceRead")
    ]
    listed = persons_in_context(client, owner)["permissions"]
    assert [(p["authorizedIdentifier"]["value"], p["permissionScope"]) for p in listed] == [
        (office, "InvoiceRead")
    ]
    assert listed[0]["subjectEntityDetails"]["fullName"] == "Biuro Rachunkowe Sp. z o.o."

    revoke = client.delete(f"{V2}/permissions/common/grants/{listed[0]['id']}", **bearer(owner.access_token))
    revoked = assert_response_matches(revoke, "DELETE", "/permissions/common/grants/{permissionId}")
    assert revoke.status_code == 202
    assert operation(client, owner, revoked["referenceNumber"])["status"]["code"] == 200
    # The office's access token stops working at once, its refresh token too, and a new login ends with 415.
    after = metadata(client, as_office)
    assert after.status_code == 401
    assert_response_matches(after, "POST", "/invoices/query/metadata")
    refresh = client.post(f"{V2}/auth/token/refresh", **bearer(as_office.refresh_token))
    assert refresh.status_code == 400
    assert assert_response_matches(refresh, "POST", "/auth/token/refresh")
    init = start_xades(client, nip, seal).json()
    assert (
        wait_status(client, init["referenceNumber"], init["authenticationToken"]["token"])["status"]["code"]
        == 415
    )


def test_the_office_can_use_a_token_it_generated_in_the_clients_context(
    client: Any, owner: Session, nip: str
) -> None:
    office = random_nip()
    grant_entity(client, owner, office, permissions=[("InvoiceRead", False), ("InvoiceWrite", False)])
    as_office = login_xades(client, nip, self_signed(nip=office, seal=True))
    created = post_json(
        client,
        "/tokens",
        {"permissions": ["InvoiceRead"], "description": "Token biura"},
        **bearer(as_office.access_token),
    )
    token = assert_response_matches(created, "POST", "/tokens")["token"]
    # It cannot give the token what it does not hold there.
    wider = post_json(
        client,
        "/tokens",
        {"permissions": ["CredentialsManage"], "description": "Za dużo"},
        **bearer(as_office.access_token),
    )
    assert wider.status_code == 400
    by_token = login_token(client, token, nip)
    assert metadata(client, by_token).status_code == 200


def test_a_person_granted_invoice_write_opens_a_session_and_sends(
    client: Any, owner: Session, nip: str
) -> None:
    pesel = random_pesel()
    accepted = grant_person(client, owner, "Pesel", pesel, ["InvoiceWrite"])
    assert accepted.status_code == 202
    as_person = login_xades(client, nip, self_signed(pesel=pesel))
    key, iv = bytes(range(32)), bytes(range(16))
    encryption = Ksef(client=client, nip=nip, permissions=[], key=key, iv=iv).encryption()
    form = {"systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA"}
    opened = post_json(
        client,
        "/sessions/online",
        {"formCode": form, "encryption": encryption},
        **bearer(as_person.access_token),
    )
    session = assert_response_matches(opened, "POST", "/sessions/online")["referenceNumber"]
    xml = fa3.invoice(seller=nip, buyer=random_nip(), number=fa3.number())
    encrypted = aes(key, iv, xml)
    invoice = {
        "invoiceHash": sha(xml),
        "invoiceSize": len(xml),
        "encryptedInvoiceHash": sha(encrypted),
        "encryptedInvoiceSize": len(encrypted),
        "encryptedInvoiceContent": base64.b64encode(encrypted).decode(),
        "offlineMode": False,
    }
    sent = post_json(
        client, f"/sessions/online/{session}/invoices", invoice, **bearer(as_person.access_token)
    )
    assert sent.status_code == 202
    assert_response_matches(sent, "POST", "/sessions/online/{referenceNumber}/invoices")
    # The person reads its own grant; the Owner is never a row.
    mine = query(client, as_person, "/permissions/query/personal/grants", {})
    assert [(p["permissionScope"], p["authorizedIdentifier"]["value"]) for p in mine["permissions"]] == [
        ("InvoiceWrite", pesel)
    ]
    assert "ownerPermissions" not in mine


def test_granting_needs_credentials_manage(client: Any, owner: Session, nip: str) -> None:
    created = post_json(
        client,
        "/tokens",
        {"permissions": ["InvoiceRead", "InvoiceWrite"], "description": "Token do faktur"},
        **bearer(owner.access_token),
    )
    narrow = login_token(client, assert_response_matches(created, "POST", "/tokens")["token"], nip)
    refused = grant_person(client, narrow, "Pesel", random_pesel(), ["InvoiceRead"])
    body = assert_response_matches(refused, "POST", "/permissions/persons/grants")
    assert refused.status_code == 403
    assert body["reasonCode"] == "missing-permissions"
    assert body["security"] == {
        "requiredAnyOfPermissions": ["CredentialsManage"],
        "presentPermissions": ["InvoiceRead", "InvoiceWrite"],
    }
    assert not SimGrant.objects.exists()
    # Reading the grants needs CredentialsRead or more, too.
    denied = post_json(
        client,
        "/permissions/query/persons/grants",
        {"queryType": "PermissionsInCurrentContext"},
        **bearer(narrow.access_token),
    )
    assert denied.status_code == 403
    assert_response_matches(denied, "POST", "/permissions/query/persons/grants")


def test_a_person_given_credentials_manage_may_grant_and_is_the_author(
    client: Any, owner: Session, nip: str
) -> None:
    admin = random_pesel()
    grant_person(client, owner, "Pesel", admin, ["CredentialsManage"])
    as_admin = login_xades(client, nip, self_signed(pesel=admin))
    other = random_pesel()
    assert grant_person(client, as_admin, "Pesel", other, ["InvoiceRead"]).status_code == 202
    granted = query(
        client,
        as_admin,
        "/permissions/query/persons/grants",
        {"queryType": "PermissionsGrantedInCurrentContext"},
    )
    assert [(p["authorizedIdentifier"]["value"], p["authorIdentifier"]) for p in granted["permissions"]] == [
        (other, {"type": "Pesel", "value": admin})
    ]


def test_the_owner_is_never_listed(client: Any, owner: Session, nip: str) -> None:
    # Granting to the context's own NIP is refused by the operation (Owner is implicit).
    accepted = grant_person(client, owner, "Nip", nip, ["InvoiceRead"])
    status = operation(client, owner, accepted.json()["referenceNumber"])["status"]
    assert status["code"] == 450
    assert persons_in_context(client, owner)["permissions"] == []
    mine = query(client, owner, "/permissions/query/personal/grants", {})
    assert mine["permissions"] == []
    assert "InvoiceWrite" in mine["ownerPermissions"]
    assert "CredentialsManage" in mine["ownerPermissions"]


def test_enforcement_operations_need_the_role(client: Any, owner: Session, nip: str) -> None:
    accepted = grant_person(client, owner, "Pesel", random_pesel(), ["EnforcementOperations"])
    assert operation(client, owner, accepted.json()["referenceNumber"])["status"]["code"] == 430
    roles = client.get(f"{V2}/permissions/query/entities/roles", **bearer(owner.access_token))
    assert assert_response_matches(roles, "GET", "/permissions/query/entities/roles") == {
        "roles": [],
        "hasMore": False,
    }


def test_entity_roles_come_from_test_data(client: Any, nip: str) -> None:
    body = {
        "subjectNip": nip,
        "subjectType": "VatGroup",
        "description": "Grupa VAT testowa",
        "subunits": [{"subjectNip": random_nip(), "description": "Członek grupy"}],
    }
    assert post_json(client, "/testdata/subject", body).status_code == 200
    session = login_xades(client, nip)
    roles = client.get(f"{V2}/permissions/query/entities/roles", **bearer(session.access_token))
    assert [
        r["role"] for r in assert_response_matches(roles, "GET", "/permissions/query/entities/roles")["roles"]
    ] == ["VatGroupUnit"]


def test_indirect_grants_follow_the_clients_delegation(client: Any, owner: Session, nip: str) -> None:
    office = random_nip()
    pesel = random_pesel()
    as_office_home = login_xades(client, office, self_signed(nip=office, seal=True))
    indirect = {
        "subjectIdentifier": {"type": "Pesel", "value": pesel},
        "targetIdentifier": {"type": "Nip", "value": nip},
        "permissions": ["InvoiceRead"],
        "description": f"praca dla klienta {nip}",
        "subjectDetails": PERSON_DETAILS,
    }
    # Without a delegable grant from the client, a selective grant fails (440).
    early = post_json(client, "/permissions/indirect/grants", indirect, **bearer(as_office_home.access_token))
    assert (
        operation(
            client,
            as_office_home,
            assert_response_matches(early, "POST", "/permissions/indirect/grants")["referenceNumber"],
        )["status"]["code"]
        == 440
    )
    grant_entity(client, owner, office, permissions=[("InvoiceRead", True)])
    accepted = post_json(
        client, "/permissions/indirect/grants", indirect, **bearer(as_office_home.access_token)
    )
    assert operation(client, as_office_home, accepted.json()["referenceNumber"])["status"]["code"] == 200
    # The employee works in the client's context with the office's delegated right.
    as_employee = login_xades(client, nip, self_signed(pesel=pesel))
    assert metadata(client, as_employee).status_code == 200
    listed = persons_in_context(client, as_office_home)["permissions"]
    assert listed[0]["targetIdentifier"] == {"type": "Nip", "value": nip}
    assert listed[0]["permissionState"] == "Active"
    # The client withdraws the delegable grant: the indirect one turns Inactive and stops working.
    entity = persons_in_context(client, owner)["permissions"][0]
    client.delete(f"{V2}/permissions/common/grants/{entity['id']}", **bearer(owner.access_token))
    assert metadata(client, as_employee).status_code == 401
    inactive = query(
        client,
        as_office_home,
        "/permissions/query/persons/grants",
        {"queryType": "PermissionsInCurrentContext", "permissionState": "Inactive"},
    )
    assert [p["permissionState"] for p in inactive["permissions"]] == ["Inactive"]


def test_testdata_grants_are_in_the_same_store(client: Any, owner: Session, nip: str) -> None:
    pesel = random_pesel()
    body = {
        "contextIdentifier": {"type": "Nip", "value": nip},
        "authorizedIdentifier": {"type": "Pesel", "value": pesel},
        "permissions": [{"permissionType": "InvoiceRead", "description": "ZAW-FA testowy"}],
    }
    assert post_json(client, "/testdata/permissions", body).status_code == 200
    listed = persons_in_context(client, owner)["permissions"]
    assert [(p["authorIdentifier"], p["permissionScope"]) for p in listed] == [
        ({"type": "System"}, "InvoiceRead")
    ]
    as_person = login_xades(client, nip, self_signed(pesel=pesel))
    assert metadata(client, as_person).status_code == 200
    revoke = {
        "contextIdentifier": body["contextIdentifier"],
        "authorizedIdentifier": body["authorizedIdentifier"],
    }
    assert post_json(client, "/testdata/permissions/revoke", revoke).status_code == 200
    assert persons_in_context(client, owner)["permissions"] == []
    assert metadata(client, as_person).status_code == 401


def test_operations_report_100_first_and_belong_to_their_context(
    client: Any, owner: Session, nip: str
) -> None:
    config_update(permission_operation_delay=dt.timedelta(minutes=5))
    reference = grant_entity(client, owner, random_nip(), permissions=[("InvoiceRead", False)])
    assert operation(client, owner, reference)["status"] == {
        "code": 100,
        "description": "Operacja przyjęta do realizacji",
    }
    stranger = login_xades(client, random_nip())
    assert (
        client.get(f"{V2}/permissions/operations/{reference}", **bearer(stranger.access_token)).status_code
        == 400
    )


def test_operations_expire_after_30_days(client: Any, owner: Session, nip: str) -> None:
    from ksef_simulator.models import PermissionOperation

    reference = grant_entity(client, owner, random_nip(), permissions=[("InvoiceRead", False)])
    PermissionOperation.objects.filter(reference_number=reference).update(
        started_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=31)
    )
    gone = client.get(f"{V2}/permissions/operations/{reference}", **bearer(owner.access_token))
    assert gone.status_code == 410
    assert_response_matches(gone, "GET", "/permissions/operations/{referenceNumber}")


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (
            {"subjectIdentifier": {"type": "Pesel", "value": "12345678901"}, "permissions": ["InvoiceRead"]},
            "a PESEL with a wrong checksum",
        ),
        (
            {"subjectIdentifier": {"type": "Nip", "value": "1234567890"}, "permissions": ["InvoiceRead"]},
            "a NIP with a wrong checksum",
        ),
        ({"permissions": ["InvoiceRead", "InvoiceRead"]}, "a permission twice"),
        ({"permissions": []}, "no permission"),
        ({"permissions": ["VatUeManage"]}, "a permission not in the enum"),
        ({"description": "abc"}, "a description under 5 characters"),
    ],
)
def test_bad_grant_requests_are_21405(client: Any, owner: Session, body: dict[str, Any], why: str) -> None:
    request = {
        "subjectIdentifier": {"type": "Pesel", "value": random_pesel()},
        "permissions": ["InvoiceRead"],
        "description": "Pracownik działu księgowości",
        "subjectDetails": PERSON_DETAILS,
        **body,
    }
    response = post_json(client, "/permissions/persons/grants", request, **bearer(owner.access_token))
    assert response.status_code == 400, why
    assert (
        assert_response_matches(response, "POST", "/permissions/persons/grants")["exception"][
            "exceptionDetailList"
        ][0]["exceptionCode"]
        == 21405
    )
    assert not SimGrant.objects.exists()


def test_revoking_an_unknown_or_foreign_grant_is_21405(client: Any, owner: Session, nip: str) -> None:
    other_owner = login_xades(client, random_nip())
    grant_person(client, other_owner, "Pesel", random_pesel(), ["InvoiceRead"])
    foreign = SimGrant.objects.get()
    for permission_id in (
        str(foreign.grant_id),
        "00000000-0000-0000-0000-000000000000",
        "not-a-uuid-but-36-characters-long-xx",
    ):
        response = client.delete(
            f"{V2}/permissions/common/grants/{permission_id}", **bearer(owner.access_token)
        )
        assert response.status_code == 400
        assert_response_matches(response, "DELETE", "/permissions/common/grants/{permissionId}")
    assert SimGrant.objects.count() == 1


def test_query_pages(client: Any, owner: Session, nip: str) -> None:
    pesels = [random_pesel() for _ in range(23)]
    for pesel in pesels:
        grant_person(client, owner, "Pesel", pesel, ["InvoiceRead"])
    seen: list[str] = []
    for offset in range(3):
        page = persons_in_context(client, owner, f"?pageSize=10&pageOffset={offset}")
        seen += [p["authorizedIdentifier"]["value"] for p in page["permissions"]]
        assert page["hasMore"] is (offset < 2)
    assert sorted(seen) == sorted(pesels)
    assert (
        post_json(
            client,
            "/permissions/query/persons/grants?pageSize=9",
            {"queryType": "PermissionsInCurrentContext"},
            **bearer(owner.access_token),
        ).status_code
        == 400
    )
    filtered = query(
        client,
        owner,
        "/permissions/query/persons/grants",
        {
            "queryType": "PermissionsInCurrentContext",
            "authorizedIdentifier": {"type": "Pesel", "value": pesels[5]},
        },
    )
    assert [p["authorizedIdentifier"]["value"] for p in filtered["permissions"]] == [pesels[5]]


_ENTITY = st.lists(
    st.sampled_from(services_permissions.ENTITY_PERMISSIONS), min_size=1, max_size=3, unique=True
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    granted=_ENTITY,
    delegable=st.sets(st.sampled_from(services_permissions.ENTITY_PERMISSIONS)),
    passed_on=_ENTITY,
)
def test_an_employee_holds_what_the_office_passed_on_and_the_client_let_through(
    db: Any, granted: list[str], delegable: set[str], passed_on: list[str]
) -> None:
    SimGrant.objects.all().delete()  # examples share the test's transaction (and hypothesis seeds random)
    client_nip, office, pesel = random_nip(), random_nip(), random_pesel()
    client_side = services_permissions.Actor(
        context_nip=client_nip, subject_type="Nip", subject_value=client_nip
    )
    office_side = services_permissions.Actor(context_nip=office, subject_type="Nip", subject_value=office)
    services_permissions.grant_to_entity(
        actor=client_side, nip=office, permissions=[(p, p in delegable) for p in granted],
        description="Biuro testowe", full_name="Biuro testowe",
    )  # fmt: skip
    general = services_permissions.grant_indirect(
        actor=office_side, subject=services_permissions.Identifier("Pesel", pesel), target=None,
        permissions=passed_on, description="Wszyscy klienci", details=PERSON_DETAILS,
    )  # fmt: skip
    assert general.outcome_code == 200

    def held(subject_type: str, value: str) -> set[str]:
        return services_permissions.permissions_for(
            context_type="Nip", context_value=client_nip, subject_type=subject_type, subject_value=value
        )

    assert held("Nip", office) == set(granted)
    assert held("Pesel", pesel) == set(passed_on) & set(granted) & delegable
    # Nothing leaks into the office's own context, nor to anybody else.
    assert (
        services_permissions.permissions_for(
            context_type="Nip", context_value=office, subject_type="Pesel", subject_value=pesel
        )
        == set()
    )
    assert held("Pesel", random_pesel()) == set()


# --- the Uprawnienia page (the same services as the API) -----------------------------------------------


def test_the_uprawnienia_page_grants_lists_and_revokes(client: Any, nip: str) -> None:
    assert client.post("/ksef-sim/", {"nip": nip}).status_code == 302
    office, pesel = random_nip(), random_pesel()
    page = client.get("/ksef-sim/uprawnienia/").content.decode()
    assert "Nikomu nie nadano uprawnień" in page
    entity = {
        "entity-nip": office, "entity-full_name": "Biuro Rachunkowe Sp. z o.o.",
        "entity-permissions": ["InvoiceRead", "InvoiceWrite"], "entity-can_delegate": "on",
        "entity-description": "Obsługa księgowa",
    }  # fmt: skip
    assert client.post("/ksef-sim/uprawnienia/podmiot/", entity).status_code == 302
    person = {
        "person-identifier_type": "Pesel", "person-identifier": pesel, "person-first_name": "Anna",
        "person-last_name": "Nowak", "person-permissions": ["InvoiceRead"], "person-description": "Księgowa",
    }  # fmt: skip
    assert client.post("/ksef-sim/uprawnienia/osoba/", person).status_code == 302
    page = client.get("/ksef-sim/uprawnienia/").content.decode()
    assert f"NIP {office}" in page
    assert f"PESEL {pesel}" in page
    assert "Anna Nowak" in page
    assert "z prawem przekazywania" in page
    # What the page granted, the API enforces: the office logs in with its own seal and holds both rights.
    as_office = login_xades(client, nip, self_signed(nip=office, seal=True))
    assert metadata(client, as_office).status_code == 200
    # A bad PESEL is shown on the form, nothing is granted.
    bad = client.post("/ksef-sim/uprawnienia/osoba/", {**person, "person-identifier": "12345678901"})
    assert bad.status_code == 400
    assert "błędna cyfra kontrolna" in bad.content.decode()
    grant = SimGrant.objects.get(authorized_value=pesel)
    assert client.post(f"/ksef-sim/uprawnienia/{grant.grant_id}/odbierz/").status_code == 302
    assert not SimGrant.objects.filter(authorized_value=pesel).exists()
    assert client.post(f"/ksef-sim/uprawnienia/{grant.grant_id}/odbierz/").status_code == 404
    # The office, at home, sees what its client gave it.
    client.post("/ksef-sim/wyloguj/")
    client.post("/ksef-sim/", {"nip": office})
    assert nip in client.get("/ksef-sim/uprawnienia/").content.decode()


def test_enum_values_in_bodies_match_ignoring_case(client: Any, owner: Session, nip: str) -> None:
    """Like KSeF's JSON reader (ASP.NET), the simulator takes ``pesel`` for ``Pesel`` and ``invoiceread``
    for ``InvoiceRead`` in request bodies, and answers in the spec's spelling."""
    pesel = random_pesel()
    accepted = grant_person(client, owner, "pesel", pesel, ["invoiceread"])
    assert accepted.status_code == 202, accepted.content
    listed = query(
        client,
        owner,
        "/permissions/query/persons/grants",
        {"queryType": "permissionsincurrentcontext", "permissionTypes": ["INVOICEREAD"]},
    )
    assert [(p["authorizedIdentifier"], p["permissionScope"]) for p in listed["permissions"]] == [
        ({"type": "Pesel", "value": pesel}, "InvoiceRead")
    ]
    metadata = post_json(
        client,
        "/invoices/query/metadata",
        {
            "subjectType": "subject2",
            "dateRange": {
                "dateType": "invoicing",
                "from": (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat(),
            },
            "invoiceTypes": ["vat"],
        },
        **bearer(owner.access_token),
    )
    assert metadata.status_code == 200, metadata.content
    # A value that is no spelling of an allowed one is still refused.
    refused = grant_person(client, owner, "Pessel", pesel, ["InvoiceRead"])
    assert refused.status_code == 400


def _unit(nip: str, digits: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(nip + digits))
    return f"{nip}-{digits}{total % 10}"


def test_a_subunit_administrator_manages_the_unit_and_nothing_else(client: Any, nip: str) -> None:
    """The VAT group names a person administrator of a member (by NIP) and of an internal unit: the person
    logs in to each with CredentialsManage (and may grant there), but not to the group itself; a NIP outside
    the group is refused (440), as is a group-less context (430); the common DELETE takes it back."""
    config_update(permission_operation_delay=dt.timedelta(0))
    member = random_nip()
    body = {
        "subjectNip": nip,
        "subjectType": "VatGroup",
        "description": "Grupa VAT testowa",
        "subunits": [{"subjectNip": member, "description": "Członek grupy"}],
    }
    assert post_json(client, "/testdata/subject", body).status_code == 200
    group = login_xades(client, nip)
    pesel = random_pesel()
    unit = _unit(nip, "0007")

    def name_admin(session: Session, context: dict[str, str], **extra: str) -> dict[str, Any]:
        request = {
            "subjectIdentifier": {"type": "Pesel", "value": pesel},
            "contextIdentifier": context,
            "description": "Administrator jednostki",
            "subjectDetails": PERSON_DETAILS,
            **extra,
        }
        response = post_json(client, "/permissions/subunits/grants", request, **bearer(session.access_token))
        reference = assert_response_matches(response, "POST", "/permissions/subunits/grants")[
            "referenceNumber"
        ]
        return operation(client, session, reference)["status"]

    assert name_admin(group, {"type": "Nip", "value": member})["code"] == 200
    assert (
        name_admin(group, {"type": "InternalId", "value": unit}, subunitName="Oddział Gdańsk")["code"] == 200
    )
    assert name_admin(group, {"type": "Nip", "value": random_nip()})["code"] == 440
    bad_unit = unit[:-1] + str((int(unit[-1]) + 1) % 10)
    refused = post_json(
        client,
        "/permissions/subunits/grants",
        {
            "subjectIdentifier": {"type": "Pesel", "value": pesel},
            "contextIdentifier": {"type": "InternalId", "value": bad_unit},
            "description": "Administrator jednostki",
            "subunitName": "Oddział Gdańsk",
            "subjectDetails": PERSON_DETAILS,
        },
        **bearer(group.access_token),
    )
    assert refused.status_code == 400
    loner = login_xades(client, random_nip())
    assert name_admin(loner, {"type": "Nip", "value": member})["code"] == 430

    person = self_signed(pesel=pesel)
    in_member = redeem(client, start_xades(client, member, person).json())
    # In the member's context the administrator grants its people.
    assert grant_person(client, in_member, "Pesel", random_pesel(), ["InvoiceRead"]).status_code == 202
    in_unit = redeem(client, start_xades(client, unit, person, context_type="InternalId").json())
    # The unit's own grants are not modelled: refused rather than made in the group's NIP context.
    unit_grant = grant_person(client, in_unit, "Pesel", random_pesel(), ["InvoiceRead"])
    assert (unit_grant.status_code, unit_grant.json()["reasonCode"]) == (403, "context-type-not-allowed")
    outside = start_xades(client, nip, person).json()
    token = outside["authenticationToken"]["token"]
    assert wait_status(client, outside["referenceNumber"], token)["status"]["code"] == 415

    listed = query(client, group, "/permissions/query/subunits/grants", {})
    assert sorted(p["subunitIdentifier"]["value"] for p in listed["permissions"]) == sorted([member, unit])
    (admin,) = [p for p in listed["permissions"] if p["subunitIdentifier"]["value"] == member]
    revoked = client.delete(f"{V2}/permissions/common/grants/{admin['id']}", **bearer(group.access_token))
    assert revoked.status_code == 202
    init = start_xades(client, member, person).json()
    assert (
        wait_status(client, init["referenceNumber"], init["authenticationToken"]["token"])["status"]["code"]
        == 415
    )
