"""Exports and the incremental HWM iterator of ksef-api.md §8.4, against a fake KSeF export service."""

from __future__ import annotations

import base64
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ksef_integration.ksef.client import KsefClient
from ksef_integration.ksef.crypto import AesKey, rsa_oaep_decrypt, sha256_b64
from ksef_integration.ksef.environments import simulator
from ksef_integration.ksef.errors import KsefRejected, KsefTransientError
from ksef_integration.ksef.exports import (
    ExportPackage,
    ExportPart,
    SyncHooks,
    WindowExport,
    archive_unpack,
)
from ksef_integration.ksef.invoices import InvoiceFilters
from ksef_integration.ksef.numbers import crc8_hex
from tests.ksef_integration.ksef.conftest import BASE, NOW, MfKey, tokens

STORAGE = "https://storage.example.test/export"


def ksef_number(index: int, day: datetime) -> str:
    body = f"5265877635-{day:%Y%m%d}-{index:012X}"
    return f"{body}-{crc8_hex(body)}"


def metadata(number: str, stored: datetime) -> dict[str, Any]:
    return {
        "ksefNumber": number,
        "invoiceNumber": f"FV/{number[-6:]}",
        "issueDate": stored.date().isoformat(),
        "invoicingDate": stored.isoformat(),
        "acquisitionDate": stored.isoformat(),
        "permanentStorageDate": stored.isoformat(),
        "seller": {"nip": "5265877635", "name": "Sprzedawca"},
        "buyer": {"identifier": {"type": "Nip", "value": "1111111111"}, "name": "Nabywca"},
        "netAmount": 100.00,
        "grossAmount": 123.00,
        "vatAmount": 23.00,
        "currency": "PLN",
        "invoicingMode": "Online",
        "invoiceType": "Vat",
        "formCode": {"systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA"},
        "isSelfInvoicing": False,
        "hasAttachment": False,
        "invoiceHash": sha256_b64(number.encode()),
        "someNewField": "ignored",
    }


@dataclass
class FakeExportService:
    """Just enough of KSeF's export side: PermanentStorage windows, the HWM, truncation at ``limit``."""

    symmetric_key: MfKey
    hwm: datetime
    invoices: list[tuple[str, datetime]]
    limit: int = 3
    part_size: int = 700
    requests: list[dict[str, Any]] = field(default_factory=list)
    exports: dict[str, dict[str, Any]] = field(default_factory=dict)
    parts: dict[str, bytes] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)  # references answered with 410 (status expired)

    def install(self, mocked: responses.RequestsMock) -> None:
        mocked.add_callback(responses.POST, f"{BASE}/invoices/exports", callback=self.start)
        mocked.add_callback(
            responses.GET, re.compile(rf"{re.escape(BASE)}/invoices/exports/.+"), callback=self.status
        )
        mocked.add_callback(responses.GET, re.compile(rf"{re.escape(STORAGE)}/.+"), callback=self.part)

    def start(self, request: Any) -> tuple[int, dict[str, str], str]:
        sent = json.loads(request.body)
        self.requests.append(sent)
        encryption = sent["encryption"]
        assert encryption["publicKeyId"] == self.symmetric_key.public_key_id
        key = rsa_oaep_decrypt(
            private_key=self.symmetric_key.private_key,
            data=base64.b64decode(encryption["encryptedSymmetricKey"]),
        )
        aes = AesKey(key=key, iv=base64.b64decode(encryption["initializationVector"]))
        date_range = sent["filters"]["dateRange"]
        assert date_range["dateType"] == "PermanentStorage"
        assert date_range["restrictToPermanentStorageHwmDate"] is True
        start = datetime.fromisoformat(date_range["from"])
        end = datetime.fromisoformat(date_range["to"]) if "to" in date_range else NOW
        assert end - start <= timedelta(days=100)
        reference = f"20261125-EH-{len(self.requests):010X}-0000000000-00"
        if start > self.hwm:
            self.exports[reference] = {"status": {"code": 420, "description": "Zakres poza danymi"}}
            return 201, {}, json.dumps({"referenceNumber": reference})
        end = min(end, self.hwm)
        matching = sorted((i for i in self.invoices if start <= i[1] <= end), key=lambda i: i[1])
        chosen, truncated = matching[: self.limit], len(matching) > self.limit
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            for number, _ in chosen:
                zipped.writestr(f"{number}.xml", f"<Faktura>{number}</Faktura>")
            zipped.writestr("_metadata.json", json.dumps({"invoices": [metadata(n, d) for n, d in chosen]}))
        data = archive.getvalue()
        pieces = [data[i : i + self.part_size] for i in range(0, len(data), self.part_size)]
        parts = []
        for ordinal, piece in enumerate(pieces, start=1):
            encrypted = aes.encrypt(piece)
            url = f"{STORAGE}/{reference}/{ordinal}?sig=secret"
            self.parts[url] = encrypted
            parts.append(
                {
                    "ordinalNumber": ordinal,
                    "partName": f"{reference}-{ordinal:03}.zip.aes",
                    "method": "GET",
                    "url": url,
                    "partSize": len(piece),
                    "partHash": sha256_b64(piece),
                    "encryptedPartSize": len(encrypted),
                    "encryptedPartHash": sha256_b64(encrypted),
                    "expirationDate": (NOW + timedelta(days=1)).isoformat(),
                }
            )
        package: dict[str, Any] = {
            "invoiceCount": len(chosen),
            "size": len(data),
            "parts": list(reversed(parts)),  # order must come from ordinalNumber, not from the list
            "isTruncated": truncated,
            "compressionType": "Zip",
            "permanentStorageHwmDate": self.hwm.isoformat(),
        }
        if truncated:
            package["lastPermanentStorageDate"] = chosen[-1][1].isoformat()
        self.exports[reference] = {"status": {"code": 200, "description": "ok"}, "package": package}
        return 201, {}, json.dumps({"referenceNumber": reference})

    def status(self, request: Any) -> tuple[int, dict[str, str], str]:
        reference = request.url.rsplit("/", 1)[-1]
        if reference in self.gone:
            return 410, {}, json.dumps({"exception": {"exceptionDetailList": []}})
        return 200, {}, json.dumps(self.exports[reference])

    def part(self, request: Any) -> tuple[int, dict[str, str], bytes]:
        assert "Authorization" not in request.headers
        return 200, {}, self.parts[request.url]


