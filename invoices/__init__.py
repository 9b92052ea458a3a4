"""The documents: sales and purchase invoices, the Dokumenty list and the Wystaw form."""
