"""An invoice as the API and the webhooks show it (dicts shaped as ``integrations.api.schemas``)."""

from __future__ import annotations

from typing import Any

from invoices.models import Invoice, KsefStatus


def ksef_out(invoice: Invoice) -> dict[str, Any]:
    return {
        "status": invoice.ksef_status,
        "status_text": str(KsefStatus(invoice.ksef_status).label),
        "ksef_number": invoice.ksef_number,
        "acquisition_date": invoice.ksef_acquisition_date,
        "message": invoice.ksef_status_message,
        "offline_mode": invoice.ksef_offline_mode,
    }


def summary_out(invoice: Any) -> dict[str, Any]:
    """An invoice (a model or a list row of ``invoices.selectors``) as ``InvoiceSummaryOut``."""
    return {
        "id": invoice.uuid,
        "direction": invoice.direction,
        "kind": invoice.kind,
        "number": invoice.number,
        "issue_date": invoice.issue_date,
        "seller": {"name": invoice.seller_name, "nip": invoice.seller_nip},
        "buyer": {"name": invoice.buyer_name, "nip": invoice.buyer_nip},
        "currency": invoice.currency,
        "total_net": invoice.total_net,
        "total_gross": invoice.total_gross,
        "ksef_status": invoice.ksef_status,
        "ksef_number": invoice.ksef_number,
        "is_new": invoice.is_new,
    }


def invoice_out(invoice: Invoice) -> dict[str, Any]:
    return {
        **summary_out(invoice),
        "sale_date": invoice.sale_date,
        "due_date": invoice.due_date,
        "paid_on": invoice.paid_on,
        "total_vat": invoice.total_vat,
        "payment_method": invoice.payment_method,
        "bank_account": invoice.bank_account,
        "split_payment": invoice.split_payment,
        "prices_gross": invoice.prices_gross,
        "margin_scheme": invoice.margin_scheme,
        "discount_percent": invoice.discount_percent,
        "discount_amount": invoice.discount_amount,
        "notes": invoice.notes,
        "lines": [
            {
                "ordinal": line.ordinal,
                "name": line.name,
                "unit": line.unit,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "vat_rate": line.vat_rate,
                "net_value": line.net_value,
                "vat_amount": line.vat_amount,
                "gross_value": line.gross_value,
                "discount_percent": line.discount_percent,
                "gtu": line.gtu,
                "annex15": line.annex15,
                "before_correction": line.before_correction,
            }
            for line in invoice.lines.all()
        ],
        "ksef": ksef_out(invoice),
        "created_at": invoice.created_at,
    }
