"""Token authentication with the same rules as DRF's, in one statement written once, plus expiry.

Every API request authenticates, so this is on the hot path of every annotator: DRF's
`Token.objects.select_related("user").get(key=...)` spends more CPU building its SQL than the database spends
answering it (see core.raw_rows). The same statement reads when the token was last used (core.tokens), so that
checking its expiry adds no query; writing a use down happens at most once an hour per token.
"""

from functools import cache

from django.contrib.auth import get_user_model
from django.db.models import Model
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from core.models import TokenActivity
from core.raw_rows import ModelColumns, hot_cursor, split_row, table
from core.tokens import token_use


class TokenExpired(exceptions.AuthenticationFailed):
    default_code = "token_expired"


@cache
def _token_and_user() -> tuple[str, ModelColumns, ModelColumns, ModelColumns]:
    """The SELECT of a token, its user and its last use by key, and the column groups of its row."""
    user_model = get_user_model()
    token, user = ModelColumns(Token, "t"), ModelColumns(user_model, "u")
    activity = ModelColumns(TokenActivity, "a", only=("last_used_at",))
    token_key = f"t.{Token._meta.pk.column}"
    sql = (
        f"SELECT {token.sql}, {user.sql}, {activity.sql} FROM {table(Token)} t JOIN {table(user_model)} u "  # noqa: S608
        f"ON u.{user_model._meta.pk.column} = t.{Token._meta.get_field('user').column} "
        f"LEFT JOIN {table(TokenActivity)} a ON a.{TokenActivity._meta.pk.column} = {token_key} "
        f"WHERE {token_key} = %s"
    )  # names from the models' metadata
    return sql, token, user, activity


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`; 401 for an unknown key or an inactive user, as DRF's, and for an expired token
    (code `token_expired`; the token is deleted)."""

    def authenticate_credentials(self, key: str) -> tuple[Model, Token]:
        sql, token_columns, user_columns, activity_columns = _token_and_user()
        with hot_cursor() as cursor:
            cursor.execute(sql, [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token, user, activity = split_row(row, token_columns, user_columns, activity_columns)
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        if not token_use(key=token.key, created=token.created, last_used_at=activity.last_used_at):
            raise TokenExpired(_("The token has expired or was revoked; log in again for a new one."))
        token.user = user
        return user, token
