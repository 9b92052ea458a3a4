"""In-process page rendering cost (Django test client, throwaway SQLite or PostgreSQL test database).

This isolates our view + template time from the network and the web server; the load test against
gunicorn with many clients belongs to the web benchmark of a later issue.
"""

from __future__ import annotations

from bench.common import median_ms, throwaway_database

ROUNDS = 300


def run() -> dict[str, float]:
    with throwaway_database():
        from django.test import Client

        from tests.factories import MembershipFactory

        membership = MembershipFactory.create()
        client = Client()
        client.force_login(membership.user)
        anonymous = Client()
        for who, url in ((client, "/"), (client, "/wiecej/"), (anonymous, "/rejestracja/")):
            if who.get(url).status_code != 200:
                raise RuntimeError(f"{url} did not answer 200; the figures would be meaningless")
        return {
            "web_start_page_ms_median": median_ms(lambda: client.get("/"), ROUNDS),
            "web_more_page_ms_median": median_ms(lambda: client.get("/wiecej/"), ROUNDS),
            "web_signup_page_ms_median": median_ms(lambda: anonymous.get("/rejestracja/"), ROUNDS),
        }
