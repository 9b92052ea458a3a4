"""Staff find users and companies in Django admin by NIP and e-mail."""

from typing import Any

import pytest

from accounts.models import Company, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client: Any) -> Any:
    client.force_login(User.objects.create_superuser(email="staff@example.com", password="x"))
    return client


def test_company_search_by_nip_and_owner_email(
    staff_client: Any, company_a: Company, company_b: Company
) -> None:
    by_nip = staff_client.get("/admin/accounts/company/", {"q": company_a.nip}).content.decode()
    assert company_a.name in by_nip
    assert company_b.name not in by_nip
    by_email = staff_client.get("/admin/accounts/company/", {"q": "bob@example.com"}).content.decode()
    assert company_b.name in by_email
    assert company_a.name not in by_email


def test_user_search_by_company_nip(staff_client: Any, company_a: Company, company_b: Company) -> None:
    html = staff_client.get("/admin/accounts/user/", {"q": company_b.nip}).content.decode()
    assert "bob@example.com" in html
    assert "alice@example.com" not in html


@pytest.mark.parametrize("model", ["user", "company", "membership", "invitation"])
def test_admin_pages_open(staff_client: Any, company_a: Company, model: str) -> None:
    assert staff_client.get(f"/admin/accounts/{model}/").status_code == 200
    assert staff_client.get(f"/admin/accounts/{model}/add/").status_code == 200
