"""The simulator's front page. The API itself arrives with the simulator issue."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def index(request: HttpRequest) -> HttpResponse:
    return render(request, "ksef_simulator/index.html")
