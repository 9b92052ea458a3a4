"""Sign-up, the company switcher, Start, Więcej, Usługi dodatkowe and the Dane i ustawienia hub."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from accounts import services
from accounts.current import current_company_set
from accounts.decorators import company_required, owner_required
from accounts.errors import ApplicationError
from accounts.forms import (
    CompanyCreateForm,
    CompanyForm,
    InvitationForm,
    InvitationSignUpForm,
    MemberRemoveForm,
    RoleForm,
    SignUpForm,
)
from accounts.models import Membership, User
from accounts.selectors import (
    company_invitation_get_or_404,
    company_member_get_or_404,
    company_members,
    company_open_invitations,
    membership_get_or_404,
)

BACKEND = "accounts.backends.UserBackend"


@sensitive_post_parameters("password1", "password2")
@sensitive_variables()
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("accounts:start")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_signup(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                full_name=form.cleaned_data["full_name"],
                company=form.company_data(),
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            login(request, user, backend=BACKEND)
            messages.success(request, _("Welcome! Your account and company are ready."))
            return redirect("accounts:start")
    return render(request, "accounts/signup.html", {"form": form})


@company_required()
def start(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    return render(request, "accounts/start.html", {"membership": membership})


@company_required()
def more(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    return render(request, "accounts/more.html", {"membership": membership})


@company_required()
def additional_services(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    return render(request, "accounts/additional_services.html", {"membership": membership})


@company_required()
def settings_hub(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    return render(request, "accounts/settings_hub.html", {"membership": membership})


@company_required()
def company_edit(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    company = membership.company
    initial = {
        "company_name": company.name,
        "nip": company.nip,
        "address_line1": company.address_line1,
        "address_line2": company.address_line2,
        "country_code": company.country_code,
        "company_email": company.email,
        "company_phone": company.phone,
        "krs": company.krs,
        "regon": company.regon,
        "bdo": company.bdo,
    }
    can_edit = membership.is_owner
    form = CompanyForm(request.POST or None, initial=initial)
    if not can_edit:
        for field in form.fields.values():
            field.disabled = True
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        if form.is_valid():
            services.company_update(company=company, data=form.company_data())
            messages.success(request, _("Company data saved."))
            return redirect("accounts:company_edit")
    return render(request, "accounts/company_edit.html", {"form": form, "can_edit": can_edit})


@login_required
def company_create(request: HttpRequest) -> HttpResponse:
    form = CompanyCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        company = services.company_create(user=request.user, data=form.company_data())  # type: ignore[arg-type]
        current_company_set(request, company)
        messages.success(request, _("Company %(name)s added.") % {"name": company.name.rstrip(".")})
        return redirect("accounts:start")
    return render(request, "accounts/company_create.html", {"form": form})


@require_POST
@login_required
def company_switch(request: HttpRequest, company_uuid: uuid.UUID) -> HttpResponse:
    membership = membership_get_or_404(user=request.user, company_uuid=company_uuid)  # type: ignore[arg-type]
    current_company_set(request, membership.company)
    messages.info(
        request, _("You are now working in %(name)s.") % {"name": membership.company.name.rstrip(".")}
    )
    return redirect("accounts:start")


@company_required()
def members(request: HttpRequest, *, membership: Membership) -> HttpResponse:
    company = membership.company
    form = InvitationForm(request.POST or None)
    if request.method == "POST":
        if not membership.is_owner:
            raise PermissionDenied
        if form.is_valid():
            try:
                services.invitation_create(
                    company=company,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    invited_by=request.user,  # type: ignore[arg-type]
                    ksef_person=form.ksef_person(),
                )
            except ApplicationError as exc:
                form.add_error("email", exc.message)
            else:
                messages.success(
                    request,
                    _("The invitation for %(email)s will be sent in a moment.")
                    % {"email": form.cleaned_data["email"]},
                )
                return redirect("accounts:members")
    context = {
        "membership": membership,
        "members": company_members(company=company),
        "invitations": company_open_invitations(company=company) if membership.is_owner else [],
        "form": form,
        "role_form": RoleForm(),
    }
    return render(request, "accounts/members.html", context)


@require_POST
@owner_required
def member_role(request: HttpRequest, membership_uuid: uuid.UUID, *, membership: Membership) -> HttpResponse:
    target = company_member_get_or_404(company=membership.company, membership_uuid=membership_uuid)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            services.membership_change_role(membership=target, role=form.cleaned_data["role"])
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Role changed."))
    else:
        messages.error(request, _("Choose a role."))
    return redirect("accounts:members")


@require_POST
@owner_required
def member_remove(
    request: HttpRequest, membership_uuid: uuid.UUID, *, membership: Membership
) -> HttpResponse:
    target = company_member_get_or_404(company=membership.company, membership_uuid=membership_uuid)
    form = MemberRemoveForm(request.POST)
    if not form.is_valid():  # the KSeF part was ticked without a valid PESEL/NIP: nobody is removed
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect("accounts:members")
    person = form.ksef_person()
    try:
        services.membership_remove(
            membership=target,
            removed_by=request.user,  # type: ignore[arg-type]
            ksef_person=person,
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("accounts:members")
    messages.success(
        request, _("%(email)s no longer has access to the company.") % {"email": target.user.email}
    )
    if person is not None:
        messages.info(
            request,
            _("Revoking their KSeF permissions is listed in Data and settings → KSeF → Permissions."),
        )
    if target.user_id == request.user.pk:
        return redirect("accounts:start")
    return redirect("accounts:members")


@require_POST
@owner_required
def invitation_revoke(
    request: HttpRequest, invitation_uuid: uuid.UUID, *, membership: Membership
) -> HttpResponse:
    invitation = company_invitation_get_or_404(company=membership.company, invitation_uuid=invitation_uuid)
    services.invitation_revoke(invitation=invitation)
    messages.success(request, _("Invitation withdrawn."))
    return redirect("accounts:members")


@require_POST
@owner_required
def invitation_resend(
    request: HttpRequest, invitation_uuid: uuid.UUID, *, membership: Membership
) -> HttpResponse:
    invitation = company_invitation_get_or_404(company=membership.company, invitation_uuid=invitation_uuid)
    services.invitation_create(
        company=membership.company,
        email=invitation.email,
        role=invitation.role,
        invited_by=request.user,  # type: ignore[arg-type]
    )
    messages.success(
        request, _("The invitation for %(email)s will be sent in a moment.") % {"email": invitation.email}
    )
    return redirect("accounts:members")


@sensitive_post_parameters("password", "password1", "password2")
@sensitive_variables()
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = services.invitation_get_by_token(raw_token=token)
    if invitation is None:
        return render(request, "accounts/invitation_invalid.html", status=404)
    user = request.user
    if isinstance(user, User):
        if request.method == "POST":
            try:
                joined = services.invitation_accept(invitation=invitation, user=user)
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                current_company_set(request, joined.company)
                messages.success(
                    request, _("You have joined %(name)s.") % {"name": joined.company.name.rstrip(".")}
                )
                return redirect("accounts:start")
        return render(request, "accounts/invitation_accept.html", {"invitation": invitation})

    if User.objects.filter(email__iexact=invitation.email).exists():
        return render(request, "accounts/invitation_login.html", {"invitation": invitation})
    form = InvitationSignUpForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            new_user = services.user_signup_from_invitation(
                invitation=invitation,
                password=form.cleaned_data["password1"],
                full_name=form.cleaned_data["full_name"],
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            login(request, new_user, backend=BACKEND)
            current_company_set(request, invitation.company)
            messages.success(
                request, _("You have joined %(name)s.") % {"name": invitation.company.name.rstrip(".")}
            )
            return redirect("accounts:start")
    return render(request, "accounts/invitation_signup.html", {"invitation": invitation, "form": form})
