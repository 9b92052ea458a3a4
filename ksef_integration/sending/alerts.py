"""Tell owners about sales invoices stuck on their way to KSeF: queued longer than ``KSEF_SEND_STUCK_MINUTES``
(default 60) and still neither accepted nor rejected. One e-mail per company per run; each invoice is
mentioned at most once per queuing (a resend that gets stuck again is reported again).

The beat row ``ksef.send_alerts`` (every 5 minutes) is declared in ``ksef_integration.schedule``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Company
from ksef_integration import notify
from ksef_integration.models import (
    ConnectionStatus,
    KsefConnection,
    Submission,
    SubmissionEvent,
    SubmissionStatus,
)

logger = logging.getLogger(__name__)

S = SubmissionStatus
OPEN_STATUSES = (S.PENDING, S.INFLIGHT, S.SENT)
MAX_PER_RUN = 500


def stuck_threshold() -> dt.timedelta:
    return dt.timedelta(minutes=float(getattr(settings, "KSEF_SEND_STUCK_MINUTES", 60)))


@dataclass(frozen=True)
class StuckInvoice:
    submission_id: int
    invoice_uuid: str
    number: str
    queued_at: dt.datetime
    situation: str


def _queued_at() -> Any:
    """When the submission was last queued (a resend queues it again), else when it was made."""
    last_queued = (
        SubmissionEvent.objects.filter(submission=OuterRef("pk"), kind=SubmissionEvent.Kind.QUEUED)
        .order_by("-created_at", "-id")
        .values("created_at")[:1]
    )
    return Coalesce(Subquery(last_queued), F("created_at"))


def _not_told_since_queued() -> Q:
    return Q(stuck_notified_at__isnull=True) | Q(stuck_notified_at__lt=F("queued_at"))


def submissions_stuck(*, now: dt.datetime | None = None) -> Any:
    """Open submissions queued before the threshold whose owners have not been told since that queuing.

    Invoices issued offline are left out: they wait for KSeF on purpose, and their owners are warned
    against their legal deadline instead (``offline.reminders.deadlines_notify``)."""
    now = now or timezone.now()
    return (
        Submission.objects.filter(status__in=OPEN_STATUSES, invoice__ksef_offline_mode="")
        .annotate(queued_at=_queued_at())
        .filter(queued_at__lte=now - stuck_threshold())
        .filter(_not_told_since_queued())
    )


def _claim(submission_id: int, queued_at: dt.datetime, now: dt.datetime) -> bool:
    """Mark the row as reported; only the run whose conditional UPDATE wins sends about it."""
    return (
        Submission.objects.filter(pk=submission_id, status__in=OPEN_STATUSES)
        .filter(Q(stuck_notified_at__isnull=True) | Q(stuck_notified_at__lt=queued_at))
        .update(stuck_notified_at=now)
        == 1
    )


def _situation(submission: Submission, paused: bool) -> str:
    """Where the invoice stands and what last went wrong, in plain words."""
    if paused:
        text = _("Sending is paused: the connection with KSeF needs attention (Data and settings → KSeF).")
    elif submission.status == S.SENT:
        text = _("Sent; KSeF has not confirmed receiving it yet.")
    elif submission.status == S.INFLIGHT:
        text = _("Being sent right now.")
    elif submission.attempts:
        text = _("Waiting for the next attempt to send it.")
    else:
        text = _("Waiting in the queue to be sent.")
    if submission.last_error_message:
        text += " " + _("Last problem: %(error)s") % {"error": submission.last_error_message}
    return text


def _message(company: Company, stuck: list[StuckInvoice]) -> tuple[str, str]:
    count = len(stuck)
    minutes = int(stuck_threshold().total_seconds() // 60)
    subject = _("KSeF: invoices of %(company)s not accepted yet (%(count)s)") % {
        "company": company.name,
        "count": count,
    }
    site = settings.SITE_URL.rstrip("/")
    lines: list[str] = [
        _(
            "These invoices of %(company)s have been on their way to KSeF for more than %(minutes)s minutes "
            "and KSeF has neither accepted nor rejected them yet:"
        )
        % {"company": company.name, "minutes": minutes},
        "",
    ]
    for item in stuck:
        when = timezone.localtime(item.queued_at).strftime("%d.%m.%Y %H:%M")
        url = site + reverse("invoices:detail", kwargs={"invoice_uuid": item.invoice_uuid})
        lines.append("- " + _("%(number)s, queued since %(when)s.") % {"number": item.number, "when": when})
        lines.append("  " + item.situation)
        lines.append("  " + url)
    lines += [
        "",
        _(
            "The portal keeps trying by itself and nothing is sent twice. If this lasts, check the KSeF "
            "connection in Data and settings → KSeF, or whether KSeF reports an outage."
        ),
    ]
    return subject, "\n".join(lines)


def stuck_submissions_notify(*, now: dt.datetime | None = None) -> int:
    """E-mail each company's owners about its newly stuck invoices; returns how many were reported."""
    now = now or timezone.now()
    candidates = list(
        submissions_stuck(now=now)
        # After the token sunset the owners are told why invoices wait (``connect.sunset``'s notice and the
        # pages' banner): an e-mail per waiting invoice would be noise. Once they switch, these go out.
        .exclude(company_id__in=KsefConnection.objects.token_expired().values("company_id"))
        .select_related("invoice")
        .order_by("company_id", "queued_at", "id")[:MAX_PER_RUN]
    )
    if not candidates:
        return 0
    paused_companies = set(
        KsefConnection.objects.filter(company_id__in={row.company_id for row in candidates})
        .exclude(status=ConnectionStatus.ACTIVE)
        .values_list("company_id", flat=True)
    )
    per_company: dict[int, list[StuckInvoice]] = defaultdict(list)
    with translation.override(settings.LANGUAGE_CODE):
        for row in candidates:
            queued_at: dt.datetime = row.queued_at
            if not _claim(row.pk, queued_at, now):
                continue  # another run reported it a moment ago
            per_company[row.company_id].append(
                StuckInvoice(
                    submission_id=row.pk,
                    invoice_uuid=str(row.invoice.uuid),
                    number=row.invoice.number,
                    queued_at=queued_at,
                    situation=_situation(row, row.company_id in paused_companies),
                )
            )
        reported = 0
        for company in Company.objects.filter(pk__in=per_company):
            stuck = per_company[company.pk]
            subject, body = _message(company, stuck)
            notify.company_notify(company_id=company.pk, subject=subject, body=body)
            reported += len(stuck)
            logger.info("ksef stuck invoices reported: company=%s count=%s", company.uuid, len(stuck))
    return reported
