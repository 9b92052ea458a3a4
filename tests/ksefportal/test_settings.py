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
