"""Map an issued ``invoices.Invoice`` onto the neutral FA(3) model and into XML bytes that are checked locally
(official XSD and ``fa3.checks``) before anything is sent to KSeF."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from invoices import advances
from invoices.acceptance import Issue
from invoices.formatting import money
from invoices.models import (
    EU_COUNTRIES,
    ExemptionBasis,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    MarginScheme,
    ThirdPartyRole,
    VatRate,
)
from invoices.totals import rate_percent
from ksef_integration.fa3 import Problem, SchemaError, builder, check_invoice, model, validate
from ksef_integration.fa3.digest import invoice_hash

SYSTEM_INFO = "KSeF Portal"


@dataclass(frozen=True)
class BuiltXml:
    xml: bytes
    sha256_b64: str


class XmlProblems(Exception):
    """The invoice cannot be sent: ``problems`` are readable sentences (Polish), one per issue."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _address(line1: str, line2: str, country: str) -> model.Address:
    return model.Address(line1=line1 or "-", line2=line2 or None, country=country or "PL")


def _eu_vat_id(country: str, number: str) -> model.EuVatId | None:
    """A VAT-UE number of a buyer from another member state (``KodUE`` uses EL for Greece), else None."""
    if country == "PL" or country not in EU_COUNTRIES:
        return None
    code = "EL" if country == "GR" else country
    return model.EuVatId(country=code, number=number.removeprefix(code).removeprefix(country))


def _tax_id(nip: str, foreign_id: str, country: str) -> model.TaxId:
    eu_vat_id = _eu_vat_id(country, foreign_id)
    if nip:
        return model.Nip(nip)
    if foreign_id and eu_vat_id is not None:
        return eu_vat_id
    if foreign_id:
        return model.OtherTaxId(number=foreign_id, country=country or None)
    return model.NoTaxId()


_JST_ROLES = (ThirdPartyRole.JST_RECIPIENT,)
_VAT_GROUP_ROLES = (ThirdPartyRole.VAT_GROUP_MEMBER,)


def _third_parties(invoice: Invoice) -> tuple[model.ThirdParty, ...]:
    """``Podmiot3``: the recipient, payer or other parties the invoice names, with their roles."""
    out = []
    for third in invoice.third_parties:
        country = str(third.get("country_code") or "PL")
        line1, line2 = str(third.get("address_line1") or ""), str(third.get("address_line2") or "")
        out.append(
            model.ThirdParty(
                tax_id=_tax_id(str(third.get("nip") or ""), str(third.get("foreign_id") or ""), country),
                name=str(third.get("name") or "") or None,
                role=model.ThirdPartyRole(int(third["role"])),
                address=_address(line1, line2, country) if line1 or line2 else None,
            )
        )
    return tuple(out)


def _buyer(invoice: Invoice) -> model.Buyer:
    tax_id = _tax_id(invoice.buyer_nip, invoice.buyer_foreign_id, invoice.buyer_country_code)
    address = None
    if invoice.buyer_address_line1 or invoice.buyer_address_line2:
        address = _address(
            invoice.buyer_address_line1, invoice.buyer_address_line2, invoice.buyer_country_code
        )
    contacts = (model.Contact(email=invoice.buyer_email),) if invoice.buyer_email else ()
    roles = {third.get("role") for third in invoice.third_parties}
    return model.Buyer(
        tax_id=tax_id,
        name=invoice.buyer_name,
        address=address,
        contacts=contacts,
        # JST / GV: the invoice concerns a local government's unit or a VAT group's member named in Podmiot3
        jst=any(role in roles for role in _JST_ROLES),
        vat_group=any(role in roles for role in _VAT_GROUP_ROLES),
    )


