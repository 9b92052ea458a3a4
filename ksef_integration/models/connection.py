"""A company's connection to KSeF and the audit trail of what happened to it.

Secrets (the KSeF token, a certificate's private key, cached KSeF session tokens) are stored only as
Fernet ciphertext (``ksef_integration.encryption``); the only part of a token ever displayed is its last four
characters.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import Company


class Environment(models.TextChoices):
    SIMULATOR = "simulator", _("simulator")
    TEST = "test", _("test (TE)")
    DEMO = "demo", _("pre-production (DEMO)")
    PROD = "prod", _("production")


class AuthMethod(models.TextChoices):
    TOKEN = "token", _("KSeF token")
    CERTIFICATE = "certificate", _("KSeF certificate")
    # No credential of its own: an accounting office's certificate logs in in this company's context, as KSeF
    # allows an entity the company granted InvoiceRead/InvoiceWrite (``KsefConnection.via_office``).
    OFFICE = "office", _("through an accounting office")


class ConnectionStatus(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("KSeF connection", "active")
    ATTENTION = "attention", pgettext_lazy("KSeF connection", "needs attention")
    DISCONNECTED = "disconnected", pgettext_lazy("KSeF connection", "disconnected")


MIN_IMPORT_INTERVAL = 15


def token_sunset_passed(*, today: dt.date | None = None) -> bool:
    """Whether KSeF tokens no longer authenticate: they work until ``KSEF_TOKEN_SUNSET`` inclusive
    (ksef-api.md §21), so from the next day on only certificates log in."""
    return (today or timezone.localdate()) > settings.KSEF_TOKEN_SUNSET


class KsefConnectionQuerySet(models.QuerySet["KsefConnection"]):
    def usable(self) -> KsefConnectionQuerySet:
        """Active connections whose credential still logs in to KSeF: what background work may talk with.
        A token connection after the sunset stays active (its invoices keep queueing) but is left out."""
        active = self.filter(status=ConnectionStatus.ACTIVE)
        return active.exclude(method=AuthMethod.TOKEN) if token_sunset_passed() else active

    def on_token(self) -> KsefConnectionQuerySet:
        """Connections (active or needing attention) that log in with a KSeF token: the sunset's audience."""
        return self.filter(
            method=AuthMethod.TOKEN, status__in=(ConnectionStatus.ACTIVE, ConnectionStatus.ATTENTION)
        )

    def token_expired(self) -> KsefConnectionQuerySet:
        """Token connections once the sunset has passed (``KsefConnection.token_expired``)."""
        return self.on_token() if token_sunset_passed() else self.none()


