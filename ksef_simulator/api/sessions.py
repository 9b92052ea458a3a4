"""Online sessions, session and invoice statuses, and UPO (``/sessions/**``)."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse

from ksef_simulator import crypto, ids, processing, storage, upo
from ksef_simulator.api.common_invoices import (
    ONLINE_FORMS,
    b64decode,
    field,
    form_code,
    json_body,
    looks_like_identifier,
    parse_datetime,
    session_for,
    sha256_field,
    unwrap_key,
)
from ksef_simulator.http import api_view
from ksef_simulator.limits import context_limits
from ksef_simulator.models import SimInvoice, SimSession
from ksef_simulator.paging import Pager, query_enum, query_enums
from ksef_simulator.responses import ApiError, bad_request, iso, validation_error
from ksef_simulator.security import Principal, principal_from_request, require_any_permission

WRITE = ["InvoiceWrite", "PefInvoiceWrite", "EnforcementOperations"]
READ_SESSIONS = ["InvoiceWrite", "Introspection", "PefInvoiceWrite", "EnforcementOperations"]
_CLOSED = "Status sesji nie pozwala na wykonanie operacji."


def subject_key(principal: Principal) -> str:
    """Who authenticated; InvoiceWrite alone lists only that subject's sessions."""
    return f"{principal.subject_type}:{principal.subject_value}"[:200]


def _session_limits(principal: Principal, kind: str) -> dict[str, int]:
    """The context's limits (SI megabytes, as ``GET /limits/context`` reports them), in bytes."""
    group = "onlineSession" if kind == SimSession.Kind.ONLINE else "batchSession"
    values = context_limits(context_type=principal.context_type, context_value=principal.context_value)[group]
    return {
        "max_invoices": int(values.get("maxInvoices", processing.MAX_INVOICES_PER_SESSION)),
        "max_invoice_size": int(values.get("maxInvoiceSizeInMB", 1) * 1_000_000),
        "max_invoice_with_attachment_size": int(
            values.get("maxInvoiceWithAttachmentSizeInMB", 3) * 1_000_000
        ),
    }


def session_create(
    *,
    principal: Principal,
    kind: str,
    form: tuple[str, str, str],
    aes_key: bytes | None,
    iv: bytes,
    **extra: Any,
) -> SimSession:
    moment = processing.now()
    return SimSession.objects.create(
        reference_number=ids.reference_number("SO" if kind == SimSession.Kind.ONLINE else "SB", moment),
        kind=kind,
        context_type=principal.context_type,
        context_value=principal.context_value,
        context_nip=principal.nip,
        auth_reference=principal.auth_reference,
        subject_key=subject_key(principal),
        ksef_token_reference=(principal.ksef_token_reference or "")[:36],
        system_code=form[0],
        schema_version=form[1],
        form_value=form[2],
        aes_key=aes_key,
        iv=iv,
        status_code=415 if aes_key is None else 100,
        status_details=["Nie można odszyfrować klucza symetrycznego."] if aes_key is None else [],
        finalized=aes_key is None,
        upo_reference=ids.reference_number("EU", moment),
        created_at=moment,
        updated_at=moment,
        valid_until=moment + processing.SESSION_LIFETIME,
        **_session_limits(principal, kind),
        **extra,
    )


@api_view("POST", name="sessions.online.open")
def online_open(request: HttpRequest) -> HttpResponse:
    principal = principal_from_request(request)
    require_any_permission(principal, WRITE)
    data = json_body(request)
    form = form_code(data, ONLINE_FORMS)
    aes_key, iv = unwrap_key(data)
    session = session_create(
        principal=principal, kind=SimSession.Kind.ONLINE, form=form, aes_key=aes_key, iv=iv
    )
    return JsonResponse(
        {"referenceNumber": session.reference_number, "validUntil": iso(session.valid_until)}, status=201
    )


# What the send path reads of its session (the hot path: no JSON columns, no unused values).
_SEND_FIELDS = (
    "id", "kind", "status_code", "closed_at", "valid_until", "aes_key", "iv", "invoice_count", "max_invoices",
    "max_invoice_size", "max_invoice_with_attachment_size", "context_nip", "system_code", "schema_version",
    "form_value",
)  # fmt: skip


