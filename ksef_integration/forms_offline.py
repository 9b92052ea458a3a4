"""The Offline certificate upload (Dane i ustawienia → KSeF → Certyfikat offline)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from ksef_integration.forms import _CredentialFile


class OfflineCertificateForm(forms.Form):
    certificate = _CredentialFile(
        label=_("Offline certificate (.crt, .pem or .cer)"),
        error_messages={"required": _("Choose the Offline certificate file downloaded from KSeF.")},
    )
    private_key = _CredentialFile(
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
