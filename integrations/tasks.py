"""Thin Celery tasks of integrations: IDs in, one service call. Nothing imports this module."""

from __future__ import annotations

from celery import shared_task

from integrations import queue


@shared_task(name="integrations.webhook_deliver", acks_late=True, soft_time_limit=60, time_limit=90)
def webhook_deliver(delivery_id: int) -> str:
    from integrations.webhooks.services import delivery_attempt

    queue.started(delivery_id)
    return delivery_attempt(delivery_id=delivery_id)


@shared_task(name="integrations.webhook_sweep", acks_late=True, expires=25, soft_time_limit=25, time_limit=30)
def webhook_sweep() -> int:
    """Beat: queue every delivery whose next attempt is due (retries wait here, not in the broker)."""
    from integrations.webhooks.services import deliveries_due_enqueue

    return deliveries_due_enqueue()
