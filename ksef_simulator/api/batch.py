"""Batch sessions: ``POST /sessions/batch`` (pre-signed part uploads), ``POST /sessions/batch/{ref}/close``.

At close the parts are decrypted, joined and unpacked (Zip or TarGz); each file then becomes an invoice that
is processed like one sent online, with the session's open time as its invoicing date.
"""

from __future__ import annotations

import datetime as dt
import io
import tarfile
import zipfile
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse

from ksef_simulator import crypto, ids, processing, storage
from ksef_simulator.api.common_invoices import (
    BATCH_FORMS,
    field,
    form_code,
    json_body,
    session_for,
    sha256_field,
    unwrap_key,
)
from ksef_simulator.api.sessions import session_create
from ksef_simulator.http import api_view
from ksef_simulator.models import SimInvoice, SimSession
from ksef_simulator.paging import enum_spelling
from ksef_simulator.responses import bad_request, validation_error
from ksef_simulator.security import principal_from_request, require_any_permission

WRITE = ["InvoiceWrite", "EnforcementOperations"]
MAX_PARTS = 50
MAX_PART_SIZE = 100_000_000
MAX_FILE_SIZE = 5_000_000_000
UPLOAD_WINDOW_PER_PART = 20  # minutes
_CLOSED = "Status sesji nie pozwala na wykonanie operacji."


