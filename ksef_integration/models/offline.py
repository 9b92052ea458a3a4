"""Working when KSeF is down (issue 8, ksef-api.md §9): announced outages, whether KSeF answers a company,
the company's Offline certificate (signs KOD II), and the offline side of an invoice.

The invoice's mode itself lives on ``Invoice.ksef_offline_mode`` (the issuer may choose offline24 on Wystaw).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Company
from invoices.models import Invoice


class OutageKind(models.TextChoices):
    UNAVAILABILITY = "offline", _("KSeF unavailability (announced)")
    FAILURE = "awaryjny", _("KSeF failure (announced)")
    TOTAL_FAILURE = "total", _("total KSeF failure (announced in the media)")


class KsefOutage(models.Model):
    """An unavailability or failure of KSeF announced by the Ministry of Finance, recorded by staff in admin.

    It applies to every company: invoices issued during it get its mode and its deadline.
    """

    kind = models.CharField(_("kind"), max_length=16, choices=OutageKind.choices)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True, help_text=_("Empty while it lasts."))
    announced_at = models.DateTimeField(_("announced at"), default=timezone.now)
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("announced KSeF outage")
        verbose_name_plural = _("announced KSeF outages")
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=OutageKind.values), name="ksef_outage_kind"),
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gte=F("starts_at")),
                name="ksef_outage_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        end = f"{self.ends_at:%Y-%m-%d %H:%M}" if self.ends_at else "…"
        return f"{self.get_kind_display()} {self.starts_at:%Y-%m-%d %H:%M} - {end}"

    def is_active(self, at: object = None) -> bool:
        moment = at or timezone.now()
        return self.starts_at <= moment and (self.ends_at is None or moment < self.ends_at)  # type: ignore[operator]


class KsefAvailability(models.Model):
    """Whether KSeF answered the company's last calls: N transport failures in a row mark it unavailable
    ("KSeF niedostępny"); the first answer clears it."""

    company = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="ksef_availability")
    consecutive_failures = models.PositiveIntegerField(default=0)
    unavailable_since = models.DateTimeField(_("KSeF unavailable since"), null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("KSeF availability")
        verbose_name_plural = _("KSeF availability")

    def __str__(self) -> str:
        return f"{self.company_id}: {'unavailable' if self.unavailable_since else 'ok'}"

    @property
    def is_unavailable(self) -> bool:
        return self.unavailable_since is not None


class OfflineCertificate(models.Model):
    """The company's KSeF certificate of type Offline: signs KOD II. The private key is Fernet ciphertext."""

    company = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="ksef_offline_certificate")
    certificate_pem = models.TextField(_("certificate"))
    private_key_ciphertext = models.TextField(editable=False)
    serial = models.CharField(_("certificate serial number"), max_length=64)
    key_type = models.CharField(_("key type"), max_length=8)
    subject_nip = models.CharField(_("NIP in the certificate"), max_length=10, blank=True)
    valid_from = models.DateTimeField(_("valid from"))
    valid_to = models.DateTimeField(_("valid to"))
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    SECRET_FIELDS = ("private_key_ciphertext",)

    class Meta:
        verbose_name = _("offline certificate")
        verbose_name_plural = _("offline certificates")

    def __str__(self) -> str:
        return f"Offline {self.serial}"

    @property
    def is_valid_now(self) -> bool:
        return self.valid_from <= timezone.now() < self.valid_to


class OfflineInvoice(models.Model):
    """The offline side of one invoice: why it was issued offline, the announced outage it belongs to, the
    deadline notice sent, and the hash of a rejected original that a technical correction replaces."""

    class Reason(models.TextChoices):
        CHOSEN = "chosen", _("chosen by the issuer")
        UNREACHABLE = "unreachable", _("KSeF did not answer")
        ANNOUNCED = "announced", _("announced outage")

    invoice = models.OneToOneField(Invoice, on_delete=models.CASCADE, related_name="ksef_offline")
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    outage = models.ForeignKey(KsefOutage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    deadline_notified_for = models.DateField(null=True, blank=True)
    corrected_invoice_hash = models.CharField(max_length=44, blank=True)
    corrections = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("offline invoice")
        verbose_name_plural = _("offline invoices")

    def __str__(self) -> str:
        return f"offline {self.invoice_id}"
