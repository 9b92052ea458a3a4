"""factory_boy factories for the test suite."""

from __future__ import annotations

import random

import factory

from accounts.models import Company, Membership, Role, User
from accounts.nip import NIP_WEIGHTS
from ksef_integration.encryption import secret_encrypt
from ksef_integration.models import AuthMethod, ConnectionStatus, KsefConnection


def valid_nip(rng: random.Random | None = None) -> str:
    r"""A random NIP with a correct check digit that KSeF's own pattern accepts too.

    KSeF's schemas allow ``[1-9]((\d[1-9])|([1-9]\d))\d{7}``: the second and third digits are never both 0.
    """
    rng = rng or random.Random()
    while True:
        head = [rng.randint(0, 9) for _ in range(9)]
        if head[0] == 0 or head[1] == head[2] == 0:
            continue
        check = sum(w * d for w, d in zip(NIP_WEIGHTS, head, strict=True)) % 11
        if check != 10:
            return "".join(map(str, head)) + str(check)


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name", locale="pl_PL")
    password = factory.django.Password("correct-horse-battery-staple")


class CompanyFactory(factory.django.DjangoModelFactory[Company]):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Firma {n} sp. z o.o.")
    nip = factory.LazyFunction(valid_nip)
    address_line1 = "ul. Prosta 1"
    address_line2 = "00-001 Warszawa"


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    company = factory.SubFactory(CompanyFactory)
    role = Role.OWNER


def active_connection(company: Company, **overrides: object) -> KsefConnection:
    """A company's active token connection to KSeF, made without KSeF (for tests that never call it)."""
    values: dict[str, object] = {
        "status": ConnectionStatus.ACTIVE,
        "environment": "simulator",
        "method": AuthMethod.TOKEN,
        "token_ciphertext": secret_encrypt("not-a-real-token"),
        "token_last4": "oken",
        "permissions": ["InvoiceRead", "InvoiceWrite"],
    }
    values.update(overrides)
    return KsefConnection.objects.create(company=company, **values)
