"""FA(3) e-invoice XML: build from an invoice, parse into one, validate against the official XSD.

The portal writes and reads invoices only through this package: :mod:`.model` (the neutral structure),
:mod:`.builder`, :mod:`.parser`, :mod:`.schema` (XSD validation), :mod:`.checks` (pre-send checks with
Polish and English messages) and :mod:`.digest` (the invoice hash). It imports nothing from Django.
"""

from .builder import Fa3BuildError, build_invoice, compute_totals
from .checks import Problem, check_invoice, nip_is_valid
from .digest import invoice_hash, invoice_hash_url
from .parser import Fa3ParseError, parse_invoice
from .schema import SchemaError, SchemaUnavailable, validate

__all__ = [
    "Fa3BuildError",
    "Fa3ParseError",
    "Problem",
    "SchemaError",
    "SchemaUnavailable",
    "build_invoice",
    "check_invoice",
    "compute_totals",
    "invoice_hash",
    "invoice_hash_url",
    "nip_is_valid",
    "parse_invoice",
    "validate",
]