def _line(line: InvoiceLine, *, pricing: str = "net", sale_date: dt.date | None = None) -> model.Line:
    """One ``FaWiersz``. Priced net: ``P_9A``/``P_11``. Priced gross (art. 106e ust. 7-8): ``P_9B``/``P_11A``
    instead, the tax of each rate then taken out of the rate's gross sum. In a margin scheme (art. 106e
    ust. 2-3: no rate, no tax on the invoice): the price the buyer pays and the line's value, which include
    the tax on the margin, as ``P_9B``/``P_11A``, and no ``P_12``; the values sum into ``P_13_11``."""
    net = pricing == "net"
    return model.Line(
        name=line.name,
        quantity=line.quantity,
        unit=line.unit or None,
        unit_price=line.unit_price if net else None,
        net_value=line.net_value if net else None,
        unit_price_gross=None if net else line.unit_price_gross,
        gross_value=None if net else line.gross_value,
        vat_rate=None if pricing == "margin" else model.VatRate(line.vat_rate),
        # No P_11Vat: it states a line's tax only in the case of art. 106e ust. 10 (which the portal does not
        # issue); on every other invoice the tax is stated per rate (P_14_x), and line amounts rounded one by
        # one would not add up to it.
        vat_amount=None,
        discount=line.discount,
        gtu=line.gtu or None,
        annex15=line.annex15,
        procedure=line.procedure or None,
        pkwiu=line.pkwiu or None,
        cn=line.cn or None,
        gtin=line.gtin or None,
        index=line.index or None,
        sale_date=sale_date,
        before_correction=line.before_correction,
    )


def _payment(invoice: Invoice) -> model.Payment | None:
    parts = tuple(
        model.PartialPayment(amount=Decimal(part["amount"]), paid_on=dt.date.fromisoformat(part["paid_on"]))
        for part in invoice.partial_payments
    )
    if not (invoice.payment_method or invoice.due_date or invoice.bank_account or invoice.paid_on or parts):
        return None
    return model.Payment(
        paid_on=invoice.paid_on,
        partially_paid=True if parts and not invoice.paid_on else None,
        partial_payments=() if invoice.paid_on else parts,
        terms=(model.PaymentTerm(due_date=invoice.due_date),) if invoice.due_date else (),
        method=model.PaymentMethod(invoice.payment_method) if invoice.payment_method else None,
        bank_accounts=(model.BankAccount(number=invoice.bank_account),) if invoice.bank_account else (),
    )


def _correction(invoice: Invoice) -> model.Correction | None:
    """The correction block: the invoice corrected and why; a correction of an advance (KOR_ZAL) or final
    (KOR_ROZ) invoice also states ``P_15ZK``, the advance (or the amount left to pay) before it, and, for
    an advance in a foreign currency, the exchange rate before it (``KursWalutyZK``)."""
    if not invoice.is_correction:
        return None
    corrected = model.CorrectedInvoice(
        issue_date=invoice.corrected_issue_date or invoice.issue_date,
        number=invoice.corrected_number,
        ksef_number=invoice.corrected_ksef_number or None,
    )
    stated = invoice.stated if invoice.kind != InvoiceKind.KOR else None
    paid_before = stated.paid_before if stated is not None else None
    foreign_advance = invoice.kind == InvoiceKind.KOR_ZAL and invoice.currency != "PLN"
    return model.Correction(
        corrected=(corrected,),
        reason=invoice.correction_reason or None,
        advance_paid_before=paid_before,
        advance_rate_before=invoice.exchange_rate if foreign_advance and paid_before is not None else None,
    )


_MARGIN_SCHEMES = {
    MarginScheme.TRAVEL: model.MarginScheme.TRAVEL,
    MarginScheme.USED_GOODS: model.MarginScheme.USED_GOODS,
    MarginScheme.ART: model.MarginScheme.ART,
    MarginScheme.ANTIQUES: model.MarginScheme.ANTIQUES,
}
_EXEMPTION_BASES = {
    ExemptionBasis.ACT: model.ExemptionBasis.ACT,
    ExemptionBasis.DIRECTIVE: model.ExemptionBasis.DIRECTIVE,
    ExemptionBasis.OTHER: model.ExemptionBasis.OTHER,
}
# The buyer settles the tax: domestic reverse charge and EU services of art. 28b (P_18, art. 106e ust. 1
# pkt 18 "odwrotne obciążenie").
_REVERSE_CHARGE_RATES = (VatRate.OO, VatRate.NP_II)


