"""The signed login request the owner uploads in "Przejdź na certyfikat KSeF"."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from ksef_integration.enrollment.signed_request import MAX_SIGNED_BYTES


class SignedRequestForm(forms.Form):
    signed_request = forms.FileField(
        label=_("Signed request (.xml)"),
        error_messages={"required": _("Choose the signed request file (.xml).")},
    )

    def clean_signed_request(self) -> object:
        uploaded = self.cleaned_data["signed_request"]
        if getattr(uploaded, "size", 0) > MAX_SIGNED_BYTES:
            raise forms.ValidationError(_("The file is too large to be a signed KSeF request (max 2 MB)."))
        return uploaded
