"""Online and batch sessions: what is sent, how statuses are read, UPO and part uploads without auth."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile

import pytest
import responses

from ksef_integration.ksef.batch import TAR_GZ, package_build, package_split
from ksef_integration.ksef.client import KsefClient
from ksef_integration.ksef.crypto import AesKey, rsa_oaep_decrypt, sha256_b64
from ksef_integration.ksef.errors import KsefDuplicate, KsefError, KsefRejected, KsefTransientError
from tests.ksef_integration.ksef.conftest import BASE, MfKey, body

SO = "20261125-SO-0000000001-0000000001-00"
EE = "20261125-EE-0000000002-0000000002-00"
SB = "20261125-SB-0000000003-0000000003-00"
XML = (
    '<?xml version="1.0" encoding="UTF-8"?><Faktura><P_2>FV/1/2026</P_2><Nazwa>Zażółć</Nazwa></Faktura>'
).encode()


def open_session(mocked: responses.RequestsMock, client: KsefClient):
    mocked.post(
        f"{BASE}/sessions/online",
        status=201,
        json={"referenceNumber": SO, "validUntil": "2026-11-26T00:00:00+00:00", "extra": 1},
    )
    return client.sessions.online_open()


def sent_key(mocked: responses.RequestsMock, symmetric_key: MfKey, path: str) -> AesKey:
    sent = body(next(c for c in mocked.calls if str(c.request.url).endswith(path)))
    key = rsa_oaep_decrypt(
        private_key=symmetric_key.private_key,
        data=base64.b64decode(sent["encryption"]["encryptedSymmetricKey"]),
    )
    return AesKey(key=key, iv=base64.b64decode(sent["encryption"]["initializationVector"]))


def test_open_sends_fa3_form_code_and_wrapped_key(
    mocked: responses.RequestsMock, keys_served: None, client: KsefClient, symmetric_key: MfKey
):
    session = open_session(mocked, client)
    sent = body(next(c for c in mocked.calls if str(c.request.url).endswith("/sessions/online")))
    assert sent["formCode"] == {"systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA"}
    assert sent["encryption"]["publicKeyId"] == symmetric_key.public_key_id
    assert sent_key(mocked, symmetric_key, "/sessions/online").key == session.aes.key
    assert session.reference_number == SO


def test_send_encrypts_and_describes_the_invoice(
    mocked: responses.RequestsMock, keys_served: None, client: KsefClient, symmetric_key: MfKey
):
    session = open_session(mocked, client)
    mocked.post(f"{BASE}/sessions/online/{SO}/invoices", status=202, json={"referenceNumber": EE})
    sent_invoice = client.sessions.invoice_send(session=session, xml=XML)
    assert sent_invoice.reference_number == EE

    sent = body(mocked.calls[-1])
    encrypted = base64.b64decode(sent["encryptedInvoiceContent"])
    assert sent["invoiceHash"] == base64.b64encode(hashlib.sha256(XML).digest()).decode()
    assert sent["invoiceSize"] == len(XML)
    assert sent["encryptedInvoiceSize"] == len(encrypted) == 16 * (len(XML) // 16 + 1)
    assert sent["encryptedInvoiceHash"] == sha256_b64(encrypted)
    assert sent["offlineMode"] is False
    assert "hashOfCorrectedInvoice" not in sent
    key = sent_key(mocked, symmetric_key, "/sessions/online")
    assert key.decrypt(encrypted) == XML
    assert mocked.calls[-1].request.headers["Authorization"] == "Bearer access-jwt-0123456789"


def test_send_offline_technical_correction(
    mocked: responses.RequestsMock, keys_served: None, client: KsefClient
):
    session = open_session(mocked, client)
    mocked.post(f"{BASE}/sessions/online/{SO}/invoices", status=202, json={"referenceNumber": EE})
    original_hash = sha256_b64(b"rejected original")
    client.sessions.invoice_send(
        session=session, xml=XML, offline_mode=True, hash_of_corrected_invoice=original_hash
    )
    sent = body(mocked.calls[-1])
    assert sent["offlineMode"] is True
    assert sent["hashOfCorrectedInvoice"] == original_hash


def _invoice_status(code: int, **extra: object) -> dict:
    return {
        "ordinalNumber": 1,
        "referenceNumber": EE,
        "invoiceHash": sha256_b64(XML),
        "invoicingDate": "2026-11-25T12:00:00.1234567+00:00",
        "status": {"code": code, "description": "d", **extra},
    }


def test_wait_until_accepted(mocked: responses.RequestsMock, client: KsefClient):
    url = f"{BASE}/sessions/{SO}/invoices/{EE}"
    mocked.get(url, json=_invoice_status(100))
    mocked.get(url, json=_invoice_status(150))
    mocked.get(
        url,
        json={
            **_invoice_status(200),
            "ksefNumber": "5265877635-20250826-0100001AF629-AF",
            "acquisitionDate": "2026-11-25T12:00:05+00:00",
            "upoDownloadUrl": "https://storage.example.test/upo/1?sig=S",
            "invoicingMode": "Online",
        },
    )
    status = client.sessions.invoice_wait(session_reference=SO, invoice_reference=EE)
    assert status.is_success
    assert status.ksef_number == "5265877635-20250826-0100001AF629-AF"
    assert status.acquisition_date is not None
    assert len(mocked.calls) == 3


def test_duplicate_is_reported_with_the_original(mocked: responses.RequestsMock, client: KsefClient):
    mocked.get(
        f"{BASE}/sessions/{SO}/invoices/{EE}",
        json=_invoice_status(
            440,
            extensions={
                "originalSessionReferenceNumber": "20261101-SO-AAAAAAAAAA-BBBBBBBBBB-CC",
                "originalKsefNumber": "5265877635-20261101-0100001AF629-00",
            },
        ),
    )
    with pytest.raises(KsefDuplicate) as caught:
        client.sessions.invoice_wait(session_reference=SO, invoice_reference=EE)
    assert caught.value.original_ksef_number == "5265877635-20261101-0100001AF629-00"
    assert caught.value.original_session_reference == "20261101-SO-AAAAAAAAAA-BBBBBBBBBB-CC"
    assert not isinstance(caught.value, KsefRejected)


def test_rejection_carries_the_details(mocked: responses.RequestsMock, client: KsefClient):
    mocked.get(
        f"{BASE}/sessions/{SO}/invoices/{EE}",
        json=_invoice_status(450, details=["The element 'Fa' has invalid child element 'P_2'."]),
    )
    with pytest.raises(KsefRejected) as caught:
        client.sessions.invoice_wait(session_reference=SO, invoice_reference=EE)
    assert caught.value.code == 450
    assert "invalid child element" in caught.value.details[0]


def test_status_550_is_transient(mocked: responses.RequestsMock, client: KsefClient):
    mocked.get(f"{BASE}/sessions/{SO}/invoices/{EE}", json=_invoice_status(550))
    with pytest.raises(KsefTransientError):
        client.sessions.invoice_wait(session_reference=SO, invoice_reference=EE)


def test_close_status_and_session_upo_without_authorization(
    mocked: responses.RequestsMock, client: KsefClient
):
    mocked.post(f"{BASE}/sessions/online/{SO}/close", status=204)
    mocked.get(
        f"{BASE}/sessions/{SO}",
        json={
            "status": {"code": 170, "description": "Sesja interaktywna zamknięta"},
            "dateCreated": "2026-11-25T12:00:00+00:00",
            "dateUpdated": "2026-11-25T12:01:00+00:00",
        },
    )
    upo_url = "https://storage.example.test/upo/session?sig=abc&se=1"
    mocked.get(
        f"{BASE}/sessions/{SO}",
        json={
            "status": {"code": 200, "description": "Sesja interaktywna przetworzona pomyślnie"},
            "dateCreated": "2026-11-25T12:00:00+00:00",
            "dateUpdated": "2026-11-25T12:02:00+00:00",
            "upo": {
                "pages": [
                    {
                        "referenceNumber": "20261125-EU-0000000004-0000000004-00",
                        "downloadUrl": upo_url,
                        "downloadUrlExpirationDate": "2026-11-28T12:00:00+00:00",
                    }
                ]
            },
            "invoiceCount": 1,
            "successfulInvoiceCount": 1,
            "failedInvoiceCount": 0,
        },
    )
    mocked.get(upo_url, body=b"<Potwierdzenie/>", content_type="application/xml")
    client.sessions.online_close(session_reference=SO)
    status = client.sessions.session_wait(session_reference=SO)
    assert status.code == 200
    assert status.successful_invoice_count == 1
    upo = client.sessions.upo_download(url=status.upo_pages[0].download_url)
    assert upo == b"<Potwierdzenie/>"
    assert "Authorization" not in mocked.calls[-1].request.headers
    assert mocked.calls[0].request.headers["Authorization"] == "Bearer access-jwt-0123456789"


def test_failed_invoices_follow_continuation_tokens(mocked: responses.RequestsMock, client: KsefClient):
    url = f"{BASE}/sessions/{SO}/invoices/failed"
    mocked.get(url, json={"continuationToken": "page-2", "invoices": [_invoice_status(450)]})
    mocked.get(
        url, json={"continuationToken": None, "invoices": [_invoice_status(430), _invoice_status(435)]}
    )
    failed = list(client.sessions.invoices_failed(session_reference=SO))
    assert [f.code for f in failed] == [450, 430, 435]
    assert "x-continuation-token" not in mocked.calls[0].request.headers
    assert mocked.calls[1].request.headers["x-continuation-token"] == "page-2"


# --- batch ------------------------------------------------------------------------------------------


def test_package_build_zip_and_targz():
    files = {"a.xml": b"<a/>", "b.xml": b"<b/>"}
    with zipfile.ZipFile(io.BytesIO(package_build(files))) as archive:
        assert {n: archive.read(n) for n in archive.namelist()} == files
    with tarfile.open(fileobj=io.BytesIO(package_build(files, compression=TAR_GZ)), mode="r:gz") as tar:
        assert {m.name: tar.extractfile(m).read() for m in tar.getmembers()} == files  # type: ignore[union-attr]


def test_package_split_is_binary_and_bounded():
    data = bytes(range(256)) * 10
    parts = package_split(data, part_size=1000)
    assert [len(p) for p in parts] == [1000, 1000, 560]
    assert b"".join(parts) == data
    with pytest.raises(KsefError, match="50"):
        package_split(b"x" * 51, part_size=1)


def test_batch_send(
    mocked: responses.RequestsMock, keys_served: None, client: KsefClient, symmetric_key: MfKey
):
    files = {f"fv{i}.xml": XML.replace(b"FV/1", f"FV/{i}".encode()) for i in range(30)}
    uploads = [
        {
            "ordinalNumber": n,
            "method": "PUT",
            "url": f"https://storage.example.test/batch/{n}?sig=s{n}",
            "headers": {"x-ms-blob-type": "BlockBlob"},
        }
        for n in (1, 2, 3)
    ]
    mocked.post(
        f"{BASE}/sessions/batch", status=201, json={"referenceNumber": SB, "partUploadRequests": uploads}
    )
    for n in (1, 2, 3):
        mocked.put(f"https://storage.example.test/batch/{n}?sig=s{n}", status=201)
    mocked.post(f"{BASE}/sessions/batch/{SB}/close", status=204)

    archive = package_build(files)
    part_size = len(archive) // 3 + 1
    session = client.batches.batch_send(files=files, part_size=part_size)
    assert session.reference_number == SB

    sent = body(next(c for c in mocked.calls if str(c.request.url).endswith("/sessions/batch")))
    assert sent["batchFile"]["compressionType"] == "Zip"
    declared = sent["batchFile"]["fileParts"]
    assert [p["ordinalNumber"] for p in declared] == [1, 2, 3]
    assert all("fileName" not in p for p in declared)
    key = sent_key(mocked, symmetric_key, "/sessions/batch")

    puts = [c for c in mocked.calls if c.request.method == "PUT"]
    assert len(puts) == 3
    joined = b""
    for put, part in zip(puts, declared, strict=True):
        assert "Authorization" not in put.request.headers
        assert put.request.headers["x-ms-blob-type"] == "BlockBlob"
        uploaded = bytes(put.request.body)  # type: ignore[arg-type]
        assert part["fileSize"] == len(uploaded)
        assert part["fileHash"] == sha256_b64(uploaded)
        joined += key.decrypt(uploaded)
    assert sent["batchFile"]["fileSize"] == len(joined)
    assert sent["batchFile"]["fileHash"] == sha256_b64(joined)
    with zipfile.ZipFile(io.BytesIO(joined)) as unpacked:
        assert unpacked.read("fv7.xml") == files["fv7.xml"]
    assert str(mocked.calls[-1].request.url).endswith(f"/sessions/batch/{SB}/close")
