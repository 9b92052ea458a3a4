from django.urls import path

from ksef_simulator.api import security_keys

urlpatterns = [
    path("security/public-key-certificates", security_keys.public_key_certificates),
]
