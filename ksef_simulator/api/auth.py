"""Authentication: challenge, KSeF-token and XAdES login, status polling, redeem/refresh, auth sessions.

The outcome of a login is decided when it starts and shown after ``get_config().auth_delay`` (status 100
until then), computed from timestamps: KSeF's asynchrony without sleeping.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse

from ksef_simulator import (
    ids,
    keys,
    security,
    services_certificates,
    services_core,
    services_permissions,
    xades,
)
from ksef_simulator.conf import get_config
from ksef_simulator.http import api_view, json_object
from ksef_simulator.models import (
    AuthChallenge,
    AuthOperation,
    BlockedContext,
    IssuedCertificate,
    KsefToken,
    SimPerson,
    SimulatorKey,
)
from ksef_simulator.paging import Pager
from ksef_simulator.responses import ApiError, bad_request, iso, now_utc, validation_error
from ksef_simulator.schemas_core import validate_request

CHALLENGE_LIFETIME = dt.timedelta(minutes=10)
RETENTION = dt.timedelta(days=7)
DESCRIPTIONS = {
    100: "Uwierzytelnianie w toku",
    200: "Uwierzytelnianie zakończone sukcesem",
    415: "Uwierzytelnianie zakończone niepowodzeniem",
    425: "Uwierzytelnienie unieważnione",
    450: "Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu",
    460: "Uwierzytelnianie zakończone niepowodzeniem z powodu błędu certyfikatu",
    470: "Uwierzytelnianie zakończone niepowodzeniem",
    480: "Uwierzytelnienie zablokowane",
}
REVOKED_DETAIL = "Uwierzytelnienie i powiązane refresh tokeny zostały unieważnione przez użytkownika"
BLOCKED_DETAIL = (
    "Podejrzenie incydentu bezpieczeństwa. "
    "Skontaktuj się z Ministerstwem Finansów przez formularz zgłoszeniowy."
)
DECEASED_DETAIL = "Próba wykorzystania metod autoryzacyjnych osoby zmarłej"
NOT_FOUND = "Nie znaleziono operacji uwierzytelniania o podanym numerze referencyjnym."


@dataclass
class Login:
    """What a login request established, before its outcome is decided."""

    context_type: str
    context_value: str
    subject_type: str = ""
    subject_value: str = ""
    method: tuple[str, str, str, str] = ("Token", "Token", "token.ksef", "Token KSeF")
    ksef_token: KsefToken | None = None
    certificate_subject: dict[str, str] = field(default_factory=dict)  # what enrollment data will return
    allowed_ips: dict[str, Any] = field(default_factory=dict)
    failure: tuple[int, str] | None = None  # (450 or 460, detail) found while checking the credentials


# --- challenge -----------------------------------------------------------------------------------


@api_view("POST", name="auth.challenge")
def challenge(request: HttpRequest) -> HttpResponse:
    now = now_utc()
    record = AuthChallenge.objects.create(
        challenge=ids.reference_number("CR", now),
        timestamp=now,
        timestamp_ms=int(now.timestamp() * 1000),
        client_ip=security.client_ip(request),
    )
    return JsonResponse(
        {
            "challenge": record.challenge,
            "timestamp": iso(record.timestamp),
            "timestampMs": record.timestamp_ms,
            "clientIp": record.client_ip,
        }
    )


def _take_challenge(value: str) -> tuple[AuthChallenge, bool]:
    """The challenge (21111 when unknown) and whether it is still usable (fresh and not used before)."""
    with transaction.atomic():
        record = AuthChallenge.objects.select_for_update().filter(challenge=value).first()
        if record is None:
            raise bad_request(
                21111, "Nieprawidłowe wyzwanie autoryzacyjne.", "Wyzwanie nie istnieje lub wygasło."
            )
        usable = not record.used and now_utc() - record.timestamp <= CHALLENGE_LIFETIME
        record.used = True
        record.save(update_fields=["used"])
    return record, usable


# --- outcome -------------------------------------------------------------------------------------


def _is_deceased(login: Login) -> bool:
    people = SimPerson.objects.filter(is_deceased=True)
    if login.subject_type == "Nip":
        return people.filter(nip=login.subject_value).exists()
    if login.subject_type == "Pesel":
        return people.filter(pesel=login.subject_value).exists()
    return False


def current_permissions(
    *,
    context_type: str,
    context_value: str,
    subject_type: str,
    subject_value: str,
    ksef_token: KsefToken | None,
) -> set[str]:
    """What the login may do now; a KSeF token narrows its author's rights to the token's own set."""
    held = services_permissions.permissions_for(
        context_type=context_type,
        context_value=context_value,
        subject_type=subject_type,
        subject_value=subject_value,
    )
    if ksef_token is not None:
        held &= set(ksef_token.permissions)
    return held


def _decide(login: Login) -> tuple[int, list[str], list[str]]:
    """``(status code, details, permissions)``, in KSeF's order: credentials, block, person, rights."""
    if login.failure is not None:
        return login.failure[0], [login.failure[1]], []
    if BlockedContext.objects.filter(
        context_type=login.context_type, context_value=login.context_value
    ).exists():
        return 480, [BLOCKED_DETAIL], []
    if _is_deceased(login):
        return 470, [DECEASED_DETAIL], []
    permissions = current_permissions(
        context_type=login.context_type,
        context_value=login.context_value,
        subject_type=login.subject_type,
        subject_value=login.subject_value,
        ksef_token=login.ksef_token,
    )
    if not permissions:
        return 415, ["Brak przypisanych uprawnień"], []
    return 200, [], sorted(permissions)


