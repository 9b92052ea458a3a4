"""Biuro: one page for an accounting office (or anyone working for several companies) with the KSeF state
of every client company and one click into it."""
