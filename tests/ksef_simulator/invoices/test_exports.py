"""Exports: a real encrypted package in parts, truncation with the HWM fields, limits and errors."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import tarfile
import zipfile
from typing import Any

import pytest
from django.test import Client

from ksef_simulator import processing
from ksef_simulator.api import exports
from ksef_simulator.services_invoices import invoice_store_incoming
from tests.ksef_simulator.invoices import fa3
from tests.ksef_simulator.invoices.conftest import DELAY, Clock, Ksef, aes_open, sha
from tests.ksef_simulator.invoices.openapi import assert_valid
from tests.ksef_simulator.invoices.test_online import assert_error, download


def start(party: Ksef, filters: dict[str, Any], **extra: Any) -> str:
    body = {"encryption": party.encryption(), "filters": filters, **extra}
    response = party.post("/invoices/exports", body, schema="InvoiceExportRequest")
    assert response.status_code == 201, response.content
    assert_valid("ExportInvoicesResponse", response.json())
    return str(response.json()["referenceNumber"])


def status(party: Ksef, reference: str) -> dict[str, Any]:
    response = party.get(f"/invoices/exports/{reference}")
    assert response.status_code == 200, response.content
    assert_valid("InvoiceExportStatusResponse", response.json())
    return dict(response.json())


def fetch_package(party: Ksef, package: dict[str, Any]) -> bytes:
    joined = b""
    for part in sorted(package["parts"], key=lambda p: p["ordinalNumber"]):
        response = download(party.client, part["url"])
        assert response.status_code == 200
        assert sha(response.content) == part["encryptedPartHash"]
        assert len(response.content) == part["encryptedPartSize"]
        plain = aes_open(party.key, party.iv, response.content)
        assert sha(plain) == part["partHash"]
        joined += plain
    assert len(joined) == package["size"]
    return joined


def stored(buyer_nip: str, count: int, clock: Clock) -> dict[str, bytes]:
    base = clock.now - dt.timedelta(hours=3)
    files = {}
    for i in range(count):
        xml = fa3.invoice(
            seller=fa3.nip(), buyer=buyer_nip, number=f"E/{i}", issue=processing.warsaw_date(base)
        )
        files[invoice_store_incoming(xml_bytes=xml, acquisition=base + dt.timedelta(minutes=i))] = xml
    return files


def since(clock: Clock, **extra: Any) -> dict[str, Any]:
    return {"dateType": "PermanentStorage", "from": (clock.now - dt.timedelta(days=1)).isoformat(), **extra}


def test_zip_export_in_several_encrypted_parts(buyer: Ksef, clock: Clock, settings: Any) -> None:
    settings.KSEF_SIMULATOR_EXPORT_PART_SIZE = 700
    files = stored(buyer.nip, 3, clock)
    reference = start(
        buyer, {"subjectType": "Subject2", "dateRange": since(clock, restrictToPermanentStorageHwmDate=True)}
    )
    assert status(buyer, reference)["status"]["code"] == 100
    clock.advance()
    done = status(buyer, reference)
    assert done["status"]["code"] == 200
    package = done["package"]
    assert len(package["parts"]) > 1
    assert all(p["partSize"] <= 700 for p in package["parts"])
    assert (package["invoiceCount"], package["isTruncated"], package["compressionType"]) == (3, False, "Zip")
    assert package["permanentStorageHwmDate"] is not None
    with zipfile.ZipFile(io.BytesIO(fetch_package(buyer, package))) as archive:
        names = set(archive.namelist())
        assert names == {f"{n}.xml" for n in files} | {"_metadata.json"}
        for number, xml in files.items():
            assert archive.read(f"{number}.xml") == xml
        metadata = json.loads(archive.read("_metadata.json"))
    for item in metadata["invoices"]:
        assert_valid("InvoiceMetadata", item)
    assert [i["ksefNumber"] for i in metadata["invoices"]] == list(files)


def test_targz_and_only_metadata(buyer: Ksef, clock: Clock) -> None:
    files = stored(buyer.nip, 2, clock)
    filters = {"subjectType": "Subject2", "dateRange": since(clock)}
    tar_ref = start(buyer, filters, compressionType="TarGz")
    meta_ref = start(buyer, filters, onlyMetadata=True)
    clock.advance()
    tar_status = status(buyer, tar_ref)
    assert tar_status["package"]["compressionType"] == "TarGz"
    with tarfile.open(
        fileobj=io.BytesIO(fetch_package(buyer, tar_status["package"])), mode="r:gz"
    ) as archive:
        assert set(archive.getnames()) == {f"{n}.xml" for n in files} | {"_metadata.json"}
    with zipfile.ZipFile(io.BytesIO(fetch_package(buyer, status(buyer, meta_ref)["package"]))) as archive:
        assert archive.namelist() == ["_metadata.json"]
        assert len(json.loads(archive.read("_metadata.json"))["invoices"]) == 2


def test_truncated_package_names_the_last_date(
    buyer: Ksef, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exports, "MAX_INVOICES", 2)
    files = stored(buyer.nip, 3, clock)
    reference = start(buyer, {"subjectType": "Subject2", "dateRange": since(clock)})
    clock.advance()
    package = status(buyer, reference)["package"]
    assert (package["invoiceCount"], package["isTruncated"]) == (2, True)
    with zipfile.ZipFile(io.BytesIO(fetch_package(buyer, package))) as archive:
        metadata = json.loads(archive.read("_metadata.json"))["invoices"]
    assert [i["ksefNumber"] for i in metadata] == list(files)[:2]
    assert package["lastPermanentStorageDate"] == metadata[-1]["permanentStorageDate"]


def test_export_errors(buyer: Ksef, client: Client, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    filters = {"subjectType": "Subject2", "dateRange": since(clock)}
    assert_error(buyer.post("/invoices/exports", {"encryption": buyer.encryption()}), 21405)
    assert_error(buyer.get("/invoices/exports/20260101-EH-0000000000-0000000000-00"), 21175)
    # A NipVatUe context may only export its own sales (Subject1).
    vat_ue = Ksef(
        client=client,
        nip=fa3.nip(),
        permissions=["InvoiceRead"],
        context_type="NipVatUe",
        context_suffix="-ATU12345678",
    )
    assert_error(
        vat_ue.post("/invoices/exports", {"encryption": vat_ue.encryption(), "filters": filters}), 21181
    )
    own_sales = {"subjectType": "Subject1", "dateRange": since(clock)}
    start(vat_ue, own_sales)

    monkeypatch.setattr(exports, "MAX_CONCURRENT", 2)
    start(buyer, filters)
    start(buyer, filters)
    assert_error(
        buyer.post("/invoices/exports", {"encryption": buyer.encryption(), "filters": filters}), 21182
    )
    clock.advance()
    start(buyer, filters)


def test_bad_key_beyond_hwm_and_retention(buyer: Ksef, clock: Clock) -> None:
    encryption = buyer.encryption()
    encryption["encryptedSymmetricKey"] = base64.b64encode(b"\x02" * 256).decode()
    body = {"encryption": encryption, "filters": {"subjectType": "Subject2", "dateRange": since(clock)}}
    response = buyer.post("/invoices/exports", body)
    assert response.status_code == 201
    assert status(buyer, response.json()["referenceNumber"])["status"]["code"] == 415
    future = {
        "dateType": "PermanentStorage",
        "from": clock.now.isoformat(),
        "restrictToPermanentStorageHwmDate": True,
    }
    beyond = start(buyer, {"subjectType": "Subject2", "dateRange": future})
    clock.advance(DELAY)
    assert status(buyer, beyond)["status"]["code"] == 420
    clock.advance(exports.RETENTION)
    gone = buyer.get(f"/invoices/exports/{beyond}")
    assert gone.status_code == 410
    assert gone["Content-Type"] == "application/problem+json"
