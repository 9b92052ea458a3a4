"""The Biuro page: the KSeF state of every company a user works for as owner or accountant, read with the
same three statements whether the user has 3 client companies or 300 — the memberships with their
connection, invoice counts (``InvoiceCounts``, kept by the database) and last import; the offline invoices
grouped by what their deadline depends on; the announced failures — then ranked, filtered and cut into
pages in Python over small rows, so that only one page of rows is rendered. The page's cache key is a digest
of those rows (office/content.py). Start's one-company card (``company_row``) reads the same state."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from accounts.models import Company, Membership, Role, User
from invoices.models import Direction, Invoice, KsefStatus
from ksef_integration.connect import sunset
from ksef_integration.connect.selectors import (
    CERTIFICATE_WARNING_DAYS,
    ConnectionState,
    connection_state_of,
)
from ksef_integration.models import (
    AuthMethod,
    ConnectionStatus,
    InvoiceCounts,
    KsefAvailability,
    KsefConnection,
    KsefOutage,
    OfflineInvoice,
    OutageKind,
    SyncCursor,
)
from ksef_integration.offline import deadlines as offline_deadlines
from ksef_integration.offline import reminders

OFFICE_ROLES = (Role.OWNER, Role.ACCOUNTANT)
REQUIRED_PERMISSIONS = ("InvoiceRead", "InvoiceWrite")


@dataclass
class ClientRow:
    """One client company as the Biuro page shows it."""

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


# The three counts' rules, which the triggers of migration 0019_invoice_counts apply to every invoice row as
# it is written (``InvoiceCounts``); tests/office/test_invoice_counts.py holds the two equal.
# Sales invoices issued online that are not in KSeF yet: never sent, queued, or sent and undecided.
WAITING = Q(
    direction=Direction.SALES,
    ksef_number__isnull=True,
    ksef_offline_mode="",
    ksef_status__in=(KsefStatus.NOT_SENT, KsefStatus.QUEUED, KsefStatus.SENT),
)
REJECTED = Q(direction=Direction.SALES, ksef_status__in=(KsefStatus.REJECTED, KsefStatus.FAILED_LOCAL))
NEW_PURCHASES = Q(direction=Direction.PURCHASE, is_new=True)


@dataclass(frozen=True)
class _Offline:
    count: int
    deadline: dt.date | None
    open: bool


# What an offline invoice's deadline depends on, per company: (company id, mode, issue date, the outage's end,
# how many invoices share them).
OfflineGroup = tuple[int, str, dt.date, "dt.datetime | None", int]


def _offline_by_company(
    groups: list[OfflineGroup], failures: list[offline_deadlines.Failure]
) -> dict[int, _Offline]:
    """Per company, how many offline invoices wait and the nearest legal deadline."""
    counts: dict[int, int] = defaultdict(int)
    nearest: dict[int, dt.date] = {}
    open_: set[int] = set()
    for company_id, mode, issue_date, ends, n in groups:
        counts[company_id] += n
        day = offline_deadlines.deadline(
            mode=mode,
            issue_date=issue_date,
            unavailability_ends=reminders.local_date(ends) if ends else None,
            failures=failures,
        )
        if day is None:
            open_.add(company_id)
        elif company_id not in nearest or day < nearest[company_id]:
            nearest[company_id] = day
    return {cid: _Offline(n, nearest.get(cid), cid in open_) for cid, n in counts.items()}


def _expiry_of(*, method: str, certificate_valid_to: dt.datetime | None) -> dt.date | None:
    if method == AuthMethod.TOKEN:
        return sunset.sunset_date()
    if certificate_valid_to is not None:
        end: dt.date = timezone.localtime(certificate_valid_to).date()
        return end
    return None


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
    """One company's card as Start shows it (issue 22), for any member: the same statements, counts and state
    as the Biuro page, read for this one membership (two statements, three when it has offline invoices)."""
    (row,) = office_rows(state=_state(_statements("m.id = %s", [membership.pk]), digested=False))
    return row


# --- Biuro: all the user's companies ----------------------------------------------------------------------

PER_PAGE = 25

# What "Pokaż" narrows the list to; "" is every company.
SHOW_FILTERS = ("attention", "no_permissions", "rejected", "offline", "new", "waiting")
SORTS = ("attention", "name", "waiting", "new")

# --- what the page shows, read as plain rows --------------------------------------------------------------
#
# Three statements read everything the Biuro page shows, in plain SQL through Django's cursor (the same text
# on PostgreSQL and SQLite): the user's companies with their connection, counts and last import; their offline
# invoices grouped by what a deadline depends on; the announced KSeF failures. The page's cache key is a
# digest of exactly these rows (``office_digest``), and the rows a page is built from come with the digest of
# themselves (``office_state``), so content is kept only under the key of what it shows.


# The statements below are ours: table names from the models, every value a parameter.


def _memberships_sql(where: str) -> str:
    return f"""
