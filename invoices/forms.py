"""Forms for Wystaw, Dodaj, Korekta and the Dokumenty filters. Amounts accept a Polish decimal comma."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.nip import nip_normalize, validate_nip
from invoices.models import (
    DeliveryLanguage,
    Direction,
    ExemptionBasis,
    Gtu,
    InvoiceKind,
    KsefStatus,
    MarginScheme,
    PaymentMethod,
    Procedure,
    ThirdPartyRole,
    VatRate,
)
from invoices.selectors import InvoiceFilters
from invoices.services import (
    CorrectionData,
    InvoiceData,
    LineData,
    PartialPayment,
    PartyData,
    ThirdPartyData,
)

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
CURRENCIES = ("PLN", "EUR", "USD", "GBP", "CHF", "CZK", "SEK", "NOK", "DKK", "UAH")
# FA(3) allows 10 000 lines (FaWiersz); a form this long is already more than a person types. The upload
# limit (settings.DATA_UPLOAD_MAX_NUMBER_FIELDS) leaves room for it, so more lines get a message, not a 400.
MAX_LINES = 1000
# The dates FA(3) can carry: TDataT (issue and sale dates, the corrected invoice's date) and TData (due).
INVOICE_DATES = (dt.date(2006, 1, 1), dt.date(2050, 1, 1))
DUE_DATES = (dt.date(1900, 1, 1), dt.date(2050, 12, 31))


class AmountField(forms.DecimalField):
    """A decimal that takes "1 234,50" as well as "1234.50"."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            value = value.replace("\u00a0", "").replace(" ", "").replace(",", ".")
        return super().to_python(value)


_NOT_ON_ADVANCES = _("Not available on advance and final invoices yet: issue them at net prices without it.")


def _date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _today() -> dt.date:
    return timezone.localdate()


def _within(bounds: tuple[dt.date, dt.date]) -> Any:
    def check(value: dt.date) -> None:
        if not bounds[0] <= value <= bounds[1]:
            raise forms.ValidationError(
                _("KSeF accepts dates from %(first)s to %(last)s.")
                % {"first": f"{bounds[0]:%d.%m.%Y}", "last": f"{bounds[1]:%d.%m.%Y}"}
            )

    return check


def _one_line(value: str) -> None:
    if any(ch in value for ch in "\r\n"):
        raise forms.ValidationError(_("Enter this on one line, without line breaks."))


def _not_in_the_future(value: dt.date) -> None:
    """KSeF refuses an invoice whose issue date (P_1) is later than the day it accepts it."""
    if value > _today():
        raise forms.ValidationError(
            _("The issue date cannot be later than today: KSeF refuses invoices dated in the future.")
        )


class PartyFieldsMixin(forms.Form):
    nip = forms.CharField(
        label=_("NIP"),
        max_length=16,
        required=False,
        validators=[validate_nip],
        help_text=_("Type the NIP: a contractor you have invoiced before is filled in."),
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "off", "list": "contractor-nips"}
        ),
    )
    name = forms.CharField(label=_("Name"), max_length=512)
    foreign_id = forms.CharField(
        label=_("VAT-UE or foreign tax number"),
        max_length=50,
        required=False,
        help_text=_("For a buyer abroad, e.g. DE123456789; a Polish buyer has a NIP."),
    )
    address_line1 = forms.CharField(label=_("Address line 1"), max_length=512, required=False)
    address_line2 = forms.CharField(
        label=_("Address line 2"), max_length=512, required=False, help_text=_("Postal code and city")
    )
    country_code = forms.CharField(label=_("Country code"), max_length=2, initial="PL")
    email = forms.EmailField(label=_("E-mail"), required=False)

    def clean_nip(self) -> str:
        return nip_normalize(self.cleaned_data.get("nip", ""))

    def clean_country_code(self) -> str:
        code = self.cleaned_data["country_code"].strip().upper()
        if not _COUNTRY.match(code):
            raise forms.ValidationError(_("Enter a two-letter country code, e.g. PL."))
        return code

    def clean_foreign_id(self) -> str:
        return "".join(ch for ch in self.cleaned_data.get("foreign_id", "") if ch.isalnum()).upper()

    def party_data(self) -> PartyData:
        data = self.cleaned_data
        return PartyData(
            name=data["name"],
            nip=data.get("nip", ""),
            foreign_id=data.get("foreign_id", ""),
            address_line1=data.get("address_line1", ""),
            address_line2=data.get("address_line2", ""),
            country_code=data["country_code"],
            email=data.get("email", ""),
            bank_account=data.get("bank_account", "") if self.direction == Direction.PURCHASE else "",
        )

    direction: str = Direction.SALES


