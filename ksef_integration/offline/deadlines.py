"""When an invoice issued offline must reach KSeF (ksef-api.md §9.1): pure date arithmetic, no Django.

- ``offline24`` (the taxpayer's choice): by the next business day after the issue date;
- ``offline`` (announced KSeF unavailability): by the next business day after the unavailability ends;
- ``awaryjny`` (announced KSeF failure): within 7 business days from the end of the failure.

A failure announced while an invoice still waits to be sent moves its deadline to 7 business days after that
failure ends; a later announcement restarts the count again. Business days exclude Saturdays, Sundays and the
Polish public holidays (ustawa o dniach wolnych od pracy), with 24 December a holiday from 2025 on.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass

OFFLINE24 = "offline24"
UNAVAILABILITY = "offline"
FAILURE = "awaryjny"
MODES = (OFFLINE24, UNAVAILABILITY, FAILURE)
FAILURE_BUSINESS_DAYS = 7
CHRISTMAS_EVE_FROM = 2025


def easter_sunday(year: int) -> dt.date:
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm, "Meeus/Jones/Butcher")."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return dt.date(year, month, day + 1)


@functools.cache
def polish_holidays(year: int) -> frozenset[dt.date]:
    """The statutory public holidays of ``year`` (including the Sunday ones, which change nothing)."""
    easter = easter_sunday(year)
    fixed = [(1, 1), (1, 6), (5, 1), (5, 3), (8, 15), (11, 1), (11, 11), (12, 25), (12, 26)]
    if year >= CHRISTMAS_EVE_FROM:
        fixed.append((12, 24))
    days = {dt.date(year, month, day) for month, day in fixed}
    days |= {
        easter,
        easter + dt.timedelta(days=1),  # Easter Monday
        easter + dt.timedelta(days=49),  # Pentecost (a Sunday)
        easter + dt.timedelta(days=60),  # Corpus Christi
    }
    return frozenset(days)


def is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in polish_holidays(day.year)


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
