"""Uprawnienia in Chromium, as an owner walks it: Dane i ustawienia → KSeF → Uprawnienia, grant an accounting
office the right to view invoices, watch the page (its htmx poll) show the office once the worker's part has
run against the simulator, and the polling stop. Screenshots go to test-artifacts/ (uprawnienia-*.png)."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Company, User
from ksef_integration import queue, tasks
from ksef_integration.models import PermissionChange
from tests.conftest import PASSWORD, screenshot
from tests.factories import valid_nip

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page: Any, user: User) -> None:
    page.goto("/logowanie/")
    page.get_by_label("Adres e-mail").fill(user.email)
    page.get_by_label("Hasło").fill(PASSWORD)
    page.get_by_role("button", name="Zaloguj się").click()
    page.wait_for_url("**/")


def test_owner_grants_an_office_and_sees_it_listed(
    page: Any, managing: Company, alice: User, queued: Any
) -> None:
    _log_in(page, alice)
    page.goto("/ustawienia/ksef/")
    page.locator("#permissions-link a").click()
    page.wait_for_url("**/ustawienia/ksef/uprawnienia/")
    for (company_id,) in queued.args(queue.PERMISSIONS_REFRESH):  # the worker reads KSeF's list
        assert tasks.permissions_refresh(company_id) == "refreshed"
    page.locator("#permissions-read-at").wait_for()

    office = valid_nip()
    page.locator("#id_office-nip").fill(office)
    page.locator("#id_office-name").fill("Biuro Rachunkowe Liczykrupa sp. z o.o.")
    assert page.locator("#id_office-invoice_read").is_checked()
    page.locator("#grant-office-submit").click()
    page.locator('#permission-changes [data-status="pending"]').wait_for()
    assert page.locator("#permissions-live").get_attribute("hx-trigger") == "every 2s"
    screenshot(page, "uprawnienia-01-w-toku")

    change = PermissionChange.objects.get(company=managing)
    assert tasks.permission_change(change.pk) == PermissionChange.Status.DONE  # the worker's part
    listed = page.locator(f'#permissions-entities [data-identifier="{office}"]')
    listed.wait_for(timeout=20_000)  # the poll brings it without a reload
    assert "Biuro Rachunkowe Liczykrupa" in listed.inner_text()
    assert page.locator('#permission-changes [data-status="done"]').count() == 1
    assert page.locator("#permissions-live").get_attribute("hx-trigger") is None  # the polling stopped
    screenshot(page, "uprawnienia-02-nadane")