def _start(request: HttpRequest, login: Login) -> HttpResponse:
    now = now_utc()
    code, details, permissions = _decide(login)
    operation = AuthOperation.objects.create(
        reference_number=ids.reference_number("AU", now),
        started_at=now,
        client_ip=security.client_ip(request),
        context_type=login.context_type,
        context_value=login.context_value,
        subject_type=login.subject_type,
        subject_value=login.subject_value,
        method=login.method[0],
        method_category=login.method[1],
        method_code=login.method[2],
        method_display_name=login.method[3],
        certificate_subject=login.certificate_subject,
        ksef_token_reference=login.ksef_token.reference_number if login.ksef_token else "",
        outcome_code=code,
        outcome_details=details,
        permissions=permissions,
        allowed_ips=login.allowed_ips,
    )
    if code == 200 and login.ksef_token is not None:
        KsefToken.objects.filter(pk=login.ksef_token.pk).update(last_used_at=now)
    token, valid_until = security.token_issue(
        kind=security.OPERATION,
        context_type=login.context_type,
        context_value=login.context_value,
        auth_reference=operation.reference_number,
        lifetime=security.OPERATION_LIFETIME,
    )
    body = {
        "referenceNumber": operation.reference_number,
        "authenticationToken": {"token": token, "validUntil": iso(valid_until)},
    }
    return JsonResponse(body, status=202)


# --- KSeF token login ----------------------------------------------------------------------------


def _token_failure(plaintext: str, record: AuthChallenge, login: Login) -> tuple[int, str] | None:
    secret, separator, timestamp = plaintext.rpartition("|")
    if not separator:
        return 450, "Nieprawidłowe kodowanie tokena"
    token = services_core.token_find(secret)
    if token is None:
        return 450, "Nieprawidłowy token"
    login.ksef_token = token
    login.subject_type, login.subject_value = token.author_type, token.author_value
    if timestamp.strip() != str(record.timestamp_ms):
        return 450, "Nieprawidłowy czas tokena"
    if (token.context_type, token.context_value) != (login.context_type, login.context_value):
        return 450, f"Token nie może być użyty w kontekście {login.context_type}:{login.context_value}"
    status = services_core.token_effective_status(token)
    if status in (KsefToken.Status.REVOKING, KsefToken.Status.REVOKED):
        return 450, "Token unieważniony"
    if status != KsefToken.Status.ACTIVE:
        return 450, "Token nieaktywny"
    return None


