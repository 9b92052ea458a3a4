"""Connect a company to KSeF (token or certificate), verify, change settings, disconnect.

Nothing is stored until KSeF itself has accepted the credential; every failure becomes a ``ConnectError``
with a plain-language message and leaves the company's data as it was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from accounts.models import Company, User
from ksef_integration import errors
from ksef_integration.company_lock import company_lock
from ksef_integration.connect import credentials, gateway
from ksef_integration.connect.selectors import missing_permission_messages
from ksef_integration.connect.session import (
    OfficeUnavailable,
    credential_source,
    stored_tokens,
    tokens_columns,
)
from ksef_integration.connect.signals import connection_active
from ksef_integration.encryption import secret_decrypt, secret_encrypt
from ksef_integration.models import (
    AuditEvent,
    AuthMethod,
    ConnectionStatus,
    KsefConnection,
    KsefOnlineSession,
    token_sunset_passed,
)

logger = logging.getLogger(__name__)
CONNECT_WAIT_SECONDS = 15.0


@dataclass(frozen=True)
class ConnectResult:
    connection: KsefConnection
    missing_messages: list[str]


@contextlib.contextmanager
def _conversation(company: Company) -> Iterator[None]:
    """The company's one KSeF conversation (``company_lock``), waited for up to ``CONNECT_WAIT_SECONDS``: a
    double click waits its turn, and so does a short drain of the queue; a longer one makes it "busy"."""
    with company_lock(company.pk, wait=CONNECT_WAIT_SECONDS) as lock:
        if lock is None:
            raise errors.busy()
        yield


def _audit(company: Company, kind: str, message: str, *, actor: User | None, **data: object) -> None:
    AuditEvent.objects.create(company=company, kind=kind, actor=actor, message=message, data=data)


def _failed(company: Company, user: User | None, error: errors.ConnectError) -> errors.ConnectError:
    _audit(
        company, AuditEvent.Kind.CONNECT_FAILED,
        _("Connection attempt failed: %(reason)s") % {"reason": error.message},
        actor=user, code=error.code,
    )  # fmt: skip
    logger.info("ksef connect failed: company=%s code=%s", company.uuid, error.code)
    return error


def _store_session(connection: KsefConnection, login: gateway.Login) -> None:
    for column, value in tokens_columns(login.tokens).items():
        setattr(connection, column, value)


def _require_invoice_permissions(company: Company, user: User | None, permissions: list[str]) -> None:
    if not {"InvoiceWrite", "InvoiceRead"} & set(permissions):
        raise _failed(company, user, errors.no_invoice_permissions())


Progress = Callable[[str], None]
# The steps a connection attempt reports while KSeF is asked (the connect page shows them as they happen).
STEP_CHECKED = "checked"  # the credential's shape and NIP, here
STEP_LOGGED_IN = "logged_in"  # KSeF let the credential in
STEP_PERMISSIONS = "permissions"  # the permissions it carries are read
STEPS = (STEP_CHECKED, STEP_LOGGED_IN, STEP_PERMISSIONS)


def _no_progress(step: str) -> None:
    return None


@sensitive_variables()
def connection_connect_token(
    *, company: Company, user: User, raw_token: str, progress: Progress = _no_progress
) -> ConnectResult:
    if token_sunset_passed():  # KSeF would refuse it: no login is tried
        raise _failed(company, user, errors.token_sunset(f"{settings.KSEF_TOKEN_SUNSET:%d.%m.%Y}"))
    try:
        token = gateway.token_parse(raw_token)
    except errors.ConnectError as exc:
        raise _failed(company, user, exc) from None
    if token.context_nip != company.nip:
        raise _failed(company, user, errors.other_nip(token.context.value, company.nip))
    progress(STEP_CHECKED)

    def store(connection: KsefConnection) -> None:
        connection.method = AuthMethod.TOKEN
        connection.token_ciphertext = secret_encrypt(token.secret)
        connection.token_last4 = token.last4
        connection.token_reference = token.reference_number

    return _connect(
        company, user,
        login=lambda: gateway.token_login(
            token=token, nip=company.nip, logged_in=lambda: progress(STEP_LOGGED_IN)
        ),
        store=store, label=f"token ••••{token.last4}", progress=progress,
    )  # fmt: skip


@sensitive_variables()
def connection_connect_certificate(
    *,
    company: Company,
    user: User,
    certificate_bytes: bytes,
    private_key_bytes: bytes,
    password: str | None,
    progress: Progress = _no_progress,
) -> ConnectResult:
    try:
        credential = credentials.certificate_load(
            certificate_bytes=certificate_bytes, private_key_bytes=private_key_bytes, password=password
        )
        if credential.nip is None:
            raise errors.certificate_without_nip(company.nip)
        if credential.nip != company.nip:
            raise errors.certificate_other_nip(credential.nip, company.nip)
    except errors.ConnectError as exc:
        raise _failed(company, user, exc) from None
    progress(STEP_CHECKED)

    def login() -> gateway.Login:
        session = gateway.certificate_login(credential=credential, nip=company.nip)
        progress(STEP_LOGGED_IN)
        return session

    return _connect(
        company, user,
        login=login,
        store=_certificate_store(credential), label=f"certyfikat {credential.serial}", progress=progress,
    )  # fmt: skip


@sensitive_variables()
def connection_connect_enrolled(
    *, company: Company, user: User | None, credential: credentials.CertificateCredential
) -> ConnectResult:
    """Switch the company to a certificate KSeF issued for it through the portal (``enrollment``): proven by
    logging in with it first; only then does it replace the token (or the certificate it renews). Its
    subject may be a person by PESEL, whoever signed the owner's request."""
    if credential.nip is not None and credential.nip != company.nip:
        raise errors.certificate_other_nip(credential.nip, company.nip)

    return _connect(
        company, user,
        login=lambda: gateway.certificate_login(credential=credential, nip=company.nip, enrolled=True),
        store=_certificate_store(credential), label=f"certyfikat {credential.serial}",
    )  # fmt: skip


