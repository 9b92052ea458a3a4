"""KSeF permissions in a company's context (ksef-api.md §16), as the Uprawnienia page shows and changes them.

``PermissionChange``: one row per grant or revocation an owner asked for, carried out by the worker (the
operation's ``EG`` reference is written as soon as KSeF gives it, so a retry waits for it instead of asking
again). ``PermissionSnapshot`` + ``KsefGrant``: what KSeF last said about who may work in the context,
replaced as a whole by each refresh. Nothing here is a secret.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Company


class PermissionChange(models.Model):
    class Kind(models.TextChoices):
        GRANT_PERSON = "grant_person", _("grant to a person")
        GRANT_ENTITY = "grant_entity", _("grant to an accounting office")
        REVOKE = "revoke", _("revoke")

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting for KSeF")
        WORKING = "working", _("in progress")
        DONE = "done", _("done")
        REFUSED = "refused", _("refused by KSeF")
        FAILED = "failed", _("failed")

    class Source(models.TextChoices):
        PAGE = "page", _("the Permissions page")
        INVITATION = "invitation", _("an invitation")
        REMOVAL = "removal", _("removing a member")

    OPEN = (Status.PENDING, Status.WORKING)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="ksef_permission_changes")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.PAGE)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Who: a person by PESEL or NIP, an entity by NIP (for a revocation: the grant's holder, for the log).
    identifier_type = models.CharField(_("identifier type"), max_length=16)
    identifier_value = models.CharField(_("identifier"), max_length=64)
    name = models.CharField(_("name"), max_length=200, blank=True)
    first_name = models.CharField(max_length=30, blank=True)
    last_name = models.CharField(max_length=81, blank=True)
    permissions = models.JSONField(_("permissions"), default=list)
    can_delegate = models.BooleanField(_("may pass the permissions on to its staff"), default=False)
    permission_id = models.CharField(_("KSeF permission id"), max_length=36, blank=True)

    operation_reference = models.CharField(_("KSeF operation"), max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error_message = models.CharField(_("why"), max_length=500, blank=True)
    idempotency_key = models.UUIDField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("requested"), default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("KSeF permission change")
        verbose_name_plural = _("KSeF permission changes")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="ksef_permission_change_idempotency",
            ),
            # One revocation of a grant at a time (a double click on "Odbierz" revokes once).
            models.UniqueConstraint(
                fields=["company", "permission_id"],
                condition=models.Q(kind="revoke", status__in=["pending", "working"]),
                name="ksef_permission_one_open_revoke",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "working", "done", "refused", "failed"]),
                name="ksef_permission_change_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.identifier_type} {self.identifier_value} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


class PermissionSnapshot(models.Model):
    """When KSeF was last asked who may work in the company's context, and whether it answered."""

    company = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="ksef_permission_snapshot")
    refreshed_at = models.DateTimeField(_("read from KSeF"), null=True, blank=True)
    refresh_requested_at = models.DateTimeField(null=True, blank=True)
    error_message = models.CharField(_("last error"), max_length=500, blank=True)
    error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("KSeF permissions snapshot")
        verbose_name_plural = _("KSeF permissions snapshots")

    def __str__(self) -> str:
        return f"{self.company_id} {self.refreshed_at}"

    @property
    def refresh_pending(self) -> bool:
        requested = self.refresh_requested_at
        if requested is None:
            return False
        done = max(filter(None, (self.refreshed_at, self.error_at)), default=None)
        return done is None or done < requested


class KsefGrant(models.Model):
    """One permission KSeF lists in the company's context (a person or an entity, one scope)."""

    class Subject(models.TextChoices):
        PERSON = "person", _("person")
        ENTITY = "entity", _("entity")

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="ksef_grants")
    permission_id = models.UUIDField(_("KSeF permission id"))
    subject = models.CharField(_("who"), max_length=8, choices=Subject.choices)
    identifier_type = models.CharField(_("identifier type"), max_length=16)
    identifier_value = models.CharField(_("identifier"), max_length=64)
    name = models.CharField(_("name"), max_length=200, blank=True)
    scope = models.CharField(_("permission"), max_length=48)
    description = models.CharField(_("description"), max_length=256, blank=True)
    state = models.CharField(_("state"), max_length=16)
    can_delegate = models.BooleanField(_("may pass it on"), default=False)
    start_date = models.DateTimeField(_("since"))
    author_type = models.CharField(_("granted by (type)"), max_length=16, blank=True)
    author_value = models.CharField(_("granted by"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("KSeF permission")
        verbose_name_plural = _("KSeF permissions")
        ordering = ["subject", "name", "identifier_value", "scope"]
        constraints = [
            models.UniqueConstraint(fields=["company", "permission_id"], name="ksef_grant_unique_per_company")
        ]

    def __str__(self) -> str:
        return f"{self.identifier_type} {self.identifier_value} {self.scope}"
