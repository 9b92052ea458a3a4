from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KsefIntegrationConfig(AppConfig):
    name = "ksef_integration"
    verbose_name = _("KSeF integration")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from accounts.signals import member_invited, member_removed
        from invoices.acceptance import set_acceptance_check
        from invoices.collective import set_collective_issuer
        from invoices.signals import invoice_edited, invoice_issued, invoices_accepted
        from invoices.visualisation import set_qr_provider, set_timeline_provider
        from ksef_integration.collective import collective_identifier_issue
        from ksef_integration.connect.signals import connection_active
        from ksef_integration.receivers import (
            on_connection_active,
            on_invoice_issued,
            on_invoices_accepted,
            on_member_invited,
            on_member_removed,
        )
        from ksef_integration.schedule import schedule_register
        from ksef_integration.sending.display import ksef_qr_codes, ksef_timeline
        from ksef_integration.sending.mapping import invoice_acceptance_issues
        from ksef_integration.sending.resend import on_invoice_edited

        # One receiver: it asks the offline package for the mode, then issues offline or queues online.
        invoice_issued.connect(on_invoice_issued, dispatch_uid="ksef_integration.issued")
        # KSeF accepted sales invoices: their buyers get them by e-mail (queued, never in the drain).
        invoices_accepted.connect(on_invoices_accepted, dispatch_uid="ksef_integration.delivery")
        connection_active.connect(on_connection_active, dispatch_uid="ksef_integration.connection_active")
        # An accountant invited with "nadaj też uprawnienia w KSeF" gets them granted (queued).
        member_invited.connect(on_member_invited, dispatch_uid="ksef_integration.member_invited")
        # A member removed with "odbierz też uprawnienia w KSeF" loses them (a revocation per grant, queued).
        member_removed.connect(on_member_removed, dispatch_uid="ksef_integration.member_removed")
        # An invoice corrected after KSeF refused it is sent again.
        invoice_edited.connect(on_invoice_edited, dispatch_uid="ksef_integration.resend")
        # Wystaw and Korekta refuse what KSeF would refuse before a number is taken.
        set_acceptance_check(invoice_acceptance_issues)
        # Zapłać's "one transfer for all" asks KSeF for a collective identifier (from payments' worker task).
        set_collective_issuer(collective_identifier_issue)
        # The invoice page and the PDF show KOD I (and KOD II) and the KSeF timeline.
        set_qr_provider(ksef_qr_codes)
        set_timeline_provider(ksef_timeline)
        # Every beat row, declared once in ksef_integration.schedule, made or repaired after each migrate.
        post_migrate.connect(schedule_register, sender=self, dispatch_uid="ksef_integration.schedule")
        _connect_worker_banner()


def _connect_worker_banner() -> None:
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
