from django.urls import path

from payments import views

app_name = "payments"

urlpatterns = [
    path("<uuid:invoice_uuid>/biala-lista/", views.whitelist_check, name="whitelist_check"),
    path(
        "<uuid:invoice_uuid>/biala-lista/zaplac-mimo-to/", views.whitelist_override, name="whitelist_override"
    ),
]
