from django.urls import path

from invoices import views

app_name = "invoices"

urlpatterns = [
    path("", views.document_list, name="list"),
    path("wystaw/", views.invoice_issue, name="issue"),
    path("dodaj/", views.document_add, name="add"),
    path("rejestry/", views.vat_registers, name="registers"),
    path("rejestry/csv/", views.vat_register_download, {"fmt": "csv"}, name="registers_csv"),
    path("rejestry/xlsx/", views.vat_register_download, {"fmt": "xlsx"}, name="registers_xlsx"),
    path("kontrahent/", views.contractor_lookup, name="contractor_lookup"),
    path("statusy/", views.document_statuses, name="statuses"),
    path("<uuid:invoice_uuid>/", views.invoice_detail, name="detail"),
    path("<uuid:invoice_uuid>/podglad/", views.invoice_preview, name="preview"),
    path("<uuid:invoice_uuid>/ksef/", views.invoice_ksef_card, name="ksef_card"),
    path("<uuid:invoice_uuid>/pdf/", views.invoice_pdf, name="pdf"),
    path("<uuid:invoice_uuid>/korekta/", views.invoice_correct, name="correct"),
    path("<uuid:invoice_uuid>/popraw/", views.invoice_edit, name="edit"),
]
