"""The API's request and response bodies (pydantic, through django-ninja); the OpenAPI document is made from
them. Amounts are decimal strings ("1234.50") in answers and strings or numbers in requests; dates ISO 8601.

What a new invoice may hold is decided by Wystaw's own form (``invoices.forms``), not here: these schemas
only give the request its shape, and the form and ``invoices.services.invoice_issue`` then check it as they
check what a person types.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Literal

from ninja import Field, Schema
from pydantic import ConfigDict

from invoices.models import Direction, ExemptionBasis, Gtu, InvoiceKind, KsefStatus, MarginScheme, VatRate

# The codes of invoices.models' choices, spelled out so that type checkers see them (a test holds them equal).
VatRateCode = Literal[
    "23", "22", "8", "7", "5", "4", "3", "0 KR", "0 WDT", "0 EX", "zw", "oo", "np I", "np II"
]
GtuCode = Literal[
    "GTU_01", "GTU_02", "GTU_03", "GTU_04", "GTU_05", "GTU_06", "GTU_07", "GTU_08", "GTU_09", "GTU_10",
    "GTU_11", "GTU_12", "GTU_13",
]  # fmt: skip
ExemptionCode = Literal["", "act", "directive", "other"]
MarginSchemeCode = Literal["", "travel", "used_goods", "art", "antiques"]
StatusCode = Literal["not_sent", "queued", "sent", "accepted", "rejected", "failed_local", "offline"]
KindCode = Literal["VAT", "KOR", "ZAL", "ROZ", "KOR_ZAL", "KOR_ROZ"]
DirectionCode = Literal["sales", "purchase"]
CHOICES = {
    VatRateCode: VatRate, GtuCode: Gtu, ExemptionCode: ExemptionBasis, StatusCode: KsefStatus,
    KindCode: InvoiceKind, DirectionCode: Direction, MarginSchemeCode: MarginScheme,
}  # fmt: skip


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class BuyerIn(Strict):
    name: str = Field(description="The buyer's name (Podmiot2).")
    nip: str = Field("", description="A Polish buyer's NIP (10 digits, dashes allowed).")
    foreign_id: str = Field("", description="A foreign buyer's VAT-UE or tax number.")
    address_line1: str = ""
    address_line2: str = Field("", description="Postal code and city.")
    country_code: str = Field("PL", description="ISO 3166 two-letter code.")
    email: str = ""


class LineIn(Strict):
    name: str
    quantity: Decimal = Field(Decimal(1), description="Up to 6 decimal places.")
    unit: str = ""
    unit_price: Decimal = Field(
        description="Unit price, up to 8 decimal places: net, or gross with prices_gross or a margin_scheme."
    )
    vat_rate: VatRateCode = Field(description="FA(3) P_12 code.")
    discount_percent: Decimal | None = Field(None, description="P_10 as a percent of quantity x price.")
    gtu: GtuCode | Literal[""] = ""
    annex15: bool = Field(
        False, description="Goods or services of Annex 15 (split payment above 15,000 PLN)."
    )


class InvoiceCreateIn(Strict):
    buyer: BuyerIn
    lines: list[LineIn] = Field(description="At least one line, at most 1000.")
    issue_date: dt.date | None = Field(None, description="Defaults to today; never in the future.")
    sale_date: dt.date | None = None
    period_from: dt.date | None = Field(None, description="A billing period instead of a sale date.")
    period_to: dt.date | None = None
    place_of_issue: str = ""
    currency: str = Field("PLN", description="ISO 4217 code; other than PLN needs exchange_rate.")
    exchange_rate: Decimal | None = Field(None, description="PLN for one unit of the currency.")
    payment_method: int | None = Field(
        None,
        description="TFormaPlatnosci: 1 cash, 2 card, 3 voucher, 4 cheque, 5 credit, 6 transfer, 7 mobile.",
    )
    due_date: dt.date | None = None
    paid_on: dt.date | None = Field(None, description="Paid in full on this day.")
    bank_account: str = ""
    split_payment: bool = False
    cash_accounting: bool = Field(False, description="Metoda kasowa (P_16).")
    self_billing: bool = Field(False, description="Samofakturowanie (P_17).")
    notes: str = ""
    exemption_basis: ExemptionCode = Field("", description="For lines at the zw rate (P_19A/B/C).")
    exemption_text: str = ""
    prices_gross: bool = Field(
        False,
        description="Unit prices are gross (ceny brutto: P_9B/P_11A); the VAT of each rate is taken out "
        "of the rate's gross total (art. 106e ust. 7-8).",
    )
    margin_scheme: MarginSchemeCode = Field(
        "",
        description="A margin scheme for the whole invoice (procedura marży, Adnotacje/PMarzy): lines "
        "carry the price the buyer pays and no VAT; their vat_rate is not used.",
    )
    discount_percent: Decimal | None = Field(
        None, description="A discount on the whole invoice in percent, taken off every line (P_10)."
    )
    discount_amount: Decimal | None = Field(
        None,
        description="A discount on the whole invoice as an amount (gross with prices_gross), spread over the "
        "lines in proportion to their values (P_10); not together with discount_percent.",
    )
    offline24: bool = Field(False, description="Issue in the offline24 mode.")
    idempotency_key: uuid.UUID | None = Field(
        None,
        description="Repeating a request with the same key returns the first invoice instead of a copy "
        "(the Idempotency-Key header does the same).",
    )


class PartyOut(Schema):
    name: str
    nip: str


class KsefOut(Schema):
    status: StatusCode
    status_text: str
    ksef_number: str | None
    acquisition_date: dt.datetime | None
    message: str
    offline_mode: str = Field(description='"" online, else offline24, offline or awaryjny.')


class InvoiceSummaryOut(Schema):
    id: uuid.UUID
    direction: DirectionCode
    kind: KindCode
    number: str
    issue_date: dt.date
    seller: PartyOut
    buyer: PartyOut
    currency: str
    total_net: Decimal
    total_gross: Decimal
    ksef_status: StatusCode
    ksef_number: str | None
    is_new: bool


class InvoicePageOut(Schema):
    items: list[InvoiceSummaryOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last.")


class LineOut(Schema):
    ordinal: int
    name: str
    unit: str
    quantity: Decimal
    unit_price: Decimal
    vat_rate: str
    net_value: Decimal
    vat_amount: Decimal
    gross_value: Decimal
    discount_percent: Decimal | None
    gtu: str
    annex15: bool
    before_correction: bool


class InvoiceOut(InvoiceSummaryOut):
    sale_date: dt.date | None
    due_date: dt.date | None
    paid_on: dt.date | None
    total_vat: Decimal
    payment_method: int | None
    bank_account: str
    split_payment: bool
    prices_gross: bool
    margin_scheme: MarginSchemeCode
    discount_percent: Decimal | None
    discount_amount: Decimal | None
    notes: str
    lines: list[LineOut]
    ksef: KsefOut
    created_at: dt.datetime


class FieldErrorOut(Schema):
    field: str | None
    message: str
    code: str


class ProblemOut(Schema):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldErrorOut] | None = None
