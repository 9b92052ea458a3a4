"""The Biuro page under load: an accountant of 200 client companies, 20 logged-in clients at once.

Served as bench_webload serves its pages (gunicorn from this venv, production settings, a throwaway
database, Redis as the cache when it answers) and loaded by bench_webload's Python load process (its
``load`` mode: closed loop, keep-alive sockets, one session per connection). The companies are in mixed
states, a third each: connected with invoices waiting and rejected, needing attention with an offline
invoice, never connected; each has a few sales and new purchase invoices and an import cursor.

Figures: ``office_dashboard_p50_ms``, ``_p95_ms``, ``_rps``, ``_errors``.

Knobs (environment): ``BENCH_OFFICE_COMPANIES`` (200), ``BENCH_OFFICE_INVOICES`` (invoices per company, 30),
``BENCH_OFFICE_CLIENTS`` (20), ``BENCH_OFFICE_SECONDS`` (15), ``BENCH_OFFICE_WARMUP`` (3),
``BENCH_OFFICE_WORKERS`` (4).

``python bench/bench_office.py setup`` is the helper process this module starts.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import bench_webload
from bench.common import (
    bench_database,
    free_port,
    gunicorn,
    helper_run,
    manage,
    pages_check,
    percentile,
    redis_answers,
    server_environment,
)

COMPANIES = int(os.environ.get("BENCH_OFFICE_COMPANIES", "200"))
INVOICES = int(os.environ.get("BENCH_OFFICE_INVOICES", "30"))
CLIENTS = int(os.environ.get("BENCH_OFFICE_CLIENTS", "20"))
SECONDS = float(os.environ.get("BENCH_OFFICE_SECONDS", "15"))
WARMUP = float(os.environ.get("BENCH_OFFICE_WARMUP", "3"))
WORKERS = int(os.environ.get("BENCH_OFFICE_WORKERS", "4"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
PATH = "/biuro/"


def _say(message: str) -> None:
    print(f"bench_office: {message}", file=sys.stderr, flush=True)


def setup_main() -> None:
    """Build the accountant's companies and logged-in sessions; print what the load needs as JSON."""
    import datetime as dt
    from decimal import Decimal

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from accounts.models import Company, Membership, Role
    from invoices.models import Direction, Invoice, KsefStatus
    from ksef_integration.encryption import secret_encrypt
    from ksef_integration.models import ConnectionStatus, KsefConnection, OfflineInvoice, SyncCursor
    from tests.factories import UserFactory, valid_nip

    user = UserFactory.create(email="biuro@example.com")
    companies = Company.objects.bulk_create(
        Company(name=f"Klient {n:03d} sp. z o.o.", nip=valid_nip(), address_line1="ul. Prosta 1")
        for n in range(COMPANIES)
    )
    Membership.objects.bulk_create(Membership(user=user, company=c, role=Role.ACCOUNTANT) for c in companies)
    token = secret_encrypt("not-a-real-token")
    connections = []
    for n, company in enumerate(companies):
        if n % 3 == 2:
            continue
        connections.append(
            KsefConnection(
                company=company,
                status=ConnectionStatus.ACTIVE if n % 3 == 0 else ConnectionStatus.ATTENTION,
                environment="simulator",
                method="token",
                token_ciphertext=token,
                permissions=["InvoiceRead", "InvoiceWrite"] if n % 5 else ["InvoiceRead"],
            )
        )
    KsefConnection.objects.bulk_create(connections)
    today = timezone.localdate()
    statuses = [KsefStatus.ACCEPTED, KsefStatus.NOT_SENT, KsefStatus.QUEUED, KsefStatus.REJECTED]
    invoices = []
    for n, company in enumerate(companies):
        for i in range(INVOICES):
            purchase = i % 3 == 0
            status = KsefStatus.ACCEPTED if purchase else statuses[i % len(statuses)]
            invoices.append(
                Invoice(
                    company=company,
                    direction=Direction.PURCHASE if purchase else Direction.SALES,
                    number=f"B/{n}/{i}",
                    issue_date=today - dt.timedelta(days=i),
                    seller_name=company.name,
                    buyer_name="Odbiorca sp. z o.o.",
                    total_net=Decimal("100.00"),
                    total_vat=Decimal("23.00"),
                    total_gross=Decimal("123.00"),
                    ksef_status=status,
                    ksef_number=f"K-{n}-{i}" if status == KsefStatus.ACCEPTED else None,
                    is_new=purchase and i % 2 == 0,
                )
            )
        if n % 3 == 1:
            invoices.append(
                Invoice(
                    company=company,
                    direction=Direction.SALES,
                    number=f"B/{n}/offline",
                    issue_date=today,
                    seller_name=company.name,
                    buyer_name="Odbiorca sp. z o.o.",
                    ksef_status=KsefStatus.OFFLINE,
                    ksef_offline_mode="offline24",
                )
            )
    created = Invoice.objects.bulk_create(invoices, batch_size=5000)
    OfflineInvoice.objects.bulk_create(
        OfflineInvoice(invoice=inv, company_id=inv.company_id, reason=OfflineInvoice.Reason.CHOSEN)
        for inv in created
        if inv.ksef_offline_mode
    )
    now = timezone.now()
    SyncCursor.objects.bulk_create(
        SyncCursor(company=c, subject_type="Subject2", checkpoint=now, last_success_at=now) for c in companies
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")
    cookies = []
    for _ in range(CLIENTS):
        client = Client()
        client.force_login(user)
        cookies.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    json.dump({"cookie_name": settings.SESSION_COOKIE_NAME, "cookies": cookies}, sys.stdout)


def run() -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="ksef-office-"))
    try:
        with bench_database(workdir, "office", _say) as database_url:
            port = free_port()
            extra = {"ALLOWED_HOSTS": "127.0.0.1"}
            if redis_answers(REDIS_URL):
                extra["REDIS_URL"] = REDIS_URL
            else:
                _say(f"Redis does not answer at {REDIS_URL}: the file cache")
            env = server_environment(database_url, workdir, **extra)
            manage(env, "migrate", "--noinput", "-v", "0")
            manage(env, "collectstatic", "--noinput", "-v", "0")
            _say(f"gunicorn: {WORKERS} sync workers; {CLIENTS} clients; {COMPANIES} companies")
            with gunicorn(env, workdir, port=port, workers=WORKERS, threads=1) as base:
                started = time.perf_counter()
                data = helper_run(__file__, {**env, "BENCH_OFFICE_CLIENTS": str(CLIENTS)}, "setup")
                _say(f"setup: {time.perf_counter() - started:.0f} s")
                last = f"Klient {COMPANIES - 1:03d} sp.".encode()  # the page lists every company
                pages_check(base, {data["cookie_name"]: data["cookies"][0]}, {PATH: last})
                cfg = {
                    "host": "127.0.0.1", "port": port, "path": PATH, "cookie_name": data["cookie_name"],
                    "cookies": data["cookies"], "clients": CLIENTS, "warmup": WARMUP, "seconds": SECONDS,
                    "think_ms": 0,
                }  # fmt: skip
                result = helper_run(
                    bench_webload.__file__, env, "load", json.dumps(cfg), timeout=WARMUP + SECONDS + 300
                )
                if result["errors"]:
                    _say(f"{result['errors']} errors, e.g. {result['samples']}")
                latencies = result["latencies"]
                return {
                    "office_dashboard_p50_ms": percentile(latencies, 0.50),
                    "office_dashboard_p95_ms": percentile(latencies, 0.95),
                    "office_dashboard_rps": len(latencies) / result["wall"],
                    "office_dashboard_errors": int(result["errors"]),
                }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["setup"]:
        setup_main()
    else:
        for name, value in run().items():
            print(f"{name}: {value:.3f}" if isinstance(value, float) else f"{name}: {value}", flush=True)
