"""Parsing helpers for KSeF JSON values: timestamps with up to 7 fractional digits, dates, optional fields."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from ksef_integration.ksef.errors import KsefTransientError

_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_datetime(value: Any) -> datetime:
    """An aware datetime from an ISO-8601 string; a missing offset means UTC (as in KSeF error bodies)."""
    if not isinstance(value, str) or not value:
        raise KsefTransientError(f"KSeF sent an invalid timestamp: {value!r:.40}")
    text = _FRACTION.sub(r"\1", value.strip())
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise KsefTransientError(f"KSeF sent an invalid timestamp: {value!r:.40}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_datetime_opt(value: Any) -> datetime | None:
    return None if value in (None, "") else parse_datetime(value)


def parse_date(value: Any) -> date:
    if not isinstance(value, str):
        raise KsefTransientError(f"KSeF sent an invalid date: {value!r:.40}")
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise KsefTransientError(f"KSeF sent an invalid date: {value!r:.40}") from None


def format_datetime(value: datetime) -> str:
    """ISO-8601 in UTC with an explicit offset: without one, KSeF would read the time as Europe/Warsaw."""
    if value.tzinfo is None:
        raise ValueError("KSeF timestamps must be timezone-aware")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def require(data: Any, key: str) -> Any:
    """``data[key]`` or a transient error: a reply without a required field is treated as malformed."""
    if not isinstance(data, dict) or data.get(key) is None:
        raise KsefTransientError(f"KSeF reply is missing {key!r}")
    return data[key]


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def str_list(value: Any) -> list[str]:
    return [str(item) for item in as_list(value) if item is not None]
