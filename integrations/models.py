"""API keys and webhooks of a company (issue 22).

An API key is shown once: only its prefix (to recognise it) and the SHA-256 of the whole key are stored. A
webhook endpoint's signing secret is stored Fernet-encrypted (``ksef_integration.encryption``) and shown
once. An event is one thing that happened to one invoice; a delivery is that event on its way to one
endpoint, with every attempt logged (the response code, the time it took).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Company


class ApiScope(models.TextChoices):
    READ = "read", _("read")
    WRITE = "write", _("read and write")


class ApiKey(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(_("name"), max_length=100)
    scope = models.CharField(_("scope"), max_length=8, choices=ApiScope.choices, default=ApiScope.READ)
    # The visible start of the key ("kp_1a2b3c4d"), unique, used to find the row; the rest is secret.
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    key_sha256 = models.CharField(max_length=64, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(scope__in=ApiScope.values), name="api_key_scope"),
            models.CheckConstraint(condition=Q(key_sha256__regex=r"^[0-9a-f]{64}$"), name="api_key_hash"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def can_write(self) -> bool:
        return self.scope == ApiScope.WRITE


class EventType(models.TextChoices):
    INVOICE_ACCEPTED = "invoice.accepted", _("invoice accepted by KSeF")
    INVOICE_REJECTED = "invoice.rejected", _("invoice rejected (by KSeF or our checks)")
    INVOICE_OFFLINE_DEADLINE = "invoice.offline_deadline", _("offline invoice near its deadline")
    PURCHASE_INVOICE_RECEIVED = "purchase_invoice.received", _("purchase invoice received from KSeF")


class WebhookEndpoint(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(_("URL"), max_length=500)
    events = models.JSONField(_("events"), default=list)  # EventType values
    secret_ciphertext = models.TextField(editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True)
    disabled_reason = models.CharField(_("why disabled"), max_length=300, blank=True)
    # The current streak of failed attempts (reset by any success): what disabling is decided on.
    consecutive_failures = models.PositiveIntegerField(_("failures in a row"), default=0)
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return event_type in self.events


class WebhookEvent(models.Model):
    """``uuid`` is the event's id (the ``webhook-id`` header): the same on every attempt and resend, so a
    receiver drops what it has seen."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="webhook_events")
    type = models.CharField(_("type"), max_length=40, choices=EventType.choices)
    payload = models.JSONField(_("payload"))
    # What makes two signals the same event ("invoice.accepted:<invoice uuid>"); empty when every signal is
    # an event of its own (a rejection: an invoice corrected and refused again is refused again).
    dedup_key = models.CharField(max_length=120, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(type__in=EventType.values), name="webhook_event_type"),
            models.UniqueConstraint(
                fields=["company", "dedup_key"], condition=~Q(dedup_key=""), name="webhook_event_dedup"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.uuid}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("waiting to be delivered")
    DELIVERED = "delivered", _("delivered")
    FAILED = "failed", _("not delivered")


class WebhookDelivery(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(
        _("status"), max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # Retries go on until ``window_started_at`` + WEBHOOK_RETRY_HOURS; "wyślij ponownie" starts a new window.
    window_started_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True, default=timezone.now)
    # A worker's claim: the row is its own until then (a dead worker's claim runs out).
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_status_code = models.PositiveSmallIntegerField(_("last response code"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_once"),
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values), name="webhook_delivery_status"
            ),
            models.CheckConstraint(
                condition=~Q(status="pending") | Q(next_attempt_at__isnull=False),
                name="webhook_delivery_pending_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id}: {self.status}"


class WebhookAttempt(models.Model):
    """One POST to an endpoint: the log the Integracje page shows."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField(_("attempted at"), default=timezone.now)
    status_code = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["-attempted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.status_code or self.error}"
