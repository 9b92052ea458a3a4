"""Polish public holidays and working days, for legal deadlines (the offline modes' "next working day", the
JPK filing day): the statutory list of the ustawa o dniach wolnych od pracy as the well-kept `holidays`
package keeps it (24 December from 2025, one-off days such as 12 November 2018). No Django."""

from __future__ import annotations

import datetime as dt
import functools

import holidays


@functools.cache
def polish_holidays(year: int) -> frozenset[dt.date]:
    """The statutory public holidays of ``year`` (including the Sunday ones, which change nothing)."""
    return frozenset(holidays.country_holidays("PL", years=year))


def is_working_day(day: dt.date) -> bool:
    """Neither a Saturday, a Sunday nor a public holiday."""
    return day.weekday() < 5 and day not in polish_holidays(day.year)


def working_day_on_or_after(day: dt.date) -> dt.date:
    """``day``, or the next working day when it is not one (Ordynacja podatkowa art. 12 § 5)."""
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day
