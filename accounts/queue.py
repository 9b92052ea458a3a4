"""Where accounts queues its background work: by the task's stable name, when the transaction commits
(nothing imports ``accounts.tasks``; the task imports the services, as in ``ksef_integration.queue``)."""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.db import transaction

SEND_INVITATION = "accounts.send_invitation"


def publish(name: str, args: tuple[Any, ...]) -> None:
    """Hand one message to the broker (tests replace this to see what would be queued)."""
    current_app.send_task(name, args=args)


def invitation_send(*, invitation_id: int) -> None:
    """Queue the e-mail of an invitation (its link's secret is minted by the worker, never in arguments)."""
    transaction.on_commit(lambda: publish(SEND_INVITATION, (invitation_id,)))
