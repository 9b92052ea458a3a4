"""Reads for the Uprawnienia page: the last snapshot of KSeF's grants (with who in the portal asked for each,
where a change of ours made it), the changes on their way, and one grant by its KSeF id (404 for another
company's)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.http import Http404
from django.utils import timezone

from accounts.models import Company
from ksef_integration.models import KsefGrant, PermissionChange, PermissionSnapshot
from ksef_integration.permissions.services import REFRESH_REQUEST_STALE, permission_label

RECENT_CHANGES = 10


def grant_for_company_or_404(*, company: Company, permission_id: uuid.UUID) -> KsefGrant:
    grant = KsefGrant.objects.filter(company=company, permission_id=permission_id).first()
    if grant is None:
        raise Http404
    return grant


@dataclass(frozen=True)
class GrantRow:
    grant: KsefGrant
    label: str
    granted_by: str
    revoking: bool


@dataclass
class Holder:
    """One person or entity with its grants (one row per permission, as KSeF lists them)."""

    subject: str
    identifier_type: str
    identifier_value: str
    name: str
    rows: list[GrantRow] = field(default_factory=list)


@dataclass(frozen=True)
class PageState:
    snapshot: PermissionSnapshot | None
    persons: list[Holder]
    entities: list[Holder]
    changes: list[PermissionChange]
    pending: bool


def _author(grant: KsefGrant, company: Company, requested_by: dict[tuple[str, str], str]) -> str:
    if grant.author_type == "System":
        return "KSeF"
    kind = "PESEL" if grant.author_type == "Pesel" else grant.author_type.upper() or "—"
    who = f"{kind} {grant.author_value}".strip()
    if grant.author_value == company.nip:
        who = f"{company.name} ({who})"
    portal_user = requested_by.get((grant.identifier_value, grant.scope))
    return f"{who} · {portal_user}" if portal_user else who


def page_state(*, company: Company) -> PageState:
    snapshot = PermissionSnapshot.objects.filter(company=company).first()
    changes = list(
        PermissionChange.objects.filter(company=company).select_related("requested_by")[:RECENT_CHANGES]
    )
    open_revokes = set(
        PermissionChange.objects.filter(
            company=company, kind=PermissionChange.Kind.REVOKE, status__in=PermissionChange.OPEN
        ).values_list("permission_id", flat=True)
    )
    requested_by: dict[tuple[str, str], str] = {}
    done_grants = (
        PermissionChange.objects.filter(company=company, status=PermissionChange.Status.DONE)
        .exclude(kind=PermissionChange.Kind.REVOKE)
        .exclude(requested_by=None)
        .order_by("created_at", "id")
        .values_list("identifier_value", "permissions", "requested_by__email")
    )
    for identifier, scopes, email in done_grants:
        for scope in scopes:
            requested_by[(identifier, scope)] = email  # the latest grant of the scope wins
    holders: dict[tuple[str, str, str], Holder] = {}
    for grant in KsefGrant.objects.filter(company=company):
        key = (grant.subject, grant.identifier_type, grant.identifier_value)
        holder = holders.setdefault(
            key, Holder(grant.subject, grant.identifier_type, grant.identifier_value, grant.name)
        )
        holder.rows.append(
            GrantRow(
                grant=grant,
                label=permission_label(grant.scope),
                granted_by=_author(grant, company, requested_by),
                revoking=str(grant.permission_id) in open_revokes,
            )
        )
    everyone = sorted(holders.values(), key=lambda h: (h.name.casefold(), h.identifier_value))
    refreshing = (
        snapshot is not None
        and snapshot.refresh_pending
        and snapshot.refresh_requested_at is not None
        and snapshot.refresh_requested_at > timezone.now() - REFRESH_REQUEST_STALE  # else the worker is away
    )
    working = PermissionChange.objects.filter(company=company, status__in=PermissionChange.OPEN).exists()
    pending = working or refreshing
    return PageState(
        snapshot=snapshot,
        persons=[h for h in everyone if h.subject == KsefGrant.Subject.PERSON],
        entities=[h for h in everyone if h.subject == KsefGrant.Subject.ENTITY],
        changes=changes,
        pending=pending,
    )
