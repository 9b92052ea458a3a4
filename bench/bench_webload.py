"""Web latency and throughput under load: gunicorn serving the app, 50 logged-in clients in another process.

The server is gunicorn from this venv with the production settings (``DEBUG=0``, persistent database
connections) against a throwaway database: a PostgreSQL database created for the run and dropped afterwards
when PostgreSQL answers (``DATABASE_URL``, else postgres@127.0.0.1:5432), otherwise a temporary SQLite
file; which one is said on stderr. Redis (``BENCH_REDIS_URL``, db 6 by default) is the cache when it
answers, as in production. The company holds 100,000 invoices (``bench.common.invoices_bulk_build``, as
bench_invoices), one issued invoice with a line (for its page and PDF), and is connected to KSeF (the
simulator of the same server, with a KSeF token).

The load generator is another process: ``wrk`` (Debian's package) when it is installed, else a Python one
(asyncio, raw HTTP/1.1 keep-alive sockets). On a 2-core machine the generator takes CPU from the server:
wrk ~0.1 ms per request, the Python one ~0.4 ms, so wrk measures the server more faithfully and the Python
one stays for machines without wrk (``BENCH_WEBLOAD_GENERATOR``: ``auto``, ``wrk`` or ``python``; which one
ran is said on stderr and printed as ``web_generator_wrk`` 1/0). Both keep ``CLIENTS`` connections, each
sending its next request as soon as the previous answer is read (closed loop, no think time); the Python
one gives each connection its own session, wrk one session per thread. Each page is measured on its own: a
warm-up, then ``SECONDS`` of measurement. An error is any answer other than 200, a broken connection or a
timeout.

Server: ``WORKERS`` (4) gunicorn processes, sync workers by default (``THREADS`` = 1). The pages are CPU-bound
Python, so processes, not threads, use the 2 cores; 4 rather than 2 keep both cores busy while some requests
wait for PostgreSQL. Sync workers answer one request per connection, as behind a reverse proxy that does not
keep upstream connections alive; the load generator then reconnects. Measured on 2026-11-25 (list, 100,000
invoices, 50 clients, shared machine): sync 4 x 1 gave p95 1.9 s at 28.6 req/s; gthread 4 x 4 with keep-alive
gave a better median (0.8 s) and 34.6 req/s but p95 3.6 s, because each keep-alive connection stays with the
process that accepted it and the processes end up unevenly loaded. gthread also exposes a thread-safety bug of
the PDF rendering (docs/QUALITY.md). ``THREADS`` > 1 selects gthread.

Figures per page (``list``, ``invoice``, ``pdf``, ``settings``, ``connect``): ``web_<page>_p50_ms``,
``_p95_ms``, ``_p99_ms``, ``_rps`` and ``_errors``.

Knobs (environment): ``BENCH_WEBLOAD_CLIENTS`` (50), ``BENCH_WEBLOAD_SECONDS`` (15), ``BENCH_WEBLOAD_WARMUP``
(3), ``BENCH_WEBLOAD_WORKERS`` (4), ``BENCH_WEBLOAD_THREADS`` (1), ``BENCH_WEBLOAD_INVOICES`` (100000),
``BENCH_WEBLOAD_GENERATOR`` (auto),
``BENCH_WEBLOAD_PAGES`` (comma-separated subset of the pages), ``BENCH_WEBLOAD_THINK_MS`` (0: a pause after
each answer, to model people rather than ``wrk``; the stable figures are taken without it).

``python bench/bench_webload.py setup`` and ``... load`` are the two helper processes this module starts.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    bench_database,
    free_port,
    gunicorn,
    helper_run,
    manage,
    pages_check,
    python_load,
    redis_answers,
    server_environment,
)
from bench.common import use_wrk as common_use_wrk

CLIENTS = int(os.environ.get("BENCH_WEBLOAD_CLIENTS", "50"))
SECONDS = float(os.environ.get("BENCH_WEBLOAD_SECONDS", "15"))
WARMUP = float(os.environ.get("BENCH_WEBLOAD_WARMUP", "3"))
WORKERS = int(os.environ.get("BENCH_WEBLOAD_WORKERS", "4"))
THREADS = int(os.environ.get("BENCH_WEBLOAD_THREADS", "1"))
INVOICES = int(os.environ.get("BENCH_WEBLOAD_INVOICES", "100000"))
THINK_MS = float(os.environ.get("BENCH_WEBLOAD_THINK_MS", "0"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
PAGES = ("list", "invoice", "pdf", "settings", "connect")
REQUEST_TIMEOUT_S = 30.0
WRK_THREADS = 2


def _say(message: str) -> None:
    print(f"bench_webload: {message}", file=sys.stderr, flush=True)


# --- the setup process (Django, the server's database) ---------------------------------------------------


def setup_main() -> None:
    """Build the company and its logged-in sessions; print what the load needs as JSON."""
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from accounts.models import Role
    from bench.common import invoices_bulk_build
    from invoices import services as invoice_services
    from ksef_integration.connect.services import connection_connect_token
    from ksef_integration.models import KsefConnection
    from ksef_simulator import services_core
    from ksef_simulator.conf import config_update
    from tests.factories import MembershipFactory
    from tests.invoices.factories import issue_data

    membership = MembershipFactory.create(role=Role.OWNER)
    company, user = membership.company, membership.user
    config_update(token_activation_delay=0, auth_delay=0, invoice_processing_delay=0)
    _, token = services_core.token_generate(
        nip=company.nip, permissions=["InvoiceRead", "InvoiceWrite"], description="bench"
    )
    connection_connect_token(company=company, user=user, raw_token=token)
    KsefConnection.objects.filter(company=company).update(auto_send=False, auto_import=False)
    invoices_bulk_build(company=company, count=INVOICES)
    today = timezone.localdate()
    invoice = invoice_services.invoice_issue(
        company=company, user=user, data=issue_data(issue_date=today, sale_date=today, due_date=today)
    )
    if connection.vendor == "postgresql":
        # Measure a settled database, as in production: without this, autovacuum works through the 100,000
        # fresh rows during the first page's measurement and takes CPU from the server.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")
    cookies = []
    for _ in range(CLIENTS):
        client = Client()
        client.force_login(user)
        cookies.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    json.dump(
        {
            "cookie_name": settings.SESSION_COOKIE_NAME,
            "cookies": cookies,
            "invoice": str(invoice.uuid),
            "number": invoice.number,
        },
        sys.stdout,
    )


# --- the load process (asyncio, raw HTTP/1.1 keep-alive) -------------------------------------------------


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, whether the connection stays open); reads the whole body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip().lower()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.read()
        return status, False
    return status, headers.get("connection") != "close"


async def _client(
    cfg: dict[str, Any], cookie: str, measure_from: float, until: float, out: dict[str, Any]
) -> None:
    request = (
        f"GET {cfg['path']} HTTP/1.1\r\nHost: {cfg['host']}:{cfg['port']}\r\n"
        f"Cookie: {cfg['cookie_name']}={cookie}\r\nAccept: text/html,*/*\r\nAccept-Language: pl\r\n"
        "User-Agent: ksef-bench-webload\r\n\r\n"
    ).encode()
    writer: asyncio.StreamWriter | None = None
    reader: asyncio.StreamReader | None = None
    while time.monotonic() < until:
        start = time.monotonic()
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(cfg["host"], cfg["port"]), REQUEST_TIMEOUT_S
                )
            assert reader is not None
            assert writer is not None
            writer.write(request)
            status, keep = await asyncio.wait_for(_read_response(reader), REQUEST_TIMEOUT_S)
            error = None if status == 200 else f"HTTP {status}"
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            error, keep = f"{type(exc).__name__}: {exc}", False
        elapsed = time.monotonic() - start
        if start >= measure_from:
            if error is None:
                out["latencies"].append(elapsed * 1000)
            else:
                out["errors"] += 1
                if len(out["samples"]) < 5:
                    out["samples"].append(error)
        if not keep and writer is not None:
            writer.close()
            writer = None
        if cfg["think_ms"]:
            await asyncio.sleep(cfg["think_ms"] / 1000)


async def _load(cfg: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"latencies": [], "errors": 0, "samples": []}
    now = time.monotonic()
    measure_from = now + cfg["warmup"]
    until = measure_from + cfg["seconds"]
    cookies = cfg["cookies"]
    await asyncio.gather(
        *(_client(cfg, cookies[i % len(cookies)], measure_from, until, out) for i in range(cfg["clients"]))
    )
    # Requests still running at the end were started inside the window; the wall time covers them.
    out["wall"] = max(cfg["seconds"], time.monotonic() - measure_from)
    return out


def load_main() -> None:
    cfg = json.load(sys.stdin)
    json.dump(asyncio.run(_load(cfg)), sys.stdout)


# --- the load with wrk --------------------------------------------------------------------------------

# Each wrk thread logs in with its own session and counts every answer other than 200 (wrk itself counts
# only 4xx/5xx); done() prints what the figures need, in milliseconds.
_WRK_SCRIPT = """
local cookies = {%(cookies)s}
local threads = {}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("cookie", cookies[(counter - 1) %% #cookies + 1])
  table.insert(threads, thread)
end
function init(args)
  wrk.headers["Cookie"] = "%(cookie_name)s=" .. cookie
  wrk.headers["Accept"] = "text/html,*/*"
  wrk.headers["Accept-Language"] = "pl"
  not_ok = 0
end
function response(status, headers, body)
  if status ~= 200 then not_ok = not_ok + 1 end
end
function done(summary, latency, requests)
  local not_ok_total = 0
  for _, thread in ipairs(threads) do not_ok_total = not_ok_total + thread:get("not_ok") end
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%f %%f %%f %%f\\n", summary.requests,
    not_ok_total + e.connect + e.read + e.write + e.timeout, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.mean / 1000))
