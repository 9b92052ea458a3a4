"""The token sunset campaign (issue 18, ksef-api.md §21), with the clock moved against ``KSEF_TOKEN_SUNSET``:
reminders 30, 14, 7 and 1 day before it (and one notice after), each once per company and threshold however
the daily beat runs, never for a certificate connection; the notice with the one switch button on Start and
Dane i ustawienia → KSeF; the admin's "Firmy na tokenie" and its reminder action, which only queues; and a
token connection shown as expired (not failed) after the sunset, with no login tried with the token."""

from __future__ import annotations

import datetime as dt
import re
import threading
from typing import Any

import pytest
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Company, Role, User
from ksef_integration import queue
from ksef_integration.connect import gateway, sunset
from ksef_integration.connect.selectors import connection_state
from ksef_integration.encryption import secret_encrypt
from ksef_integration.models import (
    AuditEvent,
    AuthMethod,
    ConnectionStatus,
    KsefConnection,
    SunsetReminder,
)
from ksef_integration.notify import notification_send
from ksef_integration.schedule import schedule_register
from tests.conftest import add_member
from tests.factories import CompanyFactory, active_connection

pytestmark = pytest.mark.django_db(transaction=True)

SUNSET = dt.date(2026, 12, 31)
TASK = "ksef.token_sunset_reminders"
ADMIN_LIST = "/admin/ksef_integration/tokenconnection/"


def certificate_connection(company: Company) -> KsefConnection:
    return active_connection(
        company,
        method=AuthMethod.CERTIFICATE,
        token_ciphertext="",
        token_last4="",
        private_key_ciphertext=secret_encrypt(b"not-a-real-key"),
        certificate_serial="0123456789ABCDEF",
    )


def thresholds(company: Company) -> list[int | None]:
    """The company's reminders by threshold, ascending; those staff sent by hand (None) last."""
    values = SunsetReminder.objects.filter(company=company).values_list("days_before", flat=True)
    return sorted(values, key=lambda days: (days is None, days or 0))


def sunset_in(settings: Any, days: int) -> None:
    """Move the clock: today is ``days`` before the sunset (negative: after it)."""
    settings.KSEF_TOKEN_SUNSET = timezone.localdate() + dt.timedelta(days=days)


def element(html: str, element_id: str) -> str:
    """The opening tag and text of the element with ``element_id`` (up to its closing tag)."""
    match = re.search(rf'<(\w+)[^>]*id="{element_id}"[^>]*>.*?</\1>', html, re.S)
    assert match, f"#{element_id} not on the page"
    return match.group(0)


@pytest.fixture
def staff_client(client: Client) -> Client:
    client.force_login(User.objects.create_superuser(email="staff@example.com", password="x"))
    return client


# --- reminders ---------------------------------------------------------------------------------------------


@override_settings(KSEF_TOKEN_SUNSET=SUNSET)
def test_each_reminder_goes_out_once_at_its_threshold_and_never_for_a_certificate(
    company_a: Company, company_b: Company, settings: Any
) -> None:
    active_connection(company_a)
    certificate_connection(company_b)
    add_member(company_a, Role.ACCOUNTANT, "accountant@example.com")
    add_member(company_a, Role.VIEWER, "viewer@example.com")
    mails_on: dict[int, list[Any]] = {}
    for days in range(45, -4, -1):  # a daily beat from 45 days before to 3 days after, each day run twice
        mail.outbox.clear()
        day = SUNSET - dt.timedelta(days=days)
        first = sunset.reminders_send(today=day)
        assert sunset.reminders_send(today=day) == 0
        assert first == len(mail.outbox)
        if mail.outbox:
            mails_on[days] = list(mail.outbox)

    assert sorted(mails_on) == [-1, 1, 7, 14, 30]
    assert all(len(mails) == 1 for mails in mails_on.values())
    for message in (mails[0] for mails in mails_on.values()):
        assert message.to == ["accountant@example.com", "alice@example.com"]  # the notifier's one rule
        assert company_a.name in message.subject
        assert "31.12.2026" in message.body
        assert message.body.count(settings.SITE_URL.rstrip("/") + sunset.switch_url()) == 1
    assert re.search(r"\b7\b", mails_on[7][0].subject)
    assert thresholds(company_a) == [0, 1, 7, 14, 30]
    assert thresholds(company_b) == []


