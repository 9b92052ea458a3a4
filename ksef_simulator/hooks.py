"""Extension points around every API call: fault injection, the "KSeF unavailable" switch, rate limits.

``before_request`` runs faults first (an armed fault or the unavailable switch wins over everything),
then the rate limits; ``after_response`` may drop the answer of a call that did its work.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from ksef_simulator import faults, limits


def before_request(request: HttpRequest, endpoint: str) -> HttpResponse | None:
    """Return a response to answer without running the endpoint (429, 5xx, unavailable), else None."""
    early = faults.before(request, endpoint)
    if early is not None:
        return early
    return limits.check(request, endpoint)


def after_response(request: HttpRequest, endpoint: str, response: HttpResponse) -> HttpResponse:
    """Return the response to send; may replace it (e.g. drop it after the work was done)."""
    return faults.after(request, endpoint, response)