@functools.cache
def _send_sql(vendor: str) -> tuple[str, str]:
    """(read and lock the session, count one more invoice), written once per database vendor.

    The send path is the simulator's hottest; compiling its ORM queries cost several times more than
    running them. Only identifiers from the model's metadata are interpolated; values are parameters.
    """
    qn = connection.ops.quote_name
    table = qn(SimSession._meta.db_table)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    select = (
        f"SELECT {', '.join(qn(f) for f in _SEND_FIELDS)} FROM {table} WHERE {qn('reference_number')} = %s"  # noqa: S608
        f" AND {qn('context_type')} = %s AND {qn('context_value')} = %s{lock}"
    )
    count = qn("invoice_count")
    update = f"UPDATE {table} SET {count} = {count} + 1, {qn('updated_at')} = %s WHERE {qn('id')} = %s"  # noqa: S608
    return select, update


def _session_for_send(principal: Principal, reference: str) -> SimSession:
    """The caller's online session, locked until the transaction ends (21173 for anybody else's)."""
    found = None
    if looks_like_identifier(reference) and len(reference) == 36:
        select, _ = _send_sql(connection.vendor)
        params = [reference, principal.context_type, principal.context_value]
        found = next(iter(SimSession.objects.raw(select, params)), None)
    if found is None or found.kind != SimSession.Kind.ONLINE:
        raise bad_request(21173, f"Brak sesji o numerze referencyjnym {reference[:36]}.")
    return found


def _count_invoice(session: SimSession, moment: dt.datetime) -> None:
    _, update = _send_sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(update, [connection.ops.adapt_datetimefield_value(moment), session.pk])
    session.invoice_count += 1
    session.updated_at = moment


def _check_correction(principal: Principal, corrected_hash: str) -> None:
    originals = SimInvoice.objects.filter(invoice_hash=corrected_hash, context_nip=principal.nip)
    if originals.filter(processed=True, status_code=200).exists():
        raise bad_request(
            21167, "Status faktury nie pozwala na korektę techniczną.", "Faktura została przyjęta."
        )
    if not originals.filter(processed=True).exclude(status_code=200).exists():
        raise bad_request(
            21167, "Status faktury nie pozwala na korektę techniczną.", "Brak odrzuconej faktury."
        )
    corrections = SimInvoice.objects.filter(
        hash_of_corrected_invoice=corrected_hash, context_nip=principal.nip
    )
    if corrections.filter(Q(processed=False) | Q(status_code=200)).exists():
        raise bad_request(21166, "Korekta techniczna jest niedostępna.", "Faktura została już skorygowana.")


def _decrypt_and_verify(session: SimSession, data: dict[str, Any]) -> tuple[bytes | None, str, int]:
    invoice_hash = sha256_field(data, "invoiceHash")
    encrypted_hash = sha256_field(data, "encryptedInvoiceHash")
    invoice_size = field(data, "invoiceSize", int)
    encrypted_size = field(data, "encryptedInvoiceSize", int)
    if invoice_size < 1 or encrypted_size < 1:
        raise validation_error("Rozmiar faktury musi być większy od zera.")
    content = b64decode(field(data, "encryptedInvoiceContent", str), "encryptedInvoiceContent")
    if len(content) != encrypted_size:
        raise bad_request(
            21402, "Nieprawidłowy rozmiar pliku.", "Rozmiar zaszyfrowanej faktury jest niezgodny."
        )
    if crypto.sha256_b64(content) != encrypted_hash:
        raise bad_request(21403, "Nieprawidłowy skrót pliku.", "Skrót zaszyfrowanej faktury jest niezgodny.")
    if session.aes_key is None or invoice_hash is None:
        raise bad_request(21180, _CLOSED)
    try:
        xml = crypto.aes_decrypt(bytes(session.aes_key), bytes(session.iv), content)
    except ValueError:
        # An undecryptable file is accepted and rejected during processing (status 435), as KSeF does.
        return None, invoice_hash, invoice_size
    if len(xml) != invoice_size:
        raise bad_request(21402, "Nieprawidłowy rozmiar pliku.", "Rozmiar faktury jest niezgodny.")
    if crypto.sha256_b64(xml) != invoice_hash:
        raise bad_request(21403, "Nieprawidłowy skrót pliku.", "Skrót faktury jest niezgodny.")
    limit = session.max_invoice_with_attachment_size if b"<Zalacznik" in xml else session.max_invoice_size
    if len(xml) > limit:
        raise bad_request(
            21402, "Nieprawidłowy rozmiar pliku.", f"Przekroczono limit rozmiaru faktury ({limit} B)."
        )
    return xml, invoice_hash, invoice_size


