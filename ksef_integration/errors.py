"""Errors of the KSeF integration that reach people: each carries a plain-language message."""

from __future__ import annotations

from django.utils.translation import gettext as _


class ConnectError(Exception):
    """Connecting (or checking a connection) failed; ``message`` says why and what to do, in plain words."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)  # the code only: messages may name NIPs, never secrets, but keep logs terse
        self.code = code
        self.message = message


def other_nip(token_nip: str, company_nip: str) -> ConnectError:
    return ConnectError(
        "other_nip",
        _(
            "This token was generated for NIP %(token_nip)s, but your company's NIP is %(company_nip)s. "
            "Log in to KSeF in the context of NIP %(company_nip)s and generate the token again."
        )
        % {"token_nip": token_nip, "company_nip": company_nip},
    )


def certificate_other_nip(certificate_nip: str, company_nip: str) -> ConnectError:
    return ConnectError(
        "other_nip",
        _("The certificate was issued for NIP %(nip)s, not for this company.") % {"nip": certificate_nip},
    )


def certificate_without_nip(company_nip: str) -> ConnectError:
    return ConnectError(
        "certificate_without_nip",
        _(
            "This certificate does not name any NIP (KSeF certificates carry it in the subject, e.g. "
            "TINPL-%(company_nip)s), so it cannot connect this company. In the KSeF Taxpayer Application "
            "issue a certificate of the Authentication type in the context of NIP %(company_nip)s."
        )
        % {"company_nip": company_nip},
    )


def no_invoice_permissions() -> ConnectError:
    return ConnectError(
        "no_permissions",
        _(
            "This token has neither the permission to issue invoices nor to view them, so it cannot be used. "
            "Generate a new token with all roles selected."
        ),
    )


def busy() -> ConnectError:
    return ConnectError(
        "busy",
        _(
            "KSeF is busy with this company right now (another connection attempt, or invoices being sent). "
            "Nothing was saved. Wait a moment and try again."
        ),
    )


def token_sunset(sunset: str) -> ConnectError:
    """A KSeF token after the token sunset (ksef-api.md §21): KSeF no longer takes it, so it is not tried."""
    return ConnectError(
        "token_sunset",
        _(
            "KSeF tokens stopped working after %(date)s; since then only KSeF certificates connect to KSeF. "
            "Connect with a KSeF certificate instead."
        )
        % {"date": sunset},
    )


def office_not_certificate(office_name: str) -> ConnectError:
    """The office is connected by a KSeF token: a token logs in only in the context it was generated in."""
    return ConnectError(
        "office_not_certificate",
        _(
            "%(office)s connects to KSeF with a token, and a KSeF token works only for the company it was "
            "generated for. To import for clients with the office's own credential, connect %(office)s to "
            "KSeF with a certificate."
        )
        % {"office": office_name},
    )


def office_not_connected(office_name: str) -> ConnectError:
    return ConnectError(
        "office_not_connected",
        _("%(office)s is not connected to KSeF, so it cannot log in for its clients.")
        % {"office": office_name},
    )


def office_not_granted(office_name: str, office_nip: str, client_name: str) -> ConnectError:
    """KSeF let the office's certificate into the client's context with no permission (status 415), or the
    client took the permission back: the reason in the words both sides understand."""
    return ConnectError(
        "office_revoked",
        _(
            "No permissions: %(client)s has not granted (or has revoked) KSeF permissions for the "
            "accounting office %(office)s (NIP %(nip)s). The client's owner can grant them in Data and "
            "settings → KSeF → Permissions."
        )
        % {"client": client_name, "office": office_name, "nip": office_nip},
    )
