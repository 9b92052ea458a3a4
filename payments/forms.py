"""Forms of the purchase inbox: its filters, the pay file, the statement upload, the approver, comments."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Company, Membership
from payments import inbox
from payments.models import COMMENT_MAX, PaymentFileFormat, PurchaseStatus
from payments.paying import STATEMENT_MAX_BYTES
from payments.transfers.accounts import nrb_normalize
from payments.transfers.errors import PaymentFileError


class InboxFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("all but rejected")), *PurchaseStatus.choices, ("all", _("all, rejected too"))],
    )
    seller = forms.CharField(label=_("Seller (name or NIP)"), required=False, max_length=100)
    due = forms.ChoiceField(
        label=_("Due date"),
        required=False,
        choices=[("", _("any")), ("overdue", _("overdue")), ("soon", _("due within 7 days"))],
    )
    unread = forms.BooleanField(label=_("Only unread by me"), required=False)

    def filters(self) -> inbox.InboxFilters:
        if not self.is_valid():
            return inbox.InboxFilters()
        data = self.cleaned_data
        return inbox.InboxFilters(
            status=data["status"], seller=data["seller"], due=data["due"], unread=data["unread"]
        )


class PayForm(forms.Form):
    payer_account = forms.CharField(
        label=_("Pay from the account (NRB)"),
        max_length=40,
        help_text=_("The company's account the bank debits; taken from the latest sales invoice."),
    )
    execution_date = forms.DateField(
        label=_("Execution date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    file_format = forms.ChoiceField(
        label=_("File format"),
        choices=PaymentFileFormat.choices,
        initial=PaymentFileFormat.ELIXIR,
        widget=forms.RadioSelect,
    )
    collective = forms.BooleanField(
        label=_("One transfer for all invoices of one seller"),
        required=False,
        help_text=_(
            "Invoices of one seller to one account are paid with one transfer for their total; its title is "
            "the collective identifier KSeF gives for them (or their KSeF numbers if KSeF refuses one)."
        ),
    )

    def clean_payer_account(self) -> str:
        value: str = self.cleaned_data["payer_account"]
        try:
            return nrb_normalize(value, field="payer_account")
        except PaymentFileError as exc:
            raise forms.ValidationError(str(exc.problems[0].message)) from None

    def clean_execution_date(self) -> dt.date:
        value: dt.date = self.cleaned_data["execution_date"]
        today = timezone.localdate()
        if value < today:
            raise forms.ValidationError(_("The execution date cannot be in the past."))
        if value > today + dt.timedelta(days=90):
            raise forms.ValidationError(_("Banks take transfers dated at most 90 days ahead."))
        return value


class StatementForm(forms.Form):
    statement = forms.FileField(
        label=_("Bank statement (MT940 or camt.053)"),
        error_messages={"required": _("Choose the statement file.")},
    )

    def clean_statement(self) -> Any:
        uploaded = self.cleaned_data["statement"]
        if getattr(uploaded, "size", 0) > STATEMENT_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(size)s MB; a daily statement is far smaller.")
                % {"size": STATEMENT_MAX_BYTES // (1024 * 1024)}
            )
        return uploaded


class InboxSettingsForm(forms.Form):
    approver = forms.ModelChoiceField(
        label=_("Approver"),
        queryset=Membership.objects.none(),
        required=False,
        empty_label=_("nobody: owners and accountants accept"),
        help_text=_("When set, only this person (and owners) accept invoices; others send them to approval."),
    )

    def __init__(self, *args: Any, company: Company, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["approver"]
        assert isinstance(field, forms.ModelChoiceField)  # noqa: S101
        field.queryset = inbox.approver_choices(company=company)
        field.label_from_instance = lambda m: f"{m.user.email} ({m.get_role_display()})"  # type: ignore[method-assign,assignment]


class CommentForm(forms.Form):
    text = forms.CharField(
        label=_("Comment"), max_length=COMMENT_MAX, widget=forms.Textarea(attrs={"rows": 2})
    )
