"""In-process page rendering cost (Django test client, throwaway SQLite or PostgreSQL test database).

This isolates our view + template time from the network and the web server; the load test against
gunicorn with many clients belongs to the web benchmark of a later issue.
"""

from __future__ import annotations

import os
import statistics
import time

ROUNDS = 300


def _median_ms(fn: object, rounds: int = ROUNDS) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def run() -> dict[str, float]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment, teardown_test_environment

    from tests.factories import MembershipFactory

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        membership = MembershipFactory.create()
        client = Client()
        client.force_login(membership.user)
        anonymous = Client()
        for who, url in ((client, "/"), (client, "/wiecej/"), (anonymous, "/rejestracja/")):
            if who.get(url).status_code != 200:
                raise RuntimeError(f"{url} did not answer 200; the figures would be meaningless")
        return {
            "web_start_page_ms_median": _median_ms(lambda: client.get("/")),
            "web_more_page_ms_median": _median_ms(lambda: client.get("/wiecej/")),
            "web_signup_page_ms_median": _median_ms(lambda: anonymous.get("/rejestracja/")),
        }
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
