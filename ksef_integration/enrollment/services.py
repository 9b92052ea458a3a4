"""KSeF certificates obtained inside the portal (ksef-api.md §4.6, §21): the switch from a token and the
renewal before expiry. No owner ever needs the government application for a certificate.

The switch: ``switch_prepare`` gets a fresh challenge and builds the login request for the company's NIP; the
owner signs it (Profil Zaufany at podpis.gov.pl, a qualified signature or seal) and ``switch_submit`` checks
the file and queues the work. ``enrollment_run`` (the worker) logs in with the signed request, has KSeF issue
an Authentication and an Offline certificate for new EC P-256 keys made here, proves the Authentication one
by logging in with it and only then replaces the token with it (``connection_connect_enrolled``); the Offline
one becomes the company's KOD II certificate. Any failure leaves the token connection as it was.

The renewal: ``renewals_start`` (a daily beat) starts one for every certificate connection that expires
within ``KSEF_CERTIFICATE_RENEW_DAYS``; the worker logs in with the current certificate and does the same.
A failed renewal e-mails the owners once, with the way to do it by hand, and the old certificate keeps
working until it expires.

Talking to KSeF happens in the worker only, never in a web request, except for fetching a challenge (one
quick call the owner waits for). The enrollment's own KSeF session is not the company's sending session, so
it does not take the company lock; the final switch does (``connect.services``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from accounts.models import Company, User
from ksef_integration import notify, queue
from ksef_integration.company_lock import company_lock
from ksef_integration.connect import credentials, gateway
from ksef_integration.connect.services import connection_connect_enrolled
from ksef_integration.connect.session import NotConnected, ksef_client_for
from ksef_integration.encryption import secret_decrypt, secret_encrypt
from ksef_integration.enrollment import signed_request
from ksef_integration.errors import ConnectError
from ksef_integration.ksef.auth import AuthTokens
from ksef_integration.ksef.certificates import AUTHENTICATION, OFFLINE, CertificateFilters, KsefCertificate
from ksef_integration.ksef.errors import KsefError
from ksef_integration.models import AuditEvent, AuthMethod, CertificateEnrollment, KsefConnection
from ksef_integration.offline.certificate import offline_certificate_for, offline_certificate_upload

logger = logging.getLogger(__name__)
CHALLENGE_LIFETIME = dt.timedelta(minutes=10)  # ksef-api.md §4.1: a challenge lives 10 minutes
CHECK_EVERY = dt.timedelta(hours=23)  # how often KSeF is asked how long a connection's certificate is valid
Status = CertificateEnrollment.Status
Kind = CertificateEnrollment.Kind


def enrollment_current(*, company: Company) -> CertificateEnrollment | None:
    """The company's latest enrollment (open or finished), for the wizard's page."""
    return CertificateEnrollment.objects.filter(company=company).first()


def enrollment_get(*, company: Company, enrollment_uuid: str) -> CertificateEnrollment | None:
    return CertificateEnrollment.objects.filter(company=company, uuid=enrollment_uuid).first()


def _audit(company: Company, message: str, *, actor: User | None, **data: object) -> None:
    AuditEvent.objects.create(
        company=company, kind=AuditEvent.Kind.SETTINGS_CHANGED, actor=actor, message=message[:500], data=data
    )


# --- the switch: prepare and submit (web) -------------------------------------------------------------


def switch_allowed(connection: KsefConnection | None) -> bool:
    """Whether the owner may obtain certificates by signing a request: a company connected by a KSeF token,
    or by a certificate that ends within the renewal window (or has ended) when renewing it failed."""
    if connection is None or not connection.is_connected:
        return False
    if connection.method == AuthMethod.TOKEN:
        return True
    until = connection.certificate_valid_to
    return until is not None and until <= timezone.now() + renewal_window()


def switch_prepare(*, company: Company, user: User) -> CertificateEnrollment:
    """A login request to sign, for a fresh challenge (a new one each time: the old file stops counting).
    Refused when ``switch_allowed`` says no, and while an enrollment is being carried out."""
    if not switch_allowed(KsefConnection.objects.filter(company=company).first()):
        raise ConnectError(
            "not_on_token", _("The company is not connected by a KSeF token, so there is nothing to switch.")
        )
    open_row = CertificateEnrollment.objects.filter(
        company=company, status__in=CertificateEnrollment.OPEN
    ).first()
    if open_row is not None and open_row.status != Status.AWAITING_SIGNATURE:
        return open_row  # already being carried out: the page shows its progress
    challenge, made_at = gateway.challenge()
    request_xml = signed_request.request_build(challenge=challenge, nip=company.nip).decode()
    row = open_row or CertificateEnrollment(
        company=company, kind=Kind.SWITCH, status=Status.AWAITING_SIGNATURE
    )
    row.started_by = user
    row.challenge = challenge
    row.challenge_valid_until = made_at + CHALLENGE_LIFETIME
    row.request_xml = request_xml
    row.error_code = row.error_message = ""
    row.save()
    return row


def challenge_expired(enrollment: CertificateEnrollment, *, now: dt.datetime | None = None) -> bool:
    until = enrollment.challenge_valid_until
    return until is None or (now or timezone.now()) >= until


@sensitive_variables()
def switch_submit(*, enrollment: CertificateEnrollment, user: User, data: bytes) -> CertificateEnrollment:
    """Take the signed request back: checked (``signed_request``), kept encrypted, the rest queued."""
    if enrollment.status != Status.AWAITING_SIGNATURE:
        raise ConnectError("not_waiting", _("This request was already used. Prepare a new one."))
    if challenge_expired(enrollment):
        raise ConnectError(
            "challenge_expired",
            _(
                "The request has expired: KSeF accepts a signed request for 10 minutes after it is prepared. "
                "Prepare a new request, sign it and upload it within 10 minutes."
            ),
        )
    signer = signed_request.signed_request_check(
        data=data, challenge=enrollment.challenge, nip=enrollment.company.nip
    )
    with transaction.atomic():
        row = CertificateEnrollment.objects.select_for_update().get(pk=enrollment.pk)
        if row.status != Status.AWAITING_SIGNATURE:
            raise ConnectError("not_waiting", _("This request was already used. Prepare a new one."))
        row.signed_request_ciphertext = secret_encrypt(data)
        row.signer = signer.name[:200]
        row.started_by = user
        row.status = Status.QUEUED
        row.save()
        queue.certificate_enrollment(enrollment_id=row.pk)
    return row


def enrollment_retry(*, enrollment: CertificateEnrollment, user: User) -> CertificateEnrollment:
    """Run a failed enrollment again when KSeF already issued its certificates (nothing new is requested);
    without them a new signed request is needed (``switch_prepare``)."""
    with transaction.atomic():
        row = CertificateEnrollment.objects.select_for_update().get(pk=enrollment.pk)
        if row.status != Status.FAILED or not row.has_certificates:
            raise ConnectError("not_retryable", _("Prepare a new request to try again."))
        row.status = Status.QUEUED
        row.started_by = user
        row.error_code = row.error_message = ""
        row.save()
        queue.certificate_enrollment(enrollment_id=row.pk)
    return row


# --- renewal (beat) ---------------------------------------------------------------------------------


def renewal_window() -> dt.timedelta:
    return dt.timedelta(days=settings.KSEF_CERTIFICATE_RENEW_DAYS)


def renewals_due(*, now: dt.datetime | None = None) -> list[KsefConnection]:
    """Certificate connections that expire within the window, with no enrollment open and none that failed
    in the last day (a failed renewal is tried again daily, the owners told once)."""
    now = now or timezone.now()
    busy = CertificateEnrollment.objects.filter(status__in=CertificateEnrollment.OPEN).values("company_id")
    failed_recently = CertificateEnrollment.objects.filter(
        kind=Kind.RENEWAL, status=Status.FAILED, finished_at__gte=now - dt.timedelta(hours=23)
    ).values("company_id")
    return list(
        KsefConnection.objects.usable()
        .filter(method=AuthMethod.CERTIFICATE, certificate_valid_to__lte=now + renewal_window())
        .filter(certificate_valid_to__gt=now)
        .exclude(company_id__in=busy)
        .exclude(company_id__in=failed_recently)
        .select_related("company")
    )


def renewal_start(*, connection: KsefConnection) -> CertificateEnrollment | None:
    """Queue the renewal of the connection's certificate unless an enrollment is already open."""
    with transaction.atomic():
        if CertificateEnrollment.objects.filter(
            company_id=connection.company_id, status__in=CertificateEnrollment.OPEN
        ).exists():
            return None
        row = CertificateEnrollment.objects.create(
            company_id=connection.company_id,
            kind=Kind.RENEWAL,
            status=Status.QUEUED,
            replaced_serial=connection.certificate_serial,
        )
        queue.certificate_enrollment(enrollment_id=row.pk)
    return row


