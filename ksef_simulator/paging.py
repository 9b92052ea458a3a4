"""Paging of the list endpoints: the ``pageSize`` (and ``pageOffset``) parameters and the one
``x-continuation-token`` format every paged endpoint hands out and accepts.

The token is opaque to clients: the Base64URL form (without padding) of ``ksef-sim-offset:<n>``, the
position of the next page's first row. A token that is not one of ours is the spec's 21418 ("Przekazany
token kontynuacji ma nieprawidłowy format."). Each endpoint passes its own page-size bounds from the spec.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from django.http import HttpRequest

from ksef_simulator.responses import ApiError, bad_request, validation_error

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

_TOKEN_PREFIX = "ksef-sim-offset:"  # noqa: S105 (not a secret: the token only carries a position)
_MAX_OFFSET = 1_000_000_000
_MAX_DIGITS = 10  # int32 values; also keeps int() away from absurdly long digit strings


def query_int(request: HttpRequest, name: str, *, default: int, minimum: int, maximum: int) -> int:
    """An integer query parameter within the spec's bounds, else 21405 naming the parameter."""
    raw = request.GET.get(name)
    if raw is None:
        return default
    value = _natural(raw)
    if value is None or not minimum <= value <= maximum:
        raise validation_error(f"Parametr '{name}' musi być liczbą z zakresu {minimum}..{maximum}.")
    return value


def enum_spelling(value: str, allowed: Iterable[str]) -> str | None:
    """``value`` in its spec spelling when it names one of ``allowed`` ignoring case, else None: the real
    service (ASP.NET) reads enums ignoring case in query strings and JSON bodies (clients send ``active``)."""
    folded = value.casefold()
    return next((choice for choice in allowed if choice.casefold() == folded), None)


def query_enums(request: HttpRequest, name: str, allowed: Iterable[str]) -> list[str]:
    """The values of a repeatable enum query parameter in their spec spelling, matched ignoring case
    (``enum_spelling``); 21405 naming the allowed ones."""
    spelling = {value.casefold(): value for value in allowed}
    values = []
    for raw in request.GET.getlist(name):
        value = enum_spelling(raw, spelling.values())
        if value is None:
            raise validation_error(f"{name}: dozwolone wartości to {', '.join(sorted(spelling.values()))}.")
        values.append(value)
    return values


def query_enum(request: HttpRequest, name: str, allowed: Iterable[str], *, default: str = "") -> str:
    """One enum query parameter (``query_enums``), or ``default`` when it is absent."""
    values = query_enums(request, name, allowed)
    return values[-1] if values else default


def _continuation_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_TOKEN_PREFIX}{offset}".encode()).decode().rstrip("=")


def _continuation_offset(request: HttpRequest) -> int:
    """The offset in ``x-continuation-token`` (0 without one; 21418 when it is not one of ours)."""
    token = request.headers.get("x-continuation-token")
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)).decode()
    except (ValueError, binascii.Error) as exc:  # UnicodeDecodeError is a ValueError
        raise _bad_token() from exc
    offset = _natural(text.removeprefix(_TOKEN_PREFIX)) if text.startswith(_TOKEN_PREFIX) else None
    if offset is None or offset > _MAX_OFFSET:
        raise _bad_token()
    return offset


def _natural(text: str) -> int | None:
    """``text`` as a non-negative number of int32 size, else None (no signs, spaces or other digits)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= _MAX_DIGITS else None


def _bad_token() -> ApiError:
    return bad_request(21418, "Przekazany token kontynuacji ma nieprawidłowy format.")


class _Sliceable(Protocol[T_co]):
    """A list or a QuerySet: anything whose slices can be listed."""

    def __getitem__(self, index: slice, /) -> Iterable[T_co]: ...


@dataclass(frozen=True)
class Pager:
    """The page a list request asks for; read it before the endpoint's other checks, as KSeF does."""

    size: int
    offset: int

    @classmethod
    def from_request(cls, request: HttpRequest, *, max_size: int) -> Pager:
        """``pageSize`` within 10..``max_size`` (the spec's bounds; 10 by default) and the token's offset."""
        size = query_int(request, "pageSize", default=10, minimum=10, maximum=max_size)
        return cls(size=size, offset=_continuation_offset(request))

    def page(self, rows: _Sliceable[T]) -> tuple[list[T], dict[str, str]]:
        """This page of ``rows`` (already ordered) and the response fields that lead to the next page:
        ``{"continuationToken": ...}``, or nothing on the last page."""
        chunk = list(rows[self.offset : self.offset + self.size + 1])
        if len(chunk) > self.size:
            return chunk[: self.size], {"continuationToken": _continuation_token(self.offset + self.size)}
        return chunk, {}
