"""Routes of the invoice side: sessions, invoice statuses, UPO, queries, exports, batch.

Literal segments come before ``<reference>`` ones: Django picks the first matching path whatever the method.
"""

from django.urls import URLPattern, path

from ksef_simulator.api import batch, exports, invoices, sessions

urlpatterns: list[URLPattern] = [
    path("sessions", sessions.sessions_list),
    path("sessions/online", sessions.online_open),
    path("sessions/online/<str:reference>/invoices", sessions.online_send),
    path("sessions/online/<str:reference>/close", sessions.online_close),
    path("sessions/batch", batch.batch_open),
    path("sessions/batch/<str:reference>/close", batch.batch_close),
    path("sessions/<str:reference>", sessions.session_status),
    path("sessions/<str:reference>/invoices", sessions.session_invoices),
    path("sessions/<str:reference>/invoices/failed", sessions.session_invoices_failed),
    path("sessions/<str:reference>/invoices/ksef/<str:ksef_number>/upo", sessions.invoice_upo_by_ksef),
    path("sessions/<str:reference>/invoices/<str:invoice_reference>", sessions.session_invoice),
    path("sessions/<str:reference>/invoices/<str:invoice_reference>/upo", sessions.invoice_upo),
    path("sessions/<str:reference>/upo/<str:upo_reference>", sessions.session_upo),
    path("invoices/query/metadata", invoices.query_metadata),
    path("invoices/exports", exports.export_start),
    path("invoices/exports/<str:reference>", exports.export_status),
    path("invoices/ksef/<str:ksef_number>", invoices.invoice_download),
]
