from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = _("Payments")

    def ready(self) -> None:
        from invoices.signals import invoice_imported
        from invoices.visualisation import set_payment_panel_provider
        from payments.receivers import on_invoice_imported
        from payments.views import purchase_invoice_panels

        # A purchase invoice above 15,000 PLN imported from KSeF is checked on the VAT white list.
        invoice_imported.connect(on_invoice_imported, dispatch_uid="payments.whitelist_check")
        # The purchase invoice's page shows where it stands in the inbox (and marks it read for the one who
        # opened it), then the white-list checks with the "Sprawdź na białej liście" button.
        set_payment_panel_provider(purchase_invoice_panels)
