"""Importing 10,000 purchase invoices from the simulator with its rate limits off (throwaway database).

The simulator runs in a thread of this process (as ``live_server`` does in tests) and the import is the
real ``company_import`` over HTTP: exports, downloads, decryption, FA(3) parsing, upserts. Generating the
invoices in the simulator is not timed. ``import_worker_peak_mb`` is this process's peak RSS, an upper bound
for a worker, since the simulator shares the process. ``import_prod_limits_ratio`` is not measured yet.
"""

from __future__ import annotations

import datetime as dt
import resource
import sys
import time

from bench.common import throwaway_database

INVOICES = 10_000


def run() -> dict[str, float]:
    with throwaway_database():
        return _measure()


def _measure() -> dict[str, float]:
    from django.test import override_settings
    from django.test.testcases import LiveServerThread, _StaticFilesHandler

    from invoices.models import Invoice
    from ksef_integration.models import KsefConnection
    from ksef_integration.services.connection import connection_connect_token
    from ksef_integration.services.importing import company_import
    from ksef_simulator import services_core, services_invoices
    from ksef_simulator.conf import config_update
    from tests.factories import MembershipFactory

    server = LiveServerThread("127.0.0.1", _StaticFilesHandler, port=0)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    try:
        config_update(
            token_activation_delay=0, auth_delay=0, invoice_processing_delay=0, permanent_storage_lag=0,
            hwm_lag=0, rate_limit_profile="off",
        )  # fmt: skip
        membership = MembershipFactory.create()
        company = membership.company
        end = dt.date.today()  # noqa: DTZ011 - a calendar day for test data
        services_invoices.invoices_generate(
            buyer_nip=company.nip, count=INVOICES, date_from=end - dt.timedelta(days=110), date_to=end,
            sellers=50, seed=1,
        )  # fmt: skip
        with override_settings(KSEF_API_URL=f"http://127.0.0.1:{server.port}/ksef-sim/v2"):
            _, token = services_core.token_generate(
                nip=company.nip, permissions=["InvoiceRead", "InvoiceWrite"], description="bench"
            )
            connection_connect_token(company=company, user=membership.user, raw_token=token)
            KsefConnection.objects.filter(company=company).update(
                import_start_date=end - dt.timedelta(days=115)
            )
            start = time.perf_counter()
            result = company_import(company_id=company.pk)
            elapsed = time.perf_counter() - start
        imported = Invoice.objects.filter(company=company).count()
        if result.status != "succeeded" or imported != INVOICES:
            raise RuntimeError(f"import ended {result.status} with {imported} invoices: {result.error}")
    finally:
        server.terminate()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "import_10k_limits_off_s": elapsed,
        "import_worker_peak_mb": peak_kb / 1024 if sys.platform != "darwin" else peak_kb / 1024 / 1024,
    }
