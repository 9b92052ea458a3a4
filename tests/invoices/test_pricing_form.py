"""Issue 19: Wystaw refuses what cannot be issued with gross prices, a margin scheme or an invoice discount,
with the message at the field, and takes no number."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from accounts.models import Company
from invoices.models import Invoice
from tests.sending.test_fa3_cases import CASES, _form

pytestmark = pytest.mark.django_db

PLAIN = CASES[0]  # two lines, 200.00 and 12.30 before their own discounts


@pytest.mark.parametrize(
    ("typed", "field"),
    [
        ({"discount_percent": "5", "discount_amount": "1"}, "discount_amount"),  # both
        ({"discount_amount": "1000"}, "discount_amount"),  # more than the lines (191.07)
        ({"discount_percent": "100,01"}, "discount_percent"),
        ({"discount_percent": "0"}, "discount_percent"),
        ({"discount_amount": "-3"}, "discount_amount"),
        ({"margin_scheme": "P_PMarzy_2"}, "margin_scheme"),  # not one of the choices
        ({"kind": "ZAL", "advance_amount": "10", "margin_scheme": "used_goods"}, "margin_scheme"),
        ({"kind": "ZAL", "advance_amount": "10", "prices_gross": "on"}, "prices_gross"),
        ({"kind": "ZAL", "advance_amount": "10", "discount_percent": "5"}, "discount_percent"),
    ],
)
def test_refused_at_the_field(
    alice_client: Any, company_a: Company, typed: dict[str, str], field: str
) -> None:
    response = alice_client.post(reverse("invoices:issue"), _form(PLAIN) | typed)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert all(message.strip() for message in errors[field])
    assert not Invoice.objects.filter(company=company_a).exists()


def test_the_form_offers_the_choices(alice_client: Any) -> None:
    html = alice_client.get(reverse("invoices:issue")).content.decode()
    for name in ("prices_gross", "margin_scheme", "discount_percent", "discount_amount"):
        assert f'name="{name}"' in html
    for scheme in ("travel", "used_goods", "art", "antiques"):
        assert f'value="{scheme}"' in html
