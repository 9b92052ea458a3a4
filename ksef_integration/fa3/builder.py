"""Write an :class:`~ksef_integration.fa3.model.Invoice` as FA(3) 1-0E XML bytes.

Elements are emitted in the exact order of the schema's sequences. The output is UTF-8 without a BOM, has
only the FA(3) default namespace and is deterministic: building the parse of a built invoice gives the same
bytes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

from lxml import etree

from ._xml import NS, fmt_amount, fmt_decimal, hardened_parser, q, round_half_up
from .model import (
    BUCKETS,
    TAXED_BUCKETS,
    Address,
    AttachmentBlock,
    BankAccount,
    Buyer,
    Contact,
    Correction,
    EuVatId,
    InternalId,
    Invoice,
    Line,
    Nip,
    NoTaxId,
    Order,
    OtherTaxId,
    Payment,
    RateTotal,
    Seller,
    ThirdParty,
    ThirdPartyId,
    Totals,
)

FORM_CODE = "FA"
SYSTEM_CODE = "FA (3)"
SCHEMA_VERSION = "1-0E"
FORM_VARIANT = "3"


class Fa3BuildError(ValueError):
    """The invoice cannot be written as FA(3) (missing data or a value the schema cannot carry)."""


# --- totals ----------------------------------------------------------------------------------------------


def line_net(line: Line) -> Decimal | None:
    """The line's net value: ``P_11`` if given, else quantity x net unit price rounded half-up to grosze."""
    if line.net_value is not None:
        return line.net_value
    if line.quantity is not None and line.unit_price is not None:
        return round_half_up(line.quantity * line.unit_price)
    return None


def compute_totals(invoice: Invoice) -> Totals:
    """Per-rate sums ``P_13_x``/``P_14_x``/``P_14_xW`` and the total due ``P_15`` from the lines.

    Rounding follows Polish VAT practice (art. 106e ust. 1 pkt 13-14): net values are summed per rate and the
    tax of each rate is computed once from that sum and rounded half-up (away from zero) to grosze; it is
    not the sum of per-line taxes. Several rates sharing a field (23% and 22% in ``P_14_1``) are taxed
    separately and added. Lines priced gross (``P_11A`` without ``P_11``) take the tax out of the summed
    gross: ``gross * r / (100 + r)``, rounded the same way.

    Foreign currency: ``P_14_xW`` is the tax in PLN, computed from the net of the rate converted at the
    line's exchange rate and rounded to grosze, then taxed and rounded again (tax base in PLN first, as
    art. 31a requires).

    Corrections: when lines come as "before" (``StanPrzed``) and "after" pairs, each side is computed this
    way and the totals are after minus before. Lines that already carry differences just sum (negative
    values round away from zero, mirroring the positive case).

    ``P_13_5`` (OSS, tax from ``P_12_XII``) and ``P_13_11`` (margin scheme) take lines with no ``P_12``.
    """
    foreign = invoice.currency != "PLN"
    # key: (bucket, percent, exchange rate, sign) -> [net from net lines, gross from gross lines]
    groups: dict[tuple[str, Decimal | None, Decimal | None, int], list[Decimal]] = defaultdict(
        lambda: [Decimal(0), Decimal(0)]
    )
    for line in invoice.lines:
        bucket, pct = _line_bucket(invoice, line)
        if bucket is None:
            continue
        rate = (line.exchange_rate or invoice.exchange_rate) if foreign else None
        key = (bucket, pct, rate, -1 if line.before_correction else 1)
        net = line_net(line)
        if net is not None:
            groups[key][0] += net
        elif line.gross_value is not None:
            groups[key][1] += line.gross_value

    nets: dict[str, Decimal] = defaultdict(Decimal)
    vats: dict[str, Decimal] = defaultdict(Decimal)
    vats_pln: dict[str, Decimal] = {}
    for (bucket, pct, rate, sign), (net, gross) in groups.items():
        vat_of_net = vat_in_gross = Decimal(0)
        if pct is not None:
            vat_of_net = round_half_up(net * pct / 100)
            vat_in_gross = round_half_up(gross * pct / (100 + pct))
        vat = vat_of_net + vat_in_gross
        net_total = net + gross - vat_in_gross
        nets[bucket] += sign * net_total
        vats[bucket] += sign * vat
        if pct is not None and rate is not None:
            vat_pln = round_half_up(round_half_up(net_total * rate) * pct / 100)
            vats_pln[bucket] = vats_pln.get(bucket, Decimal(0)) + sign * vat_pln

    rates: list[RateTotal] = []
    for bucket in BUCKETS:
        if bucket not in nets:
            continue
        taxed = bucket in TAXED_BUCKETS or bucket == "5"
        # no P_14_xW without an exchange rate: a wrong 0.00 would be worse than the gap checks.py reports
        bucket_pln = vats_pln.get(bucket) if bucket in TAXED_BUCKETS else None
        rates.append(RateTotal(bucket, nets[bucket], vats[bucket] if taxed else None, bucket_pln))
    gross_total = sum((r.net + (r.vat or 0) for r in rates), Decimal(0))
    return Totals(rates=tuple(rates), gross=gross_total)


