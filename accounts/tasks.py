"""Thin Celery tasks for accounts: IDs in, one service call."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task

from accounts import services


@shared_task(
    name="accounts.send_invitation",
    autoretry_for=(SMTPException, ConnectionError, TimeoutError),
    retry_backoff=30,
    retry_backoff_max=30 * 60,
    retry_jitter=True,
    max_retries=8,
)
def send_invitation(invitation_id: int) -> None:
    services.invitation_send(invitation_id=invitation_id)
