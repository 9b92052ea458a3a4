"""`make test` runs the suite in pytest-xdist processes (tests/settings.py, tests/conftest.py): each worker
has a Redis database and a Celery queue of its own, and what a worker saw still fails the whole run (a skip
with KSEF_REQUIRE_SERVICES=1; a leaked secret: tests/security/test_secrets_scan.py). Checked here by
running pytest itself with workers, as `make test` does, on small planted test files."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # each starts pytest with workers

# What a run started from a shell has: nothing of this (outer) run's own worker.
OUTER = ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "KSEF_TEST_WORKER", "CELERY_TASK_DEFAULT_QUEUE")


def _pytest(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items() if name not in OUTER}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--rootdir", str(ROOT),
         "-c", str(ROOT / "pyproject.toml"), *args, str(tmp_path)],
        cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("redis_url", "databases"),
    [
        ("redis://127.0.0.1:6379/15", {"15", "14", "13"}),  # CI's: counted down from the last database
        ("redis://127.0.0.1:6379/8", {"8", "9", "10"}),
    ],
)
def test_each_worker_has_its_own_redis_database_and_celery_queue(
    tmp_path: Path, redis_url: str, databases: set[str]
) -> None:
    # Three tests for three workers: with fewer tests than twice the workers, xdist gives each one test.
    (tmp_path / "test_where.py").write_text(
        textwrap.dedent(f"""
        import os
        import pytest
        from django.conf import settings

        @pytest.mark.parametrize("n", [1, 2, 3])
        def test_where(n):
            line = " ".join([os.environ["PYTEST_XDIST_WORKER"], settings.REDIS_URL,
                             settings.CELERY_BROKER_URL, settings.CELERY_TASK_DEFAULT_QUEUE,
                             os.environ["REDIS_URL"], os.environ["CELERY_TASK_DEFAULT_QUEUE"]])
            with open({str(tmp_path / "seen.txt")!r}, "a") as seen:
                seen.write(line + "\\n")
        """)
    )
    result = _pytest(tmp_path, "-n", "3", REDIS_URL=redis_url)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line.split() for line in (tmp_path / "seen.txt").read_text().splitlines()]
    assert sorted(row[0] for row in rows) == ["gw0", "gw1", "gw2"]
    for worker, url, broker, queue, env_url, env_queue in rows:
        # The subprocesses a test starts inherit the worker's values from the environment.
        assert url == broker == env_url
        assert queue == env_queue
        assert queue.startswith("test-")
        assert queue.endswith(f"-{worker}")
    assert {row[1].rsplit("/", 1)[1] for row in rows} == databases
    assert len({row[3] for row in rows}) == 3
    assert len({row[3].removesuffix(f"-{row[0]}") for row in rows}) == 1  # one run, one queue name each


def test_a_skip_in_a_worker_fails_the_run_when_services_are_required(tmp_path: Path) -> None:
    (tmp_path / "test_skip.py").write_text(
        textwrap.dedent("""
        import pytest

        def test_passes():
            pass

        def test_skips():
            pytest.skip("a service is missing")
        """)
    )
    # The planted file lies outside tests/, so the rule's plugin (which tests/conftest.py loads) is named.
    required = _pytest(tmp_path, "-n", "2", "-p", "tests.skips", KSEF_REQUIRE_SERVICES="1")
    assert "1 passed, 1 skipped" in required.stdout, required.stdout + required.stderr
    assert "KSEF_REQUIRE_SERVICES=1 but tests were skipped: failing the run." in required.stdout
    assert required.returncode == 1
    local = _pytest(tmp_path, "-n", "2", "-p", "tests.skips", KSEF_REQUIRE_SERVICES="0")
    assert "1 passed, 1 skipped" in local.stdout, local.stdout + local.stderr
    assert local.returncode == 0
