"""The web app under a mix of real use: many logged-in users clicking through the pages, each after a think
time, on the 100,000-invoice company.

The server is the one of ``bench_webload`` (gunicorn from this venv, production settings, ``WORKERS`` (4)
sync workers writing an access log, a throwaway PostgreSQL database, else a temporary SQLite file; Redis
(``BENCH_REDIS_URL``, db 6) as the cache when it answers). The company holds 100,000 invoices
(``bench.common.invoices_bulk_build``), ``SAMPLE`` issued sales invoices with lines and ``SAMPLE``
purchase invoices imported from KSeF (FA(3) XML kept beside them), and is connected to KSeF (the simulator,
with a token). ``USERS`` (200) members of the company are logged in, one session each.

The load is an open loop, as people are: each user sends a request, then the next one a think time later
(uniformly 0.5-1.5 x ``THINK_S``, mean 1 s) whether the previous answer came or not, each request on a new
connection (sync workers close it after the answer). So the offered rate is ``USERS / THINK_S`` (~200 req/s)
whatever the server does, and a slow server is not hidden by fewer requests (no coordinated omission): the
latency is measured from the moment the request was due. Each request picks its page by the weights below,
like real use: the Dokumenty list (sales, 1 in 4 purchases) 40 %, an invoice page 25 %, the Wystaw form
10 %, an invoice's PDF 10 %, Dane i ustawienia -> KSeF 10 %, Start 5 %; an invoice or PDF is one of the
``2 x SAMPLE`` invoices at random. A warm-up (``WARMUP`` s), then ``SECONDS`` (60) of measurement. An error
is any answer other than 200, a broken connection or a timeout (30 s).

Figures: ``webmix_<page>_p95_ms`` for each page (``list``, ``invoice``, ``issue``, ``pdf``, ``settings``,
``start``), ``webmix_<page>_p50_ms``, ``webmix_rps`` (answers 200 per second, all pages) and
``webmix_errors``.

Knobs (environment): ``BENCH_WEBMIX_USERS`` (200), ``BENCH_WEBMIX_THINK_S`` (1.0), ``BENCH_WEBMIX_SECONDS``
(60), ``BENCH_WEBMIX_WARMUP`` (10), ``BENCH_WEBMIX_INVOICES`` (100000), ``BENCH_WEBMIX_SAMPLE`` (10),
``BENCH_WEBLOAD_WORKERS`` (4, shared with webload).

``python bench/bench_webmix.py setup`` and ``... load`` are the two helper processes this module starts.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
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
    percentile,
    redis_answers,
    server_environment,
)

USERS = int(os.environ.get("BENCH_WEBMIX_USERS", "200"))
THINK_S = float(os.environ.get("BENCH_WEBMIX_THINK_S", "1.0"))
SECONDS = float(os.environ.get("BENCH_WEBMIX_SECONDS", "60"))
WARMUP = float(os.environ.get("BENCH_WEBMIX_WARMUP", "10"))
INVOICES = int(os.environ.get("BENCH_WEBMIX_INVOICES", "100000"))
SAMPLE = int(os.environ.get("BENCH_WEBMIX_SAMPLE", "10"))
WORKERS = int(os.environ.get("BENCH_WEBLOAD_WORKERS", "4"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
REQUEST_TIMEOUT_S = 30.0
# The page mix, in percent of the requests.
MIX = {"list": 40, "invoice": 25, "issue": 10, "pdf": 10, "settings": 10, "start": 5}


def _say(message: str) -> None:
    print(f"bench_webmix: {message}", file=sys.stderr, flush=True)


# --- the setup process (Django, the server's database) ---------------------------------------------------


def _imported_purchases(company: Any, count: int) -> list[str]:
    """``count`` purchase invoices imported as KSeF gives them (FA(3) XML); their uuids."""
    from invoices.models import Invoice
    from ksef_integration.importing.mapping import window_import
    from ksef_integration.models import SubjectType
    from tests.importing.fa3_docs import faktura

    files = {}
    for n in range(1, count + 1):
        fa = f"""<KodWaluty>PLN</KodWaluty><P_1>2026-09-{n % 28 + 1:02d}</P_1><P_2>ZK/{n}/2026</P_2>
    <P_13_1>{100 * n}.00</P_13_1><P_14_1>{23 * n}.00</P_14_1><P_15>{123 * n}.00</P_15>
    {{adnotacje}}<RodzajFaktury>VAT</RodzajFaktury>
    <FaWiersz><NrWierszaFa>1</NrWierszaFa><P_7>Deski sosnowe</P_7><P_8A>m3</P_8A><P_8B>{n}</P_8B>
      <P_9A>100.00</P_9A><P_11>{100 * n}.00</P_11><P_12>23</P_12></FaWiersz>
    <FaWiersz><NrWierszaFa>2</NrWierszaFa><P_7>Transport</P_7><P_8B>1</P_8B><P_9A>0.00</P_9A>
      <P_11>0.00</P_11><P_12>23</P_12></FaWiersz>"""
        files[f"5265877635-20260901-BENCH{n:06d}-{n:02X}"] = faktura(fa, buyer_nip=company.nip)
    window_import(company=company, subject_type=SubjectType.SUBJECT2, invoices=files, metadata=())
    return [
        str(u) for u in Invoice.objects.filter(ksef_number__in=list(files)).values_list("uuid", flat=True)
    ]


def setup_main() -> None:
    """Build the company, its invoices and its logged-in users; print what the load needs as JSON."""
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

    owner = MembershipFactory.create(role=Role.OWNER, user__password=None)
    company = owner.company
    config_update(token_activation_delay=0, auth_delay=0, invoice_processing_delay=0)
    _, token = services_core.token_generate(
        nip=company.nip, permissions=["InvoiceRead", "InvoiceWrite"], description="bench"
    )
    connection_connect_token(company=company, user=owner.user, raw_token=token)
    KsefConnection.objects.filter(company=company).update(auto_send=False, auto_import=False)
    invoices_bulk_build(company=company, count=INVOICES)
    today = timezone.localdate()
    sample = []
    for _ in range(SAMPLE):
        invoice = invoice_services.invoice_issue(
            company=company,
            user=owner.user,
            data=issue_data(issue_date=today, sale_date=today, due_date=today),
        )
        sample.append(str(invoice.uuid))
    sample += _imported_purchases(company, SAMPLE)
    members = [owner] + [
        # Owners and accountants (who may issue invoices), as in an accounting office.
        MembershipFactory.create(
            company=company, role=Role.OWNER if i % 10 == 0 else Role.ACCOUNTANT, user__password=None
        )
        for i in range(1, USERS)
    ]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")  # a settled database, as in production (see bench_webload)
    cookies = []
    for membership in members:
        client = Client()
        client.force_login(membership.user)
        cookies.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    json.dump(
        {"cookie_name": settings.SESSION_COOKIE_NAME, "cookies": cookies, "invoices": sample}, sys.stdout
    )


# --- the load process (asyncio, one connection per request, open loop) ----------------------------------


def _paths(invoices: list[str], rng: random.Random) -> dict[str, Any]:
    """For each page, a function giving the path of one request."""
    return {
        "list": lambda: "/dokumenty/?direction=purchase" if rng.random() < 0.25 else "/dokumenty/",
        "invoice": lambda: f"/dokumenty/{rng.choice(invoices)}/",
        "issue": lambda: "/dokumenty/wystaw/",
        "pdf": lambda: f"/dokumenty/{rng.choice(invoices)}/pdf/",
        "settings": lambda: "/ustawienia/ksef/",
        "start": lambda: "/",
    }


async def _request(cfg: dict[str, Any], cookie: str, path: str) -> str | None:
    """One GET on a new connection, the whole answer read; None when it is a 200, else what went wrong."""
    reader, writer = await asyncio.open_connection(cfg["host"], cfg["port"])
    try:
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: {cfg['host']}:{cfg['port']}\r\n"
                f"Cookie: {cfg['cookie_name']}={cookie}\r\nAccept: text/html,*/*\r\nAccept-Language: pl\r\n"
                "User-Agent: ksef-bench-webmix\r\nConnection: close\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        await reader.read()  # to the end: the server closes the connection after the answer
        return None if status == 200 else f"HTTP {status} for {path}"
    finally:
        writer.close()


async def _user(
    cfg: dict[str, Any], cookie: str, rng: random.Random, out: dict[str, Any], tasks: set[Any]
) -> None:
    pages = list(MIX)
    weights = [MIX[page] for page in pages]
    paths = _paths(cfg["invoices"], rng)
    loop = asyncio.get_running_loop()
    due = cfg["start"] + rng.uniform(0, cfg["think_s"])  # users start spread over one think time
    while due < cfg["until"]:
        await asyncio.sleep(max(0.0, due - loop.time()))
        page = rng.choices(pages, weights)[0]
        task = asyncio.create_task(_measured(cfg, cookie, page, paths[page](), due, out))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        due += rng.uniform(0.5, 1.5) * cfg["think_s"]


async def _measured(
    cfg: dict[str, Any], cookie: str, page: str, path: str, due: float, out: dict[str, Any]
) -> None:
    loop = asyncio.get_running_loop()
    try:
        error = await asyncio.wait_for(_request(cfg, cookie, path), REQUEST_TIMEOUT_S)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc} for {path}"
    elapsed_ms = (loop.time() - due) * 1000  # from when the request was due, not when it went out
    if due < cfg["measure_from"]:
        return
    if error is None:
        out["latencies"].setdefault(page, []).append(elapsed_ms)
    else:
        out["errors"][page] = out["errors"].get(page, 0) + 1
        if len(out["samples"]) < 5:
            out["samples"].append(error)


async def _load(cfg: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"latencies": {}, "errors": {}, "samples": []}
    loop = asyncio.get_running_loop()
    cfg = {**cfg, "start": loop.time()}
    cfg["measure_from"] = cfg["start"] + cfg["warmup"]
    cfg["until"] = cfg["measure_from"] + cfg["seconds"]
    tasks: set[Any] = set()
    rng = random.Random(cfg["seed"])
    await asyncio.gather(
        *(_user(cfg, cookie, random.Random(rng.random()), out, tasks) for cookie in cfg["cookies"])
    )
    if tasks:
        await asyncio.wait(set(tasks))
    out["wall"] = cfg["seconds"]
    return out


def load_main() -> None:
    cfg = json.load(sys.stdin)
    json.dump(asyncio.run(_load(cfg)), sys.stdout)


# --- the benchmark ---------------------------------------------------------------------------------------


def _expected(data: dict[str, Any]) -> dict[str, bytes]:
    """What each page of the mix must show before the load starts."""
    invoice = data["invoices"][0]
    return {
        "/dokumenty/": b"doc-card__party",
        f"/dokumenty/{invoice}/": invoice.encode(),
        "/dokumenty/wystaw/": b"<form",
        f"/dokumenty/{invoice}/pdf/": b"%PDF",
        f"/dokumenty/{data['invoices'][-1]}/pdf/": b"%PDF",
        "/ustawienia/ksef/": b"KSeF",
        "/": b"<html",
    }


def run() -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="ksef-webmix-"))
    try:
        with bench_database(workdir, "mix", _say) as database_url:
            port = free_port()
            extra = {"KSEF_API_URL": f"http://127.0.0.1:{port}/ksef-sim/v2", "ALLOWED_HOSTS": "127.0.0.1"}
            if redis_answers(REDIS_URL):
                extra["REDIS_URL"] = REDIS_URL
            else:
                _say(f"Redis does not answer at {REDIS_URL}: the file cache")
            env = server_environment(database_url, workdir, **extra)
            manage(env, "migrate", "--noinput", "-v", "0")
            manage(env, "collectstatic", "--noinput", "-v", "0")
            _say(f"gunicorn: {WORKERS} sync workers; {USERS} users, think time {THINK_S} s, open loop")
            with gunicorn(env, workdir, port=port, workers=WORKERS, threads=1) as base:
                started = time.perf_counter()
                data = helper_run(__file__, env, "setup")
                _say(f"{INVOICES} invoices, {USERS} sessions: {time.perf_counter() - started:.0f} s")
                pages_check(base, {data["cookie_name"]: data["cookies"][-1]}, _expected(data))
                cfg = {
                    "host": "127.0.0.1", "port": port, "cookie_name": data["cookie_name"],
                    "cookies": data["cookies"], "invoices": data["invoices"], "think_s": THINK_S,
                    "warmup": WARMUP, "seconds": SECONDS, "seed": 17,
                }  # fmt: skip
                result = helper_run(__file__, env, "load", json.dumps(cfg), timeout=WARMUP + SECONDS + 300)
                if result["errors"]:
                    log = (workdir / "gunicorn.log").read_text(errors="replace")
                    _say(f"the server's log ends with:\n{log[-4000:]}")
        errors = sum(result["errors"].values())
        if errors:
            _say(f"errors by page: {result['errors']}; e.g. {result['samples']}")
        figures: dict[str, float] = {}
        answered = 0
        for page in MIX:
            latencies = result["latencies"].get(page, [])
            answered += len(latencies)
            figures[f"webmix_{page}_p50_ms"] = percentile(latencies, 0.50)
            figures[f"webmix_{page}_p95_ms"] = percentile(latencies, 0.95)
        figures["webmix_rps"] = answered / result["wall"]
        figures["webmix_errors"] = errors
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
