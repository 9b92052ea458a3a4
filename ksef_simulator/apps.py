from django.apps import AppConfig


class KsefSimulatorConfig(AppConfig):
    name = "ksef_simulator"
    verbose_name = "KSeF simulator"

    def ready(self) -> None:
        from ksef_simulator import checks  # noqa: F401 (registers the deploy check)