def _line_bucket(invoice: Invoice, line: Line) -> tuple[str | None, Decimal | None]:
    if line.vat_rate is not None:
        return line.vat_rate.bucket, line.vat_rate.percent
    if line.oss_rate is not None:
        return "5", line.oss_rate
    if invoice.annotations.margin is not None:
        return "11", None
    return None, None


# --- XML writing -----------------------------------------------------------------------------------------


# Text kept as given: xsd:string fields where line breaks and spacing carry meaning.
_VERBATIM = frozenset({"StopkaFaktury"})


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, q(name))
    if text is not None:
        # Nearly every FA(3) text is an xsd:token, whose value collapses whitespace; writing it collapsed
        # keeps the bytes equal to what a parse of them gives back.
        el.text = text if name in _VERBATIM else " ".join(text.split())
    return el


def _opt(parent: etree._Element, name: str, text: str | None) -> None:
    if text is not None:
        _sub(parent, name, text)


def _flag12(value: bool) -> str:
    return "1" if value else "2"


def _date(value: date) -> str:
    return value.isoformat()


def _datetime(value: datetime) -> str:
    if value.tzinfo is None:
        raise Fa3BuildError("DataWytworzeniaFa needs an aware datetime")
    text = value.isoformat(timespec="seconds" if value.microsecond == 0 else "microseconds")
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else fmt_amount(value)


def _raw(parent: etree._Element, xml: str, name: str) -> None:
    el = etree.fromstring(xml.encode(), hardened_parser())  # hardened parser
    if el.tag != q(name):
        raise Fa3BuildError(f"raw XML for {name} has root {el.tag}")
    parent.append(el)


def _address(parent: etree._Element, name: str, address: Address | None) -> None:
    if address is None:
        return
    el = _sub(parent, name)
    _sub(el, "KodKraju", address.country)
    _sub(el, "AdresL1", address.line1)
    _opt(el, "AdresL2", address.line2)
    _opt(el, "GLN", address.gln)


def _contacts(
    parent: etree._Element, contacts: Iterable[Contact], email: str = "Email", phone: str = "Telefon"
) -> None:
    for contact in contacts:
        el = _sub(parent, "DaneKontaktowe")
        _opt(el, email, contact.email)
        _opt(el, phone, contact.phone)


