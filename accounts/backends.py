"""The authentication backend: Django's ModelBackend with a cheaper per-request user lookup."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend

from accounts.models import User
from accounts.selectors import user_get


class UserBackend(ModelBackend):
    """Logs in like ModelBackend (e-mail and password, inactive users refused). ``get_user`` runs on every
    request of a logged-in user: one statement written once that also brings the user's first membership,
    which the page's ``current_membership`` then needs no statement for (accounts.selectors.user_get)."""

    def get_user(self, user_id: Any) -> User | None:
        user = user_get(user_id=user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
