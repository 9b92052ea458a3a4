"""KSeF tokens over the API (generate, activate, list, revoke) and the token service functions."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

import pytest

from ksef_simulator import ids, security, services_core
from ksef_simulator.conf import config_update
from ksef_simulator.models import KsefToken
from tests.ksef_simulator.core.conftest import (
    V2,
    Session,
    bearer,
    ksef_token_body,
    login_token,
    post_json,
    random_nip,
    wait_status,
)
from tests.ksef_simulator.core.spec import assert_request_matches, assert_response_matches

pytestmark = pytest.mark.django_db


def create(client: Any, session: Session, permissions: list[str], description: str = "token testowy") -> Any:
    body = {"permissions": permissions, "description": description}
    return post_json(client, "/tokens", body, **bearer(session.access_token))


def error_code(response: Any) -> int:
    return int(response.json()["exception"]["exceptionDetailList"][0]["exceptionCode"])


def test_generate_token_shape_and_only_a_hash_is_stored(client: Any, owner: Session, nip: str) -> None:
    assert_request_matches(
        {"permissions": ["InvoiceRead"], "description": "token testowy"}, "POST", "/tokens"
    )
    response = create(client, owner, ["InvoiceRead", "InvoiceWrite"])
    body = assert_response_matches(response, "POST", "/tokens")
    assert response.status_code == 202
    reference, token = body["referenceNumber"], body["token"]
    assert ids.reference_number_is_valid(reference)
    assert "-EC-" in reference
    assert re.fullmatch(rf"{re.escape(reference)}\|nip-{nip}\|[0-9a-f]{{64}}", token)
    stored = KsefToken.objects.get(reference_number=reference)
    assert stored.secret_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(stored.__dict__)
    assert (stored.author_type, stored.author_value) == ("Nip", nip)


def test_pending_then_active(client: Any, owner: Session) -> None:
    config_update(token_activation_delay=dt.timedelta(minutes=5))
    reference = create(client, owner, ["InvoiceRead"]).json()["referenceNumber"]
    response = client.get(f"{V2}/tokens/{reference}", **bearer(owner.access_token))
    assert assert_response_matches(response, "GET", "/tokens/{referenceNumber}")["status"] == "Pending"
    KsefToken.objects.filter(reference_number=reference).update(
        active_from=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    )
    assert client.get(f"{V2}/tokens/{reference}", **bearer(owner.access_token)).json()["status"] == "Active"


def test_token_cannot_get_permissions_you_lack_26001(client: Any, nip: str) -> None:
    _, token = services_core.token_generate(nip=nip, permissions=["InvoiceRead"], description="tylko odczyt")
    session = login_token(client, token, nip)
    response = create(client, session, ["InvoiceWrite"])
    assert response.status_code == 400
    assert error_code(response) == 26001
    assert_response_matches(response, "POST", "/tokens")


def test_token_not_allowed_in_eu_vat_context_26002(client: Any, nip: str) -> None:
    access, _ = security.token_issue(
        kind=security.ACCESS, context_type="NipVatUe", context_value=f"{nip}-ATU12345678",
        auth_reference=ids.reference_number("AU"), permissions=["InvoiceRead"],
        lifetime=dt.timedelta(minutes=5),
    )  # fmt: skip
    response = post_json(
        client, "/tokens", {"permissions": ["InvoiceRead"], "description": "token ue"}, **bearer(access)
    )
    assert response.status_code == 400
    assert error_code(response) == 26002


@pytest.mark.parametrize(
    "body",
    [
        {"permissions": ["InvoiceRead"], "description": "abc"},
        {"permissions": ["VatUeManage"], "description": "token testowy"},
        {"description": "token testowy"},
    ],
)
def test_invalid_body_is_21405(client: Any, owner: Session, body: dict[str, Any]) -> None:
    response = post_json(client, "/tokens", body, **bearer(owner.access_token))
    assert response.status_code == 400
    assert error_code(response) == 21405


def test_requires_an_access_token(client: Any, owner: Session) -> None:
    response = post_json(client, "/tokens", {"permissions": ["InvoiceRead"], "description": "token testowy"})
    assert response.status_code == 401
    response = client.get(f"{V2}/tokens", **bearer(owner.refresh_token))
    assert response.status_code == 401


def test_list_filters_and_paging(client: Any, owner: Session, nip: str) -> None:
    for index in range(11):
        assert create(client, owner, ["InvoiceRead"], f"księgowość {index}").status_code == 202
    special = create(client, owner, ["InvoiceWrite"], "Integracja ERP").json()["referenceNumber"]
    first = client.get(f"{V2}/tokens", **bearer(owner.access_token))
    page = assert_response_matches(first, "GET", "/tokens")
    assert len(page["tokens"]) == 10
    assert page["continuationToken"]
    assert page["tokens"][0]["referenceNumber"] == special  # newest first
    second = client.get(
        f"{V2}/tokens", HTTP_X_CONTINUATION_TOKEN=page["continuationToken"], **bearer(owner.access_token)
    )
    rest = assert_response_matches(second, "GET", "/tokens")
    assert len(rest["tokens"]) == 2
    assert not rest.get("continuationToken")
    found = client.get(f"{V2}/tokens?description=erp", **bearer(owner.access_token)).json()["tokens"]
    assert [t["referenceNumber"] for t in found] == [special]
    pending = client.get(f"{V2}/tokens?status=Pending", **bearer(owner.access_token)).json()["tokens"]
    assert pending == []
    bad = client.get(f"{V2}/tokens?status=Unknown", **bearer(owner.access_token))
    assert bad.status_code == 400
    assert error_code(bad) == 21405
    # Enum values match ignoring case, as the real service's do (clients send them in lower case).
    both = client.get(f"{V2}/tokens?status=active&status=REVOKED&pageSize=100", **bearer(owner.access_token))
    assert assert_response_matches(both, "GET", "/tokens")["tokens"]
    by_author = client.get(
        f"{V2}/tokens?authorIdentifierType=nip&authorIdentifier={nip}", **bearer(owner.access_token)
    )
    assert by_author.status_code == 200
    assert len(by_author.json()["tokens"]) == 10


def test_token_caller_sees_only_its_own_token(client: Any, owner: Session, nip: str) -> None:
    create(client, owner, ["InvoiceRead"], "inny token")
    reference, token = services_core.token_generate(
        nip=nip, permissions=["InvoiceRead"], description="mój token"
    )
    session = login_token(client, token, nip)
    listed = client.get(f"{V2}/tokens", **bearer(session.access_token)).json()["tokens"]
    assert [t["referenceNumber"] for t in listed] == [reference]
    assert listed[0]["lastUseDate"] is not None


def test_revoke_then_login_fails_450(client: Any, owner: Session, nip: str) -> None:
    body = create(client, owner, ["InvoiceRead"]).json()
    response = client.delete(f"{V2}/tokens/{body['referenceNumber']}", **bearer(owner.access_token))
    assert response.status_code == 204
    status = client.get(f"{V2}/tokens/{body['referenceNumber']}", **bearer(owner.access_token)).json()[
        "status"
    ]
    assert status == "Revoked"
    init = post_json(client, "/auth/ksef-token", ksef_token_body(client, body["token"], nip)).json()
    result = wait_status(client, init["referenceNumber"], init["authenticationToken"]["token"])["status"]
    assert (result["code"], result["details"]) == (450, ["Token unieważniony"])


def test_revoke_rights(client: Any, owner: Session, nip: str) -> None:
    other = create(client, owner, ["InvoiceRead"], "token właściciela").json()["referenceNumber"]
    reference, token = services_core.token_generate(
        nip=nip, permissions=["InvoiceRead"], description="mój token"
    )
    session = login_token(client, token, nip)
    denied = client.delete(f"{V2}/tokens/{other}", **bearer(session.access_token))
    assert denied.status_code == 403
    assert denied.json()["reasonCode"] == "missing-permissions"
    assert_response_matches(denied, "DELETE", "/tokens/{referenceNumber}")
    assert client.delete(f"{V2}/tokens/{reference}", **bearer(session.access_token)).status_code == 204
    unknown = client.delete(f"{V2}/tokens/{ids.reference_number('EC')}", **bearer(owner.access_token))
    assert unknown.status_code == 400


def test_other_context_tokens_are_invisible(client: Any, owner: Session) -> None:
    reference, _ = services_core.token_generate(
        nip=random_nip(), permissions=["InvoiceRead"], description="obcy"
    )
    assert client.get(f"{V2}/tokens/{reference}", **bearer(owner.access_token)).status_code == 400
    assert client.delete(f"{V2}/tokens/{reference}", **bearer(owner.access_token)).status_code == 400


def test_service_functions(nip: str) -> None:
    reference, token = services_core.token_generate(
        nip=nip, permissions=["InvoiceRead"], description="usługa"
    )
    assert token.startswith(f"{reference}|nip-{nip}|")
    assert [t.reference_number for t in services_core.token_list(nip=nip)] == [reference]
    revoked = services_core.token_revoke(nip=nip, reference=reference)
    assert services_core.token_effective_status(revoked) == "Revoked"
    with pytest.raises(services_core.CoreError):
        services_core.token_revoke(nip=random_nip(), reference=reference)
    with pytest.raises(services_core.CoreError):
        services_core.token_create(
            context_type="PeppolId", context_value="PPL123456", author_type="Nip", author_value=nip,
            permissions=["InvoiceRead"], description="peppol",
        )  # fmt: skip
