"""Celery: the settings of STYLE.md §7, and a task enqueued by the app executed by a real worker."""

from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import Company, Invitation, Role
from ksefportal.celery import app as celery_app
from tests.conftest import wait_until


def test_celery_is_configured_for_safe_delivery() -> None:
    celery_app.loader.import_default_modules()  # what a worker does at start: find every app's tasks
    conf = celery_app.conf
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    assert conf.task_ignore_result is True
    assert conf.result_backend is None
    assert conf.task_always_eager is False
    assert "accounts.send_invitation" in celery_app.tasks


def test_filesystem_broker_when_redis_is_not_configured(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "from ksefportal.celery import app; import django; django.setup(); "
        "c = app.conf; print(c.broker_url, c.broker_transport_options['data_folder_in'])"
    )
    env = {"DEBUG": "1", "ENV_FILE": "/dev/null", "DJANGO_SETTINGS_MODULE": "ksefportal.settings", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    broker, folder = out.stdout.split()
    assert broker == "filesystem://"
    assert folder.endswith("var/celery/queue")


@pytest.mark.services
def test_invitation_task_runs_in_a_real_worker(
    celery_worker_process: dict[str, Any], client: Any, company_a: Company, alice: Any
) -> None:
    client.force_login(alice)
    response = client.post(reverse("accounts:members"), {"email": "ewa@example.com", "role": Role.VIEWER})
    assert response.status_code == 302
    invitation = Invitation.objects.get(email="ewa@example.com")
    assert invitation.sent_at is None  # the web request only enqueued it

    def sent() -> bool:
        invitation.refresh_from_db()
        return invitation.sent_at is not None

    log = celery_worker_process["log"]
    assert wait_until(sent, timeout=60), log.read_text(errors="replace")
    mails = list(celery_worker_process["mail_dir"].iterdir())
    assert len(mails) == 1
    message = mails[0].read_text()
    assert "ewa@example.com" in message
    assert "/zaproszenie/" in message
    assert "accounts.send_invitation" in log.read_text()
