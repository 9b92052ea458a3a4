from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KsefIntegrationConfig(AppConfig):
    name = "ksef_integration"
    verbose_name = _("KSeF integration")
