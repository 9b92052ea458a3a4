"""The Biuro page: the KSeF state of every company a user works for as owner or accountant, read with the
same few statements whether the user has 3 client companies or 300 — the memberships with their connection
and last import as plain values, the invoice counts of all companies in one grouped query, the offline
invoices in another — then ranked, filtered and cut into pages in Python over small rows, so that only one
page of rows is rendered. Start's one-company card (``company_row``) reads the same state."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    Case,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Membership, Role, User
from invoices.models import Direction, Invoice, KsefStatus
from ksef_integration.connect import sunset
from ksef_integration.connect.selectors import (
    CERTIFICATE_WARNING_DAYS,
    ConnectionState,
    connection_for_company,
    connection_state,
    connection_state_of,
)
from ksef_integration.models import AuthMethod, ConnectionStatus, KsefConnection, OfflineInvoice, SyncCursor
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


# Sales invoices issued online that are not in KSeF yet: never sent, queued, or sent and undecided.
WAITING = Q(
    direction=Direction.SALES,
    ksef_number__isnull=True,
    ksef_offline_mode="",
    ksef_status__in=(KsefStatus.NOT_SENT, KsefStatus.QUEUED, KsefStatus.SENT),
)
REJECTED = Q(direction=Direction.SALES, ksef_status__in=(KsefStatus.REJECTED, KsefStatus.FAILED_LOCAL))
NEW_PURCHASES = Q(direction=Direction.PURCHASE, is_new=True)


def _waiting(company: Any) -> QuerySet[Invoice]:
    return Invoice.objects.filter(WAITING, company_id=company)


def _rejected(company: Any) -> QuerySet[Invoice]:
    return Invoice.objects.filter(REJECTED, company_id=company)


def _new_purchases(company: Any) -> QuerySet[Invoice]:
    return Invoice.objects.filter(NEW_PURCHASES, company_id=company)


def _last_import() -> Subquery:
    """The company's last successful import (of any subject type), per membership row."""
    return Subquery(
        SyncCursor.objects.filter(company_id=OuterRef("company_id"), last_success_at__isnull=False)
        .order_by("-last_success_at")
        .values("last_success_at")[:1]
    )


def _with_state(memberships: QuerySet[Membership]) -> QuerySet[Membership]:
    company = OuterRef("company_id")
    return (
        memberships.select_related("company", "company__ksef_connection", "company__ksef_availability")
        .defer(*(f"company__ksef_connection__{name}" for name in _UNREAD_CONNECTION_FIELDS))
        .annotate(
            waiting_count=_capped_count(_waiting(company)),
            rejected_count=_capped_count(_rejected(company)),
            new_purchase_count=_capped_count(_new_purchases(company)),
            last_import_at=_last_import(),
        )
        .order_by("company__name", "id")
    )


@dataclass(frozen=True)
class _Offline:
    count: int
    deadline: dt.date | None
    open: bool


def _offline_by_company(company_ids: list[int] | QuerySet[Any]) -> dict[int, _Offline]:
    """Offline invoices KSeF has not accepted yet, per company, with the nearest legal deadline: one query
    grouped by what the deadline depends on (mode, issue date, the outage's end) and one for the failures."""
    if isinstance(company_ids, list) and not company_ids:
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
    return _expiry_of(method=connection.method, certificate_valid_to=connection.certificate_valid_to)


def _expiry_of(*, method: str, certificate_valid_to: dt.datetime | None) -> dt.date | None:
    if method == AuthMethod.TOKEN:
        return sunset.sunset_date()
    if certificate_valid_to is not None:
        end: dt.date = timezone.localtime(certificate_valid_to).date()
        return end
    return None


def _row(membership: Membership, offline: _Offline | None, today: dt.date) -> ClientRow:
    """Start's card of one company, from a membership read by ``_with_state``."""
    company = membership.company
    state = connection_state(company=company)  # no query: the joined rows are on the company object
    connection = connection_for_company(company=company)
    connected = connection is not None and connection.is_connected
    annotated: Any = membership
    row = _client_row(
        company_uuid=str(company.uuid),
        name=company.name,
        nip=company.nip,
        role_label=str(membership.get_role_display()),
        state=state,
        method=str(connection.method) if connection is not None and connected else "",
        permissions=(connection.permissions or []) if connection is not None and connected else None,
        expires_on=_expiry(connection),
        counts=(annotated.waiting_count, annotated.rejected_count, annotated.new_purchase_count),
        last_import_at=annotated.last_import_at,
        offline=offline,
        today=today,
    )
    row.problems = _problems(row, _problem_labels())
    return row


