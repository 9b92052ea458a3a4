"""An XML file handed to the browser as a download (the FA(3) file, the UPO, an invoice that could not be
imported), named safely whatever the invoice number holds."""

from __future__ import annotations

from django.http import HttpResponse


def xml_attachment(body: bytes, *, name: str) -> HttpResponse:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
    response = HttpResponse(body, content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="{safe}.xml"'
    return response
