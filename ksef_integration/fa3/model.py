"""A neutral, typed picture of an FA(3) invoice: what the builder writes and the parser reads.

Plain frozen dataclasses with ``Decimal`` money and ``date`` values, independent of Django models. Field names
are English; each docstring or comment names the FA(3) element it maps to. Sequences are tuples so whole
invoices stay hashable and comparable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import IntEnum, StrEnum


class VatRate(StrEnum):
    """``P_12`` (``TStawkaPodatku``): the rate of a line."""

    R23 = "23"
    R22 = "22"
    R8 = "8"
    R7 = "7"
    R5 = "5"
    R4 = "4"
    R3 = "3"
    ZERO_KR = "0 KR"  # 0% domestic
    ZERO_WDT = "0 WDT"  # 0% intra-community supply of goods
    ZERO_EX = "0 EX"  # 0% export of goods
    ZW = "zw"  # exempt
    OO = "oo"  # domestic reverse charge
    NP_I = "np I"  # outside Polish territory (except art. 100(1)(4) services)
    NP_II = "np II"  # services of art. 100(1)(4) (EU B2B services)

    @property
    def percent(self) -> Decimal | None:
        """The numeric rate for rates that carry tax, else None."""
        return Decimal(self.value) if self.value.isdigit() else None

    @property
    def bucket(self) -> str:
        """Suffix of the ``P_13_x``/``P_14_x`` fields this rate is summed into."""
        return _BUCKETS[self]


_BUCKETS: dict[VatRate, str] = {
    VatRate.R23: "1",
    VatRate.R22: "1",
    VatRate.R8: "2",
    VatRate.R7: "2",
    VatRate.R5: "3",
    VatRate.R4: "4",  # taxi flat rate (4% now, 3% before 2011)
    VatRate.R3: "4",
    VatRate.ZERO_KR: "6_1",
    VatRate.ZERO_WDT: "6_2",
    VatRate.ZERO_EX: "6_3",
    VatRate.ZW: "7",
    VatRate.NP_I: "8",
    VatRate.NP_II: "9",
    VatRate.OO: "10",
}

TAXED_BUCKETS = ("1", "2", "3", "4")
"""Buckets with a ``P_14_x`` tax amount and, for foreign currency, ``P_14_xW``."""
BUCKETS = ("1", "2", "3", "4", "5", "6_1", "6_2", "6_3", "7", "8", "9", "10", "11")
"""All ``P_13_x`` suffixes in schema order (5 = OSS procedure, 11 = margin scheme)."""


class InvoiceKind(StrEnum):
    """``RodzajFaktury``."""

    VAT = "VAT"
    KOR = "KOR"
    ZAL = "ZAL"  # advance invoice
    ROZ = "ROZ"  # settlement of advances
    UPR = "UPR"  # simplified invoice (art. 106e ust. 5 pkt 3)
    KOR_ZAL = "KOR_ZAL"
    KOR_ROZ = "KOR_ROZ"

    @property
    def is_correction(self) -> bool:
        return self in (InvoiceKind.KOR, InvoiceKind.KOR_ZAL, InvoiceKind.KOR_ROZ)


class PaymentMethod(IntEnum):
    """``TFormaPlatnosci``."""

    CASH = 1
    CARD = 2
    VOUCHER = 3
    CHEQUE = 4
    CREDIT = 5
    TRANSFER = 6
    MOBILE = 7


class CorrectionType(IntEnum):
    """``TypKorekty``: in which period the correction takes effect."""

    ORIGINAL_DATE = 1
    CORRECTION_DATE = 2
    OTHER_DATE = 3


class ThirdPartyRole(IntEnum):
    """``TRolaPodmiotu3``."""

    FACTOR = 1
    RECIPIENT = 2
    ORIGINAL_ENTITY = 3
    ADDITIONAL_BUYER = 4
    ISSUER = 5
    PAYER = 6
    JST_ISSUER = 7
    JST_RECIPIENT = 8
    VAT_GROUP_ISSUER = 9
    VAT_GROUP_RECIPIENT = 10
    EMPLOYEE = 11


class ExemptionBasis(StrEnum):
    """Which ``P_19x`` element carries the legal basis of an exemption."""

    ACT = "P_19A"  # Polish VAT act or regulation
    DIRECTIVE = "P_19B"  # Directive 2006/112/EC
    OTHER = "P_19C"  # another legal basis


class MarginScheme(StrEnum):
    """Which ``P_PMarzy_x`` flag is set when the margin scheme applies."""

    TRAVEL = "P_PMarzy_2"
    USED_GOODS = "P_PMarzy_3_1"
    ART = "P_PMarzy_3_2"
    ANTIQUES = "P_PMarzy_3_3"


# --- parties ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    """``TAdres``."""

    line1: str
    country: str = "PL"
    line2: str | None = None
    gln: str | None = None


@dataclass(frozen=True)
class Contact:
    """One ``DaneKontaktowe`` entry."""

    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class Nip:
    """A Polish NIP (10 digits)."""

    value: str


@dataclass(frozen=True)
class EuVatId:
    """``KodUE`` + ``NrVatUE``: an EU VAT number without its country prefix."""

    country: str
    number: str


@dataclass(frozen=True)
class OtherTaxId:
    """``KodKraju?`` + ``NrID``: any other tax identifier."""

    number: str
    country: str | None = None


@dataclass(frozen=True)
class NoTaxId:
    """``BrakID``: the party has no tax identifier (or it is not shown)."""


@dataclass(frozen=True)
class InternalId:
    """``IDWew`` (Podmiot3 only): a NIP-based internal identifier, ``NIP-NNNNN``."""

    value: str


TaxId = Nip | EuVatId | OtherTaxId | NoTaxId
ThirdPartyId = TaxId | InternalId


@dataclass(frozen=True)
class Seller:
    """``Podmiot1``."""

    nip: str
    name: str
    address: Address
    correspondence_address: Address | None = None
    contacts: tuple[Contact, ...] = ()
    eu_prefix: bool = False  # PrefiksPodatnika "PL"
    eori: str | None = None
    taxpayer_status: int | None = None  # StatusInfoPodatnika 1..4


@dataclass(frozen=True)
class Buyer:
    """``Podmiot2``."""

    tax_id: TaxId
    name: str | None = None
    address: Address | None = None
    correspondence_address: Address | None = None
    contacts: tuple[Contact, ...] = ()
    customer_number: str | None = None  # NrKlienta
    buyer_key: str | None = None  # IDNabywcy
    eori: str | None = None
    jst: bool = False  # invoice concerns a subordinate unit of a local government
    vat_group: bool = False  # invoice concerns a VAT-group member


@dataclass(frozen=True)
class ThirdParty:
    """``Podmiot3``: factor, recipient, payer, additional buyer, ...

    Exactly one of ``role`` and ``other_role`` is set (``Rola`` or ``RolaInna`` + ``OpisRoli``).
    """

    tax_id: ThirdPartyId
    name: str | None = None
    role: ThirdPartyRole | None = None
    other_role: str | None = None
    address: Address | None = None
    correspondence_address: Address | None = None
    contacts: tuple[Contact, ...] = ()
    share: Decimal | None = None  # Udzial, percent
    customer_number: str | None = None
    buyer_key: str | None = None
    eori: str | None = None


@dataclass(frozen=True)
class CorrectedSeller:
    """``Podmiot1K``: the seller's data as shown on the corrected invoice."""

    nip: str
    name: str
    address: Address
    eu_prefix: str | None = None