def _client_row(
    *,
    company_uuid: str,
    name: str,
    nip: str,
    role_label: str,
    state: ConnectionState,
    method: str,
    permissions: list[str] | None,
    expires_on: dt.date | None,
    counts: tuple[int, int, int],
    last_import_at: dt.datetime | None,
    offline: _Offline | None,
    today: dt.date,
) -> ClientRow:
    """One row; ``method`` and ``permissions`` only of a connected company (else "" and None)."""
    row = ClientRow(
        company_uuid=company_uuid,
        name=name,
        nip=nip,
        role_label=role_label,
        health=state.code,
        health_label=state.label,
        health_ok=state.ok,
        credential=method,
        expires_on=expires_on,
        expires_in_days=(expires_on - today).days if expires_on is not None else None,
        waiting=counts[0],
        rejected=counts[1],
        new_purchases=counts[2],
        last_import_at=last_import_at,
        permissions_missing=[p for p in REQUIRED_PERMISSIONS if p not in permissions]
        if permissions is not None
        else [],
    )
    if offline is not None:
        row.offline = offline.count
        row.offline_deadline = offline.deadline
        row.offline_deadline_open = offline.open
    return row


def _problem_labels() -> dict[str, str]:
    """The short words of ``_problems``, translated once per page rather than once per company."""
    return {
        "no_permissions": _("no permissions"),
        "expired": _("certificate expired"),
        "expires_soon": _("credential expires soon"),
        "rejected": _("rejected invoices"),
        "offline": _("offline invoices to send"),
    }


def _problems(row: ClientRow, labels: dict[str, str]) -> list[str]:
    """What needs someone's hand, in short words: the filter "needs attention" keeps rows with any."""
    problems = []
    if not row.health_ok:
        problems.append(row.health_label)
    if row.permissions_missing and row.health != "no_permissions":  # said once
        problems.append(labels["no_permissions"])
    if row.health != "token_expired" and row.expires_in_days is not None:
        if row.expires_in_days < 0:
            problems.append(labels["expired"])
        elif row.expires_in_days <= CERTIFICATE_WARNING_DAYS:
            problems.append(labels["expires_soon"])
    if row.rejected:
        problems.append(labels["rejected"])
    if row.offline:
        problems.append(labels["offline"])
    return problems


def company_row(*, membership: Membership) -> ClientRow:
    """One company's card as Start shows it (issue 22), for any member: the same counts and state as the
    Biuro page (capped at ``UNSENT_COUNT_CAP`` + 1, as Start says "more than"), in three queries."""
    annotated = _with_state(Membership.objects.filter(pk=membership.pk)).get()
    offline = _offline_by_company([annotated.company_id])
    return _row(annotated, offline.get(annotated.company_id), timezone.localdate())


# --- Biuro: all the user's companies ----------------------------------------------------------------------

PER_PAGE = 25

# What "Pokaż" narrows the list to; "" is every company.
SHOW_FILTERS = ("attention", "no_permissions", "rejected", "offline", "new", "waiting")
SORTS = ("attention", "name", "waiting", "new")

_MEMBERSHIP_VALUES = (
    "company_id",
    "company__uuid",
    "company__name",
    "company__nip",
    "role",
    "company__ksef_connection__status",
    "company__ksef_connection__method",
    "company__ksef_connection__permissions",
    "company__ksef_connection__certificate_valid_to",
    "company__ksef_availability__unavailable_since",
)


def _invoice_counts(company_ids: QuerySet[Any]) -> dict[int, tuple[int, int, int]]:
    """(waiting, rejected, new purchases) per company, exact, in one grouped query over the invoices in any of
    the three states (the rest of a company's invoices are not read)."""
    rows = (
        Invoice.objects.filter(WAITING | REJECTED | NEW_PURCHASES, company_id__in=company_ids)
        .values("company_id")
        .annotate(
            waiting=Count("pk", filter=WAITING),
            rejected=Count("pk", filter=REJECTED),
            new=Count("pk", filter=NEW_PURCHASES),
        )
        .order_by()
        .values_list("company_id", "waiting", "rejected", "new")
    )
    return {company_id: (waiting, rejected, new) for company_id, waiting, rejected, new in rows}


