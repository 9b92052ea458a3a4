"""How invoices and sessions move through their statuses, computed lazily from timestamps.

Nothing sleeps and nothing runs in the background: ``settle()`` runs at the start of every read and
finishes whatever is due by now (invoice validation and KSeF numbers, session closing, UPO readiness).
The outcome depends only on what was stored and on the timestamps, so it survives restarts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from lxml import etree

from ksef_simulator import ids, responses, services_permissions
from ksef_simulator.fa3_schema import InvoiceFileError, parse_invoice
from ksef_simulator.models import AttachmentConsent, SimInvoice, SimSession

WARSAW = ZoneInfo("Europe/Warsaw")
MAX_INVOICES_PER_SESSION = 10_000
SESSION_LIFETIME = dt.timedelta(hours=12)
UPO_URL_LIFETIME = dt.timedelta(hours=1)

INVOICE_STATUS = {
    100: "Faktura przyjęta do dalszego przetwarzania",
    150: "Trwa przetwarzanie",
    200: "Sukces",
    405: "Przetwarzanie anulowane z powodu błędu sesji",
    410: "Nieprawidłowy zakres uprawnień",
    415: "Brak możliwości wysyłania faktury z załącznikiem",
    430: "Błąd weryfikacji pliku faktury",
    435: "Błąd odszyfrowania pliku",
    440: "Duplikat faktury",
    450: "Błąd weryfikacji semantyki dokumentu faktury",
    500: "Nieznany błąd",
}
ONLINE_SESSION_STATUS = {
    100: "Sesja interaktywna otwarta",
    170: "Sesja interaktywna zamknięta",
    200: "Sesja interaktywna przetworzona pomyślnie",
    415: "Błąd odszyfrowania dostarczonego klucza",
    440: "Sesja anulowana",
    445: "Błąd weryfikacji, brak poprawnych faktur",
}
BATCH_SESSION_STATUS = {
    100: "Sesja wsadowa rozpoczęta",
    150: "Trwa przetwarzanie",
    200: "Sesja wsadowa przetworzona pomyślnie",
    405: "Błąd weryfikacji poprawności dostarczonych elementów paczki",
    415: "Błąd odszyfrowania dostarczonego klucza",
    420: "Przekroczony limit faktur w sesji",
    430: "Błąd dekompresji pierwotnego archiwum",
    435: "Błąd odszyfrowania zaszyfrowanych części archiwum",
    440: "Sesja anulowana",
    445: "Błąd weryfikacji, brak poprawnych faktur",
    500: "Nieznany błąd",
}
LOGICAL_STRUCTURE = {
    "FA (3)": "Schemat_FA(3)_v1-0E.xsd",
    "FA (2)": "Schemat_FA(2)_v1-0E.xsd",
}
INVOICE_TYPES = {
    "VAT": "Vat",
    "ZAL": "Zal",
    "KOR": "Kor",
    "ROZ": "Roz",
    "UPR": "Upr",
    "KOR_ZAL": "KorZal",
    "KOR_ROZ": "KorRoz",
}


def now() -> dt.datetime:
    """The simulator's clock for invoices (tests move it; tokens keep the real one)."""
    return responses.now_utc()


@dataclass(frozen=True)
class Timings:
    invoice_processing_delay: dt.timedelta
    permanent_storage_lag: dt.timedelta
    hwm_lag: dt.timedelta


def timings() -> Timings:
    from ksef_simulator.conf import get_config

    config = get_config()
    return Timings(
        invoice_processing_delay=config.invoice_processing_delay,
        permanent_storage_lag=config.permanent_storage_lag,
        hwm_lag=config.hwm_lag,
    )


def attachment_consent(nip: str, *, at: dt.datetime) -> AttachmentConsent | None:
    """The NIP's consent to send invoices with attachments in force at ``at`` (None without one): given by
    ``POST /testdata/attachment``, ended on its ``expectedEndDate`` by ``/revoke``."""
    consent = AttachmentConsent.objects.filter(nip=nip).first()
    if consent is None or (consent.ends_on is not None and warsaw_date(at) >= consent.ends_on):
        return None
    return consent


def warsaw_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(WARSAW).date()


def hwm(moment: dt.datetime | None = None) -> dt.datetime:
    """PermanentStorageHwmDate: no invoice stored up to it can appear later.

    ``settle()`` has run, so only invoices another request is processing right now can still be
    pending; the HWM stays below their storage date so that the guarantee holds under concurrency.
    """
    timing = timings()
    mark = (moment or now()) - timing.hwm_lag
    pending = (
        SimInvoice.objects.filter(processed=False).order_by("due_at").values_list("due_at", flat=True).first()
    )
    if pending is not None:
        mark = min(mark, pending + timing.permanent_storage_lag - dt.timedelta(microseconds=1))
    return mark


