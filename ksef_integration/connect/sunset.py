"""The 2026 KSeF token sunset (ksef-api.md §21): the days tokens have left, where the one button "Przejdź na
certyfikat KSeF" leads, and the reminders a token-connected company's people get before it (and once after).

After the sunset a token connection stays in place, shown as expired rather than failed, and nothing logs in
with it (``KsefConnection.token_expired``, ``KsefConnection.objects.usable``): invoices issued meanwhile wait
in the queue and go out once the company connects with a certificate (``connection_active``).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import Company, User
from ksef_integration import notify
from ksef_integration.models import AuthMethod, KsefConnection, SunsetReminder, token_sunset_passed

logger = logging.getLogger(__name__)

# Where "Przejdź na certyfikat KSeF" leads, on every page and in every e-mail: the wizard that obtains the
# certificates for the owner (ksef_integration.enrollment).
SWITCH_URL_NAME = "ksef_integration:certificate_switch"

# Days before the sunset on which the daily beat reminds; AFTER_SUNSET is the one notice once it has passed.
REMINDER_DAYS = (30, 14, 7, 1)
AFTER_SUNSET = 0


def sunset_date() -> dt.date:
    """The last day on which KSeF tokens log in (``KSEF_TOKEN_SUNSET``)."""
    return settings.KSEF_TOKEN_SUNSET


def days_left(*, today: dt.date | None = None) -> int:
    """Days from today to the sunset: 0 on its last day, negative once it has passed."""
    return (sunset_date() - (today or timezone.localdate())).days


def switch_url() -> str:
    """The path of the way from a token to a KSeF certificate."""
    return reverse(SWITCH_URL_NAME)


def _date_text() -> str:
    return sunset_date().strftime("%d.%m.%Y")


def expired_text() -> str:
    """What a token connection is called after the sunset: expired, with the way out (not a KSeF failure)."""
    return _("KSeF token expired on %(date)s — switch to a certificate") % {"date": _date_text()}


@dataclass(frozen=True)
class SunsetNotice:
    """What Start and Dane i ustawienia → KSeF show a token-connected company."""

    sunset: dt.date
    days: int  # negative once expired
    expired: bool
    switch_url: str


def sunset_notice(connection: KsefConnection | None) -> SunsetNotice | None:
    """The countdown (or the expiry) for a company connected by a KSeF token; None for any other."""
    if connection is None or connection.method != AuthMethod.TOKEN or not connection.is_connected:
        return None
    return SunsetNotice(
        sunset=sunset_date(),
        days=days_left(),
        expired=token_sunset_passed(),
        switch_url=switch_url(),
    )


# --- reminders ---------------------------------------------------------------------------------------------


def reminder_threshold(days: int) -> int | None:
    """The reminder due with ``days`` left: the nearest threshold not yet passed (so a missed day or a token
    connected late still gets the most urgent one, and never an earlier one afterwards), AFTER_SUNSET once the
    sunset is over, None while it is more than the first threshold away."""
    if days < 0:
        return AFTER_SUNSET
    due = [threshold for threshold in REMINDER_DAYS if threshold >= days]
    return min(due) if due else None


def reminder_message(*, company: Company, days: int) -> tuple[str, str]:
    """The reminder's subject and body, in the portal's language (the owners' e-mails are Polish)."""
    url = settings.SITE_URL.rstrip("/") + switch_url()
    values = {"company": company.name, "date": _date_text(), "days": days, "url": url}
    with translation.override(settings.LANGUAGE_CODE):
        if days < 0:
            subject = _("KSeF: the token of %(company)s has expired — invoices are waiting") % values
            body = _(
                "KSeF tokens stopped working after %(date)s, so sending the invoices of %(company)s "
                "to KSeF and importing them from KSeF are paused.\n\n"
                "Nothing is lost: invoices you issue wait in the queue and go to KSeF as soon as "
                "you connect with a KSeF certificate. It takes a few minutes:\n%(url)s"
            )
            return subject, body % values
        subject = ngettext(
            "KSeF: %(days)s day left to switch %(company)s to a KSeF certificate",
            "KSeF: %(days)s days left to switch %(company)s to a KSeF certificate",
            days,
        )
        body = ngettext(
            "%(company)s connects to KSeF with a KSeF token. KSeF tokens work only until %(date)s "
            "(%(days)s day left); from the next day KSeF accepts only KSeF certificates.\n\n"
            "Switch to a KSeF certificate now, it takes a few minutes:\n%(url)s\n\n"
            "Until you switch, invoices issued after %(date)s will wait in the portal "
            "and not reach KSeF.",
            "%(company)s connects to KSeF with a KSeF token. KSeF tokens work only until %(date)s "
            "(%(days)s days left); from the next day KSeF accepts only KSeF certificates.\n\n"
            "Switch to a KSeF certificate now, it takes a few minutes:\n%(url)s\n\n"
            "Until you switch, invoices issued after %(date)s will wait in the portal "
            "and not reach KSeF.",
            days,
        )
    return subject % values, body % values


def _remind(company: Company, *, days: int) -> None:
    subject, body = reminder_message(company=company, days=days)
    notify.company_notify(company_id=company.pk, subject=subject, body=body)


def reminders_send(*, today: dt.date | None = None) -> int:
    """The daily beat's work: remind every company still connected by a token of the threshold due today,
    once per company, sunset and threshold (the record and the queued e-mail commit together, and the unique
    record makes a second run, or two at once, send nothing). Returns how many reminders were queued."""
    days = days_left(today=today)
    threshold = reminder_threshold(days)
    if threshold is None:
        return 0
    sent = 0
    for connection in KsefConnection.objects.on_token().select_related("company").order_by("company_id"):
        with transaction.atomic():
            _reminder, created = SunsetReminder.objects.get_or_create(
                company=connection.company, sunset=sunset_date(), days_before=threshold
            )
            if not created:
                continue
            _remind(connection.company, days=days)
        sent += 1
        logger.info("ksef token sunset reminder: company=%s before=%s", connection.company.uuid, threshold)
    return sent


def reminder_send_now(*, connection: KsefConnection, user: User | None) -> bool:
    """Staff's "Wyślij przypomnienie": queue a reminder for a company connected by a token now, whatever the
    thresholds say, and record it. Returns False (nothing queued) for any other connection."""
    if connection.method != AuthMethod.TOKEN or not connection.is_connected:
        return False
    with transaction.atomic():
        SunsetReminder.objects.create(company=connection.company, sunset=sunset_date(), sent_by=user)
        _remind(connection.company, days=days_left())
    return True


__all__ = [
    "AFTER_SUNSET",
    "REMINDER_DAYS",
    "SWITCH_URL_NAME",
    "SunsetNotice",
    "days_left",
    "expired_text",
    "reminder_message",
    "reminder_send_now",
    "reminder_threshold",
    "reminders_send",
    "sunset_date",
    "sunset_notice",
    "switch_url",
]