@api_view("POST", name="sessions.online.send")
def online_send(request: HttpRequest, reference: str) -> HttpResponse:
    principal = principal_from_request(request)
    require_any_permission(principal, WRITE)
    data = json_body(request)
    offline = field(data, "offlineMode", bool, required=False) or False
    corrected = sha256_field(data, "hashOfCorrectedInvoice", required=False)
    if corrected and not offline:
        raise validation_error("Korekta techniczna dotyczy wyłącznie faktur w trybie offline (offlineMode).")
    delay = processing.timings().invoice_processing_delay
    moment = processing.now()
    # One locked read of the session serves the checks and the ordinal number (this is the hot path).
    with transaction.atomic():
        locked = _session_for_send(principal, reference)
        if locked.status_code != 100 or locked.closed_at is not None or moment >= locked.valid_until:
            raise bad_request(21180, _CLOSED)
        xml, invoice_hash, invoice_size = _decrypt_and_verify(locked, data)
        if corrected:
            _check_correction(principal, corrected)
        if locked.invoice_count >= locked.max_invoices:
            raise bad_request(
                21155,
                "Przekroczono limit liczby faktur w sesji.",
                f"Limit: {locked.max_invoices}.",
            )
        _count_invoice(locked, moment)
        invoice = SimInvoice.objects.create(
            reference_number=ids.reference_number("EE", moment),
            session=locked,
            ordinal_number=locked.invoice_count,
            context_nip=locked.context_nip,
            system_code=locked.system_code,
            schema_version=locked.schema_version,
            form_value=locked.form_value,
            xml=xml,
            invoice_hash=invoice_hash,
            invoice_size=invoice_size,
            offline_requested=offline,
            hash_of_corrected_invoice=corrected or "",
            received_at=moment,
            due_at=moment + delay,
        )
    return JsonResponse({"referenceNumber": invoice.reference_number}, status=202)


@api_view("POST", name="sessions.online.close")
def online_close(request: HttpRequest, reference: str) -> HttpResponse:
    principal = principal_from_request(request)
    require_any_permission(principal, WRITE)
    processing.settle()
    session = session_for(principal, reference, kind=SimSession.Kind.ONLINE)
    if session.status_code != 100 or session.closed_at is not None:
        raise bad_request(21180, _CLOSED)
    moment = processing.now()
    SimSession.objects.filter(pk=session.pk, closed_at__isnull=True).update(
        closed_at=moment, updated_at=moment, status_code=170
    )
    return HttpResponse(status=204)


# --- reading --------------------------------------------------------------------------------------


def _counts(session: SimSession) -> dict[str, int]:
    counts = session.invoices.aggregate(
        total=Count("id"),
        ok=Count("id", filter=Q(processed=True, status_code=200)),
        failed=Count("id", filter=Q(processed=True) & ~Q(status_code=200)),
    )
    return {
        "invoiceCount": counts["total"],
        "successfulInvoiceCount": counts["ok"],
        "failedInvoiceCount": counts["failed"],
    }


def _upo_expiry() -> dt.datetime:
    return processing.now() + processing.UPO_URL_LIFETIME


def session_status_json(request: HttpRequest, session: SimSession) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": processing.session_status(session),
        "dateCreated": iso(session.created_at),
        "dateUpdated": iso(session.updated_at),
        "validUntil": iso(session.valid_until),
        **_counts(session),
    }
    if session.finalized and session.status_code == 200:
        expires = _upo_expiry()
        body["upo"] = {
            "pages": [
                {
                    "referenceNumber": session.upo_reference,
                    "downloadUrl": storage.signed_url(
                        request, kind=storage.UPO_SESSION, ident=session.upo_reference, expires_at=expires
                    ),
                    "downloadUrlExpirationDate": iso(expires),
                }
            ]
        }
    return body


