"""Read queries for users, companies and memberships. Every tenant lookup goes through here."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.http import Http404

from accounts.models import Company, Invitation, Membership, User


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("company").order_by("company__name", "id")


def membership_get(*, user: User, company_uuid: uuid.UUID | str) -> Membership | None:
    return memberships_for_user(user=user).filter(company__uuid=company_uuid).first()


def membership_current(*, user: User, company_uuid: str | None) -> Membership | None:
    """The user's membership in ``company_uuid`` if they have one, else their first by company name; with its
    company (and user) attached. Every logged-in request asks this, so the usual case (the session names a
    company of the user's) is a plain, unordered look-up; only a company the user has left costs a second."""
    try:
        wanted = uuid.UUID(str(company_uuid)) if company_uuid else None
    except ValueError:
        wanted = None
    membership: Membership | None = None
    if wanted is not None:
        found = Membership.objects.filter(user=user, company__uuid=wanted).select_related("company")[:1]
        membership = next(iter(found), None)
    if membership is None:
        membership = memberships_for_user(user=user).first()
    if membership is not None:
        membership.user = user  # the same user, not another copy read again
    return membership


def membership_get_or_404(*, user: User, company_uuid: uuid.UUID | str) -> Membership:
    """The user's membership in a company, or 404: other tenants' companies do not exist for this user."""
    membership = membership_get(user=user, company_uuid=company_uuid)
    if membership is None:
        raise Http404
    return membership


def company_members(*, company: Company) -> QuerySet[Membership]:
    return Membership.objects.filter(company=company).select_related("user").order_by("created_at", "id")


def company_member_get_or_404(*, company: Company, membership_uuid: uuid.UUID | str) -> Membership:
    membership = company_members(company=company).filter(uuid=membership_uuid).first()
    if membership is None:
        raise Http404
    return membership


def company_open_invitations(*, company: Company) -> QuerySet[Invitation]:
    return Invitation.objects.filter(company=company, accepted_at__isnull=True).order_by("-created_at")


def company_invitation_get_or_404(*, company: Company, invitation_uuid: uuid.UUID | str) -> Invitation:
    invitation = company_open_invitations(company=company).filter(uuid=invitation_uuid).first()
    if invitation is None:
        raise Http404
    return invitation


def company_owner_count(*, company: Company) -> int:
    return Membership.objects.filter(company=company, role="owner").count()
