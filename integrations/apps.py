from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = _("Integrations")

    def ready(self) -> None:
        from integrations.webhooks import receivers
        from invoices.signals import (
            invoice_imported,
            invoice_offline_deadline,
            invoice_rejected,
            invoices_accepted,
        )

        # Each receiver records the events of the companies that have webhook endpoints and queues their
        # delivery on commit; nothing else listens for these on behalf of webhooks.
        invoices_accepted.connect(receivers.on_invoices_accepted, dispatch_uid="integrations.accepted")
        invoice_rejected.connect(receivers.on_invoice_rejected, dispatch_uid="integrations.rejected")
        invoice_imported.connect(receivers.on_invoice_imported, dispatch_uid="integrations.imported")
        invoice_offline_deadline.connect(
            receivers.on_invoice_offline_deadline, dispatch_uid="integrations.offline_deadline"
        )
