"""The purchase inbox ("Do zapłaty") of a company with 10,000 purchase invoices, and the pay file (Zapłać) for
1,000 of them (issue 21: the inbox's p95 under 100 ms with 20 concurrent users; a pay file for 1,000 invoices
in under 2 s).

The server is the one of ``bench_webload``: gunicorn from this venv with the production settings, ``WORKERS``
(4) sync workers writing an access log, a throwaway PostgreSQL database (else a temporary SQLite file), Redis
(``BENCH_REDIS_URL``, db 6) as the cache when it answers.

The setup process builds one company with ``INVOICES`` (10,000) purchase invoices as the KSeF import leaves
them (direction purchase, a KSeF number, accepted in KSeF, marked new, the seller's account and due date; 400
sellers; three years of issue dates up to today, due 14 days later), bulk-inserted. Their inbox states: the
oldest 70 % paid (a few of them rejected as "not ours"), the newest 30 % spread over new, awaiting approval,
accepted (at least ``PAY_COUNT`` + 200 of them), in a payment file and rejected, each with its history event.
Some above 15,000 PLN with a white-list check that found the account. ``USERS`` (20) members (owners and
accountants), each logged in, having opened some invoices.

The pay-file figure is timed in the setup process, before the load, on the same database: the service behind
Zapłać (``payments.inbox.purchases_by_uuid`` of the ticked uuids, then ``payments.paying.payment_file_create``
in Elixir-O) for ``PAY_COUNT`` (1,000) accepted invoices, each round in a transaction rolled back afterwards,
the median of ``PAY_ROUNDS`` (3) after one warm-up.

The load: ``USERS`` closed-loop keep-alive connections (each sends the next request when the answer came),
``WARMUP`` (3) s, then ``SECONDS`` (15) s measured. Each request is one of the inbox URLs below by weight —
the default view 40 %, a status filter (accepted) 15 %, the overdue filter 15 %, the second page (the keyset
cursor of the first) 15 %, a seller search 15 % — sent by one of the members at random. ``wrk`` when it is
installed (``BENCH_PURCHASES_GENERATOR``: auto, wrk, python), else an asyncio client. Every answer must be a
200 whose page is the one asked for (the list's ``next`` field repeats the URL) and shows the first invoice
the service gives for that URL (``data-number``); anything else counts as an error.

Figures: ``purchases_inbox_p50_ms``, ``purchases_inbox_p95_ms``, ``purchases_inbox_rps``,
``purchases_inbox_errors`` and ``purchases_payfile_1000_s``.

Knobs (environment): ``BENCH_PURCHASES_INVOICES`` (10000), ``BENCH_PURCHASES_USERS`` (20),
``BENCH_PURCHASES_SECONDS`` (15), ``BENCH_PURCHASES_WARMUP`` (3), ``BENCH_WEBLOAD_WORKERS`` (4).

``python bench/bench_purchases.py setup`` and ``... load`` are the two helper processes this module starts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

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

INVOICES = int(os.environ.get("BENCH_PURCHASES_INVOICES", "10000"))
USERS = int(os.environ.get("BENCH_PURCHASES_USERS", "20"))
SECONDS = float(os.environ.get("BENCH_PURCHASES_SECONDS", "15"))
WARMUP = float(os.environ.get("BENCH_PURCHASES_WARMUP", "3"))
WORKERS = int(os.environ.get("BENCH_WEBLOAD_WORKERS", "4"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
PAY_COUNT = 1000
PAY_ROUNDS = 3
SELLERS = 400
INBOX = "/dokumenty/do-zaplaty/"
REQUEST_TIMEOUT_S = 30.0
WRK_THREADS = 2
# The URL mix, in percent of the requests (the second page's URL is known after the setup).
MIX = {"default": 40, "status": 15, "overdue": 15, "page2": 15, "seller": 15}
PAYER_ACCOUNT = "PL61109010140000071219812874"


def _say(message: str) -> None:
    print(f"bench_purchases: {message}", file=sys.stderr, flush=True)


# --- the setup process (Django, the server's database) ---------------------------------------------------


def _account(i: int) -> str:
    from payments.transfers.accounts import nrb_check_digits, sort_code_check_digit

    sort = "1140200" + str(sort_code_check_digit("1140200"))
    bban = sort + f"{i:016d}"
    return nrb_check_digits(bban) + bban


def _purchases_build(company: Any, count: int, today: dt.date) -> None:
    """``count`` purchase invoices as ``ksef_integration.importing`` leaves them, oldest first (ids grow with
    the issue date, as imports add them)."""
    from django.utils import timezone

    from invoices.models import Direction, Invoice, KsefStatus
    from ksef_integration.ksef.numbers import crc8_hex
    from tests.factories import valid_nip

    sellers = [
        (f"Dostawca {i} sp. z o.o.", valid_nip(), _account(i), f"ul. Składowa {i % 90 + 1}")
        for i in range(SELLERS)
    ]
    first_day = today - dt.timedelta(days=3 * 365)
    batch = []
    for i in range(count):
        name, nip, account, street = sellers[(i * 7) % SELLERS]
        issue = first_day + dt.timedelta(days=(i * 3 * 365) // count)
        net = Decimal(200 + (i * 37) % 9_000)
        if i % 20 == 0:
            net = Decimal(20_000 + i)  # above the white list's 15,000 PLN
        vat = (net * Decimal("0.23")).quantize(Decimal("0.01"))
        body = f"{nip}-{issue:%Y%m%d}-{i + 1:012X}"
        acquired = timezone.make_aware(dt.datetime.combine(issue + dt.timedelta(days=1), dt.time(6, 0)))
        batch.append(
            Invoice(
                company=company, direction=Direction.PURCHASE, number=f"FZ/{i + 1}/{issue:%Y}",
                issue_date=issue, sale_date=issue, due_date=issue + dt.timedelta(days=14),
                seller_name=name, seller_nip=nip, seller_address_line1=street,
                seller_address_line2="60-001 Poznań", buyer_name=company.name, buyer_nip=company.nip,
                payment_method=6, bank_account=account, split_payment=i % 25 == 0,
                total_net=net, total_vat=vat, total_gross=net + vat,
                ksef_number=f"{body}-{crc8_hex(body)}", ksef_status=KsefStatus.ACCEPTED,
                ksef_acquisition_date=acquired, is_new=True, created_at=acquired,
            )
        )  # fmt: skip
        if len(batch) == 2000:
            Invoice.objects.bulk_create(batch)
            batch = []
    if batch:
        Invoice.objects.bulk_create(batch)


def _states_build(company: Any, owner: Any, today: dt.date) -> list[str]:
    """Inbox entries (with their history event) and white-list checks; the uuids of ``PAY_COUNT`` accepted
    invoices for the pay file."""
    from django.utils import timezone

    from invoices.models import Direction, Invoice
    from payments.models import (
        PaymentFile,
        PaymentFileFormat,
        PurchaseEntry,
        PurchaseEvent,
        PurchaseStatus,
        WhitelistCheck,
        WhitelistResult,
    )

    rows = list(
        Invoice.objects.filter(company=company, direction=Direction.PURCHASE)
        .order_by("issue_date", "id")
        .values_list("id", "uuid", "issue_date", "seller_nip", "bank_account", "total_gross")
    )
    now = timezone.now()
    old = int(len(rows) * 0.7)
    recent = len(rows) - old
    accepted_from = old + recent // 5  # the newest four fifths of the recent ones: statuses by a cycle
    cycle = [PurchaseStatus.ACCEPTED] * 5 + [
        PurchaseStatus.NEW, PurchaseStatus.NEW, PurchaseStatus.PENDING, PurchaseStatus.IN_FILE,
        PurchaseStatus.REJECTED,
    ]  # fmt: skip
    payment_file = PaymentFile.objects.create(
        company=company, format=PaymentFileFormat.ELIXIR, filename="przelewy-bench.pli", content=b"-",
        payer_account=PAYER_ACCOUNT[2:], execution_date=today, transfer_count=1, total=Decimal("1.00"),
        created_by=owner.user,
    )  # fmt: skip
    entries, events, checks, accepted = [], [], [], []
    for n, (pk, uuid_, issue, nip, account, gross) in enumerate(rows):
        if n < old:
            status = PurchaseStatus.REJECTED if n % 50 == 0 else PurchaseStatus.PAID
        elif n < accepted_from:
            status = PurchaseStatus.NEW if n % 3 else PurchaseStatus.PENDING
        else:
            status = cycle[n % len(cycle)]
        if status == PurchaseStatus.ACCEPTED:
            accepted.append(str(uuid_))
        if gross > Decimal("15000"):
            checks.append(
                WhitelistCheck(
                    invoice_id=pk, nip=nip, account=account, checked_for=issue,
                    result=WhitelistResult.ON_LIST, automatic=True,
                    request_id=f"Bench-{pk:08d}", request_date_time=f"{issue:%d-%m-%Y} 09:00:00",
                )
            )  # fmt: skip
        if status == PurchaseStatus.NEW and n % 2:
            continue  # most new invoices have no entry yet (created on the first action)
        entries.append(
            PurchaseEntry(
                invoice_id=pk, company=company, status=status, changed_by=owner.user, changed_at=now,
                reject_reason="Nie nasza faktura" if status == PurchaseStatus.REJECTED else "",
                payment_file=payment_file if status == PurchaseStatus.IN_FILE else None,
                paid_on=issue + dt.timedelta(days=10) if status == PurchaseStatus.PAID else None,
            )
        )  # fmt: skip
        if status != PurchaseStatus.NEW:
            events.append(
                PurchaseEvent(
                    invoice_id=pk, company=company, kind=PurchaseEvent.Kind.STATUS, status=status,
                    user=owner.user, created_at=now,
                )
            )  # fmt: skip
    PurchaseEntry.objects.bulk_create(entries, batch_size=2000)
    PurchaseEvent.objects.bulk_create(events, batch_size=2000)
    WhitelistCheck.objects.bulk_create(checks, batch_size=2000)
    if len(accepted) < PAY_COUNT:
        raise RuntimeError(f"only {len(accepted)} accepted invoices; the pay file needs {PAY_COUNT}")
    return accepted[-PAY_COUNT:]


def _payfile_seconds(membership: Any, uuids: list[str], today: dt.date) -> float:
    """Zapłać for ``uuids`` as the view does it, each round rolled back; the median of PAY_ROUNDS."""
    from django.db import transaction

    from payments import inbox, paying
    from payments.models import PaymentFileFormat

    class _RollBack(Exception):
        pass

    def once() -> None:
        try:
            with transaction.atomic():
                invoices = inbox.purchases_by_uuid(company=membership.company, uuids=uuids)
                payment_file = paying.payment_file_create(
                    membership=membership, invoices=invoices, payer_account=PAYER_ACCOUNT,
                    execution_date=today, file_format=PaymentFileFormat.ELIXIR,
                )  # fmt: skip
                if payment_file.transfer_count != PAY_COUNT:
                    raise RuntimeError(f"the pay file holds {payment_file.transfer_count} transfers")
                raise _RollBack
        except _RollBack:
            pass

    once()
    times = []
    for _ in range(PAY_ROUNDS):
        start = time.perf_counter()
        once()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _urls(membership: Any, today: dt.date) -> dict[str, str]:
    from invoices.selectors import Cursor
    from payments import inbox

    first = inbox.inbox_page(membership=membership, filters=inbox.InboxFilters(), today=today)
    assert first.next_cursor is not None
    return {
        "default": INBOX,
        "status": INBOX + "?" + urlencode({"status": "accepted"}),
        "overdue": INBOX + "?" + urlencode({"due": "overdue"}),
        "page2": INBOX + "?" + urlencode({"after": Cursor.encode(first.next_cursor)}),
        "seller": INBOX + "?" + urlencode({"seller": "Dostawca 17"}),
    }


def _first_number(membership: Any, url: str, today: dt.date) -> str:
    """The number of the first invoice the service lists for ``url``."""
    from django.http import QueryDict

    from invoices.selectors import Cursor
    from payments import inbox
    from payments.forms import InboxFilterForm

    query = QueryDict(url.partition("?")[2])
    page = inbox.inbox_page(
        membership=membership, filters=InboxFilterForm(query).filters(),
        after=Cursor.decode(query.get("after")), today=today,
    )  # fmt: skip
    if not page.rows:
        raise RuntimeError(f"{url} lists nothing")
    return page.rows[0].row.number


def setup_main() -> None:
    """Build the company, its purchases, inbox states and logged-in members; time the pay file; print what
    the load needs as JSON."""
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from accounts.models import Role
    from invoices.models import Invoice
    from payments.models import PurchaseSeen
    from tests.factories import MembershipFactory

    today = timezone.localdate()
    owner = MembershipFactory.create(role=Role.OWNER, user__password=None)
    company = owner.company
    _purchases_build(company, INVOICES, today)
    pay_uuids = _states_build(company, owner, today)
    members = [owner] + [
        MembershipFactory.create(
            company=company, role=Role.OWNER if i % 5 == 0 else Role.ACCOUNTANT, user__password=None
        )
        for i in range(1, USERS)
    ]
    ids = list(Invoice.objects.filter(company=company).order_by("-id").values_list("id", flat=True))
    rng = random.Random(21)
    PurchaseSeen.objects.bulk_create(
        [PurchaseSeen(membership=m, invoice_id=pk) for m in members for pk in rng.sample(ids, 300)],
        batch_size=2000,
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")  # a settled database, as in production (see bench_webload)
    payfile_s = _payfile_seconds(owner, pay_uuids, today)
    urls = _urls(owner, today)
    markers = {url: _first_number(owner, url, today) for url in urls.values()}
    cookies = []
    for membership in members:
        client = Client()
        client.force_login(membership.user)
        cookies.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    json.dump(
        {
            "cookie_name": settings.SESSION_COOKIE_NAME, "cookies": cookies, "urls": urls,
            "numbers": markers, "payfile_s": payfile_s,
        },
        sys.stdout,
    )  # fmt: skip


# --- the load process (asyncio, closed loop, keep-alive) --------------------------------------------------


def _page_ok(body: bytes, path: str, number: str) -> bool:
    """The inbox page for ``path`` (its ``next`` field repeats the URL) showing invoice ``number`` first."""
    here = path.replace("&", "&amp;")
    first = body.find(b'data-number="')
    return (
        f'name="next" value="{here}"'.encode() in body
        and first >= 0
        and body[first:].startswith(f'data-number="{number}"'.encode())
    )


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, whether the connection stays open)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    if "content-length" in headers:
        return (
            status,
            await reader.readexactly(int(headers["content-length"])),
            headers.get("connection") != "close",
        )
    return status, await reader.read(), False


async def _client(
    cfg: dict[str, Any], rng: random.Random, measure_from: float, until: float, out: dict[str, Any]
) -> None:
    pages = list(MIX)
    weights = [MIX[page] for page in pages]
    writer: asyncio.StreamWriter | None = None
    reader: asyncio.StreamReader | None = None
    while time.monotonic() < until:
        path = cfg["urls"][rng.choices(pages, weights)[0]]
        cookie = rng.choice(cfg["cookies"])
        start = time.monotonic()
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(cfg["host"], cfg["port"]), REQUEST_TIMEOUT_S
                )
            assert reader is not None
            assert writer is not None
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: {cfg['host']}:{cfg['port']}\r\n"
                f"Cookie: {cfg['cookie_name']}={cookie}\r\nAccept: text/html,*/*\r\nAccept-Language: pl\r\n"
                "User-Agent: ksef-bench-purchases\r\n\r\n".encode()
            )
            status, body, keep = await asyncio.wait_for(_read_response(reader), REQUEST_TIMEOUT_S)
            if status != 200:
                error: str | None = f"HTTP {status} for {path}"
            elif not _page_ok(body, path, cfg["numbers"][path]):
                error = f"unexpected content for {path}"
            else:
                error = None
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


async def _load(cfg: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"latencies": [], "errors": 0, "samples": []}
    measure_from = time.monotonic() + cfg["warmup"]
    until = measure_from + cfg["seconds"]
    rng = random.Random(17)
    await asyncio.gather(
        *(_client(cfg, random.Random(rng.random()), measure_from, until, out) for _ in range(cfg["clients"]))
    )
    out["wall"] = max(cfg["seconds"], time.monotonic() - measure_from)
    return out


def load_main() -> None:
    cfg = json.load(sys.stdin)
    json.dump(asyncio.run(_load(cfg)), sys.stdout)


# --- the load with wrk --------------------------------------------------------------------------------

# Each request: a URL of the mix by weight, from one of the members at random. response() finds which URL
# the page answers (the list's "next" field) and checks that the page shows that URL's first invoice.
_WRK_SCRIPT = """
local cookies = {%(cookies)s}
local urls = {%(urls)s}
local numbers = {%(numbers)s}
local threads = {}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
  table.insert(threads, thread)