@api_view("POST", name="auth.ksef-token")
def ksef_token(request: HttpRequest) -> HttpResponse:
    body = json_object(request)
    validate_request("POST /auth/ksef-token", body)
    context = body["contextIdentifier"]
    policy = body.get("authorizationPolicy") or {}
    login = Login(
        context_type=context["type"],
        context_value=context["value"],
        allowed_ips=policy.get("allowedIps") or {},
    )
    # A request refused outright (unknown key: 400 21470) must not use up the challenge: the client
    # re-fetches the keys and retries with the same challenge.
    key = keys.key_for(SimulatorKey.Usage.KSEF_TOKEN_ENCRYPTION, body.get("publicKeyId"))
    record, usable = _take_challenge(body["challenge"])
    try:
        plaintext = keys.rsa_oaep_decrypt(key, base64.b64decode(body["encryptedToken"])).decode("utf-8")
    except (ValueError, binascii.Error):  # UnicodeDecodeError is a ValueError
        login.failure = (450, "Nieprawidłowe szyfrowanie tokena")
    else:
        login.failure = _token_failure(plaintext, record, login)
    if login.failure is None and not usable:
        login.failure = (450, "Nieprawidłowe wyzwanie autoryzacyjne")
    return _start(request, login)


# --- XAdES login ---------------------------------------------------------------------------------


def _certificate_failure(
    certificate: x509.Certificate, *, verify_chain: bool, ours: IssuedCertificate | None
) -> str | None:
    now = now_utc()
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        return "Nieważny certyfikat"
    if ours is not None:  # revoked, or its validity shortened (PUT /testdata/certificates/{serial})
        problem = services_certificates.certificate_problem(ours, now=now)
        if problem is not None:
            return problem
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not usage.digital_signature:
        return "Niepoprawny certyfikat"  # e.g. an Offline KSeF certificate (nonRepudiation only)
    if verify_chain and ours is None:
        return "Niezaufany łańcuch certyfikatów"
    return None


@api_view("POST", name="auth.xades-signature")
def xades_signature(request: HttpRequest) -> HttpResponse:
    if request.content_type not in ("application/xml", "text/xml"):
        raise validation_error("Oczekiwano treści typu application/xml.")
    document = xades.parse_and_verify(request.body)
    verify_chain = request.GET.get("verifyCertificateChain", "false").lower() == "true"
    _, usable = _take_challenge(document.challenge)
    if document.context_type in ("Nip", "InternalId") and not services_permissions.nip_is_valid(
        document.context_value.split("-")[0]
    ):
        raise bad_request(21117, "Nieprawidłowy identyfikator podmiotu dla wskazanego typu kontekstu.")
    certificate = document.certificate
    assert certificate is not None  # noqa: S101 (parse_and_verify always sets it)
    ours = services_certificates.issued_certificate_find(certificate)
    if ours is not None and document.subject_identifier_type == "certificateSubject":
        # A KSeF certificate carries the identity it was issued to (a NIP, a PESEL or a fingerprint).
        subject_type, subject_value = ours.subject_type, ours.subject_value
    else:
        subject_type, subject_value = xades.certificate_identity(
            certificate, document.subject_identifier_type
        )
    login = Login(
        context_type=document.context_type,
        context_value=document.context_value,
        subject_type=subject_type,
        subject_value=subject_value,
        method=xades.certificate_method(certificate, issued_by_ksef=ours is not None),
        certificate_subject=services_certificates.enrollment_data_of(certificate),
        allowed_ips=document.allowed_ips,
    )
    problem = _certificate_failure(certificate, verify_chain=verify_chain, ours=ours)
    if problem is not None:
        login.failure = (460, problem)
    elif not usable:
        login.failure = (450, "Nieprawidłowe wyzwanie autoryzacyjne")
    response = _start(request, login)
    if ours is not None and login.failure is None:
        services_certificates.certificate_mark_used(ours)
    return response


