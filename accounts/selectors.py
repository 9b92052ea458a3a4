"""Read queries for users, companies and memberships. Every tenant lookup goes through here."""

from __future__ import annotations

import uuid
from functools import cache

from django.db import connections, router
from django.db.models import QuerySet
from django.http import Http404

from accounts.models import Company, Invitation, Membership, User
from ksefportal.model_rows import ModelColumns, page_cursor


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("company").order_by("company__name", "id")


def membership_get(*, user: User, company_uuid: uuid.UUID | str) -> Membership | None:
    return memberships_for_user(user=user).filter(company__uuid=company_uuid).first()


@cache
def _user_sql(alias: str) -> tuple[ModelColumns, ModelColumns, ModelColumns, str]:
    connection = connections[alias]
    quote = connection.ops.quote_name
    user = ModelColumns.of(User, "u", connection)
    membership = ModelColumns.of(Membership, "m", connection)
    company = ModelColumns.of(Company, "c", connection)
    # Identifiers only, from the models and quoted; the values are bound parameters. The membership in the
    # wanted company (the second parameter, NULL for none) if there is one, else the first by company name.
    # A user without a membership still gives one row (the LEFT JOINs), with NULLs for the membership and
    # the company.
    sql = (
        f"SELECT {user.sql}, {membership.sql}, {company.sql} FROM {quote(User._meta.db_table)} u"  # noqa: S608
        f" LEFT JOIN {quote(Membership._meta.db_table)} m ON m.{quote('user_id')} = u.{quote('id')}"
        f" LEFT JOIN {quote(Company._meta.db_table)} c ON c.{quote('id')} = m.{quote('company_id')}"
        f" WHERE u.{quote('id')} = %s"
        f" ORDER BY CASE WHEN c.{quote('uuid')} = %s THEN 0 ELSE 1 END, c.{quote('name')}, m.{quote('id')}"
        " LIMIT 1"
    )
    return user, membership, company, sql


def _user_with_membership(
    *, user_id: object, wanted: uuid.UUID | None, user: User | None = None
) -> tuple[User, Membership | None] | None:
    """The user (built from the row, or ``user`` when given) and their membership in ``wanted``, else their
    first by company name; None when there is no such user. One statement, written out once
    (ksefportal.model_rows) instead of the ORM queries compiled each time."""
    alias = router.db_for_read(User)
    connection = connections[alias]
    user_columns, membership_columns, company_columns, sql = _user_sql(alias)
    params = [
        User._meta.get_field("id").get_db_prep_value(user_id, connection),
        Company._meta.get_field("uuid").get_db_prep_value(wanted, connection),
    ]
    with page_cursor(connection) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    user_end = len(user_columns.attnames)
    membership_end = user_end + len(membership_columns.attnames)
    if user is None:
        user = user_columns.instance(row[:user_end], alias, connection)
    membership: Membership | None = None
    if row[user_end] is not None:
        membership = membership_columns.instance(row[user_end:membership_end], alias, connection)
        Membership.company.field.set_cached_value(
            membership, company_columns.instance(row[membership_end:], alias, connection)
        )
        Membership.user.field.set_cached_value(membership, user)
    return user, membership


_FIRST_MEMBERSHIP = "_first_membership"


def user_get(*, user_id: object) -> User | None:
    """The user (any, active or not) with their first membership by company name attached, in one statement.

    It runs on every page (the session's user, accounts.backends), and the page then needs the membership it
    works in, which for nearly everyone is their first (or only) one: ``membership_current`` uses the
    attached one instead of asking again.
    """
    found = _user_with_membership(user_id=user_id, wanted=None)
    if found is None:
        return None
    user, membership = found
    setattr(user, _FIRST_MEMBERSHIP, membership)
    return user


def membership_current(*, user: User, company_uuid: str | None) -> Membership | None:
    """The user's membership in ``company_uuid`` if they have one, else their first by company name; with its
    company (and user) attached.

    Without a statement the first time it is asked for a user from ``user_get`` whose first membership is the
    one wanted (or none is wanted); else the same single statement as ``user_get``.
    """
    try:
        wanted = uuid.UUID(str(company_uuid)) if company_uuid else None
    except ValueError:
        wanted = None
    if hasattr(user, _FIRST_MEMBERSHIP):
        # Used once: a later call (after the company switcher, or a new company, in the same request) asks.
        first: Membership | None = getattr(user, _FIRST_MEMBERSHIP)
        delattr(user, _FIRST_MEMBERSHIP)
        if wanted is None or (first is not None and first.company.uuid == wanted):
            return first
    found = _user_with_membership(user_id=user.pk, wanted=wanted, user=user)
    return None if found is None else found[1]


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