SELECT m.company_id, c.uuid, c.name, c.nip, m.role,
       k.status, k.method, k.permissions, k.certificate_valid_to, a.unavailable_since,
       n.waiting, n.rejected, n.new_purchases,
       (SELECT s.last_success_at FROM {SyncCursor._meta.db_table} s
         WHERE s.company_id = m.company_id AND s.last_success_at IS NOT NULL
         ORDER BY s.last_success_at DESC LIMIT 1) AS last_import_at
FROM {Membership._meta.db_table} m
JOIN {Company._meta.db_table} c ON c.id = m.company_id
LEFT JOIN {KsefConnection._meta.db_table} k ON k.company_id = m.company_id
LEFT JOIN {KsefAvailability._meta.db_table} a ON a.company_id = m.company_id
LEFT JOIN {InvoiceCounts._meta.db_table} n ON n.company_id = m.company_id
WHERE {where}
ORDER BY m.company_id"""  # noqa: S608


def _offline_sql(companies: str) -> str:
    """Offline invoices KSeF has not accepted yet (the partial index ``inv_offline_open`` finds them) of the
    companies ``companies`` selects (SQL: a sub-select, or a parameter)."""
    return f"""
SELECT o.company_id, i.ksef_offline_mode, i.issue_date, g.ends_at, COUNT(*) AS n
FROM {OfflineInvoice._meta.db_table} o
JOIN {Invoice._meta.db_table} i ON i.id = o.invoice_id
LEFT JOIN {KsefOutage._meta.db_table} g ON g.id = o.outage_id
WHERE o.company_id IN ({companies}) AND i.ksef_offline_mode <> '' AND i.ksef_status <> %s
GROUP BY o.company_id, i.ksef_offline_mode, i.issue_date, g.ends_at
ORDER BY o.company_id, i.ksef_offline_mode, i.issue_date, g.ends_at"""  # noqa: S608


def _failures_sql() -> str:
    return f"SELECT announced_at, ends_at FROM {KsefOutage._meta.db_table} WHERE kind = %s ORDER BY id"  # noqa: S608


def _statements(where: str, params: list[Any]) -> list[tuple[str, list[Any]]]:
    """The three statements for the memberships ``where`` selects (SQL over the membership ``m``)."""
    companies = f"SELECT m.company_id FROM {Membership._meta.db_table} m WHERE {where}"  # noqa: S608
    return [
        (_memberships_sql(where), params),
        (_offline_sql(companies), [*params, KsefStatus.ACCEPTED]),
        (_failures_sql(), [OutageKind.FAILURE]),
    ]


def _office_statements(user: User) -> list[tuple[str, list[Any]]]:
    """Biuro's: every company ``user`` works for as owner or accountant."""
    return _statements("m.user_id = %s AND m.role IN (%s, %s)", [user.pk, *OFFICE_ROLES])


# On PostgreSQL a statement's rows are digested where they are (SHA-256 of their text, in the statement's own
# order); elsewhere they are fetched and digested here. Either way the same rows give the same digest, and any
# change another. (Were PostgreSQL ever to hand the rows over in another order, the digest would differ: a
# page rendered once more, never a stale one.)
_PG_DIGEST = "encode(sha256(convert_to(coalesce(string_agg(t::text, '|'), ''), 'UTF8')), 'hex')"
_EMPTY_PG_DIGEST = hashlib.sha256(b"").hexdigest()


def _python_digest(rows: list[tuple[Any, ...]]) -> str:
    return hashlib.blake2b(repr(rows).encode(), digest_size=16).hexdigest()


def office_digest(*, user: User) -> str:
    """A digest of everything the Biuro page shows of ``user``'s companies: one statement on PostgreSQL."""
    statements = _office_statements(user)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql = ", ".join(f"(SELECT {_PG_DIGEST} FROM ({text}) t)" for text, _params in statements)  # noqa: S608
            cursor.execute(f"SELECT {sql}", [p for _text, params in statements for p in params])
            return "-".join(cursor.fetchone())
        digests = []
        for text, params in statements:
            cursor.execute(text, params)
            digests.append(_python_digest(cursor.fetchall()))
    return "-".join(digests)


def _fetch(cursor: Any, text: str, params: list[Any]) -> tuple[str, list[tuple[Any, ...]]]:
    """A statement's rows with their digest, from the same snapshot (one statement on PostgreSQL)."""
    if connection.vendor == "postgresql":
        cursor.execute(f"WITH t AS ({text}) SELECT (SELECT {_PG_DIGEST} FROM t), t.* FROM t", params)  # noqa: S608
        fetched = cursor.fetchall()
        return (fetched[0][0] if fetched else _EMPTY_PG_DIGEST), [row[1:] for row in fetched]
    cursor.execute(text, params)
    rows = cursor.fetchall()
    return _python_digest(rows), rows


@dataclass(frozen=True)
class OfficeState:
    """Everything the Biuro page shows of a user's companies, as read, and ``digest``: the same as
    ``office_digest`` gives for these rows. ``today`` is not in the digest (the page's key adds it)."""

    memberships: list[tuple[Any, ...]]  # the columns of _memberships_sql, per company, by company id
    offline: list[OfflineGroup]
    failures: list[offline_deadlines.Failure]
    today: dt.date
    digest: str