def _annotations(invoice: Invoice, lines: Sequence[InvoiceLine]) -> model.Annotations:
    rates = {line.vat_rate for line in lines}
    exemption = None
    if VatRate.ZW in rates and invoice.exemption_basis in _EXEMPTION_BASES and invoice.exemption_text:
        exemption = model.Exemption(
            basis=_EXEMPTION_BASES[ExemptionBasis(invoice.exemption_basis)], text=invoice.exemption_text
        )
    return model.Annotations(
        cash_accounting=invoice.cash_accounting,
        self_billing=invoice.self_billing,
        split_payment=invoice.split_payment,
        reverse_charge=any(rate in rates for rate in _REVERSE_CHARGE_RATES),
        exemption=exemption,
        margin=_MARGIN_SCHEMES.get(MarginScheme(invoice.margin_scheme)) if invoice.margin_scheme else None,
    )


NOTE_MAX = 256  # DodatkowyOpis/Wartosc (TZnakowy)
FOOTER_MAX = 3500  # Stopka/Informacje/StopkaFaktury (TTekstowy): what the Wystaw form allows


DISCOUNT_NOTE_KEY = "Rabat od całej faktury"


def _discount_note(invoice: Invoice, lines: Sequence[InvoiceLine]) -> tuple[model.Note, ...]:
    """FA(3) has no element for a discount on the whole invoice: it is in the lines' ``P_10`` (each line's
    share, so the lines and the per-rate totals agree), and this ``DodatkowyOpis`` says what it was."""
    shares = sum(
        (line.invoice_discount or Decimal(0) for line in lines if not line.before_correction), Decimal(0)
    )
    if not shares:
        return ()
    amount = f"{money(shares)} {invoice.currency}".replace("\u00a0", " ")
    percent = invoice.discount_percent
    value = (
        f"{percent.normalize():f}".replace(".", ",") + f"% ({amount})" if percent else amount
    ) + ", uwzględniony w rabatach pozycji (P_10)"
    return (model.Note(key=DISCOUNT_NOTE_KEY, value=value),)


def _notes(text: str) -> tuple[tuple[model.Note, ...], tuple[str, ...]]:
    """Where the invoice's notes go, whole: a short one-line note as ``DodatkowyOpis`` "Uwagi" (up to 256
    characters, a type that folds whitespace), a longer, multi-line or oddly spaced one as the invoice
    footer (``StopkaFaktury``, up to 3,500, kept as typed). Never cut: the form refuses more."""
    if not text:
        return (), ()
    # DodatkowyOpis/Wartosc is an xsd:token: KSeF reads it with runs of spaces, tabs and line breaks folded
    # into one space. Only a note that folding leaves as it is goes there; any other is kept whole below.
    if len(text) <= NOTE_MAX and text == " ".join(text.split()):
        return (model.Note(key="Uwagi", value=text),), ()
    return (), (text,)


_STATED_KINDS = (InvoiceKind.ZAL, InvoiceKind.ROZ, InvoiceKind.KOR_ZAL, InvoiceKind.KOR_ROZ)
# Their positions are the order's (Zamowienie), not lines of a sale (FaWiersz).
_ORDER_KINDS = (InvoiceKind.ZAL, InvoiceKind.KOR_ZAL)
# They cite the advance invoices settled (FakturaZaliczkowa).
_SETTLING_KINDS = (InvoiceKind.ROZ, InvoiceKind.KOR_ROZ)


def _stated_totals(invoice: Invoice) -> model.Totals | None:
    """``P_13_x``/``P_14_x``/``P_14_xW`` and ``P_15`` as an advance or final invoice, or a correction of
    one (the changes), states them (see invoices.advances); None for the other kinds, whose totals the
    builder computes from the lines."""
    stated = invoice.stated
    if stated is None or invoice.kind not in _STATED_KINDS:
        return None
    sums: dict[str, list[Decimal | None]] = {}
    for total in stated.rate_totals():
        bucket = model.VatRate(total.vat_rate).bucket
        net, vat, vat_pln = sums.setdefault(bucket, [Decimal(0), Decimal(0), Decimal(0)])
        sums[bucket] = [
            (net or 0) + total.net,
            (vat or 0) + total.vat,
            None if vat_pln is None or total.vat_pln is None else vat_pln + total.vat_pln,
        ]
    rates = []
    for bucket in model.BUCKETS:
        if bucket not in sums:
            continue
        net, vat, vat_pln = sums[bucket]
        taxed = bucket in model.TAXED_BUCKETS
        rates.append(
            model.RateTotal(
                bucket,
                net or Decimal(0),
                vat if taxed else None,
                vat_pln if taxed and invoice.currency != "PLN" else None,
            )
        )
    return model.Totals(rates=tuple(rates), gross=stated.gross)


def _order(invoice: Invoice, lines: Sequence[InvoiceLine]) -> model.Order:
    """``Zamowienie`` of an advance invoice: its lines are the order's positions. On a correction (KOR_ZAL)
    the positions before it (``StanPrzedZ``) come first, then those after, as separate rows: the schema asks
    for both even when only the advance changes, to confirm the order's value did not; the order's value
    (``WartoscZamowienia``) is the value after."""
    after = [line for line in lines if not line.before_correction]
    value = advances.order_value(after, currency=invoice.currency, exchange_rate=invoice.exchange_rate)
    return model.Order(
        value=value,
        lines=tuple(
            model.OrderLine(
                name=line.name,
                quantity=line.quantity,
                unit=line.unit or None,
                unit_price=line.unit_price,
                net_value=line.net_value,
                vat_amount=line.vat_amount if rate_percent(line.vat_rate) is not None else None,
                vat_rate=model.VatRate(line.vat_rate),
                annex15=line.annex15,
                gtu=line.gtu or None,
                before_correction=line.before_correction,
            )
            for line in lines
        ),
    )


def _advance_invoices(invoice: Invoice) -> tuple[model.AdvanceInvoiceRef, ...]:
    """``FakturaZaliczkowa`` of a final invoice (and of its correction, which cites them again): each advance
    by its KSeF number, or by its own number (``NrKSeFZN``) when it was issued outside KSeF."""
    if invoice.kind not in _SETTLING_KINDS:
        return ()
    return tuple(
        model.AdvanceInvoiceRef(ksef_number=ref["ksef_number"])
        if ref.get("ksef_number")
        else model.AdvanceInvoiceRef(number=ref["number"])
        for ref in invoice.advance_refs
    )


def invoice_to_fa3(
    invoice: Invoice, *, created_at: dt.datetime, lines: Sequence[InvoiceLine] | None = None
) -> model.Invoice:
    """The neutral FA(3) picture of a sales invoice (lines in the order FA(3) wants: before, then after).

    ``lines`` are the invoice's lines when it is not saved yet (the acceptance check), else its own."""
    lines = sorted(
        invoice.lines.all() if lines is None else lines,
        key=lambda line: (not line.before_correction, line.ordinal),
    )
    notes, footer = _notes(invoice.notes)
    notes = _discount_note(invoice, lines) + notes
    advance = invoice.kind in _ORDER_KINDS
    # P_6 is for a sale date all lines share; once a line has its own (P_6A), every line states its date.
    own_dates = any(line.sale_date for line in lines)
    common_date = invoice.sale_date or invoice.issue_date
    foreign = invoice.currency != "PLN"
    return model.Invoice(
        number=invoice.number,
        issue_date=invoice.issue_date,
        seller=model.Seller(
            nip=invoice.seller_nip,
            name=invoice.seller_name,
            address=_address(
                invoice.seller_address_line1, invoice.seller_address_line2, invoice.seller_country_code
            ),
        ),
        buyer=_buyer(invoice),
        third_parties=_third_parties(invoice),
        # An advance invoice's positions are the order's (Zamowienie), not lines of a sale (FaWiersz).
        lines=()
        if advance
        else tuple(
            _line(
                line,
                pricing=invoice.pricing,
                sale_date=(line.sale_date or common_date) if own_dates and not invoice.period_from else None,
            )
            for line in lines
        ),
        order=_order(invoice, lines) if advance else None,
        totals=_stated_totals(invoice),
        advance_exchange_rate=invoice.exchange_rate if advance and foreign else None,  # KursWalutyZ
        advance_invoices=_advance_invoices(invoice),
        kind=model.InvoiceKind(invoice.kind),
        currency=invoice.currency,
        exchange_rate=invoice.exchange_rate if foreign else None,
        created_at=created_at,
        system_info=SYSTEM_INFO,
        issue_place=invoice.place_of_issue or None,
        sale_date=invoice.sale_date
        if invoice.sale_date
        and invoice.sale_date != invoice.issue_date
        and not invoice.period_from
        and not (own_dates and not advance)
        else None,
        period=(invoice.period_from, invoice.period_to)
        if invoice.period_from and invoice.period_to
        else None,
        annotations=_annotations(invoice, lines),
        correction=_correction(invoice),
        notes=notes,
        footer=footer,
        related_parties=invoice.related_parties,
        registries=(
            model.Registry(
                krs=invoice.seller_krs or None,
                regon=invoice.seller_regon or None,
                bdo=invoice.seller_bdo or None,
            ),
        )
        if invoice.seller_krs or invoice.seller_regon or invoice.seller_bdo
        else (),
        payment=_payment(invoice),
    )


