"""One ``POST /api/v1/invoices`` in-process (issue 22): CPU time and SQL statements per create, measured
with the Django test client against a throwaway test database (PostgreSQL when ``DATABASE_URL`` names it)
and, with ``REDIS_URL``, Redis as the cache and the broker, as in production.

The company is connected to KSeF and sends automatically, so each create also runs the receiver that
queues it (``ksef_integration.receivers.on_invoice_issued``); nothing consumes the queue.

``python -m bench.api_create_cpu [rounds] [--profile]`` prints the median CPU ms per create
(``time.process_time``), the median statements per create, and the statements inside the issuing
transaction after the number is taken (while the series row is locked); ``--profile`` adds the cProfile
top functions by cumulative time.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _measure(rounds: int, profile: bool) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.bench_api import INVOICE_BODY
    from integrations.api.keys import key_create
    from ksef_integration.models import KsefConnection
    from tests.factories import MembershipFactory, active_connection

    membership = MembershipFactory.create()
    company = membership.company
    active_connection(company)
    KsefConnection.objects.filter(company=company).update(auto_send=True)
    plain = key_create(company=company, user=membership.user, name="cpu", scope="write").plain
    client = Client()
    headers = {"Authorization": f"Bearer {plain}"}
    body = dict(INVOICE_BODY)

    def create(n: int) -> None:
        line = {
            "name": "Usługa",
            "quantity": "1",
            "unit": "usł.",
            "unit_price": f"{100 + n}.00",
            "vat_rate": "23",
        }
        response = client.post(
            "/api/v1/invoices",
            json.dumps({**body, "lines": [line]}),
            content_type="application/json",
            headers=headers,
        )
        if response.status_code != 201:
            raise RuntimeError(f"create failed: {response.status_code} {response.content[:300]!r}")

    for n in range(5):  # warm: imports, the XSD, caches
        create(n)
    cpu: list[float] = []
    wall: list[float] = []
    statements: list[int] = []
    locked: list[int] = []
    for n in range(rounds):
        with CaptureQueriesContext(connection) as queries:
            started, wall_started = time.process_time(), time.perf_counter()
            create(n)
            cpu.append((time.process_time() - started) * 1000)
            wall.append((time.perf_counter() - wall_started) * 1000)
        sqls = [q["sql"] for q in queries.captured_queries]
        statements.append(len(sqls))
        # from the first row lock of the issuing transaction (FOR UPDATE) to its COMMIT: what other issuers
        # of the series (or of the same buyer) wait for
        taken = next((i for i, sql in enumerate(sqls) if sql.endswith("FOR UPDATE")), None)
        end = next(
            (i for i, sql in enumerate(sqls) if sql == "COMMIT" and taken is not None and i > taken), None
        )
        locked.append((end - taken) if taken is not None and end is not None and end > taken else -1)
    result: dict[str, Any] = {
        "api_create_cpu_ms_median": statistics.median(cpu),
        "api_create_wall_ms_median": statistics.median(wall),
        "api_create_statements_median": statistics.median(statements),
        "statements_under_row_lock": statistics.median(locked),
    }
    if os.environ.get("BENCH_SHOW_SQL"):
        with CaptureQueriesContext(connection) as queries:
            create(rounds + 1)
        for q in queries.captured_queries:
            print(q["sql"][:220], file=sys.stderr)
    if profile:
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for n in range(rounds):
            create(n)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(
            int(os.environ.get("BENCH_PROFILE_LINES", "60"))
        )
        print(out.getvalue(), file=sys.stderr)
    return result


def main(argv: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    from bench.common import throwaway_database

    rounds = int(argv[0]) if argv and argv[0].isdigit() else 50
    with throwaway_database():
        from django.conf import settings
        from django.test.utils import override_settings

        caches = settings.CACHES
        if os.environ.get("REDIS_URL"):
            caches = {
                "default": {
                    "BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "LOCATION": os.environ["REDIS_URL"],
                }
            }
        # the production stack: without the suite's own middleware (the contract recorder, the leak scanner)
        middleware = [name for name in settings.MIDDLEWARE if not name.startswith("tests.")]
        with override_settings(CACHES=caches, MIDDLEWARE=middleware):
            print(json.dumps(_measure(rounds, "--profile" in argv)))


if __name__ == "__main__":
    main(sys.argv[1:])
