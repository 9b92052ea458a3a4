"""Signals accounts sends for whoever extends it (accounts imports no other app of the portal).

``member_invited``: an owner invited someone as an accountant and asked, in the same step, for that person to
get the matching KSeF permissions (viewing and issuing invoices). Sent inside the invitation's transaction
with ``company``, ``invitation``, ``invited_by`` and ``person`` (a ``KsefPerson``); a receiver records the
request and queues the KSeF work on commit, and never raises (the invitation stands either way).

``member_removed``: an owner removed a member and asked, in the same step, for the KSeF permissions of that
person (``person``, a ``KsefPerson`` whose names may be empty) to be revoked. Sent inside the removal's
transaction with ``company``, ``user`` (who was removed), ``removed_by`` and ``person``; a receiver records
the revocations and queues the KSeF work on commit, and never raises (the removal stands either way).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.dispatch import Signal

member_invited = Signal()
member_removed = Signal()


@dataclass(frozen=True)
class KsefPerson:
    """Who is to get KSeF permissions: a PESEL or NIP (``identifier_type`` ``Pesel``/``Nip``) and the name
    KSeF records with the grant."""

    identifier_type: str
    identifier_value: str
    first_name: str
    last_name: str
