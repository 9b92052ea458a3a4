"""``manage.py check --deploy`` warns when the simulator is on with DEBUG off."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register


@register(Tags.security, deploy=True)
def simulator_in_production(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.DEBUG or not settings.KSEF_SIMULATOR_ENABLED:
        return []
    return [
        Warning(
            "The KSeF simulator is enabled with DEBUG off.",
            hint=(
                "Its pages let anyone act as any NIP and mint tokens; its control API (staff only) injects "
                "faults. Set KSEF_SIMULATOR_ENABLED=0 in production."
            ),
            id="ksef_simulator.W001",
        )
    ]
