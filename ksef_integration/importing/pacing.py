"""Fair imports across companies: each KSeF context paced to its own limits, no company behind another's
backlog (issue 20: an accounting office importing for its 200 clients at once).

KSeF counts requests per (context, IP) and group over sliding windows of 1 s, 1 min and 1 h (ksef-api.md
§11.1; exports 8/16/20, their status 10/60/600); a breach answers 429 with ``Retry-After`` and blocks the
counter, longer with every further breach. An office's clients are separate contexts, so one client's
limits never slow another down — unless the *workers* do: a run that sleeps through a client's 429 (or
drains a whole backlog of windows) keeps a worker thread from every other client. The scheduler therefore
has two parts:

1. **Turns, round-robin by company** (``services.import_turn``, the ``ksef.import`` task): a turn imports
   at most ``TURN_WINDOWS`` export window(s); when more remains it *parks* its run (still RUNNING, with
   ``retry_at`` = when it may go on) and queues its company again, at the back of the broker's FIFO queue,
   so the worker thread moves on to the next company. A company with 100 invoices is done in its first
   turn, whatever backlogs wait around it. The run stays one ``ImportRun`` (one digest, one "last import");
   the next turn adopts it under the company lock (``company_lock``: still one KSeF conversation per
   company), and the fan-out re-queues a parked run whose message was lost.
2. **A per-context limiter in Redis** (``ContextPacer``): before each request of the import's limited
   groups, a Lua script checks a sliding-window log of that (context, group) — the same windows KSeF keeps
   — and either records the request or says how long until it fits. The limits are those KSeF announces for
   the context (``GET /rate-limits``, cached for a day; KSeF's published table until then), and a 429's
   ``Retry-After`` blocks that context's group for that long. A short wait (≤ ``INLINE_PAUSE``) is slept;
   a longer one ends the turn (``ContextWait``) and the company is queued again for when its window opens:
   no worker sleeps on one context while others have work, and we do not breach a limit and earn a longer
   block.

Why not simply sleep on Retry-After (as a single run still does), a token bucket, or a central dispatcher:
sleeping holds a thread per waiting company (2 threads, 200 clients); a token bucket refilled at the
per-minute rate lets a burst through that KSeF's sliding hour window refuses; a dispatcher is one more
process to keep alive, while the broker's FIFO queue already gives round-robin and Redis already holds the
company lock. Logs live in one sorted set per (context, group), at most the hourly limit long.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.cache import cache

from ksef_integration.ksef.client import KsefClient
from ksef_integration.ksef.errors import KsefError
from ksef_integration.ksef.http import retry_after_seconds

Limits = dict[str, dict[str, int]]
WINDOWS = (("perSecond", 1.0), ("perMinute", 60.0), ("perHour", 3600.0))
# KSeF's published limits of the groups an import uses (ksef-api.md §11.1; PRD = TEST since API 2.5.0),
# in force until the context's own are read from ``GET /rate-limits``.
PUBLISHED: Limits = {
    "invoiceMetadata": {"perSecond": 8, "perMinute": 16, "perHour": 20},
    "invoiceExport": {"perSecond": 8, "perMinute": 16, "perHour": 20},
    "invoiceExportStatus": {"perSecond": 10, "perMinute": 60, "perHour": 600},
    "invoiceDownload": {"perSecond": 8, "perMinute": 16, "perHour": 64},
}
# (method, end of the URL's path) → group; pre-signed downloads and logins are not paced here.
ROUTES = (
    ("POST", re.compile(r"/invoices/exports$"), "invoiceExport"),
    ("GET", re.compile(r"/invoices/exports/[^/]+$"), "invoiceExportStatus"),
    ("POST", re.compile(r"/invoices/query/metadata$"), "invoiceMetadata"),
    ("GET", re.compile(r"/invoices/ksef/[^/]+$"), "invoiceDownload"),
)
ANNOUNCED_SECONDS = 24 * 3600  # how long the limits KSeF announced for a context are believed
UNKNOWN_SECONDS = 600  # ... and how long the published ones stand in when asking failed
INLINE_PAUSE = 1.0  # a wait up to this long is slept; a longer one ends the turn
MAX_MARGIN = 1.0  # seconds added after a window frees up (our clock is not KSeF's arrival time)

# KEYS: the log (sorted set of request times in ms), the block (ms until which the group is blocked).
# ARGV: now_ms, member, then (limit, window_ms, margin_ms) per window. Returns 0 (recorded) or ms to wait.
_RESERVE = """
local now = tonumber(ARGV[1])
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then return blocked - now end
local longest, wait = 0, 0
for i = 3, #ARGV, 3 do
  local limit, window, margin = tonumber(ARGV[i]), tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  if window > longest then longest = window end
  if limit >= 0 then
    local count = redis.call('ZCOUNT', KEYS[1], '(' .. (now - window), '+inf')
    if count >= limit then
      local leaving = 0
      if limit > 0 then
        local oldest = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now - window), '+inf',
                                  'WITHSCORES', 'LIMIT', count - limit, 1)
        leaving = tonumber(oldest[2])
      else
        leaving = now
      end
      wait = math.max(wait, leaving + window + margin - now)
    end
  end
