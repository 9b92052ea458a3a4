"""A wrapper for secrets (KSeF tokens, JWTs, keys): repr and str never show more than the last 4 chars."""

from __future__ import annotations

import hmac


class Secret:
    """A secret string. ``reveal()`` returns it; ``repr``/``str``/f-strings show only ``…last4``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        self._value = value

    def reveal(self) -> str:
        return self._value

    @property
    def last4(self) -> str:
        return self._value[-4:] if len(self._value) > 8 else ""

    def masked(self) -> str:
        return f"…{self.last4}" if self.last4 else "…"

    def __repr__(self) -> str:
        return f"Secret('{self.masked()}')"

    def __str__(self) -> str:
        return self.masked()

    def __format__(self, spec: str) -> str:
        return self.masked()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> tuple[object, ...]:
        # Secrets must not travel through pickles (task queues, caches) by accident.
        raise TypeError("Secret cannot be pickled; store it encrypted instead")

    def __len__(self) -> int:
        return len(self._value)