def renewals_start(*, now: dt.datetime | None = None) -> int:
    """The hourly beat: ask KSeF about certificates not checked for a day (``queue.certificate_check``) and
    queue a renewal for each connection ``renewals_due``; returns how many renewals were queued."""
    now = now or timezone.now()
    unchecked = (
        KsefConnection.objects.usable()
        .filter(method=AuthMethod.CERTIFICATE)
        .exclude(certificate_checked_at__gt=now - CHECK_EVERY)
        .values_list("company_id", flat=True)
    )
    for company_id in unchecked:
        queue.certificate_check(company_id=company_id)
    started = 0
    for connection in renewals_due(now=now):
        if renewal_start(connection=connection) is not None:
            started += 1
    return started


def certificate_check(*, company_id: int) -> str:
    """KSeF's own word on the certificate the company connects with: its ``validTo`` (KSeF may end a
    certificate early, and TEST can shorten it) and whether it is still active. An earlier end than the file
    says is kept on the connection, so the renewal starts in time; a certificate KSeF no longer accepts is
    renewed at once. Skipped (tried next hour) while the company's KSeF conversation is busy."""
    connection = KsefConnection.objects.select_related("company").filter(company_id=company_id).first()
    if connection is None or connection.method != AuthMethod.CERTIFICATE or connection.status != "active":
        return "not applicable"
    with company_lock(company_id) as lock:
        if lock is None:
            return "busy"
        try:
            client = ksef_client_for(company=connection.company)
            found = list(
                client.certificates.query(
                    filters=CertificateFilters(serial_number=connection.certificate_serial)
                )
            )
        except (NotConnected, KsefError, ValueError) as exc:
            logger.info("ksef certificate check failed: company=%s (%s)", company_id, type(exc).__name__)
            return "failed"
    now = timezone.now()
    valid_to = connection.certificate_valid_to
    if found:
        info = found[0]
        ends = info.valid_to if info.is_active else min(info.valid_to, now)
        valid_to = min(valid_to, ends) if valid_to else ends
    KsefConnection.objects.filter(pk=connection.pk).update(
        certificate_valid_to=valid_to, certificate_checked_at=now
    )
    return "checked"


