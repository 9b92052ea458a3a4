"""Staff find invoices by number, NIP and KSeF number; lines show inline."""

from typing import Any

import pytest
from django.urls import reverse

from accounts.models import Company
from invoices.models import Contractor
from tests.factories import UserFactory
from tests.invoices.factories import invoice_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client: Any) -> Any:
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    return client


def test_invoice_search_and_change_page(staff_client: Any, company_a: Company) -> None:
    wanted = invoice_make(
        company_a, number="FV/77/11/2026", ksef_number="5265877635-20261120-0100001AF629-AF"
    )
    invoice_make(company_a, number="FV/78/11/2026", buyer_nip="5260250274")
    url = reverse("admin:invoices_invoice_changelist")
    for query in ("FV/77", "5265877635-20261120-0100001AF629-AF"):
        html = staff_client.get(url, {"q": query}).content.decode()
        assert "FV/77/11/2026" in html
        assert "FV/78/11/2026" not in html
    assert "FV/78/11/2026" in staff_client.get(url, {"q": "5260250274"}).content.decode()
    assert (
        staff_client.get(url, {"ksef_status__exact": "accepted", "direction__exact": "sales"}).status_code
        == 200
    )
    change = staff_client.get(reverse("admin:invoices_invoice_change", args=[wanted.pk]))
    assert change.status_code == 200


def test_contractor_admin(staff_client: Any, company_a: Company) -> None:
    Contractor.objects.create(company=company_a, nip="5260250274", name="Klient Testowy")
    html = staff_client.get(
        reverse("admin:invoices_contractor_changelist"), {"q": "5260250274"}
    ).content.decode()
    assert "Klient Testowy" in html
