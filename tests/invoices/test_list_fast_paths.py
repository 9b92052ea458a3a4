"""The Dokumenty list's cache (invoices.list_cache): only the rows and the empty filter panel are kept, in the
shared cache, under what they show and the release; the page around them is rendered for each request, so
what is said to one user (a message, their name, their role's buttons) never reaches another."""

import datetime as dt
from typing import Any

import pytest
from django.contrib.messages import constants
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache
from django.http import HttpResponse
from django.test import RequestFactory, override_settings
from django.urls import reverse

from accounts.models import Company, Role
from invoices.list_cache import rows_cache_key
from invoices.models import Invoice, KsefStatus
from invoices.selectors import InvoiceFilters, invoice_list
from tests.conftest import add_member
from tests.invoices.factories import invoice_make

pytestmark = pytest.mark.django_db


def _rendered(response: Any) -> list[str]:
    return [t.name for t in response.templates]


def test_the_rows_are_rendered_once_and_the_page_every_time(alice_client: Any, company_a: Company) -> None:
    invoice_make(company_a, number="FV/1/2026")
    first = alice_client.get(reverse("invoices:list"))
    second = alice_client.get(reverse("invoices:list"))
    assert "invoices/_document_rows.html" in _rendered(first)
    assert "invoices/_document_rows.html" not in _rendered(second)  # the rows from the cache
    assert "invoices/document_list.html" in _rendered(second)  # the page itself is never kept
    assert second.content == first.content


def test_a_changed_value_is_shown_at_once(alice_client: Any, company_a: Company) -> None:
    invoice = invoice_make(company_a, number="FV/1/2026", ksef_status=KsefStatus.QUEUED)
    assert "ksef-status--queued" in alice_client.get(reverse("invoices:list")).content.decode()
    Invoice.objects.filter(pk=invoice.pk).update(ksef_status=KsefStatus.ACCEPTED)  # no signal, no timestamp
    assert "ksef-status--accepted" in alice_client.get(reverse("invoices:list")).content.decode()
    Company.objects.filter(pk=company_a.pk).update(name="Alfa Nowa sp. z o.o.")
    assert "Alfa Nowa sp. z o.o." in alice_client.get(reverse("invoices:list")).content.decode()
    invoice_make(company_a, number="FV/2/2026", issue_date=dt.date(2026, 11, 20))
    assert "FV/2/2026" in alice_client.get(reverse("invoices:list")).content.decode()


def test_a_viewer_never_gets_an_owners_page(alice_client: Any, client: Any, company_a: Company) -> None:
    invoice_make(company_a, number="FV/1/2026")
    issue = reverse("invoices:issue")
    assert issue in alice_client.get(reverse("invoices:list")).content.decode()  # owner: "Wystaw fakturę"
    viewer = add_member(company_a, Role.VIEWER, "viewer@example.com").user
    client.force_login(viewer)
    html = client.get(reverse("invoices:list")).content.decode()
    assert "FV/1/2026" in html
    assert f'class="button" href="{issue}"' not in html


def _message_for(client: Any, text: str) -> None:
    """A message waiting for ``client``'s next page, as a view leaves one (the messages cookie)."""
    request = RequestFactory().get("/")
    storage = CookieStorage(request)
    storage.add(constants.SUCCESS, text)
    response = HttpResponse()
    storage.update(response)
    client.cookies[CookieStorage.cookie_name] = response.cookies[CookieStorage.cookie_name].value


def test_a_message_for_one_user_never_reaches_another(
    alice_client: Any, client: Any, company_a: Company
) -> None:
    invoice_make(company_a, number="FV/1/2026")
    colleague = add_member(company_a, Role.OWNER, "kolega@example.com").user
    client.force_login(colleague)
    client.get(reverse("invoices:list"))  # the same rows and filters, now cached
    _message_for(alice_client, "Faktura FV/9 zapisana (dla Alicji).")
    assert "dla Alicji" in alice_client.get(reverse("invoices:list")).content.decode()
    for _ in range(2):
        html = client.get(reverse("invoices:list")).content.decode()
        assert "FV/1/2026" in html
        assert "dla Alicji" not in html
    assert "dla Alicji" not in alice_client.get(reverse("invoices:list")).content.decode()  # shown once


def test_a_new_release_renders_the_rows_anew(alice_client: Any, company_a: Company) -> None:
    invoice_make(company_a, number="FV/1/2026")
    page = invoice_list(company=company_a, filters=InvoiceFilters())
    assert "invoices/_document_rows.html" in _rendered(alice_client.get(reverse("invoices:list")))
    assert cache.get(rows_cache_key(invoices=page.invoices, language="pl")) is not None
    with override_settings(RELEASE_KEY="the-next-release"):
        assert cache.get(rows_cache_key(invoices=page.invoices, language="pl")) is None
        assert "invoices/_document_rows.html" in _rendered(alice_client.get(reverse("invoices:list")))
        assert "invoices/_document_rows.html" not in _rendered(alice_client.get(reverse("invoices:list")))
