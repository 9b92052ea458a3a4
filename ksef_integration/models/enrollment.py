"""KSeF certificates the portal obtains for a company (ksef-api.md §4.6): the switch from a KSeF token (the
owner signs one login request, the portal does the rest) and the renewal of a certificate before it expires.

One row per attempt. What KSeF issues is written here the moment it arrives, its private key encrypted, so a
worker that dies halfway never costs the company a certificate from its KSeF limit: the next run picks the
stored pair up. Once the connection has switched to it the keys live in the connection and the Offline
certificate only, and are cleared here.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Company
from ksef_integration.models.connection import KsefConnection


class CertificateEnrollment(models.Model):
    class Kind(models.TextChoices):
        SWITCH = "switch", _("switch from a token")
        RENEWAL = "renewal", _("renewal")

    class Status(models.TextChoices):
        AWAITING_SIGNATURE = "awaiting_signature", _("waiting for the signed request")
        QUEUED = "queued", _("queued")
        WORKING = "working", _("in progress")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    OPEN = (Status.AWAITING_SIGNATURE, Status.QUEUED, Status.WORKING)
    SECRET_FIELDS = ("signed_request_ciphertext", "authentication_key_ciphertext", "offline_key_ciphertext")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="ksef_enrollments")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=24, choices=Status.choices)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The switch: the AuthTokenRequest the owner downloads and signs, and until when its challenge is valid.
    challenge = models.CharField(_("challenge"), max_length=36, blank=True)
    challenge_valid_until = models.DateTimeField(_("challenge valid until"), null=True, blank=True)
    request_xml = models.TextField(_("login request"), blank=True)
    # The signed request logs in once; it is a credential until then (encrypted) and deleted once used.
    signed_request_ciphertext = models.TextField(blank=True, editable=False)
    signer = models.CharField(_("signed by"), max_length=200, blank=True)
    step = models.CharField(_("step"), max_length=32, blank=True)

    authentication_serial = models.CharField(_("authentication certificate"), max_length=16, blank=True)
    authentication_certificate_pem = models.TextField(blank=True, editable=False)
    authentication_key_ciphertext = models.TextField(blank=True, editable=False)
    offline_serial = models.CharField(_("offline certificate"), max_length=16, blank=True)
    offline_certificate_pem = models.TextField(blank=True, editable=False)
    offline_key_ciphertext = models.TextField(blank=True, editable=False)
    valid_to = models.DateTimeField(_("valid to"), null=True, blank=True)
    replaced_serial = models.CharField(_("replaced certificate"), max_length=40, blank=True)

    error_code = models.CharField(_("error code"), max_length=64, blank=True)
    error_message = models.CharField(_("error"), max_length=500, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("KSeF certificate enrollment")
        verbose_name_plural = _("KSeF certificate enrollments")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["company"],
                condition=models.Q(status__in=["awaiting_signature", "queued", "working"]),
                name="ksef_enrollment_one_open",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.company_id} {self.status}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN

    @property
    def has_certificates(self) -> bool:
        return bool(self.authentication_certificate_pem and self.authentication_key_ciphertext)


class CertificateConnection(KsefConnection):
    """The admin's list of certificate connections by expiry: what the renewal will do next."""

    class Meta:
        proxy = True
        verbose_name = _("company on a KSeF certificate")
        verbose_name_plural = _("companies on a KSeF certificate (expiry)")
