"""The Biuro page's rows: the KSeF state of every company a user works for as owner or accountant, read
with the same few queries whether the user has 3 client companies or 300 (counts are subqueries per
company in the one membership query; offline deadlines are one grouped query)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Membership, Role, User
from invoices.models import Direction, Invoice, KsefStatus
from ksef_integration.connect import sunset
from ksef_integration.connect.selectors import (
    CERTIFICATE_WARNING_DAYS,
    connection_for_company,
    connection_state,
)
from ksef_integration.models import AuthMethod, KsefConnection, OfflineInvoice, SyncCursor
from ksef_integration.offline import deadlines as offline_deadlines
from ksef_integration.offline import reminders
from ksef_integration.sending.drain import UNSENT_COUNT_CAP

OFFICE_ROLES = (Role.OWNER, Role.ACCOUNTANT)
REQUIRED_PERMISSIONS = ("InvoiceRead", "InvoiceWrite")
# What the page never reads of a connection: its secrets and the certificate itself stay in the database.
_UNREAD_CONNECTION_FIELDS = (*KsefConnection.SECRET_FIELDS, "certificate_pem")


@dataclass
class ClientRow:
    """One client company as the Biuro page shows it. Counts above ``UNSENT_COUNT_CAP`` read "more than"."""

    company_uuid: str
    name: str
    nip: str
    role_label: str
    # connection_state's code: none, active, unavailable, attention, token_expired, no_permissions
    health: str
    health_label: str
    health_ok: bool
    credential: str  # "token", "certificate", "office" or "" (not connected)
    expires_on: dt.date | None
    expires_in_days: int | None
    waiting: int
    rejected: int
    new_purchases: int
    last_import_at: dt.datetime | None
    permissions_missing: list[str]
    offline: int = 0
    offline_deadline: dt.date | None = None
    offline_deadline_open: bool = False  # some deadline is set only once an outage ends
    problems: list[str] = field(default_factory=list)


def _capped_count(rows: QuerySet[Any]) -> Case:
    """How many rows ``rows`` (filtered by the outer company) has, counted up to the cap + 1: past the cap
    PostgreSQL stops at the first row beyond it instead of counting them all (``drain.unsent_count``)."""
    rows = rows.order_by()
    counted = rows.values("company_id").annotate(n=Count("pk")).values("n")[:1]
    return Case(
        When(Exists(rows[UNSENT_COUNT_CAP:]), then=Value(UNSENT_COUNT_CAP + 1)),
        default=Coalesce(Subquery(counted, output_field=IntegerField()), Value(0)),
        output_field=IntegerField(),
    )


def _waiting(company: Any) -> QuerySet[Invoice]:
    """Sales invoices issued online that are not in KSeF yet: never sent, queued, or sent and undecided."""
    return Invoice.objects.filter(
        company_id=company,
        direction=Direction.SALES,
        ksef_number__isnull=True,
        ksef_offline_mode="",
        ksef_status__in=(KsefStatus.NOT_SENT, KsefStatus.QUEUED, KsefStatus.SENT),
    )


def _rejected(company: Any) -> QuerySet[Invoice]:
    return Invoice.objects.filter(
        company_id=company,
        direction=Direction.SALES,
        ksef_status__in=(KsefStatus.REJECTED, KsefStatus.FAILED_LOCAL),
    )


def _new_purchases(company: Any) -> QuerySet[Invoice]:
    return Invoice.objects.filter(company_id=company, direction=Direction.PURCHASE, is_new=True)


def office_memberships(*, user: User, name: str = "") -> QuerySet[Membership]:
    """The user's owner and accountant memberships (never a viewer's, never another user's), with the
    company, its connection and availability joined and every count annotated."""
    memberships = Membership.objects.filter(user=user, role__in=OFFICE_ROLES)
    if name:
        memberships = memberships.filter(Q(company__name__icontains=name) | Q(company__nip__contains=name))
    return _with_state(memberships)


def _with_state(memberships: QuerySet[Membership]) -> QuerySet[Membership]:
    company = OuterRef("company_id")
    last_import = (
        SyncCursor.objects.filter(company_id=company, last_success_at__isnull=False)
        .order_by("-last_success_at")
        .values("last_success_at")[:1]
    )
    return (
        memberships.select_related("company", "company__ksef_connection", "company__ksef_availability")
        .defer(*(f"company__ksef_connection__{name}" for name in _UNREAD_CONNECTION_FIELDS))
        .annotate(
            waiting_count=_capped_count(_waiting(company)),
            rejected_count=_capped_count(_rejected(company)),
            new_purchase_count=_capped_count(_new_purchases(company)),
            last_import_at=Subquery(last_import),
        )
        .order_by("company__name", "id")
    )


@dataclass(frozen=True)
class _Offline:
    count: int
    deadline: dt.date | None
    open: bool


def _offline_by_company(company_ids: list[int]) -> dict[int, _Offline]:
    """Offline invoices KSeF has not accepted yet, per company, with the nearest legal deadline: one query
    grouped by what the deadline depends on (mode, issue date, the outage's end) and one for the failures."""
    if not company_ids:
        return {}
    groups = (
        OfflineInvoice.objects.filter(company_id__in=company_ids)
        .exclude(invoice__ksef_status=KsefStatus.ACCEPTED)
        .exclude(invoice__ksef_offline_mode="")
        .values("company_id", "invoice__ksef_offline_mode", "invoice__issue_date", "outage__ends_at")
        .annotate(n=Count("pk"))
        .order_by()
    )
    rows = list(groups)
    if not rows:
        return {}
    failures = reminders.announced_failures()
    counts: dict[int, int] = defaultdict(int)
    nearest: dict[int, dt.date] = {}
    open_: set[int] = set()
    for row in rows:
        company_id = row["company_id"]
        counts[company_id] += row["n"]
        ends = row["outage__ends_at"]
        day = offline_deadlines.deadline(
            mode=row["invoice__ksef_offline_mode"],
            issue_date=row["invoice__issue_date"],
            unavailability_ends=reminders.local_date(ends) if ends else None,
            failures=failures,
        )
        if day is None:
            open_.add(company_id)
        elif company_id not in nearest or day < nearest[company_id]:
            nearest[company_id] = day
    return {cid: _Offline(n, nearest.get(cid), cid in open_) for cid, n in counts.items()}


def _expiry(connection: Any) -> dt.date | None:
    """The last day the connection's credential logs in: the token sunset, or the certificate's end."""
    if connection is None or not connection.is_connected:
        return None
    if connection.method == AuthMethod.TOKEN:
        return sunset.sunset_date()
    if connection.certificate_valid_to is not None:
        end: dt.date = timezone.localtime(connection.certificate_valid_to).date()
        return end
    return None


def _row(membership: Membership, offline: _Offline | None, today: dt.date) -> ClientRow:
    company = membership.company
    state = connection_state(company=company)  # no query: the joined rows are on the company object
    connection = connection_for_company(company=company)
    connected = connection is not None and connection.is_connected
    expires_on = _expiry(connection)
    days = (expires_on - today).days if expires_on is not None else None
    missing = (
        [p for p in REQUIRED_PERMISSIONS if p not in (connection.permissions or [])]
        if connection is not None and connected
        else []
    )
    annotated: Any = membership
    row = ClientRow(
        company_uuid=str(company.uuid),
        name=company.name,
        nip=company.nip,
        role_label=str(membership.get_role_display()),
        health=state.code,
        health_label=state.label,
        health_ok=state.ok,
        credential=str(connection.method) if connection is not None and connected else "",
        expires_on=expires_on,
        expires_in_days=days,
        waiting=annotated.waiting_count,
        rejected=annotated.rejected_count,
        new_purchases=annotated.new_purchase_count,
        last_import_at=annotated.last_import_at,
        permissions_missing=missing,
    )
    if offline is not None:
        row.offline = offline.count
        row.offline_deadline = offline.deadline
        row.offline_deadline_open = offline.open
    row.problems = _problems(row)
    return row


def _problems(row: ClientRow) -> list[str]:
    """What needs someone's hand, in short words: the filter "only with problems" keeps rows with any."""
    problems = []
    if not row.health_ok:
        problems.append(row.health_label)
    if row.permissions_missing and row.health != "no_permissions":  # said once
        problems.append(_("no permissions"))
    if row.health != "token_expired" and row.expires_in_days is not None:
        if row.expires_in_days < 0:
            problems.append(_("certificate expired"))
        elif row.expires_in_days <= CERTIFICATE_WARNING_DAYS:
            problems.append(_("credential expires soon"))
    if row.rejected:
        problems.append(_("rejected invoices"))
    if row.offline:
        problems.append(_("offline invoices to send"))
    return problems


def company_row(*, membership: Membership) -> ClientRow:
    """One company's card as Start shows it (issue 22), for any member: the same counts and state as the
    Biuro page, in three queries."""
    annotated = _with_state(Membership.objects.filter(pk=membership.pk)).get()
    offline = _offline_by_company([annotated.company_id])
    return _row(annotated, offline.get(annotated.company_id), timezone.localdate())


def office_rows(
    *, user: User, name: str = "", problems_only: bool = False, sort: str = "name"
) -> list[ClientRow]:
    """The Biuro page's rows for ``user``: three queries whatever the number of companies."""
    today = timezone.localdate()
    memberships = list(office_memberships(user=user, name=name.strip()))
    offline = _offline_by_company([m.company_id for m in memberships])
    rows = [_row(m, offline.get(m.company_id), today) for m in memberships]
    if problems_only:
        rows = [r for r in rows if r.problems]
    if sort == "problems":
        rows.sort(key=lambda r: (-len(r.problems), r.name.casefold()))
    elif sort == "waiting":
        rows.sort(key=lambda r: (-r.waiting, r.name.casefold()))
    else:
        rows.sort(key=lambda r: r.name.casefold())
    return rows
