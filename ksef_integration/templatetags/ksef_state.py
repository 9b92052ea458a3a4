"""``{% ksef_connection_state as state %}``: the company's KSeF state as Start and the settings page show it
(one source: ``selectors.connection_state``)."""

from __future__ import annotations

from django import template

from accounts.models import Company
from ksef_integration.connect.selectors import ConnectionState, connection_state

register = template.Library()


@register.simple_tag
def ksef_connection_state(company: Company) -> ConnectionState:
    return connection_state(company=company)


@register.simple_tag
def ksef_unsent_count(company: Company) -> int:
    """How many issued sales invoices are on no way to KSeF (see ``sending.drain.unsent_invoices``)."""
    from ksef_integration.sending.drain import unsent_invoices

    return int(unsent_invoices(company_id=company.pk).count())