@override_settings(KSEF_TOKEN_SUNSET=SUNSET)
def test_a_missed_day_sends_the_most_urgent_reminder_and_never_an_earlier_one(company_a: Company) -> None:
    active_connection(company_a)
    assert sunset.reminders_send(today=SUNSET - dt.timedelta(days=40)) == 0
    # Connected by token 20 days before: the first reminder, telling the days actually left.
    assert sunset.reminders_send(today=SUNSET - dt.timedelta(days=20)) == 1
    assert re.search(r"\b20\b", str(mail.outbox[-1].subject))
    # The beat did not run between 19 and 6 days before: only the 7-day reminder, not the 14-day one.
    assert sunset.reminders_send(today=SUNSET - dt.timedelta(days=5)) == 1
    assert sunset.reminders_send(today=SUNSET - dt.timedelta(days=4)) == 0
    assert sunset.reminders_send(today=SUNSET) == 1  # the last day: the 1-day reminder, late
    assert thresholds(company_a) == [1, 7, 30]
    # Should the sunset move, the campaign runs again for the new date.
    with override_settings(KSEF_TOKEN_SUNSET=SUNSET + dt.timedelta(days=365)):
        assert sunset.reminders_send(today=SUNSET + dt.timedelta(days=365 - 30)) == 1


def test_a_company_that_left_the_token_gets_no_reminder(company_a: Company, company_b: Company) -> None:
    with override_settings(KSEF_TOKEN_SUNSET=SUNSET):
        active_connection(company_a, status=ConnectionStatus.ATTENTION)  # still on a token: told
        active_connection(
            company_b, status=ConnectionStatus.DISCONNECTED, token_ciphertext="", permissions=[]
        )
        assert sunset.reminders_send(today=SUNSET - dt.timedelta(days=14)) == 1
    assert thresholds(company_a) == [14]
    assert thresholds(company_b) == []


def test_the_database_keeps_each_threshold_once(company_a: Company) -> None:
    SunsetReminder.objects.create(company=company_a, sunset=SUNSET, days_before=7)
    with pytest.raises(IntegrityError), transaction.atomic():
        SunsetReminder.objects.create(company=company_a, sunset=SUNSET, days_before=7)
    # Reminders staff send by hand are a log, not a threshold: any number of them.
    SunsetReminder.objects.create(company=company_a, sunset=SUNSET)
    SunsetReminder.objects.create(company=company_a, sunset=SUNSET)
    assert thresholds(company_a) == [7, None, None]


@override_settings(KSEF_TOKEN_SUNSET=SUNSET)
def test_two_beats_at_once_send_each_reminder_once(postgres_and_redis: None) -> None:
    companies: list[Company] = [CompanyFactory.create() for _ in range(6)]
    for company in companies:
        active_connection(company)
        add_member(company, Role.OWNER, f"owner-{company.nip}@example.com")
    start = threading.Barrier(2)
    counts: list[int] = []

    def beat() -> None:
        try:
            start.wait()
            counts.append(sunset.reminders_send(today=SUNSET - dt.timedelta(days=14)))
        finally:
            connection.close()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == len(companies)
    assert len(mail.outbox) == len(companies)
    assert SunsetReminder.objects.count() == len(companies)


def test_the_daily_beat_is_declared_once_and_runs_the_reminders(company_a: Company, settings: Any) -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from ksef_integration.tasks import token_sunset_reminders
    from ksefportal.celery import app

    PeriodicTask.objects.filter(task=TASK).delete()
    schedule_register()
    schedule_register()  # idempotent
    task = PeriodicTask.objects.get(task=TASK)
    assert task.enabled
    assert (task.interval.every, task.interval.period) == (1, IntervalSchedule.DAYS)
    assert TASK in app.tasks
    sunset_in(settings, 7)
    active_connection(company_a)
    assert token_sunset_reminders() == 1
    assert token_sunset_reminders() == 0
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


# --- pages -------------------------------------------------------------------------------------------------


def test_start_and_settings_show_the_days_left_and_the_one_switch_button(
    alice_client: Client, company_a: Company, settings: Any
) -> None:
    sunset_in(settings, 12)
    active_connection(company_a)
    # The button's one target: the certificate wizard.
    assert (
        sunset.switch_url()
        == reverse(sunset.SWITCH_URL_NAME)
        == reverse("ksef_integration:certificate_switch")
    )
    for url in (reverse("accounts:start"), reverse("ksef_integration:settings")):
        html = alice_client.get(url).content.decode()
        notice = element(html, "token-sunset")
        assert 'data-days-left="12"' in notice
        assert "data-expired" not in notice
        assert re.search(rf'id="certificate-switch" href="{re.escape(sunset.switch_url())}"', notice)
        assert html.count('id="certificate-switch"') == 1
        assert "12" in re.sub(r"<[^>]+>", "", notice)


def test_no_notice_for_a_certificate_and_no_button_for_a_viewer(
    company_a: Company, company_b: Company, bob: User, settings: Any
) -> None:
    sunset_in(settings, 12)
    active_connection(company_a)
    certificate_connection(company_b)
    bob_client = Client()
    bob_client.force_login(bob)
    for url in (reverse("accounts:start"), reverse("ksef_integration:settings")):
        assert 'id="token-sunset"' not in bob_client.get(url).content.decode()
    viewer = add_member(company_a, Role.VIEWER, "viewer@example.com").user
    viewer_client = Client()
    viewer_client.force_login(viewer)
    html = viewer_client.get(reverse("accounts:start")).content.decode()
    assert 'id="token-sunset"' in html
    assert 'id="certificate-switch"' not in html


