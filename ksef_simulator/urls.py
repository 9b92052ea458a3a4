from django.urls import include, path

from ksef_simulator import views

app_name = "ksef_simulator"

urlpatterns = [
    path("", views.index, name="index"),
    path("v2/", include("ksef_simulator.api.urls")),
    path("api/v2/", include("ksef_simulator.api.urls")),  # the legacy prefix some docs still show
]
