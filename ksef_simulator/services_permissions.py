"""Who may do what in a context (the one place that decides it) and the permissions store behind
``/permissions/*``: grants to persons, entities and indirect grants, revocation, the asynchronous
operations (``EG``) and the read-outs the query endpoints and the Uprawnienia page show.

Plain keyword-only functions; the API views, the Aplikacja Podatnika pages, ``security`` (a caller whose
rights were taken away loses its tokens) and the auth endpoints all call them. Imports no view code.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q, QuerySet

from ksef_simulator import ids
from ksef_simulator.conf import get_config
from ksef_simulator.models import PermissionOperation, SimGrant, SimPerson, SimSubject
from ksef_simulator.responses import now_utc

# The Owner role: everything except VatUeManage (ksef-api.md §16). EnforcementOperations belongs to
# bailiffs and enforcement authorities, PefInvoiceWrite to Peppol providers, so neither comes with it.
OWNER_PERMISSIONS = frozenset(
    {
        "InvoiceWrite",
        "InvoiceRead",
        "Introspection",
        "CredentialsRead",
        "CredentialsManage",
        "SubunitManage",
        "CollectiveIdentifierManage",
    }
)
PERSON_PERMISSIONS = (
    "CredentialsManage", "CredentialsRead", "InvoiceWrite", "InvoiceRead", "Introspection", "SubunitManage",
    "EnforcementOperations", "CollectiveIdentifierManage",
)  # fmt: skip
ENTITY_PERMISSIONS = ("InvoiceWrite", "InvoiceRead", "CollectiveIdentifierManage")
GRANTORS = ("CredentialsManage",)
REVOKERS = ("CredentialsManage", "VatUeManage", "SubunitManage")
READERS = ("CredentialsManage", "CredentialsRead")
ENFORCEMENT_ROLES = ("EnforcementAuthority", "CourtBailiff")
RETENTION = dt.timedelta(days=30)  # GET /permissions/operations/{ref}: 410 afterwards (ksef-api.md §13)

OPERATION_DESCRIPTIONS = {
    100: "Operacja przyjęta do realizacji",
    200: "Operacja zakończona sukcesem",
    400: "Operacja zakończona niepowodzeniem",
    410: "Podane identyfikatory są niezgodne lub pozostają w niewłaściwej relacji",
    420: "Użyte poświadczenia nie mają uprawnień do wykonania tej operacji",
    430: "Kontekst identyfikatora nie odpowiada wymaganej roli lub uprawnieniom",
    440: "Operacja niedozwolona dla wskazanych powiązań identyfikatorów",
    450: "Operacja niedozwolona dla wskazanego identyfikatora lub jego typu",
    500: "Nieznany błąd",
}
# The roles GET /permissions/query/entities/roles reports, by the test-data subject type that gives them
# (a top unit, then a subunit).
_ROLES = {
    "EnforcementAuthority": ("EnforcementAuthority", "EnforcementAuthority"),
    "VatGroup": ("VatGroupUnit", "VatGroupSubUnit"),
    "JST": ("LocalGovernmentUnit", "LocalGovernmentSubUnit"),
}
ROLE_DESCRIPTIONS = {
    "CourtBailiff": "Komornik sądowy",
    "EnforcementAuthority": "Organ egzekucyjny",
    "LocalGovernmentUnit": "Nadrzędna jednostka samorządu terytorialnego",
    "LocalGovernmentSubUnit": "Podrzędna jednostka samorządu terytorialnego",
    "VatGroupUnit": "Grupa VAT",
    "VatGroupSubUnit": "Członek grupy VAT",
}


class PermissionsError(Exception):
    """A request the store refuses at once (KSeF's 21405 with ``detail``)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Actor:
    """Who acts: the context they are logged in to (a NIP) and their own identity."""

    context_nip: str
    subject_type: str  # Nip | Pesel | Fingerprint
    subject_value: str


@dataclass(frozen=True)
class Identifier:
    type: str
    value: str


# --- who may do what ------------------------------------------------------------------------------


def identities(subject_type: str, subject_value: str) -> set[tuple[str, str]]:
    """The identifiers a subject answers to: itself and, through a test person, its linked NIP or PESEL."""
    found = {(subject_type, subject_value)}
    if subject_type == "Nip":
        person = SimPerson.objects.filter(nip=subject_value).first()
        if person is not None:
            found.add(("Pesel", person.pesel))
    elif subject_type == "Pesel":
        found.update(
            ("Nip", nip)
            for nip in SimPerson.objects.filter(pesel=subject_value).values_list("nip", flat=True)
        )
    return found


def _authorized(pairs: Iterable[tuple[str, str]]) -> Q:
    query = Q(pk__in=[])
    for kind, value in pairs:
        query |= Q(authorized_type=kind, authorized_value=value)
    return query


def is_owner(*, context_nip: str, subject_type: str, subject_value: str) -> bool:
    """Owner of a NIP context: its NIP itself, or the PESEL a test person links to it (ksef-api.md §16)."""
    if subject_type == "Nip":
        return subject_value == context_nip
    if subject_type == "Pesel":
        return SimPerson.objects.filter(nip=context_nip, pesel=subject_value).exists()
    return False


def _delegable(*, client_nip: str) -> set[tuple[str, str]]:
    """(intermediary NIP, permission) pairs the client let its intermediaries pass on."""
    rows = SimGrant.objects.filter(
        kind=SimGrant.Kind.ENTITY, context_nip=client_nip, authorized_type="Nip", can_delegate=True
    ).values_list("authorized_value", "permission")
    return set(rows)


def permissions_for(
    *, context_type: str, context_value: str, subject_type: str, subject_value: str
) -> set[str]:
    """The permissions a subject holds in a context now: Owner by NIP or linked PESEL, what was granted to
    it (or to its linked identity) directly or as an entity, and indirect grants its client lets through."""
    if context_type != "Nip":
        # Subunits, EU VAT and Peppol contexts need grants this simulator does not model yet.
        return set()
    permissions: set[str] = set()
    if is_owner(context_nip=context_value, subject_type=subject_type, subject_value=subject_value):
        permissions |= OWNER_PERMISSIONS
        person = SimPerson.objects.filter(nip=context_value).first()
        if person is not None and person.is_bailiff:
            permissions.add("EnforcementOperations")
        if SimSubject.objects.filter(nip=context_value, subject_type="EnforcementAuthority").exists():
            permissions.add("EnforcementOperations")
    who = _authorized(identities(subject_type, subject_value))
    direct = SimGrant.objects.filter(who, context_nip=context_value).exclude(kind=SimGrant.Kind.INDIRECT)
    permissions.update(direct.values_list("permission", flat=True))
    indirect = list(
        SimGrant.objects.filter(who, kind=SimGrant.Kind.INDIRECT)
        .filter(Q(target_type="Nip", target_value=context_value) | Q(target_type="AllPartners"))
        .values_list("context_nip", "permission")
    )
    if indirect:
        delegable = _delegable(client_nip=context_value)
        permissions.update(
            permission for intermediary, permission in indirect if (intermediary, permission) in delegable
        )
    return permissions


def context_roles(nip: str) -> list[tuple[str, str, dt.datetime, str]]:
    """The context's roles: ``(role, description, since, parent NIP or "")``."""
    roles = []
    for subject in SimSubject.objects.filter(nip=nip):
        top, sub = _ROLES.get(subject.subject_type, (None, None))
        role = sub if subject.parent_nip else top
        if role:
            roles.append((role, ROLE_DESCRIPTIONS[role], subject.created_at, subject.parent_nip))
    person = SimPerson.objects.filter(nip=nip, is_bailiff=True).first()
    if person is not None:
        roles.append(("CourtBailiff", ROLE_DESCRIPTIONS["CourtBailiff"], person.created_at, ""))
    return sorted(roles, key=lambda r: r[2], reverse=True)


# --- operations -----------------------------------------------------------------------------------


def _operation(actor: Actor, code: int = 200, *details: str) -> PermissionOperation:
    now = now_utc()
    return PermissionOperation.objects.create(
        reference_number=ids.reference_number("EG", now),
        context_type="Nip",
        context_value=actor.context_nip,
        started_at=now,
        outcome_code=code,
        outcome_details=list(details),
    )


def operation_find(*, context_nip: str, reference: str) -> PermissionOperation | None:
    return PermissionOperation.objects.filter(
        reference_number=reference, context_type="Nip", context_value=context_nip
    ).first()


def operation_status(operation: PermissionOperation, *, now: dt.datetime | None = None) -> dict[str, object]:
    """``StatusInfo``: 100 while the operation "runs", then its outcome."""
    now = now or now_utc()
    if now < operation.started_at + get_config().permission_operation_delay:
        code, details = 100, []
    else:
        code, details = operation.outcome_code, list(operation.outcome_details)
    status: dict[str, object] = {
        "code": code,
        "description": OPERATION_DESCRIPTIONS.get(code, "Nieznany błąd"),
    }
    if details:
        status["details"] = details
    return status


def operation_expired(operation: PermissionOperation, *, now: dt.datetime | None = None) -> bool:
    return (now or now_utc()) - operation.started_at > RETENTION


# --- grants ---------------------------------------------------------------------------------------


def _unique(permissions: Sequence[str]) -> list[str]:
    if not permissions:
        raise PermissionsError("permissions: wymagane jest co najmniej jedno uprawnienie.")
    if len(set(permissions)) != len(permissions):
        raise PermissionsError("permissions: każda wartość może wystąpić tylko raz.")
    return list(permissions)


def _check_identifier(identifier: Identifier) -> None:
    if identifier.type == "Nip" and not nip_is_valid(identifier.value):
        raise PermissionsError("subjectIdentifier: nieprawidłowy numer NIP.")
    if identifier.type == "Pesel" and not pesel_is_valid(identifier.value):
        raise PermissionsError("subjectIdentifier: nieprawidłowy numer PESEL.")
    if identifier.type == "Fingerprint" and not _is_fingerprint(identifier.value):
        raise PermissionsError("subjectIdentifier: odcisk certyfikatu to 64 znaki szesnastkowe (SHA-256).")


def _is_fingerprint(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdefABCDEF" for c in value)


def _grant(
    actor: Actor,
    *,
    kind: str,
    subject: Identifier,
    rows: Iterable[tuple[str, bool]],
    description: str,
    details: dict[str, object],
    target: Identifier | None = None,
) -> None:
    now = now_utc()
    for permission, can_delegate in rows:
        SimGrant.objects.update_or_create(
            context_nip=actor.context_nip,
            kind=kind,
            authorized_type=subject.type,
            authorized_value=subject.value,
            permission=permission,
            target_type=target.type if target else "",
            target_value=target.value if target else "",
            defaults={
                "description": description,
                "can_delegate": can_delegate,
                "author_type": actor.subject_type,
                "author_value": actor.subject_value,
                "subject_details": details,
                "started_at": now,
            },
        )


def grant_to_person(
    *,
    actor: Actor,
    subject: Identifier,
    permissions: Sequence[str],
    description: str,
    details: dict[str, object] | None = None,
) -> PermissionOperation:
    """``POST /permissions/persons/grants``: a person (PESEL, NIP or certificate fingerprint) may work in the
    actor's context. The outcome (200, or 430/450 with the reason) is in the returned operation."""
    wanted = _unique(permissions)
    _check_identifier(subject)
    unknown = sorted(set(wanted) - set(PERSON_PERMISSIONS))
    if unknown:
        raise PermissionsError(f"permissions: nieznane uprawnienia {', '.join(unknown)}.")
    with transaction.atomic():
        if subject.type == "Nip" and subject.value == actor.context_nip:
            return _operation(
                actor, 450, "Właściciel kontekstu ma wszystkie uprawnienia; nie nadaje się ich."
            )
        roles = {role for role, *_ in context_roles(actor.context_nip)}
        if "EnforcementOperations" in wanted and not roles.intersection(ENFORCEMENT_ROLES):
            return _operation(
                actor,
                430,
                "Uprawnienie EnforcementOperations wymaga roli organu egzekucyjnego lub komornika.",
            )
        _grant(
            actor,
            kind=SimGrant.Kind.PERSON,
            subject=subject,
            rows=((p, False) for p in wanted),
            description=description,
            details=details or {},
        )
        return _operation(actor)


def grant_to_entity(
    *,
    actor: Actor,
    nip: str,
    permissions: Sequence[tuple[str, bool]],
    description: str,
    full_name: str,
) -> PermissionOperation:
    """``POST /permissions/entities/grants``: an entity (e.g. an accounting office, by NIP) may handle the
    actor's invoices; ``(permission, can_delegate)`` pairs, delegable ones it may pass on indirectly."""
    _unique([p for p, _ in permissions])
    _check_identifier(Identifier("Nip", nip))
    unknown = sorted({p for p, _ in permissions} - set(ENTITY_PERMISSIONS))
    if unknown:
        raise PermissionsError(f"permissions: nieznane uprawnienia {', '.join(unknown)}.")
    with transaction.atomic():
        if nip == actor.context_nip:
            return _operation(actor, 450, "Nie można nadać uprawnień podmiotowi kontekstu.")
        _grant(
            actor,
            kind=SimGrant.Kind.ENTITY,
            subject=Identifier("Nip", nip),
            rows=permissions,
            description=description,
            details={"subjectDetailsType": "EntityByIdentifier", "fullName": full_name},
        )
        return _operation(actor)


def grant_indirect(
    *,
    actor: Actor,
    subject: Identifier,
    target: Identifier | None,
    permissions: Sequence[str],
    description: str,
    details: dict[str, object] | None = None,
) -> PermissionOperation:
    """``POST /permissions/indirect/grants``: the actor's context (an intermediary) lets a person handle one
    client's invoices (``target`` a NIP) or every client's (``None`` or ``AllPartners``). A selective grant
    needs the client to have let the intermediary pass something on (else the operation ends with 440)."""
    wanted = _unique(permissions)
    _check_identifier(subject)
    unknown = sorted(set(wanted) - set(ENTITY_PERMISSIONS))
    if unknown:
        raise PermissionsError(f"permissions: nieznane uprawnienia {', '.join(unknown)}.")
    target = target if target is not None and target.type != "AllPartners" else Identifier("AllPartners", "")
    if target.type == "Nip":
        _check_identifier(target)
    with transaction.atomic():
        if target.type in ("Nip", "InternalId"):
            client = target.value.split("-")[0]
            if not any(nip == actor.context_nip for nip, _ in _delegable(client_nip=client)):
                return _operation(
                    actor,
                    440,
                    "Klient nie nadał podmiotowi kontekstu uprawnień z prawem dalszego przekazywania.",
                )
        _grant(
            actor,
            kind=SimGrant.Kind.INDIRECT,
            subject=subject,
            target=target,
            rows=((p, False) for p in wanted),
            description=description,
            details=details or {},
        )
        return _operation(actor)


def revocable(*, context_nip: str) -> QuerySet[SimGrant]:
    """Grants the context may revoke: made in it (to persons, entities, indirectly) or by ZAW-FA."""
    return SimGrant.objects.filter(context_nip=context_nip)


def revoke(*, actor: Actor, permission_id: str) -> PermissionOperation:
    """``DELETE /permissions/common/grants/{permissionId}``: the grant stops working at once (its holder's
    access tokens with it, see ``security``); PermissionsError when the context has no such grant."""
    try:
        grant_id = uuid.UUID(permission_id)
    except ValueError:
        raise PermissionsError("permissionId: nieprawidłowy identyfikator uprawnienia.") from None
    with transaction.atomic():
        deleted, _ = revocable(context_nip=actor.context_nip).filter(grant_id=grant_id).delete()
        if not deleted:
            raise PermissionsError(
                "Nie znaleziono uprawnienia o podanym identyfikatorze w bieżącym kontekście."
            )
        return _operation(actor)


# --- read-outs ------------------------------------------------------------------------------------


def in_context(*, context_nip: str) -> QuerySet[SimGrant]:
    """Who may work in the context (persons and entities) and whom it authorised indirectly."""
    return SimGrant.objects.filter(context_nip=context_nip).order_by("-started_at", "grant_id")


def personal(*, context_nip: str, subject_type: str, subject_value: str) -> QuerySet[SimGrant]:
    """The caller's own grants as the personal query shows them: direct and entity grants in the context,
    indirect ones where the context is the client or the intermediary, and (for the context's owner) what
    other entities granted the context's NIP."""
    who = _authorized(identities(subject_type, subject_value))
    own = Q(who, context_nip=context_nip) & ~Q(kind=SimGrant.Kind.INDIRECT)
    indirect = Q(who, kind=SimGrant.Kind.INDIRECT) & (
        Q(context_nip=context_nip)
        | Q(target_type="Nip", target_value=context_nip)
        | Q(target_type="AllPartners")
    )
    query = own | indirect
    if is_owner(context_nip=context_nip, subject_type=subject_type, subject_value=subject_value):
        query |= Q(kind=SimGrant.Kind.ENTITY, authorized_type="Nip", authorized_value=context_nip)
    return SimGrant.objects.filter(query).order_by("-started_at", "grant_id")


def received_by_entity(*, nip: str) -> QuerySet[SimGrant]:
    """Invoice-handling grants other entities gave to this NIP."""
    return SimGrant.objects.filter(
        kind=SimGrant.Kind.ENTITY, authorized_type="Nip", authorized_value=nip
    ).order_by("-started_at", "grant_id")


def is_active(grant: SimGrant) -> bool:
    """An indirect grant for a client is inactive while that client lets the intermediary pass nothing on
    (general grants and all others are active)."""
    if grant.kind != SimGrant.Kind.INDIRECT or grant.target_type == "AllPartners":
        return True
    client = grant.target_value.split("-")[0]
    return (grant.context_nip, grant.permission) in _delegable(client_nip=client)


# --- identifiers ----------------------------------------------------------------------------------

NIP_RE = re.compile(r"^[1-9]((\d[1-9])|([1-9]\d))\d{7}$")  # the auth XSD's pattern
_NIP_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)
_PESEL_WEIGHTS = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)


def nip_is_valid(nip: str) -> bool:
    if not NIP_RE.match(nip) or not nip.isascii():
        return False
    checksum = sum(int(d) * w for d, w in zip(nip[:9], _NIP_WEIGHTS, strict=True)) % 11
    return checksum != 10 and checksum == int(nip[9])


def pesel_is_valid(pesel: str) -> bool:
    if len(pesel) != 11 or not pesel.isascii() or not pesel.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(pesel[:10], _PESEL_WEIGHTS, strict=True))
    return (10 - total % 10) % 10 == int(pesel[10])