def _identity(parent: etree._Element, tax_id: ThirdPartyId, name: str | None) -> None:
    el = _sub(parent, "DaneIdentyfikacyjne")
    match tax_id:
        case Nip(value):
            _sub(el, "NIP", value)
        case InternalId(value):
            _sub(el, "IDWew", value)
        case EuVatId(country, number):
            _sub(el, "KodUE", country)
            _sub(el, "NrVatUE", number)
        case OtherTaxId(number, country):
            _opt(el, "KodKraju", country)
            _sub(el, "NrID", number)
        case NoTaxId():
            _sub(el, "BrakID", "1")
    _opt(el, "Nazwa", name)


def _seller(root: etree._Element, seller: Seller) -> None:
    el = _sub(root, "Podmiot1")
    if seller.eu_prefix:
        _sub(el, "PrefiksPodatnika", "PL")
    _opt(el, "NrEORI", seller.eori)
    ident = _sub(el, "DaneIdentyfikacyjne")
    _sub(ident, "NIP", seller.nip)
    _sub(ident, "Nazwa", seller.name)
    _address(el, "Adres", seller.address)
    _address(el, "AdresKoresp", seller.correspondence_address)
    _contacts(el, seller.contacts)
    _opt(el, "StatusInfoPodatnika", None if seller.taxpayer_status is None else str(seller.taxpayer_status))


def _buyer(root: etree._Element, buyer: Buyer) -> None:
    el = _sub(root, "Podmiot2")
    _opt(el, "NrEORI", buyer.eori)
    _identity(el, buyer.tax_id, buyer.name)
    _address(el, "Adres", buyer.address)
    _address(el, "AdresKoresp", buyer.correspondence_address)
    _contacts(el, buyer.contacts)
    _opt(el, "NrKlienta", buyer.customer_number)
    _opt(el, "IDNabywcy", buyer.buyer_key)
    _sub(el, "JST", _flag12(buyer.jst))
    _sub(el, "GV", _flag12(buyer.vat_group))


def _third_party(root: etree._Element, party: ThirdParty) -> None:
    el = _sub(root, "Podmiot3")
    _opt(el, "IDNabywcy", party.buyer_key)
    _opt(el, "NrEORI", party.eori)
    _identity(el, party.tax_id, party.name)
    _address(el, "Adres", party.address)
    _address(el, "AdresKoresp", party.correspondence_address)
    _contacts(el, party.contacts)
    if party.role is not None:
        _sub(el, "Rola", str(int(party.role)))
    elif party.other_role is not None:
        _sub(el, "RolaInna", "1")
        _sub(el, "OpisRoli", party.other_role)
    else:
        raise Fa3BuildError("Podmiot3 needs a role (Rola) or a described other role (OpisRoli)")
    _opt(el, "Udzial", None if party.share is None else fmt_decimal(party.share, 6))
    _opt(el, "NrKlienta", party.customer_number)


def _totals(fa: etree._Element, totals: Totals) -> None:
    for rt in totals.rates:
        _sub(fa, f"P_13_{rt.bucket}", fmt_amount(rt.net))
        if rt.bucket in TAXED_BUCKETS or rt.bucket == "5":
            if rt.vat is None:
                if rt.bucket != "5":
                    raise Fa3BuildError(f"P_14_{rt.bucket} is required with P_13_{rt.bucket}")
            else:
                _sub(fa, f"P_14_{rt.bucket}", fmt_amount(rt.vat))
            if rt.vat_pln is not None and rt.bucket != "5":
                _sub(fa, f"P_14_{rt.bucket}W", fmt_amount(rt.vat_pln))
    _sub(fa, "P_15", fmt_amount(totals.gross))


def _annotations(fa: etree._Element, invoice: Invoice) -> None:
    notes = invoice.annotations
    el = _sub(fa, "Adnotacje")
    _sub(el, "P_16", _flag12(notes.cash_accounting))
    _sub(el, "P_17", _flag12(notes.self_billing))
    _sub(el, "P_18", _flag12(notes.reverse_charge))
    _sub(el, "P_18A", _flag12(notes.split_payment))
    exemption = _sub(el, "Zwolnienie")
    if notes.exemption is not None:
        _sub(exemption, "P_19", "1")
        _sub(exemption, notes.exemption.basis.value, notes.exemption.text)
    else:
        _sub(exemption, "P_19N", "1")
    if notes.new_transport_xml is not None:
        _raw(el, notes.new_transport_xml, "NoweSrodkiTransportu")
    else:
        _sub(_sub(el, "NoweSrodkiTransportu"), "P_22N", "1")
    _sub(el, "P_23", _flag12(notes.simplified_triangular))
    margin = _sub(el, "PMarzy")
    if notes.margin is not None:
        _sub(margin, "P_PMarzy", "1")
        _sub(margin, notes.margin.value, "1")
    else:
        _sub(margin, "P_PMarzyN", "1")


def _correction(fa: etree._Element, correction: Correction) -> None:
    if not correction.corrected:
        raise Fa3BuildError("a correction needs at least one corrected invoice (DaneFaKorygowanej)")
    _opt(fa, "PrzyczynaKorekty", correction.reason)
    _opt(fa, "TypKorekty", None if correction.type is None else str(int(correction.type)))
    for original in correction.corrected:
        el = _sub(fa, "DaneFaKorygowanej")
        _sub(el, "DataWystFaKorygowanej", _date(original.issue_date))
        _sub(el, "NrFaKorygowanej", original.number)
        if original.ksef_number is not None:
            _sub(el, "NrKSeF", "1")
            _sub(el, "NrKSeFFaKorygowanej", original.ksef_number)
        else:
            _sub(el, "NrKSeFN", "1")
    _opt(fa, "OkresFaKorygowanej", correction.period)
    _opt(fa, "NrFaKorygowany", correction.correct_number)
    if correction.seller_before is not None:
        before = correction.seller_before
        el = _sub(fa, "Podmiot1K")
        _opt(el, "PrefiksPodatnika", before.eu_prefix)
        ident = _sub(el, "DaneIdentyfikacyjne")
        _sub(ident, "NIP", before.nip)
        _sub(ident, "Nazwa", before.name)
        _address(el, "Adres", before.address)
    for buyer in correction.buyers_before:
        el = _sub(fa, "Podmiot2K")
        _identity(el, buyer.tax_id, buyer.name)
        _address(el, "Adres", buyer.address)
        _opt(el, "IDNabywcy", buyer.buyer_key)
    if correction.advance_paid_before is not None:
        _sub(fa, "P_15ZK", fmt_amount(correction.advance_paid_before))
        if correction.advance_rate_before is not None:
            _sub(fa, "KursWalutyZK", fmt_decimal(correction.advance_rate_before, 6))


def _line(fa: etree._Element, invoice: Invoice, line: Line, number: int) -> None:
    el = _sub(fa, "FaWiersz")
    _sub(el, "NrWierszaFa", str(number))
    _opt(el, "UU_ID", line.uu_id)
    _opt(el, "P_6A", None if line.sale_date is None else _date(line.sale_date))
    _opt(el, "P_7", line.name)
    _opt(el, "Indeks", line.index)
    _opt(el, "GTIN", line.gtin)
    _opt(el, "PKWiU", line.pkwiu)
    _opt(el, "CN", line.cn)
    _opt(el, "PKOB", line.pkob)
    _opt(el, "P_8A", line.unit)
    _opt(el, "P_8B", None if line.quantity is None else fmt_decimal(line.quantity, 6))
    _opt(el, "P_9A", None if line.unit_price is None else fmt_decimal(line.unit_price, 8))
    _opt(el, "P_9B", None if line.unit_price_gross is None else fmt_decimal(line.unit_price_gross, 8))
    _opt(el, "P_10", None if line.discount is None else fmt_decimal(line.discount, 8))
    net = line_net(line) if line.gross_value is None else line.net_value
    _opt(el, "P_11", _amount(net))
    _opt(el, "P_11A", _amount(line.gross_value))
    _opt(el, "P_11Vat", _amount(line.vat_amount))
    _opt(el, "P_12", None if line.vat_rate is None else line.vat_rate.value)
    _opt(el, "P_12_XII", None if line.oss_rate is None else fmt_decimal(line.oss_rate, 6))
    if line.annex15:
        _sub(el, "P_12_Zal_15", "1")
    _opt(el, "KwotaAkcyzy", _amount(line.excise))
    _opt(el, "GTU", line.gtu)
    _opt(el, "Procedura", line.procedure)
    rate = line.exchange_rate
    if rate is None and invoice.currency != "PLN":
        rate = invoice.exchange_rate
    _opt(el, "KursWaluty", None if rate is None else fmt_decimal(rate, 6))
    if line.before_correction:
        _sub(el, "StanPrzed", "1")


