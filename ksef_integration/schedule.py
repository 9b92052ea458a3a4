"""The beat schedule of the KSeF integration, declared once: every periodic task, how often, and how long a
message may wait in the broker before it is pointless (a newer one is on its way). django-celery-beat keeps
these rows in the database; ``schedule_register`` makes or repairs them after every migrate, so a deploy
carries its schedule with it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Beat:
    task: str
    name: str
    every: int
    period: str  # django-celery-beat's IntervalSchedule period: "seconds", "minutes", "hours", "days"
    expire_seconds: int


BEATS = (
    Beat("ksef.sweep", "ksef.sweep every 30 seconds", 30, "seconds", 25),
    Beat("ksef.import_due", "ksef.import_due every minute", 1, "minutes", 55),
    Beat("ksef.offline_probe", "ksef.offline_probe every minute", 60, "seconds", 55),
    Beat("ksef.send_alerts", "ksef.send_alerts every 5 minutes", 5, "minutes", 240),
    Beat("ksef.offline_deadlines", "ksef.offline_deadlines every hour", 1, "hours", 600),
    # Daily; a missed or repeated run changes nothing: each reminder is recorded once (connect.sunset).
    Beat("ksef.token_sunset_reminders", "ksef.token_sunset_reminders every day", 1, "days", 6 * 3600),
    # Hourly, so a renewal that failed (tried again a day later) or a new certificate is not left for long.
    Beat("ksef.certificate_renewals", "ksef.certificate_renewals every hour", 1, "hours", 1800),
    # Webhook retries wait in the database; this queues the due ones (integrations.webhooks.services).
    Beat("integrations.webhook_sweep", "integrations.webhook_sweep every 30 seconds", 30, "seconds", 25),
    # Buyer e-mails whose message was lost are queued again (the task itself retries a failing server).
    Beat("ksef.delivery_sweep", "ksef.delivery_sweep every 5 minutes", 5, "minutes", 240),
)


def schedule_register(**_kwargs: Any) -> None:
    """Make (or repair) the django-celery-beat row of every beat; idempotent (a ``post_migrate`` receiver)."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    for beat in BEATS:
        interval, _created = IntervalSchedule.objects.get_or_create(every=beat.every, period=beat.period)
        PeriodicTask.objects.update_or_create(
            name=beat.name,
            defaults={
                "task": beat.task,
                "interval": interval,
                "enabled": True,
                "expire_seconds": beat.expire_seconds,
            },
        )