def _certificate_store(credential: credentials.CertificateCredential) -> Callable[[KsefConnection], None]:
    """How a certificate connection is written (the key encrypted), once KSeF has accepted it."""

    @sensitive_variables()
    def store(connection: KsefConnection) -> None:
        connection.method = AuthMethod.CERTIFICATE
        connection.certificate_pem = credential.certificate_pem
        connection.private_key_ciphertext = secret_encrypt(credential.private_key_pkcs8)
        connection.certificate_serial = credential.serial
        connection.certificate_valid_from = credential.valid_from
        connection.certificate_valid_to = credential.valid_to

    return store


@sensitive_variables()
def _connect(
    company: Company,
    user: User | None,
    *,
    login: Callable[[], gateway.Login],
    store: Callable[[KsefConnection], None],
    label: str,
    progress: Progress = _no_progress,
) -> ConnectResult:
    """Log in with a new credential under the company's lock; only when KSeF accepted it (with the
    permissions to send or import) is the credential stored, replacing whatever was there."""
    with _conversation(company):
        try:
            session = login()
        except errors.ConnectError as exc:
            raise _failed(company, user, exc) from None
        _require_invoice_permissions(company, user, session.permissions)
        progress(STEP_PERMISSIONS)
        with transaction.atomic():
            connection = _connection_for_update(company)
            _reset_credentials(connection)
            store(connection)
            return _activate(connection, user, session, label=label)


def _connection_for_update(company: Company) -> KsefConnection:
    connection = KsefConnection.objects.select_for_update().filter(company=company).first()
    if connection is None:
        connection = KsefConnection(company=company, import_start_date=timezone.localdate().replace(day=1))
    return connection


def _reset_credentials(connection: KsefConnection) -> None:
    for field in KsefConnection.SECRET_FIELDS:
        setattr(connection, field, "")
    connection.token_last4 = connection.token_reference = connection.certificate_serial = ""
    connection.certificate_pem = ""
    connection.certificate_valid_from = connection.certificate_valid_to = None
    connection.via_office = None


