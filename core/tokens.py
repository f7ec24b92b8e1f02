"""API tokens: issued at a password login, expiring after `API_TOKEN_LIFETIME_DAYS` without use (sliding), revoked
when their user's password changes or the user is deactivated.

The token check runs on every API request (core.authentication reads the token, its user and its last use in
one statement), so a use is written down at most once per `TOUCH_INTERVAL`: an ordinary request costs no
write, and a token may expire up to that much earlier than an exact sliding expiry would let it.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from core.models import TokenActivity

TOUCH_INTERVAL = timedelta(hours=1)


def token_lifetime() -> timedelta:
    return timedelta(days=settings.API_TOKEN_LIFETIME_DAYS)


def _expired(last_used: datetime, now: datetime) -> bool:
    return now - last_used >= token_lifetime()


def _touch(*, key: str, now: datetime) -> bool:
    """Record a use of the token `key` at `now`; False when the token was deleted meanwhile (revoked)."""
    try:
        with transaction.atomic():
            TokenActivity.objects.bulk_create(
                [TokenActivity(token_id=key, last_used_at=now)],
                update_conflicts=True,
                unique_fields=["token"],
                update_fields=["last_used_at"],
            )
    except IntegrityError:
        # The one constraint this upsert can break is the foreign key to the token: a logout, a password change
        # or an expiry deleted it between the caller's read and this write.
        return False
    return True


@transaction.atomic
def token_for_login(*, user: AbstractBaseUser) -> Token:
    """The token to hand out after `user` proved their password: the one they hold (the login counts as a use),
    or a new one when they hold none or theirs has expired (an expired token is never revived)."""
    now = timezone.now()
    held = Token.objects.filter(user=user).select_related("activity").first()
    if held is not None:
        activity = getattr(held, "activity", None)  # a missing row raises an AttributeError subclass
        if _expired(activity.last_used_at if activity else held.created, now):
            held.delete()
    token, _ = Token.objects.get_or_create(user=user)
    # A row from the start: a later use then only updates it, and the token's deletion always finds it.
    _touch(key=token.key, now=now)
    return token


def token_use(*, key: str, created: datetime, last_used_at: datetime | None, now: datetime | None = None) -> bool:
    """A request just authenticated with the token `key` (created at `created`, its use last written down at
    `last_used_at`, or never). Extends its life, writing the use down when the last one written is older than
    TOUCH_INTERVAL. Returns False when the token has expired, or was revoked under this request; an expired token
    is deleted."""
    now = now or timezone.now()
    last_used = last_used_at or created
    if _expired(last_used, now):
        tokens_delete(keys=[key])
        return False
    if now - last_used >= TOUCH_INTERVAL:
        return _touch(key=key, now=now)
    return True


@transaction.atomic
def tokens_delete(*, keys: list[str]) -> int:
    """Delete these tokens (and their activity); returns how many tokens there were."""
    deleted = Token.objects.filter(key__in=keys).delete()[1]
    return deleted.get(Token._meta.label, 0)


@transaction.atomic
def tokens_revoke(*, user: AbstractBaseUser) -> int:
    """Delete every API token of `user` (log out all their API clients); returns how many there were."""
    deleted = Token.objects.filter(user=user).delete()[1]
    return deleted.get(Token._meta.label, 0)


def revoke_tokens_on_credentials_change(
    sender: type, instance: AbstractBaseUser, created: bool = False, update_fields: frozenset | None = None, **_: object
) -> None:
    """post_save of the user model: a new password or a deactivation revokes the user's API tokens.

    A receiver rather than a call from our services because passwords change on paths that are Django's (the
    admin's forms, PasswordChangeForm, `manage.py changepassword`), which all end in `set_password()` and
    `save()`. `set_password()` keeps the raw password in `_password` until the save that stores it is done, so
    it is still there when this signal is sent; the rehash of an upgraded hasher at login clears it before
    saving, and revokes nothing. A QuerySet.update() of `is_active` sends no signal: such a user's tokens stop
    working all the same (the token check refuses inactive users), they are only not deleted.
    """
    if created or (update_fields is not None and not {"password", "is_active"} & set(update_fields)):
        return  # a new user holds no token; last_login and the like are no credentials
    if getattr(instance, "_password", None) is not None or not instance.is_active:
        tokens_revoke(user=instance)