# --- status, redeem, refresh ---------------------------------------------------------------------


def _status(operation: AuthOperation, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or now_utc()
    if operation.revoked_at is not None:
        code, details = 425, [REVOKED_DETAIL]
    elif now < operation.started_at + get_config().auth_delay:
        code, details = 100, []
    else:
        code, details = operation.outcome_code, list(operation.outcome_details)
    status: dict[str, Any] = {"code": code, "description": DESCRIPTIONS.get(code, "Nieznany błąd")}
    if details:
        status["details"] = details
    return status


def _operation_json(operation: AuthOperation) -> dict[str, Any]:
    return {
        "startDate": iso(operation.started_at),
        "authenticationMethod": operation.method,
        "authenticationMethodInfo": {
            "category": operation.method_category,
            "code": operation.method_code,
            "displayName": operation.method_display_name,
        },
        "status": _status(operation),
        "isTokenRedeemed": operation.redeemed_at is not None,
        "lastTokenRefreshDate": iso(operation.last_refresh_at),
        "refreshTokenValidUntil": iso(operation.refresh_valid_until),
    }


def _operation_for(principal: security.Principal, reference: str | None = None) -> AuthOperation:
    reference = reference or principal.auth_reference
    operation = AuthOperation.objects.filter(reference_number=reference).first()
    if operation is None or reference != principal.auth_reference:
        raise bad_request(21304, "Brak uwierzytelnienia.", NOT_FOUND)
    return operation


@api_view("GET", name="auth.status")
def status(request: HttpRequest, reference: str) -> HttpResponse:
    principal = security.principal_from_request(request, kinds=(security.OPERATION,))
    operation = _operation_for(principal, reference)
    if now_utc() - operation.started_at > RETENTION:
        raise ApiError(410, detail="Operacja wygasła i nie jest już dostępna.")
    return JsonResponse(_operation_json(operation))


def _access_token(operation: AuthOperation, permissions: list[str]) -> tuple[str, dt.datetime]:
    return security.token_issue(
        kind=security.ACCESS,
        context_type=operation.context_type,
        context_value=operation.context_value,
        auth_reference=operation.reference_number,
        permissions=permissions,
        lifetime=security.ACCESS_LIFETIME,
        extra=_claims(operation),
    )


def _claims(operation: AuthOperation) -> dict[str, Any]:
    return {
        "authentication-method": operation.method,
        security.SUBJECT_TYPE: operation.subject_type,
        security.SUBJECT_VALUE: operation.subject_value,
        security.KSEF_TOKEN_REF: operation.ksef_token_reference or None,
        security.ALLOWED_IPS: operation.allowed_ips or None,
    }


def _ksef_token_revoked(operation: AuthOperation) -> bool:
    if not operation.ksef_token_reference:
        return False
    token = KsefToken.objects.filter(reference_number=operation.ksef_token_reference).first()
    return token is None or services_core.token_effective_status(token) in (
        KsefToken.Status.REVOKING,
        KsefToken.Status.REVOKED,
    )


def _refuse(detail: str) -> ApiError:
    return bad_request(21301, "Brak autoryzacji.", detail)


@api_view("POST", name="auth.token.redeem")
def redeem(request: HttpRequest) -> HttpResponse:
    principal = security.principal_from_request(request, kinds=(security.OPERATION,))
    with transaction.atomic():
        operation = _operation_for(principal)
        operation = AuthOperation.objects.select_for_update().get(pk=operation.pk)
        if operation.redeemed_at is not None:
            raise _refuse("Tokeny zostały już pobrane.")
        if _status(operation)["code"] != 200:
            raise _refuse("Status uwierzytelniania nie pozwala na pobranie tokenów.")
        if _ksef_token_revoked(operation):
            raise _refuse("Token KSeF został unieważniony.")
        now = now_utc()
        operation.redeemed_at = now
        operation.refresh_valid_until = now + security.REFRESH_LIFETIME
        operation.save(update_fields=["redeemed_at", "refresh_valid_until"])
    access, access_until = _access_token(operation, list(operation.permissions))
    refresh, refresh_until = security.token_issue(
        kind=security.REFRESH,
        context_type=operation.context_type,
        context_value=operation.context_value,
        auth_reference=operation.reference_number,
        lifetime=security.REFRESH_LIFETIME,
        extra=_claims(operation),
    )
    return JsonResponse(
        {
            "accessToken": {"token": access, "validUntil": iso(access_until)},
            "refreshToken": {"token": refresh, "validUntil": iso(refresh_until)},
        }
    )


@api_view("POST", name="auth.token.refresh")
def refresh(request: HttpRequest) -> HttpResponse:
    principal = security.principal_from_request(request, kinds=(security.REFRESH,))
    operation = _operation_for(principal)
    if operation.revoked_at is not None:
        raise _refuse("Uwierzytelnienie zostało unieważnione.")
    if _ksef_token_revoked(operation):
        raise _refuse("Token KSeF został unieważniony.")
    permissions = current_permissions(
        context_type=operation.context_type,
        context_value=operation.context_value,
        subject_type=operation.subject_type,
        subject_value=operation.subject_value,
        ksef_token=KsefToken.objects.filter(reference_number=operation.ksef_token_reference).first()
        if operation.ksef_token_reference
        else None,
    )
    if not permissions:
        # Every permission of the login was revoked: nothing left to carry (a new login would end with 415).
        raise _refuse("Brak przypisanych uprawnień.")
    operation.last_refresh_at = now_utc()
    operation.save(update_fields=["last_refresh_at"])
    access, access_until = _access_token(operation, sorted(permissions))
    return JsonResponse({"accessToken": {"token": access, "validUntil": iso(access_until)}})


# --- auth sessions -------------------------------------------------------------------------------


@api_view("GET", name="auth.sessions.list")
def sessions(request: HttpRequest) -> HttpResponse:
    principal = security.principal_from_request(request)
    pager = Pager.from_request(request, max_size=100)
    active = AuthOperation.objects.filter(
        context_type=principal.context_type,
        context_value=principal.context_value,
        redeemed_at__isnull=False,
        revoked_at__isnull=True,
        refresh_valid_until__gt=now_utc(),
    ).order_by("-started_at", "-id")
    chunk, more = pager.page(active)
    items = [
        {**_operation_json(op), "referenceNumber": op.reference_number, "isCurrent": op.reference_number
         == principal.auth_reference}
        for op in chunk
    ]  # fmt: skip
    return JsonResponse({"items": items, **more})


def _revoke(operation: AuthOperation) -> None:
    AuthOperation.objects.filter(pk=operation.pk, revoked_at__isnull=True).update(revoked_at=now_utc())


@api_view("DELETE", name="auth.sessions.revoke-current")
def revoke_current(request: HttpRequest) -> HttpResponse:
    principal = security.principal_from_request(request, kinds=(security.ACCESS, security.REFRESH))
    _revoke(_operation_for(principal))
    return HttpResponse(status=204)


@api_view("DELETE", name="auth.sessions.revoke")
def revoke(request: HttpRequest, reference: str) -> HttpResponse:
    principal = security.principal_from_request(request)
    operation = AuthOperation.objects.filter(
        reference_number=reference,
        context_type=principal.context_type,
        context_value=principal.context_value,
    ).first()
    if operation is None:
        raise bad_request(21304, "Brak uwierzytelnienia.", NOT_FOUND)
    if reference != principal.auth_reference:
        security.require_any_permission(principal, ["CredentialsManage"])
    _revoke(operation)
    return HttpResponse(status=204)
