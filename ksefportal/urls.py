"""Root URL configuration."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from integrations.api.site import api
from ksefportal.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("dokumenty/", include("invoices.urls")),
    path("dokumenty/", include("payments.urls")),
    path("api/v1/", api.urls),
    path("", include("integrations.urls")),
    path("", include("ksef_integration.urls")),
    path("", include("accounts.urls")),
]

if settings.KSEF_SIMULATOR_ENABLED:
    urlpatterns.insert(0, path("ksef-sim/", include("ksef_simulator.urls")))
