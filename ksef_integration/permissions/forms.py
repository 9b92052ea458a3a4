"""The two "Nadaj uprawnienia" forms: to a person (PESEL or NIP) and to an accounting office (NIP). Each
carries a key minted when the page is rendered, so a double submit grants once."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.forms import validate_single_line
from accounts.identifiers import nip_clean, person_identifier_clean


class _InvoicePermissionsForm(forms.Form):
    invoice_read = forms.BooleanField(label=_("View invoices (InvoiceRead)"), required=False, initial=True)
    invoice_write = forms.BooleanField(label=_("Issue invoices (InvoiceWrite)"), required=False)
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("invoice_read") or data.get("invoice_write")):
            raise forms.ValidationError(_("Choose at least one permission."), code="no_permission")
        return data

    def permissions(self) -> list[str]:
        data = self.cleaned_data
        return [
            p
            for p, on in (("InvoiceRead", data["invoice_read"]), ("InvoiceWrite", data["invoice_write"]))
            if on
        ]


class PersonGrantForm(_InvoicePermissionsForm):
    prefix = "person"
    identifier = forms.CharField(
        label=_("PESEL or NIP"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    first_name = forms.CharField(
        label=_("First name"), min_length=2, max_length=30, validators=[validate_single_line]
    )
    last_name = forms.CharField(
        label=_("Last name"), min_length=2, max_length=81, validators=[validate_single_line]
    )
    field_order = ["identifier", "first_name", "last_name", "invoice_read", "invoice_write"]

    def clean_identifier(self) -> tuple[str, str]:
        return person_identifier_clean(self.cleaned_data["identifier"])


class OfficeGrantForm(_InvoicePermissionsForm):
    prefix = "office"
    nip = forms.CharField(
        label=_("The office's NIP"),
        max_length=16,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    name = forms.CharField(
        label=_("The office's name"), min_length=5, max_length=90, validators=[validate_single_line]
    )
    can_delegate = forms.BooleanField(label=_("May pass the permissions on to its employees"), required=False)
    field_order = ["nip", "name", "invoice_read", "invoice_write", "can_delegate"]

    def clean_nip(self) -> str:
        return nip_clean(self.cleaned_data["nip"])
