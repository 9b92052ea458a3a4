"""What the simulator's pages read and create, on top of the simulator's own services and models."""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal

from django.db.models import Q, QuerySet

from ksef_simulator import services_core, services_invoices, services_permissions
from ksef_simulator.models import SimInvoice


def invoices_for_nip(*, nip: str, limit: int = 200) -> QuerySet[SimInvoice]:
    """Accepted invoices in which ``nip`` is the seller or the buyer, newest first."""
    return (
        SimInvoice.objects.filter(status_code=200, ksef_number__isnull=False)
        .filter(Q(seller_nip=nip) | Q(buyer_id_value=nip))
        .order_by("-acquisition_date", "-id")[:limit]
    )


def invoice_send_to(*, buyer_nip: str, seller_nip: str, seller_name: str, net_amount: Decimal) -> str:
    """An invoice from ``seller_nip`` to ``buyer_nip``, accepted by KSeF now; returns its KSeF number."""
    today = dt.datetime.now(dt.UTC).date()
    xml = services_invoices.fa3_build(
        seller_nip=seller_nip,
        buyer_nip=buyer_nip,
        number=f"FV/{today:%Y/%m}/{secrets.token_hex(3).upper()}",
        issue_date=today,
        net=net_amount,
        seller_name=seller_name,
    )
    return services_invoices.invoice_store_incoming(xml_bytes=xml)


TOKEN_STATUS_LABELS = {
    "Pending": "oczekuje na aktywację",
    "Active": "aktywny",
    "Revoking": "w trakcie unieważniania",
    "Revoked": "unieważniony",
    "Failed": "błąd",
}


def token_rows(*, nip: str) -> list[dict[str, object]]:
    """The Tokeny list: each token with its status as KSeF reports it now (Pending turns Active once the
    activation delay has passed, whether or not anyone asked since), in Polish as the government app has
    it."""
    rows = []
    for token in services_core.token_list(nip=nip):
        status = services_core.token_effective_status(token)
        rows.append(
            {
                "reference_number": token.reference_number,
                "description": token.description,
                "permissions": token.permissions,
                "created_at": token.created_at,
                "status": status,
                "status_label": TOKEN_STATUS_LABELS.get(status, status),
            }
        )
    return rows


def invoices_generate(
    *, buyer_nip: str, count: int, sellers: int, date_from: dt.date, date_to: dt.date
) -> list[str]:
    return services_invoices.invoices_generate(
        buyer_nip=buyer_nip, count=count, sellers=sellers, date_from=date_from, date_to=date_to
    )


def token_revoke(*, nip: str, reference: str) -> bool:
    try:
        services_core.token_revoke(nip=nip, reference=reference)
    except services_core.CoreError:
        return False
    return True


PERMISSION_LABELS = {
    "InvoiceWrite": "wystawianie faktur",
    "InvoiceRead": "przeglądanie faktur",
    "CredentialsManage": "zarządzanie uprawnieniami",
    "CredentialsRead": "przeglądanie uprawnień",
    "Introspection": "przeglądanie historii sesji",
    "SubunitManage": "zarządzanie jednostkami podrzędnymi",
    "EnforcementOperations": "operacje egzekucyjne",
    "CollectiveIdentifierManage": "zarządzanie identyfikatorami zbiorczymi",
}
KIND_LABELS = {"Person": "osoba", "Entity": "podmiot", "Indirect": "pośrednio"}


def grant_rows(*, nip: str) -> list[dict[str, object]]:
    """Uprawnienia: who may work in the context (the Owner is implicit and not listed), newest first."""
    rows = []
    for grant in services_permissions.in_context(context_nip=nip):
        details = grant.subject_details or {}
        person = details.get("personById") or {}
        name = details.get("fullName") or " ".join(
            str(person[k]) for k in ("firstName", "lastName") if person.get(k)
        )
        rows.append(
            {
                "id": str(grant.grant_id),
                "kind": KIND_LABELS.get(grant.kind, grant.kind),
                "identifier": f"{grant.authorized_type.upper()} {grant.authorized_value}",
                "name": name,
                "permission": PERMISSION_LABELS.get(grant.permission, grant.permission),
                "can_delegate": grant.can_delegate,
                "target": grant.target_value
                or ("wszyscy klienci" if grant.target_type == "AllPartners" else ""),
                "description": grant.description,
                "started_at": grant.started_at,
                "author": "system (ZAW-FA)" if grant.author_type == "System" else grant.author_value,
            }
        )
    return rows


def received_rows(*, nip: str) -> list[dict[str, object]]:
    """What other entities let this NIP do for them (it acts in their contexts with its own credentials)."""
    return [
        {
            "client": grant.context_nip,
            "permission": PERMISSION_LABELS.get(grant.permission, grant.permission),
            "can_delegate": grant.can_delegate,
            "started_at": grant.started_at,
        }
        for grant in services_permissions.received_by_entity(nip=nip)
    ]
