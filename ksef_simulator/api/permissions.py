"""The permissions API (ksef-api.md §16): grants to persons and entities, indirect grants, revocation, the
asynchronous operations (``EG``), the queries, the context's roles, and the attachment consent's status.

Every decision is ``services_permissions``'s; these views read requests and write KSeF's answers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from ksef_simulator import security, services_permissions
from ksef_simulator.http import api_view, json_object
from ksef_simulator.models import AttachmentConsent, PermissionOperation, SimGrant
from ksef_simulator.paging import query_int
from ksef_simulator.processing import WARSAW, attachment_consent
from ksef_simulator.responses import forbidden, gone, iso, now_utc, validation_error
from ksef_simulator.schemas_core import validate_request
from ksef_simulator.services_permissions import Actor, Identifier, PermissionsError

MAX_OFFSET = 2**31 - 1


@api_view("GET", name="permissions.attachments.status")
def attachments_status(request: HttpRequest) -> HttpResponse:
    principal = security.principal_from_request(request)
    security.require_any_permission(principal, services_permissions.READERS)
    consent: AttachmentConsent | None = attachment_consent(principal.context_value, at=now_utc())
    ends = None
    if consent is not None and consent.ends_on is not None:
        ends = dt.datetime.combine(consent.ends_on, dt.time(), tzinfo=WARSAW)
    return JsonResponse({"isAttachmentAllowed": consent is not None, "revokedDate": iso(ends)})


# --- helpers ----------------------------------------------------------------------------------------


def _actor(request: HttpRequest, any_of: tuple[str, ...], contexts: tuple[str, ...] = ("Nip",)) -> Actor:
    """The caller, once it holds one of ``any_of`` in its context (403 ``missing-permissions`` otherwise)
    and that context is of one of the ``contexts`` types (403 ``context-type-not-allowed``: the grants of
    an internal unit's or an EU entity's own people are not modelled, and must not land on the NIP)."""
    principal = security.principal_from_request(request)
    security.require_any_permission(principal, any_of)
    if principal.context_type not in contexts:
        raise forbidden(
            "context-type-not-allowed",
            f"Operacja niedostępna w kontekście typu {principal.context_type}.",
        )
    return Actor(
        context_nip=principal.nip,
        subject_type=principal.subject_type,
        subject_value=principal.subject_value,
        context_type=principal.context_type,
        context_value=principal.context_value,
    )


def _body(request: HttpRequest, operation: str) -> dict[str, Any]:
    body = json_object(request)
    validate_request(operation, body)
    return body


def _started(start: Callable[[], PermissionOperation]) -> HttpResponse:
    """Start an asynchronous operation: 202 with its ``EG`` reference, or 400 with KSeF's reason."""
    try:
        operation = start()
    except PermissionsError as error:
        raise validation_error(error.detail) from error
    return JsonResponse({"referenceNumber": operation.reference_number}, status=202)


def _permission_id(permission_id: str) -> str:
    return permission_id


def _identifier(data: dict[str, Any]) -> Identifier:
    return Identifier(str(data["type"]), str(data.get("value") or ""))


def _page(request: HttpRequest) -> tuple[int, int]:
    """``(pageOffset, pageSize)``: a page index and 10..100 rows (the query endpoints' bounds)."""
    offset = query_int(request, "pageOffset", default=0, minimum=0, maximum=MAX_OFFSET)
    size = query_int(request, "pageSize", default=10, minimum=10, maximum=100)
    return offset, size


def _slice(rows: list[Any], offset: int, size: int) -> tuple[list[Any], bool]:
    start = offset * size
    return rows[start : start + size], len(rows) > start + size


_FINGERPRINT_PERSONS = ("PersonByFingerprintWithIdentifier", "PersonByFingerprintWithoutIdentifier")


def _person_details(
    details: dict[str, Any] | None, *, fingerprint_only: bool = False
) -> dict[str, Any] | None:
    """``PermissionsSubjectPersonDetails`` (and the EU query's person) from a grant's ``subjectDetails``:
    None for an entity or ZAW-FA; with ``fingerprint_only``, None for anyone not named by a certificate."""
    details = details or {}
    kind = details.get("subjectDetailsType")
    person = details.get("personByFpWithId") or details.get("personByFpNoId")
    if not fingerprint_only:
        person = details.get("personById") or person
    elif kind not in _FINGERPRINT_PERSONS:
        return None
    if not kind or not isinstance(person, dict) or kind == "EntityByIdentifier":
        return None
    out: dict[str, Any] = {
        "subjectDetailsType": kind,
        "firstName": person.get("firstName"),
        "lastName": person.get("lastName"),
    }
    for source, target in (
        ("identifier", "personIdentifier"),
        ("birthDate", "birthDate"),
        ("idDocument", "idDocument"),
    ):
        if person.get(source):
            out[target] = person[source]
    return out


