"""The per-key rate limit: a fixed window counted with the cache's atomic ``incr`` (Redis in production, so
every web process counts against the same number).

``API_RATE_LIMIT`` requests per ``API_RATE_WINDOW_SECONDS`` per key (defaults: 1,200 a minute, i.e. 20 a
second on average). Over it: 429 with ``Retry-After`` until the window ends.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


@dataclass(frozen=True)
class Allowance:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int


def rate_take(*, key_id: int, now: float | None = None) -> Allowance:
    limit = settings.API_RATE_LIMIT
    window = settings.API_RATE_WINDOW_SECONDS
    moment = time.time() if now is None else now
    start = int(moment // window) * window
    counter = f"api:rate:{key_id}:{start}"
    cache.add(counter, 0, timeout=window + 5)
    try:
        used = cache.incr(counter)
    except ValueError:  # expired between add and incr: this request opens the window
        cache.add(counter, 1, timeout=window + 5)
        used = 1
    reset = max(1, int(start + window - moment))
    return Allowance(allowed=used <= limit, limit=limit, remaining=max(0, limit - used), reset_seconds=reset)