@dataclass(frozen=True)
class CorrectedBuyer:
    """One ``Podmiot2K``: a buyer's data as shown on the corrected invoice."""

    tax_id: TaxId
    name: str | None = None
    address: Address | None = None
    buyer_key: str | None = None


# --- lines and totals ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """``FaWiersz``. Everything but the position is optional in the schema, so it is optional here.

    ``number`` None means "number me": the builder numbers lines 1, 2, 3 in order.
    ``exchange_rate`` None means "the invoice's rate" on foreign-currency invoices.
    """

    name: str | None = None  # P_7
    quantity: Decimal | None = None  # P_8B (<= 6 decimals)
    unit: str | None = None  # P_8A
    unit_price: Decimal | None = None  # P_9A, net (<= 8 decimals)
    net_value: Decimal | None = None  # P_11
    vat_rate: VatRate | None = None  # P_12
    number: int | None = None  # NrWierszaFa
    uu_id: str | None = None
    sale_date: date | None = None  # P_6A
    index: str | None = None  # Indeks
    gtin: str | None = None
    pkwiu: str | None = None
    cn: str | None = None
    pkob: str | None = None
    unit_price_gross: Decimal | None = None  # P_9B
    discount: Decimal | None = None  # P_10
    gross_value: Decimal | None = None  # P_11A
    vat_amount: Decimal | None = None  # P_11Vat
    oss_rate: Decimal | None = None  # P_12_XII
    annex15: bool = False  # P_12_Zal_15
    excise: Decimal | None = None  # KwotaAkcyzy
    gtu: str | None = None  # GTU_01..GTU_13
    procedure: str | None = None  # Procedura
    exchange_rate: Decimal | None = None  # KursWaluty
    before_correction: bool = False  # StanPrzed


@dataclass(frozen=True)
class RateTotal:
    """One ``P_13_x`` (+ ``P_14_x``, ``P_14_xW``) group."""

    bucket: str
    net: Decimal
    vat: Decimal | None = None
    vat_pln: Decimal | None = None


@dataclass(frozen=True)
class Totals:
    """The invoice-level sums: per-rate groups in schema order and ``P_15``."""

    rates: tuple[RateTotal, ...]
    gross: Decimal

    def get(self, bucket: str) -> RateTotal | None:
        return next((r for r in self.rates if r.bucket == bucket), None)


# --- annotations, payment, corrections --------------------------------------------------------------------


@dataclass(frozen=True)
class Exemption:
    """``Zwolnienie`` with ``P_19`` = 1: the legal basis of an exempt supply."""

    basis: ExemptionBasis
    text: str


@dataclass(frozen=True)
class Annotations:
    """``Adnotacje``. Flags are True for "1", False for "2"."""

    cash_accounting: bool = False  # P_16
    self_billing: bool = False  # P_17
    reverse_charge: bool = False  # P_18
    split_payment: bool = False  # P_18A
    exemption: Exemption | None = None  # P_19 + P_19A/B/C, else P_19N
    new_transport_xml: str | None = None  # NoweSrodkiTransportu with P_22 = 1, kept as raw XML
    simplified_triangular: bool = False  # P_23
    margin: MarginScheme | None = None  # P_PMarzy + flag, else P_PMarzyN


@dataclass(frozen=True)
class PaymentTerm:
    """``TerminPlatnosci``: a date, a described term (``TerminOpis``), or both."""

    due_date: date | None = None
    quantity: int | None = None  # TerminOpis/Ilosc
    unit: str | None = None  # TerminOpis/Jednostka
    start_event: str | None = None  # TerminOpis/ZdarzeniePoczatkowe


@dataclass(frozen=True)
class BankAccount:
    """``TRachunekBankowy``."""

    number: str
    swift: str | None = None
    own_bank_account: int | None = None  # RachunekWlasnyBanku 1..3
    bank_name: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class PartialPayment:
    """``ZaplataCzesciowa``."""

    amount: Decimal
    paid_on: date
    method: PaymentMethod | None = None
    other_method: str | None = None


@dataclass(frozen=True)
class Payment:
    """``Platnosc``. Either ``paid_on`` (fully paid) or ``partial_payments`` may be set, not both."""

    terms: tuple[PaymentTerm, ...] = ()
    method: PaymentMethod | None = None
    other_method: str | None = None  # PlatnoscInna + OpisPlatnosci
    bank_accounts: tuple[BankAccount, ...] = ()
    factor_accounts: tuple[BankAccount, ...] = ()
    paid_on: date | None = None  # Zaplacono + DataZaplaty
    partially_paid: bool | None = None  # ZnacznikZaplatyCzesciowej (1 = partly, 2 = in full by parts)
    partial_payments: tuple[PartialPayment, ...] = ()
    discount_conditions: str | None = None  # Skonto/WarunkiSkonta
    discount_amount: str | None = None  # Skonto/WysokoscSkonta
    payment_link: str | None = None
    ipksef: str | None = None


@dataclass(frozen=True)
class CorrectedInvoice:
    """``DaneFaKorygowanej``. ``ksef_number`` None means the original was issued outside KSeF (NrKSeFN)."""

    issue_date: date
    number: str
    ksef_number: str | None = None


@dataclass(frozen=True)
class Correction:
    """The correction block of a KOR / KOR_ZAL / KOR_ROZ invoice.

    Two ways to show lines are both supported by the schema: lines that carry the *difference*, or pairs of
    lines "before" (``Line.before_correction``) and "after". Totals are always the difference.
    """

    corrected: tuple[CorrectedInvoice, ...]
    reason: str | None = None  # PrzyczynaKorekty
    type: CorrectionType | None = None  # TypKorekty
    period: str | None = None  # OkresFaKorygowanej (collective discount, art. 106j ust. 3)
    correct_number: str | None = None  # NrFaKorygowany
    seller_before: CorrectedSeller | None = None  # Podmiot1K
    buyers_before: tuple[CorrectedBuyer, ...] = ()  # Podmiot2K
    advance_paid_before: Decimal | None = None  # P_15ZK
    advance_rate_before: Decimal | None = None  # KursWalutyZK


@dataclass(frozen=True)
class AdvanceInvoiceRef:
    """``FakturaZaliczkowa``: by KSeF number, or by number when issued outside KSeF."""

    ksef_number: str | None = None
    number: str | None = None


@dataclass(frozen=True)
class PartialAdvance:
    """``ZaliczkaCzesciowa``."""

    received_on: date
    amount: Decimal
    exchange_rate: Decimal | None = None


@dataclass(frozen=True)
class SettlementEntry:
    """One ``Rozliczenie/Obciazenia`` or ``Rozliczenie/Odliczenia``: ``Kwota`` and ``Powod``."""

    amount: Decimal
    reason: str


@dataclass(frozen=True)
class Settlement:
    """``Rozliczenie``, as :func:`ksef_integration.fa3.parser.settlement_parse` reads ``settlement_xml``."""

    charges: tuple[SettlementEntry, ...] = ()  # Obciazenia
    charges_total: Decimal | None = None  # SumaObciazen
    deductions: tuple[SettlementEntry, ...] = ()  # Odliczenia
    deductions_total: Decimal | None = None  # SumaOdliczen
    to_pay: Decimal | None = None  # DoZaplaty
    to_settle: Decimal | None = None  # DoRozliczenia


@dataclass(frozen=True)
class OrderLine:
    """``ZamowienieWiersz``: one position of the order or contract an advance invoice is for."""

    name: str | None = None  # P_7Z
    quantity: Decimal | None = None  # P_8BZ
    unit: str | None = None  # P_8AZ
    unit_price: Decimal | None = None  # P_9AZ, net
    net_value: Decimal | None = None  # P_11NettoZ
    vat_amount: Decimal | None = None  # P_11VatZ
    vat_rate: VatRate | None = None  # P_12Z
    annex15: bool = False  # P_12Z_Zal_15
    gtu: str | None = None  # GTUZ
    before_correction: bool = False  # StanPrzedZ


@dataclass(frozen=True)
class Order:
    """``Zamowienie`` (advance invoices, art. 106f ust. 1 pkt 4): the order's value including tax and its
    positions, in the invoice's currency."""

    value: Decimal  # WartoscZamowienia
    lines: tuple[OrderLine, ...]