end
"""


def wrk_load(cfg: dict[str, Any], workdir: Path, seconds: float) -> dict[str, float]:
    script = workdir / "webload.lua"
    script.write_text(
        _WRK_SCRIPT
        % {
            "cookies": ", ".join(f'"{c}"' for c in cfg["cookies"][:WRK_THREADS]),
            "cookie_name": cfg["cookie_name"],
        }
    )
    done = subprocess.run(
        [
            "wrk", f"-t{WRK_THREADS}", f"-c{cfg['clients']}", f"-d{max(1, round(seconds))}s",
            f"--timeout={int(REQUEST_TIMEOUT_S)}s", "-s", str(script),
            f"http://{cfg['host']}:{cfg['port']}{cfg['path']}",
        ],
        capture_output=True, text=True, timeout=seconds + 120, check=True,
    )  # fmt: skip
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    requests, errors, duration_us, p50, p95, p99, _mean = line.split()[1:]
    ok = int(requests) - int(errors)
    return {
        "p50": float(p50), "p95": float(p95), "p99": float(p99),
        "rps": ok / (int(duration_us) / 1e6), "errors": int(errors),
    }  # fmt: skip


# --- the benchmark ---------------------------------------------------------------------------------------


def _expected(paths: dict[str, str], number_marker: str) -> dict[str, bytes]:
    """What each page must show before the load starts."""
    markers = {
        "list": b"doc-card__party",
        "invoice": number_marker.encode(),
        "pdf": b"%PDF",
        "settings": b"KSeF",
    }
    return {path: markers.get(page, b"") for page, path in paths.items()}


def run() -> dict[str, float]:
    wanted = [p for p in os.environ.get("BENCH_WEBLOAD_PAGES", ",".join(PAGES)).split(",") if p]
    workdir = Path(tempfile.mkdtemp(prefix="ksef-webload-"))
    try:
        with bench_database(workdir, "web", _say) as database_url:
            port = free_port()
            extra = {"KSEF_API_URL": f"http://127.0.0.1:{port}/ksef-sim/v2", "ALLOWED_HOSTS": "127.0.0.1"}
            if redis_answers(REDIS_URL):
                extra["REDIS_URL"] = REDIS_URL
            else:
                _say(f"Redis does not answer at {REDIS_URL}: the file cache")
            env = server_environment(database_url, workdir, **extra)
            manage(env, "migrate", "--noinput", "-v", "0")
            # DEBUG=0 serves static files from the manifest (var/staticfiles), as a deployment would.
            manage(env, "collectstatic", "--noinput", "-v", "0")
            kind = f"gthread workers x {THREADS} threads" if THREADS > 1 else "sync workers"
            _say(f"gunicorn: {WORKERS} {kind}; {CLIENTS} clients")
            with gunicorn(env, workdir, port=port, workers=WORKERS, threads=THREADS) as base:
                started = time.perf_counter()
                data = helper_run(__file__, {**env, "BENCH_WEBLOAD_CLIENTS": str(CLIENTS)}, "setup")
                _say(f"{INVOICES} invoices, {CLIENTS} sessions: {time.perf_counter() - started:.0f} s")
                invoice = data["invoice"]
                paths = {
                    "list": "/dokumenty/",
                    "invoice": f"/dokumenty/{invoice}/",
                    "pdf": f"/dokumenty/{invoice}/pdf/",
                    "settings": "/ustawienia/ksef/",
                    "connect": "/uslugi-dodatkowe/ksef/token/",
                }
                paths = {page: path for page, path in paths.items() if page in wanted}
                pages_check(base, {data["cookie_name"]: data["cookies"][0]}, _expected(paths, data["number"]))
                use_wrk = common_use_wrk("BENCH_WEBLOAD_GENERATOR")
                _say(f"load generator: {'wrk' if use_wrk else 'Python (asyncio)'}")
                figures: dict[str, float] = {"web_generator_wrk": int(use_wrk)}
                for page, path in paths.items():
                    cfg = {
                        "host": "127.0.0.1", "port": port, "path": path, "cookie_name": data["cookie_name"],
                        "cookies": data["cookies"], "clients": CLIENTS, "warmup": WARMUP, "seconds": SECONDS,
                        "think_ms": THINK_MS,
                    }  # fmt: skip
                    if use_wrk and not THINK_MS:
                        wrk_load(cfg, workdir, WARMUP)
                        result = wrk_load(cfg, workdir, SECONDS)
                    else:
                        result = python_load(__file__, env, cfg, _say)
                    if result["errors"]:
                        _say(f"{page}: {result['errors']} errors")
                        log = (workdir / "gunicorn.log").read_text(errors="replace")
                        _say(f"the server's log ends with:\n{log[-4000:]}")
                    figures |= {
                        f"web_{page}_p50_ms": result["p50"],
                        f"web_{page}_p95_ms": result["p95"],
                        f"web_{page}_p99_ms": result["p99"],
                        f"web_{page}_rps": result["rps"],
                        f"web_{page}_errors": int(result["errors"]),
                    }
        return figures
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["setup"]:
        setup_main()
    elif sys.argv[1:] == ["load"]:
        load_main()
    else:
        for name, value in run().items():
            print(f"{name}: {value:.3f}" if isinstance(value, float) else f"{name}: {value}", flush=True)
