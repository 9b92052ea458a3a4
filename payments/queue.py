"""Where payments queues its background work: by the task's stable name, when the transaction commits
(nothing imports ``payments.tasks``; the task imports the services)."""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.db import transaction

WHITELIST_CHECK = "payments.whitelist_check"


def publish(name: str, args: tuple[Any, ...]) -> None:
    """Hand one message to the broker (tests replace this to see what would be queued)."""
    current_app.send_task(name, args=args)


def whitelist_check_enqueue(*, invoice_id: int) -> None:
    """Queue the automatic white-list check of an imported purchase invoice."""
    transaction.on_commit(lambda: publish(WHITELIST_CHECK, (invoice_id,)))


COLLECTIVE_IDENTIFIERS = "payments.collective_identifiers"


def collective_identifiers_enqueue(*, payment_file_id: int) -> None:
    """Queue asking KSeF for the collective identifiers of a payment file's merged transfers."""
    transaction.on_commit(lambda: publish(COLLECTIVE_IDENTIFIERS, (payment_file_id,)))