class KsefConnection(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    company = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="ksef_connection")
    status = models.CharField(_("status"), max_length=16, choices=ConnectionStatus.choices)
    environment = models.CharField(_("environment"), max_length=16, choices=Environment.choices)
    method = models.CharField(_("method"), max_length=16, choices=AuthMethod.choices)

    token_ciphertext = models.TextField(blank=True, editable=False)
    token_last4 = models.CharField(_("token (last 4 characters)"), max_length=4, blank=True)
    token_reference = models.CharField(_("token reference number"), max_length=36, blank=True)

    certificate_pem = models.TextField(_("certificate"), blank=True)
    private_key_ciphertext = models.TextField(blank=True, editable=False)
    certificate_serial = models.CharField(_("certificate serial number"), max_length=64, blank=True)
    certificate_valid_from = models.DateTimeField(_("certificate valid from"), null=True, blank=True)
    certificate_valid_to = models.DateTimeField(_("certificate valid to"), null=True, blank=True)
    # When KSeF last said how long the certificate is valid (it may end it early: revoked, shortened).
    certificate_checked_at = models.DateTimeField(null=True, blank=True, editable=False)

    # method OFFICE: the company (a client) is served with this office's credential, in its own NIP context.
    # PROTECT: an office is not deleted from under the clients it serves (disconnect them first).
    via_office = models.ForeignKey(
        Company,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ksef_client_connections",
        verbose_name=_("accounting office"),
    )

    permissions = models.JSONField(_("permissions granted by KSeF"), default=list, blank=True)
    connected_at = models.DateTimeField(_("connected at"), null=True, blank=True)
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_verified_at = models.DateTimeField(_("last verified at"), null=True, blank=True)
    attention_reason = models.CharField(_("why it needs attention"), max_length=300, blank=True)

    auto_send = models.BooleanField(_("send sales invoices automatically"), default=False)
    auto_import = models.BooleanField(_("import invoices automatically"), default=False)
    import_interval_minutes = models.PositiveSmallIntegerField(_("import interval (minutes)"), default=15)
    import_start_date = models.DateField(_("import invoices from"), null=True, blank=True)

    # KSeF's own session (access/refresh JWTs), cached between tasks; encrypted like every other secret.
    access_token_ciphertext = models.TextField(blank=True, editable=False)
    access_valid_until = models.DateTimeField(null=True, blank=True, editable=False)
    refresh_token_ciphertext = models.TextField(blank=True, editable=False)
    refresh_valid_until = models.DateTimeField(null=True, blank=True, editable=False)

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = KsefConnectionQuerySet.as_manager()

    # Every column that holds Fernet ciphertext (rotate_encryption_keys walks these).
    SECRET_FIELDS = (
        "token_ciphertext",
        "private_key_ciphertext",
        "access_token_ciphertext",
        "refresh_token_ciphertext",
    )

    class Meta:
        verbose_name = _("KSeF connection")
        verbose_name_plural = _("KSeF connections")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(import_interval_minutes__gte=MIN_IMPORT_INTERVAL),
                name="ksef_import_interval_min",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=ConnectionStatus.values), name="ksef_connection_status_valid"
            ),
            # An active connection always holds a credential of its method.
            models.CheckConstraint(
                condition=~models.Q(status="active")
                | models.Q(method="token", token_ciphertext__gt="")
                | models.Q(method="certificate", private_key_ciphertext__gt="")
                | models.Q(method="office", via_office__isnull=False),
                name="ksef_active_connection_has_credential",
            ),
        ]

    def __str__(self) -> str:
        return f"KSeF {self.company.nip} ({self.get_status_display()})"

    @property
    def is_connected(self) -> bool:
        return self.status in (ConnectionStatus.ACTIVE, ConnectionStatus.ATTENTION)

    @property
    def token_expired(self) -> bool:
        """Connected by a KSeF token after the token sunset: the token no longer logs in, so nothing talks
        to KSeF for the company until it switches to a certificate (it is not a KSeF failure)."""
        return self.method == AuthMethod.TOKEN and self.is_connected and token_sunset_passed()

    @property
    def can_send(self) -> bool:
        """Invoices may be queued for KSeF. They go out while the credential logs in; after the token sunset
        they wait in the queue for a certificate connection (``token_expired``)."""
        return self.status == ConnectionStatus.ACTIVE and "InvoiceWrite" in self.permissions

    @property
    def can_import(self) -> bool:
        return (
            self.status == ConnectionStatus.ACTIVE
            and "InvoiceRead" in self.permissions
            and not self.token_expired
        )

    @property
    def credential_label(self) -> str:
        if self.method == AuthMethod.TOKEN and self.token_last4:
            return f"token ••••{self.token_last4}"
        if self.method == AuthMethod.CERTIFICATE and self.certificate_serial:
            return f"certyfikat {self.certificate_serial}"
        office = self.via_office if self.method == AuthMethod.OFFICE else None
        if office is not None:
            return f"biuro {office.name} (NIP {office.nip})"
        return "—"


class AuditEvent(models.Model):
    """What happened to a company's KSeF connection, in plain words. Never holds a secret."""

    class Kind(models.TextChoices):
        CONNECTED = "connected", _("connected")
        CONNECT_FAILED = "connect_failed", _("connection attempt failed")
        VERIFIED = "verified", _("verified")
        VERIFY_FAILED = "verify_failed", _("verification failed")
        DISCONNECTED = "disconnected", _("disconnected")
        SETTINGS_CHANGED = "settings_changed", _("settings changed")
        PERMISSIONS_CHANGED = "permissions_changed", _("KSeF permissions changed")

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="ksef_audit_events")
    kind = models.CharField(_("event"), max_length=32, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message = models.CharField(_("message"), max_length=500)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("KSeF audit event")
        verbose_name_plural = _("KSeF audit events")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.get_kind_display()}"


class TokenConnection(KsefConnection):
    """The admin's list "Firmy na tokenie": the same rows, seen as the token sunset's audience."""

    class Meta:
        proxy = True
        verbose_name = _("company on a KSeF token")
        verbose_name_plural = _("companies on a KSeF token")
