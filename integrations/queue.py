"""Where integrations queue background work: by the task's stable name, when the transaction commits
(nothing imports ``integrations.tasks``). A delivery is published at most once while one message for it
waits (a cache marker), however many times the sweeper finds it due."""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.core.cache import cache
from django.db import transaction

WEBHOOK_DELIVER = "integrations.webhook_deliver"
MARKER_SECONDS = 60


def publish(name: str, args: tuple[Any, ...]) -> None:
    """Hand one message to the broker (tests replace this to see what would be queued)."""
    current_app.send_task(name, args=args)


def _marker(delivery_id: int) -> str:
    return f"integrations:queued:{delivery_id}"


def webhook_deliver(*, delivery_ids: list[int]) -> None:
    def send() -> None:
        for delivery_id in delivery_ids:
            if cache.add(_marker(delivery_id), 1, timeout=MARKER_SECONDS):
                publish(WEBHOOK_DELIVER, (delivery_id,))

    transaction.on_commit(send)


def started(delivery_id: int) -> None:
    """The task has the message: a later sweep may queue the delivery again."""
    cache.delete(_marker(delivery_id))