def test_after_the_sunset_the_token_is_shown_expired_not_failed(
    alice_client: Client, company_a: Company, settings: Any
) -> None:
    connection = active_connection(company_a)
    import_now = reverse("ksef_integration:import_now")
    assert import_now in alice_client.get(reverse("ksef_integration:settings")).content.decode()
    sunset_in(settings, -1)
    with translation.override("pl"):
        expired = sunset.expired_text()
    assert settings.KSEF_TOKEN_SUNSET.strftime("%d.%m.%Y") in expired
    state = connection_state(company=company_a)
    assert (state.code, state.ok) == ("token_expired", False)
    start = alice_client.get(reverse("accounts:start")).content.decode()
    assert expired in element(start, "start-ksef-status")
    page = alice_client.get(reverse("ksef_integration:settings")).content.decode()
    assert expired in element(page, "ksef-status")
    for html in (start, page):
        notice = element(html, "token-sunset")
        assert "data-expired" in notice
        assert f'href="{sunset.switch_url()}"' in notice
    assert import_now not in page  # importing is paused: no "Pobierz teraz"
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.ACTIVE  # not "needs attention": nothing failed
    assert connection.token_expired
    assert not connection.can_import


def test_after_the_sunset_no_login_is_tried_with_a_token(
    alice_client: Client, company_a: Company, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(**_kwargs: Any) -> Any:
        raise AssertionError("a login with a KSeF token after the sunset")

    monkeypatch.setattr(gateway, "token_login", refuse)
    sunset_in(settings, -1)
    connection = active_connection(company_a)
    # "Sprawdź połączenie": says why, marks nothing.
    response = alice_client.post(reverse("ksef_integration:verify"), follow=True)
    assert settings.KSEF_TOKEN_SUNSET.strftime("%d.%m.%Y") in response.content.decode()
    connection.refresh_from_db()
    assert (connection.status, connection.attention_reason) == (ConnectionStatus.ACTIVE, "")
    # A new token is refused before KSeF is asked.
    response = alice_client.post(reverse("ksef_integration:token"), {"token": "x" * 40})
    assert response.status_code == 200
    assert 'id="token-sunset-passed"' in response.content.decode()
    assert AuditEvent.objects.filter(company=company_a, data__code="token_sunset").exists()
    connection.refresh_from_db()
    assert connection.token_last4 == "oken"  # the stored token was left as it was


# --- admin ------------------------------------------------------------------------------------------------


def test_admin_lists_the_companies_on_a_token_with_the_days_left(
    staff_client: Client, company_a: Company, company_b: Company, settings: Any
) -> None:
    sunset_in(settings, 9)
    active_connection(company_a)
    certificate_connection(company_b)
    gone: Company = CompanyFactory.create()
    active_connection(gone, status=ConnectionStatus.DISCONNECTED, token_ciphertext="", permissions=[])
    response = staff_client.get(ADMIN_LIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert company_a.nip in html
    assert company_b.nip not in html
    assert gone.nip not in html
    assert re.search(r'<td class="field-days_left">9</td>', html)
    row = KsefConnection.objects.get(company=company_a)
    assert staff_client.get(f"{ADMIN_LIST}{row.pk}/change/").status_code == 200

    sunset_in(settings, -2)
    html = staff_client.get(ADMIN_LIST).content.decode()
    assert settings.KSEF_TOKEN_SUNSET.strftime("%d.%m.%Y") in element(html, "result_list")


def test_admin_reminder_action_only_queues_the_notifier(
    staff_client: Client,
    company_a: Company,
    company_b: Company,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sunset_in(settings, 20)
    token_row = active_connection(company_a)
    certificate_row = certificate_connection(company_b)
    published: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(queue, "publish", lambda name, args, options: published.append((name, args)))

    response = staff_client.post(
        ADMIN_LIST, {"action": "send_reminder", "_selected_action": [token_row.pk]}, follow=True
    )
    assert response.status_code == 200
    assert mail.outbox == []  # nothing is sent inside the request
    assert [(name, args[0]) for name, args in published] == [(queue.NOTIFY, company_a.pk)]
    reminder = SunsetReminder.objects.get(company=company_a)
    assert reminder.days_before is None
    assert reminder.sent_by is not None
    assert reminder.sent_by.email == "staff@example.com"
    # What the notifier's task then sends:
    _name, (company_id, subject, body) = published[0]
    assert notification_send(company_id=company_id, subject=subject, body=body) == 1
    assert mail.outbox[0].to == ["alice@example.com"]
    assert sunset.switch_url() in mail.outbox[0].body
    # A certificate connection cannot be reminded (it is not on the list, nor taken by the service).
    assert not sunset.reminder_send_now(connection=certificate_row, user=None)
    # A reminder by hand does not use up the beat's threshold.
    assert sunset.reminders_send() == 1
    assert thresholds(company_a) == [30, None]
