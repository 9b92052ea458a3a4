"""Invoices e-mailed to their buyers (issue 22): one ``InvoiceDelivery`` per invoice and occasion (KSeF
accepted it, or it was issued offline), with its log of ``DeliveryEvent`` rows (queued, each attempt's SMTP
result, sent, refused, given up, queued again by hand). Nothing here is a secret."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Company
from invoices.models import DeliveryLanguage, Invoice


class InvoiceDelivery(models.Model):
    class Kind(models.TextChoices):
        ACCEPTED = "accepted", _("after KSeF accepted the invoice")
        OFFLINE = "offline", _("issued offline, with KOD I and KOD II")

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENT = "sent", _("sent")
        BOUNCED = "bounced", _("refused by the mail server")
        FAILED = "failed", _("not sent")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="invoice_deliveries")
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="deliveries")
    kind = models.CharField(_("occasion"), max_length=16, choices=Kind.choices)
    to_email = models.EmailField(_("to"))
    language = models.CharField(_("language"), max_length=2, choices=DeliveryLanguage.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    # When the retrying task should have tried again: the sweeper queues a row whose message was lost.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("invoice e-mail to the buyer")
        verbose_name_plural = _("invoice e-mails to buyers")
        ordering = ["-created_at", "-id"]
        constraints = [
            # One e-mail per invoice and occasion, however often the signal fires.
            models.UniqueConstraint(fields=["invoice", "kind"], name="invoice_delivery_one_per_kind"),
            models.CheckConstraint(
                condition=Q(kind__in=["accepted", "offline"]), name="invoice_delivery_kind"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "sent", "bounced", "failed"]),
                name="invoice_delivery_status",
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False), name="invoice_delivery_sent_has_time"
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="invoice_delivery_due")]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.kind} → {self.to_email} ({self.status})"


class DeliveryEvent(models.Model):
    """One line of an invoice e-mail's log, with the mail server's answer where there was one."""

    class Kind(models.TextChoices):
        QUEUED = "queued", _("queued")
        REQUEUED = "requeued", _("queued again")
        SENT = "sent", _("sent")
        RETRY = "retry", _("mail server failed, will try again")
        BOUNCED = "bounced", _("refused by the mail server")
        FAILED = "failed", _("not sent, gave up")

    delivery = models.ForeignKey(InvoiceDelivery, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("event"), max_length=16, choices=Kind.choices)
    message = models.TextField(_("message"), blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("invoice e-mail event")
        verbose_name_plural = _("invoice e-mail events")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.kind}"
