"""Login throttling (django-axes): 5 failures for one e-mail from one address lock that pair for 15 min."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
URL = "/logowanie/"


def _login(client: Client, email: str, password: str, ip: str = "203.0.113.7") -> Any:
    return client.post(URL, {"username": email, "password": password}, REMOTE_ADDR=ip)


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def _fail(client: Client, email: str, times: int, ip: str = "203.0.113.7") -> list[int]:
    return [_login(client, email, "wrong-password-123", ip).status_code for _ in range(times)]


def test_five_failures_lock_the_account_from_that_address_with_a_polish_page(
    client: Client, alice: User
) -> None:
    assert _fail(client, "alice@example.com", 4) == [200] * 4
    locked = _login(client, "alice@example.com", "wrong-password-123")
    assert locked.status_code == 429
    html = locked.content.decode()
    assert "Zbyt wiele prób logowania" in html
    assert "zablokowane na 15 min" in html
    assert "/haslo/reset/" in html
    # Even the right password is refused while the lock lasts, with the same page (never a 500).
    right = _login(client, "alice@example.com", PASSWORD)
    assert right.status_code == 429
    assert "Zbyt wiele prób logowania" in right.content.decode()
    assert not _logged_in(client)


def test_the_lock_is_per_email_and_address_and_ignores_letter_case(client: Client, alice: User) -> None:
    assert _fail(client, "ALICE@example.com", 3) == [200] * 3
    assert _fail(client, "Alice@Example.com", 2) == [200, 429]
    # Another address is not locked out: someone guessing from elsewhere cannot lock Alice out everywhere.
    assert _login(Client(), "alice@example.com", PASSWORD, ip="198.51.100.9").status_code == 302


def test_other_people_on_the_same_address_still_log_in(client: Client, alice: User, bob: User) -> None:
    assert _fail(client, "alice@example.com", 5)[-1] == 429
    other = Client()
    assert _login(other, "bob@example.com", PASSWORD).status_code == 302
    assert _logged_in(other)


def test_after_fifteen_minutes_the_right_password_works_again(client: Client, alice: User) -> None:
    _fail(client, "alice@example.com", 5)
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(minutes=14))
    assert _login(client, "alice@example.com", PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(minutes=16))
    response = _login(client, "alice@example.com", PASSWORD)
    assert response.status_code == 302
    assert _logged_in(client)


def test_a_success_resets_the_counter(client: Client, alice: User) -> None:
    assert _fail(client, "alice@example.com", 4) == [200] * 4
    assert _login(client, "alice@example.com", PASSWORD).status_code == 302
    client.logout()
    assert _fail(client, "alice@example.com", 4) == [200] * 4


def test_attempts_are_visible_in_admin_and_never_store_the_password(client: Client, alice: User) -> None:
    _fail(client, "alice@example.com", 5)
    _login(client, "alice@example.com", PASSWORD)
    staff = User.objects.create_superuser(email="staff@example.com", password="staff-password-1")
    admin = Client()
    admin.force_login(staff)
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert "alice@example.com" in listing.content.decode()
    dump = io.StringIO()
    call_command("dumpdata", "axes", stdout=dump)
    assert "alice@example.com" in dump.getvalue()
    assert PASSWORD not in dump.getvalue()
    assert "wrong-password-123" not in dump.getvalue()
