"""The opt-in e-mail digest of new purchase invoices: one message per import run that brought any, sent to
each member of the company who asked for it (Dane i ustawienia → KSeF)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mass_mail
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import Membership
from invoices.formatting import money
from invoices.models import Direction, Invoice
from ksef_integration import queue
from ksef_integration.models import ImportDigestSubscription, ImportRun, SubjectType
from ksefportal.mail import email_subject

DIGEST_MAX_LINES = 100


def digest_subscribed(*, membership: Membership) -> bool:
    return ImportDigestSubscription.objects.filter(membership=membership, enabled=True).exists()


def digest_subscription_set(*, membership: Membership, enabled: bool) -> None:
    ImportDigestSubscription.objects.update_or_create(membership=membership, defaults={"enabled": enabled})


def digest_wanted(*, company_id: int) -> bool:
    return ImportDigestSubscription.objects.filter(enabled=True, membership__company_id=company_id).exists()


def digest_enqueue_on_commit(*, run: ImportRun) -> None:
    """Queue the digest of ``run`` once its invoices are committed (only IDs travel)."""
    queue.import_digest(run_id=run.pk)


def run_purchases(run: ImportRun) -> list[Invoice]:
    """The purchase invoices (Subject2) that ``run`` created, oldest issue date first."""
    until = run.finished_at or timezone.now()
    return list(
        Invoice.objects.filter(
            company_id=run.company_id,
            direction=Direction.PURCHASE,
            ksef_document__subject_type=SubjectType.SUBJECT2,
            ksef_document__imported_at__gte=run.started_at,
            ksef_document__imported_at__lte=until,
        ).order_by("issue_date", "id")
    )


def digest_send(*, run_id: int) -> int:
    """E-mail the subscribers of the run's company about its new purchase invoices; the number of e-mails."""
    run = ImportRun.objects.select_related("company").filter(pk=run_id).first()
    if run is None:
        return 0
    invoices = run_purchases(run)
    if not invoices:
        return 0
    emails = sorted(
        set(
            ImportDigestSubscription.objects.filter(
                enabled=True, membership__company_id=run.company_id, membership__user__is_active=True
            )
            .exclude(membership__user__email="")
            .values_list("membership__user__email", flat=True)
        )
    )
    if not emails:
        return 0
    company = run.company
    with translation.override("pl"):
        count = len(invoices)
        subject = ngettext(
            "KSeF: %(count)s new purchase invoice for %(company)s",
            "KSeF: %(count)s new purchase invoices for %(company)s",
            count,
        ) % {"count": count, "company": company.name}
        lines = [
            _("%(seller)s (NIP %(nip)s), invoice %(number)s, %(gross)s, due %(due)s")
            % {
                "seller": invoice.seller_name,
                "nip": invoice.seller_nip or invoice.seller_foreign_id or "—",
                "number": invoice.number,
                "gross": money(invoice.total_gross, invoice.currency).replace("\u00a0", " "),
                "due": invoice.due_date.strftime("%d.%m.%Y") if invoice.due_date else "—",
            }
            for invoice in invoices[:DIGEST_MAX_LINES]
        ]
        if count > DIGEST_MAX_LINES:
            lines.append(_("…and %(count)s more.") % {"count": count - DIGEST_MAX_LINES})
        url = settings.SITE_URL.rstrip("/") + reverse("invoices:list") + "?direction=purchase"
        body = "\n".join(
            [
                _("New purchase invoices of %(company)s arrived from KSeF:") % {"company": company.name},
                "",
                *(f"- {line}" for line in lines),
                "",
                _("See them in the portal: %(url)s") % {"url": url},
                "",
                _("You get this e-mail because you asked for it in Data and settings → KSeF."),
            ]
        )
    send_mass_mail([(email_subject(subject), body, None, [email]) for email in emails], fail_silently=False)
    return len(emails)
