"""Invoices the builder must turn into valid FA(3): one per VAT rate and per feature we issue."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal as D

from ksef_integration.fa3.model import (
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
    Invoice,
    InvoiceKind,
    Line,
    MarginScheme,
    Nip,
    NoTaxId,
    Note,
    OtherTaxId,
    PartialPayment,
    Payment,
    PaymentMethod,
    PaymentTerm,
    RateTotal,
    Registry,
    Seller,
    TableColumn,
    ThirdParty,
    ThirdPartyRole,
    Totals,
    VatRate,
)

NS = "http://crd.gov.pl/wzor/2025/06/25/13775/"
SELLER_NIP = "5265877635"
BUYER_NIP = "7740001454"
KSEF_NUMBER = "7740001454-20260115-0A1B2C3D4E5F-24"
CREATED = datetime(2026, 2, 2, 9, 30, tzinfo=UTC)

SELLER = Seller(
    nip=SELLER_NIP,
    name="Przykładowa Firma sp. z o.o.",
    address=Address(line1="ul. Marszałkowska 10/2", line2="00-590 Warszawa"),
    contacts=(Contact(email="biuro@example.pl", phone="+48 22 123 45 67"),),
)
BUYER = Buyer(
    tax_id=Nip(BUYER_NIP),
    name="Odbiorca S.A.",
    address=Address(line1="ul. Długa 5", line2="31-147 Kraków"),
)
EU_BUYER = Buyer(
    tax_id=EuVatId(country="DE", number="123456789"),
    name="Kunde GmbH",
    address=Address(country="DE", line1="Hauptstraße 1", line2="10115 Berlin"),
)
FOREIGN_BUYER = Buyer(
    tax_id=OtherTaxId(number="98-7654321", country="US"),
    name="Client Inc.",
    address=Address(country="US", line1="1 Main St", line2="Springfield, IL 62701"),
)


def line(name: str, qty: str, price: str, rate: VatRate, **extra: object) -> Line:
    return Line(name=name, quantity=D(qty), unit="szt.", unit_price=D(price), vat_rate=rate, **extra)  # type: ignore[arg-type]


def base(number: str, *lines: Line, **extra: object) -> Invoice:
    invoice = Invoice(
        number=number,
        issue_date=date(2026, 2, 2),
        sale_date=date(2026, 1, 30),
        created_at=CREATED,
        system_info="KSeF Portal",
        seller=SELLER,
        buyer=BUYER,
        lines=lines,
        payment=Payment(
            terms=(PaymentTerm(due_date=date(2026, 2, 16)),),
            method=PaymentMethod.TRANSFER,
            bank_accounts=(BankAccount(number="61109010140000071219812874"),),
        ),
    )
    return replace(invoice, **extra)  # type: ignore[arg-type]


ORIGINAL = CorrectedInvoice(issue_date=date(2026, 1, 15), number="FV/2026/01/7", ksef_number=KSEF_NUMBER)
OUTSIDE = CorrectedInvoice(issue_date=date(2025, 12, 20), number="FV/2025/12/31")
ZW = Exemption(ExemptionBasis.ACT, "art. 43 ust. 1 pkt 37 ustawy o VAT")


def _per_rate() -> dict[str, Invoice]:
    out = {}
    for rate in VatRate:
        extra: dict[str, object] = {}
        if rate is VatRate.ZW:
            extra["annotations"] = Annotations(exemption=ZW)
        elif rate is VatRate.OO:
            extra["annotations"] = Annotations(reverse_charge=True)
        elif rate in (VatRate.ZERO_WDT, VatRate.NP_II):
            extra["buyer"] = EU_BUYER
        elif rate in (VatRate.ZERO_EX, VatRate.NP_I):
            extra["buyer"] = FOREIGN_BUYER
        out[f"rate-{rate.value.replace(' ', '_')}"] = base(
            f"FV/R/{rate.name}",
            line("Usługa", "3", "33.33", rate),
            line("Towar", "0.5", "0.99", rate),
            **extra,
        )
    return out


def cases() -> dict[str, Invoice]:
    out = _per_rate()
    out["mixed-rates"] = base(
        "FV/2026/02/1",
        line("Laptop", "1", "3999.99", VatRate.R23, gtu="GTU_06", pkwiu="26.20.11.0", index="LAP-1"),
        line("Książka", "2", "49.90", VatRate.R5),
        line("Obiad", "3", "37.04", VatRate.R8),
        line("Przejazd", "1", "57.69", VatRate.R4),
        line("Dostawa krajowa 0%", "1", "100", VatRate.ZERO_KR),
    )
    out["eur-two-rates"] = base(
        "FV/2026/02/EUR",
        line("Consulting", "7.5", "120.00", VatRate.R23),
        line("Catering", "3", "19.99", VatRate.R8),
        currency="EUR",
        exchange_rate=D("4.2131"),
        issue_place="Warszawa",
    )
    out["usd-export"] = base(
        "FV/2026/02/USD",
        line("Machine", "1", "25000", VatRate.ZERO_EX),
        currency="USD",
        exchange_rate=D("3.9876"),
        buyer=FOREIGN_BUYER,
    )
    out["gbp-line-rates"] = base(
        "FV/2026/02/GBP",
        line("Licence", "1", "1000", VatRate.R23, exchange_rate=D("5.1")),
        line("Support", "1", "333.33", VatRate.R23, exchange_rate=D("5.2")),
        currency="GBP",
        exchange_rate=D("5.1"),
    )
    out["exempt-directive"] = base(
        "FV/ZW/2",
        line("Kurs", "1", "1500", VatRate.ZW),
        annotations=Annotations(
            exemption=Exemption(ExemptionBasis.DIRECTIVE, "art. 132 ust. 1 lit. i dyrektywy")
        ),
    )
    out["exempt-other"] = base(
        "FV/ZW/3",
        line("Usługa", "1", "200", VatRate.ZW),
        annotations=Annotations(exemption=Exemption(ExemptionBasis.OTHER, "inna podstawa prawna")),
    )
    out["split-payment"] = base(
        "FV/MPP/1",
        line("Stal", "1000", "18.45", VatRate.R23, gtu="GTU_12", annex15=True),
        annotations=Annotations(split_payment=True),
    )
    out["reverse-charge-mixed"] = base(
        "FV/OO/2",
        line("Złom", "250", "4.10", VatRate.OO),
        line("Transport", "1", "300", VatRate.R23),
        annotations=Annotations(reverse_charge=True),
    )
    out["self-billing"] = base(
        "SF/1", line("Skup", "10", "12.34", VatRate.R8), annotations=Annotations(self_billing=True)
    )
    out["cash-accounting"] = base(
        "FV/MK/1", line("Usługa", "1", "1000", VatRate.R23), annotations=Annotations(cash_accounting=True)
    )
    out["margin-used-goods"] = base(
        "FV/M/1",
        Line(name="Samochód używany", quantity=D(1), unit="szt.", net_value=D("45000.00")),
        annotations=Annotations(margin=MarginScheme.USED_GOODS),
    )
    out["oss"] = base(
        "FV/OSS/1",
        Line(
            name="E-book",
            quantity=D(2),
            unit="szt.",
            unit_price=D("10.00"),
            oss_rate=D("19"),
            procedure="WSTO_EE",
        ),
        buyer=Buyer(tax_id=NoTaxId(), name="Max Mustermann", address=Address(country="DE", line1="Berlin")),
    )
    out["gross-priced"] = base(
        "PAR/1",
        Line(
            name="Kawa",
            quantity=D(3),
            unit="szt.",
            unit_price_gross=D("12.30"),
            gross_value=D("36.90"),
            vat_rate=VatRate.R23,
        ),
        Line(
            name="Ciastko",
            quantity=D(1),
            unit="szt.",
            unit_price_gross=D("8.99"),
            gross_value=D("8.99"),
            vat_rate=VatRate.R8,
        ),
    )
    out["simplified-upr"] = base(
        "UPR/1",
        Line(name="Paliwo", net_value=D("300.00"), vat_rate=VatRate.R23),
        kind=InvoiceKind.UPR,
        buyer=Buyer(tax_id=Nip(BUYER_NIP)),
        payment=Payment(paid_on=date(2026, 2, 2), method=PaymentMethod.CARD),
    )
    out["rounding-halves"] = base(
        "FV/ROUND/1",
        *(line(f"Drobiazg {i}", "1", "0.05", VatRate.R23) for i in range(7)),
        line("Pół grosza", "1", "0.025", VatRate.R8),
    )
    out["rich-extras"] = base(
        "FV/2026/02/99",
        line("Abonament", "1", "99.99", VatRate.R23, uu_id="a-1", sale_date=date(2026, 1, 31)),
        sale_date=None,
        period=(date(2026, 1, 1), date(2026, 1, 31)),
        delivery_notes=("WZ/1/2026", "WZ/2/2026"),
        third_parties=(
            ThirdParty(tax_id=Nip("5252248481"), name="Faktor S.A.", role=ThirdPartyRole.FACTOR),
            ThirdParty(tax_id=NoTaxId(), name="Oddział", other_role="Płatnik zbiorczy", share=D("12.5")),
        ),
        notes=(
            Note(key="Zamówienie", value="ZAM-77"),
            Note(key="Uwagi", value="dostawa rano", line_number=1),
        ),
        payment=Payment(
            terms=(PaymentTerm(quantity=14, unit="dni", start_event="od dnia doręczenia"),),
            partially_paid=True,
            partial_payments=(
                PartialPayment(amount=D("50.00"), paid_on=date(2026, 1, 31), method=PaymentMethod.CASH),
            ),
            other_method="Kompensata",
            bank_accounts=(
                BankAccount(number="PL61109010140000071219812874", swift="WBKPPLPP", bank_name="Bank"),
            ),
            factor_accounts=(BankAccount(number="12105000997603123456789123"),),
            discount_conditions="zapłata w 7 dni",
            discount_amount="2%",
        ),
        footer=("Kapitał zakładowy 5 000 zł",),
        registries=(Registry(full_name="Przykładowa Firma sp. z o.o.", krs="0000123456", regon="123456785"),),
        attachment=(
            AttachmentBlock(
                header="Zestawienie",
                metadata=(("okres", "styczeń 2026"),),
                paragraphs=("Szczegóły zużycia.",),
                tables=(
                    AttachmentTable(
                        columns=(TableColumn("txt", "Licznik"), TableColumn("dec", "kWh")),
                        rows=(("A-1", "120.5"), ("A-2", "99")),
                        sums=("", "219.5"),
                    ),
                ),
            ),
        ),
    )
    # --- corrections ---
    out["kor-difference-type1"] = base(
        "KOR/1",
        line("Laptop (rabat)", "1", "-200.00", VatRate.R23),
        kind=InvoiceKind.KOR,
        correction=Correction(
            corrected=(ORIGINAL,), reason="Rabat posprzedażowy", type=CorrectionType.ORIGINAL_DATE
        ),
    )
    out["kor-before-after-type2"] = base(
        "KOR/2",
        line("Książka", "10", "49.90", VatRate.R5, before_correction=True),
        line("Książka", "8", "49.90", VatRate.R5),
        line("Obiad", "3", "37.04", VatRate.R8, before_correction=True),
        line("Obiad", "3", "35.00", VatRate.R8),
        kind=InvoiceKind.KOR,
        correction=Correction(
            corrected=(OUTSIDE,), reason="Zwrot towaru", type=CorrectionType.CORRECTION_DATE
        ),
    )
    out["kor-collective-type3"] = base(
        "KOR/3",
        kind=InvoiceKind.KOR,
        sale_date=None,
        correction=Correction(
            corrected=(ORIGINAL, OUTSIDE),
            reason="Rabat roczny",
            type=CorrectionType.OTHER_DATE,
            period="2025",
        ),
        totals=Totals(rates=(RateTotal("1", D("-1000.00"), D("-230.00")),), gross=D("-1230.00")),
    )
    out["kor-buyer-data"] = base(
        "KOR/4",
        kind=InvoiceKind.KOR,
        correction=Correction(
            corrected=(ORIGINAL,),
            reason="Błędny adres nabywcy i numer",
            correct_number="FV/2026/01/8",
            buyers_before=(
                CorrectedBuyer(tax_id=Nip(BUYER_NIP), name="Odbiorca SA", address=Address("ul. Krótka 1")),
            ),
        ),
        totals=Totals(rates=(), gross=D("0.00")),
    )
    out["kor-seller-data"] = base(
        "KOR/5",
        kind=InvoiceKind.KOR,
        correction=Correction(
            corrected=(ORIGINAL,),
            reason="Zmiana nazwy sprzedawcy",
            seller_before=CorrectedSeller(
                nip=SELLER_NIP, name="Stara Nazwa sp. z o.o.", address=Address("ul. Stara 1")
            ),
        ),
        totals=Totals(rates=(), gross=D("0.00")),
    )
    out["kor-eur-before-after"] = base(
        "KOR/EUR/1",
        line("Consulting", "7.5", "120.00", VatRate.R23, before_correction=True),
        line("Consulting", "6", "120.00", VatRate.R23),
        kind=InvoiceKind.KOR,
        currency="EUR",
        exchange_rate=D("4.2131"),
        correction=Correction(
            corrected=(ORIGINAL,), reason="Mniej godzin", type=CorrectionType.ORIGINAL_DATE
        ),
    )
    # --- advances ---
    order = (
        f'<Zamowienie xmlns="{NS}"><WartoscZamowienia>12300.00</WartoscZamowienia>'
        "<ZamowienieWiersz><NrWierszaZam>1</NrWierszaZam><P_7Z>Meble</P_7Z><P_8AZ>kpl.</P_8AZ>"
        "<P_8BZ>1</P_8BZ><P_9AZ>10000</P_9AZ><P_11NettoZ>10000.00</P_11NettoZ><P_11VatZ>2300.00</P_11VatZ>"
        "<P_12Z>23</P_12Z></ZamowienieWiersz></Zamowienie>"
    )
    out["zal-advance"] = base(
        "ZAL/1",
        kind=InvoiceKind.ZAL,
        sale_date=date(2026, 2, 1),
        totals=Totals(rates=(RateTotal("1", D("4000.00"), D("920.00")),), gross=D("4920.00")),
        order_xml=order,
    )
    out["kor-zal"] = base(
        "KOR/ZAL/1",
        kind=InvoiceKind.KOR_ZAL,
        sale_date=None,
        correction=Correction(
            corrected=(ORIGINAL,), reason="Zwrot zaliczki", advance_paid_before=D("4920.00")
        ),
        totals=Totals(rates=(RateTotal("1", D("-1000.00"), D("-230.00")),), gross=D("-1230.00")),
        order_xml=order,
    )
    out["roz-settlement"] = base(
        "ROZ/1",
        line("Meble", "1", "10000", VatRate.R23),
        kind=InvoiceKind.ROZ,
        advance_invoices=(AdvanceInvoiceRef(ksef_number=KSEF_NUMBER), AdvanceInvoiceRef(number="ZAL/0/2025")),
        totals=Totals(rates=(RateTotal("1", D("6000.00"), D("1380.00")),), gross=D("7380.00")),
    )
    return out
