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
AUTHORIZATION_PERMISSIONS = ("SelfInvoicing", "RRInvoicing", "TaxRepresentative", "PefInvoicing")
EU_ADMIN_PERMISSIONS = ("VatUeManage", "InvoiceWrite", "InvoiceRead", "Introspection")
EU_REPRESENTATIVE_PERMISSIONS = ("InvoiceWrite", "InvoiceRead")
PARENT_ROLES = ("VatGroupUnit", "LocalGovernmentUnit")  # may name administrators of subordinate entities
# Grants that give a permission in context_nip itself; the other kinds act in their target context.
_IN_CONTEXT = ("Person", "Entity")
# What DELETE /permissions/common/grants/{id} revokes: everything but entity authorizations, which have
# their own DELETE /permissions/authorizations/grants/{id}.
_COMMON = ("Person", "Entity", "Indirect", "Subunit", "EuAdmin", "EuRepresentative")
PEPPOL_ID_RE = re.compile(r"^P[A-Z]{2}[0-9]{6}$")
# The EU VAT number patterns of the spec (EuEntityPermissionsQueryRequest.vatUeIdentifier).
VAT_UE_RE = re.compile(
    r"^(ATU\d{8}|BE[01]{1}\d{9}|BG\d{9,10}|CY\d{8}[A-Z]|CZ\d{8,10}|DE\d{9}|DK\d{8}|EE\d{9}|EL\d{9}|"
    r"ES([A-Z]\d{8}|\d{8}[A-Z]|[A-Z]\d{7}[A-Z])|FI\d{8}|FR[A-Z0-9]{2}\d{9}|HR\d{11}|HU\d{8}|"
    r"IE(\d{7}[A-Z]{2}|\d[A-Z0-9+*]\d{5}[A-Z])|IT\d{11}|LT(\d{9}|\d{12})|LU\d{8}|LV\d{11}|MT\d{8}|"
    r"NL[A-Z0-9+*]{12}|PT\d{9}|RO\d{2,10}|SE\d{12}|SI\d{8}|SK\d{10}|XI((\d{9}|\d{12})|(GD|HA)\d{3}))$"
)
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
    """Who acts: the context they are logged in to (its NIP, and the full identifier when it is not a plain
    NIP: ``InternalId`` or ``NipVatUe``) and their own identity."""

    context_nip: str
    subject_type: str  # Nip | Pesel | Fingerprint
    subject_value: str
    context_type: str = "Nip"
    context_value: str = ""


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
    who = _authorized(identities(subject_type, subject_value))
    if context_type == "InternalId":
        # A subunit's administrator manages its permissions (granted by the parent with SubunitManage).
        targeted = SimGrant.objects.filter(
            who, kind=SimGrant.Kind.SUBUNIT, target_type="InternalId", target_value=context_value
        )
        return set(targeted.values_list("permission", flat=True))
    if context_type == "NipVatUe":
        targeted = SimGrant.objects.filter(
            who,
            kind__in=(SimGrant.Kind.EU_ADMIN, SimGrant.Kind.EU_REPRESENTATIVE),
            target_type="NipVatUe",
            target_value=context_value,
        )
        return set(targeted.values_list("permission", flat=True))
    if context_type != "Nip":
        return set()  # Peppol providers' contexts are not modelled
    permissions: set[str] = set()
    if is_owner(context_nip=context_value, subject_type=subject_type, subject_value=subject_value):
        permissions |= OWNER_PERMISSIONS
        person = SimPerson.objects.filter(nip=context_value).first()
        if person is not None and person.is_bailiff:
            permissions.add("EnforcementOperations")
        if SimSubject.objects.filter(nip=context_value, subject_type="EnforcementAuthority").exists():
            permissions.add("EnforcementOperations")
    direct = SimGrant.objects.filter(who, context_nip=context_value, kind__in=_IN_CONTEXT)
    permissions.update(direct.values_list("permission", flat=True))
    # The administrator a parent (VAT group, JST) named for this subordinate entity.
    subunit = SimGrant.objects.filter(
        who, kind=SimGrant.Kind.SUBUNIT, target_type="Nip", target_value=context_value
    )
    permissions.update(subunit.values_list("permission", flat=True))
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
        context_type=actor.context_type,
        context_value=actor.context_value or actor.context_nip,
        started_at=now,
        outcome_code=code,
        outcome_details=list(details),
    )


