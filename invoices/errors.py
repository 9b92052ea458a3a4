"""The invoices app's error base: services raise it with a message fit to show the user."""

from collections.abc import Sequence

from accounts.errors import ApplicationError
from invoices.acceptance import Issue


class InvoiceError(ApplicationError):
    pass


class InvoiceInvalid(InvoiceError):
    """The invoice would be refused (by our rules, the database's limits or KSeF's): ``issues`` say where."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        super().__init__("; ".join(issue.message for issue in issues), code="invalid")
        self.issues = list(issues)
