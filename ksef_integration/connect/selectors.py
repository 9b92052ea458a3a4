"""Read queries for KSeF connections and their audit trail."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Company, Membership, Role, User
from ksef_integration.connect import sunset
from ksef_integration.models import (
    AuditEvent,
    AuthMethod,
    CertificateEnrollment,
    ConnectionStatus,
    KsefAvailability,
    KsefConnection,
    token_sunset_passed,
)

PERMISSION_LABELS = {
    "InvoiceWrite": "wystawianie faktur",
    "InvoiceRead": "przeglądanie faktur",
    "CredentialsRead": "przeglądanie uprawnień",
    "CredentialsManage": "zarządzanie uprawnieniami",
    "SubunitManage": "zarządzanie jednostkami podrzędnymi",
    "EnforcementOperations": "operacje egzekucyjne",
    "Introspection": "przeglądanie historii sesji",
}


ONE_ROWS = ("ksef_connection", "ksef_availability", "ksef_offline_certificate")
_MISSING_ONES = "_ksef_missing_one_rows"  # on a company object: the rows company_ones_read did not find


def company_one(company: Company, name: str) -> Any:
    """The company's one-to-one row ``name`` (``ksef_connection``, ``ksef_availability``,
    ``ksef_offline_certificate``) or None, read once per company object: Django keeps a reverse one-to-one
    (found or not) on the instance, so the view, its template tags and the page's banners, which all hold
    the request's one company object, share one query."""
    if name in company.__dict__.get(_MISSING_ONES, ()):
        return None
    try:
        return getattr(company, name)
    except ObjectDoesNotExist:
        return None


def company_ones_read(company: Company, names: tuple[str, ...] = ONE_ROWS) -> None:
    """Read the company's one-to-one rows ``names`` in one query (joined to the company) for a page that
    shows them all; ``company_one`` then answers from the company object, found or not."""
    row = Company.objects.filter(pk=company.pk).select_related(*names).first()
    missing = set()
    for name in names:
        try:
            value = getattr(row, name) if row is not None else None
        except ObjectDoesNotExist:
            value = None
        if value is None:
            missing.add(name)
        else:
            setattr(company, name, value)
    company.__dict__[_MISSING_ONES] = frozenset(missing)


def connection_for_company(*, company: Company) -> KsefConnection | None:
    connection: KsefConnection | None = company_one(company, "ksef_connection")
    return connection


@dataclass(frozen=True)
class ConnectionState:
    """What Start, Dane i ustawienia → KSeF and the e-mails say about the company's KSeF, from one place:
    the connection's status and whether KSeF answered its last calls (``KsefAvailability``)."""

    code: str  # "none", "active", "unavailable", "attention", "token_expired", "no_permissions"
    label: str
    ok: bool
    since: dt.datetime | None = None


def connection_state(*, company: Company) -> ConnectionState:
    connection = connection_for_company(company=company)
    availability: KsefAvailability | None = None
    if (
        connection is not None
        and connection.status == ConnectionStatus.ACTIVE
        and not connection.token_expired
    ):
        availability = company_one(company, "ksef_availability")  # read only where it decides the state
    return connection_state_of(
        status=connection.status if connection is not None else None,
        method=connection.method if connection is not None else "",
        has_permissions=bool(connection.permissions) if connection is not None else False,
        unavailable_since=availability.unavailable_since if availability is not None else None,
    )


def connection_state_of(
    *, status: str | None, method: str, has_permissions: bool, unavailable_since: dt.datetime | None
) -> ConnectionState:
    """``connection_state`` from the few values it depends on (the connection's status, method, whether it
    holds any KSeF permission, and since when KSeF has not answered): Biuro reads them for hundreds of
    companies as plain values, without a model object per company."""
    if status not in (ConnectionStatus.ACTIVE, ConnectionStatus.ATTENTION):
        return ConnectionState("none", _("not connected"), ok=False)
    if method == AuthMethod.TOKEN and token_sunset_passed():
        # the token sunset, not a KSeF failure: it says what to do instead
        return ConnectionState("token_expired", sunset.expired_text(), ok=False)
    if status == ConnectionStatus.ATTENTION:
        if method == AuthMethod.OFFICE and not has_permissions:
            # The client took the office's permissions back: KSeF lets the office do nothing there.
            return ConnectionState("no_permissions", _("no permissions"), ok=False)
        return ConnectionState("attention", str(ConnectionStatus(status).label), ok=False)
    if unavailable_since is not None:  # the same row that sent the owners "KSeF nie odpowiada"
        return ConnectionState("unavailable", _("KSeF unavailable"), ok=False, since=unavailable_since)
    return ConnectionState("active", str(ConnectionStatus(status).label), ok=True)


