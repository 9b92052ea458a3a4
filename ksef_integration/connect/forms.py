"""Forms of the KSeF guided flow and of Dane i ustawienia → KSeF."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from ksef_integration.connect.credentials import MAX_FILE_BYTES


class SecretTextInput(forms.TextInput):
    """A text field that never renders its value back: a pasted token must not reappear in HTML."""

    def format_value(self, value: object) -> None:
        return None


class TokenConnectForm(forms.Form):
    token = forms.CharField(
        label=_("Token number"),
        max_length=400,
        strip=True,
        help_text=_("generated on the ksef.mf.gov.pl website"),
        widget=SecretTextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"}),
        error_messages={
            "required": _("Paste the token generated in KSeF."),
            "max_length": _("This is not a KSeF token: it is too long."),
        },
    )


class CredentialFileField(forms.FileField):
    """An uploaded certificate or key file, refused early when it is too big to be one."""

    def clean(self, data: object, initial: object = None) -> object:
        uploaded = super().clean(data, initial)
        if uploaded is not None and getattr(uploaded, "size", 0) > MAX_FILE_BYTES:
            raise forms.ValidationError(_("The file is too large to be a certificate or a key (max 64 KB)."))
        return uploaded


class CertificateConnectForm(forms.Form):
    certificate = CredentialFileField(
        label=_("KSeF certificate (.crt, .pem or .cer)"),
        error_messages={"required": _("Choose the certificate file downloaded from KSeF.")},
    )
    private_key = CredentialFileField(
        label=_("Private key (.key or .pem)"),
        error_messages={"required": _("Choose the private key file that belongs to the certificate.")},
    )
    password = forms.CharField(
        label=_("Private key password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=_("The password you set when the certificate was issued."),
    )


INTERVAL_CHOICES = [(15, _("every 15 minutes")), (30, _("every 30 minutes")), (60, _("every hour")),
                    (240, _("every 4 hours")), (1440, _("once a day"))]  # fmt: skip


class KsefSettingsForm(forms.Form):
    auto_send = forms.BooleanField(label=_("Send sales invoices to KSeF automatically"), required=False)
    auto_import = forms.BooleanField(label=_("Import invoices from KSeF automatically"), required=False)
    import_interval_minutes = forms.TypedChoiceField(
        label=_("How often to import"), choices=INTERVAL_CHOICES, coerce=int, initial=15
    )
