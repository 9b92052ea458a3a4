"""Receivers of the signals that cross features; ``apps.py`` connects them.

``on_invoice_issued`` is the one receiver of ``invoices.signals.invoice_issued``: a sales invoice just issued
goes to KSeF.
The offline package says which mode applies (an announced outage, the issuer's offline24, KSeF not answering
the company); an offline invoice gets its file and KOD II now and waits in the queue for KSeF, any other is
queued online when the company sends automatically. One receiver, so the outcome never depends on the order
in which receivers were connected. ``on_connection_active``: connecting does not know about sending; when a
connection becomes able to send, what waited is sent. ``on_member_invited``: an owner invited an accountant
and asked for their KSeF permissions in the same step (``accounts.signals.member_invited``); the grant is
recorded and queued (or recorded as refused, with the reason, when the connection may not grant);
``on_member_removed`` mirrors it when an owner removes a member and ticks "revoke their KSeF permissions".
``on_invoices_accepted``: KSeF accepted sales invoices; those with a buyer's e-mail get it queued (an
offline invoice got its e-mail when it was issued, from ``on_invoice_issued``).
"""

from __future__ import annotations

import logging

from accounts.models import Company, Invitation, User
from accounts.signals import KsefPerson
from invoices.models import Direction, Invoice
from ksef_integration.delivery import services as delivery
from ksef_integration.errors import ConnectError
from ksef_integration.models import KsefConnection, PermissionChange
from ksef_integration.offline import issue
from ksef_integration.permissions import services as permissions
from ksef_integration.sending import drain

logger = logging.getLogger(__name__)


def on_invoice_issued(sender: object, *, invoice: Invoice, **kwargs: object) -> None:
    if invoice.direction != Direction.SALES:
        return
    connection = KsefConnection.objects.filter(company_id=invoice.company_id).first()
    if connection is None or not connection.can_send:
        issue.offline_choice_drop(invoice=invoice)
        return
    mode, reason, outage = issue.issue_mode(invoice)
    if mode and issue.invoice_issue_offline(invoice=invoice, mode=mode, reason=reason, outage=outage):
        # Its file, KOD I and KOD II exist now: the buyer gets it at once, not after KSeF.
        delivery.offline_delivery_create(invoice_id=invoice.pk)
        return
    if connection.auto_send:
        drain.submission_enqueue(invoice=invoice)


def on_invoices_accepted(
    sender: object, *, company_id: int, invoice_ids: list[int], **kwargs: object
) -> None:
    delivery.accepted_deliveries_create(company_id=company_id, invoice_ids=invoice_ids)


def on_connection_active(sender: object, *, company_id: int, **kwargs: object) -> None:
    drain.on_connection_active(company_id=company_id)


def on_member_removed(
    sender: object,
    *,
    company: Company,
    user: User,
    removed_by: User | None,
    person: KsefPerson,
    **kwargs: object,
) -> None:
    """The owner removed a member and ticked "revoke their KSeF permissions too": one revocation per grant
    KSeF lists for that PESEL/NIP (or a refused row with the reason); the removal stands either way."""
    rows = permissions.revoke_person_request(
        company=company,
        user=removed_by,
        identifier_type=person.identifier_type,
        identifier_value=person.identifier_value,
        source=PermissionChange.Source.REMOVAL,
    )
    logger.info("ksef revocations for a removed member: company=%s rows=%s", company.uuid, len(rows))


def on_member_invited(
    sender: object,
    *,
    company: Company,
    invitation: Invitation,
    invited_by: User,
    person: KsefPerson,
    **kwargs: object,
) -> None:
    wanted = list(permissions.INVOICE_PERMISSIONS)
    try:
        permissions.grant_person_request(
            company=company,
            user=invited_by,
            identifier_type=person.identifier_type,
            identifier_value=person.identifier_value,
            first_name=person.first_name,
            last_name=person.last_name,
            permissions=wanted,
            source=PermissionChange.Source.INVITATION,
        )
    except ConnectError as exc:
        logger.info("ksef grant for an invitation not asked: company=%s code=%s", company.uuid, exc.code)
        permissions.refused_now(
            company=company,
            user=invited_by,
            identifier_type=person.identifier_type,
            identifier_value=person.identifier_value,
            first_name=person.first_name,
            last_name=person.last_name,
            permissions=wanted,
            message=exc.message,
            source=PermissionChange.Source.INVITATION,
        )