def _entity_details(grant: SimGrant) -> dict[str, Any] | None:
    details = grant.subject_details or {}
    if details.get("subjectDetailsType") != "EntityByIdentifier":
        return None
    return {"subjectDetailsType": "EntityByIdentifier", "fullName": details.get("fullName")}


def _target(grant: SimGrant) -> dict[str, Any] | None:
    if not grant.target_type:
        return None
    if grant.target_type == "AllPartners":
        return {"type": "AllPartners"}
    return {"type": grant.target_type, "value": grant.target_value}


def _state(grant: SimGrant) -> str:
    return "Active" if services_permissions.is_active(grant) else "Inactive"


def _author(grant: SimGrant) -> dict[str, Any]:
    if grant.author_type == "System":
        return {"type": "System"}
    return {"type": grant.author_type, "value": grant.author_value}


def _common(grant: SimGrant) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": str(grant.grant_id),
        "authorizedIdentifier": {"type": grant.authorized_type, "value": grant.authorized_value},
        "permissionScope": grant.permission,
        "description": grant.description,
        "permissionState": _state(grant),
        "startDate": iso(grant.started_at),
        "canDelegate": grant.can_delegate,
    }
    for key, value in (
        ("targetIdentifier", _target(grant)),
        ("subjectPersonDetails", _person_details(grant.subject_details)),
        ("subjectEntityDetails", _entity_details(grant)),
    ):
        if value is not None:
            item[key] = value
    return item


def _filtered(
    rows: Any,
    body: dict[str, Any],
    *,
    authorized: bool = True,
    author: bool = False,
) -> list[SimGrant]:
    """The common filters of the query requests: who is authorised, by whom, for which client, what, state."""
    if authorized and body.get("authorizedIdentifier"):
        who = body["authorizedIdentifier"]
        rows = rows.filter(authorized_type=who["type"], authorized_value=who["value"])
    if author and body.get("authorIdentifier"):
        by = body["authorIdentifier"]
        rows = rows.filter(author_type=by["type"])
        if by.get("value"):
            rows = rows.filter(author_value=by["value"])
    if body.get("targetIdentifier"):
        target = body["targetIdentifier"]
        rows = rows.filter(target_type=target["type"])
        if target.get("value"):
            rows = rows.filter(target_value=target["value"])
    if body.get("permissionTypes"):
        rows = rows.filter(permission__in=body["permissionTypes"])
    listed = list(rows)
    state = body.get("permissionState")
    if state:
        listed = [grant for grant in listed if _state(grant) == state]
    return listed


# --- grants and revocation --------------------------------------------------------------------------


@api_view("POST", name="permissions.persons.grants")
def persons_grant(request: HttpRequest) -> HttpResponse:
    actor = _actor(request, services_permissions.GRANTORS)
    body = _body(request, "POST /permissions/persons/grants")
    return _started(
        lambda: services_permissions.grant_to_person(
            actor=actor,
            subject=_identifier(body["subjectIdentifier"]),
            permissions=body["permissions"],
            description=body["description"],
            details=body["subjectDetails"],
        )
    )


@api_view("POST", name="permissions.entities.grants")
def entities_grant(request: HttpRequest) -> HttpResponse:
    actor = _actor(request, services_permissions.GRANTORS)
    body = _body(request, "POST /permissions/entities/grants")
    return _started(
        lambda: services_permissions.grant_to_entity(
            actor=actor,
            nip=body["subjectIdentifier"]["value"],
            permissions=[(p["type"], bool(p.get("canDelegate"))) for p in body["permissions"]],
            description=body["description"],
            full_name=body["subjectDetails"]["fullName"],
        )
    )


@api_view("POST", name="permissions.indirect.grants")
def indirect_grant(request: HttpRequest) -> HttpResponse:
    actor = _actor(request, services_permissions.GRANTORS)
    body = _body(request, "POST /permissions/indirect/grants")
    target = body.get("targetIdentifier")
    if target and target["type"] != "AllPartners" and not target.get("value"):
        raise validation_error("targetIdentifier.value: pole jest wymagane dla typu innego niż AllPartners.")
    return _started(
        lambda: services_permissions.grant_indirect(
            actor=actor,
            subject=_identifier(body["subjectIdentifier"]),
            target=_identifier(target) if target else None,
            permissions=body["permissions"],
            description=body["description"],
            details=body["subjectDetails"],
        )
    )


