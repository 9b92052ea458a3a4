from django.urls import path

from invoices import views

app_name = "invoices"

urlpatterns = [
    path("", views.document_list, name="list"),
    path("wystaw/", views.invoice_issue, name="issue"),
    path("dodaj/", views.document_add, name="add"),
]
