"""An endpoint group whose operations KSeF carries out asynchronously (certificates, permissions): the
logged-in HTTP, the bearer, the polling policy, and the one loop that waits for an operation's outcome."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from ksef_integration.ksef.auth import PollPolicy
from ksef_integration.ksef.errors import KsefTransientError
from ksef_integration.ksef.http import KsefHttp
from ksef_integration.ksef.secret import Secret

Status = TypeVar("Status")


class PolledEndpoints:
    """Subclasses set ``default_poll`` and wait with :meth:`wait_for`."""

    default_poll = PollPolicy()

    def __init__(
        self,
        *,
        http: KsefHttp,
        bearer: Callable[[], Secret],
        poll: PollPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._bearer = bearer
        self._poll = poll or self.default_poll
        self._sleep = sleep
        self._monotonic = monotonic

    def wait_for(
        self,
        fetch: Callable[[], Status],
        *,
        finished: Callable[[Status], bool],
        refuse: Callable[[Status], None],
        still_working: str,
    ) -> Status:
        """Ask ``fetch`` with backoff until ``finished``; ``refuse`` raises for an outcome that is not one
        (a refusal, KSeF's 500/550); past the policy's timeout, ``KsefTransientError(still_working)``."""
        deadline = self._monotonic() + self._poll.timeout
        for delay in self._poll.delays():
            status = fetch()
            if finished(status):
                return status
            refuse(status)
            if self._monotonic() + delay > deadline:
                raise KsefTransientError(still_working)
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover
