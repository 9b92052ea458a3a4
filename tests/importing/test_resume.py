"""An interrupted import resumes the export it started (exports are limited to 20 an hour per context):
the reference, the encrypted AES key and the window are stored on the cursor before the first poll."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import pytest

from invoices.models import Invoice
from ksef_integration.encryption import secret_decrypt, secret_encrypt
from ksef_integration.importing.services import company_import, import_start
from ksef_integration.ksef.exports import Exports
from ksef_integration.models import ImportRun, KsefConnection, SubjectType, SyncCursor
from ksef_simulator import ids, services_invoices
from ksef_simulator.models import SimExport
from tests import contract
from tests.importing.conftest import START
from tests.importing.test_sync import END, api_calls

pytestmark = pytest.mark.django_db(transaction=True)


class WorkerKilled(BaseException):
    """Stands for the worker dying between KSeF's answer and our commit."""


@pytest.fixture
def crash_on_first_download(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The first ``export_download`` dies; returns the AES key + IV that export was started with."""
    seen: list[bytes] = []
    original_start, original_download = Exports.export_start, Exports.export_download

    def export_start(self: Exports, **kwargs: Any) -> Any:
        handle = original_start(self, **kwargs)
        seen.append(handle.aes.key + handle.aes.iv)
        return handle

    def export_download(self: Exports, **kwargs: Any) -> Any:
        if len(seen) == 1:
            seen.append(b"crashed")
            raise WorkerKilled()
        return original_download(self, **kwargs)

    monkeypatch.setattr(Exports, "export_start", export_start)
    monkeypatch.setattr(Exports, "export_download", export_download)
    return seen


def _posts(since: int) -> list[str]:
    return [c.path for c in api_calls(since) if c.method == "POST" and c.path.endswith("/invoices/exports")]


def _status_gets(since: int) -> list[str]:
    calls = api_calls(since)
    return [c.path.rsplit("/", 1)[-1] for c in calls if c.method == "GET" and "/exports/" in c.path]


def _crash_once(company_id: int) -> SyncCursor:
    with pytest.raises(WorkerKilled):
        company_import(company_id=company_id)
    cursor = SyncCursor.objects.get(company_id=company_id, subject_type=SubjectType.SUBJECT2)
    assert cursor.export_reference
    assert cursor.export_from == cursor.checkpoint
    return cursor


def test_a_crashed_import_resumes_the_same_export(
    connected: KsefConnection, crash_on_first_download: list[bytes]
) -> None:
    company = connected.company
    generated = services_invoices.invoices_generate(
        buyer_nip=company.nip, count=30, date_from=START, date_to=END, sellers=5, seed=21
    )
    cursor = _crash_once(company.pk)
    # the key is kept encrypted, never as it is
    assert secret_decrypt(cursor.export_key) == crash_on_first_download[0]
    assert crash_on_first_download[0].hex() not in cursor.export_key
    assert cursor.export_to is not None  # 4 months back: the window is capped at 100 days
    assert Invoice.objects.filter(company=company).count() == 0
    assert ImportRun.objects.get(company=company).status == ImportRun.Status.FAILED
    reference = cursor.export_reference
    posts_before = SimExport.objects.count()

    since = len(contract.RECORDS)
    result = company_import(company_id=company.pk)

    assert result.status == ImportRun.Status.SUCCEEDED, result.error
    assert _status_gets(since)[0] == reference  # the first thing the rerun asks KSeF about
    # the resumed window took no new export: only the next window and Subject1 started one each
    assert SimExport.objects.filter(reference_number=reference).count() == 1
    assert len(_posts(since)) == SimExport.objects.count() - posts_before
    assert SimExport.objects.filter(filters__subjectType="Subject2").count() == 2  # window 1 (resumed) + 2
    numbers = list(Invoice.objects.filter(company=company).values_list("ksef_number", flat=True))
    assert len(numbers) == len(set(numbers)) == len(generated)
    assert set(numbers) == set(generated)
    cursor.refresh_from_db()
    assert (cursor.export_reference, cursor.export_key, cursor.export_from) == ("", "", None)


def test_an_expired_export_is_replaced_by_a_new_one(
    connected: KsefConnection, crash_on_first_download: list[bytes]
) -> None:
    company = connected.company
    generated = services_invoices.invoices_generate(
        buyer_nip=company.nip, count=12, date_from=START, date_to=END, sellers=3, seed=22
    )
    cursor = _crash_once(company.pk)
    # a week later KSeF answers 410 for it (ksef-api.md §8.3)
    SimExport.objects.filter(reference_number=cursor.export_reference).update(
        created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=8)
    )
    since = len(contract.RECORDS)
    result = company_import(company_id=company.pk)
    assert result.status == ImportRun.Status.SUCCEEDED, result.error
    assert _status_gets(since)[0] == cursor.export_reference
    assert len(_posts(since)) >= 1
    numbers = list(Invoice.objects.filter(company=company).values_list("ksef_number", flat=True))
    assert len(numbers) == len(set(numbers)) == len(generated)
    assert set(numbers) == set(generated)


def test_an_unknown_export_reference_falls_back_to_a_new_export(connected: KsefConnection) -> None:
    company = connected.company
    generated = services_invoices.invoices_generate(
        buyer_nip=company.nip, count=6, date_from=dt.date(2026, 11, 2), date_to=END, sellers=2, seed=23
    )
    unknown = ids.reference_number("EH")
    checkpoint = import_start(connected)
    SyncCursor.objects.create(
        company=company,
        subject_type=SubjectType.SUBJECT2,
        checkpoint=checkpoint,
        export_reference=unknown,
        export_key=secret_encrypt(os.urandom(48)),
        export_from=checkpoint,
    )
    since = len(contract.RECORDS)
    result = company_import(company_id=company.pk)
    assert result.status == ImportRun.Status.SUCCEEDED, result.error
    assert _status_gets(since)[0] == unknown  # asked once, KSeF answered 21175
    # then new exports (one per window of each subject type), none of them under the unknown reference
    assert len(_posts(since)) >= SimExport.objects.count() >= 2
    assert not SimExport.objects.filter(reference_number=unknown).exists()
    numbers = list(Invoice.objects.filter(company=company).values_list("ksef_number", flat=True))
    assert len(numbers) == len(set(numbers)) == len(generated)
    assert set(numbers) == set(generated)


def test_a_stored_export_of_another_window_is_not_reused(connected: KsefConnection) -> None:
    company = connected.company
    checkpoint = import_start(connected)
    stale = ids.reference_number("EH")
    SyncCursor.objects.create(
        company=company,
        subject_type=SubjectType.SUBJECT2,
        checkpoint=checkpoint,
        export_reference=stale,
        export_key=secret_encrypt(os.urandom(48)),
        export_from=checkpoint - dt.timedelta(days=1),
    )
    since = len(contract.RECORDS)
    assert company_import(company_id=company.pk).status == ImportRun.Status.SUCCEEDED
    assert stale not in _status_gets(since)
    assert SyncCursor.objects.get(company=company, subject_type=SubjectType.SUBJECT2).export_reference == ""