end
function init(args)
  math.randomseed(seed * 7919)
  not_ok = 0
end
function request()
  local path = urls[math.random(#urls)]
  return wrk.format("GET", path, {
    ["Cookie"] = "%(cookie_name)s=" .. cookies[math.random(#cookies)],
    ["Accept"] = "text/html,*/*", ["Accept-Language"] = "pl",
  })
end
function response(status, headers, body)
  if status ~= 200 then not_ok = not_ok + 1 return end
  local here = string.match(body, 'name="next" value="([^"]*)"')
  local first = string.match(body, 'data%%-number="([^"]*)"')
  if here == nil or first == nil then not_ok = not_ok + 1 return end
  here = string.gsub(here, "&amp;", "&")
  if numbers[here] ~= first then not_ok = not_ok + 1 end
end
function done(summary, latency, requests)
  local not_ok_total = 0
  for _, thread in ipairs(threads) do not_ok_total = not_ok_total + thread:get("not_ok") end
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%f %%f\\n", summary.requests,
    not_ok_total + e.connect + e.read + e.write + e.timeout, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000))
end
"""


def _lua(text: str) -> str:
    return json.dumps(text)  # a JSON string of ASCII and escapes is a valid Lua string


def _wrk(cfg: dict[str, Any], workdir: Path, seconds: float) -> dict[str, float]:
    # The weights as repetitions: 40/15/15/15/15 -> 8/3/3/3/3 entries.
    urls = [cfg["urls"][page] for page, weight in MIX.items() for _ in range(weight // 5)]
    script = workdir / "purchases.lua"
    script.write_text(
        _WRK_SCRIPT
        % {
            "cookies": ", ".join(_lua(c) for c in cfg["cookies"]),
            "urls": ", ".join(_lua(u) for u in urls),
            "numbers": ", ".join(f"[{_lua(u)}] = {_lua(n)}" for u, n in cfg["numbers"].items()),
            "cookie_name": cfg["cookie_name"],
        }
    )
    done = subprocess.run(
        [
            "wrk", f"-t{WRK_THREADS}", f"-c{cfg['clients']}", f"-d{max(1, round(seconds))}s",
            f"--timeout={int(REQUEST_TIMEOUT_S)}s", "-s", str(script), f"http://{cfg['host']}:{cfg['port']}/",
        ],
        capture_output=True, text=True, timeout=seconds + 120, check=True,
    )  # fmt: skip
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    requests, errors, duration_us, p50, p95 = line.split()[1:]
    return {
        "p50": float(p50), "p95": float(p95),
        "rps": (int(requests) - int(errors)) / (int(duration_us) / 1e6), "errors": int(errors),
    }  # fmt: skip


# --- the benchmark ---------------------------------------------------------------------------------------


def run() -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="ksef-purchases-"))
    try:
        with bench_database(workdir, "buy", _say) as database_url:
            port = free_port()
            extra = {"KSEF_API_URL": f"http://127.0.0.1:{port}/ksef-sim/v2", "ALLOWED_HOSTS": "127.0.0.1"}
            if redis_answers(REDIS_URL):
                extra["REDIS_URL"] = REDIS_URL
            else:
                _say(f"Redis does not answer at {REDIS_URL}: the file cache")
            env = server_environment(database_url, workdir, **extra)
            manage(env, "migrate", "--noinput", "-v", "0")
            manage(env, "collectstatic", "--noinput", "-v", "0")
            _say(f"gunicorn: {WORKERS} sync workers; {USERS} users, closed loop")
            with gunicorn(env, workdir, port=port, workers=WORKERS, threads=1) as base:
                started = time.perf_counter()
                data = helper_run(__file__, {**env, "BENCH_PURCHASES_USERS": str(USERS)}, "setup")
                _say(f"{INVOICES} purchase invoices, {USERS} sessions: {time.perf_counter() - started:.0f} s")
                expected = {url: f'data-number="{n}"'.encode() for url, n in data["numbers"].items()}
                pages_check(base, {data["cookie_name"]: data["cookies"][-1]}, expected)
                cfg = {
                    "host": "127.0.0.1", "port": port, "cookie_name": data["cookie_name"],
                    "cookies": data["cookies"], "urls": data["urls"], "numbers": data["numbers"],
                    "clients": USERS, "warmup": WARMUP, "seconds": SECONDS,
                }  # fmt: skip
                use_wrk = common_use_wrk("BENCH_PURCHASES_GENERATOR")
                _say(f"load generator: {'wrk' if use_wrk else 'Python (asyncio)'}")
                if use_wrk:
                    _wrk(cfg, workdir, WARMUP)
                    result = _wrk(cfg, workdir, SECONDS)
                else:
                    result = python_load(__file__, env, cfg, _say)
                if result["errors"]:
                    log = (workdir / "gunicorn.log").read_text(errors="replace")
                    _say(f"{result['errors']} errors; the server's log ends with:\n{log[-4000:]}")
        return {
            "purchases_inbox_p50_ms": result["p50"],
            "purchases_inbox_p95_ms": result["p95"],
            "purchases_inbox_rps": result["rps"],
            "purchases_inbox_errors": int(result["errors"]),
            "purchases_payfile_1000_s": data["payfile_s"],
            "purchases_generator_wrk": int(use_wrk),
        }
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