# --- the work (worker) ------------------------------------------------------------------------------


def _claim(enrollment_id: int) -> CertificateEnrollment | None:
    with transaction.atomic():
        row = (
            CertificateEnrollment.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("company", "started_by")
            .filter(pk=enrollment_id, status=Status.QUEUED)
            .first()
        )
        if row is None:
            return None
        row.status = Status.WORKING
        row.step = "login"
        row.save(update_fields=["status", "step", "updated_at"])
        return row


def _step(row: CertificateEnrollment, step: str) -> None:
    row.step = step
    row.save(update_fields=["step", "updated_at"])


@sensitive_variables()
def _login(row: CertificateEnrollment) -> AuthTokens:
    """The KSeF session the certificates are requested in: the owner's signed request (switch) or the
    current certificate (renewal). Certificates cannot be requested after a token login."""
    if row.kind == Kind.SWITCH:
        if not row.signed_request_ciphertext:
            raise ConnectError(
                "signed_request_used", _("The signed request was already used. Prepare a new one.")
            )
        signed = secret_decrypt(row.signed_request_ciphertext)
        # The request logs in once: it is deleted whether or not KSeF accepts it.
        row.signed_request_ciphertext = ""
        row.save(update_fields=["signed_request_ciphertext", "updated_at"])
        return gateway.signature_login(signed_xml=signed)
    connection = KsefConnection.objects.get(company=row.company)
    if connection.method != AuthMethod.CERTIFICATE:
        raise ConnectError("not_on_certificate", _("The company is no longer connected by a certificate."))
    credential = credentials.certificate_from_storage(
        certificate_pem=connection.certificate_pem,
        private_key_pkcs8=secret_decrypt(connection.private_key_ciphertext),
    )
    return gateway.certificate_tokens(credential=credential, nip=row.company.nip)


