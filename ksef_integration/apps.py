from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KsefIntegrationConfig(AppConfig):
    name = "ksef_integration"
    verbose_name = _("KSeF integration")

    def ready(self) -> None:
        _connect_importing(self)
        _connect_offline(self)  # before sending: an offline invoice's file is built before it is queued
        _connect_sending(self)
        _connect_send_alerts(self)
        _connect_worker_banner(self)


def _connect_importing(app: AppConfig) -> None:
    """Register the beat schedule of the import fan-out (``ksef.import_due``) after every migrate."""
    from django.db.models.signals import post_migrate

    from ksef_integration.importing.schedule import schedule_register

    post_migrate.connect(schedule_register, sender=app, dispatch_uid="ksef_integration.importing_schedule")


def _connect_sending(app: AppConfig) -> None:
    """Sending: queue issued invoices, show KOD I and the KSeF timeline, keep the sweeper scheduled."""
    from django.db.models.signals import post_migrate

    from invoices.acceptance import set_acceptance_check
    from invoices.signals import invoice_issued
    from invoices.visualisation import set_qr_provider, set_timeline_provider
    from ksef_integration.sending.display import ksef_qr_codes, ksef_timeline
    from ksef_integration.sending.mapping import invoice_acceptance_issues
    from ksef_integration.sending.online import on_invoice_issued
    from ksef_integration.sending.schedule import schedule_register

    invoice_issued.connect(on_invoice_issued, dispatch_uid="ksef_integration.sending")
    set_qr_provider(ksef_qr_codes)
    set_timeline_provider(ksef_timeline)
    # Wystaw and Korekta refuse what KSeF would refuse before a number is taken.
    set_acceptance_check(invoice_acceptance_issues)
    post_migrate.connect(schedule_register, sender=app, dispatch_uid="ksef_integration.sending_schedule")


def _connect_send_alerts(app: AppConfig) -> None:
    """Stuck-invoice e-mails (beat ``ksef.send_alerts``); resending an invoice corrected after rejection."""
    from django.db.models.signals import post_migrate

    from invoices.signals import invoice_edited
    from ksef_integration.sending.alerts import schedule_register
    from ksef_integration.sending.resend import on_invoice_edited

    invoice_edited.connect(on_invoice_edited, dispatch_uid="ksef_integration.resend")
    post_migrate.connect(schedule_register, sender=app, dispatch_uid="ksef_integration.send_alerts_schedule")


def _connect_offline(app: AppConfig) -> None:
    """Offline modes (issue 8): issue offline when needed; beat probes KSeF and reminds of deadlines."""
    from django.db.models.signals import post_migrate

    from invoices.signals import invoice_issued
    from ksef_integration.offline.services import on_invoice_issued, schedule_register

    invoice_issued.connect(on_invoice_issued, dispatch_uid="ksef_integration.offline")
    post_migrate.connect(schedule_register, sender=app, dispatch_uid="ksef_integration.offline_schedule")


def _connect_worker_banner(app: AppConfig) -> None:
    """A starting worker says which KSeF it talks to: a wrong address shows in the first lines of its log."""
    from celery.signals import worker_ready

    def banner(**kwargs: object) -> None:
        import logging

        from django.conf import settings

        from ksef_integration.connect.gateway import environment

        logging.getLogger("ksef").info(
            "KSeF %s API at %s; the portal's address: %s",
            settings.KSEF_ENVIRONMENT,
            environment().api_url,
            settings.SITE_URL,
        )

    worker_ready.connect(banner, weak=False, dispatch_uid="ksef_integration.worker_banner")
