"""One KSeF conversation per company at a time, across all workers and web processes: connecting, sending
and importing all take this lock before they talk to KSeF for a company.

The lock lives in Redis when it is configured (else in Django's cache) for ``KSEF_SEND_LOCK_SECONDS`` (30),
and its holder renews it every third of that from a keep-alive thread: a holder that dies (a SIGKILLed
worker, the OOM killer) blocks its company for at most that long, while a live holder keeps it however long
its work takes. Nothing waits for the lock unless asked to (``wait``): a drain that finds the company busy
leaves its work to the holder, an import is picked up again by the next fan-out, a connect attempt waits a
few seconds and then says the company is busy.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.cache import cache

POLL_SECONDS = 0.1


def _ttl() -> float:
    lock_seconds = float(getattr(settings, "KSEF_SEND_LOCK_SECONDS", 30))
    lease_seconds = float(getattr(settings, "KSEF_SEND_LEASE_SECONDS", 300))
    return max(3.0, min(lock_seconds, lease_seconds))


class CompanyLock:
    """The lock of one company; use ``company_lock`` rather than this class directly."""

    def __init__(self, company_id: int) -> None:
        self.key = f"ksef:company-lock:{company_id}"
        self.ttl = _ttl()
        self._redis_lock: Any = None
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None

    def acquire(self, *, wait: float = 0.0) -> bool:
        """Take the lock, waiting up to ``wait`` seconds for its holder to let go."""
        if settings.REDIS_URL:
            import redis

            client = redis.Redis.from_url(settings.REDIS_URL)
            # not thread-local: the keep-alive thread renews the token this thread took
            self._redis_lock = client.lock(self.key, timeout=self.ttl, thread_local=False)
            acquired = bool(self._redis_lock.acquire(blocking=wait > 0, blocking_timeout=wait or None))
        else:
            deadline = time.monotonic() + wait
            while not (acquired := bool(cache.add(self.key, "1", timeout=int(self.ttl) + 1))):
                if time.monotonic() >= deadline:
                    break
                time.sleep(POLL_SECONDS)
        if acquired:
            self._keeper = threading.Thread(target=self._keep, name=f"{self.key}-keeper", daemon=True)
            self._keeper.start()
        return acquired

    def _keep(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            self.extend()

    def extend(self) -> None:
        """Renew the lock now (the keep-alive thread does this by itself)."""
        if self._redis_lock is not None:
            with contextlib.suppress(Exception):
                self._redis_lock.reacquire()
        else:
            cache.touch(self.key, timeout=int(self.ttl) + 1)

    def release(self) -> None:
        self._stop.set()
        if self._keeper is not None:
            self._keeper.join(timeout=5)
        if self._redis_lock is not None:
            with contextlib.suppress(Exception):
                self._redis_lock.release()
        else:
            cache.delete(self.key)


@contextlib.contextmanager
def company_lock(company_id: int, *, wait: float = 0.0) -> Iterator[CompanyLock | None]:
    """``with company_lock(id) as lock:`` — ``lock`` is None when another process holds it."""
    lock = CompanyLock(company_id)
    if not lock.acquire(wait=wait):
        yield None
        return
    try:
        yield lock
    finally:
        lock.release()