def _name(company: Company, certificate_type: str) -> str:
    """The certificate's name in KSeF (5-100 letters, digits, spaces, _ and -), so people can tell it."""
    label = "uwierzytelnianie" if certificate_type == AUTHENTICATION else "offline"
    return f"KSeF Portal {company.nip} {label} {timezone.localdate():%Y-%m-%d}"


@sensitive_variables()
def _keep(row: CertificateEnrollment, issued: KsefCertificate) -> None:
    """Write an issued certificate and its key (encrypted) at once: a crash later never loses it."""
    prefix = "authentication" if issued.certificate_type == AUTHENTICATION else "offline"
    setattr(row, f"{prefix}_serial", issued.serial_number)
    setattr(row, f"{prefix}_certificate_pem", issued.certificate_pem())
    setattr(row, f"{prefix}_key_ciphertext", secret_encrypt(issued.private_key_pkcs8()))
    if prefix == "authentication":
        row.valid_to = issued.valid_to
    row.save()


def _offline_wanted(row: CertificateEnrollment) -> bool:
    """The switch always gets an Offline certificate; a renewal when the company's is missing or expires
    within the window too."""
    if row.kind == Kind.SWITCH:
        return True
    current = offline_certificate_for(company=row.company)
    return current is None or current.valid_to <= timezone.now() + renewal_window()


@sensitive_variables()
def _obtain(row: CertificateEnrollment) -> None:
    tokens = _login(row)
    try:
        if not row.authentication_certificate_pem:
            _step(row, "authentication")
            _keep(
                row,
                gateway.certificate_obtain(
                    tokens=tokens, certificate_type=AUTHENTICATION, name=_name(row.company, AUTHENTICATION)
                ),
            )
        if not row.offline_certificate_pem and _offline_wanted(row):
            _step(row, "offline")
            _keep(
                row,
                gateway.certificate_obtain(
                    tokens=tokens, certificate_type=OFFLINE, name=_name(row.company, OFFLINE)
                ),
            )
    finally:
        with contextlib.suppress(ConnectError):
            gateway.session_end(tokens=tokens)


@sensitive_variables()
def _switch(row: CertificateEnrollment) -> None:
    _step(row, "switch")
    credential = credentials.certificate_from_storage(
        certificate_pem=row.authentication_certificate_pem,
        private_key_pkcs8=secret_decrypt(row.authentication_key_ciphertext),
    )
    connection_connect_enrolled(company=row.company, user=row.started_by, credential=credential)
    if row.offline_certificate_pem:
        offline_certificate_upload(
            company=row.company,
            user=row.started_by,
            certificate_bytes=row.offline_certificate_pem.encode(),
            private_key_bytes=secret_decrypt(row.offline_key_ciphertext),
            password="",
        )


def _finish(row: CertificateEnrollment) -> None:
    row.status = Status.DONE
    row.step = ""
    row.finished_at = timezone.now()
    for field in CertificateEnrollment.SECRET_FIELDS:
        setattr(row, field, "")  # the keys live in the connection and the Offline certificate now
    row.save()
    valid_to = timezone.localtime(row.valid_to).strftime("%d.%m.%Y") if row.valid_to else "—"
    if row.kind == Kind.SWITCH:
        message = _("Switched from the KSeF token to KSeF certificate %(serial)s, valid to %(date)s.")
    else:
        message = _("KSeF certificate renewed: %(serial)s, valid to %(date)s, replaces %(old)s.")
    _audit(
        row.company,
        message % {"serial": row.authentication_serial, "date": valid_to, "old": row.replaced_serial},
        actor=row.started_by,
        serial=row.authentication_serial,
        offline_serial=row.offline_serial,
    )


def _fail(row: CertificateEnrollment, error: ConnectError) -> None:
    row.status = Status.FAILED
    row.finished_at = timezone.now()
    row.error_code = error.code[:64]
    row.error_message = error.message[:500]
    row.signed_request_ciphertext = ""
    row.save()
    logger.info("ksef enrollment failed: company=%s kind=%s code=%s", row.company.uuid, row.kind, error.code)
    if row.kind == Kind.RENEWAL and row.notified_at is None and not _failed_renewal_told(row):
        row.notified_at = timezone.now()
        row.save(update_fields=["notified_at", "updated_at"])
        _tell_renewal_failed(row)


def _failed_renewal_told(row: CertificateEnrollment) -> bool:
    """The owners hear about failed renewals of one certificate once (the daily retries stay quiet)."""
    return (
        CertificateEnrollment.objects.filter(
            company=row.company,
            kind=Kind.RENEWAL,
            replaced_serial=row.replaced_serial,
            notified_at__isnull=False,
        )
        .exclude(pk=row.pk)
        .exists()
    )


def _tell_renewal_failed(row: CertificateEnrollment) -> None:
    connection = KsefConnection.objects.filter(company=row.company).first()
    until = connection.certificate_valid_to if connection else None
    until_text = timezone.localtime(until).strftime("%d.%m.%Y") if until else "—"
    notify.company_notify(
        company_id=row.company_id,
        subject=_("KSeF certificate not renewed — %(company)s") % {"company": row.company.name},
        body=_(
            "KSeF Portal could not renew the KSeF certificate of %(company)s (NIP %(nip)s): %(reason)s\n\n"
            "The current certificate keeps working until %(until)s. We will try again every day. To renew it "
            "by hand, open Dane i ustawienia → KSeF in KSeF Portal and upload a new certificate, or connect "
            "again with a signed request: %(url)s\n"
        )
        % {
            "company": row.company.name,
            "nip": row.company.nip,
            "reason": row.error_message,
            "until": until_text,
            "url": settings.SITE_URL.rstrip("/") + "/ustawienia/ksef/",
        },
    )


def _replaced_revoke(row: CertificateEnrollment) -> None:
    """After a renewal, the replaced Authentication certificate is revoked ("Superseded"): it is never used
    again, and it stops counting against the subject's limit of active certificates. Best effort: the
    renewal has succeeded whatever KSeF answers. (Offline certificates are never revoked: the QR codes II
    already printed on invoices are checked against them.)"""
    if row.kind != Kind.RENEWAL or not row.replaced_serial:
        return
    try:
        with company_lock(row.company_id, wait=30) as lock:
            if lock is None:
                return
            client = ksef_client_for(company=row.company)
            client.certificates.revoke(serial_number=row.replaced_serial, reason="Superseded")
    except (NotConnected, KsefError, ValueError) as exc:
        logger.info(
            "ksef replaced certificate not revoked: company=%s (%s)", row.company_id, type(exc).__name__
        )


def enrollment_run(enrollment_id: int) -> str:
    """The worker's part: obtain (unless already obtained), prove, switch. Returns the outcome."""
    row = _claim(enrollment_id)
    if row is None:
        return "not queued"
    try:
        if not row.has_certificates:
            _obtain(row)
        _switch(row)
    except ConnectError as exc:
        _fail(row, exc)
        return "failed"
    except Exception:
        _fail(
            row, ConnectError("internal", _("Something went wrong on our side. Try again in a few minutes."))
        )
        raise
    _finish(row)
    _replaced_revoke(row)
    return "done"