def _order(fa: etree._Element, order: Order) -> None:
    el = _sub(fa, "Zamowienie")
    _sub(el, "WartoscZamowienia", fmt_amount(order.value))
    for number, line in enumerate(order.lines, start=1):
        row = _sub(el, "ZamowienieWiersz")
        _sub(row, "NrWierszaZam", str(number))
        _opt(row, "P_7Z", line.name)
        _opt(row, "P_8AZ", line.unit)
        _opt(row, "P_8BZ", None if line.quantity is None else fmt_decimal(line.quantity, 6))
        _opt(row, "P_9AZ", None if line.unit_price is None else fmt_decimal(line.unit_price, 8))
        _opt(row, "P_11NettoZ", _amount(line.net_value))
        _opt(row, "P_11VatZ", _amount(line.vat_amount))
        _opt(row, "P_12Z", None if line.vat_rate is None else line.vat_rate.value)
        if line.annex15:
            _sub(row, "P_12Z_Zal_15", "1")
        _opt(row, "GTUZ", line.gtu)
        if line.before_correction:
            _sub(row, "StanPrzedZ", "1")


def _method(parent: etree._Element, method: int | None, other: str | None) -> None:
    if method is not None:
        _sub(parent, "FormaPlatnosci", str(int(method)))
    elif other is not None:
        _sub(parent, "PlatnoscInna", "1")
        _sub(parent, "OpisPlatnosci", other)


def _bank_account(parent: etree._Element, name: str, account: BankAccount) -> None:
    el = _sub(parent, name)
    _sub(el, "NrRB", account.number)
    _opt(el, "SWIFT", account.swift)
    _opt(
        el, "RachunekWlasnyBanku", None if account.own_bank_account is None else str(account.own_bank_account)
    )
    _opt(el, "NazwaBanku", account.bank_name)
    _opt(el, "OpisRachunku", account.description)


def _payment(fa: etree._Element, payment: Payment) -> None:
    el = _sub(fa, "Platnosc")
    if payment.paid_on is not None:
        _sub(el, "Zaplacono", "1")
        _sub(el, "DataZaplaty", _date(payment.paid_on))
    elif payment.partial_payments:
        _sub(el, "ZnacznikZaplatyCzesciowej", _flag12(payment.partially_paid is not False))
        for part in payment.partial_payments:
            pel = _sub(el, "ZaplataCzesciowa")
            _sub(pel, "KwotaZaplatyCzesciowej", fmt_amount(part.amount))
            _sub(pel, "DataZaplatyCzesciowej", _date(part.paid_on))
            _method(pel, part.method, part.other_method)
    for term in payment.terms:
        tel = _sub(el, "TerminPlatnosci")
        _opt(tel, "Termin", None if term.due_date is None else _date(term.due_date))
        if term.quantity is not None and term.unit is not None and term.start_event is not None:
            desc = _sub(tel, "TerminOpis")
            _sub(desc, "Ilosc", str(term.quantity))
            _sub(desc, "Jednostka", term.unit)
            _sub(desc, "ZdarzeniePoczatkowe", term.start_event)
    _method(el, payment.method, payment.other_method)
    for account in payment.bank_accounts:
        _bank_account(el, "RachunekBankowy", account)
    for account in payment.factor_accounts:
        _bank_account(el, "RachunekBankowyFaktora", account)
    if payment.discount_conditions is not None and payment.discount_amount is not None:
        skonto = _sub(el, "Skonto")
        _sub(skonto, "WarunkiSkonta", payment.discount_conditions)
        _sub(skonto, "WysokoscSkonta", payment.discount_amount)
    _opt(el, "LinkDoPlatnosci", payment.payment_link)
    _opt(el, "IPKSeF", payment.ipksef)


