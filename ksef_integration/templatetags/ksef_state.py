"""``{% ksef_connection_state as state %}``: the company's KSeF state as Start and the settings page show it
(one source: ``selectors.connection_state``); ``{% ksef_token_sunset company %}``: the token sunset's notice
with the way to a certificate (one source: ``connect.sunset``)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext as _

from accounts.models import Company
from ksef_integration.connect import sunset
from ksef_integration.connect.selectors import ConnectionState, connection_for_company, connection_state

register = template.Library()


@register.simple_tag
def ksef_connection_state(company: Company) -> ConnectionState:
    return connection_state(company=company)


@register.simple_tag
def ksef_unsent_count(company: Company) -> int:
    """How many issued sales invoices are on no way to KSeF, up to one more than the cap the banner shows as
    "more than" (see ``sending.drain.unsent_count``)."""
    from ksef_integration.sending.drain import unsent_count

    return unsent_count(company_id=company.pk)


@register.simple_tag
def ksef_unsent_cap() -> int:
    from ksef_integration.sending.drain import UNSENT_COUNT_CAP

    return UNSENT_COUNT_CAP


@register.inclusion_tag("ksef_integration/_token_sunset.html", takes_context=True)
def ksef_token_sunset(context: template.Context, company: Company) -> dict[str, Any]:
    """The token sunset for a company connected by a KSeF token (Start, Dane i ustawienia → KSeF): the days
    left and the one button to a certificate, or after the sunset that the token expired and sending and
    importing wait for the certificate. Nothing for any other company."""
    membership = context.get("membership") or context.get("current_membership")
    return {
        "notice": sunset.sunset_notice(connection_for_company(company=company)),
        "is_owner": bool(membership is not None and membership.is_owner),
    }


@register.filter
def ksef_capped(count: int) -> str:
    """A count read up to the cap + 1 (``office.selectors``, ``sending.drain.unsent_count``) as the page says
    it: the number, or "more than 99" past the cap."""
    from ksef_integration.sending.drain import UNSENT_COUNT_CAP

    if count > UNSENT_COUNT_CAP:
        return _("More than %(cap)s") % {"cap": UNSENT_COUNT_CAP}
    return str(count)


@register.inclusion_tag("ksef_integration/_start_ksef.html", takes_context=True)
def ksef_start_panel(context: template.Context) -> dict[str, Any]:
    """Start's KSeF numbers (issue 22): waiting, rejected, offline with the nearest deadline, new purchases,
    the connection and its credential's end, each a link to the list it counts; polled while any invoice
    is waiting for KSeF (``ksef_integration.views.start_panel``)."""
    membership = context.get("membership")
    if membership is None:
        return {"row": None}
    return start_panel_context(membership)


def start_panel_context(membership: Any) -> dict[str, Any]:
    from ksef_integration.office.selectors import company_row

    row = company_row(membership=membership)
    return {"row": row, "poll_seconds": START_POLL_SECONDS if row.waiting else None}


START_POLL_SECONDS = 5