def _activate(
    connection: KsefConnection, user: User | None, login: gateway.Login, *, label: str
) -> ConnectResult:
    now = timezone.now()
    first_time = connection.pk is None or connection.connected_at is None
    connection.status = ConnectionStatus.ACTIVE
    connection.environment = settings.KSEF_ENVIRONMENT
    connection.permissions = sorted(login.permissions)
    connection.connected_at = now
    connection.connected_by = user or connection.connected_by  # a renewal has nobody behind it
    connection.last_verified_at = now
    connection.attention_reason = ""
    # Automation follows what KSeF allows: a missing permission keeps the matching switch off.
    if first_time:
        connection.auto_send = "InvoiceWrite" in login.permissions
        connection.auto_import = "InvoiceRead" in login.permissions
    else:
        connection.auto_send = connection.auto_send and "InvoiceWrite" in login.permissions
        connection.auto_import = connection.auto_import and "InvoiceRead" in login.permissions
    _store_session(connection, login)
    connection.save()
    company_id = connection.company_id
    # The online session opened under the replaced credential (a token that no longer works, after the token
    # sunset) carries no new invoice: the next send opens one under the credential just stored.
    KsefOnlineSession.objects.filter(company_id=company_id).delete()
    transaction.on_commit(lambda: _resume_sending(company_id))
    _audit(
        connection.company, AuditEvent.Kind.CONNECTED,
        _("Connected to KSeF with %(credential)s.") % {"credential": label},
        actor=user, permissions=connection.permissions, environment=connection.environment,
    )  # fmt: skip
    return ConnectResult(connection=connection, missing_messages=missing_permission_messages(connection))


def _resume_sending(company_id: int) -> None:
    """Tell whoever listens (sending, through ``ksef_integration.receivers``) that the company can send."""
    connection_active.send(sender=KsefConnection, company_id=company_id)


def connection_verify(*, company: Company, user: User | None) -> KsefConnection:
    """Log in to KSeF again with the stored credential and refresh the permissions it has now."""
    connection = KsefConnection.objects.filter(company=company).first()
    if connection is None or not connection.is_connected:
        raise errors.ConnectError("not_connected", _("The company is not connected to KSeF."))
    if connection.token_expired:  # the sunset, not a broken credential: nothing to mark, nothing to try
        raise errors.token_sunset(f"{settings.KSEF_TOKEN_SUNSET:%d.%m.%Y}")
    with _conversation(company):
        try:
            login = _login_with_stored(connection)
        except errors.ConnectError as exc:
            with transaction.atomic():
                locked = KsefConnection.objects.select_for_update().get(pk=connection.pk)
                if exc.code in gateway.CREDENTIAL_PROBLEMS:
                    locked.status = ConnectionStatus.ATTENTION
                    locked.attention_reason = exc.message[:300]
                    if exc.code == "office_revoked":  # KSeF lets the office do nothing here any more
                        locked.permissions = []
                    locked.save(update_fields=["status", "attention_reason", "permissions", "updated_at"])
                _audit(company, AuditEvent.Kind.VERIFY_FAILED, exc.message[:500], actor=user, code=exc.code)
            raise
        with transaction.atomic():
            locked = KsefConnection.objects.select_for_update().get(pk=connection.pk)
            was_attention = locked.status == ConnectionStatus.ATTENTION
            locked.permissions = sorted(login.permissions)
            locked.status = ConnectionStatus.ACTIVE
            locked.attention_reason = ""
            locked.last_verified_at = timezone.now()
            _store_session(locked, login)
            locked.save()
            if was_attention:  # sending was paused by the credential problem: resume it
                transaction.on_commit(lambda: _resume_sending(company.pk))
            _audit(
                company,
                AuditEvent.Kind.VERIFIED,
                _("The connection with KSeF was checked and works."),
                actor=user,
            )
        return locked