@dataclass(frozen=True)
class Note:
    """``DodatkowyOpis``: a key/value note, optionally tied to one line."""

    key: str
    value: str
    line_number: int | None = None


@dataclass(frozen=True)
class Registry:
    """``Stopka/Rejestry``."""

    full_name: str | None = None
    krs: str | None = None
    regon: str | None = None
    bdo: str | None = None


# --- attachment ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableColumn:
    type: str  # date | datetime | dec | int | time | txt
    name: str


@dataclass(frozen=True)
class AttachmentTable:
    columns: tuple[TableColumn, ...]
    rows: tuple[tuple[str, ...], ...]
    metadata: tuple[tuple[str, str], ...] = ()
    description: str | None = None
    sums: tuple[str, ...] | None = None


@dataclass(frozen=True)
class AttachmentBlock:
    """``Zalacznik/BlokDanych``."""

    metadata: tuple[tuple[str, str], ...]
    header: str | None = None
    paragraphs: tuple[str, ...] = ()
    tables: tuple[AttachmentTable, ...] = ()


# --- the invoice -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invoice:
    """One FA(3) document.

    ``totals`` None asks the builder to compute them from the lines; the parser always fills them from the
    document. ``exchange_rate`` is written as each line's ``KursWaluty`` on foreign-currency invoices.
    The ``*_xml`` fields keep parts this model does not break down, as raw XML, so nothing is dropped.
    """

    number: str  # P_2
    issue_date: date  # P_1
    seller: Seller
    buyer: Buyer
    lines: tuple[Line, ...] = ()
    kind: InvoiceKind = InvoiceKind.VAT
    currency: str = "PLN"
    exchange_rate: Decimal | None = None
    created_at: datetime | None = None  # DataWytworzeniaFa; the builder requires it (aware)
    system_info: str | None = None
    issue_place: str | None = None  # P_1M
    sale_date: date | None = None  # P_6
    period: tuple[date, date] | None = None  # OkresFa (P_6_Od, P_6_Do)
    delivery_notes: tuple[str, ...] = ()  # WZ
    third_parties: tuple[ThirdParty, ...] = ()
    annotations: Annotations = field(default_factory=Annotations)
    totals: Totals | None = None
    advance_exchange_rate: Decimal | None = None  # KursWalutyZ
    correction: Correction | None = None
    partial_advances: tuple[PartialAdvance, ...] = ()
    fp: bool = False  # FP: invoice under art. 109 ust. 3d
    related_parties: bool = False  # TP
    notes: tuple[Note, ...] = ()
    advance_invoices: tuple[AdvanceInvoiceRef, ...] = ()
    excise_refund: bool = False  # ZwrotAkcyzy
    payment: Payment | None = None
    footer: tuple[str, ...] = ()  # Stopka/Informacje/StopkaFaktury
    registries: tuple[Registry, ...] = ()
    attachment: tuple[AttachmentBlock, ...] = ()  # Zalacznik/BlokDanych
    authorised_party_xml: str | None = None  # PodmiotUpowazniony
    settlement_xml: str | None = None  # Rozliczenie
    transaction_terms_xml: str | None = None  # WarunkiTransakcji
    order_xml: str | None = None  # Zamowienie (advance invoices) as read, kept whole
    order: Order | None = None  # Zamowienie to write; at most one of order and order_xml
