"""Checks of a purchase invoice's bank account on the VAT white list (Wykaz podatników VAT)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from invoices.models import Invoice


class WhitelistResult(models.TextChoices):
    ON_LIST = "on_list", _("on the VAT white list")
    NOT_ON_LIST = "not_on_list", _("not on the VAT white list")
    SELLER_NOT_ACTIVE = "seller_not_active", _("the seller is not an active VAT payer")
    NO_ACCOUNT = "no_account", _("no bank account on the invoice")
    LIMIT_REACHED = "limit_reached", _("daily limit of checks reached, try tomorrow")
    FAILED = "failed", _("the check failed")


class WhitelistCheck(models.Model):
    """One check of the invoice's account for the seller's NIP on one day; ``request_id`` is MF's proof.
    ``requested_by`` is empty for the automatic check after import. An owner may override a check that
    blocks paying, with a reason."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="whitelist_checks")
    nip = models.CharField(_("NIP"), max_length=10, blank=True)
    account = models.CharField(_("account"), max_length=64, blank=True)
    checked_for = models.DateField(_("date checked"))
    result = models.CharField(_("result"), max_length=20, choices=WhitelistResult.choices)
    seller_status = models.CharField(_("VAT status"), max_length=32, blank=True)  # statusVat, when searched
    request_id = models.CharField(_("request ID"), max_length=64, blank=True)
    request_date_time = models.CharField(
        _("time of the request"), max_length=32, blank=True
    )  # as MF wrote it
    error_code = models.CharField(_("error code"), max_length=16, blank=True)
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    automatic = models.BooleanField(_("automatic"), default=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("checked at"), default=timezone.now)
    override_reason = models.CharField(_("reason for paying anyway"), max_length=500, blank=True)
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    overridden_at = models.DateTimeField(_("overridden at"), null=True, blank=True)

    class Meta:
        verbose_name = _("VAT white list check")
        verbose_name_plural = _("VAT white list checks")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["invoice", "-created_at"], name="wl_check_invoice")]
        constraints = [
            models.CheckConstraint(condition=Q(result__in=WhitelistResult.values), name="wl_check_result"),
            # MF's answers carry their proof; no answer, no proof.
            models.CheckConstraint(
                condition=~Q(result__in=["on_list", "not_on_list"]) | ~Q(request_id=""),
                name="wl_check_answer_has_request_id",
            ),
            models.CheckConstraint(
                condition=Q(overridden_at__isnull=True) | ~Q(override_reason=""),
                name="wl_check_override_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.checked_for} {self.result}"

    @property
    def is_overridden(self) -> bool:
        return self.overridden_at is not None
