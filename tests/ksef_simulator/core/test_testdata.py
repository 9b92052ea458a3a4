"""TEST's test-data endpoints: persons, subjects, permissions, context blocks."""

from __future__ import annotations

from typing import Any

import pytest

from ksef_simulator import security
from ksef_simulator.models import SimPerson, SimSubject
from tests.ksef_simulator.core.conftest import (
    V2,
    Session,
    bearer,
    login_xades,
    post_json,
    random_nip,
    self_signed,
    start_xades,
    wait_status,
)
from tests.ksef_simulator.core.spec import assert_request_matches, assert_response_matches

pytestmark = pytest.mark.django_db


def error_code(response: Any) -> int:
    return int(response.json()["exception"]["exceptionDetailList"][0]["exceptionCode"])


def test_person_bailiff_gets_enforcement_and_pesel_login(client: Any, nip: str) -> None:
    body = {"nip": nip, "pesel": "85010112345", "isBailiff": True, "description": "komornik testowy"}
    assert_request_matches(body, "POST", "/testdata/person")
    response = post_json(client, "/testdata/person", body)
    assert response.status_code == 200
    assert response.content == b""
    session = login_xades(client, nip, self_signed(pesel="85010112345"))
    claims = security.jwt_decode(session.access_token)
    assert claims is not None
    assert "EnforcementOperations" in claims["permissions"]
    duplicate = post_json(client, "/testdata/person", body)
    assert duplicate.status_code == 400
    assert error_code(duplicate) == 30001
    assert_response_matches(duplicate, "POST", "/testdata/person")
    assert post_json(client, "/testdata/person/remove", {"nip": nip}).status_code == 200
    assert not SimPerson.objects.filter(nip=nip).exists()


def test_person_invalid_body(client: Any, nip: str) -> None:
    response = post_json(
        client, "/testdata/person", {"nip": nip, "pesel": "1", "isBailiff": False, "description": "x"}
    )
    assert response.status_code == 400
    assert error_code(response) == 21405
    details = response.json()["exception"]["exceptionDetailList"][0]["details"]
    assert {d.split(":")[0] for d in details} == {"pesel", "description"}


def test_subject_with_subunits_and_remove(client: Any) -> None:
    group, member = random_nip(), random_nip()
    body = {
        "subjectNip": group,
        "subjectType": "VatGroup",
        "description": "grupa VAT",
        "subunits": [{"subjectNip": member, "description": "członek grupy"}],
    }
    assert post_json(client, "/testdata/subject", body).status_code == 200
    assert SimSubject.objects.get(nip=member).parent_nip == group
    assert error_code(post_json(client, "/testdata/subject", body)) == 30001
    assert post_json(client, "/testdata/subject/remove", {"subjectNip": group}).status_code == 200
    assert not SimSubject.objects.exists()


def test_permissions_grant_and_revoke(client: Any, nip: str) -> None:
    accountant = random_nip()
    grant = {
        "contextIdentifier": {"type": "Nip", "value": nip},
        "authorizedIdentifier": {"type": "Nip", "value": accountant},
        "permissions": [{"permissionType": "InvoiceRead", "description": "biuro rachunkowe"}],
    }
    assert post_json(client, "/testdata/permissions", grant).status_code == 200
    session = login_xades(client, nip, self_signed(nip=accountant, seal=True))
    claims = security.jwt_decode(session.access_token)
    assert claims is not None
    assert claims["permissions"] == ["InvoiceRead"]
    revoke = {
        "contextIdentifier": grant["contextIdentifier"],
        "authorizedIdentifier": grant["authorizedIdentifier"],
    }
    assert post_json(client, "/testdata/permissions/revoke", revoke).status_code == 200
    init = start_xades(client, nip, self_signed(nip=accountant, seal=True)).json()
    assert (
        wait_status(client, init["referenceNumber"], init["authenticationToken"]["token"])["status"]["code"]
        == 415
    )


def test_context_block_and_unblock(client: Any, nip: str) -> None:
    body = {"contextIdentifier": {"type": "Nip", "value": nip}}
    assert post_json(client, "/testdata/context/block", body).status_code == 200
    init = start_xades(client, nip).json()
    assert (
        wait_status(client, init["referenceNumber"], init["authenticationToken"]["token"])["status"]["code"]
        == 480
    )
    assert post_json(client, "/testdata/context/unblock", body).status_code == 200
    login_xades(client, nip)


def test_attachment_consent_granted_ended_on_a_date_and_revoked(
    client: Any, owner: Session, nip: str
) -> None:
    """``/testdata/attachment`` gives the NIP the consent e-Urząd Skarbowy gives in production;
    ``GET /permissions/attachments/status`` reads it; ``/revoke`` ends it on a date or at once."""

    def status() -> dict[str, Any]:
        response = client.get(f"{V2}/permissions/attachments/status", **bearer(owner.access_token))
        return assert_response_matches(response, "GET", "/permissions/attachments/status")

    assert status()["isAttachmentAllowed"] is False
    grant = {"nip": nip}
    assert_request_matches(grant, "POST", "/testdata/attachment")
    assert post_json(client, "/testdata/attachment", grant).status_code == 200
    assert status() == {"isAttachmentAllowed": True, "revokedDate": None}
    later = {"nip": nip, "expectedEndDate": "2099-01-31"}
    assert_request_matches(later, "POST", "/testdata/attachment/revoke")
    assert post_json(client, "/testdata/attachment/revoke", later).status_code == 200
    answer = status()
    assert answer["isAttachmentAllowed"] is True
    assert answer["revokedDate"].startswith("2099-01-30T23:00:00")  # midnight of the 31st in Warsaw (UTC+1)
    assert post_json(client, "/testdata/attachment/revoke", {"nip": nip}).status_code == 200
    assert status()["isAttachmentAllowed"] is False
    assert error_code(post_json(client, "/testdata/attachment", {"nip": "123"})) == 21405
