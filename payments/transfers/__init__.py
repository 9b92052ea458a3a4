"""Payment files and bank statements for paying purchase invoices: plain Python, no models, no views.

Build a domestic transfer file from :class:`Payer` + :class:`Transfer` rows (``elixir_build`` for Elixir-O,
``pain001_build`` for ISO 20022 pain.001.001.03), titles with the KSeF number (``ksef_title``) or the
split-payment message (``mpp_title``); read statements (``statement_parse``: MT940 or camt.053) and see which
open invoices they pay (``match_payments``). Every refusal is a :class:`PaymentFileError` whose ``problems``
carry translated messages.
"""

from .accounts import bank_sort_code, iban_from_nrb, nrb_is_valid, nrb_normalize
from .amounts import grosze_format, to_grosze
from .elixir import ElixirRecord, elixir_build, elixir_parse
from .errors import FileFormatError, PaymentFileError, Problem
from .matching import EntryFinding, InvoiceMatch, MatchReport, OpenInvoice, match_payments
from .model import Order, Payer, Transfer, prepare_orders
from .pain001 import pain001_build, pain001_parse, pain001_validate
from .statements import Statement, StatementEntry, camt053_parse, mt940_parse, statement_parse
from .titles import MppTitle, collective_id_is_valid, ksef_title, mpp_title, mpp_title_parse

__all__ = [
    "ElixirRecord",
    "EntryFinding",
    "FileFormatError",
    "InvoiceMatch",
    "MatchReport",
    "MppTitle",
    "OpenInvoice",
    "Order",
    "Payer",
    "PaymentFileError",
    "Problem",
    "Statement",
    "StatementEntry",
    "Transfer",
    "bank_sort_code",
    "camt053_parse",
    "collective_id_is_valid",
    "elixir_build",
    "elixir_parse",
    "grosze_format",
    "iban_from_nrb",
    "ksef_title",
    "match_payments",
    "mpp_title",
    "mpp_title_parse",
    "mt940_parse",
    "nrb_is_valid",
    "nrb_normalize",
    "pain001_build",
    "pain001_parse",
    "pain001_validate",
    "prepare_orders",
    "statement_parse",
    "to_grosze",
]
