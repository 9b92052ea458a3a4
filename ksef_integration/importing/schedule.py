"""The django-celery-beat row that runs ``ksef.import_due`` every minute (created or repaired on migrate)."""

from __future__ import annotations

from typing import Any

IMPORT_DUE_TASK = "ksef.import_due"
IMPORT_DUE_NAME = "ksef.import_due every minute"


def schedule_register(**_kwargs: Any) -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every_minute, _created = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.update_or_create(
        name=IMPORT_DUE_NAME,
        defaults={"task": IMPORT_DUE_TASK, "interval": every_minute, "enabled": True, "expire_seconds": 55},
    )
