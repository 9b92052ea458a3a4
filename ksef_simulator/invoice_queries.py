"""``InvoiceQueryFilters`` (metadata queries and exports): parsing, the query set, and ``InvoiceMetadata``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet

from ksef_simulator import processing
from ksef_simulator.api.common_invoices import field, obj, opt_obj, parse_datetime, str_list
from ksef_simulator.models import SimInvoice
from ksef_simulator.paging import enum_spelling
from ksef_simulator.responses import ApiError, bad_request, iso, validation_error
from ksef_simulator.security import Principal

MAX_WINDOW = dt.timedelta(days=100)
MAX_RESULTS = 10_000
SUBJECT_TYPES = ("Subject1", "Subject2", "Subject3", "SubjectAuthorized")
DATE_FIELDS = {
    "Issue": "issue_date",
    "Invoicing": "received_at",
    "PermanentStorage": "permanent_storage_date",
}
# Which subject types each context type may ask about (21181 for exports).
ALLOWED_SUBJECTS = {
    "Nip": set(SUBJECT_TYPES),
    "InternalId": {"Subject1", "Subject2", "Subject3"},
    "NipVatUe": {"Subject1"},
    "PeppolId": {"SubjectAuthorized"},
}
_AMOUNT_FIELDS = {"Brutto": "gross_amount", "Netto": "net_amount", "Vat": "vat_amount"}
_INVOICE_TYPES = {
    "Vat",
    "Zal",
    "Kor",
    "Roz",
    "Upr",
    "KorZal",
    "KorRoz",
    "VatPef",
    "VatPefSp",
    "KorPef",
    "VatRr",
    "KorVatRr",
}


@dataclass(frozen=True)
class InvoiceQuery:
    subject_type: str
    date_type: str
    date_from: dt.datetime
    date_to: dt.datetime | None
    restrict_to_hwm: bool
    condition: Q

    @property
    def date_field(self) -> str:
        return DATE_FIELDS[self.date_type]


def _enum(data: dict[str, Any], name: str, allowed: set[str] | tuple[str, ...]) -> str | None:
    value = field(data, name, str, required=False)
    if value is None:
        return None
    spelled = enum_spelling(str(value), allowed)
    if spelled is None:
        raise validation_error(f"Nieprawidłowa wartość pola '{name}': {value}.")
    return spelled


def _required_enum(data: dict[str, Any], name: str, allowed: set[str] | tuple[str, ...]) -> str:
    value = _enum(data, name, allowed)
    if value is None:
        raise validation_error(f"Pole '{name}' jest wymagane.")
    return value


def _subject_condition(subject_type: str, nip: str) -> Q:
    if subject_type == "Subject1":
        return Q(seller_nip=nip)
    if subject_type == "Subject2":
        return Q(buyer_id_type="Nip", buyer_id_value=nip)
    if subject_type == "Subject3":
        return Q(third_nips__contains=f"|{nip}|")
    return Q(authorized_nip=nip)


def _optional_filters(data: dict[str, Any]) -> Q:
    condition = Q()
    for name, column in (
        ("ksefNumber", "ksef_number"),
        ("invoiceNumber", "invoice_number"),
        ("sellerNip", "seller_nip"),
    ):
        value = field(data, name, str, required=False)
        if value is not None:
            condition &= Q(**{column: value})
    amount = opt_obj(data, "amount")
    if amount is not None:
        column = _AMOUNT_FIELDS[_required_enum(amount, "type", tuple(_AMOUNT_FIELDS))]
        for bound, lookup in (("from", "gte"), ("to", "lte")):
            value = field(amount, bound, (int, float), required=False)
            if value is not None:
                condition &= Q(**{f"{column}__{lookup}": Decimal(str(value))})
    buyer = opt_obj(data, "buyerIdentifier")
    if buyer is not None:
        kind = _required_enum(buyer, "type", ("Nip", "VatUe", "Other", "None"))
        condition &= Q(buyer_id_type=kind)
        value = field(buyer, "value", str, required=False)
        if value and kind != "None":
            condition &= Q(buyer_id_value=value)
    currencies = str_list(data, "currencyCodes")
    if currencies:
        condition &= Q(currency__in=currencies)
    mode = _enum(data, "invoicingMode", ("Online", "Offline"))
    if mode is not None:
        condition &= Q(invoicing_mode=mode)
    for name, column in (("isSelfInvoicing", "is_self_invoicing"), ("hasAttachment", "has_attachment")):
        flag = field(data, name, bool, required=False)
        if flag is not None:
            condition &= Q(**{column: flag})
    form = _enum(data, "formType", ("FA", "PEF", "FA_RR"))
    if form is not None:
        condition &= Q(form_value=form)
    types = [enum_spelling(t, _INVOICE_TYPES) for t in str_list(data, "invoiceTypes") or []]
    if types:
        if None in types:
            raise validation_error("Nieprawidłowa wartość pola 'invoiceTypes'.")
        condition &= Q(invoice_type__in=types)
    return condition


def parse_filters(
    data: dict[str, Any], principal: Principal, *, subject_error: ApiError | None = None
) -> InvoiceQuery:
    subject_type = _required_enum(data, "subjectType", SUBJECT_TYPES)
    if subject_type not in ALLOWED_SUBJECTS.get(principal.context_type, set()):
        raise subject_error or validation_error(
            f"Typ podmiotu {subject_type} jest niedozwolony dla kontekstu {principal.context_type}."
        )
    date_range = obj(data, "dateRange")
    date_type = _required_enum(date_range, "dateType", tuple(DATE_FIELDS))
    date_from = parse_datetime(date_range.get("from"), "dateRange.from")
    date_to = parse_datetime(date_range["to"], "dateRange.to") if date_range.get("to") is not None else None
    end = date_to or processing.now()
    if end < date_from:
        raise validation_error("Data 'dateRange.to' nie może być wcześniejsza niż 'dateRange.from'.")
    if end - date_from > MAX_WINDOW:
        raise validation_error("Zakres dat nie może przekraczać 100 dni.")
    restrict = bool(field(date_range, "restrictToPermanentStorageHwmDate", bool, required=False))
    condition = _subject_condition(subject_type, principal.nip) & _optional_filters(data)
    return InvoiceQuery(
        subject_type, date_type, date_from, date_to, restrict and date_type == "PermanentStorage", condition
    )


def hwm_check(query: InvoiceQuery, hwm: dt.datetime) -> bool:
    """False when ``from`` lies beyond the HWM of a restricted query (21183 / export status 420)."""
    return not (query.restrict_to_hwm and query.date_from > hwm)


def invoices(
    query: InvoiceQuery, *, moment: dt.datetime, hwm: dt.datetime, ascending: bool = True
) -> QuerySet[SimInvoice]:
    """Stored (permanently) invoices matching the query, ordered by its date type."""
    qs = SimInvoice.objects.filter(
        query.condition, processed=True, status_code=200, permanent_storage_date__lte=moment
    )
    column = query.date_field
    if query.date_type == "Issue":
        qs = qs.filter(issue_date__gte=processing.warsaw_date(query.date_from))
        if query.date_to is not None:
            qs = qs.filter(issue_date__lte=processing.warsaw_date(query.date_to))
    else:
        qs = qs.filter(**{f"{column}__gte": query.date_from})
        if query.date_to is not None:
            qs = qs.filter(**{f"{column}__lte": query.date_to})
        if query.restrict_to_hwm:
            qs = qs.filter(**{f"{column}__lte": hwm})
    order = (
        [column, "permanent_storage_date", "id"]
        if ascending
        else [f"-{column}", "-permanent_storage_date", "-id"]
    )
    return qs.order_by(*order)


def _number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def metadata_json(invoice: SimInvoice) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ksefNumber": invoice.ksef_number,
        "invoiceNumber": invoice.invoice_number,
        "issueDate": invoice.issue_date.isoformat() if invoice.issue_date else None,
        "invoicingDate": iso(invoice.received_at),
        "acquisitionDate": iso(invoice.acquisition_date),
        "permanentStorageDate": iso(invoice.permanent_storage_date),
        "seller": {"nip": invoice.seller_nip, "name": invoice.seller_name or None},
        "buyer": {
            "identifier": {"type": invoice.buyer_id_type or "None", "value": invoice.buyer_id_value or None},
            "name": invoice.buyer_name or None,
        },
        "netAmount": _number(invoice.net_amount),
        "grossAmount": _number(invoice.gross_amount),
        "vatAmount": _number(invoice.vat_amount),
        "currency": invoice.currency,
        "invoicingMode": invoice.invoicing_mode,
        "invoiceType": invoice.invoice_type,
        "formCode": {
            "systemCode": invoice.system_code,
            "schemaVersion": invoice.schema_version,
            "value": invoice.form_value,
        },
        "isSelfInvoicing": invoice.is_self_invoicing,
        "hasAttachment": invoice.has_attachment,
        "invoiceHash": invoice.invoice_hash,
    }
    if invoice.hash_of_corrected_invoice:
        body["hashOfCorrectedInvoice"] = invoice.hash_of_corrected_invoice
    if invoice.third_subjects:
        body["thirdSubjects"] = invoice.third_subjects
    if invoice.authorized:
        body["authorizedSubject"] = invoice.authorized
    return body


def party_condition(nip: str) -> Q:
    """Invoices a context may download: as seller, buyer, third party or authorised subject."""
    return (
        Q(seller_nip=nip)
        | Q(buyer_id_type="Nip", buyer_id_value=nip)
        | Q(third_nips__contains=f"|{nip}|")
        | Q(authorized_nip=nip)
    )


def hwm_exceeded() -> ApiError:
    return bad_request(
        21183,
        "Zakres filtrowania wykracza poza dostępny zakres danych.",
        "dateRange.from jest późniejsze niż PermanentStorageHwmDate.",
    )