def recent_events(*, company: Company, limit: int = 10) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(company=company).order_by("-created_at", "-id")[:limit]


def permission_labels(connection: KsefConnection | None) -> list[str]:
    if connection is None:
        return []
    return [PERMISSION_LABELS.get(p, p) for p in connection.permissions]


def missing_permission_messages(connection: KsefConnection | None) -> list[str]:
    """What the connection cannot do for lack of a KSeF permission, in words an owner understands."""
    if connection is None or not connection.is_connected:
        return []
    missing = []
    if connection.method == AuthMethod.OFFICE:
        if "InvoiceWrite" not in connection.permissions:
            missing.append(
                _(
                    "The company did not grant the accounting office the permission to issue invoices "
                    "(InvoiceWrite) in KSeF: sales invoices will not be sent."
                )
            )
        if "InvoiceRead" not in connection.permissions:
            missing.append(
                _(
                    "The company did not grant the accounting office the permission to view invoices "
                    "(InvoiceRead) in KSeF: invoices will not be imported."
                )
            )
        return missing
    if "InvoiceWrite" not in connection.permissions:
        missing.append(
            _(
                "KSeF did not grant the permission to issue invoices (InvoiceWrite): "
                "sales invoices will not be "
                "sent automatically. Generate a token with all roles selected and connect again."
            )
        )
    if "InvoiceRead" not in connection.permissions:
        missing.append(
            _(
                "KSeF did not grant the permission to view invoices (InvoiceRead): "
                "invoices will not be imported. "
                "Generate a token with all roles selected and connect again."
            )
        )
    return missing


CERTIFICATE_WARNING_DAYS = 30


def certificate_warnings(connection: KsefConnection | None) -> list[str]:
    """A warning while the login certificate nears its end (or has passed it): KSeF Portal renews it by itself
    (``enrollment``), so the owner hears what happens, and what to do when the last renewal failed."""
    if connection is None or connection.method != "certificate" or connection.certificate_valid_to is None:
        return []
    days = (connection.certificate_valid_to - timezone.now()).days
    end = timezone.localtime(connection.certificate_valid_to).strftime("%d.%m.%Y")
    if days > CERTIFICATE_WARNING_DAYS:
        return []
    failed = (
        CertificateEnrollment.objects.filter(company_id=connection.company_id)
        .order_by("-created_at", "-id")
        .values_list("status", "error_message")
        .first()
    )
    what_to_do = _("Get a new one by signing one request: Switch to a new KSeF certificate.")
    if days < 0:
        return [_("The KSeF certificate expired on %(date)s.") % {"date": end} + " " + what_to_do]
    warning = _(
        "The KSeF certificate expires on %(date)s (in %(days)s days). "
        "KSeF Portal renews it by itself before then."
    ) % {"date": end, "days": days}
    if failed is not None and failed[0] == CertificateEnrollment.Status.FAILED:
        warning += " " + _("The last attempt failed: %(reason)s We try again every day.") % {
            "reason": failed[1]
        }
        warning += " " + what_to_do
    return [warning]


def token_sunset_days() -> int | None:
    """Days left until KSeF tokens stop working (None once the sunset has passed)."""
    days = sunset.days_left()
    return days if days >= 0 else None


# --- serving a client through an accounting office ---------------------------------------------------


def via_office_allowed(*, membership: Membership) -> bool:
    """Whether ``membership`` may have its company served through an office: owners and accountants, while
    the company has no credential of its own connected (an own token or certificate is replaced only by
    disconnecting it first)."""
    if membership.role not in (Role.OWNER, Role.ACCOUNTANT):
        return False
    connection = connection_for_company(company=membership.company)
    return connection is None or not connection.is_connected or connection.method == AuthMethod.OFFICE


def offices_for(*, user: User, client: Company) -> QuerySet[Company]:
    """The companies that may serve ``client`` with their own credential, as ``user`` may choose them: those
    ``user`` owns (the office agrees to lend its certificate), other than the client, connected to KSeF
    with a certificate (a KSeF token works only in the context it was generated in)."""
    return (
        Company.objects.filter(
            memberships__user=user,
            memberships__role=Role.OWNER,
            ksef_connection__method=AuthMethod.CERTIFICATE,
            ksef_connection__status__in=(ConnectionStatus.ACTIVE, ConnectionStatus.ATTENTION),
        )
        .exclude(pk=client.pk)
        .order_by("name", "pk")
    )


def office_get_or_404(*, user: User, client: Company, office_uuid: str) -> Company:
    """One of ``offices_for``; 404 for any other company (another user's, one without a certificate)."""
    try:
        key = uuid.UUID(str(office_uuid))
    except ValueError:
        raise Http404 from None
    return get_object_or_404(offices_for(user=user, client=client), uuid=key)
