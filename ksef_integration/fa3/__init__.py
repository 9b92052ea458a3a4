"""FA(3) e-invoice XML: build from an invoice, parse into one, validate against the official XSD."""
