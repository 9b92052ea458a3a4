"""The authentication backend: Django's ModelBackend with a cheaper per-request user lookup."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.db import connections, router

from accounts.models import User
from ksefportal.model_rows import ModelColumns


@cache
def _user_sql(alias: str) -> tuple[ModelColumns, str]:
    connection = connections[alias]
    quote = connection.ops.quote_name
    columns = ModelColumns.of(User, "u", connection)
    pk = quote(str(User._meta.get_field("id").column))
    sql = f"SELECT {columns.sql} FROM {quote(User._meta.db_table)} u WHERE u.{pk} = %s"  # noqa: S608
    return columns, sql


class UserBackend(ModelBackend):
    """Logs in like ModelBackend (e-mail and password, inactive users refused). ``get_user`` runs on every
    request of a logged-in user: one statement written once (ksefportal.model_rows) instead of an ORM query
    compiled each time."""

    def get_user(self, user_id: Any) -> User | None:
        alias = router.db_for_read(User)
        connection = connections[alias]
        columns, sql = _user_sql(alias)
        with connection.cursor() as cursor:
            cursor.execute(sql, [User._meta.get_field("id").get_db_prep_value(user_id, connection)])
            row = cursor.fetchone()
        if row is None:
            return None
        user: User = columns.instance(row, alias, connection)
        return user if self.user_can_authenticate(user) else None
