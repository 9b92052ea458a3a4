"""TEST's unauthenticated test-data endpoints: persons, subjects, ZAW-FA permissions, context blocks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse

from ksef_simulator.http import api_view, json_object
from ksef_simulator.models import AttachmentConsent, BlockedContext, SimGrant, SimPerson, SimSubject
from ksef_simulator.processing import warsaw_date
from ksef_simulator.responses import bad_request, now_utc, validation_error
from ksef_simulator.schemas_core import validate_request

EXISTS = "Podmiot lub uprawnienie już istnieje."


def _body(request: HttpRequest, operation: str) -> dict[str, Any]:
    body = json_object(request)
    validate_request(operation, body)
    return body


def _created(body: dict[str, Any]) -> dt.datetime:
    value = body.get("createdDate")
    return dt.datetime.fromisoformat(value) if value else now_utc()


def _ok() -> HttpResponse:
    return HttpResponse(status=200)


@api_view("POST", name="testdata.person")
def person(request: HttpRequest) -> HttpResponse:
    body = _body(request, "POST /testdata/person")
    if SimPerson.objects.filter(nip=body["nip"]).exists():
        raise bad_request(30001, EXISTS, f"Osoba o NIP {body['nip']} już istnieje.")
    SimPerson.objects.create(
        nip=body["nip"],
        pesel=body["pesel"],
        is_bailiff=body["isBailiff"],
        is_deceased=bool(body.get("isDeceased")),
        description=body["description"],
        created_at=_created(body),
    )
    return _ok()


@api_view("POST", name="testdata.person.remove")
def person_remove(request: HttpRequest) -> HttpResponse:
    body = _body(request, "POST /testdata/person/remove")
    SimPerson.objects.filter(nip=body["nip"]).delete()
    return _ok()


@api_view("POST", name="testdata.subject")
def subject(request: HttpRequest) -> HttpResponse:
    body = _body(request, "POST /testdata/subject")
    nips = [body["subjectNip"], *(unit["subjectNip"] for unit in body.get("subunits") or [])]
    with transaction.atomic():
        if SimSubject.objects.filter(nip__in=nips).exists():
            raise bad_request(30001, EXISTS, "Podmiot o podanym NIP już istnieje.")
        created = _created(body)
        SimSubject.objects.create(
            nip=body["subjectNip"], subject_type=body["subjectType"], description=body["description"],
            created_at=created,
        )  # fmt: skip
        for unit in body.get("subunits") or []:
            SimSubject.objects.create(
                nip=unit["subjectNip"], subject_type=body["subjectType"], description=unit["description"],
                parent_nip=body["subjectNip"], created_at=created,
            )  # fmt: skip
    return _ok()


@api_view("POST", name="testdata.subject.remove")
def subject_remove(request: HttpRequest) -> HttpResponse:
    body = _body(request, "POST /testdata/subject/remove")
    SimSubject.objects.filter(parent_nip=body["subjectNip"]).delete()
    SimSubject.objects.filter(nip=body["subjectNip"]).delete()
    return _ok()


@api_view("POST", name="testdata.permissions")
def permissions(request: HttpRequest) -> HttpResponse:
    """ZAW-FA-style grants, kept in the same store as ``/permissions/persons/grants`` (author System): they
    are listed by the queries, revocable by ``DELETE /permissions/common/grants/{id}``, and enforced."""
    body = _body(request, "POST /testdata/permissions")
    context, authorized = body["contextIdentifier"], body["authorizedIdentifier"]
    for item in body["permissions"]:
        SimGrant.objects.update_or_create(
            context_nip=context["value"],
            kind=SimGrant.Kind.PERSON,
            authorized_type=authorized["type"],
            authorized_value=authorized["value"],
            permission=item["permissionType"],
            target_type="",
            target_value="",
            defaults={"description": item["description"], "author_type": "System", "author_value": ""},
        )
    return _ok()


@api_view("POST", name="testdata.permissions.revoke")
def permissions_revoke(request: HttpRequest) -> HttpResponse:
    """Every permission the identifier holds in the context as a person (ZAW-FA's revocation), however it
    was granted; entity and indirect grants stay."""
    body = _body(request, "POST /testdata/permissions/revoke")
    SimGrant.objects.filter(
        kind=SimGrant.Kind.PERSON,
        context_nip=body["contextIdentifier"]["value"],
        authorized_type=body["authorizedIdentifier"]["type"],
        authorized_value=body["authorizedIdentifier"]["value"],
    ).delete()
    return _ok()


def _context(request: HttpRequest, operation: str) -> tuple[str, str]:
    body = _body(request, operation)
    context = body.get("contextIdentifier")
    if not context:
        raise validation_error("contextIdentifier: pole jest wymagane.")
    return str(context["type"]), str(context["value"])


@api_view("POST", name="testdata.context.block")
def context_block(request: HttpRequest) -> HttpResponse:
    context_type, context_value = _context(request, "POST /testdata/context/block")
    BlockedContext.objects.get_or_create(context_type=context_type, context_value=context_value)
    return _ok()


@api_view("POST", name="testdata.context.unblock")
def context_unblock(request: HttpRequest) -> HttpResponse:
    context_type, context_value = _context(request, "POST /testdata/context/unblock")
    BlockedContext.objects.filter(context_type=context_type, context_value=context_value).delete()
    return _ok()


@api_view("POST", name="testdata.attachment")
def attachment(request: HttpRequest) -> HttpResponse:
    """The NIP may send invoices with attachments from now on (the consent given in e-Urząd Skarbowy)."""
    body = _body(request, "POST /testdata/attachment")
    AttachmentConsent.objects.update_or_create(
        nip=body["nip"], defaults={"granted_at": now_utc(), "ends_on": None}
    )
    return _ok()


@api_view("POST", name="testdata.attachment.revoke")
def attachment_revoke(request: HttpRequest) -> HttpResponse:
    """The consent ends on ``expectedEndDate`` (that day is the first without it), or at once."""
    body = _body(request, "POST /testdata/attachment/revoke")
    ends = dt.date.fromisoformat(body["expectedEndDate"]) if body.get("expectedEndDate") else None
    consent = AttachmentConsent.objects.filter(nip=body["nip"]).first()
    if consent is not None:
        if ends is None or ends <= warsaw_date(now_utc()):
            consent.delete()
        else:
            consent.ends_on = ends
            consent.save(update_fields=["ends_on"])
    return _ok()
