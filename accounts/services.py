"""State changes for users, companies, memberships and invitations (the only place that writes them)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from accounts import queue
from accounts.emails import validate_email_letters
from accounts.errors import ApplicationError
from accounts.models import Company, Invitation, Membership, Role, User
from accounts.nip import nip_normalize
from accounts.selectors import company_owner_count
from accounts.signals import KsefPerson, member_invited, member_removed
from ksefportal.mail import email_subject

logger = logging.getLogger(__name__)

INVITATION_VALIDITY = dt.timedelta(days=7)


@dataclass(frozen=True)
class CompanyData:
    name: str
    nip: str
    address_line1: str
    address_line2: str = ""
    country_code: str = "PL"
    email: str = ""
    phone: str = ""
    krs: str = ""
    regon: str = ""
    bdo: str = ""


def _company_fields(data: CompanyData) -> dict[str, str]:
    return {
        "name": data.name.strip(),
        "nip": nip_normalize(data.nip),
        "country_code": data.country_code.upper(),
        "address_line1": data.address_line1.strip(),
        "address_line2": data.address_line2.strip(),
        "email": data.email.strip(),
        "phone": data.phone.strip(),
        "krs": data.krs,
        "regon": data.regon,
        "bdo": data.bdo,
    }


def _email_letters_check(email: str) -> None:
    try:
        validate_email_letters(email)
    except ValidationError as exc:
        raise ApplicationError(exc.messages[0], code="email_letters") from None


@sensitive_variables()
@transaction.atomic
def user_signup(*, email: str, password: str, full_name: str, company: CompanyData) -> User:
    """Create the user, their company and the owner membership together, or nothing at all."""
    email = email.strip().lower()
    _email_letters_check(email)
    if User.objects.filter(email__iexact=email).exists():
        raise ApplicationError(_("An account with this e-mail address already exists."), code="email_taken")
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password, full_name=full_name.strip())
    except IntegrityError as exc:  # a concurrent sign-up with the same address won the race
        raise ApplicationError(
            _("An account with this e-mail address already exists."), code="email_taken"
        ) from exc
    company_create(user=user, data=company)
    return user


@transaction.atomic
def company_create(*, user: User, data: CompanyData) -> Company:
    company = Company(**_company_fields(data))
    company.full_clean()
    company.save()
    Membership.objects.create(user=user, company=company, role=Role.OWNER)
    logger.info("company created: company=%s owner=%s", company.uuid, user.uuid)
    return company


def company_update(*, company: Company, data: CompanyData) -> Company:
    for field, value in _company_fields(data).items():
        setattr(company, field, value)
    company.full_clean()
    company.save()
    return company


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def invitation_create(
    *, company: Company, email: str, role: str, invited_by: User, ksef_person: KsefPerson | None = None
) -> Invitation:
    """Invite someone by e-mail. The e-mail itself is sent by the worker (``accounts.send_invitation``).
    With ``ksef_person`` (accountants only) ``signals.member_invited`` asks for their KSeF permissions too."""
    email = email.strip().lower()
    _email_letters_check(email)
    if role not in Role.values:
        raise ApplicationError(_("Choose a role."), code="role_invalid")
    if Membership.objects.filter(company=company, user__email__iexact=email).exists():
        raise ApplicationError(_("This person is already a member of the company."), code="already_member")
    # A new invitation replaces an open one for the same address: the old link stops working.
    Invitation.objects.filter(company=company, email__iexact=email, accepted_at__isnull=True).delete()
    invitation = Invitation.objects.create(
        company=company,
        email=email,
        role=role,
        invited_by=invited_by,
        token_hash=_hash_token(secrets.token_urlsafe(32)),  # replaced by the real link's hash on sending
        expires_at=timezone.now() + INVITATION_VALIDITY,
    )
    queue.invitation_send(invitation_id=invitation.pk)
    if ksef_person is not None and role == Role.ACCOUNTANT:
        member_invited.send(
            sender=Invitation,
            company=company,
            invitation=invitation,
            invited_by=invited_by,
            person=ksef_person,
        )
    return invitation


@sensitive_variables()
def invitation_send(*, invitation_id: int, base_url: str | None = None) -> bool:
    """Mint the invitation link's secret, e-mail it, and record when. Runs in the worker.

    The secret is created here rather than passed in the task's arguments, so it exists only in the
    e-mail; the database keeps its hash. Returns False when there is nothing (left) to send.
    """
    invitation = (
        Invitation.objects.select_related("company", "invited_by")
        .filter(pk=invitation_id, accepted_at__isnull=True)
        .first()
    )
    if invitation is None or not invitation.is_open():
        logger.info("invitation %s: nothing to send (accepted, expired or removed)", invitation_id)
        return False
    raw = secrets.token_urlsafe(32)
    base = (base_url or settings.SITE_URL).rstrip("/")
    link = base + reverse("accounts:invitation_accept", kwargs={"token": raw})
    context = {
        "invitation": invitation,
        "link": link,
        "site_name": settings.SITE_NAME,
        "inviter": invitation.invited_by.get_full_name() if invitation.invited_by else settings.SITE_NAME,
    }
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("Invitation to %(company)s in %(site)s") % {
            "company": invitation.company.name,
            "site": settings.SITE_NAME,
        }
        body = render_to_string("accounts/email/invitation.txt", context)
    Invitation.objects.filter(pk=invitation.pk).update(token_hash=_hash_token(raw))
    send_mail(email_subject(subject), body, None, [invitation.email])
    Invitation.objects.filter(pk=invitation.pk).update(sent_at=timezone.now())
    logger.info("invitation %s sent", invitation.uuid)
    return True


@sensitive_variables()
def invitation_get_by_token(*, raw_token: str) -> Invitation | None:
    invitation = (
        Invitation.objects.select_related("company").filter(token_hash=_hash_token(raw_token)).first()
    )
    if invitation is None or not invitation.is_open():
        return None
    return invitation


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_open():
        raise ApplicationError(_("This invitation has expired or has already been used."), code="closed")
    if invitation.email.lower() != user.email.lower():
        raise ApplicationError(
            _("This invitation was sent to %(email)s. Log in with that address to accept it.")
            % {"email": invitation.email},
            code="wrong_user",
        )
    membership, _created = Membership.objects.get_or_create(
        user=user, company=invitation.company, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


@sensitive_variables()
@transaction.atomic
def user_signup_from_invitation(*, invitation: Invitation, password: str, full_name: str) -> User:
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise ApplicationError(_("An account with this e-mail address already exists."), code="email_taken")
    user = User.objects.create_user(email=invitation.email, password=password, full_name=full_name.strip())
    invitation_accept(invitation=invitation, user=user)
    return user


def invitation_revoke(*, invitation: Invitation) -> None:
    invitation.delete()


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise ApplicationError(_("Choose a role."), code="role_invalid")
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Role.OWNER and role != Role.OWNER:
        _ensure_another_owner(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(
    *, membership: Membership, removed_by: User | None = None, ksef_person: KsefPerson | None = None
) -> None:
    """Take the member out of the company. With ``ksef_person`` (the owner ticked "revoke their KSeF
    permissions too") ``signals.member_removed`` asks for that person's KSeF permissions to be revoked."""
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Role.OWNER:
        _ensure_another_owner(membership)
    company, user = membership.company, membership.user
    membership.delete()
    if ksef_person is not None:
        member_removed.send(
            sender=Membership, company=company, user=user, removed_by=removed_by, person=ksef_person
        )


def _ensure_another_owner(membership: Membership) -> None:
    # Lock the company's owner rows so two owners cannot demote each other at the same moment.
    list(Membership.objects.select_for_update().filter(company_id=membership.company_id, role=Role.OWNER))
    if company_owner_count(company=membership.company) <= 1:
        raise ApplicationError(_("A company must keep at least one owner."), code="last_owner")
