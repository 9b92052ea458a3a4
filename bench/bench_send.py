"""Delivering issued invoices to KSeF end to end: real Celery workers, the simulator under gunicorn.

Setup (not timed): a throwaway database (temporary SQLite file, or a temporary PostgreSQL database when
``DATABASE_URL`` points at PostgreSQL, as in bench_simulator), migrated once and shared by the simulator
(gunicorn, ``DEBUG=0``, 2 sync workers) and the portal (one ``celery worker --pool threads --concurrency 2``;
Redis as the broker when ``REDIS_URL`` is set, else the file-system broker). A driver process creates a
company, connects it with a KSeF token over HTTP and issues ``INVOICES`` sales invoices (auto-send off).

Timed: from the first ``submission_enqueue`` (all invoices queued in one transaction, as a month-end run
or an import would) until the last submission is ACCEPTED. The run is then checked: every submission
ACCEPTED with a KSeF number and a UPO naming it, and the simulator holds exactly ``INVOICES`` accepted
invoices of the company, one per invoice number, each number ours.

Figures:
- ``send_limits_off_per_s``: invoices per second of that wall time with the simulator's rate limits off.
- ``send_prod_limits_ratio``: the same run with the production limits on (the simulator's ``default``
  profile, equal to PRD since API 2.5.0, ksef-api.md §11.1), divided by the minimum those limits allow::

      minimum = max(T_off, T_limits)
      T_limits = max over groups g of W_g(k_g),  W_g(k) = max over windows w of (ceil(k / L_g,w) - 1) * |w|

  where ``L_g,w`` is the limit of group ``g`` in window ``w`` (1 s, 60 s, 3600 s) and ``k_g`` the fewest
  requests of group ``g`` any client needs to deliver ``n`` invoices and learn their KSeF numbers and UPOs
  (the cheaper of: online, ``n`` sends + 1 session open + ceil(n/1000) list pages; batch, 2 * ceil(n/10000)
  open/close + 1 session status + ceil(n/1000) list pages; UPO downloads use pre-signed URLs, unlimited).
  ``T_off`` is this bench's own wall time for the same number of invoices with the limits off: nothing,
  limits or not, delivers faster than the pipeline itself. A ratio of 1.0 means the limits cost nothing
  beyond what they force; sending 1,000 invoices online would need hours (180 sends per hour).

The run with limits also uses ``INVOICES`` (it takes about as long as the one without: the backlog goes
in one batch session). Knobs: ``BENCH_SEND_INVOICES`` (1000), ``BENCH_SEND_CONCURRENCY`` (2),
``BENCH_SEND_POOL`` (``threads``, as the Procfile runs the worker; ``prefork`` as before issue 16),
``BENCH_SEND_LOG_LEVEL`` and ``BENCH_SEND_KEEP_LOGS`` (a directory for the workers' logs). The
machine is shared: other load lowers ``send_limits_off_per_s`` directly, and the ratio compares two runs
made one after the other, so contention that changes between them moves it by ±15 %.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import requests

from bench import bench_simulator as sim
from bench.common import CONTROL_HEADERS, server_environment

ROOT = Path(__file__).resolve().parent.parent
INVOICES = int(os.environ.get("BENCH_SEND_INVOICES", "1000"))
CONCURRENCY = int(os.environ.get("BENCH_SEND_CONCURRENCY", "2"))
POOL = os.environ.get("BENCH_SEND_POOL", "threads")  # the Procfile's (issue 16); "prefork" as before
DELIVERY_TIMEOUT_S = 600.0
WINDOWS = {"perSecond": 1.0, "perMinute": 60.0, "perHour": 3600.0}


# --- the minimum the limits allow ----------------------------------------------------------------------


def window_floor(requests_needed: int, limits: dict[str, int]) -> float:
    """The least time in which ``requests_needed`` requests fit the sliding windows of one group."""
    if requests_needed <= 0:
        return 0.0
    floor = 0.0
    for name, seconds in WINDOWS.items():
        limit = limits.get(name, -1)
        if limit > 0:
            floor = max(floor, (math.ceil(requests_needed / limit) - 1) * seconds)
    return floor


def limits_floor(invoices: int, table: dict[str, dict[str, int]]) -> float:
    """T_limits (see the module docstring) for ``invoices`` invoices under the limit ``table``."""
    pages = math.ceil(invoices / 1000)
    online = {"invoiceSend": invoices, "onlineSession": 1, "sessionInvoiceList": pages}
    batch = {"batchSession": 2 * math.ceil(invoices / 10_000), "sessionMisc": 1, "sessionInvoiceList": pages}
    return min(
        max(window_floor(count, table[group]) for group, count in plan.items()) for plan in (online, batch)
    )


# --- processes -----------------------------------------------------------------------------------------


def _portal_env(base: dict[str, str], api: str, queue: str) -> dict[str, str]:
    env = dict(base)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "ksefportal.settings",
            "KSEF_API_URL": api,
            "KSEF_SIMULATOR_ENABLED": "1",
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "EMAIL_URL": "dummymail://",
            "LOG_LEVEL": os.environ.get("BENCH_SEND_LOG_LEVEL", "WARNING"),
        }
    )
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    return env


@contextmanager
def _worker(env: dict[str, str], workdir: Path, name: str) -> Iterator[None]:
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "ksefportal", "worker", "--loglevel", "WARNING",
                "--concurrency", str(CONCURRENCY), "--pool", POOL, "--without-gossip",
                "--without-mingle", "--without-heartbeat", "--queues", env["CELERY_TASK_DEFAULT_QUEUE"],
            ],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        time.sleep(1.0)
        if proc.poll() is not None:
            raise RuntimeError(
                "celery worker did not start:\n" + log_path.read_text(errors="replace")[-3000:]
            )
        yield
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _phase(env: dict[str, str], workdir: Path, name: str, count: int) -> dict[str, Any]:
    """Start a worker, run the driver for ``count`` invoices, stop the worker; the driver's JSON result."""
    with _worker(env, workdir, f"worker-{name}"):
        result = subprocess.run(
            [sys.executable, "-m", "bench.bench_send", "drive", str(count)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=DELIVERY_TIMEOUT_S + 300,
            check=False,
        )
    if os.environ.get("BENCH_SEND_KEEP_LOGS"):
        shutil.copy(workdir / f"worker-{name}.log", Path(os.environ["BENCH_SEND_KEEP_LOGS"]) / f"{name}.log")
    if result.returncode != 0:
        log = (workdir / f"worker-{name}.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"bench_send {name} failed:\n{result.stderr.decode()[-3000:]}\nworker:\n{log}")
    return dict(json.loads(result.stdout.decode().strip().splitlines()[-1]))


def run() -> dict[str, float]:
    sim._django()
    from ksef_simulator.limits import PRODUCTION_LIMITS

    workdir = Path(tempfile.mkdtemp(prefix="ksef-send-bench-"))
    try:
        with sim._database(workdir) as database_url:
            base_env = server_environment(database_url, workdir, KSEF_SIMULATOR_RATE_LIMITS="off")
            with sim._server(base_env, workdir) as base:
                env = _portal_env(base_env, f"{base}/ksef-sim/v2", f"bench-send-{uuid.uuid4().hex[:8]}")
                config = f"{base}/ksef-sim/control/config"
                with requests.Session() as http:
                    http.headers.update(CONTROL_HEADERS)
                    http.post(config, json={"rateLimitProfile": "off"}, timeout=30).raise_for_status()
                    off = _phase(env, workdir, "off", INVOICES)
                    http.post(config, json={"rateLimitProfile": "default"}, timeout=30).raise_for_status()
                    prod = _phase(env, workdir, "prod", INVOICES)
                    http.post(config, json={"rateLimitProfile": "off"}, timeout=30).raise_for_status()
        floor = limits_floor(INVOICES, PRODUCTION_LIMITS)
        minimum = max(off["seconds"], floor)
        print(
            f"bench_send: {INVOICES} invoices; limits off {off['seconds']:.1f} s; production limits "
            f"{prod['seconds']:.1f} s; T_limits {floor:.1f} s; milestones (s) off {off['milestones']} "
            f"prod {prod['milestones']}",
            file=sys.stderr,
        )
        return {
            "send_limits_off_per_s": INVOICES / off["seconds"],
            "send_prod_limits_ratio": prod["seconds"] / minimum,
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --- the driver (a separate process with the portal's settings) ------------------------------------------


def _drive(count: int) -> dict[str, Any]:
    import django

    django.setup()
    import datetime as dt
    from collections import Counter
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    from invoices.models import Invoice
    from invoices.services import InvoiceData, LineData, PartyData, invoice_issue
    from ksef_integration.connect.services import connection_connect_token
    from ksef_integration.models import KsefConnection, Submission, SubmissionStatus
    from ksef_integration.sending import drain
    from ksef_simulator import services_core
    from ksef_simulator.models import SimInvoice
    from tests.factories import MembershipFactory

    membership = MembershipFactory.create(user__email=f"bench-{uuid.uuid4().hex[:12]}@example.com")
    company, user, nip = membership.company, membership.user, membership.company.nip
    _, token = services_core.token_generate(
        nip=nip, permissions=["InvoiceRead", "InvoiceWrite"], description="bench"
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
    KsefConnection.objects.filter(company=company).update(auto_send=False)
    today = timezone.localdate()
    party = PartyData(name="Odbiorca sp. z o.o.", nip="5260250274", address_line1="ul. Prosta 1",
                      address_line2="00-950 Warszawa")  # fmt: skip
    invoices = [
        invoice_issue(
            company=company,
            user=None,
            data=InvoiceData(
                party=party,
                lines=[LineData("Usługa", Decimal(1), Decimal(100 + i), "23", "usł.")],
                issue_date=today,
                sale_date=today,
                due_date=today + dt.timedelta(days=14),
                payment_method=6,
                bank_account="61109010140000071219812874",
                idempotency_key=uuid.uuid4(),
            ),
        )
        for i in range(count)
    ]
    start = time.perf_counter()
    with transaction.atomic():
        for invoice in invoices:
            drain.submission_enqueue(invoice=invoice)
    enqueued = time.perf_counter() - start
    rows = Submission.objects.filter(company=company)
    accepted = rows.filter(status=SubmissionStatus.ACCEPTED)
    milestones: dict[str, float] = {"enqueued": enqueued}
    probes = {
        "claimed": rows.exclude(status=SubmissionStatus.PENDING),
        "in_batch": rows.exclude(batch_reference=""),
        "sent": rows.filter(status__in=(SubmissionStatus.SENT, SubmissionStatus.ACCEPTED)),
        "first_accepted": accepted,
    }
    last_sweep = time.monotonic()
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while accepted.count() < count:
        for name, probe in list(probes.items()):
            if probe.exists():
                milestones[name] = time.perf_counter() - start
                del probes[name]
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {accepted.count()} of {count} accepted in {DELIVERY_TIMEOUT_S:.0f} s")
        if time.monotonic() - last_sweep > 30:  # what beat does in production
            drain.submissions_sweep()
            last_sweep = time.monotonic()
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    # Everything delivered once: our numbers, theirs, UPOs.
    ours = set(Invoice.objects.filter(company=company).values_list("number", flat=True))
    held = Counter(
        SimInvoice.objects.filter(context_nip=nip, status_code=200, processed=True).values_list(
            "invoice_number", flat=True
        )
    )
    if set(held) != ours or max(held.values()) != 1 or len(ours) != count:
        raise RuntimeError("KSeF does not hold exactly our invoices, once each")
    for number, upo in accepted.values_list("ksef_number", "upo"):
        if not number or number not in upo:
            raise RuntimeError("an accepted submission lacks its KSeF number or UPO")
    return {"seconds": seconds, "milestones": milestones}


if __name__ == "__main__":
    if sys.argv[1:2] == ["drive"]:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(_drive(int(sys.argv[2]))))
