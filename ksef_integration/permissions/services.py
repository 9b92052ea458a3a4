"""Dane i ustawienia → KSeF → Uprawnienia: grant KSeF permissions in the company's context to a person (PESEL
or NIP) or an accounting office (NIP), revoke them, and keep what KSeF says about them (ksef-api.md §16).

The web side only writes rows: a ``PermissionChange`` per request (queued by ``queue.permission_change``
when the transaction commits) and a refresh request on the snapshot. The worker (``change_run``,
``snapshot_refresh``) talks to KSeF under the company lock with the connection's logged-in client: it
submits the grant or revocation, keeps the ``EG`` reference at once, waits for the operation, records the
outcome (KSeF's refusal in plain words) and reads the context's grants again. Every request and outcome is
written to the company's events log.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Company, User
from ksef_integration import queue
from ksef_integration.company_lock import company_lock
from ksef_integration.connect import gateway
from ksef_integration.connect.session import NotConnected, TokenExpired, ksef_client_for
from ksef_integration.errors import ConnectError
from ksef_integration.ksef.client import KsefClient
from ksef_integration.ksef.errors import (
    KsefError,
    KsefForbidden,
    KsefPermissionRefused,
    KsefRateLimited,
    KsefTransientError,
)
from ksef_integration.ksef.permissions import Identifier, PermissionGrant, PersonsFilters
from ksef_integration.models import (
    AuditEvent,
    ConnectionStatus,
    KsefConnection,
    KsefGrant,
    PermissionChange,
    PermissionSnapshot,
)

logger = logging.getLogger(__name__)
Kind = PermissionChange.Kind
Status = PermissionChange.Status

SNAPSHOT_MAX_AGE = dt.timedelta(minutes=5)  # opening the page refreshes a snapshot older than this
REFRESH_REQUEST_STALE = dt.timedelta(minutes=2)  # a refresh asked for and not done by then is asked again
LOCK_WAIT_SECONDS = 20.0
BUSY_RETRY_SECONDS = 15
MAX_ATTEMPTS = 5
DESCRIPTION = "Nadane w KSeF Portal"  # KSeF keeps a 5-256 character description with every grant
INVOICE_PERMISSIONS = ("InvoiceRead", "InvoiceWrite")
MANAGE = "CredentialsManage"


# --- what the connection may do -----------------------------------------------------------------------


def can_manage(connection: KsefConnection | None) -> bool:
    """Whether the company's connection may grant and revoke: active, logging in, with CredentialsManage."""
    return (
        connection is not None
        and connection.status == ConnectionStatus.ACTIVE
        and not connection.token_expired
        and MANAGE in connection.permissions
    )


def cannot_manage_message() -> str:
    return _(
        "Granting and revoking KSeF permissions needs a KSeF token or certificate with the permission "
        "“Zarządzanie uprawnieniami” (CredentialsManage). The company is connected with one that does not "
        "have it: generate a token with that permission (or connect with the owner's certificate) and "
        "connect again."
    )


def cannot_read_message() -> str:
    return _(
        "The connection may not read the KSeF permissions of the company: it needs "
        "“Przeglądanie uprawnień” (CredentialsRead) or “Zarządzanie uprawnieniami” (CredentialsManage)."
    )


def _connection(company: Company) -> KsefConnection | None:
    return KsefConnection.objects.filter(company=company).first()


def _audit(company: Company, message: str, *, actor: User | None, **data: object) -> None:
    AuditEvent.objects.create(
        company=company,
        kind=AuditEvent.Kind.PERMISSIONS_CHANGED,
        actor=actor,
        message=message[:500],
        data=data,
    )


def permission_label(scope: str) -> str:
    labels = {
        "InvoiceRead": _("viewing invoices"),
        "InvoiceWrite": _("issuing invoices"),
        "CredentialsManage": _("managing permissions"),
        "CredentialsRead": _("viewing permissions"),
        "Introspection": _("viewing session history"),
        "SubunitManage": _("managing subunits"),
        "EnforcementOperations": _("enforcement operations"),
        "CollectiveIdentifierManage": _("managing collective identifiers"),
        "VatUeManage": _("managing VAT-UE"),
    }
    return labels.get(scope, scope)


