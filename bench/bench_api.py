"""The public API under load (issue 22): ``BENCH_API_INVOICES`` (1,000) sales invoices created over
``POST /api/v1/invoices`` by ``BENCH_API_CLIENTS`` (10) concurrent clients, each with its own write key, all
sent to KSeF by a real Celery worker and accepted by the simulator.

Setup (not timed): a throwaway database (PostgreSQL when ``DATABASE_URL`` names it, else SQLite), migrated;
gunicorn serving the portal and the simulator together (``DEBUG=0``, ``BENCH_API_WORKERS`` (2) workers x
``BENCH_API_THREADS`` (4) threads); one ``celery worker --pool threads`` (as the Procfile runs it; Redis as
the broker when ``REDIS_URL`` is set); a company connected to the simulator by token, sending automatically.

Figures:
- ``api_create_p95_ms``: the 95th percentile of one create request's latency as the client sees it (the
  whole Wystaw validation with the FA(3) XSD check, numbering, saving, queueing), under 10 concurrent clients.
- ``api_create_per_s``: creates per second over the creating phase.
- ``api_to_accepted_s``: from the first create request to the last invoice accepted by KSeF.
The run is checked: every invoice accepted with a KSeF number, and KSeF holds each exactly once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
INVOICES = int(os.environ.get("BENCH_API_INVOICES", "1000"))
CLIENTS = int(os.environ.get("BENCH_API_CLIENTS", "10"))
WORKERS = int(os.environ.get("BENCH_API_WORKERS", "2"))
THREADS = int(os.environ.get("BENCH_API_THREADS", "4"))
DELIVERY_TIMEOUT_S = float(os.environ.get("BENCH_API_TIMEOUT_S", "900"))
# What every created invoice has besides its lines (api_create_cpu sends the same).
INVOICE_BODY: dict[str, Any] = {
    "buyer": {"name": "Odbiorca sp. z o.o.", "nip": "5260250274", "address_line1": "ul. Prosta 1",
              "address_line2": "00-950 Warszawa"},
    "payment_method": 6,
    "bank_account": "61109010140000071219812874",
}  # fmt: skip


def run() -> dict[str, float]:
    import requests

    from bench import bench_send
    from bench import bench_simulator as sim
    from bench.common import CONTROL_HEADERS, free_port, gunicorn, manage, server_environment

    sim._django()
    workdir = Path(tempfile.mkdtemp(prefix="ksef-api-bench-"))
    try:
        with sim._database(workdir) as database_url:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            base_env = server_environment(database_url, workdir, KSEF_SIMULATOR_RATE_LIMITS="off")
            env = bench_send._portal_env(base_env, f"{base}/ksef-sim/v2", f"bench-api-{uuid.uuid4().hex[:8]}")
            env["SITE_URL"] = base
            manage(env, "migrate", "--noinput", "-v", "0")
            with (
                gunicorn(env, workdir, port=port, workers=WORKERS, threads=THREADS),
                bench_send._worker(env, workdir, "worker-api"),
            ):
                # The simulator's limits off, also when its state exists already (KSEF_SIMULATOR_RATE_LIMITS
                # sets only a fresh one): its 429s on polling a session would stretch api_to_accepted_s by
                # minutes.
                requests.post(
                    f"{base}/ksef-sim/control/config",
                    json={"rateLimitProfile": "off"},
                    headers=CONTROL_HEADERS,
                    timeout=30,
                ).raise_for_status()
                result = subprocess.run(
                    [sys.executable, "-m", "bench.bench_api", "drive", str(INVOICES), base],
                    cwd=ROOT, env=env, capture_output=True, timeout=DELIVERY_TIMEOUT_S + 600, check=False,
                )  # fmt: skip
            if result.returncode != 0:
                log = (workdir / "worker-api.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"bench_api failed:\n{result.stderr.decode()[-3000:]}\nworker:\n{log}")
        figures = dict(json.loads(result.stdout.decode().strip().splitlines()[-1]))
        print(
            f"bench_api: {INVOICES} invoices by {CLIENTS} clients; gunicorn {WORKERS}x{THREADS}; "
            f"p50 {figures.pop('p50_ms'):.1f} ms, max {figures.pop('max_ms'):.1f} ms",
            file=sys.stderr,
        )
        return {k: float(v) for k, v in figures.items()}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --- the driver (a separate process with the portal's settings) ------------------------------------------


def _drive(count: int, base: str) -> dict[str, Any]:
    import django

    django.setup()
    from collections import Counter

    import requests

    from bench.common import percentile
    from integrations.api.keys import key_create
    from invoices.models import Invoice, KsefStatus
    from ksef_integration.connect.services import connection_connect_token
    from ksef_integration.models import KsefConnection
    from ksef_integration.sending import drain
    from ksef_simulator import services_core
    from ksef_simulator.models import SimInvoice
    from tests.factories import MembershipFactory

    membership = MembershipFactory.create(user__email=f"bench-{uuid.uuid4().hex[:12]}@example.com")
    company, user, nip = membership.company, membership.user, membership.company.nip
    _, token = services_core.token_generate(
        nip=nip, permissions=["InvoiceRead", "InvoiceWrite"], description="b"
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            connection_connect_token(company=company, user=user, raw_token=token)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    KsefConnection.objects.filter(company=company).update(auto_send=True)
    keys = [
        key_create(company=company, user=user, name=f"client {i}", scope="write").plain
        for i in range(CLIENTS)
    ]
    body = dict(INVOICE_BODY)
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    shares = [count // CLIENTS + (1 if i < count % CLIENTS else 0) for i in range(CLIENTS)]

    def client(index: int) -> None:
        with requests.Session() as http:
            http.headers["Authorization"] = f"Bearer {keys[index]}"
            http.get(f"{base}/api/v1/invoices", params={"limit": 1}, timeout=30)  # a warm connection
            for n in range(shares[index]):
                line = {"name": "Usługa", "quantity": "1", "unit": "usł.", "unit_price": f"{100 + n}.00",
                        "vat_rate": "23"}  # fmt: skip
                started = time.perf_counter()
                response = http.post(f"{base}/api/v1/invoices", json={**body, "lines": [line]}, timeout=60)
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    if response.status_code == 201:
                        latencies.append(elapsed)
                    else:
                        failures.append(f"{response.status_code} {response.text[:300]}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    created_s = time.perf_counter() - start
    if failures or len(latencies) != count:
        raise RuntimeError(f"{len(failures)} creates failed, e.g. {failures[:3]}")
    invoices = Invoice.objects.filter(company=company)
    accepted = invoices.filter(ksef_status=KsefStatus.ACCEPTED)
    last_sweep = time.monotonic()
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while accepted.count() < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {accepted.count()} of {count} accepted in {DELIVERY_TIMEOUT_S:.0f} s")
        if time.monotonic() - last_sweep > 30:  # what beat does in production
            drain.submissions_sweep()
            last_sweep = time.monotonic()
        time.sleep(0.1)
    to_accepted = time.perf_counter() - start
    held = Counter(
        SimInvoice.objects.filter(context_nip=nip, status_code=200, processed=True).values_list(
            "invoice_number", flat=True
        )
    )
    ours = set(invoices.values_list("number", flat=True))
    if set(held) != ours or max(held.values()) != 1 or len(ours) != count:
        raise RuntimeError("KSeF does not hold exactly our invoices, once each")
    if accepted.filter(ksef_number__isnull=True).exists():
        raise RuntimeError("an accepted invoice lacks its KSeF number")
    return {
        "api_create_p95_ms": percentile(latencies, 0.95),
        "api_create_per_s": count / created_s,
        "api_to_accepted_s": to_accepted,
        "p50_ms": percentile(latencies, 0.5),
        "max_ms": max(latencies),
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["drive"]:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(_drive(int(sys.argv[2]), sys.argv[3])))
