"""Forms for signing up, logging in, company data and inviting people."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _
from stdnum.pl import regon

from accounts.emails import validate_email_letters
from accounts.identifiers import person_identifier_clean
from accounts.models import Role, User
from accounts.nip import nip_normalize, validate_nip
from accounts.services import CompanyData
from accounts.signals import KsefPerson

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_LINE_BREAK = re.compile(r"[\r\n\v\f\x85\u2028\u2029]")


def validate_single_line(value: str) -> None:
    """A name or an address line is one line: a line break in it would break every e-mail subject and
    invoice header it goes into."""
    if _LINE_BREAK.search(value or ""):
        raise forms.ValidationError(_("Enter this on one line, without line breaks."), code="line_break")


class CompanyFieldsMixin(forms.Form):
    company_name = forms.CharField(label=_("Company name"), max_length=512, validators=[validate_single_line])
    nip = forms.CharField(
        label=_("NIP"),
        max_length=16,
        validators=[validate_nip],
        help_text=_("10 digits; dashes and spaces are fine."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    address_line1 = forms.CharField(
        label=_("Address line 1"),
        max_length=512,
        help_text=_("Street, building and unit number"),
        validators=[validate_single_line],
    )
    address_line2 = forms.CharField(
        label=_("Address line 2"),
        max_length=512,
        required=False,
        help_text=_("Postal code and city"),
        validators=[validate_single_line],
    )
    country_code = forms.CharField(
        label=_("Country code"), initial="PL", widget=forms.TextInput(attrs={"maxlength": 2, "size": 2})
    )

    def clean_nip(self) -> str:
        return nip_normalize(self.cleaned_data["nip"])

    def clean_country_code(self) -> str:
        code = self.cleaned_data["country_code"].strip().upper()
        if not _COUNTRY.match(code):
            raise forms.ValidationError(_("Enter a two-letter country code, e.g. PL."))
        return code

    def company_data(self) -> CompanyData:
        data = self.cleaned_data
        return CompanyData(
            name=data["company_name"],
            nip=data["nip"],
            address_line1=data["address_line1"],
            address_line2=data.get("address_line2", ""),
            country_code=data["country_code"],
            email=data.get("company_email", ""),
            phone=data.get("company_phone", ""),
            krs=data.get("krs", ""),
            regon=data.get("regon", ""),
            bdo=data.get("bdo", ""),
        )


class PasswordPairMixin(forms.Form):
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 10 characters; not only digits and not a common password."),
    )
    password2 = forms.CharField(
        label=_("Repeat the password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def _password_user(self) -> User:
        return User(
            email=self.cleaned_data.get("email", ""), full_name=self.cleaned_data.get("full_name", "")
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        p1, p2 = cleaned.get("password1"), cleaned.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", _("The two passwords differ."))
        elif p1:
            try:
                password_validation.validate_password(p1, self._password_user())
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


class SignUpForm(PasswordPairMixin, CompanyFieldsMixin):
    email = forms.EmailField(
        label=_("E-mail address"),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        validators=[validate_email_letters],
    )
    full_name = forms.CharField(label=_("Full name"), max_length=150, validators=[validate_single_line])

    field_order = [
        "email",
        "full_name",
        "password1",
        "password2",
        "company_name",
        "nip",
        "address_line1",
        "address_line2",
        "country_code",
    ]

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(
                _("An account with this e-mail address already exists. Log in or reset your password.")
            )
        return email


class CompanyCreateForm(CompanyFieldsMixin):
    pass


def _digits(value: str) -> str:
    return "".join(ch for ch in value if not ch.isspace() and ch != "-")


class CompanyForm(CompanyFieldsMixin):
    company_email = forms.EmailField(label=_("Company e-mail"), required=False)
    company_phone = forms.CharField(
        label=_("Company phone"), max_length=32, required=False, validators=[validate_single_line]
    )
    krs = forms.CharField(
        label=_("KRS number"),
        max_length=16,
        required=False,
        help_text=_("Companies in the National Court Register: 10 digits. Printed in the invoices' footer."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    regon = forms.CharField(
        label=_("REGON"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    bdo = forms.CharField(
        label=_("BDO number"),
        max_length=12,
        required=False,
        help_text=_("The waste database number, for those who must show it on invoices."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def clean_krs(self) -> str:
        value = _digits(self.cleaned_data.get("krs", ""))
        if value and not re.fullmatch(r"[0-9]{10}", value):
            raise forms.ValidationError(_("A KRS number has 10 digits, e.g. 0000123456."))
        return value

    def clean_regon(self) -> str:
        value = _digits(self.cleaned_data.get("regon", ""))
        if value and not regon.is_valid(value):
            raise forms.ValidationError(_("This is not a valid REGON (9 or 14 digits with a check digit)."))
        return value

    def clean_bdo(self) -> str:
        value = _digits(self.cleaned_data.get("bdo", ""))
        if value and not re.fullmatch(r"[0-9]{1,9}", value):
            raise forms.ValidationError(_("A BDO number has up to 9 digits."))
        return value


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("E-mail address"), widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )
    error_messages = {
        "invalid_login": _("Wrong e-mail address or password."),
        "inactive": _("This account is inactive."),
    }


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"), validators=[validate_email_letters])
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.ACCOUNTANT)
    ksef_grant = forms.BooleanField(
        label=_("Also grant KSeF permissions (viewing and issuing invoices)"),
        required=False,
        help_text=_("For an accountant: KSeF Portal asks KSeF to grant them once the invitation is created."),
    )
    ksef_identifier = forms.CharField(
        label=_("The person's PESEL or NIP"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    ksef_first_name = forms.CharField(
        label=_("First name (for KSeF)"), max_length=30, required=False, validators=[validate_single_line]
    )
    ksef_last_name = forms.CharField(
        label=_("Last name (for KSeF)"), max_length=81, required=False, validators=[validate_single_line]
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("ksef_grant"):
            return data
        if data.get("role") != Role.ACCOUNTANT:
            self.add_error("ksef_grant", _("KSeF permissions are granted here to accountants only."))
            return data
        if data.get("ksef_identifier"):
            try:
                kind, value = person_identifier_clean(data["ksef_identifier"])
            except forms.ValidationError as exc:
                self.add_error("ksef_identifier", exc)
            else:
                data["ksef_identifier"] = value
                data["ksef_identifier_type"] = kind
        else:
            self.add_error("ksef_identifier", _("KSeF needs the person's PESEL or NIP."))
        for name in ("ksef_first_name", "ksef_last_name"):
            if len(data.get(name, "").strip()) < 2:
                self.add_error(
                    name, _("KSeF needs the person's first and last name (at least 2 letters each).")
                )
        return data

    def ksef_person(self) -> KsefPerson | None:
        data = self.cleaned_data
        if not data.get("ksef_grant") or "ksef_identifier_type" not in data:
            return None
        return KsefPerson(
            identifier_type=data["ksef_identifier_type"],
            identifier_value=data["ksef_identifier"],
            first_name=data["ksef_first_name"].strip(),
            last_name=data["ksef_last_name"].strip(),
        )


class MemberRemoveForm(forms.Form):
    """Removing a member, optionally with their KSeF permissions (by the PESEL or NIP KSeF knows them by)."""

    ksef_revoke = forms.BooleanField(label=_("Also revoke their KSeF permissions"), required=False)
    ksef_identifier = forms.CharField(
        label=_("The person's PESEL or NIP"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("ksef_revoke"):
            return data
        if not data.get("ksef_identifier"):
            self.add_error("ksef_identifier", _("KSeF needs the person's PESEL or NIP."))
            return data
        try:
            kind, value = person_identifier_clean(data["ksef_identifier"])
        except forms.ValidationError as exc:
            self.add_error("ksef_identifier", exc)
        else:
            data["ksef_identifier"] = value
            data["ksef_identifier_type"] = kind
        return data

    def ksef_person(self) -> KsefPerson | None:
        data = self.cleaned_data
        if not data.get("ksef_revoke") or "ksef_identifier_type" not in data:
            return None
        return KsefPerson(
            identifier_type=data["ksef_identifier_type"],
            identifier_value=data["ksef_identifier"],
            first_name="",
            last_name="",
        )


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class InvitationSignUpForm(PasswordPairMixin):
    full_name = forms.CharField(label=_("Full name"), max_length=150, validators=[validate_single_line])

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def _password_user(self) -> User:
        return User(email=self.email, full_name=self.cleaned_data.get("full_name", ""))
