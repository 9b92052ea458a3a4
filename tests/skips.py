"""A pytest plugin (tests/conftest.py loads it): with KSEF_REQUIRE_SERVICES=1 (CI), a skip of any kind fails
the run. Belt and braces: ``need`` in tests/conftest.py already fails a test whose service is missing.

A module of its own, free of the app's imports, so that tests/test_parallel.py can load it into a run of
planted tests. Under pytest-xdist the hook runs in the controller too, whose terminal reporter counts every
worker's reports (a worker's own exit status does not reach the run's)."""

from __future__ import annotations

import os

import pytest

REQUIRE_SERVICES = os.environ.get("KSEF_REQUIRE_SERVICES") == "1"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if REQUIRE_SERVICES and reporter is not None and reporter.stats.get("skipped"):
        reporter.write_line("KSEF_REQUIRE_SERVICES=1 but tests were skipped: failing the run.", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
