"""Invoices (sales and purchase), their lines, remembered contractors and numbering series.

Field names follow the neutral FA(3) picture (``ksef_integration/fa3/model.py``) so the KSeF side can map an
invoice without guessing; the FA(3) element each field feeds is named in its comment. Money is Decimal only.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Abs
from django.db.models.lookups import LessThan
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Company
from accounts.nip import validate_nip
from invoices.totals import MARGIN, DueKind, InvoiceSummary, RateTotal, StatedTotals, rate_totals


def _adds_up(total: str, a: str, b: str) -> LessThan:
    """``total = a + b`` to the grosz. Compared with a half-grosz tolerance because SQLite keeps decimals as
    floating point, where 100.34 + 23.08 is not exactly 123.42; PostgreSQL's numeric is exact anyway."""
    return LessThan(Abs(F(total) - F(a) - F(b)), Value(Decimal("0.005")))


class Direction(models.TextChoices):
    SALES = "sales", _("sales")
    PURCHASE = "purchase", _("purchase")


class InvoiceKind(models.TextChoices):
    """``RodzajFaktury`` of the invoices the portal issues: VAT, KOR, ZAL (an advance received before the
    sale, art. 106b ust. 1 pkt 4), ROZ (the final invoice that settles advances, art. 106f ust. 3) and the
    corrections of the last two, KOR_ZAL and KOR_ROZ (numbered in the KOR series)."""

    VAT = "VAT", _("VAT invoice")
    KOR = "KOR", _("correction")
    ZAL = "ZAL", _("advance invoice")
    ROZ = "ROZ", _("settlement invoice")
    KOR_ZAL = "KOR_ZAL", _("correction of an advance invoice")
    KOR_ROZ = "KOR_ROZ", _("correction of a settlement invoice")


# The portal's corrections: each names the invoice it corrects (DaneFaKorygowanej).
CORRECTION_KINDS = (InvoiceKind.KOR, InvoiceKind.KOR_ZAL, InvoiceKind.KOR_ROZ)
# What a correction of each kind of invoice is.
CORRECTION_OF = {
    InvoiceKind.VAT: InvoiceKind.KOR,
    InvoiceKind.ZAL: InvoiceKind.KOR_ZAL,
    InvoiceKind.ROZ: InvoiceKind.KOR_ROZ,
}


class DocumentKind(models.TextChoices):
    """``RodzajFaktury`` exactly as an imported invoice's issuer wrote it (``Invoice.stated_kind``).

    ``Invoice.kind`` is the portal's coarser classification (VAT/KOR/ZAL) that numbering, filters and
    corrections work with; this is what the invoice's title and badge show.
    """

    VAT = "VAT", _("VAT invoice")
    KOR = "KOR", _("correcting invoice")
    ZAL = "ZAL", _("advance invoice")
    ROZ = "ROZ", _("settlement invoice")
    UPR = "UPR", _("simplified invoice")
    KOR_ZAL = "KOR_ZAL", _("correction of an advance invoice")
    KOR_ROZ = "KOR_ROZ", _("correction of a settlement invoice")


# The document's title per kind; "%(number)s" is the invoice number.
DOCUMENT_TITLES = {
    DocumentKind.VAT: _("VAT invoice %(number)s"),
    DocumentKind.KOR: _("Correcting invoice %(number)s"),
    DocumentKind.ZAL: _("Advance invoice %(number)s"),
    DocumentKind.ROZ: _("Settlement invoice %(number)s"),
    DocumentKind.UPR: _("Simplified invoice %(number)s"),
    DocumentKind.KOR_ZAL: _("Correcting advance invoice %(number)s"),
    DocumentKind.KOR_ROZ: _("Correcting settlement invoice %(number)s"),
}


class KsefStatus(models.TextChoices):
    """Where an invoice stands with KSeF; written only by ksef_integration.

    not_sent: never handed to KSeF (the default, and the state of invoices added by hand); queued: waiting for
    a sending worker; sent: KSeF has it but has not decided yet; accepted: KSeF assigned ``ksef_number``
    (imported invoices arrive accepted); rejected: KSeF refused it (``ksef_status_message`` says why);
    offline: issued in an offline mode with KOD I + KOD II, to be sent before its legal deadline.
    """

    NOT_SENT = "not_sent", _("not sent")
    QUEUED = "queued", _("queued")
    SENT = "sent", _("sent, awaiting KSeF")
    ACCEPTED = "accepted", _("accepted by KSeF")
    REJECTED = "rejected", _("rejected by KSeF")
    FAILED_LOCAL = "failed_local", _("not sent: error in the invoice data")
    OFFLINE = "offline", _("offline, to be sent")


class KsefOfflineMode(models.TextChoices):
    """How an invoice was issued when KSeF could not take it at once (ksef-api.md §9.1); "" means online."""

    ONLINE = "", _("online")
    OFFLINE24 = "offline24", _("offline24 (chosen by the issuer)")
    UNAVAILABILITY = "offline", _("KSeF unavailability")
    FAILURE = "awaryjny", _("KSeF failure")


