"""Thin Celery tasks for payments: IDs in, one service call."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from invoices.collective import CollectiveLater
from payments import paying, whitelist
from payments.whitelist_client import WhitelistUnavailable

MAX_RETRIES = 6


@shared_task(bind=True, name="payments.whitelist_check", acks_late=True, max_retries=MAX_RETRIES)
def whitelist_check(self: Any, invoice_id: int) -> None:
    """The automatic check after import; a network failure is tried again (1, 2, 4 … 32 minutes), and the
    last try records "the check failed"."""
    final = self.request.retries >= MAX_RETRIES
    try:
        whitelist.whitelist_check_automatic(invoice_id=invoice_id, record_unavailable=final)
    except WhitelistUnavailable as exc:
        raise self.retry(exc=exc, countdown=60 * 2**self.request.retries) from exc


COLLECTIVE_MAX_RETRIES = 10


@shared_task(
    bind=True,
    name="payments.collective_identifiers",
    acks_late=True,
    max_retries=COLLECTIVE_MAX_RETRIES,
    soft_time_limit=110,
    time_limit=150,
)
def collective_identifiers(self: Any, payment_file_id: int) -> str:
    """ "One transfer for all": ask KSeF for the file's collective identifiers and write the file. While the
    company is busy or KSeF slow, tried again; after the last try the titles list the KSeF numbers."""
    final = self.request.retries >= COLLECTIVE_MAX_RETRIES
    try:
        return paying.collective_identifiers_run(payment_file_id=payment_file_id, give_up=final)
    except CollectiveLater as exc:
        raise self.retry(exc=exc, countdown=exc.countdown) from exc
