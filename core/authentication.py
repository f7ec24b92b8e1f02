"""Token authentication with the same rules as DRF's, in one statement written once.

Every API request authenticates, so this is on the hot path of every annotator: DRF's
`Token.objects.select_related("user").get(key=...)` spends more CPU building its SQL than the database spends
answering it (see core.raw_rows).
"""

from functools import cache

from django.contrib.auth import get_user_model
from django.db.models import Model
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from core.raw_rows import ModelColumns, hot_cursor, split_row, table


@cache
def _token_and_user() -> tuple[str, ModelColumns, ModelColumns]:
    """The SELECT of a token and its user by key, and the column groups of its row."""
    user_model = get_user_model()
    token, user = ModelColumns(Token, "t"), ModelColumns(user_model, "u")
    sql = (
        f"SELECT {token.sql}, {user.sql} FROM {table(Token)} t JOIN {table(user_model)} u "  # noqa: S608
        f"ON u.{user_model._meta.pk.column} = t.{Token._meta.get_field('user').column} "
        f"WHERE t.{Token._meta.pk.column} = %s"
    )  # names from the models' metadata
    return sql, token, user


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`; 401 for an unknown key or an inactive user, as DRF's."""

    def authenticate_credentials(self, key: str) -> tuple[Model, Token]:
        sql, token_columns, user_columns = _token_and_user()
        with hot_cursor() as cursor:
            cursor.execute(sql, [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token, user = split_row(row, token_columns, user_columns)
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token.user = user
        return user, token