@api_view("GET", name="sessions.status")
def session_status(request: HttpRequest, reference: str) -> HttpResponse:
    principal = principal_from_request(request)
    require_any_permission(principal, READ_SESSIONS)
    processing.settle()
    session = session_for(principal, reference)
    return JsonResponse(session_status_json(request, session))


def invoice_json(request: HttpRequest, invoice: SimInvoice, moment: dt.datetime) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ordinalNumber": invoice.ordinal_number,
        "referenceNumber": invoice.reference_number,
        "invoiceHash": invoice.invoice_hash,
        "invoicingDate": iso(invoice.received_at),
        "status": processing.invoice_status(invoice, moment),
    }
    if invoice.invoice_number:
        body["invoiceNumber"] = invoice.invoice_number
    if invoice.file_name:
        body["invoiceFileName"] = invoice.file_name
    if invoice.accepted:
        expires = _upo_expiry()
        body["ksefNumber"] = invoice.ksef_number
        body["acquisitionDate"] = iso(invoice.acquisition_date)
        body["invoicingMode"] = invoice.invoicing_mode
        if invoice.permanent_storage_date is not None and invoice.permanent_storage_date <= moment:
            body["permanentStorageDate"] = iso(invoice.permanent_storage_date)
        body["upoDownloadUrl"] = storage.signed_url(
            request, kind=storage.UPO_INVOICE, ident=invoice.reference_number, expires_at=expires
        )
        body["upoDownloadUrlExpirationDate"] = iso(expires)
    return body


def _invoice_page(request: HttpRequest, invoices: QuerySet[SimInvoice]) -> HttpResponse:
    pager = Pager.from_request(request, max_size=1000)
    moment = processing.now()
    rows, more = pager.page(invoices.order_by("ordinal_number"))
    return JsonResponse({"invoices": [invoice_json(request, i, moment) for i in rows], **more})


@api_view("GET", name="sessions.invoices.list")
def session_invoices(request: HttpRequest, reference: str) -> HttpResponse:
    principal = principal_from_request(request)
    require_any_permission(principal, READ_SESSIONS)
    processing.settle()
    session = session_for(principal, reference)
    return _invoice_page(request, session.invoices.select_related("session"))


@api_view("GET", name="sessions.invoices.failed")
def session_invoices_failed(request: HttpRequest, reference: str) -> HttpResponse:
    principal = principal_from_request(request)
    require_any_permission(principal, READ_SESSIONS)
    processing.settle()
    session = session_for(principal, reference)
    return _invoice_page(request, session.invoices.filter(processed=True).exclude(status_code=200))


def _invoice_for(session: SimSession, invoice_reference: str) -> SimInvoice:
    found = looks_like_identifier(invoice_reference)
    invoice = session.invoices.filter(reference_number=invoice_reference).first() if found else None
    if invoice is None:
        raise bad_request(
            21405,
            "Błąd walidacji danych wejściowych.",
            f"Brak faktury o numerze referencyjnym {invoice_reference}.",
        )
    return invoice


@api_view("GET", name="sessions.invoices.status")
def session_invoice(request: HttpRequest, reference: str, invoice_reference: str) -> HttpResponse:
    principal = principal_from_request(request)
    require_any_permission(principal, READ_SESSIONS)
    processing.settle()
    session = session_for(principal, reference)
    return JsonResponse(invoice_json(request, _invoice_for(session, invoice_reference), processing.now()))


def _upo_not_found(what: str) -> ApiError:
    return bad_request(21178, "Nie znaleziono UPO.", what)


@api_view("GET", name="sessions.invoices.upo")
def invoice_upo(request: HttpRequest, reference: str, invoice_reference: str) -> HttpResponse:
    principal = principal_from_request(request)
    require_any_permission(principal, READ_SESSIONS)
    processing.settle()
    session = session_for(principal, reference)
    invoice = _invoice_for(session, invoice_reference)
    if not invoice.accepted:
        raise _upo_not_found(f"Brak UPO dla faktury {invoice_reference}.")
    return storage.object_response(upo.invoice_upo(invoice))