def invoice_xml_build(invoice: Invoice, *, created_at: dt.datetime | None = None) -> BuiltXml:
    """FA(3) XML for ``invoice``, valid against the XSD and free of errors found by ``fa3.checks``.

    Raises ``XmlProblems`` with readable Polish sentences otherwise. Build once and store the bytes: the
    same bytes must be resent on every retry (KSeF recognises a duplicate by seller NIP, kind and number).
    """
    created = (created_at or timezone.now()).astimezone(dt.UTC).replace(microsecond=0)
    try:
        neutral = invoice_to_fa3(invoice, created_at=created)
        problems = [p.message("pl") for p in check_invoice(neutral) if p.severity == "error"]
        if problems:
            raise XmlProblems(problems)
        xml = builder.build_invoice(neutral)
    except (ValueError, builder.Fa3BuildError) as exc:
        raise XmlProblems([f"Nie można zbudować pliku FA(3): {exc}"]) from exc
    schema_errors = validate(xml)
    if schema_errors:
        raise XmlProblems([f"Niezgodność ze schematem FA(3): {error}" for error in schema_errors[:10]])
    return BuiltXml(xml=xml, sha256_b64=invoice_hash(xml))


# --- would KSeF accept it? (the invoices.acceptance hook) --------------------------------------------------

# Where an FA(3) element is typed in the Wystaw/Korekta forms: invoice fields, the buyer's, a line's.
_INVOICE_FIELDS = {
    "P_1": "issue_date",
    "P_6": "sale_date",
    "P_6_Od": "period_from",
    "P_6_Do": "period_to",
    "P_1M": "place_of_issue",
    "KodWaluty": "currency",
    "KursWaluty": "exchange_rate",
    "Termin": "due_date",
    "NrRB": "bank_account",
    "Wartosc": "notes",
    "P_19A": "exemption_text",
    "P_19B": "exemption_text",
    "P_19C": "exemption_text",
    "PrzyczynaKorekty": "reason",
}
_BUYER_FIELDS = {
    "NIP": "nip",
    "Nazwa": "name",
    "AdresL1": "address_line1",
    "AdresL2": "address_line2",
    "KodKraju": "country_code",
    "KodUE": "country_code",
    "NrVatUE": "foreign_id",
    "NrID": "foreign_id",
    "Email": "email",
}
_LINE_FIELDS = {
    "P_7": "name",
    "P_8A": "unit",
    "P_8B": "quantity",
    "P_9A": "unit_price",
    "P_9B": "unit_price",
    "P_10": "discount_percent",
    "P_11A": "unit_price",
    "GTU": "gtu",
    "P_11": "unit_price",
    "P_11Vat": "unit_price",
    "P_12": "vat_rate",
}
_PROBLEM_FIELDS = {
    "issue_date": "issue_date",
    "sale_date": "sale_date",
    "currency": "currency",
    "exchange_rate": "exchange_rate",
    "buyer.tax_id": "nip",
    "annotations.exemption": "exemption_text",
}
_STEP = re.compile(r"^(?P<name>[^\[]+)(?:\[(?P<index>\d+)\])?$")
_LINE_PROBLEM = re.compile(r"^lines\[(?P<index>\d+)\]\.(?P<field>\w+)$")
_AMOUNT_TYPES = ("P_8B", "P_9A", "P_11", "P_11Vat", "P_15", "KursWaluty")


