"""Pages that follow an invoice's KSeF status without a reload (issue 22): which statuses still move, how
often a page asks about them, and the statuses of a few of the company's invoices in one query.

A page polls (htmx) only while something it shows is on its way: an invoice queued or sent asks every
``FAST_SECONDS``; one issued offline waits for KSeF's return, possibly for hours, and asks seldom. Once
every status shown is final the polling element is rendered without its trigger and the page goes quiet.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from accounts.models import Company
from invoices.models import Invoice, KsefStatus

FAST_SECONDS = 2
SLOW_SECONDS = 15
POLL_SECONDS = {
    KsefStatus.QUEUED: FAST_SECONDS,
    KsefStatus.SENT: FAST_SECONDS,
    KsefStatus.OFFLINE: SLOW_SECONDS,
}
# A list page shows 50 rows: more ids than that in one question are not from our page.
MAX_IDS = 50


def poll_seconds(statuses: Iterable[str]) -> int | None:
    """How often a page showing these statuses asks again (None: nothing moves any more)."""
    intervals = [POLL_SECONDS[s] for s in statuses if s in POLL_SECONDS]  # type: ignore[index]
    return min(intervals) if intervals else None


def parse_ids(raw: str) -> list[uuid.UUID]:
    """The invoice ids of a ``?ids=a,b,c`` question; anything that is not a UUID is dropped."""
    found = []
    for part in raw.split(",")[:MAX_IDS]:
        try:
            found.append(uuid.UUID(part.strip()))
        except ValueError:
            continue
    return found


def statuses_for_company(*, company: Company, ids: list[uuid.UUID]) -> list[tuple[uuid.UUID, str]]:
    """(uuid, KSeF status) of the company's invoices among ``ids``; another company's are not there."""
    if not ids:
        return []
    return list(Invoice.objects.filter(company=company, uuid__in=ids).values_list("uuid", "ksef_status"))
