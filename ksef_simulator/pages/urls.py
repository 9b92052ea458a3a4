from django.urls import path

from ksef_simulator.pages import qr, views

urlpatterns = [
    path("", views.index, name="index"),
    path("wyloguj/", views.logout, name="logout"),
    path("tokeny/", views.tokens, name="tokens"),
    path("tokeny/generuj/", views.token_generate, name="token_generate"),
    path("tokeny/wygenerowany/", views.token_generated, name="token_generated"),
    path("tokeny/<str:reference>/uniewaznij/", views.token_revoke, name="token_revoke"),
    path("certyfikaty/", views.certificates, name="certificates"),
    path("certyfikaty/pobierz/<str:part>/", views.certificate_download, name="certificate_download"),
    path("faktury/", views.invoices, name="invoices"),
    path("dane-testowe/", views.test_data, name="test_data"),
    path("pomoc/", views.guide, name="guide"),
    path("weryfikacja-qr/", qr.qr_verify, name="qr_verify"),
]