def spread(count: int, *, start: datetime, step: timedelta) -> list[tuple[str, datetime]]:
    return [(ksef_number(i, start + i * step), start + i * step) for i in range(count)]


@pytest.fixture
def service(mocked: responses.RequestsMock, keys_served: None, symmetric_key: MfKey) -> FakeExportService:
    fake = FakeExportService(symmetric_key=symmetric_key, hwm=NOW - timedelta(minutes=5), invoices=[])
    fake.install(mocked)
    return fake


def run(client: KsefClient, checkpoint: datetime) -> list:
    return list(client.incremental_sync(subject_type="Subject2", checkpoint=checkpoint))


def assert_contiguous(windows: list, checkpoint: datetime) -> None:
    expected_from = checkpoint
    seen = set()
    for window in windows:
        assert window.date_from == expected_from  # starts exactly where the previous one ended
        key = (window.date_from, window.date_to)
        assert key not in seen  # never the same window twice
        seen.add(key)
        assert window.checkpoint >= window.date_from
        expected_from = window.checkpoint


def test_truncated_windows_resume_at_last_permanent_storage_date(
    service: FakeExportService, client: KsefClient
):
    start = NOW - timedelta(days=20)
    service.invoices = spread(10, start=start, step=timedelta(hours=12))
    service.invoices.append(
        ("5265877635-20261125-FFFFFFFFFFFF-00", NOW - timedelta(minutes=1))
    )  # after the HWM
    windows = run(client, start - timedelta(days=1))

    assert_contiguous(windows, start - timedelta(days=1))
    # 3 per package and the last instant is read again: [0,1,2] [2,3,4] [4,5,6] [6,7,8] [8,9]
    assert [w.is_truncated for w in windows] == [True, True, True, True, False]
    assert windows[-1].caught_up
    assert windows[-1].checkpoint == service.hwm
    assert [w.checkpoint for w in windows[:-1]] == [service.invoices[i][1] for i in (2, 4, 6, 8)]
    got = {number for w in windows for number in w.invoices}
    assert got == {number for number, stored in service.invoices if stored <= service.hwm}
    assert all(
        w.invoices[m.ksef_number] == f"<Faktura>{m.ksef_number}</Faktura>".encode()
        for w in windows
        for m in w.metadata
    )
    assert all(len(w.metadata) == len(w.invoices) for w in windows)
    assert all(r["filters"]["subjectType"] == "Subject2" for r in service.requests)


def test_an_old_checkpoint_is_walked_in_100_day_windows(service: FakeExportService, client: KsefClient):
    checkpoint = NOW - timedelta(days=250)
    service.invoices = spread(6, start=checkpoint + timedelta(days=1), step=timedelta(days=45))
    windows = run(client, checkpoint)

    assert_contiguous(windows, checkpoint)
    assert [w.date_to for w in windows] == [
        checkpoint + timedelta(days=100),
        checkpoint + timedelta(days=200),
        None,
    ]
    assert windows[-1].checkpoint == service.hwm
    assert {n for w in windows for n in w.invoices} == {n for n, _ in service.invoices}
    assert ["to" in r["filters"]["dateRange"] for r in service.requests] == [True, True, False]


