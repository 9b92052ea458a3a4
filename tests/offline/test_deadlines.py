"""The offline deadline calculator (ksef-api.md §9.1) with Polish public holidays."""

from __future__ import annotations

import datetime as dt

import pytest

from invoices.workdays import polish_holidays
from ksef_integration.offline import deadlines as od
from ksef_integration.offline.deadlines import FAILURE, OFFLINE24, UNAVAILABILITY, Failure, deadline

D = dt.date


def test_the_docs_example_a_failure_announced_while_an_offline24_invoice_waits() -> None:
    # Issued Wed 2025-07-08; failure announced 07-09 (before the offline24 deadline 07-09 passed), ends Sat
    # 07-12: 7 business days after it ends is Tue 2025-07-22.
    assert deadline(mode=OFFLINE24, issue_date=D(2025, 7, 8)) == D(2025, 7, 9)
    failure = Failure(announced=D(2025, 7, 9), ends=D(2025, 7, 12))
    assert deadline(mode=OFFLINE24, issue_date=D(2025, 7, 8), failures=[failure]) == D(2025, 7, 22)


def test_a_failure_announced_after_the_deadline_passed_changes_nothing() -> None:
    late = Failure(announced=D(2025, 7, 10), ends=D(2025, 7, 12))
    assert deadline(mode=OFFLINE24, issue_date=D(2025, 7, 8), failures=[late]) == D(2025, 7, 9)


def test_a_failure_that_ended_before_the_issue_date_changes_nothing() -> None:
    old = Failure(announced=D(2025, 7, 1), ends=D(2025, 7, 2))
    assert deadline(mode=OFFLINE24, issue_date=D(2025, 7, 8), failures=[old]) == D(2025, 7, 9)


@pytest.mark.parametrize(
    ("issued", "expected", "why"),
    [
        (D(2025, 7, 11), D(2025, 7, 14), "Friday → Monday"),
        (D(2025, 4, 18), D(2025, 4, 22), "Good Friday → Tuesday (Easter Monday 21.04 is a holiday)"),
        (D(2026, 4, 3), D(2026, 4, 7), "Easter Monday 2026 is 6 April"),
        (D(2025, 4, 30), D(2025, 5, 2), "1 May is a holiday, 2 May is not"),
        (D(2026, 5, 2), D(2026, 5, 4), "Saturday 2 May 2026 → Monday 4 May (3 May is a Sunday)"),
        (D(2027, 5, 2), D(2027, 5, 4), "3 May 2027 is a Monday holiday"),
        (D(2025, 6, 18), D(2025, 6, 20), "Corpus Christi 2025 is Thursday 19 June"),
        (D(2026, 6, 3), D(2026, 6, 5), "Corpus Christi 2026 is Thursday 4 June"),
        (D(2025, 11, 10), D(2025, 11, 12), "11 November"),
        (D(2025, 12, 23), D(2025, 12, 29), "24, 25, 26 December 2025, then the weekend"),
        (D(2024, 12, 23), D(2024, 12, 24), "24 December was a working day before 2025"),
        (D(2025, 12, 31), D(2026, 1, 2), "1 January"),
        (D(2026, 1, 5), D(2026, 1, 7), "6 January (Epiphany)"),
        (D(2025, 8, 14), D(2025, 8, 18), "15 August, then the weekend"),
        (D(2025, 10, 31), D(2025, 11, 3), "1 November is a Saturday"),
    ],
)
def test_offline24_next_business_day_skips_weekends_and_holidays(issued: D, expected: D, why: str) -> None:
    assert deadline(mode=OFFLINE24, issue_date=issued) == expected, why


def test_polish_holidays() -> None:
    """The `holidays` package's list: Easter-based days move, 24 December from 2025, one-off days kept."""
    for easter in (D(2024, 3, 31), D(2026, 4, 5), D(2038, 4, 25)):
        assert easter in polish_holidays(easter.year)
    assert D(2018, 11, 12) in polish_holidays(2018)  # the centenary of independence, once
    holidays = polish_holidays(2025)
    assert D(2025, 4, 21) in holidays  # Easter Monday
    assert D(2025, 6, 19) in holidays  # Corpus Christi
    assert D(2025, 12, 24) in holidays
    assert D(2024, 12, 24) not in polish_holidays(2024)
    assert len(holidays) == 14


def test_unavailability_next_business_day_after_it_ends() -> None:
    assert deadline(mode=UNAVAILABILITY, issue_date=D(2025, 7, 8), unavailability_ends=D(2025, 7, 11)) == D(
        2025, 7, 14
    )
    assert deadline(mode=UNAVAILABILITY, issue_date=D(2025, 7, 8)) is None  # still going on


def test_failure_seven_business_days_after_it_ends_and_a_new_announcement_restarts_the_count() -> None:
    first = Failure(announced=D(2025, 11, 3), ends=D(2025, 11, 5))
    # Thu 6, Fri 7, Mon 10, Wed 12 (11 Nov), Thu 13, Fri 14, Mon 17 → 7th business day is Mon 17.
    assert deadline(mode=FAILURE, issue_date=D(2025, 11, 4), failures=[first]) == D(2025, 11, 17)
    second = Failure(announced=D(2025, 11, 12), ends=D(2025, 11, 20))
    assert deadline(mode=FAILURE, issue_date=D(2025, 11, 4), failures=[first, second]) == D(2025, 12, 1)
    ongoing = Failure(announced=D(2025, 11, 12), ends=None)
    assert deadline(mode=FAILURE, issue_date=D(2025, 11, 4), failures=[first, ongoing]) is None
    assert deadline(mode=FAILURE, issue_date=D(2025, 11, 4)) is None


def test_business_days_after_rejects_zero_and_unknown_modes() -> None:
    with pytest.raises(ValueError, match="count"):
        od.business_days_after(D(2025, 1, 1), 0)
    with pytest.raises(ValueError, match="mode"):
        deadline(mode="online", issue_date=D(2025, 1, 1))