class _BatchFailed(Exception):
    def __init__(self, code: int, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _declared_parts(batch_file: dict[str, Any]) -> list[dict[str, Any]]:
    parts = field(batch_file, "fileParts", list)
    if not parts:
        raise validation_error("Lista 'fileParts' nie może być pusta.")
    if len(parts) > MAX_PARTS:
        raise bad_request(21161, "Przekroczono dozwoloną liczbę części pliku.", f"Limit: {MAX_PARTS}.")
    declared = []
    for part in parts:
        if not isinstance(part, dict):
            raise validation_error("Element 'fileParts' musi być obiektem.")
        ordinal = field(part, "ordinalNumber", int)
        size = field(part, "fileSize", int)
        digest = sha256_field(part, "fileHash")
        if size < 1 or size > MAX_PART_SIZE + 16:  # + one block of PKCS#7 padding
            raise bad_request(21157, "Nieprawidłowy rozmiar części pliku.", f"Część {ordinal}: {size} B.")
        declared.append({"ordinalNumber": ordinal, "fileSize": size, "fileHash": digest})
    if sorted(p["ordinalNumber"] for p in declared) != list(range(1, len(declared) + 1)):
        raise validation_error("Numery części muszą być kolejnymi liczbami od 1.")
    return sorted(declared, key=lambda p: p["ordinalNumber"])


@api_view("POST", name="sessions.batch.open")
def batch_open(request: HttpRequest) -> HttpResponse:
    principal = principal_from_request(request)
    require_any_permission(principal, WRITE)
    data = json_body(request)
    form = form_code(data, BATCH_FORMS)
    batch_file = field(data, "batchFile", dict)
    file_size = field(batch_file, "fileSize", int)
    if not 1 <= file_size <= MAX_FILE_SIZE:
        raise validation_error(f"Rozmiar paczki musi mieścić się w zakresie 1..{MAX_FILE_SIZE} B.")
    file_hash = sha256_field(batch_file, "fileHash")
    given = field(batch_file, "compressionType", str, required=False) or "Zip"
    compression = enum_spelling(given, ("Zip", "TarGz"))
    if compression is None:
        raise validation_error("Pole 'compressionType' musi mieć wartość Zip lub TarGz.")
    declared = _declared_parts(batch_file)
    offline = field(data, "offlineMode", bool, required=False) or False
    aes_key, iv = unwrap_key(data)
    session = session_create(
        principal=principal,
        kind=SimSession.Kind.BATCH,
        form=form,
        aes_key=aes_key,
        iv=iv,
        offline_mode=offline,
        batch_file_size=file_size,
        batch_file_hash=file_hash or "",
        compression_type=compression,
        declared_parts=declared,
    )
    expires = session.created_at + dt.timedelta(minutes=UPLOAD_WINDOW_PER_PART * len(declared))
    uploads = [
        {
            "ordinalNumber": part["ordinalNumber"],
            "method": "PUT",
            "url": storage.signed_url(
                request,
                kind=storage.BATCH_PART,
                ident=f"{session.reference_number}/{part['ordinalNumber']}",
                expires_at=expires,
            ),
            "headers": {"x-ms-blob-type": "BlockBlob"},
        }
        for part in declared
    ]
    return JsonResponse(
        {"referenceNumber": session.reference_number, "partUploadRequests": uploads}, status=201
    )


def _unpack(archive: bytes, compression: str) -> list[tuple[str, bytes]]:
    try:
        if compression == "TarGz":
            with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
                members = [m for m in tar.getmembers() if m.isfile()]
                return [(m.name.rsplit("/", 1)[-1], tar.extractfile(m).read()) for m in members]  # type: ignore[union-attr]
        with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
            return [
                (i.filename.rsplit("/", 1)[-1], zipped.read(i)) for i in zipped.infolist() if not i.is_dir()
            ]
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as exc:
        raise _BatchFailed(430, "Nie można zdekompresować archiwum.") from exc


def _assemble(session: SimSession) -> list[tuple[str, bytes]]:
    """Decrypt, join and unpack the uploaded parts; raise ``_BatchFailed`` with the session status."""
    if session.aes_key is None:
        raise _BatchFailed(415, "Nie można odszyfrować klucza symetrycznego.")
    aes_key = bytes(session.aes_key)
    uploaded = {p.ordinal_number: bytes(p.content) for p in session.parts.all()}
    archive = b""
    for part in session.declared_parts:
        content = uploaded[part["ordinalNumber"]]
        if crypto.sha256_b64(content) != part["fileHash"]:
            raise _BatchFailed(405, f"Skrót części {part['ordinalNumber']} jest niezgodny z deklarowanym.")
        try:
            archive += crypto.aes_decrypt(aes_key, bytes(session.iv), content)
        except ValueError as exc:
            raise _BatchFailed(435, f"Nie można odszyfrować części {part['ordinalNumber']}.") from exc
    if len(archive) != session.batch_file_size or crypto.sha256_b64(archive) != session.batch_file_hash:
        raise _BatchFailed(405, "Rozmiar lub skrót paczki jest niezgodny z deklarowanym.")
    files = _unpack(archive, session.compression_type)
    if len(files) > session.max_invoices:
        raise _BatchFailed(420, f"Limit: {session.max_invoices}.")
    if not files:
        raise _BatchFailed(440, "Nie przesłano faktur")
    return files


def _check_uploads(session: SimSession) -> None:
    sizes = {p.ordinal_number: len(p.content) for p in session.parts.all()}
    for part in session.declared_parts:
        ordinal = part["ordinalNumber"]
        if ordinal not in sizes:
            raise bad_request(
                21205, "Paczka nie zawiera wszystkich zadeklarowanych części.", f"Brak części {ordinal}."
            )
        if sizes[ordinal] != part["fileSize"]:
            raise bad_request(
                21157, "Nieprawidłowy rozmiar części pliku.", f"Część {ordinal}: {sizes[ordinal]} B."
            )


@api_view("POST", name="sessions.batch.close")
def batch_close(request: HttpRequest, reference: str) -> HttpResponse:
    principal = principal_from_request(request)
    require_any_permission(principal, WRITE)
    processing.settle()
    session = session_for(principal, reference, kind=SimSession.Kind.BATCH)
    if session.status_code != 100 or session.closed_at is not None:
        raise bad_request(21180, _CLOSED)
    _check_uploads(session)
    moment = processing.now()
    delay = processing.timings().invoice_processing_delay
    with transaction.atomic():
        locked = SimSession.objects.select_for_update().get(pk=session.pk)
        if locked.closed_at is not None:
            raise bad_request(21180, _CLOSED)
        locked.closed_at = locked.updated_at = moment
        try:
            files = _assemble(locked)
        except _BatchFailed as failure:
            locked.status_code, locked.status_details, locked.finalized = failure.code, [failure.detail], True
            locked.save()
            return HttpResponse(status=204)
        SimInvoice.objects.bulk_create(
            [
                SimInvoice(
                    reference_number=ids.reference_number("EE", moment),
                    session=locked,
                    ordinal_number=index,
                    context_nip=locked.context_nip,
                    system_code=locked.system_code,
                    schema_version=locked.schema_version,
                    form_value=locked.form_value,
                    xml=content,
                    invoice_hash=crypto.sha256_b64(content),
                    invoice_size=len(content),
                    file_name=name[:128],
                    offline_requested=locked.offline_mode,
                    received_at=locked.created_at,  # a batch invoice is "invoiced" when the session opened
                    due_at=moment + delay,
                )
                for index, (name, content) in enumerate(files, start=1)
            ]
        )
        locked.invoice_count = len(files)
        locked.status_code = 150
        locked.save()
    return HttpResponse(status=204)
