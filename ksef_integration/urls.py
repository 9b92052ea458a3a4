from django.urls import path

from ksef_integration import views as pages
from ksef_integration.connect import views as connect
from ksef_integration.delivery import views as delivery
from ksef_integration.enrollment import views as enrollment
from ksef_integration.importing import views as importing
from ksef_integration.office import views as office
from ksef_integration.offline import views as offline
from ksef_integration.permissions import views as permissions
from ksef_integration.sending import views as sending

app_name = "ksef_integration"

urlpatterns = [
    path("biuro/", office.office, name="office"),
    path("start/ksef/", pages.start_panel, name="start_panel"),
    path("uslugi-dodatkowe/ksef/", connect.landing, name="landing"),
    path("uslugi-dodatkowe/ksef/uruchom/", connect.choose, name="choose"),
    path("uslugi-dodatkowe/ksef/token/", connect.token, name="token"),
    path("uslugi-dodatkowe/ksef/certyfikat/", connect.certificate, name="certificate"),
    path("uslugi-dodatkowe/ksef/postep/", connect.connect_progress, name="connect_progress"),
    path("uslugi-dodatkowe/ksef/gotowe/", pages.done, name="done"),
    path("uslugi-dodatkowe/ksef/instrukcja/", connect.guide, name="guide"),
    path("ustawienia/ksef/", pages.settings_page, name="settings"),
    path("ustawienia/ksef/rozlacz/", connect.disconnect, name="disconnect"),
    path("ustawienia/ksef/sprawdz/", connect.verify, name="verify"),
    path("ustawienia/ksef/przez-biuro/", connect.via_office, name="via_office"),
    path("ustawienia/ksef/pobierz-teraz/", importing.import_now, name="import_now"),
    path("ustawienia/ksef/powiadomienia/", importing.import_digest, name="import_digest"),
    path(
        "ustawienia/ksef/nie-zaimportowane/<uuid:failure_uuid>/xml/",
        importing.import_failure_xml,
        name="import_failure_xml",
    ),
    path(
        "ustawienia/ksef/nie-zaimportowane/<uuid:failure_uuid>/ponow/",
        importing.import_failure_retry,
        name="import_failure_retry",
    ),
    path("ustawienia/ksef/przejdz-na-certyfikat/", enrollment.certificate_switch, name="certificate_switch"),
    path(
        "ustawienia/ksef/przejdz-na-certyfikat/przygotuj/",
        enrollment.certificate_switch_prepare,
        name="certificate_switch_prepare",
    ),
    path(
        "ustawienia/ksef/przejdz-na-certyfikat/<uuid:enrollment_uuid>/wniosek.xml",
        enrollment.certificate_switch_request,
        name="certificate_switch_request",
    ),
    path(
        "ustawienia/ksef/przejdz-na-certyfikat/<uuid:enrollment_uuid>/podpisany/",
        enrollment.certificate_switch_upload,
        name="certificate_switch_upload",
    ),
    path(
        "ustawienia/ksef/przejdz-na-certyfikat/<uuid:enrollment_uuid>/ponow/",
        enrollment.certificate_switch_retry,
        name="certificate_switch_retry",
    ),
    path("ustawienia/ksef/uprawnienia/", permissions.permissions_page, name="permissions"),
    path("ustawienia/ksef/uprawnienia/stan/", permissions.permissions_live, name="permissions_live"),
    path("ustawienia/ksef/uprawnienia/odswiez/", permissions.permissions_refresh, name="permissions_refresh"),
    path(
        "ustawienia/ksef/uprawnienia/nadaj-osobie/",
        permissions.permissions_grant_person,
        name="permissions_grant_person",
    ),
    path(
        "ustawienia/ksef/uprawnienia/nadaj-biuru/",
        permissions.permissions_grant_office,
        name="permissions_grant_office",
    ),
    path(
        "ustawienia/ksef/uprawnienia/<uuid:permission_id>/odbierz/",
        permissions.permissions_revoke,
        name="permissions_revoke",
    ),
    path("ustawienia/ksef/certyfikat-offline/", offline.offline_certificate, name="offline_certificate"),
    path(
        "ustawienia/ksef/certyfikat-offline/usun/",
        offline.offline_certificate_delete,
        name="offline_certificate_delete",
    ),
    path(
        "dokumenty/<uuid:invoice_uuid>/korekta-techniczna/",
        offline.invoice_technical_correction,
        name="invoice_technical_correction",
    ),
    path("dokumenty/niewyslane/", sending.unsent, name="unsent"),
    path("dokumenty/niewyslane/baner/", sending.unsent_banner, name="unsent_banner"),
    path("dokumenty/<uuid:invoice_uuid>/xml/", sending.invoice_xml, name="invoice_xml"),
    path("dokumenty/<uuid:invoice_uuid>/upo/", sending.invoice_upo, name="invoice_upo"),
    path("dokumenty/<uuid:invoice_uuid>/wyslij-do-ksef/", sending.invoice_send, name="invoice_send"),
    path("dokumenty/<uuid:invoice_uuid>/e-mail/", delivery.delivery_panel, name="delivery_panel"),
    path(
        "dokumenty/<uuid:invoice_uuid>/e-mail/wyslij-ponownie/",
        delivery.delivery_resend,
        name="delivery_resend",
    ),
    path(
        "dokumenty/<uuid:invoice_uuid>/wyslij-ponownie/",
        sending.invoice_resend_view,
        name="invoice_resend",
    ),
]
