"""The steps of one "Integruj z KSeF" while KSeF is asked (issue 22): the POST that connects reports each
step here (token checked → logged in → permissions read), and the page polls them (htmx) until the POST's
answer replaces it. Kept in the cache for a few minutes under the company and a random id the page made
for this attempt; nothing secret is kept, only the names of the steps done."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.core.cache import cache

from ksef_integration.connect.services import STEPS

KEEP_SECONDS = 5 * 60


def attempt_id(raw: str | None) -> str | None:
    """The attempt's id as the page sent it, or None when it is not one of ours (a UUID)."""
    try:
        return str(uuid.UUID(str(raw)))
    except ValueError:
        return None


def _key(company_id: int, attempt: str) -> str:
    return f"ksef:connect-progress:{company_id}:{attempt}"


def reporter(*, company_id: int, attempt: str | None) -> Callable[[str], None]:
    """What the connecting service calls after each step (nothing is kept without an attempt id)."""

    def report(step: str) -> None:
        if attempt is None or step not in STEPS:
            return
        done = list(cache.get(_key(company_id, attempt)) or [])
        if step not in done:
            done.append(step)
        cache.set(_key(company_id, attempt), done, KEEP_SECONDS)

    return report


def steps_done(*, company_id: int, attempt: str | None) -> list[str]:
    """The steps of this company's attempt done so far (another company's attempt is never found)."""
    if attempt is None:
        return []
    return list(cache.get(_key(company_id, attempt)) or [])
