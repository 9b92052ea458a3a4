"""Thin Celery tasks for payments: IDs in, one service call."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from payments import whitelist
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
