"""When an invoice issued offline must reach KSeF (ksef-api.md §9.1): pure date arithmetic, no Django.

- ``offline24`` (the taxpayer's choice): by the next business day after the issue date;
- ``offline`` (announced KSeF unavailability): by the next business day after the unavailability ends;
- ``awaryjny`` (announced KSeF failure): within 7 business days from the end of the failure.

A failure announced while an invoice still waits to be sent moves its deadline to 7 business days after that
failure ends; a later announcement restarts the count again. Business days exclude Saturdays, Sundays and the
Polish public holidays (ustawa o dniach wolnych od pracy; ``invoices.workdays``, from the `holidays` package).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from invoices.workdays import is_working_day

OFFLINE24 = "offline24"
UNAVAILABILITY = "offline"
FAILURE = "awaryjny"
MODES = (OFFLINE24, UNAVAILABILITY, FAILURE)
FAILURE_BUSINESS_DAYS = 7
is_business_day = is_working_day  # the offline modes' term for it


def business_days_after(day: dt.date, count: int) -> dt.date:
    """The ``count``-th business day after ``day`` (``day`` itself never counts)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    current = day
    while count:
        current += dt.timedelta(days=1)
        if is_business_day(current):
            count -= 1
    return current


@dataclass(frozen=True)
class Failure:
    """An announced KSeF failure: the day it was announced and the day it ended (None while it lasts)."""

    announced: dt.date
    ends: dt.date | None


def deadline(
    *,
    mode: str,
    issue_date: dt.date,
    unavailability_ends: dt.date | None = None,
    failures: Iterable[Failure] = (),
) -> dt.date | None:
    """The last day the invoice may reach KSeF, or None while the event that sets it has not ended.

    ``unavailability_ends`` is the last day of the unavailability the invoice was issued in (mode
    ``offline``). ``failures`` are every announced failure; those announced after the issue date and before
    the running deadline passed move it (for ``awaryjny`` the failure it was issued in counts the same way).
    """
    if mode not in MODES:
        raise ValueError(f"unknown offline mode {mode!r}")
    current: dt.date | None = None  # None: set by the failure the invoice was issued in
    if mode == OFFLINE24:
        current = business_days_after(issue_date, 1)
    elif mode == UNAVAILABILITY:
        if unavailability_ends is None:
            return None
        current = business_days_after(unavailability_ends, 1)
    for failure in sorted(failures, key=lambda f: f.announced):
        if failure.ends is not None and failure.ends < issue_date:
            continue  # over before the invoice existed
        if current is not None and failure.announced > current:
            continue  # announced after the deadline had passed: too late to move it
        if failure.ends is None:
            return None  # still going on: 7 business days once it ends
        moved = business_days_after(failure.ends, FAILURE_BUSINESS_DAYS)
        current = moved if current is None else max(current, moved)
    return current