@api_view("GET", name="sessions.invoices.upo-by-ksef")
def invoice_upo_by_ksef(request: HttpRequest, reference: str, ksef_number: str) -> HttpResponse:
    principal = principal_from_request(request)
    require_any_permission(principal, READ_SESSIONS)
    processing.settle()
    session = session_for(principal, reference)
    found = looks_like_identifier(ksef_number)
    invoice = session.invoices.filter(ksef_number=ksef_number).first() if found else None
    if invoice is None or not invoice.accepted:
        raise _upo_not_found(f"Brak UPO dla faktury {ksef_number}.")
    return storage.object_response(upo.invoice_upo(invoice))


@api_view("GET", name="sessions.upo")
def session_upo(request: HttpRequest, reference: str, upo_reference: str) -> HttpResponse:
    principal = principal_from_request(request)
    require_any_permission(principal, READ_SESSIONS)
    processing.settle()
    session = session_for(principal, reference)
    if session.upo_reference != upo_reference or not (session.finalized and session.status_code == 200):
        raise _upo_not_found(f"Brak UPO o numerze referencyjnym {upo_reference}.")
    return storage.object_response(upo.session_upo(session))


# --- the session list -----------------------------------------------------------------------------

_STATUS_GROUPS = {
    "InProgress": Q(finalized=False),
    "Succeeded": Q(finalized=True, status_code=200),
    "Failed": Q(finalized=True) & ~Q(status_code__in=[200, 440]),
    "Cancelled": Q(finalized=True, status_code=440),
}
_DATE_FILTERS = {
    "dateCreatedFrom": "created_at__gte",
    "dateCreatedTo": "created_at__lte",
    "dateClosedFrom": "closed_at__gte",
    "dateClosedTo": "closed_at__lte",
    "dateModifiedFrom": "updated_at__gte",
    "dateModifiedTo": "updated_at__lte",
}


@api_view("GET", name="sessions.list")
def sessions_list(request: HttpRequest) -> HttpResponse:
    principal = principal_from_request(request)
    require_any_permission(principal, READ_SESSIONS)
    processing.settle()
    kind = query_enum(request, "sessionType", SimSession.Kind.values)
    if not kind:
        raise validation_error("Parametr 'sessionType' jest wymagany (Online lub Batch).")
    pager = Pager.from_request(request, max_size=1000)
    sessions = SimSession.objects.filter(
        kind=kind, context_type=principal.context_type, context_value=principal.context_value
    )
    if not principal.permissions.intersection({"Introspection", "EnforcementOperations"}):
        sessions = sessions.filter(subject_key=subject_key(principal))
    if request.GET.get("referenceNumber"):
        if not looks_like_identifier(request.GET["referenceNumber"]):
            raise validation_error("Nieprawidłowy numer referencyjny.")
        sessions = sessions.filter(reference_number=request.GET["referenceNumber"])
    for param, lookup in _DATE_FILTERS.items():
        if request.GET.get(param):
            sessions = sessions.filter(**{lookup: parse_datetime(request.GET[param], param)})
    statuses = query_enums(request, "statuses", _STATUS_GROUPS)
    if statuses:
        condition = Q()
        for name in statuses:
            condition |= _STATUS_GROUPS[name]
        sessions = sessions.filter(condition)
    rows, more = pager.page(
        sessions.order_by("-created_at", "-id").annotate(
            ok=Count("invoices", filter=Q(invoices__processed=True, invoices__status_code=200)),
            failed=Count("invoices", filter=Q(invoices__processed=True) & ~Q(invoices__status_code=200)),
        )
    )
    items = [
        {
            "referenceNumber": s.reference_number,
            "status": processing.session_status(s),
            "dateCreated": iso(s.created_at),
            "dateUpdated": iso(s.updated_at),
            "validUntil": iso(s.valid_until),
            "totalInvoiceCount": s.invoice_count,
            "successfulInvoiceCount": s.ok,
            "failedInvoiceCount": s.failed,
        }
        for s in rows
    ]
    return JsonResponse({"sessions": items, **more})
