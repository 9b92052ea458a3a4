"""The "nowa" marker of a purchase invoice is the company's to-do flag: an owner or an accountant opening the
invoice clears it; a viewer (podgląd) only looks, and the marker stays for those who act on it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Company, Role
from invoices.models import Direction, Invoice
from tests.conftest import add_member
from tests.invoices.factories import invoice_make

pytestmark = pytest.mark.django_db


def _new_purchase(company: Company) -> Invoice:
    invoice = invoice_make(company)
    Invoice.objects.filter(pk=invoice.pk).update(is_new=True, direction=Direction.PURCHASE)
    return Invoice.objects.get(pk=invoice.pk)


def _open_as(company: Company, role: str, invoice: Invoice) -> int:
    client = Client()
    client.force_login(add_member(company, role, f"{role}@example.com").user)
    return client.get(reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid})).status_code


def test_a_viewer_opening_a_new_invoice_leaves_it_new(company_a: Company) -> None:
    invoice = _new_purchase(company_a)
    assert _open_as(company_a, Role.VIEWER, invoice) == 200
    assert Invoice.objects.get(pk=invoice.pk).is_new


@pytest.mark.parametrize("role", [Role.ACCOUNTANT, Role.OWNER])
def test_a_member_who_acts_on_it_clears_the_marker(company_a: Company, role: str) -> None:
    invoice = _new_purchase(company_a)
    assert _open_as(company_a, role, invoice) == 200
    assert not Invoice.objects.get(pk=invoice.pk).is_new


def test_the_owner_still_sees_it_as_new_after_the_viewer_looked(
    alice_client: Any, company_a: Company
) -> None:
    invoice = _new_purchase(company_a)
    _open_as(company_a, Role.VIEWER, invoice)
    only_new = {"direction": "purchase", "only_new": "1"}
    assert invoice.number in alice_client.get(reverse("invoices:list"), only_new).content.decode()
    alice_client.get(reverse("invoices:detail", kwargs={"invoice_uuid": invoice.uuid}))
    assert invoice.number not in alice_client.get(reverse("invoices:list"), only_new).content.decode()
