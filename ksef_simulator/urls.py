from django.urls import include, path

from ksef_simulator.api import control

app_name = "ksef_simulator"

urlpatterns = [
    # Pages playing "Aplikacja Podatnika KSeF": log in as a NIP, tokens, certificates, test data.
    path("", include("ksef_simulator.pages.urls")),
    # Pre-signed downloads and uploads (UPO, export parts, batch parts), outside the API like KSeF's storage.
    path("storage/", include("ksef_simulator.storage")),
    path("v2/", include("ksef_simulator.api.urls")),
    path("api/v2/", include("ksef_simulator.api.urls")),  # the legacy prefix some docs still show
    # A stand-in for the Ministry of Finance's VAT white list API (wl-api.mf.gov.pl), not part of KSeF.
    path("wl-api/", include("ksef_simulator.whitelist")),
    # The simulator's own controls (faults, delays, switches); not part of KSeF's API.
    path("control/config", control.config, name="control-config"),
    path("control/faults", control.fault_rules, name="control-faults"),
    path("control/reset", control.reset, name="control-reset"),
    path("control/peppol-providers", control.peppol_providers, name="control-peppol-providers"),
]
