"""Asynchronous exports: ``POST /invoices/exports`` and ``GET /invoices/exports/{referenceNumber}``.

The package is built lazily, the first time its status is read after it is due, from the invoices stored
by that due moment; so the same export always yields the same package.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import tarfile
import zipfile
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse

from ksef_simulator import crypto, ids, invoice_queries, processing, storage
from ksef_simulator.api.common_invoices import clean_json, field, json_body, looks_like_identifier, unwrap_key
from ksef_simulator.http import api_view
from ksef_simulator.models import SimExport, SimExportPart, SimInvoice
from ksef_simulator.paging import enum_spelling
from ksef_simulator.responses import ApiError, bad_request, gone, iso, validation_error
from ksef_simulator.security import ACCESS, Principal, principal_from_request, require_any_permission

READ = ["InvoiceRead"]
MAX_CONCURRENT = 10
MAX_INVOICES = 10_000
RETENTION = dt.timedelta(days=7)
PART_URL_LIFETIME = dt.timedelta(hours=1)
DEFAULT_PART_SIZE = 50 * 1024 * 1024
STATUS = {
    100: "Eksport faktur w toku",
    200: "Eksport faktur zakończony sukcesem",
    210: "Eksport faktur wygasł i nie jest już dostępny do pobrania",
    415: "Błąd odszyfrowania dostarczonego klucza",
    420: "Zakres filtrowania wykracza poza dostępny zakres danych",
    500: "Nieznany błąd",
}
_LAST_DATE = {
    "Issue": "lastIssueDate",
    "Invoicing": "lastInvoicingDate",
    "PermanentStorage": "lastPermanentStorageDate",
}


def part_size() -> int:
    return max(16, int(getattr(settings, "KSEF_SIMULATOR_EXPORT_PART_SIZE", DEFAULT_PART_SIZE)))


def _subject_not_allowed() -> ApiError:
    return bad_request(
        21181, "Nieprawidłowe żądanie eksportu.", "Typ podmiotu jest niedozwolony dla typu kontekstu."
    )


@api_view("POST", name="invoices.exports.start")
def export_start(request: HttpRequest) -> HttpResponse:
    principal = principal_from_request(request)
    require_any_permission(principal, READ)
    data = json_body(request)
    filters = field(data, "filters", dict)
    clean_json(filters, "filters")  # stored as JSON: PostgreSQL refuses NUL characters
    invoice_queries.parse_filters(filters, principal, subject_error=_subject_not_allowed())
    given = field(data, "compressionType", str, required=False) or "Zip"
    compression = enum_spelling(given, ("Zip", "TarGz"))
    if compression is None:
        raise validation_error("Pole 'compressionType' musi mieć wartość Zip lub TarGz.")
    only_metadata = field(data, "onlyMetadata", bool, required=False) or False
    aes_key, iv = unwrap_key(data)
    moment = processing.now()
    with transaction.atomic():
        running = SimExport.objects.select_for_update().filter(
            context_type=principal.context_type, context_value=principal.context_value, due_at__gt=moment
        )
        if len(running) >= MAX_CONCURRENT:
            raise bad_request(21182, "Osiągnięto limit równoczesnych eksportów.", f"Limit: {MAX_CONCURRENT}.")
        export = SimExport.objects.create(
            reference_number=ids.reference_number("EH", moment),
            context_type=principal.context_type,
            context_value=principal.context_value,
            context_nip=principal.nip,
            filters=filters,
            only_metadata=only_metadata,
            compression_type=compression,
            aes_key=aes_key,
            iv=iv,
            created_at=moment,
            due_at=moment + processing.timings().invoice_processing_delay,
            status_code=415 if aes_key is None else 100,
        )
    return JsonResponse({"referenceNumber": export.reference_number}, status=201)


def _archive(files: list[tuple[str, bytes]], compression: str) -> bytes:
    buffer = io.BytesIO()
    if compression == "TarGz":
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for name, content in files:
                info = tarfile.TarInfo(name)
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    else:
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, content in files:
                archive.writestr(name, content)
    return buffer.getvalue()


def _last_date(invoice: SimInvoice, date_type: str) -> str | None:
    if date_type == "Issue":
        return invoice.issue_date.isoformat() if invoice.issue_date else None
    return iso(invoice.received_at if date_type == "Invoicing" else invoice.permanent_storage_date)


def _build(export: SimExport) -> None:
    """Make the package of a due export (status 200 or 420) and store its encrypted parts."""
    if export.aes_key is None:  # such an export is 415 from the start and never built
        return
    aes_key = bytes(export.aes_key)
    principal = Principal(
        kind=ACCESS, context_type=export.context_type, context_value=export.context_value, auth_reference=""
    )
    query = invoice_queries.parse_filters(export.filters, principal, subject_error=_subject_not_allowed())
    moment = export.due_at
    hwm = processing.hwm(moment)
    export.completed_at = moment
    if not invoice_queries.hwm_check(query, hwm):
        export.status_code = 420
        export.status_details = ["dateRange.from jest późniejsze niż PermanentStorageHwmDate."]
        export.save()
        return
    rows = list(invoice_queries.invoices(query, moment=moment, hwm=hwm)[: MAX_INVOICES + 1])
    truncated = len(rows) > MAX_INVOICES
    rows = rows[:MAX_INVOICES]
    files = [] if export.only_metadata else [(f"{i.ksef_number}.xml", bytes(i.xml or b"")) for i in rows]
    metadata = {"invoices": [invoice_queries.metadata_json(i) for i in rows]}
    files.append(("_metadata.json", json.dumps(metadata, ensure_ascii=False).encode("utf-8")))
    archive = _archive(files, export.compression_type)
    extension = "tar.gz" if export.compression_type == "TarGz" else "zip"
    size = part_size()
    parts = []
    for index, start in enumerate(range(0, len(archive), size), start=1):
        plain = archive[start : start + size]
        encrypted = crypto.aes_encrypt(aes_key, bytes(export.iv), plain)
        SimExportPart.objects.create(export=export, ordinal_number=index, content=encrypted)
        parts.append(
            {
                "ordinalNumber": index,
                "partName": f"{export.reference_number}-{index:03d}.{extension}.aes",
                "method": "GET",
                "partSize": len(plain),
                "partHash": crypto.sha256_b64(plain),
                "encryptedPartSize": len(encrypted),
                "encryptedPartHash": crypto.sha256_b64(encrypted),
            }
        )
    package: dict[str, Any] = {
        "invoiceCount": len(rows),
        "size": len(archive),
        "parts": parts,
        "isTruncated": truncated,
        "compressionType": export.compression_type,
    }
    if truncated and rows:
        package[_LAST_DATE[query.date_type]] = _last_date(rows[-1], query.date_type)
    if query.date_type == "PermanentStorage":
        package["permanentStorageHwmDate"] = iso(hwm)
    export.package = package
    export.status_code = 200
    export.save()


def _settle(export: SimExport, moment: dt.datetime) -> SimExport:
    if export.status_code != 100 or export.due_at > moment:
        return export
    processing.settle(moment)
    with transaction.atomic():
        locked = SimExport.objects.select_for_update().get(pk=export.pk)
        if locked.status_code == 100:
            _build(locked)
    return SimExport.objects.get(pk=export.pk)


def _status_json(request: HttpRequest, export: SimExport, moment: dt.datetime) -> dict[str, Any]:
    status: dict[str, Any] = {"code": export.status_code, "description": STATUS.get(export.status_code, "")}
    if export.status_details:
        status["details"] = list(export.status_details)
    body: dict[str, Any] = {"status": status}
    if export.completed_at is not None:
        body["completedDate"] = iso(export.completed_at)
    if export.status_code == 200 and export.package is not None:
        expires_package = export.created_at + RETENTION
        expires = min(moment + PART_URL_LIFETIME, expires_package)
        package = dict(export.package)
        package["parts"] = [
            {
                **part,
                "url": storage.signed_url(
                    request,
                    kind=storage.EXPORT_PART,
                    ident=f"{export.reference_number}/{part['ordinalNumber']}",
                    expires_at=expires,
                ),
                "expirationDate": iso(expires),
            }
            for part in package["parts"]
        ]
        body["packageExpirationDate"] = iso(expires_package)
        body["package"] = package
    return body


@api_view("GET", name="invoices.exports.status")
def export_status(request: HttpRequest, reference: str) -> HttpResponse:
    principal = principal_from_request(request)
    require_any_permission(principal, READ)
    export = SimExport.objects.filter(
        reference_number=reference if looks_like_identifier(reference) else "",
        context_type=principal.context_type,
        context_value=principal.context_value,
    ).first()
    if export is None:
        raise bad_request(21175, "Nie znaleziono wyniku eksportu.", f"Brak eksportu o numerze {reference}.")
    moment = processing.now()
    if moment - export.created_at > RETENTION:
        raise gone()
    export = _settle(export, moment)
    return JsonResponse(_status_json(request, export, moment))
