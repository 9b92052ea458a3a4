"""The simulator's web pages, playing "Aplikacja Podatnika KSeF" of the TEST environment (PRODUCT.md §1.7).

Anyone may act as any NIP, as on TEST: log in by typing a NIP, then generate and revoke KSeF tokens,
issue KSeF certificates, look at the invoices KSeF holds and create test data.
"""
