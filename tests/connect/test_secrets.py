"""Secrets at rest: Fernet over FIELD_ENCRYPTION_KEYS, rotation without downtime."""

from io import StringIO
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from accounts.models import Company
from ksef_integration.encryption import SecretUnreadable, secret_decrypt, secret_encrypt
from ksef_integration.models import AuthMethod, ConnectionStatus, KsefConnection

pytestmark = pytest.mark.django_db
TOKEN = "20261125-EC-1DCE3E3000-12ECB5B36E-45|nip-1234563218|" + "ab" * 32


def _fernet_for(ciphertext: str, key: str) -> bool:
    try:
        Fernet(key.encode()).decrypt(ciphertext.encode())
    except Exception:
        return False
    return True


def test_round_trip_and_ciphertext_hides_the_secret(settings: Any) -> None:
    ciphertext = secret_encrypt(TOKEN)
    assert TOKEN not in ciphertext
    assert "ab" * 32 not in ciphertext
    assert secret_decrypt(ciphertext).decode() == TOKEN


def test_rotation_old_values_still_decrypt_and_the_command_moves_them(
    settings: Any, company_a: Company
) -> None:
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    connection = KsefConnection.objects.create(
        company=company_a,
        status=ConnectionStatus.ACTIVE,
        environment="simulator",
        method=AuthMethod.TOKEN,
        token_ciphertext=secret_encrypt(TOKEN),
        token_last4=TOKEN[-4:],
        refresh_token_ciphertext=secret_encrypt("refresh-jwt"),
    )
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    # Before the command: the old ciphertext still reads with the new key list.
    assert secret_decrypt(connection.token_ciphertext).decode() == TOKEN
    assert _fernet_for(connection.token_ciphertext, old_key)

    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "rotated 2 secret(s); 0 unreadable" in out.getvalue()
    connection.refresh_from_db()
    assert _fernet_for(connection.token_ciphertext, new_key)
    assert not _fernet_for(connection.token_ciphertext, old_key)
    # The old key can now go.
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert secret_decrypt(connection.token_ciphertext).decode() == TOKEN
    assert secret_decrypt(connection.refresh_token_ciphertext).decode() == "refresh-jwt"


def test_a_removed_key_makes_secrets_unreadable_not_garbage(settings: Any) -> None:
    ciphertext = secret_encrypt(TOKEN)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(SecretUnreadable) as excinfo:
        secret_decrypt(ciphertext)
    assert TOKEN not in str(excinfo.value)


@pytest.mark.parametrize(("days", "expected"), [(400, None), (10, "odnowi"), (-2, "wygasł")])
def test_certificate_expiry_warning(company_a: Company, days: int, expected: str | None) -> None:
    import datetime as dt

    from django.utils import timezone

    from ksef_integration.connect.selectors import certificate_warnings

    connection = KsefConnection(
        company=company_a,
        status=ConnectionStatus.ACTIVE,
        environment="simulator",
        method=AuthMethod.CERTIFICATE,
        certificate_valid_to=timezone.now() + dt.timedelta(days=days, hours=1),
    )
    warnings = certificate_warnings(connection)
    if expected is None:
        assert warnings == []
    else:
        assert len(warnings) == 1
        assert expected in warnings[0]
