"""Re-encrypt every stored secret with the newest key of FIELD_ENCRYPTION_KEYS.

Rotation: put a new key first in FIELD_ENCRYPTION_KEYS (keep the old ones after it), deploy, run this
command, then remove the old keys. Values that no listed key can decrypt are reported and left untouched.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from ksef_integration.encryption import SecretUnreadable, secret_rotate
from ksef_integration.models import KsefConnection, OfflineCertificate


class Command(BaseCommand):
    help = "Re-encrypt stored KSeF secrets with the first key of FIELD_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        rotated = unreadable = 0
        for pk in KsefConnection.objects.values_list("pk", flat=True).iterator():
            with transaction.atomic():
                connection = KsefConnection.objects.select_for_update().get(pk=pk)
                changed = []
                for field in KsefConnection.SECRET_FIELDS:
                    value = getattr(connection, field)
                    if not value:
                        continue
                    try:
                        setattr(connection, field, secret_rotate(value))
                    except SecretUnreadable:
                        unreadable += 1
                        self.stderr.write(
                            f"connection {connection.uuid}: {field} does not decrypt with any key"
                        )
                        continue
                    changed.append(field)
                if changed:
                    connection.save(update_fields=changed)
                    rotated += len(changed)
        for pk in OfflineCertificate.objects.values_list("pk", flat=True).iterator():  # issue 8: KOD II keys
            with transaction.atomic():
                row = OfflineCertificate.objects.select_for_update().get(pk=pk)
                try:
                    row.private_key_ciphertext = secret_rotate(row.private_key_ciphertext)
                except SecretUnreadable:
                    unreadable += 1
                    self.stderr.write(f"offline certificate {row.serial}: does not decrypt with any key")
                    continue
                row.save(update_fields=["private_key_ciphertext"])
                rotated += 1
        self.stdout.write(f"rotated {rotated} secret(s); {unreadable} unreadable")
