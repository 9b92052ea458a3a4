from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from accounts import views
from accounts.forms import EmailAuthenticationForm

app_name = "accounts"

urlpatterns = [
    path("", views.start, name="start"),
    path("rejestracja/", views.signup, name="signup"),
    path(
        "logowanie/",
        auth_views.LoginView.as_view(
            template_name="accounts/login.html",
            authentication_form=EmailAuthenticationForm,
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    path("wyloguj/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "haslo/reset/",
        auth_views.PasswordResetView.as_view(
            template_name="accounts/password_reset.html",
            email_template_name="accounts/email/password_reset.txt",
            subject_template_name="accounts/email/password_reset_subject.txt",
            extra_email_context={"site_name": settings.SITE_NAME},
            success_url=reverse_lazy("accounts:password_reset_done"),
        ),
        name="password_reset",
    ),
    path(
        "haslo/reset/wyslano/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "haslo/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="accounts/password_reset_confirm.html",
            success_url=reverse_lazy("accounts:password_reset_complete"),
        ),
        name="password_reset_confirm",
    ),
    path(
        "haslo/reset/gotowe/",
        auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html"),
        name="password_reset_complete",
    ),
    path(
        "haslo/zmiana/",
        auth_views.PasswordChangeView.as_view(
            template_name="accounts/password_change.html",
            success_url=reverse_lazy("accounts:password_change_done"),
        ),
        name="password_change",
    ),
    path(
        "haslo/zmiana/gotowe/",
        auth_views.PasswordChangeDoneView.as_view(template_name="accounts/password_change_done.html"),
        name="password_change_done",
    ),
    path("wiecej/", views.more, name="more"),
    path("uslugi-dodatkowe/", views.additional_services, name="additional_services"),
    path("ustawienia/", views.settings_hub, name="settings"),
    path("ustawienia/firma/", views.company_edit, name="company_edit"),
    path("ustawienia/uzytkownicy/", views.members, name="members"),
    path("ustawienia/uzytkownicy/<uuid:membership_uuid>/rola/", views.member_role, name="member_role"),
    path("ustawienia/uzytkownicy/<uuid:membership_uuid>/usun/", views.member_remove, name="member_remove"),
    path(
        "ustawienia/zaproszenia/<uuid:invitation_uuid>/usun/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path(
        "ustawienia/zaproszenia/<uuid:invitation_uuid>/wyslij-ponownie/",
        views.invitation_resend,
        name="invitation_resend",
    ),
    path("zaproszenie/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("firmy/nowa/", views.company_create, name="company_create"),
    path("firmy/<uuid:company_uuid>/przelacz/", views.company_switch, name="company_switch"),
]