def office_state(*, user: User) -> OfficeState:
    """What ``user`` works on as owner or accountant (never a viewer's, never another user's companies): three
    statements whatever the number of companies."""
    return _state(_office_statements(user), digested=True)


def _state(statements: list[tuple[str, list[Any]]], *, digested: bool) -> OfficeState:
    """The rows of ``statements`` (and, when ``digested``, their digest). Undigested, the failures are read
    only when some company has offline invoices (nothing else needs them)."""
    digests: list[str] = []
    fetched: list[list[tuple[Any, ...]]] = []
    with connection.cursor() as cursor:
        for n, (text, params) in enumerate(statements):
            if digested:
                digest, rows = _fetch(cursor, text, params)
                digests.append(digest)
            elif n == 2 and not fetched[1]:
                rows = []
            else:
                cursor.execute(text, params)
                rows = cursor.fetchall()
            fetched.append(rows)
    memberships, offline, failures = fetched
    # JSON comes as text from both (Django reads JSON columns as text); SQLite gives text for UUIDs, dates and
    # times too
    memberships = [_typed_membership(row) for row in memberships]
    if connection.vendor == "sqlite":
        offline = _typed_offline(offline)
    return OfficeState(
        memberships=memberships,
        offline=offline,
        failures=[
            reminders.failure(_required(_moment(announced)), _moment(ends)) for announced, ends in failures
        ],
        today=timezone.localdate(),
        digest="-".join(digests),
    )


def _moment(value: Any) -> dt.datetime | None:
    """A stored moment as an aware datetime: SQLite keeps UTC without a zone, as text or (by its column's
    declared type) as a naive datetime."""
    if value is None:
        return None
    moment = value if isinstance(value, dt.datetime) else parse_datetime(value)
    if moment is None:
        raise ValueError(f"not a date and time: {value!r}")
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=dt.UTC)


def _required(moment: dt.datetime | None) -> dt.datetime:
    if moment is None:
        raise ValueError("a required moment is missing")
    return moment


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _typed_offline(rows: list[tuple[Any, ...]]) -> list[OfflineGroup]:
    return [(company, mode, _date(day), _moment(ends), n) for company, mode, day, ends, n in rows]


def _typed_membership(row: tuple[Any, ...]) -> tuple[Any, ...]:
    company_id, company_uuid, name, nip, role, status, method, permissions, valid_to, unavailable, *rest = row
    *counts, last = rest
    return (
        company_id,
        company_uuid if isinstance(company_uuid, uuid.UUID) else uuid.UUID(company_uuid),
        name,
        nip,
        role,
        status,
        method,
        json.loads(permissions) if isinstance(permissions, str) else permissions,
        _moment(valid_to),
        _moment(unavailable),
        *counts,
        _moment(last),
    )


def office_rows(*, user: User | None = None, state: OfficeState | None = None) -> list[ClientRow]:
    """Every company of ``state`` (read for ``user`` when not given) with its KSeF state, in company order."""
    if state is None:
        assert user is not None, "office_rows needs a user or a state"  # noqa: S101 - a caller's mistake
        state = office_state(user=user)
    offline = _offline_by_company(state.offline, state.failures)
    today = state.today
    labels = _problem_labels()
    roles = {role: str(label) for role, label in Role.choices}
    states: dict[tuple[Any, ...], ConnectionState] = {}  # a handful of distinct states among many companies
    rows = []
    for (
        company_id,
        company_uuid,
        name,
        nip,
        role,
        status,
        method,
        permissions,
        valid_to,
        unavailable,
        waiting,
        rejected,
        new_purchases,
        last,
    ) in state.memberships:
        connected = status in (ConnectionStatus.ACTIVE, ConnectionStatus.ATTENTION)
        key = (status, method, bool(permissions), unavailable is not None)
        connection = states.get(key)
        if connection is None:
            connection = states[key] = connection_state_of(
                status=status, method=method, has_permissions=bool(permissions), unavailable_since=unavailable
            )
        row = _client_row(
            company_uuid=str(company_uuid),
            name=name,
            nip=nip,
            role_label=roles.get(role, role),
            state=connection,
            method=method if connected else "",
            permissions=(permissions or []) if connected else None,
            expires_on=_expiry_of(method=method, certificate_valid_to=valid_to) if connected else None,
            counts=(waiting or 0, rejected or 0, new_purchases or 0),
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
    *,
    user: User | None = None,
    state: OfficeState | None = None,
    name: str = "",
    show: str = "",
    sort: str = "attention",
    page: int = 1,
) -> OfficePage:
    """One page of ``PER_PAGE`` companies matching ``name`` (a name or NIP) and ``show``, in ``sort``'s order,
    with the totals of all; a page past the last shows the last. From ``state``, or read for ``user``."""
    rows = office_rows(user=user, state=state)
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