# --- reading the invoice --------------------------------------------------------------------------


def _text(root: etree._Element, path: str) -> str:
    found = root.find(path)
    return (found.text or "").strip() if found is not None and found.text else ""


def _amount(value: str) -> Decimal:
    try:
        return Decimal(value) if value else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def invoice_fields(root: etree._Element) -> dict[str, Any]:
    """What the metadata API reports, read from a (schema-valid) FA document."""
    ns = {"f": etree.QName(root).namespace or ""}

    def t(path: str) -> str:
        found = root.find(path, ns)
        return (found.text or "").strip() if found is not None and found.text else ""

    buyer_type, buyer_value = "None", ""
    if t("f:Podmiot2/f:DaneIdentyfikacyjne/f:NIP"):
        buyer_type, buyer_value = "Nip", t("f:Podmiot2/f:DaneIdentyfikacyjne/f:NIP")
    elif t("f:Podmiot2/f:DaneIdentyfikacyjne/f:NrVatUE"):
        buyer_type = "VatUe"
        buyer_value = t("f:Podmiot2/f:DaneIdentyfikacyjne/f:KodUE") + t(
            "f:Podmiot2/f:DaneIdentyfikacyjne/f:NrVatUE"
        )
    elif t("f:Podmiot2/f:DaneIdentyfikacyjne/f:NrID"):
        buyer_type, buyer_value = "Other", t("f:Podmiot2/f:DaneIdentyfikacyjne/f:NrID")
    fa = root.find("f:Fa", ns)
    net = vat = Decimal(0)
    if fa is not None:
        for child in fa:
            name = etree.QName(child).localname
            if name.startswith("P_13_"):
                net += _amount((child.text or "").strip())
            elif name.startswith("P_14_") and not name.endswith("W"):
                # For a foreign currency the VAT in PLN is in P_14_xW when given.
                in_pln = fa.find(f"f:{name}W", ns)
                vat += _amount((in_pln.text if in_pln is not None else child.text) or "")
    third: list[dict[str, Any]] = []
    for subject in root.findall("f:Podmiot3", ns):
        ident = subject.find("f:DaneIdentyfikacyjne", ns)
        id_type, id_value = "None", None
        if ident is not None:
            for tag, kind in (
                ("NIP", "Nip"),
                ("IDWew", "InternalId"),
                ("NrVatUE", "VatUe"),
                ("NrID", "Other"),
            ):
                found = ident.find(f"f:{tag}", ns)
                if found is not None and found.text:
                    id_type, id_value = kind, found.text.strip()
                    break
        role_text = _text(subject, f"{{{ns['f']}}}Rola")
        third.append(
            {
                "identifier": {"type": id_type, "value": id_value},
                "name": _text(subject, f"{{{ns['f']}}}DaneIdentyfikacyjne/{{{ns['f']}}}Nazwa") or None,
                "role": int(role_text) if role_text.isdigit() else 0,
            }
        )
    authorized = None
    if root.find("f:PodmiotUpowazniony", ns) is not None:
        role = t("f:PodmiotUpowazniony/f:RolaPU")
        authorized = {
            "nip": t("f:PodmiotUpowazniony/f:DaneIdentyfikacyjne/f:NIP"),
            "name": t("f:PodmiotUpowazniony/f:DaneIdentyfikacyjne/f:Nazwa") or None,
            "role": int(role) if role.isdigit() else 1,
        }
    third_nips = [
        s["identifier"]["value"][:10] for s in third if s["identifier"]["type"] in ("Nip", "InternalId")
    ]
    return {
        "seller_nip": t("f:Podmiot1/f:DaneIdentyfikacyjne/f:NIP"),
        "seller_name": t("f:Podmiot1/f:DaneIdentyfikacyjne/f:Nazwa")[:512],
        "buyer_id_type": buyer_type,
        "buyer_id_value": buyer_value[:50],
        "buyer_name": t("f:Podmiot2/f:DaneIdentyfikacyjne/f:Nazwa")[:512],
        "invoice_number": t("f:Fa/f:P_2")[:256],
        "issue_date": dt.date.fromisoformat(t("f:Fa/f:P_1")) if t("f:Fa/f:P_1") else None,
        "invoice_type": INVOICE_TYPES.get(t("f:Fa/f:RodzajFaktury"), "Vat"),
        "currency": t("f:Fa/f:KodWaluty")[:3],
        "gross_amount": _amount(t("f:Fa/f:P_15")),
        "net_amount": net,
        "vat_amount": vat,
        "is_self_invoicing": t("f:Fa/f:Adnotacje/f:P_17") == "1",
        "has_attachment": root.find("f:Zalacznik", ns) is not None,
        "third_subjects": third,
        "third_nips": ("|" + "|".join(third_nips) + "|") if third_nips else "",
        "authorized": authorized,
        "authorized_nip": authorized["nip"] if authorized else "",
        "_rodzaj": t("f:Fa/f:RodzajFaktury"),
    }


