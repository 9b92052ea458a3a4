"""The deadline of each offline invoice and the owners' reminders (issue 8, ksef-api.md §9.1): the legal
deadline of an invoice from its mode, its outage and every announced failure (the arithmetic is in
``deadlines``), the time left as words, and the hourly e-mail about invoices whose deadline is near."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from invoices.models import Invoice, KsefStatus
from invoices.signals import invoice_offline_deadline
from ksef_integration import notify
from ksef_integration.models import KsefOutage, OfflineInvoice, OutageKind
from ksef_integration.offline import deadlines as offline_deadlines


def local_date(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date()


def failure(announced_at: dt.datetime, ends_at: dt.datetime | None) -> offline_deadlines.Failure:
    """An announced KSeF failure (its moments), in local days, as the deadline arithmetic reads it."""
    return offline_deadlines.Failure(
        announced=local_date(announced_at), ends=local_date(ends_at) if ends_at else None
    )


def announced_failures() -> list[offline_deadlines.Failure]:
    """Every announced KSeF failure, in local days, as the deadline arithmetic reads them."""
    return [
        failure(row.announced_at, row.ends_at)
        for row in KsefOutage.objects.filter(kind=OutageKind.FAILURE).only("announced_at", "ends_at")
    ]


@dataclass(frozen=True)
class Deadline:
    day: dt.date | None  # None: set once the outage ends
    ends_at: dt.datetime | None  # the end of that day, local time
    remaining: dt.timedelta | None
    overdue: bool


def invoice_deadline(*, invoice: Invoice, now: dt.datetime | None = None) -> Deadline | None:
    """The legal deadline for sending an offline invoice to KSeF (None for an online invoice)."""
    if not invoice.ksef_offline_mode:
        return None
    offline = OfflineInvoice.objects.filter(invoice_id=invoice.pk).select_related("outage").first()
    ends = None
    if offline is not None and offline.outage is not None and offline.outage.ends_at is not None:
        ends = local_date(offline.outage.ends_at)
    day = offline_deadlines.deadline(
        mode=invoice.ksef_offline_mode,
        issue_date=invoice.issue_date,
        unavailability_ends=ends,
        failures=announced_failures(),
    )
    if day is None:
        return Deadline(day=None, ends_at=None, remaining=None, overdue=False)
    moment = now or timezone.now()
    end = timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time()))
    return Deadline(day=day, ends_at=end, remaining=end - moment, overdue=moment >= end)


def remaining_text(remaining: dt.timedelta) -> str:
    total_hours = max(0, int(remaining.total_seconds() // 3600))
    days, hours = divmod(total_hours, 24)
    if days:
        return _("%(days)s d %(hours)s h left") % {"days": days, "hours": hours}
    minutes = max(0, int(remaining.total_seconds() // 60) % 60)
    return _("%(hours)s h %(minutes)s min left") % {"hours": hours, "minutes": minutes}


def deadlines_notify(*, now: dt.datetime | None = None) -> int:
    """Beat: e-mail the owners about offline invoices not yet in KSeF whose deadline ends within a day (or
    has passed), once per deadline. Returns how many invoices were reported."""
    moment = now or timezone.now()
    waiting = (
        OfflineInvoice.objects.exclude(invoice__ksef_status=KsefStatus.ACCEPTED)
        .select_related("invoice")
        .order_by("company_id", "id")
    )
    by_company: dict[int, list[tuple[OfflineInvoice, Deadline]]] = {}
    for row in waiting:
        deadline = invoice_deadline(invoice=row.invoice, now=moment)
        if deadline is None or deadline.day is None or deadline.remaining is None:
            continue
        if deadline.remaining > dt.timedelta(days=1) or row.deadline_notified_for == deadline.day:
            continue
        by_company.setdefault(row.company_id, []).append((row, deadline))
    reported = 0
    for company_id, rows in by_company.items():
        lines = [
            _("%(number)s — send by %(day)s (%(state)s)")
            % {
                "number": row.invoice.number,
                "day": f"{deadline.day:%d.%m.%Y}",
                "state": _("overdue")
                if deadline.overdue
                else remaining_text(deadline.remaining or dt.timedelta()),
            }
            for row, deadline in rows
        ]
        notify.company_notify(
            company_id=company_id,
            subject=_("Offline invoices must reach KSeF soon"),
            body=_(
                "These invoices were issued offline and KSeF has not accepted them yet:\n\n%(lines)s\n\n"
                "They are sent automatically as soon as KSeF answers. If KSeF stays unreachable, check the "
                "connection in Data and settings → KSeF."
            )
            % {"lines": "\n".join(lines)},
        )
        for row, deadline in rows:
            OfflineInvoice.objects.filter(pk=row.pk).update(deadline_notified_for=deadline.day)
            reported += 1
        invoice_offline_deadline.send(
            sender=OfflineInvoice,
            company_id=company_id,
            deadlines=[(row.invoice_id, deadline.day, deadline.overdue) for row, deadline in rows],
        )
    return reported


__all__ = [
    "Deadline",
    "announced_failures",
    "deadlines_notify",
    "invoice_deadline",
    "local_date",
    "remaining_text",
]
