"""Forms of the simulator's pages. Polish only: the government application has no English version."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django import forms

_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)


def nip_clean(value: str) -> str:
    """The simulator's own NIP check (it shares no code with the portal on purpose)."""
    nip = re.sub(r"[\s-]", "", value or "")
    if not re.fullmatch(r"[0-9]{10}", nip):
        raise forms.ValidationError("NIP musi składać się z 10 cyfr.")
    if sum(w * int(d) for w, d in zip(_WEIGHTS, nip, strict=False)) % 11 != int(nip[9]):
        raise forms.ValidationError("Nieprawidłowy NIP (błędna cyfra kontrolna).")
    return nip


class LoginForm(forms.Form):
    nip = forms.CharField(
        label="NIP podatnika", max_length=13, widget=forms.TextInput(attrs={"inputmode": "numeric"})
    )

    def clean_nip(self) -> str:
        return nip_clean(self.cleaned_data["nip"])


TOKEN_PERMISSIONS = [
    ("InvoiceWrite", "wystawianie faktur"),
    ("InvoiceRead", "przeglądanie faktur"),
    ("CredentialsRead", "przeglądanie uprawnień"),
    ("CredentialsManage", "zarządzanie uprawnieniami"),
    ("SubunitManage", "zarządzanie jednostkami podrzędnymi"),
    ("Introspection", "przeglądanie historii sesji"),
]


class TokenForm(forms.Form):
    name = forms.CharField(label="Nazwa tokena", max_length=100)
    description = forms.CharField(
        label="Opis tokena (max 256 znaków)",
        max_length=256,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    permissions = forms.MultipleChoiceField(
        label="Uprawnienia", choices=TOKEN_PERMISSIONS, widget=forms.CheckboxSelectMultiple
    )

    def api_description(self) -> str:
        """KSeF keeps one description of 5..256 characters; the page's name and description go into it."""
        name = self.cleaned_data["name"].strip()
        extra = self.cleaned_data.get("description", "").strip()
        text = f"{name} — {extra}" if extra else name
        return text.ljust(5, ".")[:256]


class CertificateForm(forms.Form):
    kind = forms.ChoiceField(
        label="Typ certyfikatu",
        choices=[("Authentication", "Uwierzytelnianie w KSeF"), ("Offline", "Offline (KOD II na fakturach)")],
        widget=forms.RadioSelect,
        initial="Authentication",
    )
    key_type = forms.ChoiceField(
        label="Rodzaj klucza", choices=[("EC", "EC P-256 (zalecany)"), ("RSA", "RSA 2048")], initial="EC"
    )
    password = forms.CharField(
        label="Hasło do klucza prywatnego",
        min_length=8,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Co najmniej 8 znaków. Będzie potrzebne przy wgrywaniu certyfikatu do programu.",
    )


class IncomingInvoiceForm(forms.Form):
    seller_nip = forms.CharField(label="NIP sprzedawcy (kontrahenta)", max_length=13)
    seller_name = forms.CharField(
        label="Nazwa sprzedawcy", max_length=200, initial="Kontrahent Testowy sp. z o.o."
    )
    net_amount = forms.DecimalField(
        label="Kwota netto (PLN)", min_value=Decimal("0.01"), max_digits=12, decimal_places=2
    )

    def clean_seller_nip(self) -> str:
        return nip_clean(self.cleaned_data["seller_nip"])


class GenerateInvoicesForm(forms.Form):
    count = forms.IntegerField(label="Liczba faktur", min_value=1, max_value=10_000, initial=100)
    sellers = forms.IntegerField(label="Liczba kontrahentów", min_value=1, max_value=500, initial=20)
    # <input type="date"> shows only ISO dates (YYYY-MM-DD); the locale's format would leave it empty.
    date_from = forms.DateField(
        label="Od dnia", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    date_to = forms.DateField(
        label="Do dnia", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "Data końcowa jest wcześniejsza niż początkowa.")
        if end and end > dt.datetime.now(dt.UTC).date():
            self.add_error("date_to", "Faktury nie mogą pochodzić z przyszłości.")
        return cleaned


PERSON_PERMISSIONS = [
    ("InvoiceWrite", "wystawianie faktur"),
    ("InvoiceRead", "przeglądanie faktur"),
    ("CredentialsManage", "zarządzanie uprawnieniami"),
    ("CredentialsRead", "przeglądanie uprawnień"),
    ("Introspection", "przeglądanie historii sesji"),
    ("SubunitManage", "zarządzanie jednostkami podrzędnymi"),
]
ENTITY_PERMISSIONS = [("InvoiceWrite", "wystawianie faktur"), ("InvoiceRead", "przeglądanie faktur")]
_PESEL_WEIGHTS = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)


def pesel_clean(value: str) -> str:
    pesel = re.sub(r"\s", "", value or "")
    if not re.fullmatch(r"[0-9]{11}", pesel):
        raise forms.ValidationError("PESEL musi składać się z 11 cyfr.")
    if (10 - sum(w * int(d) for w, d in zip(_PESEL_WEIGHTS, pesel, strict=False)) % 10) % 10 != int(
        pesel[10]
    ):
        raise forms.ValidationError("Nieprawidłowy PESEL (błędna cyfra kontrolna).")
    return pesel


class PersonGrantForm(forms.Form):
    """Uprawnienia → Nadaj uprawnienia osobie (PESEL or NIP)."""

    identifier_type = forms.ChoiceField(
        label="Identyfikator osoby", choices=[("Pesel", "PESEL"), ("Nip", "NIP")], widget=forms.RadioSelect
    )
    identifier = forms.CharField(label="PESEL lub NIP", max_length=13)
    first_name = forms.CharField(label="Imię", min_length=2, max_length=30)
    last_name = forms.CharField(label="Nazwisko", min_length=2, max_length=81)
    permissions = forms.MultipleChoiceField(
        label="Uprawnienia", choices=PERSON_PERMISSIONS, widget=forms.CheckboxSelectMultiple
    )
    description = forms.CharField(label="Opis uprawnienia", min_length=5, max_length=256)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        value = data.get("identifier")
        if value:
            try:
                data["identifier"] = (
                    pesel_clean(value) if data.get("identifier_type") == "Pesel" else nip_clean(value)
                )
            except forms.ValidationError as error:
                self.add_error("identifier", error)
        return data


class EntityGrantForm(forms.Form):
    """Uprawnienia → Nadaj uprawnienia podmiotowi (e.g. an accounting office, by NIP)."""

    nip = forms.CharField(label="NIP podmiotu", max_length=13)
    full_name = forms.CharField(label="Pełna nazwa podmiotu", min_length=5, max_length=90)
    permissions = forms.MultipleChoiceField(
        label="Uprawnienia", choices=ENTITY_PERMISSIONS, widget=forms.CheckboxSelectMultiple
    )
    can_delegate = forms.BooleanField(
        label="Z prawem do dalszego przekazywania (np. pracownikom biura)", required=False
    )
    description = forms.CharField(label="Opis uprawnienia", min_length=5, max_length=256)

    def clean_nip(self) -> str:
        return nip_clean(self.cleaned_data["nip"])