class DeliveryFieldsMixin(forms.Form):
    """Issue 22: the buyer's e-mail for the invoice (sent once KSeF accepted it) and its language; both
    remembered per contractor. A block of its own on Wystaw, apart from the FA(3) fields."""

    delivery_email = forms.EmailField(
        label=_("Send the invoice by e-mail to"),
        required=False,
        help_text=_(
            "Optional. Once KSeF accepts the invoice, its PDF (with the KSeF QR code) and XML go to this "
            "address; an invoice issued offline goes at once."
        ),
    )
    delivery_language = forms.ChoiceField(
        label=_("Language of the e-mail"),
        choices=DeliveryLanguage.choices,
        initial=DeliveryLanguage.PL,
        required=False,
    )

    def delivery_data(self) -> dict[str, str]:
        data = self.cleaned_data
        if getattr(self, "direction", Direction.SALES) != Direction.SALES:
            return {}
        return {
            "delivery_email": data.get("delivery_email") or "",
            "delivery_language": data.get("delivery_language") or DeliveryLanguage.PL,
        }


class InvoiceForm(DeliveryFieldsMixin, PartyFieldsMixin):
    """Wystaw (sales, numbered by the series) and Dodaj (purchase, number typed in)."""

    number = forms.CharField(label=_("Invoice number"), max_length=256)
    issue_date = forms.DateField(
        label=_("Issue date"),
        initial=_today,
        widget=_date_widget(),
        validators=[_within(INVOICE_DATES), _not_in_the_future],
    )
    sale_date = forms.DateField(
        label=_("Sale date"), required=False, widget=_date_widget(), validators=[_within(INVOICE_DATES)]
    )
    period_from = forms.DateField(
        label=_("Billing period from"),
        required=False,
        widget=_date_widget(),
        validators=[_within(INVOICE_DATES)],
        help_text=_("For services billed per period (e.g. a month): the period replaces the sale date."),
    )
    period_to = forms.DateField(
        label=_("Billing period to"),
        required=False,
        widget=_date_widget(),
        validators=[_within(INVOICE_DATES)],
    )
    place_of_issue = forms.CharField(label=_("Place of issue"), max_length=256, required=False)
    currency = forms.CharField(
        label=_("Currency"),
        max_length=3,
        initial="PLN",
        widget=forms.TextInput(attrs={"list": "currencies", "autocomplete": "off", "size": 4}),
    )
    exchange_rate = AmountField(
        label=_("Exchange rate to PLN"),
        required=False,
        max_digits=12,
        decimal_places=6,
        help_text=_("Only for a foreign currency: PLN for one unit."),
    )
    payment_method = forms.TypedChoiceField(
        label=_("Payment method"),
        choices=[("", "—"), *PaymentMethod.choices],
        coerce=int,
        empty_value=None,
        required=False,
        initial=PaymentMethod.TRANSFER,
    )
    due_date = forms.DateField(
        label=_("Due date"), required=False, widget=_date_widget(), validators=[_within(DUE_DATES)]
    )
    paid_on = forms.DateField(
        label=_("Paid in full on"),
        required=False,
        widget=_date_widget(),
        help_text=_("Fill in when the buyer has already paid (cash, card, prepayment): the invoice says so."),
    )
    bank_account = forms.CharField(label=_("Bank account"), max_length=64, required=False)
    split_payment = forms.BooleanField(label=_("Split payment (MPP)"), required=False)
    cash_accounting = forms.BooleanField(
        label=_("Cash accounting (metoda kasowa)"),
        required=False,
        help_text=_("For a small taxpayer who settles VAT when paid: the invoice must say so."),
    )
    self_billing = forms.BooleanField(
        label=_("Self-billing (samofakturowanie)"),
        required=False,
        help_text=_("The buyer issues this invoice in the seller's name, by their agreement."),
    )
    third_role = forms.TypedChoiceField(
        label=_("Role of the other party"),
        choices=[("", _("— none —")), *ThirdPartyRole.choices],
        coerce=int,
        empty_value=None,
        required=False,
        help_text=_(
            "A recipient, payer or another party the invoice must name besides the buyer (Podmiot3)."
        ),
    )
    third_name = forms.CharField(label=_("Name"), max_length=512, required=False, validators=[_one_line])
    third_nip = forms.CharField(
        label=_("NIP"),
        max_length=16,
        required=False,
        validators=[validate_nip],
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    third_foreign_id = forms.CharField(
        label=_("VAT-UE or foreign tax number"), max_length=50, required=False, validators=[_one_line]
    )
    third_address_line1 = forms.CharField(
        label=_("Address line 1"), max_length=512, required=False, validators=[_one_line]
    )
    third_address_line2 = forms.CharField(
        label=_("Address line 2"), max_length=512, required=False, validators=[_one_line]
    )
    third_country_code = forms.CharField(label=_("Country code"), max_length=2, required=False, initial="PL")
    related_parties = forms.BooleanField(
        label=_("Related parties (TP)"),
        required=False,
        help_text=_(
            "The buyer and the seller are related within the meaning of the VAT act (JPK_VAT marker TP)."
        ),
    )
    partial_amount = AmountField(
        label=_("Partly paid: amount"),
        required=False,
        max_digits=18,
        decimal_places=2,
        min_value=Decimal("0.01"),
    )
    partial_paid_on = forms.DateField(
        label=_("Partly paid on"),
        required=False,
        widget=_date_widget(),
        help_text=_("When the buyer has paid part of the price: the invoice shows the amount and the date."),
    )
    notes = forms.CharField(
        label=_("Notes"), max_length=3500, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    exemption_basis = forms.ChoiceField(
        label=_("Exemption from VAT under"),
        choices=ExemptionBasis.choices,
        required=False,
        help_text=_("Only for lines at the exempt (zw) rate."),
    )
    exemption_text = forms.CharField(
        label=_("Legal basis of the exemption"),
        max_length=256,
        required=False,
        help_text=_("E.g. art. 43 ust. 1 pkt 37 ustawy o VAT, or art. 113 ust. 1 (exempt by turnover)."),
    )
    prices_gross = forms.BooleanField(
        label=_("Prices include VAT (ceny brutto)"),
        required=False,
        help_text=_(
            "Type gross prices: the VAT of each rate is taken out of the rate's gross total "
            "(art. 106e ust. 7-8), as a shop that prices gross does."
        ),
    )
    margin_scheme = forms.ChoiceField(
        label=_("Margin scheme (procedura marży)"),
        choices=MarginScheme.choices,
        required=False,
        help_text=_(
            "Every line is then sold in the scheme: type the price the buyer pays; the invoice shows no VAT "
            "rate or amount (art. 106e ust. 2-3)."
        ),
    )
    discount_percent = AmountField(
        label=_("Discount on the whole invoice %"),
        required=False,
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal(100),
        help_text=_("Taken off every line (shown in each line's discount, P_10)."),
    )
    discount_amount = AmountField(
        label=_("Discount on the whole invoice (amount)"),
        required=False,
        max_digits=18,
        decimal_places=2,
        min_value=Decimal("0.01"),
        help_text=_("Spread over the lines in proportion to their values; gross when prices are gross."),
    )
    kind = forms.ChoiceField(
        label=_("Kind of invoice"),
        choices=[
            (InvoiceKind.VAT, _("Ordinary VAT invoice")),
            (InvoiceKind.ZAL, _("Advance invoice (zaliczkowa)")),
            (InvoiceKind.ROZ, _("Final invoice settling advances (rozliczeniowa)")),
        ],
        initial=InvoiceKind.VAT,
        required=False,  # not given: a VAT invoice (and what other clients of the form post)
        widget=forms.RadioSelect,
    )
    advance_amount = AmountField(
        label=_("Advance received (gross)"),
        required=False,
        max_digits=18,
        decimal_places=2,
        min_value=Decimal("0.01"),
        help_text=_(
            "An advance invoice: the lines are the order; this is the payment received. The sale date is "
            "the day it was received."
        ),
    )
    advances = forms.MultipleChoiceField(
        label=_("Advance invoices settled"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("A final invoice: the lines are the whole sale; the advances are deducted from it."),
    )
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)
    offline24 = forms.BooleanField(
        label=_("Issue offline (offline24 mode)"),
        required=False,
        help_text=_("With two QR codes; sent to KSeF automatically by the end of the next business day."),
    )

    def __init__(
        self,
        *args: Any,
        direction: str = Direction.SALES,
        advance_choices: list[tuple[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        """``advance_choices`` (uuid, label) of the advance invoices a final invoice may settle: given only
        on Wystaw, where the kind of invoice is chosen; without it the form issues or edits a VAT invoice."""
        super().__init__(*args, **kwargs)
        self.direction = direction
        if advance_choices is None or direction != Direction.SALES:
            for name in ("kind", "advance_amount", "advances"):
                del self.fields[name]
        else:
            self.fields["advances"].choices = advance_choices  # type: ignore[attr-defined]
        if direction != Direction.SALES:
            del self.fields["offline24"]
        if direction == Direction.SALES:
            del self.fields["number"]
            self.fields["name"].label = _("Buyer name")
        else:
            self.fields["name"].label = _("Seller name")
            self.fields["nip"].help_text = _("The seller's NIP.")
            self.fields["bank_account"].label = _("Seller's bank account")

    def clean_currency(self) -> str:
        code = self.cleaned_data["currency"].strip().upper()
        if not _CURRENCY.match(code):
            raise forms.ValidationError(_("Enter a three-letter currency code, e.g. PLN or EUR."))
        return code

    def clean_bank_account(self) -> str:
        value: str = self.cleaned_data.get("bank_account", "")
        return value.replace(" ", "").upper()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        currency = cleaned.get("currency")
        rate = cleaned.get("exchange_rate")
        if currency and currency != "PLN" and rate is None:
            self.add_error(
                "exchange_rate", _("An invoice in a foreign currency needs the exchange rate to PLN.")
            )
        if rate is not None and rate <= 0:
            self.add_error("exchange_rate", _("The exchange rate must be greater than zero."))
        issue, due, sale = cleaned.get("issue_date"), cleaned.get("due_date"), cleaned.get("sale_date")
        if issue and due and due < issue:
            self.add_error("due_date", _("The due date cannot be before the issue date."))
        if issue and sale and abs((sale - issue).days) > 366:
            self.add_error("sale_date", _("The sale date is more than a year away from the issue date."))
        start, end = cleaned.get("period_from"), cleaned.get("period_to")
        if bool(start) != bool(end) and "period_from" not in self.errors and "period_to" not in self.errors:
            self.add_error(
                "period_to" if start else "period_from", _("Give both ends of the billing period.")
            )
        elif start and end and end < start:
            self.add_error("period_to", _("The period cannot end before it starts."))
        elif start and end and (end - start).days > 366:
            self.add_error("period_to", _("A billing period of more than a year is not accepted."))
        kind = cleaned.get("kind")
        if (
            kind == InvoiceKind.ZAL
            and cleaned.get("advance_amount") is None
            and "advance_amount" not in self.errors
        ):
            self.add_error("advance_amount", _("Enter the advance received (gross)."))
        if kind == InvoiceKind.ROZ and not cleaned.get("advances") and "advances" not in self.errors:
            self.add_error("advances", _("Choose the advance invoices this final invoice settles."))
        if cleaned.get("discount_percent") and cleaned.get("discount_amount"):
            self.add_error(
                "discount_amount", _("Give the discount either as a percent or as an amount, not both.")
            )
        if kind in (InvoiceKind.ZAL, InvoiceKind.ROZ):
            for name in ("prices_gross", "margin_scheme", "discount_percent", "discount_amount"):
                if cleaned.get(name) and name not in self.errors:
                    self.add_error(name, _NOT_ON_ADVANCES)
        if cleaned.get("third_role") is not None and not cleaned.get("third_name", "").strip():
            self.add_error("third_name", _("Enter the other party's name."))
        third_country = (cleaned.get("third_country_code") or "PL").strip().upper()
        if cleaned.get("third_role") is not None and not _COUNTRY.match(third_country):
            self.add_error("third_country_code", _("Enter a two-letter country code, e.g. PL."))
        part, part_on = cleaned.get("partial_amount"), cleaned.get("partial_paid_on")
        if (part is None) != (part_on is None) and not {"partial_amount", "partial_paid_on"} & set(
            self.errors
        ):
            self.add_error(
                "partial_paid_on" if part is not None else "partial_amount",
                _("Give both the amount paid and the day it was paid."),
            )
        elif part_on and part_on > timezone.localdate():
            self.add_error("partial_paid_on", _("A payment date cannot be in the future."))
        if part is not None and cleaned.get("paid_on"):
            self.add_error("partial_amount", _("The invoice is marked as paid in full: leave this empty."))
        paid = cleaned.get("paid_on")
        if paid and paid > timezone.localdate():
            self.add_error("paid_on", _("A payment date cannot be in the future."))
        elif paid and issue and abs((paid - issue).days) > 366:
            self.add_error("paid_on", _("The payment date is more than a year away from the issue date."))
        return cleaned

    def invoice_data(self, lines: list[LineData]) -> InvoiceData:
        data = self.cleaned_data
        return InvoiceData(
            party=self.party_data(),
            lines=lines,
            issue_date=data["issue_date"],
            sale_date=data.get("sale_date"),
            period_from=data.get("period_from"),
            period_to=data.get("period_to"),
            place_of_issue=data.get("place_of_issue", ""),
            currency=data["currency"],
            exchange_rate=data.get("exchange_rate"),
            payment_method=data.get("payment_method"),
            due_date=data.get("due_date"),
            paid_on=data.get("paid_on"),
            bank_account=data.get("bank_account", ""),
            split_payment=data.get("split_payment", False),
            cash_accounting=data.get("cash_accounting", False),
            self_billing=data.get("self_billing", False),
            related_parties=data.get("related_parties", False),
            third_parties=(
                ThirdPartyData(
                    role=data["third_role"],
                    party=PartyData(
                        name=data.get("third_name", ""),
                        nip=nip_normalize(data.get("third_nip", "")),
                        foreign_id=data.get("third_foreign_id", ""),
                        address_line1=data.get("third_address_line1", ""),
                        address_line2=data.get("third_address_line2", ""),
                        country_code=(data.get("third_country_code") or "PL").strip().upper(),
                    ),
                ),
            )
            if data.get("third_role") is not None
            else (),
            partial_payments=(PartialPayment(data["partial_amount"], data["partial_paid_on"]),)
            if data.get("partial_amount") is not None and data.get("partial_paid_on")
            else (),
            notes=data.get("notes", ""),
            number=data.get("number", ""),
            idempotency_key=data["idempotency_key"],
            ksef_offline_mode="offline24" if data.get("offline24") else "",
            exemption_basis=data.get("exemption_basis", ""),
            exemption_text=data.get("exemption_text", ""),
            prices_gross=bool(data.get("prices_gross")),
            margin_scheme=data.get("margin_scheme") or "",
            discount_percent=data.get("discount_percent"),
            discount_amount=data.get("discount_amount"),
            kind=data.get("kind") or InvoiceKind.VAT,
            advance_amount=data.get("advance_amount") if data.get("kind") == InvoiceKind.ZAL else None,
            advances=tuple(uuid.UUID(value) for value in data.get("advances") or ())
            if data.get("kind") == InvoiceKind.ROZ
            else (),
            **self.delivery_data(),
        )


class LineForm(forms.Form):
    name = forms.CharField(label=_("Name of goods or service"), max_length=512)
    quantity = AmountField(
        label=_("Quantity"), max_digits=22, decimal_places=6, min_value=Decimal(0), initial=1
    )
    unit = forms.CharField(label=_("Unit"), max_length=32, required=False, initial=_("pcs"))
    unit_price = AmountField(label=_("Net price"), max_digits=22, decimal_places=8, min_value=Decimal(0))
    vat_rate = forms.ChoiceField(label=_("VAT rate"), choices=VatRate.choices, initial=VatRate.R23)
    discount_percent = AmountField(
        label=_("Discount %"),
        required=False,
        max_digits=5,
        decimal_places=2,
        min_value=Decimal(0),
        max_value=Decimal(100),
    )
    gtu = forms.ChoiceField(label=_("GTU"), choices=[("", "—"), *Gtu.choices], required=False)
    annex15 = forms.BooleanField(
        label=_("Annex 15 (MPP)"),
        required=False,
        help_text=_("Goods or services of Annex 15: above 15,000 PLN gross the invoice gets split payment."),
    )
    procedure = forms.ChoiceField(
        label=_("Procedure"), choices=[("", "—"), *Procedure.choices], required=False
    )
    pkwiu = forms.CharField(label=_("PKWiU"), max_length=50, required=False, validators=[_one_line])
    cn = forms.CharField(label=_("CN"), max_length=50, required=False, validators=[_one_line])
    gtin = forms.CharField(
        label=_("GTIN (EAN)"),
        max_length=20,
        required=False,
        validators=[_one_line],
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    index = forms.CharField(label=_("Product code"), max_length=50, required=False, validators=[_one_line])
    sale_date = forms.DateField(
        label=_("Sale date of this line"),
        required=False,
        widget=_date_widget(),
        validators=[_within(INVOICE_DATES)],
        help_text=_("Only when it differs from the invoice's sale date."),
    )

    def has_changed(self) -> bool:
        # A row is blank when it has neither a name nor a price, whatever its unit, quantity or rate say;
        # blank extra rows are skipped, not reported as errors.
        if not self.is_bound:
            return super().has_changed()
        return any(str(self.data.get(self.add_prefix(name), "")).strip() for name in ("name", "unit_price"))

    def line_data(self) -> LineData:
        data = self.cleaned_data
        return LineData(
            name=data["name"],
            quantity=data["quantity"],
            unit_price=data["unit_price"],
            vat_rate=data["vat_rate"],
            unit=data.get("unit", ""),
            discount_percent=data.get("discount_percent") or None,
            gtu=data.get("gtu", ""),
            annex15=data.get("annex15", False),
            procedure=data.get("procedure", ""),
            pkwiu=data.get("pkwiu", ""),
            cn=data.get("cn", ""),
            gtin=data.get("gtin", ""),
            index=data.get("index", ""),
            sale_date=data.get("sale_date"),
        )


class BaseLineFormSet(forms.BaseFormSet):
    def line_forms(self) -> list[forms.Form]:
        """The forms that are lines, in the order of :meth:`lines` (an issue's line index points here)."""
        return [
            form
            for form in self.forms
            # extra rows left blank are valid with empty cleaned_data; they are not lines
            if getattr(form, "cleaned_data", None) and not form.cleaned_data.get("DELETE")
        ]

    def lines(self) -> list[LineData]:
        return [form.line_data() for form in self.line_forms()]  # type: ignore[attr-defined]

    def full_clean(self) -> None:
        super().full_clean()
        # Django's own "at most N forms" wording names forms, not lines.
        if self.is_bound and self.total_form_count() > MAX_LINES:
            self._non_form_errors = self.error_class(
                [_("An invoice here can have at most %(count)s lines.") % {"count": MAX_LINES}],
                renderer=self.renderer,  # type: ignore[attr-defined]
            )

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        if not self.lines():
            raise forms.ValidationError(_("Add at least one line to the invoice."))


LineFormSet: type[BaseLineFormSet] = forms.formset_factory(  # type: ignore[assignment]
    LineForm,
    formset=BaseLineFormSet,
    extra=0,
    min_num=1,
    max_num=MAX_LINES,
    absolute_max=MAX_LINES + 1,
    validate_max=True,
    can_delete=True,
)


class CorrectionForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the correction"),
        max_length=256,
        help_text=_("E.g. a price discount, a returned item, a wrong quantity."),
    )
    issue_date = forms.DateField(
        label=_("Correction issue date"),
        initial=_today,
        widget=_date_widget(),
        validators=[_within(INVOICE_DATES), _not_in_the_future],
    )
    notes = forms.CharField(
        label=_("Notes"), max_length=3500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    exemption_basis = InvoiceForm.base_fields["exemption_basis"]
    exemption_text = InvoiceForm.base_fields["exemption_text"]
    advance_amount = AmountField(
        label=_("Advance after the correction (gross)"),
        max_digits=18,
        decimal_places=2,
        min_value=Decimal(0),
        help_text=_(
            "The payment received as it should be: less when part of it was given back, 0 when all of it "
            "was. The lines below are the order after the correction."
        ),
    )
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, advance: bool = False, **kwargs: Any) -> None:
        """``advance``: the form corrects an advance invoice (KOR_ZAL) and asks for the advance after."""
        super().__init__(*args, **kwargs)
        if not advance:
            del self.fields["advance_amount"]

    def correction_data(self, lines: list[LineData]) -> CorrectionData:
        data = self.cleaned_data
        return CorrectionData(
            reason=data["reason"],
            lines=lines,
            issue_date=data["issue_date"],
            notes=data.get("notes", ""),
            idempotency_key=data["idempotency_key"],
            exemption_basis=data.get("exemption_basis", ""),
            exemption_text=data.get("exemption_text", ""),
            advance_amount=data.get("advance_amount"),
        )


class FilterForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=[("", _("all")), *InvoiceKind.choices], required=False)
    status = forms.ChoiceField(
        label=_("KSeF status"),
        choices=[
            ("", _("all")),
            *KsefStatus.choices,
            ("waiting", _("waiting for KSeF")),
            ("problem", _("rejected or stopped")),
        ],
        required=False,
    )
    date_from = forms.DateField(label=_("Issued from"), required=False, widget=_date_widget())
    date_to = forms.DateField(label=_("Issued to"), required=False, widget=_date_widget())
    contractor = forms.CharField(
        label=_("Contractor"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("name or NIP")}),
    )
    amount_from = AmountField(label=_("Gross from"), required=False, max_digits=18, decimal_places=2)
    amount_to = AmountField(label=_("Gross to"), required=False, max_digits=18, decimal_places=2)
    only_new = forms.BooleanField(label=_("Only new (not opened yet)"), required=False)

    def filters(self, direction: str) -> InvoiceFilters:
        data = self.cleaned_data if self.is_valid() else {}
        return InvoiceFilters(
            direction=direction,
            kind=data.get("kind") or "",
            ksef_status=data.get("status") or "",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            contractor=data.get("contractor") or "",
            amount_from=data.get("amount_from"),
            amount_to=data.get("amount_to"),
            only_new=bool(data.get("only_new")) and direction == Direction.PURCHASE,
        )

    def is_filtered(self) -> bool:
        return self.is_valid() and any(v not in (None, "", False) for v in self.cleaned_data.values())