def _footer(root: etree._Element, invoice: Invoice) -> None:
    if not invoice.footer and not invoice.registries:
        return
    el = _sub(root, "Stopka")
    for text in invoice.footer:
        _sub(_sub(el, "Informacje"), "StopkaFaktury", text)
    for reg in invoice.registries:
        rel = _sub(el, "Rejestry")
        _opt(rel, "PelnaNazwa", reg.full_name)
        _opt(rel, "KRS", reg.krs)
        _opt(rel, "REGON", reg.regon)
        _opt(rel, "BDO", reg.bdo)


def _attachment(root: etree._Element, blocks: tuple[AttachmentBlock, ...]) -> None:
    if not blocks:
        return
    el = _sub(root, "Zalacznik")
    for block in blocks:
        bel = _sub(el, "BlokDanych")
        _opt(bel, "ZNaglowek", block.header)
        for key, value in block.metadata:
            meta = _sub(bel, "MetaDane")
            _sub(meta, "ZKlucz", key)
            _sub(meta, "ZWartosc", value)
        if block.paragraphs:
            text = _sub(bel, "Tekst")
            for paragraph in block.paragraphs:
                _sub(text, "Akapit", paragraph)
        for table in block.tables:
            tel = _sub(bel, "Tabela")
            for key, value in table.metadata:
                meta = _sub(tel, "TMetaDane")
                _sub(meta, "TKlucz", key)
                _sub(meta, "TWartosc", value)
            _opt(tel, "Opis", table.description)
            head = _sub(tel, "TNaglowek")
            for column in table.columns:
                col = _sub(head, "Kol")
                col.set("Typ", column.type)
                _sub(col, "NKom", column.name)
            for row in table.rows:
                wel = _sub(tel, "Wiersz")
                for cell in row:
                    _sub(wel, "WKom", cell)
            if table.sums is not None:
                sel = _sub(tel, "Suma")
                for cell in table.sums:
                    _sub(sel, "SKom", cell)


