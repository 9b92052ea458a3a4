"""The django-celery-beat row that runs the sending sweeper ``ksef.sweep`` (made or repaired on migrate)."""

from __future__ import annotations

from typing import Any

SWEEP_TASK = "ksef.sweep"
SWEEP_NAME = "ksef.sweep every 30 seconds"


def schedule_register(**_kwargs: Any) -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _created = IntervalSchedule.objects.get_or_create(every=30, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.update_or_create(
        name=SWEEP_NAME,
        defaults={"task": SWEEP_TASK, "interval": every, "enabled": True, "expire_seconds": 25},
    )
