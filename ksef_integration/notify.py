"""The one notifier of the KSeF integration: who is told about a company's KSeF matters, and how.

Who: the company's active owners and accountants with an e-mail address, the people who can act on an
invoice KSeF refused, a deadline of an offline invoice or an import that keeps failing. How: an e-mail queued
when the transaction commits (``queue.notify``) and sent by the ``ksef.notify`` task, which retries when the
mail server does not answer; so nothing is ever sent while a worker holds a company's lock, and a slow mail
server never holds up sending invoices to KSeF.
"""

from __future__ import annotations

from django.core.mail import send_mail

from accounts.models import Membership, Role
from ksef_integration import queue
from ksefportal.mail import email_subject

TOLD = (Role.OWNER, Role.ACCOUNTANT)


def recipients(*, company_id: int) -> list[str]:
    """The addresses told about the company's KSeF matters, sorted, each once."""
    return sorted(
        set(
            Membership.objects.filter(company_id=company_id, role__in=TOLD, user__is_active=True)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )


def company_notify(*, company_id: int, subject: str, body: str) -> None:
    """Tell the company's people (``recipients``): queued on commit, sent by a retrying task."""
    queue.notify(company_id=company_id, subject=subject, body=body)


def notification_send(*, company_id: int, subject: str, body: str) -> int:
    """The ``ksef.notify`` task's work: send the e-mail now; returns how many were addressed. Errors of the
    mail server propagate, so that the task retries."""
    emails = recipients(company_id=company_id)
    if emails:
        send_mail(email_subject(subject), body, None, emails)
    return len(emails)