def operation_find(*, context_type: str, context_value: str, reference: str) -> PermissionOperation | None:
    return PermissionOperation.objects.filter(
        reference_number=reference, context_type=context_type, context_value=context_value
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


def grant_authorization(
    *, actor: Actor, subject: Identifier, permission: str, description: str, full_name: str
) -> PermissionOperation:
    """``POST /permissions/authorizations/grants``: an entity permission (ksef-api.md §16) — the subject (a
    NIP, or a Peppol provider for PefInvoicing) may issue invoices on behalf of the actor's NIP: as the
    buyer who self-invoices, its tax representative, the buyer issuing VAT RR invoices, or the provider
    sending PEF invoices. Checked when such an invoice arrives (``may_issue_for``)."""
    if permission not in AUTHORIZATION_PERMISSIONS:
        raise PermissionsError(f"permission: nieznane uprawnienie {permission}.")
    if subject.type == "Nip":
        _check_identifier(subject)
    elif subject.type == "PeppolId":
        if not PEPPOL_ID_RE.match(subject.value):
            raise PermissionsError(
                "subjectIdentifier: identyfikator dostawcy usług Peppol ma postać PXX999999."
            )
    else:
        raise PermissionsError("subjectIdentifier.type: dozwolone wartości to Nip, PeppolId.")
    with transaction.atomic():
        if subject.type == "Nip" and subject.value == actor.context_nip:
            return _operation(actor, 450, "Nie można nadać uprawnienia podmiotowego podmiotowi kontekstu.")
        if (permission == "PefInvoicing") != (subject.type == "PeppolId"):
            return _operation(
                actor, 450, "Uprawnienie PefInvoicing nadaje się wyłącznie dostawcy usług Peppol (PeppolId)."
            )
        _grant(
            actor,
            kind=SimGrant.Kind.AUTHORIZATION,
            subject=subject,
            rows=[(permission, False)],
            description=description,
            details={"subjectDetailsType": "EntityByIdentifier", "fullName": full_name},
        )
        return _operation(actor)


def may_issue_for(*, context_nip: str, seller_nip: str, self_invoicing: bool, rr_invoice: bool) -> bool:
    """Whether the context may send an invoice whose seller (Podmiot1) is another NIP: the seller gave it
    SelfInvoicing (for an invoice marked as self-invoicing), RRInvoicing (for a VAT RR invoice) or
    TaxRepresentative."""
    wanted = ["TaxRepresentative"]
    if self_invoicing:
        wanted.append("SelfInvoicing")
    if rr_invoice:
        wanted.append("RRInvoicing")
    return SimGrant.objects.filter(
        kind=SimGrant.Kind.AUTHORIZATION,
        context_nip=seller_nip,
        authorized_type="Nip",
        authorized_value=context_nip,
        permission__in=wanted,
    ).exists()


def internal_id_is_valid(value: str) -> bool:
    """``<NIP>-<4 digits><check digit>``: the digits weighted 1, 3, 1, 3… and summed, modulo 10."""
    nip, _, suffix = value.partition("-")
    if not nip_is_valid(nip) or len(suffix) != 5 or not suffix.isascii() or not suffix.isdigit():
        return False
    digits = nip + suffix[:4]
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return total % 10 == int(suffix[4])


def grant_subunit_admin(
    *,
    actor: Actor,
    subject: Identifier,
    target: Identifier,
    description: str,
    subunit_name: str | None,
    details: dict[str, object],
) -> PermissionOperation:
    """``POST /permissions/subunits/grants``: CredentialsManage in a subordinate entity's NIP context (the
    actor's context is its VAT group or parent JST) or in an internal unit ``<actor's NIP>-<5 digits>``."""
    _check_identifier(subject)
    if target.type == "InternalId":
        if not internal_id_is_valid(target.value):
            raise PermissionsError(
                "contextIdentifier: identyfikator wewnętrzny to NIP-5 cyfr z sumą kontrolną."
            )
        if not subunit_name:
            raise PermissionsError(
                "subunitName: pole jest wymagane dla jednostki z identyfikatorem wewnętrznym."
            )
    elif target.type == "Nip":
        _check_identifier(target)
    else:
        raise PermissionsError("contextIdentifier.type: dozwolone wartości to InternalId, Nip.")
    with transaction.atomic():
        if target.type == "InternalId" and target.value.split("-")[0] != actor.context_nip:
            return _operation(
                actor, 440, "Identyfikator wewnętrzny musi zaczynać się od numeru NIP podmiotu kontekstu."
            )
        if target.type == "Nip":
            roles = {role for role, *_ in context_roles(actor.context_nip)}
            if not roles.intersection(PARENT_ROLES):
                return _operation(
                    actor, 430, "Podmiot kontekstu nie jest grupą VAT ani nadrzędną jednostką samorządu."
                )
            if not SimSubject.objects.filter(nip=target.value, parent_nip=actor.context_nip).exists():
                return _operation(
                    actor, 440, f"Podmiot {target.value} nie jest podmiotem podrzędnym podmiotu kontekstu."
                )
        _grant(
            actor,
            kind=SimGrant.Kind.SUBUNIT,
            subject=subject,
            target=target,
            rows=[("CredentialsManage", False)],
            description=description,
            details={**details, "subunitName": subunit_name},
        )
        return _operation(actor)


def grant_eu_admin(
    *,
    actor: Actor,
    fingerprint: str,
    composite: str,
    description: str,
    details: dict[str, object],
) -> PermissionOperation:
    """``POST /permissions/eu-entities/administration/grants``: the holder of a qualified certificate
    (its fingerprint) administers the composite context ``<actor's NIP>-<EU VAT number>`` with VatUeManage,
    InvoiceWrite, InvoiceRead and Introspection (one row each)."""
    if not _is_fingerprint(fingerprint):
        raise PermissionsError("subjectIdentifier: odcisk certyfikatu to 64 znaki szesnastkowe (SHA-256).")
    nip, _, vat_ue = composite.partition("-")
    if not VAT_UE_RE.match(vat_ue):
        raise PermissionsError("contextIdentifier: oczekiwano NIP-numer VAT UE (np. 7762811692-DE123456789).")
    with transaction.atomic():
        if nip != actor.context_nip:
            return _operation(
                actor, 440, "Pierwszy człon kontekstu złożonego musi być NIP-em podmiotu kontekstu."
            )
        _grant(
            actor,
            kind=SimGrant.Kind.EU_ADMIN,
            subject=Identifier("Fingerprint", fingerprint.upper()),
            target=Identifier("NipVatUe", composite),
            rows=((p, False) for p in EU_ADMIN_PERMISSIONS),
            description=description,
            details=details,
        )
        return _operation(actor)


def grant_eu_representative(
    *,
    actor: Actor,
    fingerprint: str,
    permissions: Sequence[str],
    description: str,
    details: dict[str, object],
) -> PermissionOperation:
    """``POST /permissions/eu-entities/grants``: in a NipVatUe context its administrator (VatUeManage) lets
    a certificate's holder issue and/or read invoices there."""
    wanted = _unique(permissions)
    if not _is_fingerprint(fingerprint):
        raise PermissionsError("subjectIdentifier: odcisk certyfikatu to 64 znaki szesnastkowe (SHA-256).")
    unknown = sorted(set(wanted) - set(EU_REPRESENTATIVE_PERMISSIONS))
    if unknown:
        raise PermissionsError(f"permissions: nieznane uprawnienia {', '.join(unknown)}.")
    with transaction.atomic():
        if actor.context_type != "NipVatUe":
            return _operation(
                actor, 430, "Reprezentanta podmiotu unijnego nadaje się w kontekście złożonym NIP-VAT UE."
            )
        _grant(
            actor,
            kind=SimGrant.Kind.EU_REPRESENTATIVE,
            subject=Identifier("Fingerprint", fingerprint.upper()),
            target=Identifier("NipVatUe", actor.context_value),
            rows=((p, False) for p in wanted),
            description=description,
            details=details,
        )
        return _operation(actor)


def admin_of(grant: SimGrant) -> dict[str, object]:
    """The EU entity's name and details as its administrator's grant recorded them (a representative's
    grant takes them from an administrator of the same composite context)."""
    details = grant.subject_details or {}
    if grant.kind == SimGrant.Kind.EU_ADMIN:
        return details
    admin = SimGrant.objects.filter(
        kind=SimGrant.Kind.EU_ADMIN, target_type="NipVatUe", target_value=grant.target_value
    ).first()
    return (admin.subject_details or {}) if admin is not None else {}


def subunit_admins(*, context_nip: str) -> QuerySet[SimGrant]:
    """Administrators the context named for its subordinate entities and internal units (not the grants
    those administrators made inside them)."""
    return SimGrant.objects.filter(context_nip=context_nip, kind=SimGrant.Kind.SUBUNIT).order_by(
        "-started_at", "grant_id"
    )


def subordinate_entities(*, nip: str) -> list[tuple[str, str, str, dt.datetime]]:
    """``(NIP, role, description, since)`` of the members of a VAT group or the subordinate JSTs."""
    found = []
    for subject in SimSubject.objects.filter(parent_nip=nip).order_by("-created_at", "nip"):
        role = _ROLES.get(subject.subject_type, (None, None))[1]
        if role in ("VatGroupSubUnit", "LocalGovernmentSubUnit"):
            found.append((subject.nip, role, subject.description, subject.created_at))
    return found


def authorizations(*, nip: str, received: bool) -> QuerySet[SimGrant]:
    """Entity authorizations the NIP granted, or (``received``) those granted to it."""
    rows = SimGrant.objects.filter(kind=SimGrant.Kind.AUTHORIZATION)
    rows = (
        rows.filter(authorized_type="Nip", authorized_value=nip) if received else rows.filter(context_nip=nip)
    )
    return rows.order_by("-started_at", "grant_id")


def eu_entity_grants(*, context_type: str, context_value: str) -> QuerySet[SimGrant]:
    """In a NIP context, the administrators of its EU entities; in a NipVatUe context, its administrators
    and representatives."""
    if context_type == "NipVatUe":
        return SimGrant.objects.filter(
            kind__in=(SimGrant.Kind.EU_ADMIN, SimGrant.Kind.EU_REPRESENTATIVE),
            target_type="NipVatUe",
            target_value=context_value,
        ).order_by("-started_at", "grant_id")
    return SimGrant.objects.filter(
        kind=SimGrant.Kind.EU_ADMIN, context_nip=context_value.split("-")[0]
    ).order_by("-started_at", "grant_id")


def revocable(*, context_nip: str) -> QuerySet[SimGrant]:
    """Grants the context may revoke with the common DELETE: made in it (to persons, entities, indirectly,
    administrators of subordinate units and EU entities) or by ZAW-FA."""
    return SimGrant.objects.filter(context_nip=context_nip, kind__in=_COMMON)


def revoke(*, actor: Actor, permission_id: str, authorization: bool = False) -> PermissionOperation:
    """``DELETE /permissions/common/grants/{permissionId}`` (or, with ``authorization``, the entity
    authorizations' ``DELETE /permissions/authorizations/grants/{permissionId}``): the grant stops working
    at once (its holder's access tokens with it, see ``security``); PermissionsError when the context has no
    such grant. In a NipVatUe context its administrator revokes the representatives it named."""
    try:
        grant_id = uuid.UUID(permission_id)
    except ValueError:
        raise PermissionsError("permissionId: nieprawidłowy identyfikator uprawnienia.") from None
    if authorization:
        rows = SimGrant.objects.filter(context_nip=actor.context_nip, kind=SimGrant.Kind.AUTHORIZATION)
    elif actor.context_type == "NipVatUe":
        rows = SimGrant.objects.filter(
            kind=SimGrant.Kind.EU_REPRESENTATIVE, target_type="NipVatUe", target_value=actor.context_value
        )
    else:
        rows = revocable(context_nip=actor.context_nip)
    with transaction.atomic():
        deleted, _ = rows.filter(grant_id=grant_id).delete()
        if not deleted:
            raise PermissionsError(
                "Nie znaleziono uprawnienia o podanym identyfikatorze w bieżącym kontekście."
            )
        return _operation(actor)


# --- read-outs ------------------------------------------------------------------------------------


def in_context(*, context_nip: str) -> QuerySet[SimGrant]:
    """Who may work in the context (persons and entities) and whom it authorised indirectly."""
    return SimGrant.objects.filter(
        context_nip=context_nip, kind__in=(*_IN_CONTEXT, SimGrant.Kind.INDIRECT)
    ).order_by("-started_at", "grant_id")


def personal(*, context_nip: str, subject_type: str, subject_value: str) -> QuerySet[SimGrant]:
    """The caller's own grants as the personal query shows them: direct and entity grants in the context,
    indirect ones where the context is the client or the intermediary, and (for the context's owner) what
    other entities granted the context's NIP."""
    who = _authorized(identities(subject_type, subject_value))
    own = Q(who, context_nip=context_nip, kind__in=_IN_CONTEXT)
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
