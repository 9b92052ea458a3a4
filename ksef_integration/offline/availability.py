"""Is KSeF answering? (issue 8, ksef-api.md §9): transport failures counted per company, the company marked
unavailable after N in a row (and told by e-mail), a cheap probe for unavailable companies, restoring and
resending what waited, and announced outages (``outage_active``)."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ksef_integration import notify, queue
from ksef_integration.connect import gateway
from ksef_integration.ksef.client import KsefClient
from ksef_integration.ksef.errors import KsefError, KsefTransientError
from ksef_integration.models import (
    AuditEvent,
    KsefAvailability,
    KsefOutage,
    OutageKind,
    Submission,
    SubmissionStatus,
)

logger = logging.getLogger(__name__)

S = SubmissionStatus
PROBE_TIMEOUT = (3.0, 5.0)


def _failures_before_unavailable() -> int:
    return int(getattr(settings, "KSEF_OFFLINE_FAILURES", 3))


def _hint_key(company_id: int) -> str:
    return f"ksef:offline:failing:{company_id}"


# --- is KSeF answering? ----------------------------------------------------------------------------------


def transport_failed(*, company_id: int) -> int:
    """KSeF did not answer a call for this company (connection error, timeout, 5xx). After N failures in a
    row the company's KSeF is "unavailable". Returns how many failures in a row there have been now, which
    is what the next attempt's backoff grows with."""
    now = timezone.now()
    cache.set(_hint_key(company_id), 1, timeout=7 * 24 * 3600)
    with transaction.atomic():
        row, _created = KsefAvailability.objects.select_for_update().get_or_create(company_id=company_id)
        row.consecutive_failures += 1
        row.last_failure_at = now
        became = row.unavailable_since is None and row.consecutive_failures >= _failures_before_unavailable()
        if became:
            row.unavailable_since = now
        row.save(update_fields=["consecutive_failures", "last_failure_at", "unavailable_since"])
        if became:
            AuditEvent.objects.create(
                company_id=company_id,
                kind=AuditEvent.Kind.VERIFY_FAILED,
                message=_("KSeF is not answering: invoices are issued offline and sent when it is back."),
            )
    if became:
        logger.warning("ksef unavailable: company=%s", company_id)
        notify.company_notify(
            company_id=company_id,
            subject=_("KSeF is not answering"),
            body=_(
                "KSeF has not answered our last %(count)s attempts.\n\n"
                "You can keep issuing invoices: they are issued offline with two QR codes and sent to KSeF "
                "automatically as soon as it answers again."
            )
            % {"count": row.consecutive_failures},
        )
    return int(row.consecutive_failures)


def transport_ok(*, company_id: int) -> None:
    """KSeF answered a call for this company: clear the failure count and, if it was unavailable, send what
    waited. Cheap when nothing failed before (a cache hint, no query)."""
    if cache.get(_hint_key(company_id)) is None:
        return
    availability_restored(company_id=company_id)


def availability_restored(*, company_id: int) -> bool:
    """Mark KSeF as answering for the company; returns True when it had been unavailable."""
    cache.delete(_hint_key(company_id))
    now = timezone.now()
    with transaction.atomic():
        was = (
            KsefAvailability.objects.filter(company_id=company_id, unavailable_since__isnull=False)
            .select_for_update()
            .exists()
        )
        KsefAvailability.objects.filter(company_id=company_id).update(
            consecutive_failures=0, unavailable_since=None, last_success_at=now
        )
        if was:
            AuditEvent.objects.create(
                company_id=company_id,
                kind=AuditEvent.Kind.VERIFIED,
                message=_("KSeF answers again: invoices issued offline are being sent."),
            )
            _resend_waiting(company_id)
    if was:
        logger.info("ksef available again: company=%s", company_id)
    return was


def _resend_waiting(company_id: int) -> None:
    """Make every waiting submission of the company due now and queue one ``ksef.send`` (on commit)."""
    waiting = Submission.objects.filter(company_id=company_id, status__in=(S.PENDING, S.SENT))
    waiting.update(next_attempt_at=timezone.now())
    first = waiting.aggregate(first=Min("id"))["first"]
    if first is not None:
        queue.send_company(company_id=company_id, submission_id=first)


def ksef_unavailable(*, company_id: int) -> bool:
    return KsefAvailability.objects.filter(company_id=company_id, unavailable_since__isnull=False).exists()


def availability_probe(*, company_id: int) -> bool:
    """Ask KSeF one cheap public question (its public key certificates) for the company; record the outcome.

    Returns True when KSeF answered."""
    client = KsefClient(environment=gateway.environment(), timeout=PROBE_TIMEOUT)
    try:
        client.keys.fetch()
    except KsefTransientError:
        transport_failed(company_id=company_id)
        return False
    except KsefError:
        pass  # KSeF answered, even if with an error: it is up
    availability_restored(company_id=company_id)
    return True


def unavailable_companies_probe() -> int:
    """Beat: probe KSeF for every company marked unavailable; returns how many are still unavailable."""
    still = 0
    for company_id in KsefAvailability.objects.filter(unavailable_since__isnull=False).values_list(
        "company_id", flat=True
    ):
        if not availability_probe(company_id=company_id):
            still += 1
    return still


# --- announced outages -----------------------------------------------------------------------------------


def outage_active(*, at: dt.datetime | None = None) -> KsefOutage | None:
    """The announced unavailability or failure going on at ``at`` (a failure wins over an unavailability)."""
    moment = at or timezone.now()
    rows = KsefOutage.objects.filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=moment),
        starts_at__lte=moment,
        kind__in=(OutageKind.UNAVAILABILITY, OutageKind.FAILURE),
    )
    return rows.order_by("kind", "-starts_at").first()  # "awaryjny" sorts before "offline"


__all__ = [
    "availability_probe",
    "availability_restored",
    "ksef_unavailable",
    "outage_active",
    "transport_failed",
    "transport_ok",
    "unavailable_companies_probe",
]
