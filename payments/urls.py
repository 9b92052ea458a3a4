from django.urls import path

from payments import views

app_name = "payments"

urlpatterns = [
    path("<uuid:invoice_uuid>/biala-lista/", views.whitelist_check, name="whitelist_check"),
    path(
        "<uuid:invoice_uuid>/biala-lista/zaplac-mimo-to/", views.whitelist_override, name="whitelist_override"
    ),
    path("<uuid:invoice_uuid>/zakup/", views.invoice_action, name="invoice_action"),
    path("do-zaplaty/", views.inbox_list, name="inbox"),
    path("do-zaplaty/akcja/", views.inbox_action, name="inbox_action"),
    path("do-zaplaty/zaplac/", views.pay, name="pay"),
    path("do-zaplaty/pliki/", views.files, name="files"),
    path("do-zaplaty/pliki/<uuid:file_uuid>/", views.file_detail, name="file"),
    path("do-zaplaty/pliki/<uuid:file_uuid>/pobierz/", views.file_download, name="file_download"),
    path("do-zaplaty/wyciag/", views.statement, name="statement"),
    path("do-zaplaty/ustawienia/", views.inbox_settings, name="settings"),
]
