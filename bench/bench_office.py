"""The Biuro page under load: an accountant of 200 client companies, 20 logged-in clients at once (the first
page: the totals of all 200 and the 25 needing attention first).

Served as bench_webload serves its pages (gunicorn from this venv, production settings, a throwaway
database, Redis as the cache when it answers) and loaded by ``wrk`` when it is installed, else by
bench_webload's Python load process (``BENCH_OFFICE_GENERATOR``: auto, wrk, python; closed loop,
keep-alive connections, logged-in sessions). The companies are in mixed states, a third each: connected with
invoices waiting and rejected, needing attention with an offline invoice, never connected; each has a few
sales and new purchase invoices and an import cursor.

Figures: ``office_dashboard_p50_ms``, ``_p95_ms``, ``_rps``, ``_errors``: the load as issue 20 defines it,
nothing changing meanwhile. Then ``office_dashboard_changing_*`` (and ``_changes``, how many were made): the
same load while another process changes what the page shows ``BENCH_OFFICE_CHANGES_PER_S`` (1) times a
second (a client's purchase invoice turns new or read): the page is kept under a digest of what it shows
(ksef_integration/office/content.py), so after each change the next requests render it anew.

**The office imports for all its clients** (issue 20; ``office_import_*``): a second throwaway database;
gunicorn serving the portal and the simulator; one real Celery worker (threads pool, 2 threads, as the
Procfile runs it; Redis as broker and cache); an office company connected with its own KSeF certificate and
``BENCH_OFFICE_IMPORT_CLIENTS`` (200) clients, each having granted the office InvoiceRead in the simulator
and served "przez biuro", each with ``BENCH_OFFICE_IMPORT_INVOICES`` (100) new purchase invoices in KSeF.
Timed: from the beat's fan-out (``companies_due_for_import`` → one ``ksef.import`` per client, all due at
once) until every client's run has succeeded with all its invoices. Run twice on the same data: first with
the simulator's limits off, then (the portal's invoices, cursors and runs cleared) with its production
limits on (the ``default`` profile, = PRD since API 2.5.0).

- ``office_import_all_s``: the time with the production limits on.
- ``office_import_ratio`` = ``office_import_all_s`` ÷ the minimum the limits allow, where::

      minimum = max(T_limits, T_off)
      T_limits = max over clients c, groups g of W_g(k_c,g)   (contexts are counted apart: per NIP + IP)
      W_g(k) = max over windows w of (ceil(k / L_g,w) - 1) * |w|

  ``L_g,w`` the limit of group ``g`` in window ``w`` (1 s, 60 s, 3600 s), ``k_c,g`` the requests client
  ``c`` cannot do without: one ``POST /invoices/exports`` and one status ``GET`` per export the simulator
  started in its context (export parts are pre-signed downloads, not limited). ``T_off``: the same import
  with the limits off, our own pipeline: nothing is faster than that, limits or not. With 100 invoices a
  client needs one export per subject type, so the limits themselves force nothing (T_limits = 0) and the
  ratio says what enforcing them costs us (a worker sleeping on one client's 429 while others wait would
  show here); ``bench_import`` measures a single context whose limits do bind.
- ``office_import_clients``, ``office_import_off_s``, ``office_import_exports``, ``office_import_429s``.

Knobs: ``BENCH_OFFICE_IMPORT_CLIENTS`` (200), ``BENCH_OFFICE_IMPORT_INVOICES`` (100),
``BENCH_OFFICE_IMPORT_TIMEOUT_S`` (1800); ``BENCH_OFFICE_IMPORT=0`` skips this part.

Knobs (environment): ``BENCH_OFFICE_COMPANIES`` (200), ``BENCH_OFFICE_INVOICES`` (invoices per company, 30),
``BENCH_OFFICE_CLIENTS`` (20), ``BENCH_OFFICE_SECONDS`` (15), ``BENCH_OFFICE_WARMUP`` (3),
``BENCH_OFFICE_WORKERS`` (4).

``python bench/bench_office.py setup`` is the helper process this module starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import bench_webload
from bench.common import (
    ROOT,
    bench_database,
    free_port,
    gunicorn,
    helper_run,
    manage,
    pages_check,
    python_load,
    redis_answers,
    server_environment,
    use_wrk,
)

COMPANIES = int(os.environ.get("BENCH_OFFICE_COMPANIES", "200"))
INVOICES = int(os.environ.get("BENCH_OFFICE_INVOICES", "30"))
CLIENTS = int(os.environ.get("BENCH_OFFICE_CLIENTS", "20"))
SECONDS = float(os.environ.get("BENCH_OFFICE_SECONDS", "15"))
WARMUP = float(os.environ.get("BENCH_OFFICE_WARMUP", "3"))
WORKERS = int(os.environ.get("BENCH_OFFICE_WORKERS", "4"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
PATH = "/biuro/"
CHANGES_PER_S = float(os.environ.get("BENCH_OFFICE_CHANGES_PER_S", "1"))
IMPORT = os.environ.get("BENCH_OFFICE_IMPORT", "1") != "0"
IMPORT_CLIENTS = int(os.environ.get("BENCH_OFFICE_IMPORT_CLIENTS", "200"))
IMPORT_INVOICES = int(os.environ.get("BENCH_OFFICE_IMPORT_INVOICES", "100"))
IMPORT_TIMEOUT_S = float(os.environ.get("BENCH_OFFICE_IMPORT_TIMEOUT_S", "1800"))


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


@contextlib.contextmanager
def _changes(env: dict[str, str], rate: float) -> Iterator[dict[str, int]]:
    """While the load runs, a process changes what the page shows ``rate`` times a second (a purchase
    invoice of a client picked at random turns new or read, as imports and people do), so that the page is
    rendered anew after each change. Yields, once it stops, how many changes it made."""
    done: dict[str, int] = {}
    if rate <= 0:
        yield done
        return
    proc = subprocess.Popen(
        [sys.executable, __file__, "changes"],
        cwd=ROOT, env={**env, "BENCH_OFFICE_CHANGES_PER_S": str(rate)}, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        yield done
    finally:
        out, _err = proc.communicate("stop\n", timeout=60)  # a line on its stdin stops it
        done["changes"] = int(json.loads(out)["changes"])


def changes_main() -> None:
    """The changes process: turns one purchase invoice new or read at a time (a QuerySet.update(), as the
    import and the inbox write it) until a line comes on its stdin; prints how many changes it made."""
    import random
    import select

    import django

    django.setup()
    from invoices.models import Direction, Invoice

    ids = list(Invoice.objects.filter(direction=Direction.PURCHASE).values_list("pk", flat=True))
    made = 0
    while not select.select([sys.stdin], [], [], 1 / CHANGES_PER_S)[0]:
        pk = random.choice(ids)
        is_new = Invoice.objects.filter(pk=pk).values_list("is_new", flat=True).get()
        Invoice.objects.filter(pk=pk).update(is_new=not is_new)
        made += 1
    json.dump({"changes": made}, sys.stdout)


def run() -> dict[str, float]:
    figures = _dashboard()
    if IMPORT:
        figures.update(_import())
    return figures


def _dashboard() -> dict[str, float]:
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
                # the page counts every company in its totals (and shows one page of them)
                counted = f'id="total-clients"><a href="{PATH}"><strong>{COMPANIES}</strong>'.encode()
                pages_check(base, {data["cookie_name"]: data["cookies"][0]}, {PATH: counted})
                cfg = {
                    "host": "127.0.0.1", "port": port, "path": PATH, "cookie_name": data["cookie_name"],
                    "cookies": data["cookies"], "clients": CLIENTS, "warmup": WARMUP, "seconds": SECONDS,
                    "think_ms": 0,
                }  # fmt: skip
                wrk = use_wrk("BENCH_OFFICE_GENERATOR")
                _say(f"load generator: {'wrk' if wrk else 'Python (asyncio)'}")
                if wrk:
                    bench_webload.wrk_load(cfg, workdir, WARMUP)
                figures: dict[str, float] = {"office_generator_wrk": int(wrk)}
                # first as the issue defines it (nothing changes), then with changes coming in
                for prefix, rate in (("office_dashboard", 0.0), ("office_dashboard_changing", CHANGES_PER_S)):
                    if prefix != "office_dashboard" and rate <= 0:
                        continue
                    with _changes(env, rate) as changes:
                        if wrk:
                            result = bench_webload.wrk_load(cfg, workdir, SECONDS)
                        else:
                            result = python_load(bench_webload.__file__, env, cfg, _say)
                    if result["errors"]:
                        log = (workdir / "gunicorn.log").read_text(errors="replace")
                        _say(f"{result['errors']} errors; the server's log ends with:\n{log[-4000:]}")
                    figures |= {
                        f"{prefix}_p50_ms": result["p50"],
                        f"{prefix}_p95_ms": result["p95"],
                        f"{prefix}_rps": result["rps"],
                        f"{prefix}_errors": int(result["errors"]),
                    }
                    if rate > 0:
                        figures[f"{prefix}_changes"] = changes.get("changes", 0)
                return figures
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --- the office importing for all its clients -------------------------------------------------------------


def _import() -> dict[str, float]:
    from bench import bench_send
    from bench.common import wait_until

    workdir = Path(tempfile.mkdtemp(prefix="ksef-office-import-"))
    try:
        with bench_database(workdir, "office_import", _say) as database_url:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            redis_url = os.environ.get("REDIS_URL") or REDIS_URL
            if not redis_answers(redis_url):
                raise RuntimeError(f"Redis does not answer at {redis_url}: the office import needs it")
            base_env = server_environment(database_url, workdir, REDIS_URL=redis_url)
            env = bench_send._portal_env(base_env, f"{base}/ksef-sim/v2", f"bench-office-{os.getpid()}")
            env.update({"SITE_URL": base, "REDIS_URL": redis_url})
            manage(env, "migrate", "--noinput", "-v", "0")
            with (
                gunicorn(env, workdir, port=port, workers=2, threads=4),
                bench_send._worker(env, workdir, "worker-office"),
            ):
                assert wait_until(lambda: (workdir / "worker-office.log").exists(), 10)
                _say(f"import: {IMPORT_CLIENTS} clients x {IMPORT_INVOICES} invoices, 1 worker x 2 threads")
                data = helper_run(__file__, env, "import", timeout=2 * IMPORT_TIMEOUT_S + 1800)
            return {k: float(v) for k, v in data.items()}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def import_main() -> None:
    """The driver (the portal's settings, the bench's database): build the office and its clients, then
    time the fan-out's imports twice (limits off, production limits); print the figures as JSON."""
    import datetime as dt
    import math

    import django

    django.setup()
    from django.db.models import Count
    from django.utils import timezone

    from accounts.models import Company, Membership, Role
    from invoices.models import Contractor, Invoice
    from ksef_integration import queue
    from ksef_integration.connect import services as connect_services
    from ksef_integration.importing.services import companies_due_for_import
    from ksef_integration.models import ImportFailure, ImportRun, KsefConnection, SyncCursor
    from ksef_simulator import services_core, services_invoices
    from ksef_simulator import services_permissions as sim_permissions
    from ksef_simulator.conf import config_update
    from ksef_simulator.limits import PRODUCTION_LIMITS
    from ksef_simulator.models import RateLimitHit, SimExport
    from tests.factories import UserFactory, valid_nip

    config_update(
        token_activation_delay=0, auth_delay=0, invoice_processing_delay=0, permanent_storage_lag=0,
        hwm_lag=0, permission_operation_delay=0, rate_limit_profile="off",
    )  # fmt: skip
    started = time.perf_counter()
    user = UserFactory.create(email="biuro-import@example.com")
    office = Company.objects.create(
        name="Biuro Rachunkowe sp. z o.o.", nip=valid_nip(), address_line1="ul. A 1"
    )
    Membership.objects.create(user=user, company=office, role=Role.OWNER)
    password = secrets.token_urlsafe(12)
    certificate, key, _serial = services_core.certificate_issue(
        nip=office.nip, kind="Authentication", key_type="EC", password=password
    )
    connect_services.connection_connect_certificate(
        company=office, user=user, certificate_bytes=certificate.encode(), private_key_bytes=key.encode(),
        password=password,
    )  # fmt: skip
    KsefConnection.objects.filter(company=office).update(auto_import=False)  # the clients are timed
    today = timezone.localdate()
    clients = []
    for n in range(IMPORT_CLIENTS):
        client = Company.objects.create(
            name=f"Klient {n:03d} sp. z o.o.", nip=valid_nip(), address_line1="ul. B 1"
        )
        Membership.objects.create(user=user, company=client, role=Role.ACCOUNTANT)
        owner = sim_permissions.Actor(context_nip=client.nip, subject_type="Nip", subject_value=client.nip)
        sim_permissions.grant_to_entity(
            actor=owner, nip=office.nip, permissions=[("InvoiceRead", False)], description="Biuro",
            full_name=office.name,
        )  # fmt: skip
        connect_services.connection_connect_via_office(company=client, user=user, office=office)
        KsefConnection.objects.filter(company=client).update(
            auto_import=True, import_start_date=today - dt.timedelta(days=20)
        )
        services_invoices.invoices_generate(
            buyer_nip=client.nip, count=IMPORT_INVOICES, date_from=today - dt.timedelta(days=10),
            date_to=today, sellers=20, seed=n,
        )  # fmt: skip
        clients.append(client)
    print(f"bench_office: import setup {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    ids = [c.pk for c in clients]

    def phase(name: str) -> float:
        due = companies_due_for_import()
        if sorted(due) != sorted(ids):
            raise RuntimeError(f"{len(due)} companies due, expected the {len(ids)} clients")
        start = time.perf_counter()
        for company_id in due:  # what the beat's ksef.import_due does
            queue.import_company(company_id=company_id, expires=10 * 60)
        runs = ImportRun.objects.filter(company_id__in=ids)
        deadline = time.monotonic() + IMPORT_TIMEOUT_S
        while runs.filter(status=ImportRun.Status.SUCCEEDED).count() < len(ids):
            if time.monotonic() > deadline:
                states = dict(runs.values_list("status").annotate(n=Count("id")))
                raise RuntimeError(f"{name}: not all imported in {IMPORT_TIMEOUT_S:.0f} s: {states}")
            time.sleep(0.5)
        elapsed = time.perf_counter() - start
        counts = Invoice.objects.filter(company_id__in=ids).values("company_id").annotate(n=Count("id"))
        if len(counts) != len(ids) or any(row["n"] != IMPORT_INVOICES for row in counts):
            raise RuntimeError(f"{name}: not every client has its {IMPORT_INVOICES} invoices")
        failed = runs.exclude(status=ImportRun.Status.SUCCEEDED).count()
        print(f"bench_office: {name}: {elapsed:.1f} s ({failed} runs not succeeded)", file=sys.stderr)
        return elapsed

    off = phase("limits off")
    Invoice.objects.filter(company_id__in=ids).delete()
    Contractor.objects.filter(company_id__in=ids).delete()
    for model in (SyncCursor, ImportRun, ImportFailure):
        model.objects.filter(company_id__in=ids).delete()
    SimExport.objects.all().delete()
    RateLimitHit.objects.all().delete()
    config_update(rate_limit_profile="default")
    limited = phase("production limits")
    blocks = RateLimitHit.objects.filter(key__startswith="block|").count()
    windows = {"perSecond": 1.0, "perMinute": 60.0, "perHour": 3600.0}
    exports = dict(SimExport.objects.values_list("context_value").annotate(n=Count("id")))
    t_limits = 0.0
    for count in exports.values():
        for group in ("invoiceExport", "invoiceExportStatus"):
            for window, seconds in windows.items():
                limit = PRODUCTION_LIMITS[group][window]
                if limit > 0:
                    t_limits = max(t_limits, (math.ceil(count / limit) - 1) * seconds)
    minimum = max(t_limits, off)
    print(
        f"bench_office: T_limits {t_limits:.0f} s, T_off {off:.1f} s; {sum(exports.values())} exports, "
        f"{blocks} 429 blocks",
        file=sys.stderr,
    )
    json.dump(
        {
            "office_import_all_s": limited,
            "office_import_ratio": limited / minimum,
            "office_import_off_s": off,
            "office_import_clients": len(ids),
            "office_import_exports": sum(exports.values()),
            "office_import_429s": blocks,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["import"]:
        import_main()
    elif sys.argv[1:] == ["setup"]:
        setup_main()
    elif sys.argv[1:] == ["changes"]:
        changes_main()
    else:
        for name, value in run().items():
            print(f"{name}: {value:.3f}" if isinstance(value, float) else f"{name}: {value}", flush=True)