# --- processing one invoice -----------------------------------------------------------------------


_PARSED_FIELDS = (
    "seller_nip", "seller_name", "buyer_id_type", "buyer_id_value", "buyer_name", "invoice_number",
    "issue_date", "invoice_type", "currency", "gross_amount", "net_amount", "vat_amount", "is_self_invoicing",
    "has_attachment", "third_subjects", "third_nips", "authorized", "authorized_nip",
)  # fmt: skip
_OUTCOME_FIELDS = (
    "processed", "status_code", "status_details", "status_extensions", "ksef_number", "duplicate_key",
    "acquisition_date", "permanent_storage_date", "invoicing_mode", *_PARSED_FIELDS,
)  # fmt: skip


def _store(invoice: SimInvoice) -> bool:
    """Write the outcome unless another worker already did (claim by conditional UPDATE, any database)."""
    invoice.processed = True
    values = {name: getattr(invoice, name) for name in _OUTCOME_FIELDS}
    with transaction.atomic():
        return SimInvoice.objects.filter(pk=invoice.pk, processed=False).update(**values) == 1


def _reject(invoice: SimInvoice, code: int, *details: str, extensions: dict[str, str] | None = None) -> None:
    invoice.status_code = code
    invoice.status_details = list(details)
    invoice.status_extensions = extensions
    invoice.ksef_number = invoice.duplicate_key = None
    invoice.acquisition_date = invoice.permanent_storage_date = None
    invoice.invoicing_mode = ""
    _store(invoice)


def _duplicate_of(key: str, invoice: SimInvoice) -> SimInvoice | None:
    return (
        SimInvoice.objects.select_related("session").filter(duplicate_key=key).exclude(pk=invoice.pk).first()
    )


def _reject_duplicate(invoice: SimInvoice, original: SimInvoice) -> None:
    session = original.session.reference_number if original.session else ""
    _reject(
        invoice,
        440,
        f"Duplikat faktury. Faktura o numerze KSeF: {original.ksef_number} została już prawidłowo "
        f"przesłana do systemu w sesji: {session}",
        extensions={
            "originalSessionReferenceNumber": session,
            "originalKsefNumber": original.ksef_number or "",
        },
    )


def _accept(invoice: SimInvoice, key: str, timing: Timings) -> None:
    issue_day = invoice.issue_date
    offline = invoice.offline_requested or (
        issue_day is not None and issue_day < warsaw_date(invoice.received_at)
    )
    invoice.invoicing_mode = "Offline" if offline else "Online"
    invoice.acquisition_date = invoice.due_at
    invoice.permanent_storage_date = invoice.due_at + timing.permanent_storage_lag
    invoice.ksef_number = ids.ksef_number(invoice.seller_nip, warsaw_date(invoice.received_at))
    invoice.duplicate_key = key
    invoice.status_code = 200
    invoice.status_details = []
    invoice.status_extensions = None
    try:
        _store(invoice)
    except IntegrityError:
        # Another worker accepted the same (NIP, type, number) a moment ago.
        original = _duplicate_of(key, invoice)
        if original is None:
            raise
        _reject_duplicate(invoice, original)


