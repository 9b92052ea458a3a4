from django.urls import path

from ksef_integration.connect import views
from ksef_integration.importing import views as views_import_failures
from ksef_integration.offline import views as views_offline
from ksef_integration.sending import views as views_resend

app_name = "ksef_integration"

urlpatterns = [
    path("uslugi-dodatkowe/ksef/", views.landing, name="landing"),
    path("uslugi-dodatkowe/ksef/uruchom/", views.choose, name="choose"),
    path("uslugi-dodatkowe/ksef/token/", views.token, name="token"),
    path("uslugi-dodatkowe/ksef/certyfikat/", views.certificate, name="certificate"),
    path("uslugi-dodatkowe/ksef/gotowe/", views.done, name="done"),
    path("uslugi-dodatkowe/ksef/instrukcja/", views.guide, name="guide"),
    path("ustawienia/ksef/", views.settings_page, name="settings"),
    path("ustawienia/ksef/rozlacz/", views.disconnect, name="disconnect"),
    path("ustawienia/ksef/sprawdz/", views.verify, name="verify"),
    path("ustawienia/ksef/pobierz-teraz/", views.import_now, name="import_now"),
    path("ustawienia/ksef/powiadomienia/", views.import_digest, name="import_digest"),
    path(
        "ustawienia/ksef/nie-zaimportowane/<uuid:failure_uuid>/xml/",
        views_import_failures.import_failure_xml,
        name="import_failure_xml",
    ),
    path(
        "ustawienia/ksef/nie-zaimportowane/<uuid:failure_uuid>/ponow/",
        views_import_failures.import_failure_retry,
        name="import_failure_retry",
    ),
    path(
        "ustawienia/ksef/certyfikat-offline/", views_offline.offline_certificate, name="offline_certificate"
    ),
    path(
        "ustawienia/ksef/certyfikat-offline/usun/",
        views_offline.offline_certificate_delete,
        name="offline_certificate_delete",
    ),
    path(
        "dokumenty/<uuid:invoice_uuid>/korekta-techniczna/",
        views_offline.invoice_technical_correction,
        name="invoice_technical_correction",
    ),
    path("dokumenty/niewyslane/", views.unsent, name="unsent"),
    path("dokumenty/niewyslane/baner/", views.unsent_banner, name="unsent_banner"),
    path("dokumenty/<uuid:invoice_uuid>/xml/", views.invoice_xml, name="invoice_xml"),
    path("dokumenty/<uuid:invoice_uuid>/upo/", views.invoice_upo, name="invoice_upo"),
    path("dokumenty/<uuid:invoice_uuid>/wyslij-do-ksef/", views.invoice_send, name="invoice_send"),
    path(
        "dokumenty/<uuid:invoice_uuid>/wyslij-ponownie/",
        views_resend.invoice_resend_view,
        name="invoice_resend",
    ),
]
