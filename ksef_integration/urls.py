from django.urls import path

from ksef_integration import views

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
    path("dokumenty/<uuid:invoice_uuid>/xml/", views.invoice_xml, name="invoice_xml"),
    path("dokumenty/<uuid:invoice_uuid>/wyslij-do-ksef/", views.invoice_send, name="invoice_send"),
]
