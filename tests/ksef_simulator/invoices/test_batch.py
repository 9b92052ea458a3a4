"""Batch sessions: open, upload parts to pre-signed URLs without a token, close, process like online."""

from __future__ import annotations

import base64
import datetime as dt
import io
import tarfile
import zipfile
from typing import Any
from urllib.parse import urlsplit

import pytest

from ksef_simulator import processing
from ksef_simulator.limits import limits_override
from tests.ksef_simulator.invoices import fa3
from tests.ksef_simulator.invoices.conftest import Clock, Ksef, aes, sha
from tests.ksef_simulator.invoices.openapi import assert_valid
from tests.ksef_simulator.invoices.test_online import assert_error, download, upo_is_valid

FORM = {"systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA"}


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def targz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def open_batch(
    party: Ksef, archive: bytes, *, parts: int = 2, batch_file: dict[str, Any] | None = None
) -> tuple[str, list[dict[str, Any]], list[bytes]]:
    size = -(-len(archive) // parts)
    encrypted = [aes(party.key, party.iv, archive[i : i + size]) for i in range(0, len(archive), size)]
    body = {
        "formCode": FORM,
        "batchFile": {
            "fileSize": len(archive),
            "fileHash": sha(archive),
            "fileParts": [
                {"ordinalNumber": n, "fileSize": len(part), "fileHash": sha(part)}
                for n, part in enumerate(encrypted, 1)
            ],
            **(batch_file or {}),
        },
        "encryption": party.encryption(),
    }
    response = party.post("/sessions/batch", body, schema="OpenBatchSessionRequest")
    assert response.status_code == 201, response.content
    assert_valid("OpenBatchSessionResponse", response.json())
    return response.json()["referenceNumber"], response.json()["partUploadRequests"], encrypted


def upload(party: Ksef, request: dict[str, Any], content: bytes) -> Any:
    url = urlsplit(request["url"])
    headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in request["headers"].items()}
    return party.client.put(
        f"{url.path}?{url.query}", data=content, content_type="application/octet-stream", **headers
    )


def upload_all(party: Ksef, uploads: list[dict[str, Any]], parts: list[bytes]) -> None:
    for request, content in zip(uploads, parts, strict=True):
        assert request["method"] == "PUT"
        assert upload(party, request, content).status_code == 201


def invoices_of(seller: Ksef, count: int) -> dict[str, bytes]:
    return {
        f"faktura-{i}.xml": fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=fa3.number())
        for i in range(count)
    }


@pytest.mark.parametrize("pack", [zipped, targz])
def test_batch_round_trip(seller: Ksef, clock: Clock, pack: Any) -> None:
    files = invoices_of(seller, 3)
    files["zla.xml"] = b"<Faktura/>"
    batch_file = {"compressionType": "TarGz"} if pack is targz else None
    session, uploads, parts = open_batch(seller, pack(files), batch_file=batch_file)
    assert seller.session_status(session)["status"]["code"] == 100
    upload_all(seller, uploads, parts)
    assert seller.post(f"/sessions/batch/{session}/close").status_code == 204
    assert seller.session_status(session)["status"]["code"] == 150
    clock.advance()
    final = seller.session_status(session)
    assert final["status"]["code"] == 200
    assert (final["invoiceCount"], final["successfulInvoiceCount"], final["failedInvoiceCount"]) == (4, 3, 1)
    listed = seller.get(f"/sessions/{session}/invoices?pageSize=10").json()["invoices"]
    by_name = {i["invoiceFileName"]: i for i in listed}
    assert set(by_name) == set(files)
    assert by_name["zla.xml"]["status"]["code"] == 450
    assert by_name["faktura-0.xml"]["invoiceHash"] == sha(files["faktura-0.xml"])
    assert by_name["faktura-0.xml"]["invoicingDate"] == final["dateCreated"]
    upo = download(seller.client, final["upo"]["pages"][0]["downloadUrl"])
    assert upo.status_code == 200
    upo_is_valid(upo.content)


def test_close_needs_every_part_with_its_declared_size(seller: Ksef) -> None:
    session, uploads, parts = open_batch(seller, zipped(invoices_of(seller, 2)))
    upload(seller, uploads[0], parts[0])
    assert_error(seller.post(f"/sessions/batch/{session}/close"), 21205)
    upload(seller, uploads[1], parts[1] + b"\x00" * 16)
    assert_error(seller.post(f"/sessions/batch/{session}/close"), 21157)
    upload(seller, uploads[1], parts[1])
    assert seller.post(f"/sessions/batch/{session}/close").status_code == 204
    assert_error(seller.post(f"/sessions/batch/{session}/close"), 21180)


def test_upload_urls_are_signed_and_refuse_a_closed_session(seller: Ksef) -> None:
    session, uploads, parts = open_batch(seller, zipped(invoices_of(seller, 1)), parts=1)
    forged = dict(uploads[0], url=uploads[0]["url"].replace("sig=", "sig=ff"))
    assert upload(seller, forged, parts[0]).status_code == 403
    upload_all(seller, uploads, parts)
    seller.post(f"/sessions/batch/{session}/close")
    assert upload(seller, uploads[0], parts[0]).status_code == 400