@api_view("DELETE", name="permissions.common.revoke")
def common_revoke(request: HttpRequest, permission_id: str) -> HttpResponse:
    actor = _actor(request, services_permissions.REVOKERS, contexts=("Nip", "NipVatUe"))
    return _started(
        lambda: services_permissions.revoke(actor=actor, permission_id=_permission_id(permission_id))
    )


@api_view("GET", name="permissions.operations.status")
def operation_status(request: HttpRequest, reference: str) -> HttpResponse:
    principal = security.principal_from_request(request)
    operation = services_permissions.operation_find(
        context_type=principal.context_type, context_value=principal.context_value, reference=reference
    )
    if operation is None:
        raise validation_error("Nie znaleziono operacji o podanym numerze referencyjnym.")
    if services_permissions.operation_expired(operation):
        raise gone()
    return JsonResponse({"status": services_permissions.operation_status(operation)})


# --- queries ----------------------------------------------------------------------------------------


@api_view("POST", name="permissions.query.personal")
def query_personal(request: HttpRequest) -> HttpResponse:
    offset, size = _page(request)
    principal = security.principal_from_request(request)
    body = _body(request, "POST /permissions/query/personal/grants")
    rows = services_permissions.personal(
        context_nip=principal.nip, subject_type=principal.subject_type, subject_value=principal.subject_value
    )
    if body.get("contextIdentifier"):
        rows = rows.filter(context_nip=body["contextIdentifier"]["value"].split("-")[0])
    page, more = _slice(_filtered(rows, body, authorized=False), offset, size)
    items = []
    for grant in page:
        item = _common(grant)
        item["contextIdentifier"] = {"type": "Nip", "value": grant.context_nip}
        items.append(item)
    answer: dict[str, Any] = {"permissions": items, "hasMore": more}
    if services_permissions.is_owner(
        context_nip=principal.nip, subject_type=principal.subject_type, subject_value=principal.subject_value
    ):
        answer["ownerPermissions"] = sorted(services_permissions.OWNER_PERMISSIONS)
    return JsonResponse(answer)


@api_view("POST", name="permissions.query.persons")
def query_persons(request: HttpRequest) -> HttpResponse:
    offset, size = _page(request)
    actor = _actor(request, ("CredentialsManage", "CredentialsRead", "SubunitManage"))
    body = _body(request, "POST /permissions/query/persons/grants")
    rows = services_permissions.in_context(context_nip=actor.context_nip)
    if body["queryType"] == "PermissionsGrantedInCurrentContext":
        rows = rows.filter(author_type=actor.subject_type, author_value=actor.subject_value)
    page, more = _slice(_filtered(rows, body, author=True), offset, size)
    items = []
    for grant in page:
        item = _common(grant)
        item["authorIdentifier"] = _author(grant)
        items.append(item)
    return JsonResponse({"permissions": items, "hasMore": more})


@api_view("POST", name="permissions.query.entities")
def query_entities(request: HttpRequest) -> HttpResponse:
    offset, size = _page(request)
    actor = _actor(request, services_permissions.READERS)
    body = _body(request, "POST /permissions/query/entities/grants")
    rows = services_permissions.received_by_entity(nip=actor.context_nip)
    if body.get("contextIdentifier"):
        rows = rows.filter(context_nip=body["contextIdentifier"]["value"].split("-")[0])
    page, more = _slice(list(rows), offset, size)
    items = [
        {
            "id": str(grant.grant_id),
            "contextIdentifier": {"type": "Nip", "value": grant.context_nip},
            "permissionScope": grant.permission,
            "description": grant.description,
            "startDate": iso(grant.started_at),
            "canDelegate": grant.can_delegate,
        }
        for grant in page
    ]
    return JsonResponse({"permissions": items, "hasMore": more})


@api_view("GET", name="permissions.query.entities.roles")
def query_entity_roles(request: HttpRequest) -> HttpResponse:
    offset, size = _page(request)
    actor = _actor(request, services_permissions.READERS)
    page, more = _slice(services_permissions.context_roles(actor.context_nip), offset, size)
    roles = []
    for role, description, since, parent in page:
        item: dict[str, Any] = {"role": role, "description": description, "startDate": iso(since)}
        if parent:
            item["parentEntityIdentifier"] = {"type": "Nip", "value": parent}
        roles.append(item)
    return JsonResponse({"roles": roles, "hasMore": more})


