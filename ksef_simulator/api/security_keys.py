"""``GET /security/public-key-certificates``."""

from django.http import HttpRequest, HttpResponse, JsonResponse

from ksef_simulator.http import api_view
from ksef_simulator.keys import active_keys, public_key_certificate_json


@api_view("GET", name="security.public-key-certificates")
def public_key_certificates(request: HttpRequest) -> HttpResponse:
    return JsonResponse([public_key_certificate_json(k) for k in active_keys()], safe=False)