def test_upload_window_is_20_minutes_per_part(seller: Ksef, clock: Clock) -> None:
    _, uploads, parts = open_batch(seller, zipped(invoices_of(seller, 2)))
    clock.advance(dt.timedelta(minutes=41))
    assert upload(seller, uploads[0], parts[0]).status_code == 403


def test_broken_packages_fail_the_session(seller: Ksef, clock: Clock) -> None:
    not_an_archive = b"to nie jest zip" * 10
    session, uploads, parts = open_batch(seller, not_an_archive, parts=1)
    upload_all(seller, uploads, parts)
    seller.post(f"/sessions/batch/{session}/close")
    assert seller.session_status(session)["status"]["code"] == 430

    empty_session, uploads, parts = open_batch(seller, zipped({}), parts=1)
    upload_all(seller, uploads, parts)
    seller.post(f"/sessions/batch/{empty_session}/close")
    assert seller.session_status(empty_session)["status"]["code"] == 440


def test_part_with_other_content_than_declared_is_405(seller: Ksef) -> None:
    archive = zipped(invoices_of(seller, 1))
    session, uploads, parts = open_batch(seller, archive, parts=1)
    tampered = bytearray(parts[0])
    tampered[0] ^= 0xFF
    upload(seller, uploads[0], bytes(tampered))
    seller.post(f"/sessions/batch/{session}/close")
    status = seller.session_status(session)["status"]
    assert status["code"] == 405


def test_unclosed_batch_is_cancelled_after_12_hours(seller: Ksef, clock: Clock) -> None:
    session, _, _ = open_batch(seller, zipped(invoices_of(seller, 1)))
    clock.advance(processing.SESSION_LIFETIME + dt.timedelta(seconds=1))
    status = seller.session_status(session)["status"]
    assert (status["code"], status["details"]) == (440, ["Przekroczono czas wysyłki"])


def test_open_validates_parts(seller: Ksef) -> None:
    part = {"ordinalNumber": 1, "fileSize": 16, "fileHash": sha(b"x")}
    body: dict[str, Any] = {
        "formCode": FORM,
        "batchFile": {"fileSize": 10, "fileHash": sha(b"x"), "fileParts": [part] * 51},
        "encryption": seller.encryption(),
    }
    assert_error(seller.post("/sessions/batch", body), 21161)
    body["batchFile"]["fileParts"] = [dict(part, fileSize=200_000_000)]
    assert_error(seller.post("/sessions/batch", body), 21157)
    body["batchFile"]["fileParts"] = [dict(part, ordinalNumber=2)]
    assert_error(seller.post("/sessions/batch", body), 21405)
    encryption = dict(body["encryption"], publicKeyId=base64.b64encode(b"z" * 32).decode())
    body["batchFile"]["fileParts"] = [part]
    assert_error(seller.post("/sessions/batch", dict(body, encryption=encryption)), 21470)


def test_batch_accepts_an_invoice_with_attachment_once_the_consent_is_given(
    seller: Ksef, clock: Clock
) -> None:
    from tests.ksef_simulator.invoices.test_online import ATTACHMENT

    xml = fa3.invoice(seller=seller.nip, buyer=fa3.nip(), number=fa3.number()).replace(
        b"</Faktura>", ATTACHMENT
    )
    # Without the consent to send invoices with attachments (e-Urząd Skarbowy; /testdata/attachment): 415.
    session, uploads, parts = open_batch(seller, zipped({"z.xml": xml}), parts=1)
    upload_all(seller, uploads, parts)
    seller.post(f"/sessions/batch/{session}/close")
    clock.advance(dt.timedelta(seconds=10))
    refused = seller.get(f"/sessions/{session}/invoices").json()["invoices"]
    assert refused[0]["status"]["code"] == 415
    assert "zgody" in refused[0]["status"]["details"][0]

    assert seller.post("/testdata/attachment", {"nip": seller.nip}).status_code == 200
    session, uploads, parts = open_batch(seller, zipped({"z.xml": xml}), parts=1)
    upload_all(seller, uploads, parts)
    seller.post(f"/sessions/batch/{session}/close")
    clock.advance(dt.timedelta(seconds=10))
    listed = seller.get(f"/sessions/{session}/invoices").json()["invoices"]
    assert listed[0]["status"]["code"] == 200
    body = {
        "subjectType": "Subject1",
        "dateRange": {"dateType": "Invoicing", "from": (clock.now - dt.timedelta(hours=1)).isoformat()},
        "hasAttachment": True,
    }
    found = seller.post("/invoices/query/metadata", body).json()["invoices"]
    assert [i["ksefNumber"] for i in found] == [listed[0]["ksefNumber"]]


def test_too_many_invoices_for_the_context_limit_is_420(seller: Ksef) -> None:
    values = {
        "batchSession": {"maxInvoiceSizeInMB": 1, "maxInvoiceWithAttachmentSizeInMB": 3, "maxInvoices": 1}
    }
    limits_override(kind="session", context_type="Nip", context_value=seller.nip, values=values)
    session, uploads, parts = open_batch(seller, zipped(invoices_of(seller, 2)), parts=1)
    upload_all(seller, uploads, parts)
    seller.post(f"/sessions/batch/{session}/close")
    assert seller.session_status(session)["status"]["code"] == 420
