from django.apps import AppConfig


class KsefSimulatorConfig(AppConfig):
    name = "ksef_simulator"
    verbose_name = "KSeF simulator"
