"""Read any schema-valid FA(3) 1-0E document into an :class:`~ksef_integration.fa3.model.Invoice`.

Parts the model does not break down (``PodmiotUpowazniony``, ``Rozliczenie``, ``WarunkiTransakcji``,
``Zamowienie``, new means of transport) are kept as raw XML strings, so nothing is silently dropped. The
parser never expands entities or touches the network, and refuses any DTD (see ``parse_untrusted``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TypeAlias

from lxml import etree

from ._xml import NS, UnsafeXmlError, parse_untrusted, q
from .model import (
    BUCKETS,
    TAXED_BUCKETS,
    Address,
    AdvanceInvoiceRef,
    Annotations,
    AttachmentBlock,
    AttachmentTable,
    BankAccount,
    Buyer,
    Contact,
    CorrectedBuyer,
    CorrectedInvoice,
    CorrectedSeller,
    Correction,
    CorrectionType,
    EuVatId,
    Exemption,
    ExemptionBasis,
    InternalId,
    Invoice,
    InvoiceKind,
    Line,
    MarginScheme,
    Nip,
    NoTaxId,
    Note,
    OtherTaxId,
    PartialAdvance,
    PartialPayment,
    Payment,
    PaymentMethod,
    PaymentTerm,
    RateTotal,
    Registry,
    Seller,
    Settlement,
    SettlementEntry,
    TableColumn,
    TaxId,
    ThirdParty,
    ThirdPartyId,
    ThirdPartyRole,
    Totals,
    VatRate,
)

__all__ = ["Fa3ParseError", "parse_invoice", "parse_xml", "settlement_parse"]

_El: TypeAlias = etree._Element


class Fa3ParseError(ValueError):
    """The bytes are not an FA(3) document this parser can read (malformed, wrong root, missing parts)."""


def parse_xml(data: bytes) -> _El:
    """Parse bytes with the hardened parser; raise :class:`Fa3ParseError` on any XML error."""
    try:
        return parse_untrusted(data)
    except etree.XMLSyntaxError as exc:
        raise Fa3ParseError(f"not well-formed XML: {exc}") from exc
    except UnsafeXmlError as exc:
        raise Fa3ParseError(str(exc)) from exc


def parse_invoice(data: bytes) -> Invoice:
    """The invoice in ``data`` (FA(3) XML bytes). Validate against the XSD first for untrusted input."""
    root = parse_xml(data)
    if root.tag != q("Faktura"):
        raise Fa3ParseError(f"root element is {root.tag}, expected Faktura in namespace {NS}")
    try:
        return _invoice(root)
    except (KeyError, ValueError, TypeError, InvalidOperation) as exc:
        raise Fa3ParseError(f"cannot read the invoice: {exc}") from exc


def settlement_parse(raw: str) -> Settlement:
    """The ``Rozliczenie`` kept as raw XML in :attr:`Invoice.settlement_xml`, broken down."""
    el = parse_xml(raw.encode())
    try:
        return Settlement(
            charges=tuple(
                SettlementEntry(amount=Decimal(_req(e, "Kwota")), reason=_req(e, "Powod"))
                for e in _all(el, "Obciazenia")
            ),
            charges_total=_dec(el, "SumaObciazen"),
            deductions=tuple(
                SettlementEntry(amount=Decimal(_req(e, "Kwota")), reason=_req(e, "Powod"))
                for e in _all(el, "Odliczenia")
            ),
            deductions_total=_dec(el, "SumaOdliczen"),
            to_pay=_dec(el, "DoZaplaty"),
            to_settle=_dec(el, "DoRozliczenia"),
        )
    except (KeyError, InvalidOperation) as exc:
        raise Fa3ParseError(f"cannot read Rozliczenie: {exc}") from exc


# --- element helpers -------------------------------------------------------------------------------------


def _find(el: _El | None, name: str) -> _El | None:
    return None if el is None else el.find(q(name))


def _need(el: _El, name: str) -> _El:
    found = el.find(q(name))
    if found is None:
        raise KeyError(f"{etree.QName(el).localname}/{name} is missing")
    return found


def _all(el: _El | None, name: str) -> list[_El]:
    return [] if el is None else el.findall(q(name))


def _text(el: _El | None, name: str) -> str | None:
    found = _find(el, name)
    if found is None:
        return None
    return (found.text or "").strip()


def _req(el: _El, name: str) -> str:
    return (_need(el, name).text or "").strip()


def _dec(el: _El | None, name: str) -> Decimal | None:
    text = _text(el, name)
    return None if text is None else Decimal(text)


def _date_of(text: str) -> date:
    return date.fromisoformat(text.strip()[:10])  # xsd:date may carry a zone suffix; FA(3) dates are days


def _date(el: _El | None, name: str) -> date | None:
    text = _text(el, name)
    return None if text is None else _date_of(text)


def _int(el: _El | None, name: str) -> int | None:
    text = _text(el, name)
    return None if text is None else int(text)


def _is1(el: _El | None, name: str) -> bool:
    return _text(el, name) == "1"


def _raw(el: _El | None) -> str | None:
    if el is None:
        return None
    return etree.tostring(el, encoding="unicode", with_tail=False)


# --- parts -----------------------------------------------------------------------------------------------


def _address(el: _El | None) -> Address | None:
    if el is None:
        return None
    return Address(
        country=_req(el, "KodKraju"),
        line1=_req(el, "AdresL1"),
        line2=_text(el, "AdresL2"),
        gln=_text(el, "GLN"),
    )


def _contacts(el: _El, email: str = "Email", phone: str = "Telefon") -> tuple[Contact, ...]:
    return tuple(Contact(email=_text(c, email), phone=_text(c, phone)) for c in _all(el, "DaneKontaktowe"))


def _tax_id(ident: _El) -> ThirdPartyId:
    if (nip := _text(ident, "NIP")) is not None:
        return Nip(nip)
    if (internal := _text(ident, "IDWew")) is not None:
        return InternalId(internal)
    if (eu := _text(ident, "KodUE")) is not None:
        return EuVatId(country=eu, number=_req(ident, "NrVatUE"))
    if (other := _text(ident, "NrID")) is not None:
        return OtherTaxId(number=other, country=_text(ident, "KodKraju"))
    return NoTaxId()


def _buyer_tax_id(ident: _El) -> TaxId:
    tax_id = _tax_id(ident)
    if isinstance(tax_id, InternalId):
        raise ValueError("IDWew is allowed only for Podmiot3")
    return tax_id


def _seller(el: _El) -> Seller:
    ident = _need(el, "DaneIdentyfikacyjne")
    address = _address(_need(el, "Adres"))
    assert address is not None  # noqa: S101 - _need guarantees the element
    return Seller(
        nip=_req(ident, "NIP"),
        name=_req(ident, "Nazwa"),
        address=address,
        correspondence_address=_address(_find(el, "AdresKoresp")),
        contacts=_contacts(el),
        eu_prefix=_text(el, "PrefiksPodatnika") is not None,
        eori=_text(el, "NrEORI"),
        taxpayer_status=_int(el, "StatusInfoPodatnika"),
    )


def _buyer(el: _El) -> Buyer:
    ident = _need(el, "DaneIdentyfikacyjne")
    return Buyer(
        tax_id=_buyer_tax_id(ident),
        name=_text(ident, "Nazwa"),
        address=_address(_find(el, "Adres")),
        correspondence_address=_address(_find(el, "AdresKoresp")),
        contacts=_contacts(el),
        customer_number=_text(el, "NrKlienta"),
        buyer_key=_text(el, "IDNabywcy"),
        eori=_text(el, "NrEORI"),
        jst=_is1(el, "JST"),
        vat_group=_is1(el, "GV"),
    )


def _third_party(el: _El) -> ThirdParty:
    ident = _need(el, "DaneIdentyfikacyjne")
    role = _int(el, "Rola")
    return ThirdParty(
        tax_id=_tax_id(ident),
        name=_text(ident, "Nazwa"),
        role=None if role is None else ThirdPartyRole(role),
        other_role=_text(el, "OpisRoli"),
        address=_address(_find(el, "Adres")),
        correspondence_address=_address(_find(el, "AdresKoresp")),
        contacts=_contacts(el),
        share=_dec(el, "Udzial"),
        customer_number=_text(el, "NrKlienta"),
        buyer_key=_text(el, "IDNabywcy"),
        eori=_text(el, "NrEORI"),
    )


def _totals(fa: _El) -> Totals:
    rates = []
    for bucket in BUCKETS:
        net = _dec(fa, f"P_13_{bucket}")
        if net is None:
            continue
        taxed = bucket in TAXED_BUCKETS or bucket == "5"
        rates.append(
            RateTotal(
                bucket=bucket,
                net=net,
                vat=_dec(fa, f"P_14_{bucket}") if taxed else None,
                vat_pln=_dec(fa, f"P_14_{bucket}W") if bucket in TAXED_BUCKETS else None,
            )
        )
    return Totals(rates=tuple(rates), gross=Decimal(_req(fa, "P_15")))


def _annotations(el: _El) -> Annotations:
    exemption = None
    zw = _need(el, "Zwolnienie")
    if _is1(zw, "P_19"):
        for basis in ExemptionBasis:
            text = _text(zw, basis.value)
            if text is not None:
                exemption = Exemption(basis=basis, text=text)
    transport = _need(el, "NoweSrodkiTransportu")
    margin = None
    pm = _need(el, "PMarzy")
    if _is1(pm, "P_PMarzy"):
        margin = next((m for m in MarginScheme if _is1(pm, m.value)), None)
    return Annotations(
        cash_accounting=_is1(el, "P_16"),
        self_billing=_is1(el, "P_17"),
        reverse_charge=_is1(el, "P_18"),
        split_payment=_is1(el, "P_18A"),
        exemption=exemption,
        new_transport_xml=_raw(transport) if _is1(transport, "P_22") else None,
        simplified_triangular=_is1(el, "P_23"),
        margin=margin,
    )


def _correction(fa: _El) -> Correction | None:
    originals = _all(fa, "DaneFaKorygowanej")
    if not originals:
        return None
    seller_k = _find(fa, "Podmiot1K")
    seller_before = None
    if seller_k is not None:
        ident = _need(seller_k, "DaneIdentyfikacyjne")
        address = _address(_need(seller_k, "Adres"))
        assert address is not None  # noqa: S101 - _need guarantees the element
        seller_before = CorrectedSeller(
            nip=_req(ident, "NIP"),
            name=_req(ident, "Nazwa"),
            address=address,
            eu_prefix=_text(seller_k, "PrefiksPodatnika"),
        )
    buyers_before = tuple(
        CorrectedBuyer(
            tax_id=_buyer_tax_id(_need(b, "DaneIdentyfikacyjne")),
            name=_text(_need(b, "DaneIdentyfikacyjne"), "Nazwa"),
            address=_address(_find(b, "Adres")),
            buyer_key=_text(b, "IDNabywcy"),
        )
        for b in _all(fa, "Podmiot2K")
    )
    kind = _int(fa, "TypKorekty")
    return Correction(
        corrected=tuple(
            CorrectedInvoice(
                issue_date=_date_of(_req(o, "DataWystFaKorygowanej")),
                number=_req(o, "NrFaKorygowanej"),
                ksef_number=_text(o, "NrKSeFFaKorygowanej"),
            )
            for o in originals
        ),
        reason=_text(fa, "PrzyczynaKorekty"),
        type=None if kind is None else CorrectionType(kind),
        period=_text(fa, "OkresFaKorygowanej"),
        correct_number=_text(fa, "NrFaKorygowany"),
        seller_before=seller_before,
        buyers_before=buyers_before,
        advance_paid_before=_dec(fa, "P_15ZK"),
        advance_rate_before=_dec(fa, "KursWalutyZK"),
    )


def _line(el: _El, invoice_rate: Decimal | None) -> Line:
    rate = _text(el, "P_12")
    exchange_rate = _dec(el, "KursWaluty")
    return Line(
        number=int(_req(el, "NrWierszaFa")),
        uu_id=_text(el, "UU_ID"),
        sale_date=_date(el, "P_6A"),
        name=_text(el, "P_7"),
        index=_text(el, "Indeks"),
        gtin=_text(el, "GTIN"),
        pkwiu=_text(el, "PKWiU"),
        cn=_text(el, "CN"),
        pkob=_text(el, "PKOB"),
        unit=_text(el, "P_8A"),
        quantity=_dec(el, "P_8B"),
        unit_price=_dec(el, "P_9A"),
        unit_price_gross=_dec(el, "P_9B"),
        discount=_dec(el, "P_10"),
        net_value=_dec(el, "P_11"),
        gross_value=_dec(el, "P_11A"),
        vat_amount=_dec(el, "P_11Vat"),
        vat_rate=None if rate is None else VatRate(rate),
        oss_rate=_dec(el, "P_12_XII"),
        annex15=_is1(el, "P_12_Zal_15"),
        excise=_dec(el, "KwotaAkcyzy"),
        gtu=_text(el, "GTU"),
        procedure=_text(el, "Procedura"),
        exchange_rate=None if exchange_rate == invoice_rate else exchange_rate,
        before_correction=_is1(el, "StanPrzed"),
    )


def _method(el: _El) -> tuple[PaymentMethod | None, str | None]:
    method = _int(el, "FormaPlatnosci")
    return (None if method is None else PaymentMethod(method)), _text(el, "OpisPlatnosci")


def _bank_account(el: _El) -> BankAccount:
    return BankAccount(
        number=_req(el, "NrRB"),
        swift=_text(el, "SWIFT"),
        own_bank_account=_int(el, "RachunekWlasnyBanku"),
        bank_name=_text(el, "NazwaBanku"),
        description=_text(el, "OpisRachunku"),
    )


def _payment(el: _El | None) -> Payment | None:
    if el is None:
        return None
    partials = []
    for part in _all(el, "ZaplataCzesciowa"):
        method, other = _method(part)
        partials.append(
            PartialPayment(
                amount=Decimal(_req(part, "KwotaZaplatyCzesciowej")),
                paid_on=_date_of(_req(part, "DataZaplatyCzesciowej")),
                method=method,
                other_method=other,
            )
        )
    terms = []
    for term in _all(el, "TerminPlatnosci"):
        desc = _find(term, "TerminOpis")
        terms.append(
            PaymentTerm(
                due_date=_date(term, "Termin"),
                quantity=_int(desc, "Ilosc"),
                unit=_text(desc, "Jednostka"),
                start_event=_text(desc, "ZdarzeniePoczatkowe"),
            )
        )
    method, other = _method(el)
    partial_flag = _text(el, "ZnacznikZaplatyCzesciowej")
    skonto = _find(el, "Skonto")
    return Payment(
        terms=tuple(terms),
        method=method,
        other_method=other,
        bank_accounts=tuple(_bank_account(a) for a in _all(el, "RachunekBankowy")),
        factor_accounts=tuple(_bank_account(a) for a in _all(el, "RachunekBankowyFaktora")),
        paid_on=_date(el, "DataZaplaty") if _is1(el, "Zaplacono") else None,
        partially_paid=None if partial_flag is None else partial_flag == "1",
        partial_payments=tuple(partials),
        discount_conditions=_text(skonto, "WarunkiSkonta"),
        discount_amount=_text(skonto, "WysokoscSkonta"),
        payment_link=_text(el, "LinkDoPlatnosci"),
        ipksef=_text(el, "IPKSeF"),
    )


def _pairs(el: _El, name: str, key: str, value: str) -> tuple[tuple[str, str], ...]:
    return tuple((_req(m, key), _req(m, value)) for m in _all(el, name))


def _cells(el: _El, name: str) -> tuple[str, ...]:
    return tuple((c.text or "").strip() for c in _all(el, name))


def _attachment(el: _El | None) -> tuple[AttachmentBlock, ...]:
    blocks = []
    for block in _all(el, "BlokDanych"):
        tables = []
        for table in _all(block, "Tabela"):
            head = _need(table, "TNaglowek")
            sums = _find(table, "Suma")
            tables.append(
                AttachmentTable(
                    metadata=_pairs(table, "TMetaDane", "TKlucz", "TWartosc"),
                    description=_text(table, "Opis"),
                    columns=tuple(
                        TableColumn(type=col.get("Typ", "txt"), name=_req(col, "NKom"))
                        for col in _all(head, "Kol")
                    ),
                    rows=tuple(_cells(row, "WKom") for row in _all(table, "Wiersz")),
                    sums=None if sums is None else _cells(sums, "SKom"),
                )
            )
        blocks.append(
            AttachmentBlock(
                header=_text(block, "ZNaglowek"),
                metadata=_pairs(block, "MetaDane", "ZKlucz", "ZWartosc"),
                paragraphs=_cells(_find(block, "Tekst"), "Akapit")
                if _find(block, "Tekst") is not None
                else (),
                tables=tuple(tables),
            )
        )
    return tuple(blocks)


def _created_at(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    # A zone-less xsd:dateTime is read as UTC, so the model only ever holds aware datetimes.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _invoice(root: _El) -> Invoice:
    head = _need(root, "Naglowek")
    fa = _need(root, "Fa")
    currency = _req(fa, "KodWaluty")
    line_els = _all(fa, "FaWiersz")
    invoice_rate = None
    if currency != "PLN":
        invoice_rate = next((r for r in (_dec(le, "KursWaluty") for le in line_els) if r is not None), None)
    period_el = _find(fa, "OkresFa")
    footer = _find(root, "Stopka")
    return Invoice(
        number=_req(fa, "P_2"),
        issue_date=_date_of(_req(fa, "P_1")),
        seller=_seller(_need(root, "Podmiot1")),
        buyer=_buyer(_need(root, "Podmiot2")),
        lines=tuple(_line(le, invoice_rate) for le in line_els),
        kind=InvoiceKind(_req(fa, "RodzajFaktury")),
        currency=currency,
        exchange_rate=invoice_rate,
        created_at=_created_at(_req(head, "DataWytworzeniaFa")),
        system_info=_text(head, "SystemInfo"),
        issue_place=_text(fa, "P_1M"),
        sale_date=_date(fa, "P_6"),
        period=None
        if period_el is None
        else (_date_of(_req(period_el, "P_6_Od")), _date_of(_req(period_el, "P_6_Do"))),
        delivery_notes=_cells(fa, "WZ"),
        third_parties=tuple(_third_party(p) for p in _all(root, "Podmiot3")),
        annotations=_annotations(_need(fa, "Adnotacje")),
        totals=_totals(fa),
        advance_exchange_rate=_dec(fa, "KursWalutyZ"),
        correction=_correction(fa),
        partial_advances=tuple(
            PartialAdvance(
                received_on=_date_of(_req(z, "P_6Z")),
                amount=Decimal(_req(z, "P_15Z")),
                exchange_rate=_dec(z, "KursWalutyZW"),
            )
            for z in _all(fa, "ZaliczkaCzesciowa")
        ),
        fp=_is1(fa, "FP"),
        related_parties=_is1(fa, "TP"),
        notes=tuple(
            Note(key=_req(n, "Klucz"), value=_req(n, "Wartosc"), line_number=_int(n, "NrWiersza"))
            for n in _all(fa, "DodatkowyOpis")
        ),
        advance_invoices=tuple(
            AdvanceInvoiceRef(ksef_number=_text(z, "NrKSeFFaZaliczkowej"), number=_text(z, "NrFaZaliczkowej"))
            for z in _all(fa, "FakturaZaliczkowa")
        ),
        excise_refund=_is1(fa, "ZwrotAkcyzy"),
        payment=_payment(_find(fa, "Platnosc")),
        footer=tuple(
            (el.text or "")
            for info in _all(footer, "Informacje")
            if (el := _find(info, "StopkaFaktury")) is not None
        ),
        registries=tuple(
            Registry(
                full_name=_text(r, "PelnaNazwa"),
                krs=_text(r, "KRS"),
                regon=_text(r, "REGON"),
                bdo=_text(r, "BDO"),
            )
            for r in _all(footer, "Rejestry")
        ),
        attachment=_attachment(_find(root, "Zalacznik")),
        authorised_party_xml=_raw(_find(root, "PodmiotUpowazniony")),
        settlement_xml=_raw(_find(fa, "Rozliczenie")),
        transaction_terms_xml=_raw(_find(fa, "WarunkiTransakcji")),
        order_xml=_raw(_find(fa, "Zamowienie")),
    )
