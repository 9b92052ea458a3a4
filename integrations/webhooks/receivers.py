"""Receivers of invoices' signals: each records the webhook events of a company that has endpoints for them
and queues their deliveries on commit (``services.events_record``); nothing is sent here."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from integrations.models import EventType
from integrations.webhooks import services
from invoices.models import Direction, Invoice


def on_invoices_accepted(sender: Any, *, company_id: int, invoice_ids: list[int], **kwargs: Any) -> None:
    if not services.company_listens(company_id=company_id, event_type=EventType.INVOICE_ACCEPTED):
        return
    invoices = Invoice.objects.filter(company_id=company_id, pk__in=invoice_ids).order_by("id")
    with transaction.atomic():
        services.events_record(
            company_id=company_id,
            event_type=EventType.INVOICE_ACCEPTED,
            items=[(f"{EventType.INVOICE_ACCEPTED}:{i.uuid}", services.invoice_data(i)) for i in invoices],
        )


def on_invoice_rejected(sender: Any, *, company_id: int, invoice_id: int, local: bool, **kwargs: Any) -> None:
    if not services.company_listens(company_id=company_id, event_type=EventType.INVOICE_REJECTED):
        return
    invoice = Invoice.objects.filter(company_id=company_id, pk=invoice_id).first()
    if invoice is None:
        return
    data = {**services.invoice_data(invoice), "rejected_by": "portal" if local else "ksef"}
    with transaction.atomic():
        # every rejection is an event of its own: a corrected invoice may be refused again
        services.events_record(
            company_id=company_id, event_type=EventType.INVOICE_REJECTED, items=[("", data)]
        )


def on_invoice_imported(sender: Any, *, invoice: Invoice, **kwargs: Any) -> None:
    """Sent inside the import's transaction: the event is kept or rolled back with the invoice, and its
    delivery queued when the import commits."""
    if invoice.direction != Direction.PURCHASE:
        return
    event_type = EventType.PURCHASE_INVOICE_RECEIVED
    if not services.company_listens(company_id=invoice.company_id, event_type=event_type):
        return
    services.events_record(
        company_id=invoice.company_id,
        event_type=event_type,
        items=[(f"{event_type}:{invoice.uuid}", services.invoice_data(invoice))],
    )


def on_invoice_offline_deadline(
    sender: Any, *, company_id: int, deadlines: list[tuple[int, dt.date, bool]], **kwargs: Any
) -> None:
    event_type = EventType.INVOICE_OFFLINE_DEADLINE
    if not services.company_listens(company_id=company_id, event_type=event_type):
        return
    by_id = {invoice_id: (day, overdue) for invoice_id, day, overdue in deadlines}
    invoices = Invoice.objects.filter(company_id=company_id, pk__in=by_id).order_by("id")
    items = []
    for invoice in invoices:
        day, overdue = by_id[invoice.pk]
        data = {**services.invoice_data(invoice), "deadline": day.isoformat(), "overdue": overdue}
        items.append((f"{event_type}:{invoice.uuid}:{day.isoformat()}", data))
    with transaction.atomic():
        services.events_record(company_id=company_id, event_type=event_type, items=items)
