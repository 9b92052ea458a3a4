"""Importing 10,000 purchase invoices from the simulator: with its rate limits off, then with production's.

The simulator runs in a thread of this process (as ``live_server`` does in tests); the import is the real
``company_import`` over HTTP: exports, downloads, decryption, FA(3) parsing, upserts. Generating the 10,000
invoices in the simulator (once, for one company) is not timed.

``import_10k_limits_off_s``: the import with the simulator's limits off, run in a **separate process** that
does nothing but the import, as a Celery worker would; ``import_worker_peak_mb`` is that process's peak RSS
(``ru_maxrss`` of the importing process itself, Django and all, not of this one with the simulator).

``import_prod_limits_ratio``: the portal's invoices and cursors are cleared, the simulator switches to its
production rate limits (``ksef_simulator.limits.PRODUCTION_LIMITS``, = TEST's defaults since API 2.5.0) and
the same 10,000 invoices are imported again; the run must succeed without any 429 reaching the user (short
``Retry-After`` pauses are waited out inside the run). The figure is our time ÷ the minimum the limits force.

The minimum: a rate-limit group allowing ``L`` requests per sliding window of length ``W`` lets ``n``
requests happen no sooner than ``floor((n - 1) / L) · W`` after the first; the minimum of a run is the
largest such span over its groups and windows (``limits_minimum_s``), for the requests the import cannot do
without: one ``POST /invoices/exports`` per export (the simulator's count of exports started) and at least
one status ``GET`` per export. With KSeF's real package size (10,000 invoices) the whole import is a few
exports and the limits force nothing (a ratio against zero says nothing), while the hourly export limit
(20/h) makes anything past 20 exports take an hour. So the bench makes the limits bind, within minutes: the
simulator truncates packages at ``PACKAGE_SIZE`` = 600 invoices, so 10,000 invoices need 17 Subject2 exports
plus one for Subject1 — 18 exports, more than the 16/min allowed and fewer than the 20/h: the per-minute
window forces ≥ 60 s (floor(17/16) · 60 s). A ratio near 1 means the import does its work while it has to
wait anyway and waits no longer than ``Retry-After`` says.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import throwaway_database

INVOICES = 10_000
PACKAGE_SIZE = 600  # invoices per export package with the production limits on (see the docstring)
DAYS = 90  # one window of ≤ 100 days per subject type
ROOT = Path(__file__).resolve().parent.parent


def limits_minimum_s(requests: dict[str, int], limits: dict[str, dict[str, int]]) -> float:
    """The least time from the first to the last request that ``limits`` allow for ``requests`` per group."""
    windows = {"perSecond": 1.0, "perMinute": 60.0, "perHour": 3600.0}
    minimum = 0.0
    for group, count in requests.items():
        for name, seconds in windows.items():
            limit = limits[group][name]
            if limit > 0 and count > 1:
                minimum = max(minimum, math.floor((count - 1) / limit) * seconds)
    return minimum


def run() -> dict[str, float]:
    with throwaway_database():
        return _measure()


def _measure() -> dict[str, float]:
    from django.db import connection
    from django.test import override_settings
    from django.test.testcases import LiveServerThread, _StaticFilesHandler

    from invoices.models import Contractor, Invoice
    from ksef_integration.connect.services import connection_connect_token
    from ksef_integration.importing import services as importing
    from ksef_integration.models import ImportRun, KsefConnection, SyncCursor
    from ksef_simulator import services_core, services_invoices
    from ksef_simulator.api import exports as sim_exports
    from ksef_simulator.conf import config_update
    from ksef_simulator.limits import PRODUCTION_LIMITS
    from ksef_simulator.models import SimExport
    from tests.factories import MembershipFactory

    server = LiveServerThread("127.0.0.1", _StaticFilesHandler, port=0)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    api_url = f"http://127.0.0.1:{server.port}/ksef-sim/v2"
    try:
        config_update(
            token_activation_delay=0, auth_delay=0, invoice_processing_delay=0, permanent_storage_lag=0,
            hwm_lag=0, rate_limit_profile="off",
        )  # fmt: skip
        membership = MembershipFactory.create()
        company = membership.company
        end = dt.date.today()  # noqa: DTZ011 - a calendar day for test data
        services_invoices.invoices_generate(
            buyer_nip=company.nip, count=INVOICES, date_from=end - dt.timedelta(days=DAYS), date_to=end,
            sellers=50, seed=1,
        )  # fmt: skip
        with override_settings(KSEF_API_URL=api_url):
            _, token = services_core.token_generate(
                nip=company.nip, permissions=["InvoiceRead", "InvoiceWrite"], description="bench"
            )
            connection_connect_token(company=company, user=membership.user, raw_token=token)
        KsefConnection.objects.filter(company=company).update(
            import_start_date=end - dt.timedelta(days=DAYS + 5)
        )

        # 1. limits off, in a process of its own (the "worker")
        worker = _import_in_a_child(
            database=str(connection.settings_dict["NAME"]), company_id=company.pk, api_url=api_url
        )
        imported = Invoice.objects.filter(company=company).count()
        if worker["status"] != "succeeded" or imported != INVOICES:
            raise RuntimeError(f"import ended {worker['status']} with {imported} invoices: {worker['error']}")

        # 2. production limits: the same invoices into an empty portal
        Invoice.objects.filter(company=company).delete()
        Contractor.objects.filter(company=company).delete()
        SyncCursor.objects.filter(company=company).delete()
        ImportRun.objects.filter(company=company).delete()
        SimExport.objects.all().delete()
        config_update(rate_limit_profile="default")
        sim_exports.MAX_INVOICES, previous = PACKAGE_SIZE, sim_exports.MAX_INVOICES
        waits: list[float] = []

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            time.sleep(seconds)

        importing._sleep, previous_sleep = sleep, importing._sleep
        try:
            with override_settings(KSEF_API_URL=api_url):
                start = time.perf_counter()
                result = importing.company_import(company_id=company.pk)
                limited = time.perf_counter() - start
        finally:
            sim_exports.MAX_INVOICES = previous
            importing._sleep = previous_sleep
        imported = Invoice.objects.filter(company=company).count()
        if result.status != "succeeded" or imported != INVOICES or result.error:
            raise RuntimeError(f"limited import ended {result.status} with {imported}: {result.error}")
        exports = SimExport.objects.count()
        minimum = limits_minimum_s(
            {"invoiceExport": exports, "invoiceExportStatus": exports}, PRODUCTION_LIMITS
        )
        if minimum <= 0:
            raise RuntimeError(f"{exports} exports: the limits force no wait, the ratio would say nothing")
        print(
            f"# production limits: {exports} exports, {len(waits)} 429s waited out ({sum(waits):.0f} s), "
            f"{limited:.1f} s against a minimum of {minimum:.0f} s",
            file=sys.stderr,
        )
    finally:
        server.terminate()
        _close_server_sessions()
    return {
        "import_10k_limits_off_s": float(worker["elapsed"]),
        "import_prod_limits_ratio": limited / minimum,
        "import_worker_peak_mb": float(worker["peak_mb"]),
    }


def _close_server_sessions() -> None:
    """End the simulator threads' database sessions, so that the throwaway database can be dropped."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


def _import_in_a_child(*, database: str, company_id: int, api_url: str) -> dict[str, Any]:
    settings_module = os.environ.get("DJANGO_SETTINGS_MODULE", "tests.settings")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module, "BENCH_IMPORT_DATABASE": database}
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_import", str(company_id), api_url],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"the importing process failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _child(company_id: int, api_url: str) -> None:
    """The "worker": Django on the bench's throwaway database, one ``company_import``, its own peak RSS."""
    import django
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = os.environ["BENCH_IMPORT_DATABASE"]
    django.setup()
    from django.test import override_settings

    from ksef_integration.importing.services import company_import

    with override_settings(KSEF_API_URL=api_url):
        start = time.perf_counter()
        result = company_import(company_id=company_id)
        elapsed = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mb = peak_kb / 1024 if sys.platform != "darwin" else peak_kb / 1024 / 1024
    figures = {"status": result.status, "error": result.error, "elapsed": elapsed, "peak_mb": peak_mb}
    print(json.dumps(figures))


if __name__ == "__main__":
    _child(int(sys.argv[1]), sys.argv[2])