# --- entity authorizations, subordinate units, EU entities --------------------------------------------


@api_view("POST", name="permissions.authorizations.grants")
def authorizations_grant(request: HttpRequest) -> HttpResponse:
    actor = _actor(request, services_permissions.GRANTORS)
    body = _body(request, "POST /permissions/authorizations/grants")
    return _started(
        lambda: services_permissions.grant_authorization(
            actor=actor,
            subject=_identifier(body["subjectIdentifier"]),
            permission=body["permission"],
            description=body["description"],
            full_name=body["subjectDetails"]["fullName"],
        )
    )


@api_view("DELETE", name="permissions.authorizations.revoke")
def authorizations_revoke(request: HttpRequest, permission_id: str) -> HttpResponse:
    actor = _actor(request, services_permissions.GRANTORS)
    return _started(
        lambda: services_permissions.revoke(
            actor=actor, permission_id=_permission_id(permission_id), authorization=True
        )
    )


@api_view("POST", name="permissions.subunits.grants")
def subunits_grant(request: HttpRequest) -> HttpResponse:
    actor = _actor(request, ("SubunitManage",))
    body = _body(request, "POST /permissions/subunits/grants")
    return _started(
        lambda: services_permissions.grant_subunit_admin(
            actor=actor,
            subject=_identifier(body["subjectIdentifier"]),
            target=_identifier(body["contextIdentifier"]),
            description=body["description"],
            subunit_name=body.get("subunitName"),
            details=body["subjectDetails"],
        )
    )


@api_view("POST", name="permissions.eu-entities.administration.grants")
def eu_admin_grant(request: HttpRequest) -> HttpResponse:
    actor = _actor(request, services_permissions.GRANTORS)
    body = _body(request, "POST /permissions/eu-entities/administration/grants")
    return _started(
        lambda: services_permissions.grant_eu_admin(
            actor=actor,
            fingerprint=body["subjectIdentifier"]["value"],
            composite=body["contextIdentifier"]["value"],
            description=body["description"],
            details={
                **body["subjectDetails"],
                "euEntityName": body["euEntityName"],
                "euEntityDetails": body["euEntityDetails"],
            },
        )
    )


@api_view("POST", name="permissions.eu-entities.grants")
def eu_representative_grant(request: HttpRequest) -> HttpResponse:
    actor = _actor(request, ("VatUeManage",), contexts=("NipVatUe",))
    body = _body(request, "POST /permissions/eu-entities/grants")
    return _started(
        lambda: services_permissions.grant_eu_representative(
            actor=actor,
            fingerprint=body["subjectIdentifier"]["value"],
            permissions=body["permissions"],
            description=body["description"],
            details=body["subjectDetails"],
        )
    )


@api_view("POST", name="permissions.query.subunits")
def query_subunits(request: HttpRequest) -> HttpResponse:
    offset, size = _page(request)
    actor = _actor(request, ("CredentialsManage", "CredentialsRead", "SubunitManage"))
    body = _body(request, "POST /permissions/query/subunits/grants")
    rows = services_permissions.subunit_admins(context_nip=actor.context_nip)
    if body.get("subunitIdentifier"):
        unit = body["subunitIdentifier"]
        rows = rows.filter(target_type=unit["type"], target_value=unit["value"])
    page, more = _slice(list(rows), offset, size)
    items = []
    for grant in page:
        item: dict[str, Any] = {
            "id": str(grant.grant_id),
            "authorizedIdentifier": {"type": grant.authorized_type, "value": grant.authorized_value},
            "subunitIdentifier": {"type": grant.target_type, "value": grant.target_value},
            "authorIdentifier": _author(grant),
            "permissionScope": grant.permission,
            "description": grant.description,
            "startDate": iso(grant.started_at),
        }
        person = _person_details(grant.subject_details)
        if person is not None:
            item["subjectPersonDetails"] = person
        if (grant.subject_details or {}).get("subunitName"):
            item["subunitName"] = grant.subject_details["subunitName"]
        items.append(item)
    return JsonResponse({"permissions": items, "hasMore": more})


