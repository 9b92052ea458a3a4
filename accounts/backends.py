"""The authentication backend: Django's ModelBackend under this project's name."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend


class UserBackend(ModelBackend):
    """Logs in like ModelBackend (e-mail and password, inactive users refused). Sessions record the
    backend's path, so this name stays for the sessions of logged-in users."""
