"""Read queries for users, companies and memberships. Every tenant lookup goes through here."""

from __future__ import annotations

import uuid
from functools import cache

from django.db import connections, router
from django.db.models import QuerySet
from django.http import Http404

from accounts.models import Company, Invitation, Membership, User
from ksefportal.model_rows import ModelColumns


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("company").order_by("company__name", "id")


def membership_get(*, user: User, company_uuid: uuid.UUID | str) -> Membership | None:
    return memberships_for_user(user=user).filter(company__uuid=company_uuid).first()


@cache
def _membership_current_sql(alias: str) -> tuple[ModelColumns, ModelColumns, str]:
    connection = connections[alias]
    quote = connection.ops.quote_name
    membership = ModelColumns.of(Membership, "m", connection)
    company = ModelColumns.of(Company, "c", connection)
    # Identifiers only, from the models and quoted; the values are bound parameters.
    sql = (
        f"SELECT {membership.sql}, {company.sql}"  # noqa: S608
        f" FROM {quote(Membership._meta.db_table)} m JOIN {quote(Company._meta.db_table)} c"
        f" ON c.{quote('id')} = m.{quote('company_id')} WHERE m.{quote('user_id')} = %s"
        f" ORDER BY CASE WHEN c.{quote('uuid')} = %s THEN 0 ELSE 1 END, c.{quote('name')}, m.{quote('id')}"
        " LIMIT 1"
    )
    return membership, company, sql


def membership_current(*, user: User, company_uuid: str | None) -> Membership | None:
    """The user's membership in ``company_uuid`` if they have one, else their first by company name; with its
    company (and user) attached.

    It runs on every page, so it is one statement written out once (ksefportal.model_rows) instead of the
    two ORM queries of ``membership_get`` then ``memberships_for_user().first()``.
    """
    try:
        wanted = uuid.UUID(str(company_uuid)) if company_uuid else None
    except ValueError:
        wanted = None
    alias = router.db_for_read(Membership)
    connection = connections[alias]
    membership_columns, company_columns, sql = _membership_current_sql(alias)
    wanted_db = Company._meta.get_field("uuid").get_db_prep_value(wanted, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, wanted_db])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(membership_columns.attnames)
    membership: Membership = membership_columns.instance(row[:split], alias, connection)
    company: Company = company_columns.instance(row[split:], alias, connection)
    Membership.company.field.set_cached_value(membership, company)
    Membership.user.field.set_cached_value(membership, user)
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