@api_view("POST", name="permissions.query.subordinate-entities.roles")
def query_subordinate_roles(request: HttpRequest) -> HttpResponse:
    offset, size = _page(request)
    actor = _actor(request, ("CredentialsManage", "CredentialsRead", "SubunitManage"))
    body = _body(request, "POST /permissions/query/subordinate-entities/roles")
    rows = services_permissions.subordinate_entities(nip=actor.context_nip)
    wanted = (body.get("subordinateEntityIdentifier") or {}).get("value")
    if wanted:
        rows = [row for row in rows if row[0] == wanted]
    page, more = _slice(rows, offset, size)
    roles = [
        {
            "subordinateEntityIdentifier": {"type": "Nip", "value": nip},
            "role": role,
            "description": description,
            "startDate": iso(since),
        }
        for nip, role, description, since in page
    ]
    return JsonResponse({"roles": roles, "hasMore": more})


@api_view("POST", name="permissions.query.authorizations")
def query_authorizations(request: HttpRequest) -> HttpResponse:
    offset, size = _page(request)
    actor = _actor(request, ("CredentialsManage", "CredentialsRead", "PefInvoiceWrite"))
    body = _body(request, "POST /permissions/query/authorizations/grants")
    received = body["queryType"] == "Received"
    rows = services_permissions.authorizations(nip=actor.context_nip, received=received)
    if received and body.get("authorizingIdentifier"):
        rows = rows.filter(context_nip=body["authorizingIdentifier"]["value"])
    if not received and body.get("authorizedIdentifier"):
        who = body["authorizedIdentifier"]
        rows = rows.filter(authorized_type=who["type"], authorized_value=who["value"])
    if body.get("permissionTypes"):
        rows = rows.filter(permission__in=body["permissionTypes"])
    page, more = _slice(list(rows), offset, size)
    items = []
    for grant in page:
        item: dict[str, Any] = {
            "id": str(grant.grant_id),
            "authorizedEntityIdentifier": {"type": grant.authorized_type, "value": grant.authorized_value},
            "authorizingEntityIdentifier": {"type": "Nip", "value": grant.context_nip},
            "authorizationScope": grant.permission,
            "description": grant.description,
            "startDate": iso(grant.started_at),
        }
        if grant.author_type != "System":
            item["authorIdentifier"] = _author(grant)
        entity = _entity_details(grant)
        if entity is not None:
            item["subjectEntityDetails"] = entity
        items.append(item)
    return JsonResponse({"authorizationGrants": items, "hasMore": more})


@api_view("POST", name="permissions.query.eu-entities")
def query_eu_entities(request: HttpRequest) -> HttpResponse:
    offset, size = _page(request)
    actor = _actor(
        request, ("CredentialsManage", "CredentialsRead", "VatUeManage"), contexts=("Nip", "NipVatUe")
    )
    body = _body(request, "POST /permissions/query/eu-entities/grants")
    rows = services_permissions.eu_entity_grants(
        context_type=actor.context_type, context_value=actor.context_value
    )
    if body.get("vatUeIdentifier"):
        rows = rows.filter(target_value__endswith="-" + body["vatUeIdentifier"])
    if body.get("authorizedFingerprintIdentifier"):
        rows = rows.filter(authorized_value__icontains=body["authorizedFingerprintIdentifier"])
    if body.get("permissionTypes"):
        rows = rows.filter(permission__in=body["permissionTypes"])
    page, more = _slice(list(rows), offset, size)
    items = []
    for grant in page:
        details = grant.subject_details or {}
        admin = services_permissions.admin_of(grant)
        item: dict[str, Any] = {
            "id": str(grant.grant_id),
            "authorIdentifier": {"type": grant.author_type, "value": grant.author_value},
            "vatUeIdentifier": grant.target_value.partition("-")[2],
            "euEntityName": admin.get("euEntityName") or grant.target_value,
            "authorizedFingerprintIdentifier": grant.authorized_value,
            "permissionScope": grant.permission,
            "description": grant.description,
            "startDate": iso(grant.started_at),
        }
        person = _person_details(details, fingerprint_only=True)
        if person is not None:
            item["subjectPersonDetails"] = person
        entity = details.get("entityByFp")
        if details.get("subjectDetailsType") == "EntityByFingerprint" and isinstance(entity, dict):
            item["subjectEntityDetails"] = {"subjectDetailsType": "EntityByFingerprint", **entity}
        if admin.get("euEntityDetails"):
            item["euEntityDetails"] = admin["euEntityDetails"]
        items.append(item)
    return JsonResponse({"permissions": items, "hasMore": more})