def process_invoice(invoice: SimInvoice, *, timing: Timings) -> None:
    """Validate one due invoice and give it a KSeF number, or its rejection status."""
    if invoice.xml is None:
        _reject(invoice, 435, "Nie można odszyfrować pliku faktury.")
        return
    try:
        root = parse_invoice(bytes(invoice.xml), system_code=invoice.system_code)
    except InvoiceFileError as exc:
        _reject(invoice, 450, str(exc))
        return
    fields = invoice_fields(root)
    rodzaj = fields.pop("_rodzaj")
    for name, value in fields.items():
        setattr(invoice, name, value)
    if invoice.seller_nip != invoice.context_nip and not services_permissions.may_issue_for(
        context_nip=invoice.context_nip,
        seller_nip=invoice.seller_nip,
        self_invoicing=invoice.is_self_invoicing,
        rr_invoice=invoice.system_code.startswith("FA_RR"),
    ):
        _reject(
            invoice,
            410,
            f"Brak uprawnień do wystawienia faktury w imieniu podmiotu {invoice.seller_nip} "
            f"w kontekście {invoice.context_nip}.",
        )
        return
    # The consent (e-Urząd Skarbowy; /testdata/attachment on TEST) decides, in online and batch sessions.
    if invoice.has_attachment and attachment_consent(invoice.context_nip, at=invoice.due_at) is None:
        _reject(
            invoice,
            415,
            f"Podmiot {invoice.context_nip} nie ma zgody na wystawianie faktur z załącznikiem "
            "(zgoda składana w e-Urzędzie Skarbowym).",
        )
        return
    if invoice.issue_date is not None and invoice.issue_date > warsaw_date(invoice.due_at):
        # ksef-api.md §12.3: the issue date (P_1) must not be later than the day KSeF accepts the invoice.
        _reject(
            invoice,
            450,
            f"Data wystawienia faktury (P_1: {invoice.issue_date.isoformat()}) jest późniejsza niż data "
            "przyjęcia faktury w KSeF.",
        )
        return
    key = f"{invoice.seller_nip}|{rodzaj}|{invoice.invoice_number}"
    original = _duplicate_of(key, invoice)
    if original is not None:
        _reject_duplicate(invoice, original)
        return
    _accept(invoice, key, timing)


# --- settling everything that is due --------------------------------------------------------------


def _settle_invoices(moment: dt.datetime, timing: Timings) -> None:
    while True:
        with transaction.atomic():
            due = list(
                SimInvoice.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("session")
                .filter(processed=False, due_at__lte=moment)
                .order_by("due_at", "id")[:200]
            )
            for invoice in due:
                process_invoice(invoice, timing=timing)
        if len(due) < 200:
            return


def _session_final_status(session: SimSession) -> tuple[int, list[str]]:
    counts = session.invoices.aggregate(
        total=Count("id"), ok=Count("id", filter=Q(status_code=200, processed=True))
    )
    if counts["total"] == 0:
        return 440, ["Nie przesłano faktur"]
    if counts["ok"] == 0:
        return 445, []
    return 200, []


def _settle_sessions(moment: dt.datetime, timing: Timings) -> None:
    # Sessions nobody closed end at validUntil; a batch never closed is cancelled.
    for session in SimSession.objects.filter(
        finalized=False, closed_at__isnull=True, valid_until__lte=moment
    ):
        session.closed_at = session.valid_until
        session.updated_at = session.valid_until
        if session.kind == SimSession.Kind.BATCH:
            session.status_code, session.status_details = 440, ["Przekroczono czas wysyłki"]
            session.finalized = True
        else:
            session.status_code = 170
        session.save()
    ready = SimSession.objects.filter(
        finalized=False, closed_at__isnull=False, closed_at__lte=moment - timing.invoice_processing_delay
    ).exclude(invoices__processed=False)
    for session in ready:
        session.status_code, session.status_details = _session_final_status(session)
        session.finalized = True
        closed = session.closed_at or moment  # never None here: filtered above
        session.updated_at = max(closed + timing.invoice_processing_delay, session.updated_at)
        session.save()


def settle(moment: dt.datetime | None = None) -> None:
    """Finish everything that is due by ``moment`` (now by default)."""
    moment = moment or now()
    timing = timings()
    _settle_invoices(moment, timing)
    _settle_sessions(moment, timing)


# --- how statuses read ----------------------------------------------------------------------------


def invoice_status(invoice: SimInvoice, moment: dt.datetime) -> dict[str, Any]:
    if invoice.processed:
        code = invoice.status_code
    else:
        halfway = invoice.received_at + (invoice.due_at - invoice.received_at) / 2
        code = 150 if moment >= halfway else 100
    status: dict[str, Any] = {"code": code, "description": INVOICE_STATUS.get(code, "Nieznany błąd")}
    if invoice.processed and invoice.status_details:
        status["details"] = list(invoice.status_details)
    if invoice.processed and invoice.status_extensions:
        status["extensions"] = dict(invoice.status_extensions)
    return status


def session_status(session: SimSession) -> dict[str, Any]:
    table = ONLINE_SESSION_STATUS if session.kind == SimSession.Kind.ONLINE else BATCH_SESSION_STATUS
    code = session.status_code
    status: dict[str, Any] = {"code": code, "description": table.get(code, "Nieznany błąd")}
    if session.status_details:
        status["details"] = list(session.status_details)
    return status