class Gtu(models.TextChoices):
    """``GTU``: the goods and services groups of the JPK_VAT regulation (par. 10 ust. 3), marked per line."""

    GTU_01 = "GTU_01", _("GTU_01 alcoholic beverages")
    GTU_02 = "GTU_02", _("GTU_02 fuels (art. 103 ust. 5aa)")
    GTU_03 = "GTU_03", _("GTU_03 heating oil and lubricants")
    GTU_04 = "GTU_04", _("GTU_04 tobacco products")
    GTU_05 = "GTU_05", _("GTU_05 waste")
    GTU_06 = "GTU_06", _("GTU_06 electronic devices and parts")
    GTU_07 = "GTU_07", _("GTU_07 vehicles and car parts")
    GTU_08 = "GTU_08", _("GTU_08 precious metals and jewellery")
    GTU_09 = "GTU_09", _("GTU_09 medicines and medical devices")
    GTU_10 = "GTU_10", _("GTU_10 buildings, structures and land")
    GTU_11 = "GTU_11", _("GTU_11 greenhouse gas emission allowances")
    GTU_12 = "GTU_12", _("GTU_12 intangible services (consulting, accounting, legal, marketing…)")
    GTU_13 = "GTU_13", _("GTU_13 transport and warehouse services")


class ThirdPartyRole(models.IntegerChoices):
    """``Rola`` of ``Podmiot3`` that a seller names on the buyer's side (TRolaPodmiotu3)."""

    FACTOR = 1, _("factor")
    RECIPIENT = 2, _("recipient (odbiorca)")
    ADDITIONAL_BUYER = 4, _("additional buyer")
    PAYER = 6, _("payer")
    JST_RECIPIENT = 8, _("recipient: a local government unit (JST)")
    VAT_GROUP_MEMBER = 10, _("recipient: a member of a VAT group")
    EMPLOYEE = 11, _("employee")


class Procedure(models.TextChoices):
    """``Procedura``: the procedure markers of the JPK_VAT regulation (par. 10 ust. 4) a line may carry."""

    WSTO_EE = "WSTO_EE", _("WSTO_EE distance sales of goods within the EU / electronic services (OSS)")
    IED = "IED", _("IED supply by an electronic interface (art. 7a)")
    TT_D = "TT_D", _("TT_D the second taxpayer in a triangular transaction")
    I_42 = "I_42", _("I_42 import under customs procedure 42")
    I_63 = "I_63", _("I_63 import under customs procedure 63")
    B_SPV = "B_SPV", _("B_SPV transfer of a single-purpose voucher")
    B_SPV_DOSTAWA = "B_SPV_DOSTAWA", _("B_SPV_DOSTAWA supply for a single-purpose voucher")
    B_MPV_PROWIZJA = "B_MPV_PROWIZJA", _("B_MPV_PROWIZJA intermediary services for a multi-purpose voucher")


class VatRate(models.TextChoices):
    """``P_12``: exactly the FA(3) rate codes."""

    R23 = "23", "23%"
    R22 = "22", "22%"
    R8 = "8", "8%"
    R7 = "7", "7%"
    R5 = "5", "5%"
    R4 = "4", "4%"
    R3 = "3", "3%"
    ZERO_KR = "0 KR", _("0% domestic")
    ZERO_WDT = "0 WDT", _("0% intra-EU supply")
    ZERO_EX = "0 EX", _("0% export")
    ZW = "zw", _("exempt")
    OO = "oo", _("reverse charge")
    NP_I = "np I", _("not taxable in Poland")
    NP_II = "np II", _("not taxable, EU services")

    @classmethod
    def percent_of(cls, code: str) -> Decimal | None:
        """The numeric rate of a taxed code ("23" → 23), None for 0%/exempt/reverse charge/not taxable."""
        return Decimal(code) if code.isdigit() else None


# Member states by ISO 3166 code (Greece is "EL" only in VAT numbers), plus Northern Ireland for goods.
EU_COUNTRIES = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT",
    "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "XI",
})  # fmt: skip


class ExemptionBasis(models.TextChoices):
    """Where the legal basis of an exempt (zw) supply comes from: ``P_19A``/``P_19B``/``P_19C``."""

    NONE = "", "—"
    ACT = "act", _("the Polish VAT act or a regulation under it")
    DIRECTIVE = "directive", _("Directive 2006/112/EC")
    OTHER = "other", _("another legal basis")


class MarginScheme(models.TextChoices):
    """``PMarzy``: the margin schemes of art. 119 and 120 of the VAT act (``P_PMarzy_2``, ``P_PMarzy_3_x``).
    Chosen for the whole invoice: its lines are then sold in the scheme, with neither a rate nor a tax
    (art. 106e ust. 2-3), and their values sum into ``P_13_11``."""

    NONE = "", "—"
    TRAVEL = "travel", _("travel agencies (procedura marży dla biur podróży)")
    USED_GOODS = "used_goods", _("second-hand goods (procedura marży - towary używane)")
    ART = "art", _("works of art (procedura marży - dzieła sztuki)")
    ANTIQUES = (
        "antiques",
        _("collectors' items and antiques (procedura marży - przedmioty kolekcjonerskie i antyki)"),
    )