def _who(change: PermissionChange) -> str:
    kind = "PESEL" if change.identifier_type == "Pesel" else "NIP"
    name = f"{change.name} " if change.name else ""
    return f"{name}({kind} {change.identifier_value})"


def _scopes(permissions: Iterable[str]) -> str:
    return ", ".join(permission_label(p) for p in permissions)


# --- requests (web) -----------------------------------------------------------------------------------


def _create(
    *, company: Company, user: User | None, idempotency_key: uuid.UUID | None, fields: dict[str, object]
) -> tuple[PermissionChange, bool]:
    """One row per form key: a repeated submit returns the first row and queues nothing."""
    if idempotency_key is not None:
        existing = PermissionChange.objects.filter(company=company, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            row = PermissionChange.objects.create(
                company=company, requested_by=user, idempotency_key=idempotency_key, **fields
            )
            queue.permission_change(change_id=row.pk)
            _audit(
                company,
                _("KSeF permissions requested: %(what)s for %(who)s.")
                % {"what": _change_text(row), "who": _who(row)},
                actor=user,
                change=str(row.uuid),
            )
    except IntegrityError:
        existing = PermissionChange.objects.filter(company=company, idempotency_key=idempotency_key).first()
        if idempotency_key is not None and existing is not None:
            return existing, False  # a concurrent submit of the same form won the race
        raise
    return row, True


def _change_text(row: PermissionChange) -> str:
    if row.kind == Kind.REVOKE:
        return _("revoke %(scopes)s") % {"scopes": _scopes(row.permissions)}
    return _("grant %(scopes)s") % {"scopes": _scopes(row.permissions)}


def _require_manage(company: Company) -> None:
    if not can_manage(_connection(company)):
        raise ConnectError("no_credentials_manage", cannot_manage_message())


def grant_person_request(
    *,
    company: Company,
    user: User | None,
    identifier_type: str,
    identifier_value: str,
    first_name: str,
    last_name: str,
    permissions: list[str],
    idempotency_key: uuid.UUID | None = None,
    source: str = PermissionChange.Source.PAGE,
) -> PermissionChange:
    """Queue granting ``permissions`` to a person (``Pesel`` or ``Nip``); the identifier is already valid.
    Raises ``ConnectError`` when the connection may not grant."""
    _require_manage(company)
    row, _created = _create(
        company=company,
        user=user,
        idempotency_key=idempotency_key,
        fields={
            "kind": Kind.GRANT_PERSON,
            "source": source,
            "identifier_type": identifier_type,
            "identifier_value": identifier_value,
            "first_name": first_name[:30],
            "last_name": last_name[:81],
            "name": f"{first_name} {last_name}"[:200],
            "permissions": list(permissions),
        },
    )
    return row


def grant_entity_request(
    *,
    company: Company,
    user: User | None,
    nip: str,
    name: str,
    permissions: list[str],
    can_delegate: bool,
    idempotency_key: uuid.UUID | None = None,
) -> PermissionChange:
    """Queue granting ``permissions`` (InvoiceRead/InvoiceWrite) to an accounting office by its NIP."""
    _require_manage(company)
    row, _created = _create(
        company=company,
        user=user,
        idempotency_key=idempotency_key,
        fields={
            "kind": Kind.GRANT_ENTITY,
            "identifier_type": "Nip",
            "identifier_value": nip,
            "name": name[:200],
            "permissions": list(permissions),
            "can_delegate": can_delegate,
        },
    )
    return row


def revoke_request(
    *, company: Company, user: User | None, grant: KsefGrant, source: str = PermissionChange.Source.PAGE
) -> PermissionChange:
    """Queue revoking one listed grant; while one revocation of it is open, that one is returned."""
    _require_manage(company)
    permission_id = str(grant.permission_id)
    open_row = PermissionChange.objects.filter(
        company=company, kind=Kind.REVOKE, permission_id=permission_id, status__in=PermissionChange.OPEN
    ).first()
    if open_row is not None:
        return open_row
    fields: dict[str, object] = {
        "kind": Kind.REVOKE,
        "source": source,
        "identifier_type": grant.identifier_type,
        "identifier_value": grant.identifier_value,
        "name": grant.name,
        "permissions": [grant.scope],
        "permission_id": permission_id,
    }
    try:
        row, _created = _create(company=company, user=user, idempotency_key=None, fields=fields)
    except IntegrityError:  # a concurrent "Odbierz" of the same grant
        found = PermissionChange.objects.filter(
            company=company, kind=Kind.REVOKE, permission_id=permission_id, status__in=PermissionChange.OPEN
        ).first()
        if found is None:
            raise
        return found
    return row


def refused_now(
    *,
    company: Company,
    user: User | None,
    identifier_type: str,
    identifier_value: str,
    first_name: str,
    last_name: str,
    permissions: list[str],
    message: str,
    source: str,
    kind: str = Kind.GRANT_PERSON,
) -> PermissionChange:
    """Record a grant (or revocation) that cannot even be asked for (e.g. from an invitation while the
    connection lacks CredentialsManage), so the owner sees on the Uprawnienia page why nothing happened."""
    row = PermissionChange.objects.create(
        company=company,
        requested_by=user,
        kind=kind,
        source=source,
        status=Status.REFUSED,
        identifier_type=identifier_type,
        identifier_value=identifier_value,
        first_name=first_name[:30],
        last_name=last_name[:81],
        name=f"{first_name} {last_name}".strip()[:200],
        permissions=list(permissions),
        error_message=message[:500],
        finished_at=timezone.now(),
    )
    _audit(
        company,
        _("KSeF permissions not granted to %(who)s: %(reason)s") % {"who": _who(row), "reason": message},
        actor=user,
        change=str(row.uuid),
    )
    return row


def revoke_person_request(
    *, company: Company, user: User | None, identifier_type: str, identifier_value: str, source: str
) -> list[PermissionChange]:
    """Queue revoking every permission KSeF lists for a person (PESEL or NIP) in the company's context, as the
    snapshot last read it (one revocation per grant). Nothing listed, or a connection that may not revoke:
    one refused row says why, so the owner sees it on the Uprawnienia page."""
    try:
        _require_manage(company)
    except ConnectError as exc:
        message = exc.message
    else:
        grants = KsefGrant.objects.filter(
            company=company, subject=KsefGrant.Subject.PERSON, identifier_value=identifier_value
        ).order_by("scope", "permission_id")
        rows = [revoke_request(company=company, user=user, grant=grant, source=source) for grant in grants]
        if rows:
            return rows
        message = _("KSeF lists no permissions for %(who)s in this company (as last read from KSeF).") % {
            "who": identifier_value
        }
    refused = refused_now(
        company=company, user=user, identifier_type=identifier_type, identifier_value=identifier_value,
        first_name="", last_name="", permissions=[], message=message, source=source, kind=Kind.REVOKE,
    )  # fmt: skip
    return [refused]


def refresh_request(*, company: Company, force: bool = False, now: dt.datetime | None = None) -> bool:
    """Queue reading the context's grants from KSeF when the snapshot is older than ``SNAPSHOT_MAX_AGE`` (or
    ``force``, "Odśwież"), unless a refresh is already on its way. True when one was queued."""
    now = now or timezone.now()
    connection = _connection(company)
    if connection is None or connection.status != ConnectionStatus.ACTIVE or connection.token_expired:
        return False
    snapshot, _created = PermissionSnapshot.objects.get_or_create(company=company)
    if not force and snapshot.refreshed_at is not None and snapshot.refreshed_at > now - SNAPSHOT_MAX_AGE:
        return False
    if snapshot.refresh_pending and snapshot.refresh_requested_at > now - REFRESH_REQUEST_STALE:  # type: ignore[operator]
        return False
    # A conditional UPDATE: two pages opened at once queue one refresh.
    claimed = PermissionSnapshot.objects.filter(
        pk=snapshot.pk, refresh_requested_at=snapshot.refresh_requested_at
    ).update(refresh_requested_at=now)
    if claimed:
        queue.permissions_refresh(company_id=company.pk)
    return bool(claimed)


# --- the work (worker) --------------------------------------------------------------------------------


def _claim(change_id: int) -> PermissionChange | None:
    with transaction.atomic():
        row = (
            PermissionChange.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("company", "requested_by")
            .filter(pk=change_id, status=Status.PENDING)
            .first()
        )
        if row is None:
            return None
        row.status = Status.WORKING
        row.attempts += 1
        row.save(update_fields=["status", "attempts", "updated_at"])
        return row


def _submit(client: KsefClient, row: PermissionChange) -> str:
    if row.kind == Kind.GRANT_PERSON:
        return client.permissions.grant_to_person(
            identifier=Identifier(row.identifier_type, row.identifier_value),
            permissions=list(row.permissions),
            description=DESCRIPTION,
            first_name=row.first_name,
            last_name=row.last_name,
        )
    if row.kind == Kind.GRANT_ENTITY:
        return client.permissions.grant_to_entity(
            nip=row.identifier_value,
            permissions=dict.fromkeys(row.permissions, row.can_delegate),
            description=DESCRIPTION,
            full_name=row.name,
        )
    return client.permissions.revoke(permission_id=row.permission_id)


def _finish(row: PermissionChange, status: str, message: str = "") -> None:
    row.status = status
    row.error_message = message[:500]
    row.finished_at = timezone.now()
    row.save(update_fields=["status", "error_message", "finished_at", "updated_at"])
    what, who = _change_text(row), _who(row)
    if status == Status.DONE:
        text = _("KSeF permissions changed: %(what)s for %(who)s.") % {"what": what, "who": who}
    elif status == Status.REFUSED:
        text = _("KSeF refused to %(what)s for %(who)s: %(reason)s") % {
            "what": what,
            "who": who,
            "reason": message,
        }
    else:
        text = _("Could not %(what)s for %(who)s: %(reason)s") % {"what": what, "who": who, "reason": message}
    _audit(row.company, text, actor=row.requested_by, change=str(row.uuid), status=status)
    logger.info("ksef permission change: company=%s kind=%s status=%s", row.company_id, row.kind, status)


def _later(row: PermissionChange, message: str, *, countdown: float) -> None:
    """Back in the queue (KSeF slow, limited or busy): the operation's reference, if any, is kept."""
    if row.attempts >= MAX_ATTEMPTS:
        _finish(row, Status.FAILED, message)
        return
    with transaction.atomic():
        row.status = Status.PENDING
        row.error_message = message[:500]
        row.save(update_fields=["status", "error_message", "attempts", "updated_at"])
        queue.permission_change(change_id=row.pk, countdown=countdown)


def _refusal_text(exc: KsefForbidden) -> str:
    if exc.reason_code == "missing-permissions":
        return cannot_manage_message()
    return gateway.in_language(exc.message_pl, exc.message_en)


def change_run(change_id: int) -> str:
    """Carry out one grant or revocation: under the company lock, submit it (unless KSeF already has it),
    wait for KSeF's operation, record the outcome, then read the context's grants again."""
    row = _claim(change_id)
    if row is None:
        return "not pending"
    with company_lock(row.company_id, wait=LOCK_WAIT_SECONDS) as lock:
        if lock is None:
            row.attempts -= 1  # a busy company is not a failed attempt
            _later(row, "", countdown=BUSY_RETRY_SECONDS)
            return "busy"
        client: KsefClient | None = None
        try:
            client = ksef_client_for(company=row.company)
            if not row.operation_reference:
                row.operation_reference = _submit(client, row)
                row.save(update_fields=["operation_reference", "updated_at"])
            client.permissions.operation_wait(reference_number=row.operation_reference)
        except TokenExpired:
            _finish(row, Status.FAILED, _("KSeF tokens no longer work; connect with a KSeF certificate."))
            return "failed"
        except NotConnected:
            _finish(row, Status.FAILED, _("The company is not connected to KSeF."))
            return "failed"
        except KsefPermissionRefused as exc:
            _finish(row, Status.REFUSED, gateway.in_language(exc.message_pl, exc.message_en))
        except KsefForbidden as exc:
            _finish(row, Status.REFUSED, _refusal_text(exc))
        except KsefRateLimited as exc:
            _later(row, gateway.error_text(exc), countdown=max(exc.retry_after, 5))
            return "later"
        except KsefTransientError as exc:
            _later(row, gateway.error_text(exc), countdown=30 * row.attempts)
            return "later"
        except KsefError as exc:
            _finish(row, Status.FAILED, gateway.translate_error(exc).message)
        except ValueError as exc:  # the client refused the arguments before calling KSeF
            logger.info("ksef permission change refused locally: %s", exc)
            _finish(row, Status.FAILED, _("The data of this request cannot be sent to KSeF."))
        else:
            _finish(row, Status.DONE)
        if client is not None:
            _refresh_locked(row.company, client)
    return row.status


def _subject(grant: PermissionGrant) -> str:
    return KsefGrant.Subject.ENTITY if grant.entity_name else KsefGrant.Subject.PERSON


def _grant_row(company: Company, grant: PermissionGrant) -> KsefGrant:
    authorized = grant.authorized or Identifier("", "")
    author = grant.author or Identifier("", "")
    return KsefGrant(
        company=company,
        permission_id=uuid.UUID(grant.id),
        subject=_subject(grant),
        identifier_type=authorized.type[:16],
        identifier_value=(authorized.value or "")[:64],
        name=(grant.entity_name or grant.person_name or "")[:200],
        scope=grant.scope[:48],
        description=grant.description[:256],
        state=grant.state[:16],
        can_delegate=grant.can_delegate,
        start_date=grant.start_date,
        author_type=author.type[:16],
        author_value=(author.value or "")[:64],
    )


def _refresh_locked(company: Company, client: KsefClient) -> str:
    """Read who may work in the context and replace the snapshot (the caller holds the company lock)."""
    now = timezone.now()
    try:
        grants = list(client.permissions.persons(filters=PersonsFilters()))
    except KsefForbidden as exc:
        if exc.reason_code != "missing-permissions":
            return _refresh_failed(company, now, _refusal_text(exc))
        return _refresh_failed(company, now, cannot_read_message())
    except KsefError as exc:
        return _refresh_failed(company, now, gateway.error_text(exc))
    rows = [_grant_row(company, g) for g in grants if g.authorized is not None]
    with transaction.atomic():
        snapshot, _created = PermissionSnapshot.objects.select_for_update().get_or_create(company=company)
        KsefGrant.objects.filter(company=company).delete()
        KsefGrant.objects.bulk_create(rows)
        snapshot.refreshed_at = now
        snapshot.error_message = ""
        snapshot.error_at = None
        snapshot.save()
    return "refreshed"


def _refresh_failed(company: Company, now: dt.datetime, message: str) -> str:
    PermissionSnapshot.objects.update_or_create(
        company=company, defaults={"error_message": message[:500], "error_at": now}
    )
    return "failed"


def snapshot_refresh(company_id: int) -> str:
    """The worker's refresh of the snapshot; "busy" when the company's KSeF conversation is taken (the task
    tries again shortly)."""
    company = Company.objects.filter(pk=company_id).first()
    if company is None:
        return "no company"
    with company_lock(company_id, wait=LOCK_WAIT_SECONDS) as lock:
        if lock is None:
            return "busy"
        try:
            client = ksef_client_for(company=company)
        except NotConnected:
            return _refresh_failed(company, timezone.now(), _("The company is not connected to KSeF."))
        except KsefError as exc:
            return _refresh_failed(company, timezone.now(), gateway.translate_error(exc).message)
        return _refresh_locked(company, client)
