"""A line break in a company name neither stops the e-mails that name it (every subject goes through
``ksefportal.mail.email_subject``) nor gets in through the forms."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts import services
from accounts.models import Company, Invitation, User
from ksef_integration.models import Submission, SubmissionEvent, SubmissionStatus
from ksef_integration.sending import drain
from ksef_integration.sending.alerts import stuck_submissions_notify
from ksefportal.mail import email_subject
from tests.invoices.factories import invoice_make
from tests.sending.test_alerts import connect

pytestmark = pytest.mark.django_db
BROKEN = "Alfa\r\nsp. z o.o.\u2028Oddział\x85Kraków"


@pytest.fixture
def broken_name(company_a: Company) -> Company:
    """A name with line breaks, as stored before the forms refused them (or written by other means)."""
    Company.objects.filter(pk=company_a.pk).update(name=BROKEN)
    company_a.refresh_from_db()
    return company_a


def _one_line(subject: str) -> None:
    assert "\n" not in subject
    assert "\r" not in subject
    assert "Alfa sp. z o.o. Oddział Kraków" in subject


def test_the_invitation_is_sent_although_the_company_name_has_a_line_break(
    alice: User, broken_name: Company
) -> None:
    invitation = services.invitation_create(
        company=broken_name, email="nowy@example.com", role="viewer", invited_by=alice
    )
    mail.outbox.clear()
    assert services.invitation_send(invitation_id=invitation.pk) is True
    assert len(mail.outbox) == 1
    _one_line(str(mail.outbox[0].subject))
    assert Invitation.objects.get(pk=invitation.pk).sent_at is not None


def test_the_ksef_alert_is_sent_although_the_company_name_has_a_line_break(
    broken_name: Company, django_capture_on_commit_callbacks: Any
) -> None:
    connect(broken_name)
    submission = drain.submission_enqueue(invoice=invoice_make(broken_name))
    when = timezone.now() - dt.timedelta(minutes=90)
    SubmissionEvent.objects.filter(submission=submission).update(created_at=when)
    Submission.objects.filter(pk=submission.pk).update(
        created_at=when,
        status=SubmissionStatus.SENT,
        invoice_reference="20261125-EE-0000000000-0000000000-01",
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):  # the e-mail is queued when the run commits
        assert stuck_submissions_notify() == 1
    assert len(mail.outbox) == 1
    _one_line(str(mail.outbox[0].subject))


@settings(deadline=None)
@given(st.text())
def test_a_subject_is_always_one_line(text: str) -> None:
    subject = email_subject(text)
    assert subject.splitlines() in ([], [subject])
    assert subject == subject.strip()


@pytest.mark.parametrize("field", ["company_name", "address_line1", "address_line2"])
def test_the_company_form_refuses_line_breaks_and_keeps_the_data(
    alice_client: Any, company_a: Company, field: str
) -> None:
    data = {
        "company_name": company_a.name,
        "nip": company_a.nip,
        "address_line1": "ul. Prosta 1",
        "address_line2": "00-001 Warszawa",
        "country_code": "PL",
    }
    data[field] = "Alfa\nsp. z o.o."
    response = alice_client.post("/ustawienia/firma/", data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "without line breaks" in response.content.decode()
    company = Company.objects.get(pk=company_a.pk)
    assert "\n" not in company.name + company.address_line1 + company.address_line2
