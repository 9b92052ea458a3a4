"""KSeF tokens: ``POST/GET /tokens``, ``GET/DELETE /tokens/{referenceNumber}`` (ksef-api.md §5)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from ksef_simulator import security, services_core
from ksef_simulator.http import api_view, json_object
from ksef_simulator.models import KsefToken
from ksef_simulator.paging import Pager, query_enum, query_enums
from ksef_simulator.responses import ApiError, bad_request, iso, validation_error
from ksef_simulator.schemas_core import validate_request

READERS = ("CredentialsManage", "CredentialsRead")
STATUSES = {choice.value for choice in KsefToken.Status}
AUTHOR_TYPES = ("Nip", "Pesel", "Fingerprint")


def _token_json(token: KsefToken) -> dict[str, Any]:
    return {
        "referenceNumber": token.reference_number,
        "authorIdentifier": {"type": token.author_type, "value": token.author_value},
        "contextIdentifier": {"type": token.context_type, "value": token.context_value},
        "description": token.description,
        "requestedPermissions": list(token.permissions),
        "dateCreated": iso(token.created_at),
        "lastUseDate": iso(token.last_used_at),
        "status": services_core.token_effective_status(token),
    }


def _visible(principal: security.Principal) -> Any:
    """Tokens of the caller's context it may see: all with Credentials* rights, else its own (§5)."""
    tokens = KsefToken.objects.filter(
        context_type=principal.context_type, context_value=principal.context_value
    )
    if principal.permissions.intersection(READERS):
        return tokens
    if principal.ksef_token_reference:
        return tokens.filter(reference_number=principal.ksef_token_reference)
    return tokens.filter(author_type=principal.subject_type, author_value=principal.subject_value)


def _create(request: HttpRequest) -> HttpResponse:
    principal = security.principal_from_request(request)
    body = json_object(request)
    validate_request("POST /tokens", body)
    requested = set(body["permissions"])
    if not requested:
        raise validation_error("permissions: wymagane jest co najmniej jedno uprawnienie.")
    if principal.context_type not in services_core.TOKEN_CONTEXT_TYPES:
        raise bad_request(26002, "Nie można wygenerować tokena dla bieżącego typu kontekstu.")
    missing = sorted(requested - principal.permissions)
    if missing:
        raise bad_request(
            26001,
            "Nie można nadać tokenowi uprawnień, których nie posiadasz.",
            f"Brakujące uprawnienia: {', '.join(missing)}.",
        )
    token, secret = services_core.token_create(
        context_type=principal.context_type,
        context_value=principal.context_value,
        author_type=principal.subject_type,
        author_value=principal.subject_value,
        permissions=requested,
        description=body["description"],
    )
    return JsonResponse({"referenceNumber": token.reference_number, "token": secret}, status=202)


def _filters(request: HttpRequest) -> tuple[set[str], str, str, str]:
    statuses = set(query_enums(request, "status", STATUSES))
    description = request.GET.get("description", "")
    author = request.GET.get("authorIdentifier", "")
    author_type = query_enum(request, "authorIdentifierType", AUTHOR_TYPES)
    if description and len(description) < 3:
        raise validation_error("description: minimalna długość to 3.")
    if author and len(author) < 3:
        raise validation_error("authorIdentifier: minimalna długość to 3.")
    return statuses, description, author, author_type


def _list(request: HttpRequest) -> HttpResponse:
    principal = security.principal_from_request(request)
    pager = Pager.from_request(request, max_size=100)
    statuses, description, author, author_type = _filters(request)
    tokens = _visible(principal).order_by("-created_at", "-id")
    if description:
        tokens = tokens.filter(description__icontains=description)
    if author:
        tokens = tokens.filter(author_value__icontains=author)
    if author_type:
        tokens = tokens.filter(author_type=author_type)
    # The status moves with time (Pending → Active), so it is filtered after it is computed.
    matching = [t for t in tokens if not statuses or services_core.token_effective_status(t) in statuses]
    page, more = pager.page(matching)
    return JsonResponse({"tokens": [_token_json(t) for t in page], **more})


@api_view("GET", "POST", name="tokens")
def tokens(request: HttpRequest) -> HttpResponse:
    return _create(request) if request.method == "POST" else _list(request)


def _not_found() -> ApiError:
    return bad_request(
        21405, "Błąd walidacji danych wejściowych.", "Nie znaleziono tokena o podanym numerze."
    )


def _may_revoke(principal: security.Principal, token: KsefToken) -> bool:
    if "CredentialsManage" in principal.permissions:
        return True
    if principal.ksef_token_reference:
        return principal.ksef_token_reference == token.reference_number
    return (token.author_type, token.author_value) == (principal.subject_type, principal.subject_value)


@api_view("GET", "DELETE", name="tokens.item")
def token(request: HttpRequest, reference: str) -> HttpResponse:
    principal = security.principal_from_request(request)
    if request.method == "GET":
        found = _visible(principal).filter(reference_number=reference).first()
        if found is None:
            raise _not_found()
        return JsonResponse(_token_json(found))
    found = KsefToken.objects.filter(
        context_type=principal.context_type, context_value=principal.context_value, reference_number=reference
    ).first()
    if found is None:
        raise _not_found()
    if not _may_revoke(principal, found):
        security.require_any_permission(principal, ["CredentialsManage"])
    services_core.token_mark_revoked(found)
    return HttpResponse(status=204)
