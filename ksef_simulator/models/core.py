"""Keys, auth operations, KSeF tokens, limits, fault injection."""

from __future__ import annotations

from django.db import models

__all__ = ["SimulatorKey"]


class SimulatorKey(models.Model):
    """One RSA key with a self-signed certificate per usage (GET /security/public-key-certificates)."""

    class Usage(models.TextChoices):
        KSEF_TOKEN_ENCRYPTION = "KsefTokenEncryption"  # noqa: S105 (a usage name, not a secret)
        SYMMETRIC_KEY_ENCRYPTION = "SymmetricKeyEncryption"

    usage = models.CharField(max_length=32, choices=Usage.choices)
    private_key_pem = models.TextField()
    certificate_der = models.BinaryField()
    public_key_id = models.CharField(max_length=44, unique=True)
    certificate_id = models.CharField(max_length=44)
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField()
    withdrawn = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["usage", "-valid_from"]

    def __str__(self) -> str:
        return f"{self.usage} {self.public_key_id}"
