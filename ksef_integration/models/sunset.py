"""The token sunset campaign's record (ksef-api.md §21): which reminder went to which company, so that each
goes out at most once per company, sunset date and threshold however often the daily beat runs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Company


class SunsetReminder(models.Model):
    """One reminder about the token sunset, sent (queued for the notifier) to a company's people.

    ``days_before`` is the threshold the daily beat sent it for (30, 14, 7, 1, or 0 for the one notice after
    the sunset); a reminder staff sent by hand from the admin has none and is never unique. The sunset date is
    part of the key: should the date move, the campaign runs again for the new one.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="ksef_sunset_reminders")
    sunset = models.DateField(_("token sunset"))
    days_before = models.PositiveSmallIntegerField(_("days before the sunset"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("token sunset reminder")
        verbose_name_plural = _("token sunset reminders")
        constraints = [
            models.UniqueConstraint(
                fields=["company", "sunset", "days_before"],
                condition=models.Q(days_before__isnull=False),
                name="ksef_sunset_reminder_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.company_id} {self.sunset} {self.days_before}"
