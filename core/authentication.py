"""Token authentication with the same rules as DRF's, in one precompiled statement.

Every API request authenticates, so this is on the hot path of every annotator: DRF's
`Token.objects.select_related("user").get(key=...)` spends more CPU building its SQL than the database spends
answering it. The statement is built once from the models' metadata; the rows become model instances through
the fields' database converters and `Model.from_db`, as the ORM would make them.
"""

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Field, Model
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token


class _Rows:
    """Columns of one model in a raw row, turned back into an instance."""

    def __init__(self, model: type[Model], alias: str) -> None:
        self.model = model
        self.fields: list[Field] = list(model._meta.concrete_fields)
        self.names = [field.attname for field in self.fields]
        self.columns = [f"{alias}.{connection.ops.quote_name(field.column)}" for field in self.fields]
        self.converters: list[tuple[Any, Sequence[Callable]]] = []
        for field in self.fields:
            column = field.get_col(model._meta.db_table)
            self.converters.append(
                (column, connection.ops.get_db_converters(column) + field.get_db_converters(connection))
            )

    def instance(self, values: Sequence[Any]) -> Model:
        converted = []
        for value, (column, converters) in zip(values, self.converters, strict=True):
            for convert in converters:
                value = convert(value, column, connection)
            converted.append(value)
        return self.model.from_db(connection.alias, self.names, converted)


@cache
def _token_and_user() -> tuple[str, _Rows, _Rows]:
    """The SELECT of a token and its user by key, and how to read its row."""
    user_model = get_user_model()
    quote = connection.ops.quote_name
    token, user = _Rows(Token, "t"), _Rows(user_model, "u")
    sql = (
        f"SELECT {', '.join(token.columns + user.columns)} FROM {quote(Token._meta.db_table)} t "  # noqa: S608
        f"JOIN {quote(user_model._meta.db_table)} u ON u.{quote(user_model._meta.pk.column)} = "
        f"t.{quote(Token._meta.get_field('user').column)} WHERE t.{quote(Token._meta.pk.column)} = %s"
    )  # names from the models' metadata
    return sql, token, user


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`; 401 for an unknown key or an inactive user, as DRF's."""

    def authenticate_credentials(self, key: str) -> tuple[Model, Token]:
        sql, token_rows, user_rows = _token_and_user()
        with connection.cursor() as cursor:
            cursor.execute(sql, [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        split = len(token_rows.fields)
        user = user_rows.instance(row[split:])
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token = token_rows.instance(row[:split])
        token.user = user
        return user, token