def build_tree(invoice: Invoice) -> etree._Element:
    """The ``Faktura`` element for ``invoice`` (see :func:`build_invoice`)."""
    if invoice.created_at is None:
        raise Fa3BuildError("created_at (DataWytworzeniaFa) is required")
    if invoice.period is not None and invoice.sale_date is not None:
        raise Fa3BuildError("give either a sale date (P_6) or a period (OkresFa), not both")

    root = etree.Element(q("Faktura"), nsmap={None: NS})
    head = _sub(root, "Naglowek")
    code = _sub(head, "KodFormularza", FORM_CODE)
    code.set("kodSystemowy", SYSTEM_CODE)
    code.set("wersjaSchemy", SCHEMA_VERSION)
    _sub(head, "WariantFormularza", FORM_VARIANT)
    _sub(head, "DataWytworzeniaFa", _datetime(invoice.created_at))
    _opt(head, "SystemInfo", invoice.system_info)

    _seller(root, invoice.seller)
    _buyer(root, invoice.buyer)
    for party in invoice.third_parties:
        _third_party(root, party)
    if invoice.authorised_party_xml is not None:
        _raw(root, invoice.authorised_party_xml, "PodmiotUpowazniony")

    fa = _sub(root, "Fa")
    _sub(fa, "KodWaluty", invoice.currency)
    _sub(fa, "P_1", _date(invoice.issue_date))
    _opt(fa, "P_1M", invoice.issue_place)
    _sub(fa, "P_2", invoice.number)
    for wz in invoice.delivery_notes:
        _sub(fa, "WZ", wz)
    if invoice.sale_date is not None:
        _sub(fa, "P_6", _date(invoice.sale_date))
    elif invoice.period is not None:
        period = _sub(fa, "OkresFa")
        _sub(period, "P_6_Od", _date(invoice.period[0]))
        _sub(period, "P_6_Do", _date(invoice.period[1]))
    _totals(fa, invoice.totals if invoice.totals is not None else compute_totals(invoice))
    _opt(
        fa,
        "KursWalutyZ",
        None if invoice.advance_exchange_rate is None else fmt_decimal(invoice.advance_exchange_rate, 6),
    )
    _annotations(fa, invoice)
    _sub(fa, "RodzajFaktury", invoice.kind.value)
    if invoice.correction is not None:
        _correction(fa, invoice.correction)
    for advance in invoice.partial_advances:
        el = _sub(fa, "ZaliczkaCzesciowa")
        _sub(el, "P_6Z", _date(advance.received_on))
        _sub(el, "P_15Z", fmt_amount(advance.amount))
        _opt(
            el,
            "KursWalutyZW",
            None if advance.exchange_rate is None else fmt_decimal(advance.exchange_rate, 6),
        )
    if invoice.fp:
        _sub(fa, "FP", "1")
    if invoice.related_parties:
        _sub(fa, "TP", "1")
    for note in invoice.notes:
        el = _sub(fa, "DodatkowyOpis")
        _opt(el, "NrWiersza", None if note.line_number is None else str(note.line_number))
        _sub(el, "Klucz", note.key)
        _sub(el, "Wartosc", note.value)
    for ref in invoice.advance_invoices:
        el = _sub(fa, "FakturaZaliczkowa")
        if ref.ksef_number is not None:
            _sub(el, "NrKSeFFaZaliczkowej", ref.ksef_number)
        elif ref.number is not None:
            _sub(el, "NrKSeFZN", "1")
            _sub(el, "NrFaZaliczkowej", ref.number)
        else:
            raise Fa3BuildError("an advance-invoice reference needs a KSeF number or a number")
    if invoice.excise_refund:
        _sub(fa, "ZwrotAkcyzy", "1")
    for position, line in enumerate(invoice.lines, start=1):
        _line(fa, invoice, line, line.number if line.number is not None else position)
    if invoice.settlement_xml is not None:
        _raw(fa, invoice.settlement_xml, "Rozliczenie")
    if invoice.payment is not None:
        _payment(fa, invoice.payment)
    if invoice.transaction_terms_xml is not None:
        _raw(fa, invoice.transaction_terms_xml, "WarunkiTransakcji")
    if invoice.order is not None and invoice.order_xml is not None:
        raise Fa3BuildError("give the order (Zamowienie) either as data or as XML, not both")
    if invoice.order is not None:
        _order(fa, invoice.order)
    if invoice.order_xml is not None:
        _raw(fa, invoice.order_xml, "Zamowienie")

    _footer(root, invoice)
    _attachment(root, invoice.attachment)
    etree.cleanup_namespaces(root)
    return root


def build_invoice(invoice: Invoice) -> bytes:
    """FA(3) 1-0E XML bytes for ``invoice``: UTF-8, no BOM, an XML declaration, two-space indentation.

    Totals are taken from ``invoice.totals`` when given, else computed by :func:`compute_totals`.
    """
    root = build_tree(invoice)
    etree.indent(root, space="  ")
    body: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body + b"\n"


def now_utc() -> datetime:
    """An aware "now" for ``Invoice.created_at``, to the second."""
    return datetime.now(UTC).replace(microsecond=0)
