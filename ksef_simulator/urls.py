from django.urls import path

from ksef_simulator import views

app_name = "ksef_simulator"

urlpatterns = [
    path("", views.index, name="index"),
]