def test_nothing_new_after_the_hwm_stops_at_once(service: FakeExportService, client: KsefClient):
    assert run(client, service.hwm + timedelta(seconds=1)) == []
    assert len(service.requests) == 1


def test_a_caller_that_stops_after_committing_resumes_without_gaps(
    service: FakeExportService, client: KsefClient
):
    start = NOW - timedelta(days=5)
    service.invoices = spread(8, start=start, step=timedelta(hours=6))
    first = next(iter(client.incremental_sync(subject_type="Subject2", checkpoint=start)))
    assert len(service.requests) == 1  # the next window waits until the caller asks for it
    stored_cursor = first.checkpoint

    rest = run(client, stored_cursor)
    assert_contiguous(rest, stored_cursor)
    got = set(first.invoices) | {n for w in rest for n in w.invoices}
    assert got == {n for n, _ in service.invoices}


class KeptExport(SyncHooks):
    """A caller that keeps the export in flight, like the importer's cursor does."""

    def __init__(self, mocked: responses.RequestsMock, kept: WindowExport | None = None) -> None:
        self.mocked = mocked
        self.kept = kept
        self.events: list[str] = []

    def stored(self) -> WindowExport | None:
        return self.kept

    def started(self, export: WindowExport) -> None:
        last = self.mocked.calls[-1].request
        self.events.append(f"started after {last.method}")  # i.e. before the first status poll
        self.kept = export

    def forget(self) -> None:
        self.events.append("forget")
        self.kept = None


def window_export(client: KsefClient, start: datetime) -> WindowExport:
    """An export of the window from ``start`` started by an earlier run that then died."""
    filters = InvoiceFilters(
        subject_type="Subject2", date_type="PermanentStorage", date_from=start, restrict_to_hwm=True
    )
    return WindowExport(date_from=start, date_to=None, handle=client.exports.export_start(filters=filters))


def test_a_kept_export_of_the_window_is_resumed_not_started_again(
    service: FakeExportService, client: KsefClient, mocked: responses.RequestsMock
):
    start = NOW - timedelta(days=5)
    service.invoices = spread(2, start=start, step=timedelta(hours=6))
    kept = window_export(client, start)
    hooks = KeptExport(mocked, kept)
    windows = list(client.incremental_sync(subject_type="Subject2", checkpoint=start, hooks=hooks))
    assert len(service.requests) == 1  # only the export of the earlier run
    assert [w.export_reference for w in windows] == [kept.handle.reference_number]
    assert {n for w in windows for n in w.invoices} == {n for n, _ in service.invoices}
    assert hooks.events == []  # the caller drops a finished window's export with its checkpoint


def test_a_kept_export_of_another_window_is_forgotten_and_a_new_one_kept_before_polling(
    service: FakeExportService, client: KsefClient, mocked: responses.RequestsMock
):
    start = NOW - timedelta(days=5)
    service.invoices = spread(2, start=start, step=timedelta(hours=6))
    hooks = KeptExport(mocked, window_export(client, start - timedelta(days=1)))
    windows = list(client.incremental_sync(subject_type="Subject2", checkpoint=start, hooks=hooks))
    assert hooks.events == ["forget", "started after POST"]
    assert len(service.requests) == 2
    assert hooks.kept is not None
    assert [w.export_reference for w in windows] == [hooks.kept.handle.reference_number]
    assert {n for w in windows for n in w.invoices} == {n for n, _ in service.invoices}


@pytest.mark.parametrize("answer", ["410", "status 210"])
def test_a_kept_export_ksef_no_longer_has_is_replaced(
    service: FakeExportService, client: KsefClient, mocked: responses.RequestsMock, answer: str
):
    start = NOW - timedelta(days=5)
    service.invoices = spread(2, start=start, step=timedelta(hours=6))
    kept = window_export(client, start)
    reference = kept.handle.reference_number
    if answer == "410":
        service.gone.add(reference)
    else:
        service.exports[reference] = {"status": {"code": 210, "description": "Eksport wygasł"}}
    hooks = KeptExport(mocked, kept)
    windows = list(client.incremental_sync(subject_type="Subject2", checkpoint=start, hooks=hooks))
    assert hooks.events == ["forget", "started after POST"]
    assert len(service.requests) == 2
    assert {n for w in windows for n in w.invoices} == {n for n, _ in service.invoices}


