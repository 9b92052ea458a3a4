"""The invoices app's error base: services raise it with a message fit to show the user."""

from accounts.errors import ApplicationError


class InvoiceError(ApplicationError):
    pass
