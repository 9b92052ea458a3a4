"""The company's lock (connect, send and import share it): a live holder keeps it as long as its work
takes; a holder that died (its process SIGKILLed, so nothing releases it) blocks the company for
KSEF_SEND_LOCK_SECONDS at most, not for a whole lease (300 s) as before."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from accounts.models import Company
from ksef_integration.company_lock import CompanyLock, company_lock
from tests.conftest import ROOT
from tests.factories import active_connection

TTL = 3.0
COMPANY = 987654
HOLD = """
import time, django
django.setup()
from ksef_integration.company_lock import CompanyLock
lock = CompanyLock(%d)
assert lock.acquire()
print("held", flush=True)
time.sleep(120)
"""


def _acquired_within(seconds: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        lock = CompanyLock(COMPANY)
        if lock.acquire():
            lock.release()
            return time.monotonic() - started
        time.sleep(0.1)
    return None


@override_settings(KSEF_SEND_LOCK_SECONDS=TTL, KSEF_SEND_LEASE_SECONDS=300)
def test_a_live_holder_keeps_the_lock_beyond_its_lifetime(postgres_and_redis: None) -> None:
    holder = CompanyLock(COMPANY)
    assert holder.acquire()
    try:
        time.sleep(TTL * 1.7)  # longer than the lock lives: only the keep-alive keeps it
        assert _acquired_within(0.5) is None
    finally:
        holder.release()
    assert _acquired_within(1) is not None


def test_a_killed_holder_blocks_its_company_for_the_lock_lifetime_only(postgres_and_redis: None) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "REDIS_URL": settings.REDIS_URL,
        "KSEF_SEND_LOCK_SECONDS": str(TTL),
    }
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD % COMPANY], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        time.sleep(TTL * 1.5)  # renewed meanwhile
        with override_settings(KSEF_SEND_LOCK_SECONDS=TTL):
            assert _acquired_within(0.3) is None
            os.kill(holder.pid, signal.SIGKILL)  # as the OOM killer would: nothing releases the lock
            waited = _acquired_within(TTL + 3)
    finally:
        holder.kill()
        holder.wait()
    assert waited is not None
    assert waited <= TTL + 0.5, waited


@pytest.mark.django_db
def test_connect_send_and_import_share_the_one_company_lock(
    company_a: Company, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While anything holds the company's lock, neither a drain, an import nor a verify talks to KSeF."""
    from ksef_integration.connect import services as connect_services
    from ksef_integration.errors import ConnectError
    from ksef_integration.importing.services import company_import
    from ksef_integration.sending.drain import company_send_due

    active_connection(company_a)
    monkeypatch.setattr(connect_services, "CONNECT_WAIT_SECONDS", 0.2)
    with company_lock(company_a.pk) as held:
        assert held is not None
        assert company_send_due(company_id=company_a.pk) == 0
        assert company_import(company_id=company_a.pk).status == "busy"
        with pytest.raises(ConnectError) as busy:
            connect_services.connection_verify(company=company_a, user=alice)
        assert busy.value.code == "busy"
    with company_lock(company_a.pk) as again:
        assert again is not None  # let go by every one of them