def _schema_message(element: str, text: str) -> str:
    """libxml2's technical message as a sentence a person can act on."""
    if "discouraged Unicode" in text:
        return _("KSeF refuses some invisible control characters typed or pasted here; remove them.")
    if "maxLength" in text and (found := re.search(r"maximum length of '(\d+)'", text)):
        return _("Too long for KSeF: at most %(count)s characters.") % {"count": found.group(1)}
    if "minLength" in text:
        return _("KSeF needs this filled in.")
    if "Inclusive" in text and re.search(r"'\d{4}-\d{2}-\d{2}'", text):
        return _("KSeF does not accept this date.")
    if ("totalDigits" in text or "pattern" in text) and (
        element in _AMOUNT_TYPES or element.startswith(("P_13_", "P_14_"))
    ):
        return _("The amount is too large for KSeF.")
    if "enumeration" in text:
        return _("KSeF does not know this code.")
    return _("KSeF would refuse this value (%(detail)s).") % {"detail": text}


def _schema_issue(error: SchemaError, count: int) -> Issue:
    steps = [_STEP.match(step) for step in error.path.strip("/").split("/") if step]
    names = [(m.group("name"), int(m.group("index") or 1)) for m in steps if m is not None]
    element = names[-1][0] if names else ""
    message = _schema_message(element, error.message)
    parents = [name for name, _index in names[:-1]]
    if "FaWiersz" in parents:
        position = dict(names)["FaWiersz"] - 1
        if element == "KursWaluty":
            return Issue(message, field="exchange_rate")
        if 0 <= position < count:
            return Issue(message, field=_LINE_FIELDS.get(element), line=position)
    if "Podmiot2" in parents:
        return Issue(message, field=_BUYER_FIELDS.get(element))
    if "Podmiot3" in parents:
        field = _BUYER_FIELDS.get(element)
        return Issue(message, field=f"third_{field}" if field and field != "email" else "third_name")
    if "Podmiot1" in parents:
        return Issue(
            _("Your company's data (Więcej → Dane i ustawienia) cannot go on the invoice: %(message)s")
            % {"message": message}
        )
    if element in _INVOICE_FIELDS:
        return Issue(message, field=_INVOICE_FIELDS[element])
    return Issue(_("%(element)s: %(message)s") % {"element": element or "FA(3)", "message": message})


def _problem_issue(problem: Problem, count: int) -> Issue:
    message = problem.message(get_language() or "pl")
    if found := _LINE_PROBLEM.match(problem.field):
        position = int(found.group("index"))
        if position < count:
            return Issue(message, field=found.group("field"), line=position)
    return Issue(message, field=_PROBLEM_FIELDS.get(problem.field))


def invoice_acceptance_issues(invoice: Invoice, lines: Sequence[InvoiceLine]) -> list[Issue]:
    """Why KSeF would refuse ``invoice`` (saved or not) with ``lines``: the FA(3) file sending would build,
    run through our semantic checks and the official XSD. Line issues point into ``lines``."""
    order = sorted(range(len(lines)), key=lambda i: (not lines[i].before_correction, lines[i].ordinal))
    created = timezone.now().astimezone(dt.UTC).replace(microsecond=0)
    try:
        neutral = invoice_to_fa3(invoice, created_at=created, lines=lines)
        issues = [_problem_issue(p, len(lines)) for p in check_invoice(neutral) if p.severity == "error"]
        xml = builder.build_invoice(neutral)
    except (ValueError, builder.Fa3BuildError) as exc:
        return [Issue(_("The FA(3) file cannot be built: %(reason)s") % {"reason": exc})]
    issues += [_schema_issue(error, len(lines)) for error in validate(xml)]
    unique: list[Issue] = []
    for issue in issues:
        # positions in the file are positions in FA(3)'s order; point them back into ``lines``
        placed = issue if issue.line is None else Issue(issue.message, issue.field, order[issue.line])
        if placed not in unique:
            unique.append(placed)
    return unique