def office_rows(*, user: User) -> list[ClientRow]:
    """Every company ``user`` works for as owner or accountant (never a viewer's, never another user's), with
    its KSeF state: three statements whatever the number of companies (four when any has offline invoices)
    """
    mine = Membership.objects.filter(user=user, role__in=OFFICE_ROLES)
    memberships = list(
        mine.annotate(last_import_at=_last_import()).values_list(*_MEMBERSHIP_VALUES, "last_import_at")
    )
    if not memberships:
        return []
    ids = mine.values("company_id")  # a subquery each time: cheaper to build than a list of hundreds of ids
    counts = _invoice_counts(ids)
    offline = _offline_by_company(ids)
    today = timezone.localdate()
    labels = _problem_labels()
    roles = {role: str(label) for role, label in Role.choices}
    states: dict[tuple[Any, ...], ConnectionState] = {}  # a handful of distinct states among many companies
    rows = []
    for (
        company_id,
        uuid,
        name,
        nip,
        role,
        status,
        method,
        permissions,
        valid_to,
        unavailable,
        last,
    ) in memberships:
        connected = status in (ConnectionStatus.ACTIVE, ConnectionStatus.ATTENTION)
        key = (status, method, bool(permissions), unavailable is not None)
        state = states.get(key)
        if state is None:
            state = states[key] = connection_state_of(
                status=status, method=method, has_permissions=bool(permissions), unavailable_since=unavailable
            )
        row = _client_row(
            company_uuid=str(uuid),
            name=name,
            nip=nip,
            role_label=roles.get(role, role),
            state=state,
            method=method if connected else "",
            permissions=(permissions or []) if connected else None,
            expires_on=_expiry_of(method=method, certificate_valid_to=valid_to) if connected else None,
            counts=counts.get(company_id, (0, 0, 0)),
            last_import_at=last,
            offline=offline.get(company_id),
            today=today,
        )
        row.problems = _problems(row, labels)
        rows.append(row)
    return rows


def _shown(row: ClientRow, show: str) -> bool:
    if show == "attention":
        return bool(row.problems)
    if show == "no_permissions":
        return row.health == "no_permissions" or bool(row.permissions_missing)
    if show == "rejected":
        return row.rejected > 0
    if show == "offline":
        return row.offline > 0
    if show == "new":
        return row.new_purchases > 0
    if show == "waiting":
        return row.waiting > 0
    return True


def _matches(row: ClientRow, needle: str) -> bool:
    """A name (any case) or a NIP, also written with dashes or spaces as on paper."""
    digits = needle.replace("-", "").replace(" ", "")
    return needle in row.name.casefold() or bool(digits.isdigit() and digits in row.nip)


_FAR = dt.date.max


def _attention_key(row: ClientRow) -> tuple[Any, ...]:
    """Companies needing attention first: the nearest offline deadline (a legal one) first, then the most
    problems; then the rest by name."""
    return (not row.problems, row.offline_deadline or _FAR, -len(row.problems), row.name.casefold())


@dataclass(frozen=True)
class OfficeTotals:
    """Sums over every client company (whatever the filter): how many companies, and invoices, need what."""

    clients: int
    attention: int
    no_permissions: int
    waiting: int
    rejected: int
    rejected_companies: int
    offline: int
    offline_companies: int
    offline_deadline: dt.date | None
    new_purchases: int
    new_companies: int


def _totals(rows: list[ClientRow]) -> OfficeTotals:
    deadlines = [r.offline_deadline for r in rows if r.offline_deadline is not None]
    return OfficeTotals(
        clients=len(rows),
        attention=sum(1 for r in rows if r.problems),
        no_permissions=sum(1 for r in rows if _shown(r, "no_permissions")),
        waiting=sum(r.waiting for r in rows),
        rejected=sum(r.rejected for r in rows),
        rejected_companies=sum(1 for r in rows if r.rejected),
        offline=sum(r.offline for r in rows),
        offline_companies=sum(1 for r in rows if r.offline),
        offline_deadline=min(deadlines) if deadlines else None,
        new_purchases=sum(r.new_purchases for r in rows),
        new_companies=sum(1 for r in rows if r.new_purchases),
    )


@dataclass(frozen=True)
class OfficePage:
    rows: list[ClientRow]  # this page's
    totals: OfficeTotals  # of every company
    count: int  # companies matching the search and filter
    number: int  # 1-based
    pages: int


def office_page(
    *, user: User, name: str = "", show: str = "", sort: str = "attention", page: int = 1
) -> OfficePage:
    """One page of ``PER_PAGE`` companies matching ``name`` (a name or NIP) and ``show``, in ``sort``'s order,
    with the totals of all; a page past the last shows the last."""
    rows = office_rows(user=user)
    totals = _totals(rows)
    needle = name.strip().casefold()
    if needle or show:
        rows = [r for r in rows if _shown(r, show) and (not needle or _matches(r, needle))]
    if sort == "name":
        rows.sort(key=lambda r: r.name.casefold())
    elif sort == "waiting":
        rows.sort(key=lambda r: (-r.waiting, r.name.casefold()))
    elif sort == "new":
        rows.sort(key=lambda r: (-r.new_purchases, r.name.casefold()))
    else:
        rows.sort(key=_attention_key)
    pages = max(1, -(-len(rows) // PER_PAGE))
    number = min(max(page, 1), pages)
    start = (number - 1) * PER_PAGE
    return OfficePage(
        rows=rows[start : start + PER_PAGE], totals=totals, count=len(rows), number=number, pages=pages
    )