@sensitive_variables()
def _login_with_stored(connection: KsefConnection) -> gateway.Login:
    """Log in with the stored credential (``session.credential_source``: the company's own, or its
    accounting office's certificate in the company's context) and read the permissions it has there."""
    try:
        source, nip = credential_source(connection)
    except OfficeUnavailable as exc:
        raise exc.error from None
    if source.method == AuthMethod.TOKEN:
        token = gateway.token_parse(secret_decrypt(source.token_ciphertext).decode())
        return gateway.token_login(token=token, nip=nip)
    credential = credentials.certificate_from_storage(
        certificate_pem=source.certificate_pem,
        private_key_pkcs8=secret_decrypt(source.private_key_ciphertext),
    )
    if source.pk == connection.pk:
        return gateway.certificate_login(credential=credential, nip=nip)
    try:
        return gateway.certificate_login(credential=credential, nip=nip, granted=True)
    except errors.ConnectError as exc:
        raise _office_error(connection, exc) from None


def _office_error(connection: KsefConnection, exc: errors.ConnectError) -> errors.ConnectError:
    """KSeF's "no permissions" (415) for an office in its client's context, in words naming both."""
    office = connection.via_office
    if exc.code != "no_permissions" or office is None:
        return exc
    return errors.office_not_granted(office.name, office.nip, connection.company.name)


@sensitive_variables()
def connection_connect_via_office(*, company: Company, user: User, office: Company) -> ConnectResult:
    """Serve ``company`` (a client) through the accounting office ``office``: the office's own KSeF
    certificate logs in in the client's NIP context, on the permissions the client granted the office's NIP
    in KSeF, so the client hands over no token. Checked by logging in first, under the client's lock (the
    conversation is in the client's context; the office's own conversations go on meanwhile); only then
    stored."""
    if office.pk == company.pk:
        raise _failed(company, user, errors.office_not_connected(office.name))
    probe = KsefConnection(company=company, method=AuthMethod.OFFICE, via_office=office)

    def store(connection: KsefConnection) -> None:
        connection.method = AuthMethod.OFFICE
        connection.via_office = office

    return _connect(
        company, user,
        login=lambda: _login_with_stored(probe),
        store=store, label=probe.credential_label,
    )  # fmt: skip


def connection_disconnect(*, company: Company, user: User) -> bool:
    """End the KSeF session and delete every secret; the row stays (disconnected) for its history."""
    connection = KsefConnection.objects.filter(company=company).first()
    if connection is None or connection.status == ConnectionStatus.DISCONNECTED:
        return False
    tokens = None if connection.token_expired else stored_tokens(connection, margin=dt.timedelta(0))
    if tokens is not None:
        # Best effort: the secrets are deleted whether or not KSeF answers.
        with contextlib.suppress(errors.ConnectError):
            gateway.session_end(tokens=tokens)
    with transaction.atomic():
        locked = KsefConnection.objects.select_for_update().get(pk=connection.pk)
        _reset_credentials(locked)
        locked.access_valid_until = locked.refresh_valid_until = None
        locked.status = ConnectionStatus.DISCONNECTED
        # The owner's switches stay as they were: connecting again brings them back (with the permissions
        # KSeF then grants), so invoices go out at once as "Gotowe!" promises. A disconnected company sends
        # and imports nothing whatever they say (both need an active connection).
        locked.permissions = []
        locked.save()
        _audit(
            company,
            AuditEvent.Kind.DISCONNECTED,
            _("Disconnected from KSeF; the credentials were deleted."),
            actor=user,
        )
    return True


def connection_settings_update(
    *,
    connection: KsefConnection,
    user: User,
    auto_send: bool,
    auto_import: bool,
    import_interval_minutes: int,
) -> KsefConnection:
    # A switch cannot be turned on without the KSeF permission behind it.
    connection.auto_send = auto_send and "InvoiceWrite" in connection.permissions
    connection.auto_import = auto_import and "InvoiceRead" in connection.permissions
    connection.import_interval_minutes = max(import_interval_minutes, 15)
    connection.save(update_fields=["auto_send", "auto_import", "import_interval_minutes", "updated_at"])
    _audit(
        connection.company, AuditEvent.Kind.SETTINGS_CHANGED, _("KSeF settings changed."), actor=user,
        auto_send=connection.auto_send, auto_import=connection.auto_import,
        import_interval_minutes=connection.import_interval_minutes,
    )  # fmt: skip
    return connection
