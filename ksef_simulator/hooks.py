"""Extension points around every API call: fault injection, the "KSeF unavailable" switch, rate limits.

The defaults do nothing; ``ksef_simulator.limits`` / ``ksef_simulator.faults`` replace them.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse


def before_request(request: HttpRequest, endpoint: str) -> HttpResponse | None:
    """Return a response to answer without running the endpoint (429, 5xx, unavailable), else None."""
    return None


def after_response(request: HttpRequest, endpoint: str, response: HttpResponse) -> HttpResponse:
    """Return the response to send; may replace it (e.g. drop it after the work was done)."""
    return response
