"""``{% offline_settings_card %}`` (Dane i ustawienia → KSeF) and ``{% offline_tab %}`` (the landing page's
"Praca w trybie offline" tab): the company's offline readiness, without touching the pages' views."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from invoices.models import KsefStatus
from ksef_integration.connect.selectors import company_one
from ksef_integration.models import KsefAvailability, OfflineCertificate, OfflineInvoice
from ksef_integration.offline.availability import outage_active
from ksef_integration.offline.reminders import invoice_deadline, remaining_text

register = template.Library()


def _membership(context: template.Context) -> Any:
    membership = context.get("membership")
    if membership is None:
        request = context.get("request")
        if request is not None:
            from accounts.current import current_membership

            membership = current_membership(request)
    return membership


def _readiness(membership: Any) -> dict[str, Any]:
    company = membership.company
    certificate: OfflineCertificate | None = company_one(company, "ksef_offline_certificate")
    availability: KsefAvailability | None = company_one(company, "ksef_availability")
    waiting = list(
        OfflineInvoice.objects.filter(company=company)
        .exclude(invoice__ksef_status=KsefStatus.ACCEPTED)
        .select_related("invoice")
        .order_by("id")[:50]
    )
    deadlines = [d for d in (invoice_deadline(invoice=row.invoice) for row in waiting) if d and d.day]
    nearest = min(deadlines, key=lambda d: d.day) if deadlines else None  # type: ignore[arg-type, return-value]
    return {
        "membership": membership,
        "is_owner": membership.is_owner,
        "certificate": certificate,
        "certificate_valid": certificate is not None and certificate.is_valid_now,
        "unavailable_since": availability.unavailable_since if availability else None,
        "outage": outage_active(),
        "waiting_count": len(waiting),
        "nearest": nearest,
        "nearest_left": remaining_text(nearest.remaining) if nearest and nearest.remaining else "",
        "now": timezone.now(),
    }


@register.inclusion_tag("ksef_integration/_offline_settings.html", takes_context=True)
def offline_settings_card(context: template.Context) -> dict[str, Any]:
    membership = _membership(context)
    if membership is None:
        return {"membership": None}
    return _readiness(membership)


@register.inclusion_tag("ksef_integration/_offline_tab.html", takes_context=True)
def offline_tab(context: template.Context) -> dict[str, Any]:
    membership = _membership(context)
    if membership is None:
        return {"membership": None}
    return _readiness(membership)
