from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("ustawienia/integracje/", views.integrations_page, name="settings"),
    path("ustawienia/integracje/klucze/", views.key_new, name="key_new"),
    path(
        "ustawienia/integracje/klucze/<uuid:key_uuid>/uniewaznij/", views.key_revoke_view, name="key_revoke"
    ),
    path("ustawienia/integracje/webhooki/", views.endpoint_new, name="endpoint_new"),
    path("ustawienia/integracje/webhooki/<uuid:endpoint_uuid>/", views.endpoint_detail, name="endpoint"),
    path(
        "ustawienia/integracje/webhooki/<uuid:endpoint_uuid>/wlacz/",
        views.endpoint_enable,
        name="endpoint_enable",
    ),
    path(
        "ustawienia/integracje/webhooki/<uuid:endpoint_uuid>/usun/",
        views.endpoint_delete,
        name="endpoint_delete",
    ),
    path(
        "ustawienia/integracje/dostawy/<uuid:delivery_uuid>/ponow/",
        views.delivery_resend,
        name="delivery_resend",
    ),
]
