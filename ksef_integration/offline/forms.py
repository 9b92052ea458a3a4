"""The Offline certificate upload (Dane i ustawienia → KSeF → Certyfikat offline)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from ksef_integration.connect.forms import CertificateConnectForm, CredentialFileField


class OfflineCertificateForm(CertificateConnectForm):
    """The same files as the connecting certificate; only what the certificate is differs."""

    certificate = CredentialFileField(
        label=_("Offline certificate (.crt, .pem or .cer)"),
        error_messages={"required": _("Choose the Offline certificate file downloaded from KSeF.")},
    )