end
if wait > 0 then return math.ceil(wait) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - longest)
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('PEXPIRE', KEYS[1], longest)
return 0
"""
_BLOCK = """
local ends = tonumber(ARGV[1])
if ends > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], ends, 'PX', ARGV[2])
end
return 0
"""


class ContextWait(Exception):
    """The context may send its next request of ``group`` only in ``seconds``: the turn ends here."""

    def __init__(self, group: str, seconds: float) -> None:
        super().__init__(f"{group}: wait {seconds:.1f} s")
        self.group = group
        self.seconds = seconds


def request_group(method: str, url: str) -> str | None:
    """The paced rate-limit group of a request to the KSeF API, or None."""
    path = urlsplit(url).path.rstrip("/")
    for route_method, pattern, group in ROUTES:
        if method == route_method and pattern.search(path):
            return group
    return None


def _redis() -> Any:
    import redis

    return redis.Redis.from_url(settings.REDIS_URL)


class ContextPacer:
    """The request log of one KSeF context (a NIP), shared by every worker through Redis. Without Redis
    (development on SQLite) nothing is paced: KSeF's 429s still end the turn."""

    def __init__(self, nip: str, *, clock: Callable[[], float] = time.time) -> None:
        self.nip = nip
        self.clock = clock
        self.redis = _redis() if settings.REDIS_URL else None
        self.limits: Limits = cache.get(self._limits_key()) or PUBLISHED

    def _limits_key(self) -> str:
        return f"ksef:rate-limits:{self.nip}"

    def _keys(self, group: str) -> list[str]:
        return [f"ksef:rate-log:{self.nip}:{group}", f"ksef:rate-block:{self.nip}:{group}"]

    def learn(self, client: KsefClient) -> None:
        """Read the limits KSeF announces for the context, once a day (``GET /rate-limits``)."""
        if cache.get(self._limits_key()) is not None:
            return
        try:
            announced = client.rate_limits()
        except KsefError:
            cache.set(self._limits_key(), PUBLISHED, UNKNOWN_SECONDS)
            return
        limits = {group: announced.get(group, values) for group, values in PUBLISHED.items()}
        cache.set(self._limits_key(), limits, ANNOUNCED_SECONDS)
        self.limits = limits

    def reserve(self, group: str) -> float:
        """Record one request of ``group`` now and answer 0, or answer the seconds until it would fit (and
        record nothing)."""
        if self.redis is None:
            return 0.0
        limits = self.limits.get(group) or PUBLISHED.get(group, {})
        args: list[object] = [int(self.clock() * 1000), uuid.uuid4().hex]
        for name, seconds in WINDOWS:
            window = int(seconds * 1000)
            args += [int(limits.get(name, -1)), window, int(min(MAX_MARGIN, seconds / 4) * 1000)]
        waited = int(self.redis.eval(_RESERVE, 2, *self._keys(group), *args))
        return waited / 1000

    def blocked(self, group: str, seconds: float) -> None:
        """KSeF answered 429: nothing of ``group`` goes to this context for ``seconds``."""
        if self.redis is None:
            return
        milliseconds = int(max(seconds, 1) * 1000)
        until = int(self.clock() * 1000) + milliseconds
        self.redis.eval(_BLOCK, 1, self._keys(group)[1], until, milliseconds)

    def before(self, group: str, sleep: Callable[[float], None] = time.sleep) -> None:
        """Wait (briefly) for room for one request of ``group``, or raise ``ContextWait``."""
        while (wait := self.reserve(group)) > 0:
            if wait > INLINE_PAUSE:
                raise ContextWait(group, wait)
            sleep(wait)


class PacedSession(requests.Session):
    """A ``requests`` session for one context's client: the paced groups ask the ``ContextPacer`` first,
    and KSeF's 429s block the group for as long as ``Retry-After`` says."""

    def __init__(self, pacer: ContextPacer) -> None:
        super().__init__()
        self.pacer = pacer

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        group = request_group(request.method or "GET", request.url or "")
        if group is not None:
            self.pacer.before(group)
        response = super().send(request, **kwargs)
        if group is not None and response.status_code == 429:
            self.pacer.blocked(group, retry_after_seconds(response.headers.get("Retry-After")))
        return response


__all__ = ["PUBLISHED", "ContextPacer", "ContextWait", "PacedSession", "request_group"]
