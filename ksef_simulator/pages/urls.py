from django.urls import path

from ksef_simulator.pages import qr, views

urlpatterns = [
    path("", views.index, name="index"),
    path("wyloguj/", views.logout, name="logout"),
    path("tokeny/", views.tokens, name="tokens"),
    path("tokeny/generuj/", views.token_generate, name="token_generate"),
    path("tokeny/wygenerowany/", views.token_generated, name="token_generated"),
    path("tokeny/<str:reference>/uniewaznij/", views.token_revoke, name="token_revoke"),
    path("uprawnienia/", views.permissions, name="permissions"),
    path("uprawnienia/osoba/", views.permission_grant_person, name="permission_grant_person"),
    path("uprawnienia/podmiot/", views.permission_grant_entity, name="permission_grant_entity"),
    path("uprawnienia/<str:permission_id>/odbierz/", views.permission_revoke, name="permission_revoke"),
    path("certyfikaty/", views.certificates, name="certificates"),
    path("certyfikaty/pobierz/<str:part>/", views.certificate_download, name="certificate_download"),
    path("faktury/", views.invoices, name="invoices"),
    path("dane-testowe/", views.test_data, name="test_data"),
    path("pomoc/", views.guide, name="guide"),
    path("weryfikacja-qr/", qr.qr_verify, name="qr_verify"),
]
