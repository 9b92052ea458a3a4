"""The PostgreSQL health check (ksefportal.db_postgresql): no round trip for a quiet idle connection, and a
connection the server ended is still replaced before the request's first query (issue 9)."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, connections

from tests.conftest import need, wait_until

pytestmark = pytest.mark.django_db


@pytest.fixture
def kept() -> Iterator[Any]:
    """A second connection to the test database, kept between "requests" as CONN_MAX_AGE keeps one."""
    need(connection.vendor == "postgresql", "PostgreSQL is not configured (set DATABASE_URL)")
    wrapper: Any = connections.create_connection("default")
    wrapper.settings_dict["CONN_HEALTH_CHECKS"] = True
    wrapper.ensure_connection()
    wrapper.health_check_enabled = True
    yield wrapper
    wrapper.close()


def _new_request(wrapper: Any) -> None:
    wrapper.health_check_done = False  # what Django does when a request starts


def test_a_quiet_connection_is_kept_without_a_query(kept: Any, monkeypatch: Any) -> None:
    assert type(kept).__module__ == "ksefportal.db_postgresql.base"
    before = kept.connection
    monkeypatch.setattr(kept, "is_usable", lambda: pytest.fail("SELECT 1 was run"))
    _new_request(kept)
    kept.close_if_health_check_failed()
    assert kept.connection is before
    with kept.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_a_connection_the_server_ended_is_replaced(kept: Any) -> None:
    with kept.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with connection.cursor() as cursor:  # the test's own connection plays the administrator
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    assert wait_until(lambda: not kept._idle_and_quiet(), timeout=5, interval=0.05)  # the termination arrived
    old = kept.connection
    _new_request(kept)
    kept.close_if_health_check_failed()
    with kept.cursor() as cursor:  # a fresh connection, no error for the request
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
    assert kept.connection is not old


def test_inside_a_transaction_the_real_check_runs(kept: Any) -> None:
    calls = []
    real = kept.is_usable

    def counted() -> bool:
        calls.append(1)
        return bool(real())

    kept.is_usable = counted
    kept.connection.execute("BEGIN")
    _new_request(kept)
    kept.close_if_health_check_failed()
    assert len(calls) == 1


# Prepared statements for the statements of every page (ksefportal.db_postgresql.prepared_cursor).


def _prepared(wrapper: Any) -> list[str]:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_page_statements_are_prepared_once_per_connection(kept: Any) -> None:
    from ksefportal.model_rows import page_cursor

    sql = "SELECT %s::int + 1 AS page_statement_probe"
    for value in (1, 2, 3):
        with page_cursor(kept) as cursor:
            cursor.execute(sql, [value])
            assert cursor.fetchone() == (value + 1,)
    prepared = [s for s in _prepared(kept) if "page_statement_probe" in s]
    assert len(prepared) == 1  # prepared at the first execution, reused by the next two
    with kept.cursor() as cursor:  # Django's own cursors bind on the client and prepare nothing
        for _ in range(10):
            cursor.execute("SELECT 2 AS plain_statement_probe")
    assert not [s for s in _prepared(kept) if "plain_statement_probe" in s]


def test_prepared_statements_can_be_turned_off(kept: Any, monkeypatch: Any) -> None:
    from ksefportal.model_rows import page_cursor

    kept.close()
    monkeypatch.setitem(kept.settings_dict, "PREPARED_STATEMENTS", False)  # shared with "default"
    kept.ensure_connection()
    for value in (1, 2):
        with page_cursor(kept) as cursor:
            cursor.execute("SELECT %s::int AS unprepared_probe", [value])
    assert not [s for s in _prepared(kept) if "unprepared_probe" in s]


def test_a_page_run_on_prepared_statements_is_counted_and_answers(alice_client: Any) -> None:
    """Django's query capture (and so assertNumQueries and the debug toolbar) still sees them."""
    from django.test.utils import CaptureQueriesContext

    need(connection.vendor == "postgresql", "PostgreSQL is not configured (set DATABASE_URL)")
    alice_client.get("/dokumenty/")
    with CaptureQueriesContext(connection) as captured:
        assert alice_client.get("/dokumenty/").status_code == 200
    assert len(captured) == 2
    statements = _prepared(connection)
    assert any("invoices_invoice" in s for s in statements)
    assert any("accounts_user" in s for s in statements)
