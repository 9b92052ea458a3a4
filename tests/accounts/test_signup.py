"""Sign-up creates user + company + owner membership at once; bad input creates nothing."""

from typing import Any

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Company, Membership, Role, User

pytestmark = pytest.mark.django_db

GOOD = {
    "email": "Jan.Kowalski@Example.com",
    "full_name": "Jan Kowalski",
    "password1": "Zielona-Herbata-2026",
    "password2": "Zielona-Herbata-2026",
    "company_name": "Kowalski Usługi",
    "nip": "123-456-32-18",
    "address_line1": "ul. Polna 5",
    "address_line2": "30-001 Kraków",
    "country_code": "pl",
}


def _nothing_created() -> bool:
    return not User.objects.exists() and not Company.objects.exists() and not Membership.objects.exists()


def test_sign_up_creates_user_company_and_owner_and_logs_in(client: Any) -> None:
    response = client.post(reverse("accounts:signup"), GOOD)
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:start")
    user = User.objects.get()
    assert user.email == "jan.kowalski@example.com"
    company = Company.objects.get()
    assert (company.nip, company.country_code, company.address_line2) == ("1234563218", "PL", "30-001 Kraków")
    assert Membership.objects.get().role == Role.OWNER
    start = client.get(reverse("accounts:start"))
    assert start.status_code == 200
    assert "Kowalski Usługi" in start.content.decode()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"nip": "1234563219"}, "nip", "Ten NIP ma błędną cyfrę kontrolną"),
        ({"nip": "12345"}, "nip", "NIP musi mieć dokładnie 10 cyfr"),
        ({"password1": "12345678", "password2": "12345678"}, "password1", "To hasło jest za krótkie"),
        (
            {"password1": "password123", "password2": "password123"},
            "password1",
            "To hasło jest zbyt powszechne",
        ),
        ({"password2": "Inne-Haslo-2026"}, "password2", "Hasła się różnią"),
        ({"email": "not-an-email"}, "email", "Wprowadź poprawny adres email"),
        ({"country_code": "Polska"}, "country_code", "dwuliterowy kod kraju"),
        ({"company_name": ""}, "company_name", "To pole jest wymagane"),
    ],
)
def test_bad_input_gives_a_polish_message_and_creates_nothing(
    client: Any, change: dict[str, str], field: str, message: str
) -> None:
    response = client.post(reverse("accounts:signup"), {**GOOD, **change})
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors.get(field, []))
    assert message in errors
    assert message in response.content.decode()
    assert _nothing_created()


def test_taken_email_is_refused_case_insensitively(client: Any) -> None:
    User.objects.create_user(email="jan.kowalski@example.com", password="x")
    response = client.post(reverse("accounts:signup"), GOOD)
    assert response.status_code == 200
    assert "Konto z tym adresem e-mail już istnieje" in response.content.decode()
    assert User.objects.count() == 1
    assert not Company.objects.exists()


def test_log_in_with_email_and_log_out(client: Any, alice: User, company_a: Company) -> None:
    response = client.post(
        reverse("accounts:login"),
        {"username": "ALICE@example.com", "password": "correct-horse-battery-staple"},
    )
    assert response.status_code == 302
    assert client.get(reverse("accounts:start")).status_code == 200
    assert client.post(reverse("accounts:logout")).status_code == 302
    assert client.get(reverse("accounts:start")).status_code == 302


def test_wrong_password_says_so_in_polish(client: Any, alice: User) -> None:
    response = client.post(reverse("accounts:login"), {"username": "alice@example.com", "password": "nope"})
    assert "Nieprawidłowy adres e-mail lub hasło" in response.content.decode()


def test_password_reset_sends_a_working_link(client: Any, alice: User, company_a: Company) -> None:
    client.post(reverse("accounts:password_reset"), {"email": "alice@example.com"})
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    link = next(line for line in body.splitlines() if "/haslo/reset/" in line)
    path = link.split("testserver", 1)[1]
    form_page = client.get(path, follow=True)
    assert "Ustaw nowe hasło" in form_page.content.decode()
    new_password = "Nowe-Haslo-Zimowe-2026"
    done = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": new_password, "new_password2": new_password}
    )
    assert done.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(new_password)


def test_password_reset_for_unknown_address_reveals_nothing(client: Any) -> None:
    response = client.post(reverse("accounts:password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mail.outbox == []