def test_the_hooks_wrap_every_request_but_the_downloads(
    service: FakeExportService, client: KsefClient, mocked: responses.RequestsMock
):
    class Wrapping(SyncHooks):
        def __init__(self) -> None:
            self.wrapped: list[str] = []

        def call(self, request: Any) -> Any:
            before = len(mocked.calls)
            result = request()
            self.wrapped += [f"{c.request.method} {c.request.url}" for c in mocked.calls[before:]]
            return result

    start = NOW - timedelta(days=5)
    service.invoices = spread(2, start=start, step=timedelta(hours=6))
    hooks = Wrapping()
    windows = list(client.incremental_sync(subject_type="Subject2", checkpoint=start, hooks=hooks))
    (reference,) = [w.export_reference for w in windows]
    # the export's start (with the public key it needs) and its status; not the pre-signed part downloads
    assert [call for call in hooks.wrapped if "/invoices/exports" in call] == [
        f"POST {BASE}/invoices/exports",
        f"GET {BASE}/invoices/exports/{reference}",
    ]
    assert not [call for call in hooks.wrapped if STORAGE in call]
    assert any(STORAGE in str(call.request.url) for call in mocked.calls)


def test_failed_export_raises(mocked: responses.RequestsMock, keys_served: None, client: KsefClient):
    mocked.post(f"{BASE}/invoices/exports", status=201, json={"referenceNumber": "R"})
    mocked.get(f"{BASE}/invoices/exports/R", json={"status": {"code": 415, "description": "Błąd klucza"}})
    with pytest.raises(KsefRejected) as caught:
        run(client, NOW - timedelta(days=1))
    assert caught.value.code == 415


def test_export_550_is_transient(mocked: responses.RequestsMock, keys_served: None, client: KsefClient):
    mocked.post(f"{BASE}/invoices/exports", status=201, json={"referenceNumber": "R"})
    mocked.get(f"{BASE}/invoices/exports/R", json={"status": {"code": 550, "description": "Anulowano"}})
    with pytest.raises(KsefTransientError):
        run(client, NOW - timedelta(days=1))


def test_export_waits_while_in_progress(
    mocked: responses.RequestsMock, keys_served: None, client: KsefClient
):
    mocked.get(f"{BASE}/invoices/exports/R", json={"status": {"code": 100, "description": "w toku"}})
    mocked.get(f"{BASE}/invoices/exports/R", json={"status": {"code": 420, "description": "poza HWM"}})
    assert client.exports.export_wait(reference_number="R").code == 420
    assert len(mocked.calls) == 2


def test_a_damaged_part_is_detected(mocked: responses.RequestsMock, client: KsefClient):
    aes = AesKey.generate()
    encrypted = aes.encrypt(b"zip bytes")
    mocked.get(f"{STORAGE}/1", body=encrypted[:-1] + bytes([encrypted[-1] ^ 1]))
    part = ExportPart(
        ordinal_number=1,
        part_name="p",
        method="GET",
        url=f"{STORAGE}/1",
        part_size=9,
        part_hash=sha256_b64(b"zip bytes"),
        encrypted_part_size=len(encrypted),
        encrypted_part_hash=sha256_b64(encrypted),
        expiration_date=None,
    )
    package = ExportPackage(
        invoice_count=1,
        size=9,
        parts=(part,),
        is_truncated=False,
        compression_type="Zip",
        last_permanent_storage_date=None,
        last_invoicing_date=None,
        permanent_storage_hwm_date=None,
    )
    with pytest.raises(KsefTransientError, match="hash"):
        client.exports.export_download(package=package, aes=aes)


def test_unpack_rejects_garbage():
    with pytest.raises(KsefTransientError, match="cannot be unpacked"):
        archive_unpack(b"not a zip", compression="Zip")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=400 * 24 * 60), max_size=25),
    limit=st.integers(min_value=2, max_value=6),  # 1 would re-read one instant forever
    start_days=st.integers(min_value=1, max_value=400),
)
def test_property_every_invoice_up_to_the_hwm_arrives_through_contiguous_windows(
    token_key: MfKey, symmetric_key: MfKey, offsets: list[int], limit: int, start_days: int
):
    checkpoint = NOW - timedelta(days=start_days)
    hwm = NOW - timedelta(minutes=5)
    # Distinct instants (KSeF stores asynchronously; a package never holds only one repeated instant here).
    instants = sorted({checkpoint + timedelta(minutes=m) for m in offsets})
    invoices = [(ksef_number(i, at), at) for i, at in enumerate(instants)]
    client = KsefClient(
        environment=simulator(api_url=BASE), tokens=tokens(), sleep=lambda s: None, clock=lambda: NOW
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.get(
            f"{BASE}/security/public-key-certificates", json=[token_key.as_json(), symmetric_key.as_json()]
        )
        fake = FakeExportService(symmetric_key=symmetric_key, hwm=hwm, invoices=invoices, limit=max(limit, 2))
        fake.install(mocked)
        windows = run(client, checkpoint)
    assert_contiguous(windows, checkpoint)
    got = {number for w in windows for number in w.invoices}
    assert got == {number for number, at in invoices if at <= hwm}
    if windows:
        assert windows[-1].caught_up
        assert windows[-1].checkpoint == hwm