# The words art. 106e ust. 1 pkt 20-21 require on an invoice in each margin scheme (as FA(3)'s P_PMarzy_x
# documentation quotes them): Polish legal wording, the same in every language the document is shown in.
MARGIN_WORDS = {
    "travel": "procedura marży dla biur podróży",
    "used_goods": "procedura marży - towary używane",
    "art": "procedura marży - dzieła sztuki",
    "antiques": "procedura marży - przedmioty kolekcjonerskie i antyki",
}

# The rate code a line sold in a margin scheme carries instead of a P_12 rate.
MARGIN_RATE = MARGIN


class PaymentMethod(models.IntegerChoices):
    """``TFormaPlatnosci``."""

    CASH = 1, _("cash")
    CARD = 2, _("card")
    VOUCHER = 3, _("voucher")
    CHEQUE = 4, _("cheque")
    CREDIT = 5, _("credit")
    TRANSFER = 6, _("bank transfer")
    MOBILE = 7, _("mobile payment")


class DeliveryLanguage(models.TextChoices):
    """The language of the e-mail that delivers an invoice to its buyer (remembered per contractor)."""

    PL = "pl", _("Polish")
    EN = "en", _("English")


class Contractor(models.Model):
    """A buyer or seller the company deals with, remembered so that Wystaw can fill its data from the NIP."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="contractors")
    nip = models.CharField(_("NIP"), max_length=10, blank=True, validators=[validate_nip])
    foreign_id = models.CharField(_("foreign tax ID"), max_length=50, blank=True)
    name = models.CharField(_("name"), max_length=512)
    address_line1 = models.CharField(_("address line 1"), max_length=512, blank=True)
    address_line2 = models.CharField(_("address line 2"), max_length=512, blank=True)
    country_code = models.CharField(_("country"), max_length=2, default="PL")
    email = models.EmailField(_("e-mail"), blank=True)
    bank_account = models.CharField(_("bank account"), max_length=64, blank=True)
    # Where and in which language its invoices are e-mailed (issue 22): Wystaw offers them again.
    delivery_email = models.EmailField(_("e-mail for invoices"), blank=True)
    delivery_language = models.CharField(
        _("language of the e-mail"),
        max_length=2,
        choices=DeliveryLanguage.choices,
        default=DeliveryLanguage.PL,
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("contractor")
        verbose_name_plural = _("contractors")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "nip"], condition=~Q(nip=""), name="contractor_company_nip_unique"
            ),
            models.CheckConstraint(condition=Q(nip="") | Q(nip__regex=r"^[0-9]{10}$"), name="contractor_nip"),
            models.CheckConstraint(
                condition=Q(country_code__regex=r"^[A-Z]{2}$"), name="contractor_country_code_iso"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (NIP {self.nip})" if self.nip else self.name


class NumberingReset(models.TextChoices):
    YEARLY = "yearly", _("every year")
    MONTHLY = "monthly", _("every month")


class NumberingSeries(models.Model):
    """How a company numbers one kind of its sales invoices, e.g. ``FV/{n}/{MM}/{YYYY}`` from 1 each month.

    Placeholders: ``{n}`` the sequence number, ``{MM}`` month, ``{YYYY}``/``{YY}`` year. Counters live in
    :class:`NumberingCounter`, one per period, so back-dated invoices take
    the next number of their own period.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="numbering_series")
    kind = models.CharField(_("document kind"), max_length=8, choices=InvoiceKind.choices)
    pattern = models.CharField(_("pattern"), max_length=100)
    reset = models.CharField(
        _("numbering restarts"), max_length=8, choices=NumberingReset.choices, default=NumberingReset.MONTHLY
    )

    class Meta:
        verbose_name = _("numbering series")
        verbose_name_plural = _("numbering series")
        constraints = [
            models.UniqueConstraint(fields=["company", "kind"], name="numbering_series_company_kind_unique"),
            models.CheckConstraint(condition=Q(pattern__contains="{n}"), name="numbering_series_has_n"),
            models.CheckConstraint(condition=Q(kind__in=InvoiceKind.values), name="numbering_series_kind"),
            models.CheckConstraint(
                condition=Q(reset__in=NumberingReset.values), name="numbering_series_reset"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company.name}: {self.pattern}"


class NumberingCounter(models.Model):
    """The last number given in one period (``2026`` or ``2026-11``) of a series."""

    series = models.ForeignKey(NumberingSeries, on_delete=models.CASCADE, related_name="counters")
    period = models.CharField(max_length=7)
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["series", "period"], name="numbering_counter_period_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.series_id} {self.period}: {self.last_number}"


class Invoice(models.Model):
    """One sales or purchase invoice, with the parties' data as they were on the document.

    ``contractor`` links to the remembered contractor; the ``seller_*``/``buyer_*`` snapshots are what the
    invoice says (``Podmiot1``/``Podmiot2``) and never change when the contractor does.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="invoices")
    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices)
    kind = models.CharField(_("kind"), max_length=8, choices=InvoiceKind.choices, default=InvoiceKind.VAT)
    number = models.CharField(_("number"), max_length=256)  # P_2
    issue_date = models.DateField(_("issue date"))  # P_1
    sale_date = models.DateField(_("sale date"), null=True, blank=True)  # P_6
    # OkresFa (P_6_Od, P_6_Do): a billing period instead of a sale date (subscriptions, monthly services).
    period_from = models.DateField(_("billing period from"), null=True, blank=True)
    period_to = models.DateField(_("billing period to"), null=True, blank=True)
    place_of_issue = models.CharField(_("place of issue"), max_length=256, blank=True)  # P_1M

    contractor = models.ForeignKey(
        Contractor, on_delete=models.SET_NULL, null=True, blank=True, related_name="invoices"
    )
    seller_name = models.CharField(_("seller name"), max_length=512)  # Podmiot1
    seller_nip = models.CharField(_("seller NIP"), max_length=10, blank=True)
    seller_foreign_id = models.CharField(_("seller foreign tax ID"), max_length=50, blank=True)
    seller_address_line1 = models.CharField(_("seller address line 1"), max_length=512, blank=True)
    seller_address_line2 = models.CharField(_("seller address line 2"), max_length=512, blank=True)
    seller_country_code = models.CharField(_("seller country"), max_length=2, default="PL")
    # Stopka/Rejestry: the seller's numbers in other registers, as they were when the invoice was issued.
    seller_krs = models.CharField(_("seller KRS"), max_length=10, blank=True)
    seller_regon = models.CharField(_("seller REGON"), max_length=14, blank=True)
    seller_bdo = models.CharField(_("seller BDO"), max_length=9, blank=True)
    buyer_name = models.CharField(_("buyer name"), max_length=512)  # Podmiot2
    buyer_nip = models.CharField(_("buyer NIP"), max_length=10, blank=True)
    buyer_foreign_id = models.CharField(_("buyer foreign tax ID"), max_length=50, blank=True)
    buyer_address_line1 = models.CharField(_("buyer address line 1"), max_length=512, blank=True)
    buyer_address_line2 = models.CharField(_("buyer address line 2"), max_length=512, blank=True)
    buyer_country_code = models.CharField(_("buyer country"), max_length=2, default="PL")
    buyer_email = models.EmailField(_("buyer e-mail"), blank=True)
    # Podmiot3: other parties named on the invoice (recipient, payer, additional buyer…), each
    # {"role": 2, "name": …, "nip": …, "foreign_id": …, "address_line1": …, "address_line2": …,
    # "country_code": …}, as they were on the document.
    third_parties = models.JSONField(_("other parties"), default=list, blank=True)
    # Not part of FA(3): where the PDF and XML are e-mailed once KSeF accepted the invoice (issue 22).
    delivery_email = models.EmailField(_("e-mail for the invoice"), blank=True)
    delivery_language = models.CharField(
        _("language of the e-mail"),
        max_length=2,
        choices=DeliveryLanguage.choices,
        default=DeliveryLanguage.PL,
    )

    currency = models.CharField(_("currency"), max_length=3, default="PLN")  # KodWaluty
    exchange_rate = models.DecimalField(  # KursWaluty: PLN per unit of currency
        _("exchange rate"), max_digits=12, decimal_places=6, null=True, blank=True
    )
    payment_method = models.PositiveSmallIntegerField(
        _("payment method"), choices=PaymentMethod.choices, null=True, blank=True
    )
    due_date = models.DateField(_("due date"), null=True, blank=True)  # TerminPlatnosci/Termin
    paid_on = models.DateField(_("paid on"), null=True, blank=True)  # Zaplacono + DataZaplaty: paid in full
    bank_account = models.CharField(_("bank account"), max_length=64, blank=True)  # RachunekBankowy/NrRB
    split_payment = models.BooleanField(_("split payment"), default=False)  # P_18A
    cash_accounting = models.BooleanField(_("cash accounting (metoda kasowa)"), default=False)  # P_16
    self_billing = models.BooleanField(_("self-billing (samofakturowanie)"), default=False)  # P_17
    related_parties = models.BooleanField(_("related parties (TP)"), default=False)  # TP
    # ZnacznikZaplatyCzesciowej + ZaplataCzesciowa: [{"amount": "100.00", "paid_on": "2026-12-01"}]
    partial_payments = models.JSONField(_("partial payments"), default=list, blank=True)
    notes = models.TextField(_("notes"), blank=True)  # DodatkowyOpis / StopkaFaktury
    # Adnotacje/Zwolnienie: P_19 with P_19A/B/C for lines at the "zw" rate.
    exemption_basis = models.CharField(
        _("exemption basis"), max_length=16, choices=ExemptionBasis.choices, blank=True, default=""
    )
    exemption_text = models.CharField(_("legal basis of the exemption"), max_length=256, blank=True)

    # Art. 106e ust. 7-8: prices typed with the tax (P_9B, P_11A); the tax of each rate is taken out of the
    # rate's gross sum, gross x rate / (100 + rate).
    prices_gross = models.BooleanField(_("gross prices"), default=False)
    # Adnotacje/PMarzy: the margin scheme every line of the invoice is sold in ("" none).
    margin_scheme = models.CharField(
        _("margin scheme"), max_length=16, choices=MarginScheme.choices, blank=True, default=""
    )
    # A discount on the whole invoice as typed (a percent, or an amount in the invoice's currency). FA(3) has
    # no element for it: it is spread over the lines' P_10 (InvoiceLine.invoice_discount) and described in
    # DodatkowyOpis.
    discount_percent = models.DecimalField(
        _("discount on the invoice %"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    discount_amount = models.DecimalField(
        _("discount on the invoice"), max_digits=18, decimal_places=2, null=True, blank=True
    )

    total_net = models.DecimalField(_("net total"), max_digits=18, decimal_places=2, default=Decimal("0.00"))
    total_vat = models.DecimalField(_("VAT total"), max_digits=18, decimal_places=2, default=Decimal("0.00"))
    total_gross = models.DecimalField(
        _("gross total"), max_digits=18, decimal_places=2, default=Decimal("0.00")
    )  # P_15
    # An invoice imported from KSeF shows what its issuer wrote, never what the portal would compute:
    # ``stated_kind`` is its RodzajFaktury and ``stated_totals`` its P_13_x/P_14_x/P_14_xW per rate, P_15 and
    # Rozliczenie (invoices.totals.StatedTotals). ``stated_kind`` is empty on invoices made in the portal;
    # ``stated_totals`` too, except on the portal's advance (ZAL: the advance's share of each rate) and
    # settlement invoices (ROZ: the lines' totals less the advances), whose amounts do not follow from
    # their lines alone. ``total_*`` then hold P_15 and the sums of P_13_x/P_14_x (bounded
    # to the columns) for the list and its filters.
    stated_kind = models.CharField(
        _("kind as written"), max_length=8, choices=DocumentKind.choices, blank=True, default=""
    )
    stated_totals = models.JSONField(_("amounts as written"), null=True, blank=True, editable=False)

    # DaneFaKorygowanej: kept as text too, because the corrected invoice may not be in our database.
    corrected_invoice = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="corrections"
    )
    correction_reason = models.CharField(_("reason for correction"), max_length=256, blank=True)
    # An advance invoice (ZAL) is settled by one final invoice (ROZ), which lists it (FakturaZaliczkowa)
    # and deducts its amounts.
    settled_by = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="settled_advances"
    )
    # On a final invoice (ROZ): the advance invoices it settles, as FakturaZaliczkowa cites them —
    # [{"number": …, "ksef_number": …}], kept as text like the corrected invoice's data.
    advance_refs = models.JSONField(_("advance invoices settled"), default=list, blank=True)
    corrected_number = models.CharField(_("corrected invoice number"), max_length=256, blank=True)
    corrected_issue_date = models.DateField(_("corrected invoice issue date"), null=True, blank=True)
    corrected_ksef_number = models.CharField(_("corrected invoice KSeF number"), max_length=64, blank=True)

    # Written only by ksef_integration.
    ksef_number = models.CharField(  # noqa: DJ001 - NULL, not "", so the partial unique constraint works
        _("KSeF number"), max_length=64, null=True, blank=True
    )
    ksef_status = models.CharField(
        _("KSeF status"), max_length=16, choices=KsefStatus.choices, default=KsefStatus.NOT_SENT
    )
    ksef_acquisition_date = models.DateTimeField(_("KSeF acquisition date"), null=True, blank=True)
    ksef_status_message = models.TextField(_("KSeF message"), blank=True)
    xml_sha256_b64 = models.CharField(_("XML SHA-256 (Base64)"), max_length=44, blank=True)
    ksef_offline_mode = models.CharField(
        _("offline mode"), max_length=16, choices=KsefOfflineMode.choices, blank=True, default=""
    )
    # Imported invoices arrive "new" and stop being new once someone opens them.
    is_new = models.BooleanField(_("new"), default=False)

    # The form's hidden key: a second submit of the same form returns the first invoice instead of a copy.
    idempotency_key = models.UUIDField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-issue_date", "-id"]
        constraints = [
            # Our own numbering; a sales invoice issued elsewhere (imported) may carry any number.
            models.UniqueConstraint(
                fields=["company", "direction", "kind", "number"],
                condition=Q(direction="sales", stated_kind=""),
                name="invoice_sales_number_unique",
            ),
            models.UniqueConstraint(
                fields=["company", "ksef_number"],
                condition=Q(ksef_number__isnull=False),
                name="invoice_company_ksef_number_unique",
            ),
            models.UniqueConstraint(
                fields=["company", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="invoice_idempotency_key_unique",
            ),
            models.CheckConstraint(condition=Q(direction__in=Direction.values), name="invoice_direction"),
            models.CheckConstraint(condition=Q(kind__in=InvoiceKind.values), name="invoice_kind"),
            models.CheckConstraint(
                condition=Q(ksef_status__in=KsefStatus.values), name="invoice_ksef_status"
            ),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="invoice_currency_iso"),
            models.CheckConstraint(
                condition=Q(exchange_rate__isnull=True) | Q(exchange_rate__gt=0), name="invoice_rate_positive"
            ),
            # P_15 of an imported invoice is what its issuer wrote (rounded per rate, or the only amount of
            # a simplified invoice): only the portal's own totals must add up.
            models.CheckConstraint(
                condition=~Q(stated_kind="") | Q(_adds_up("total_gross", "total_net", "total_vat")),
                name="invoice_gross_is_net_plus_vat",
            ),
            models.CheckConstraint(
                condition=~Q(kind="VAT") | ~Q(stated_kind="") | (Q(total_net__gte=0) & Q(total_vat__gte=0)),
                name="invoice_vat_totals_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(stated_kind="") | Q(stated_kind__in=DocumentKind.values),
                name="invoice_stated_kind",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=[kind.value for kind in CORRECTION_KINDS]) | ~Q(corrected_number=""),
                name="invoice_correction_names_original",
            ),
            models.CheckConstraint(
                condition=Q(seller_nip="") | Q(seller_nip__regex=r"^[0-9]{10}$"), name="invoice_seller_nip"
            ),
            models.CheckConstraint(
                condition=Q(buyer_nip="") | Q(buyer_nip__regex=r"^[0-9]{10}$"), name="invoice_buyer_nip"
            ),
        ]
        indexes = [
            # The Dokumenty list: one company, one direction, newest first, seek pagination on (date, id).
            models.Index(
                F("company"), F("direction"), F("issue_date").desc(), F("id").desc(), name="inv_list"
            ),
            models.Index(
                F("company"),
                F("direction"),
                F("ksef_status"),
                F("issue_date").desc(),
                F("id").desc(),
                name="inv_list_status",
            ),
            models.Index(fields=["company", "buyer_nip"], name="inv_buyer_nip"),
            models.Index(fields=["company", "seller_nip"], name="inv_seller_nip"),
            # Wystaw's open advance invoices (selectors.advances_open), newest first: a handful among a
            # company's many invoices, which the list's index would scan through on every Wystaw page.
            models.Index(
                F("company"),
                F("issue_date").desc(),
                F("id").desc(),
                name="inv_open_advances",
                condition=Q(direction="sales", kind="ZAL", settled_by__isnull=True),
            ),
            # The purchases nobody has opened yet ("nowe"), counted on Start and Biuro and listed by the
            # Dokumenty filter: a few among the company's purchases, which would otherwise all be read.
            models.Index(
                F("company"),
                F("issue_date").desc(),
                F("id").desc(),
                name="inv_new_purchases",
                condition=Q(direction="purchase", is_new=True),
            ),
            # Offline invoices KSeF has not accepted yet (Biuro's and Start's deadlines): a handful among all.
            models.Index(
                F("company"),
                name="inv_offline_open",
                condition=~Q(ksef_offline_mode="") & ~Q(ksef_status="accepted"),
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_sales(self) -> bool:
        return self.direction == Direction.SALES

    @property
    def is_correction(self) -> bool:
        return self.kind in CORRECTION_KINDS

    @property
    def is_advance_correction(self) -> bool:
        """A correction of an advance invoice (KOR_ZAL): its lines are the order before and after."""
        return self.kind == InvoiceKind.KOR_ZAL

    def third_parties_shown(self) -> list[dict[str, object]]:
        """``third_parties`` with their role's name (``role_label``), as the document shows them."""
        labels = dict(ThirdPartyRole.choices)
        return [
            third | {"role_label": labels.get(third.get("role"), _("other party"))}
            for third in self.third_parties
        ]

    def partial_payments_made(self) -> list[tuple[Decimal, dt.date]]:
        """``partial_payments`` as amounts and dates (the JSON keeps them as text)."""
        return [
            (Decimal(part["amount"]), dt.date.fromisoformat(part["paid_on"]))
            for part in self.partial_payments
        ]

    @property
    def is_advance(self) -> bool:
        """An advance invoice (ZAL): its lines are the order's positions, its amounts the advance's."""
        return self.kind == InvoiceKind.ZAL

    @property
    def counterparty_name(self) -> str:
        return self.buyer_name if self.is_sales else self.seller_name

    @property
    def counterparty_nip(self) -> str:
        return self.buyer_nip if self.is_sales else self.seller_nip

    def can_be_corrected(self) -> bool:
        """A sales VAT, advance (ZAL) or final (ROZ) invoice, but not one issued offline that KSeF has not
        numbered yet (see below), nor an advance a final invoice has settled (the final one is corrected
        then)."""
        return (
            self.direction == Direction.SALES
            and self.kind in CORRECTION_OF
            and not self.correction_waits_for_ksef_number()
            and not (self.kind == InvoiceKind.ZAL and self.settled_by_id is not None)
            # an advance or final invoice issued elsewhere and imported: its order (or the advances it
            # settled) is not known here
            and not (self.kind != InvoiceKind.VAT and self.stated_kind)
        )

    def correction_waits_for_ksef_number(self) -> bool:
        """A KOR cites the corrected invoice by its KSeF number (``NrKSeFFaKorygowanej``); ``NrKSeFN`` is
        only for invoices issued outside KSeF. An invoice on its way to KSeF (queued, sent, or issued offline
        and waiting to be sent) is not one of those: it may be corrected once KSeF has numbered it
        (ksef-api.md §9.1, §12.2). Invoices never handed to KSeF keep NrKSeFN."""
        return (
            self.direction == Direction.SALES
            and self.kind in CORRECTION_OF
            and not self.ksef_number
            and (
                bool(self.ksef_offline_mode)
                or self.ksef_status in (KsefStatus.QUEUED, KsefStatus.SENT, KsefStatus.OFFLINE)
            )
        )

    def can_be_edited(self) -> bool:
        """A sales VAT invoice KSeF did not accept does not legally exist yet: it may be changed (same number)
        and sent again. Once accepted it can only be changed by a correction."""
        return (
            self.direction == Direction.SALES
            and self.kind == InvoiceKind.VAT
            and self.ksef_status in (KsefStatus.REJECTED, KsefStatus.FAILED_LOCAL)
            and not self.ksef_number
        )

    @property
    def document_kind(self) -> str:
        """RodzajFaktury as written on an imported invoice, else the portal's kind."""
        return self.stated_kind or self.kind

    @property
    def title(self) -> str:
        """ "Faktura VAT FV/1/2026", "Faktura rozliczeniowa …": the document's own title."""
        title = DOCUMENT_TITLES.get(self.document_kind, DOCUMENT_TITLES[DocumentKind.VAT])  # type: ignore[call-overload]
        return str(title) % {"number": self.number}

    @property
    def badge(self) -> str:
        """The kind's code beside the number in lists; "" for a plain VAT invoice."""
        return "" if self.document_kind == InvoiceKind.VAT else self.document_kind

    @property
    def stated(self) -> StatedTotals | None:
        """What an imported invoice states about its amounts; None for invoices made in the portal."""
        return StatedTotals.from_json(self.stated_totals) if self.stated_totals is not None else None

    def reverse_charge(self) -> bool:
        """The buyer settles the VAT (domestic "oo" or EU services "np II"): the invoice must say
        "odwrotne obciążenie" (art. 106e ust. 1 pkt 18; FA(3) ``P_18``). Prefetch ``lines``."""
        return any(line.vat_rate in (VatRate.OO, VatRate.NP_II) for line in self.lines.all())

    def exemption_shown(self) -> bool:
        """An exempt line is on the invoice and the legal basis (``P_19A/B/C``) is recorded."""
        return bool(self.exemption_text) and any(line.vat_rate == VatRate.ZW for line in self.lines.all())

    def rate_totals(self) -> list[RateTotal]:
        """Per-rate sums: as written (``P_13_x``/``P_14_x``/``P_14_xW``) on an imported invoice, else from
        the lines (prefetch ``lines`` to avoid a query)."""
        stated = self.stated
        if stated is not None:
            return stated.rate_totals()
        return rate_totals(
            self.lines.all(),
            currency=self.currency,
            exchange_rate=self.exchange_rate,
            prices_gross=self.prices_gross,
        )

    @property
    def pricing(self) -> str:
        """How the lines are priced, as the document shows them: "margin" (a margin scheme: the price the
        buyer pays, no rate or tax), "gross" (art. 106e ust. 7-8: P_9B, P_11A) or "net"."""
        if self.margin_scheme:
            return "margin"
        return "gross" if self.prices_gross else "net"

    @property
    def margin_label(self) -> str:
        """The words the invoice must carry in its margin scheme (``MARGIN_WORDS``), "" without one."""
        return str(MARGIN_WORDS.get(self.margin_scheme, ""))

    @property
    def invoice_discount_total(self) -> Decimal:
        """The discount on the whole invoice, as spread over the lines (prefetch ``lines``)."""
        return sum(
            (line.invoice_discount or Decimal(0) for line in self.lines.all() if not line.before_correction),
            Decimal("0.00"),
        )

    def summary(self) -> InvoiceSummary:
        """The "Total" row and the amount to pay, as the document shows them."""
        stated = self.stated
        if stated is not None:
            return stated.summary(correction=self.is_correction)
        return InvoiceSummary(
            net=self.total_net,
            vat=self.total_vat,
            gross=self.total_gross,
            vat_pln=None,
            due=self.total_gross,
            due_kind=DueKind.DIFFERENCE if self.is_correction else DueKind.DUE,
        )


class InvoiceLine(models.Model):
    """``FaWiersz``. On a correction the lines come in pairs: the original's (``before_correction``) and the
    corrected state; totals are after minus before, as FA(3) ``StanPrzed`` expects."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    ordinal = models.PositiveIntegerField(_("no."))  # NrWierszaFa
    name = models.CharField(_("name"), max_length=512)  # P_7
    unit = models.CharField(_("unit"), max_length=32, blank=True)  # P_8A
    quantity = models.DecimalField(_("quantity"), max_digits=22, decimal_places=6)  # P_8B
    unit_price = models.DecimalField(_("net unit price"), max_digits=22, decimal_places=8)  # P_9A
    # P_12; MARGIN_RATE on a line sold in a margin scheme (no P_12)
    vat_rate = models.CharField(_("VAT rate"), max_length=8, choices=VatRate.choices)
    net_value = models.DecimalField(_("net value"), max_digits=18, decimal_places=2)  # P_11
    vat_amount = models.DecimalField(_("VAT"), max_digits=18, decimal_places=2)  # P_11Vat
    gross_value = models.DecimalField(_("gross value"), max_digits=18, decimal_places=2)  # P_11A
    # P_10: the discount taken off quantity x price (net_value is after it); the percent typed in Wystaw.
    discount = models.DecimalField(_("discount"), max_digits=18, decimal_places=2, null=True, blank=True)
    discount_percent = models.DecimalField(
        _("discount %"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    # The line's share of the discount on the whole invoice (included in ``discount``, P_10).
    invoice_discount = models.DecimalField(
        _("share of the invoice discount"), max_digits=18, decimal_places=2, null=True, blank=True
    )
    # P_9B: the unit price with tax, on an invoice priced gross or sold in a margin scheme.
    unit_price_gross = models.DecimalField(
        _("gross unit price"), max_digits=22, decimal_places=8, null=True, blank=True
    )
    gtu = models.CharField(_("GTU"), max_length=6, blank=True, choices=Gtu.choices)  # GTU_01..GTU_13
    # P_12_Zal_15: goods or services of Annex 15 to the VAT act (split payment above 15,000 PLN gross)
    annex15 = models.BooleanField(_("Annex 15"), default=False)
    procedure = models.CharField(_("procedure"), max_length=16, blank=True, choices=Procedure.choices)
    # Classifications and codes (PKWiU, CN, GTIN, Indeks) and the line's own sale date (P_6A) where it
    # differs from the invoice's.
    pkwiu = models.CharField(_("PKWiU"), max_length=50, blank=True)
    cn = models.CharField(_("CN"), max_length=50, blank=True)
    gtin = models.CharField(_("GTIN"), max_length=20, blank=True)
    index = models.CharField(_("product code"), max_length=50, blank=True)  # Indeks
    sale_date = models.DateField(_("sale date"), null=True, blank=True)  # P_6A
    before_correction = models.BooleanField(_("before correction"), default=False)  # StanPrzed
    # Imported corrections may carry differences (negative quantities); lines we issue never do.
    allows_negative = models.BooleanField(default=False, editable=False)

    class Meta:
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        ordering = ["invoice", "before_correction", "ordinal"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "before_correction", "ordinal"], name="invoice_line_ordinal_unique"
            ),
            models.CheckConstraint(
                condition=Q(vat_rate__in=[*VatRate.values, MARGIN_RATE]), name="invoice_line_vat_rate"
            ),
            models.CheckConstraint(
                condition=Q(allows_negative=True) | (Q(quantity__gte=0) & Q(unit_price__gte=0)),
                name="invoice_line_not_negative",
            ),
            models.CheckConstraint(
                condition=_adds_up("gross_value", "net_value", "vat_amount"), name="invoice_line_gross"
            ),
            models.CheckConstraint(
                condition=Q(discount_percent__isnull=True)
                | (Q(discount_percent__gte=0) & Q(discount_percent__lte=100)),
                name="invoice_line_discount_percent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ordinal}. {self.name}"

    def codes(self) -> list[str]:
        """What the line carries besides its amounts, as the document shows it: "PKWiU 62.01.11.0", "CN …",
        "GTIN …", the product code, the procedure and the line's own sale date."""
        shown = [
            f"{label} {value}"
            for label, value in (
                ("PKWiU", self.pkwiu),
                ("CN", self.cn),
                ("GTIN", self.gtin),
                (str(_("code")), self.index),
            )
            if value
        ]
        if self.procedure:
            shown.append(self.procedure)
        if self.sale_date:
            shown.append(f"{_('sale date')} {self.sale_date:%d.%m.%Y}")
        return shown
