"""The two small client changes made for importing: UTC windows across DST, and no download of an empty
package (an idle sync costs only the export request and its status)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import responses

from ksef_integration.ksef.crypto import AesKey
from ksef_integration.ksef.exports import ExportHandle, ExportPackage, ExportPart, Exports, incremental_sync
from ksef_integration.ksef.http import KsefHttp
from ksef_integration.ksef.secret import Secret


def package(invoice_count: int) -> ExportPackage:
    part = ExportPart(
        ordinal_number=1, part_name="p", method="GET", url="https://storage.example.test/1", part_size=1,
        part_hash=None, encrypted_part_size=16, encrypted_part_hash=None, expiration_date=None,
    )  # fmt: skip
    return ExportPackage(
        invoice_count=invoice_count, size=1, parts=(part,), is_truncated=False, compression_type="Zip",
        last_permanent_storage_date=None, last_invoicing_date=None, permanent_storage_hwm_date=None,
    )  # fmt: skip


@pytest.fixture
def exports() -> Iterator[Exports]:
    with responses.RequestsMock() as mocked:  # any request would fail: nothing is registered
        yield Exports(
            http=KsefHttp(base_url="https://ksef.example.test/v2"),
            keys=None,  # type: ignore[arg-type]
            bearer=lambda: Secret("t"),
        )
        assert len(mocked.calls) == 0


def test_an_empty_package_is_not_downloaded(exports: Exports) -> None:
    content = exports.export_download(package=package(0), aes=AesKey.generate())
    assert content.invoices == {}
    assert content.metadata == ()


class RecordingExports:
    """Records the filters of each export and answers 420 (nothing beyond the HWM)."""

    def __init__(self) -> None:
        self.filters: list[Any] = []

    def export_start(self, *, filters: Any) -> ExportHandle:
        self.filters.append(filters)
        return ExportHandle(reference_number="EH", aes=AesKey.generate())

    def export_wait(self, *, reference_number: str) -> Any:
        from ksef_integration.ksef.exports import ExportStatus

        return ExportStatus(420, "", (), None, None, None)


def test_windows_are_at_most_100_days_even_across_a_dst_change() -> None:
    recording = RecordingExports()
    checkpoint = datetime(2026, 8, 1, tzinfo=ZoneInfo("Europe/Warsaw"))  # summer time; "to" is in winter
    list(
        incremental_sync(
            recording,  # type: ignore[arg-type]
            subject_type="Subject2",
            checkpoint=checkpoint,
            clock=lambda: datetime(2026, 11, 25, tzinfo=UTC),
        )
    )
    (filters,) = recording.filters
    assert filters.date_to - filters.date_from == timedelta(days=100)
    assert filters.date_to.astimezone(UTC) - filters.date_from.astimezone(UTC) == timedelta(days=100)
