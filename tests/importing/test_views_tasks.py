"""Settings → KSeF import section, "Pobierz teraz", the beat fan-out and its schedule."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from accounts.models import Company, Role
from ksef_integration import queue
from ksef_integration.importing.services import companies_due_for_import
from ksef_integration.models import ConnectionStatus, ImportRun, KsefConnection, SubjectType, SyncCursor
from ksef_integration.tasks import ksef_import_due
from tests.conftest import Queued, add_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection(company_a: Company) -> KsefConnection:
    return KsefConnection.objects.create(
        company=company_a, status=ConnectionStatus.ACTIVE, environment="simulator", method="token",
        token_ciphertext="x", permissions=["InvoiceRead"], auto_import=True, import_interval_minutes=15,
        connected_at=timezone.now(),
    )  # fmt: skip


def test_settings_show_the_cursor_in_words(alice_client: Any, connection: KsefConnection) -> None:
    SyncCursor.objects.create(
        company=connection.company, subject_type=SubjectType.SUBJECT2,
        checkpoint=dt.datetime(2026, 11, 25, 13, 5, tzinfo=dt.UTC), invoices_total=12,
        last_error="KSeF nie odpowiadał", last_error_at=timezone.now(),
        last_success_at=dt.datetime(2026, 11, 25, 13, 6, tzinfo=dt.UTC),
    )  # fmt: skip
    ImportRun.objects.create(
        company=connection.company, status=ImportRun.Status.SUCCEEDED, invoices_new=5,
        started_at=dt.datetime(2026, 11, 25, 13, 6, tzinfo=dt.UTC),
    )  # fmt: skip
    page = alice_client.get("/ustawienia/ksef/", HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert "kompletne do 25.11.2026 14:05" in page  # Warsaw time
    assert "12 faktur pobranych" in page  # how many came, in all
    assert "ostatnia synchronizacja 25.11.2026 14:06" in page
    assert "5 nowych faktur" in page  # and in the last run
    assert "KSeF nie odpowiadał" in page
    assert "Pobierz teraz" in page


def test_download_now_enqueues_on_commit(
    alice_client: Any, connection: KsefConnection, django_capture_on_commit_callbacks: Any, queued: Queued
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = alice_client.post("/ustawienia/ksef/pobierz-teraz/")
        assert queued.messages == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert response.status_code == 302
    assert queued.args(queue.IMPORT) == [(connection.company.pk,)]


def test_a_viewer_cannot_download_now(
    client: Any, connection: KsefConnection, django_capture_on_commit_callbacks: Any, queued: Queued
) -> None:
    viewer = add_member(connection.company, Role.VIEWER, "viewer@example.com")
    client.force_login(viewer.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/ustawienia/ksef/pobierz-teraz/")
    assert response.status_code in (302, 403, 404)
    assert queued.messages == []


def test_fan_out_respects_interval_and_running_imports(connection: KsefConnection) -> None:
    company_id = connection.company.pk
    assert companies_due_for_import() == [company_id]
    run = ImportRun.objects.create(company=connection.company, status=ImportRun.Status.SUCCEEDED)
    assert companies_due_for_import() == []
    assert companies_due_for_import(now=run.started_at + dt.timedelta(minutes=15)) == [company_id]
    # running, with a fresh heartbeat (a stale one is a dead worker's run: see test_retry)
    fresh = run.started_at + dt.timedelta(minutes=50)
    ImportRun.objects.create(company=connection.company, heartbeat_at=fresh)
    assert companies_due_for_import(now=run.started_at + dt.timedelta(hours=1)) == []
    KsefConnection.objects.filter(pk=connection.pk).update(auto_import=False)
    ImportRun.objects.all().delete()
    assert companies_due_for_import() == []


def test_import_due_task_enqueues_each_due_company(
    connection: KsefConnection, django_capture_on_commit_callbacks: Any, queued: Queued
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        assert ksef_import_due() == 1
    [(name, args, options)] = queued.messages
    assert (name, args, options["expires"]) == (queue.IMPORT, (connection.company.pk,), 600)


def test_migrate_registers_the_beat_schedule() -> None:
    PeriodicTask.objects.filter(task="ksef.import_due").delete()
    call_command("migrate", verbosity=0)
    task = PeriodicTask.objects.get(task="ksef.import_due")
    assert task.enabled
    assert task.interval is not None
    assert (task.interval.every, task.interval.period) == (1, "minutes")
