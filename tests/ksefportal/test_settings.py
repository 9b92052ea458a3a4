"""Production settings refuse to start without real secrets and pass Django's deployment checks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent.parent

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "p" * 20 + "production-secret-key-0123456789",
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "ksef.example.com",
    "KSEF_ENVIRONMENT": "test",
    "DATABASE_URL": "sqlite:////tmp/ksefportal-deploy-check.sqlite3",
    "PATH": os.environ.get("PATH", ""),
    "HOME": os.environ.get("HOME", "/root"),
}


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # ENV_FILE=/dev/null keeps a developer's .env out of the picture.
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**env, "ENV_FILE": "/dev/null", "DJANGO_SETTINGS_MODULE": "ksefportal.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("SECRET_KEY", "SECRET_KEY must be set"),
        ("FIELD_ENCRYPTION_KEYS", "FIELD_ENCRYPTION_KEYS must be set"),
        ("ALLOWED_HOSTS", "ALLOWED_HOSTS must be set"),
        ("KSEF_ENVIRONMENT", "KSEF_ENVIRONMENT must be one of"),
    ],
)
def test_production_refuses_to_start_without(missing: str, message: str) -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = _run(env, "check")
    assert result.returncode != 0
    assert message in result.stderr


def test_production_refuses_a_development_secret_key() -> None:
    result = _run({**PRODUCTION, "SECRET_KEY": "django-insecure-dev-only-never-use-in-production"}, "check")
    assert result.returncode != 0
    assert "development value" in result.stderr


def test_check_deploy_is_clean_with_production_settings() -> None:
    result = _run(PRODUCTION, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_does_not_mount_the_simulator() -> None:
    code = "import django; django.setup(); from django.conf import settings as s; print(s.KSEF_SIMULATOR_ENABLED)"  # noqa: E501
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**PRODUCTION, "ENV_FILE": "/dev/null", "DJANGO_SETTINGS_MODULE": "ksefportal.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout.strip() == "False", result.stderr


def _addresses(**env: str) -> list[str]:
    shell = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root"), "DEBUG": "true"}
    code = "from django.conf import settings as s; print(s.SITE_URL); print(s.KSEF_SIMULATOR_API_URL)"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**shell, **env, "ENV_FILE": "/dev/null", "DJANGO_SETTINGS_MODULE": "ksefportal.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.split()


@pytest.mark.parametrize(
    ("env", "site"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"PORT": "8100"}, "http://127.0.0.1:8000"),  # honcho's PORT for the worker means nothing here
        ({"PORT": "8180", "WEB_PORT": "8080"}, "http://127.0.0.1:8080"),  # PORT=8080 make run, the worker
        ({"WEB_PORT": "8080", "SITE_URL": "https://ksef.example.com/"}, "https://ksef.example.com"),
    ],
)
def test_every_process_derives_the_same_site_address(env: dict[str, str], site: str) -> None:
    assert _addresses(**env) == [site, f"{site}/ksef-sim/v2"]


def test_the_worker_may_reach_the_simulator_by_another_address() -> None:
    internal = {
        "SITE_URL": "https://ksef.example.com",
        "KSEF_SIMULATOR_API_URL": "http://web:8000/ksef-sim/v2",
    }
    assert _addresses(**internal) == ["https://ksef.example.com", "http://web:8000/ksef-sim/v2"]


def test_the_procfile_and_makefile_agree_on_the_web_port() -> None:
    procfile = (ROOT / "Procfile").read_text()
    assert "runserver 127.0.0.1:${WEB_PORT:-8000}" in procfile
    assert all(line.split(":", 1)[1].strip().startswith("exec ") for line in procfile.splitlines() if line)
    assert "WEB_PORT=$(PORT)" in (ROOT / "Makefile").read_text()


@pytest.mark.parametrize(
    "keys",
    [
        "not-a-fernet-key",
        Fernet.generate_key().decode()[:-2],  # cut short
        "x" * 44,  # the right length, not base64 of 32 bytes
        f"{Fernet.generate_key().decode()},tylko-haslo",  # the newest key fine, an older one not
    ],
    # Fixed names, not the random keys: every pytest-xdist worker must collect the same test ids.
    ids=["not-a-key", "cut-short", "not-base64", "an-older-key-bad"],
)
def test_production_refuses_a_malformed_field_encryption_key(keys: str) -> None:
    result = _run({**PRODUCTION, "FIELD_ENCRYPTION_KEYS": keys}, "check")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "is not a valid Fernet key" in result.stderr
    for key in keys.split(","):
        assert key not in result.stderr  # the message names the key's position, never the key


def test_the_simulator_refuses_to_start_with_debug_off_unless_said_to_be_unsafe() -> None:
    refused = _run({**PRODUCTION, "KSEF_SIMULATOR_ENABLED": "1"}, "check")
    assert refused.returncode != 0
    assert "KSEF_SIMULATOR_UNSAFE_IN_PRODUCTION" in refused.stderr
    forced = {**PRODUCTION, "KSEF_SIMULATOR_ENABLED": "1", "KSEF_SIMULATOR_UNSAFE_IN_PRODUCTION": "1"}
    assert _run(forced, "check").returncode == 0
    deploy = _run(forced, "check", "--deploy", "--fail-level", "WARNING")
    assert deploy.returncode != 0
    assert "ksef_simulator.W001" in deploy.stdout + deploy.stderr


def test_the_simulators_rate_limits_come_from_the_environment(tmp_path: Path) -> None:
    """``KSEF_SIMULATOR_RATE_LIMITS`` (the benches set "off") reaches the simulator's first state; a value
    that is not a profile stops the start with its name."""
    database = tmp_path / "sim.sqlite3"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{database}",
        "KSEF_SIMULATOR_ENABLED": "true",
    }
    assert _run(env, "migrate", "-v", "0").returncode == 0
    read = "from ksef_simulator.conf import get_config; print(get_config().rate_limit_profile)"
    done = _run({**env, "KSEF_SIMULATOR_RATE_LIMITS": "off"}, "shell", "-c", read)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "off"
    refused = _run({**env, "KSEF_SIMULATOR_RATE_LIMITS": "none"}, "check")
    assert refused.returncode != 0
    assert "KSEF_SIMULATOR_RATE_LIMITS must be default, production or off" in refused.stderr
