"""API tokens: revoked by a password change (every path) or a deactivation; expiring after
API_TOKEN_LIFETIME_DAYS without use, every use extending them, a use written down at most once an hour."""

from datetime import timedelta

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.management.commands import changepassword
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.authentication import TokenAuthentication
from core.models import TokenActivity
from core.tokens import TOUCH_INTERVAL
from tests.fixtures.api import PASSWORD, create_user, token_client

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
NEW_PASSWORD = "another-correct-horse-battery"


def has_token(user) -> bool:
    return Token.objects.filter(user=user).exists()


def token_login(user, password=PASSWORD) -> str:
    response = APIClient().post(TOKEN_URL, {"username": user.username, "password": password}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()["token"]


def me(key: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/v1/me/")


def age_token(key: str, *, created_ago: timedelta, used_ago: timedelta | None = None) -> None:
    """Move the token's creation (and its last written use, or no use at all) into the past."""
    now = timezone.now()
    Token.objects.filter(pk=key).update(created=now - created_ago)
    TokenActivity.objects.filter(pk=key).delete()
    if used_ago is not None:
        TokenActivity.objects.create(token_id=key, last_used_at=now - used_ago)


# --- revocation ------------------------------------------------------------------------------------


def test_set_password_and_save_revokes_the_users_tokens_only():
    user, other = create_user(), create_user()
    key = token_login(user)
    token_login(other)

    user.set_password(NEW_PASSWORD)
    user.save()

    assert not has_token(user)
    assert not TokenActivity.objects.filter(pk=key).exists()
    assert me(key).status_code == 401
    assert has_token(other)


def test_the_admins_password_form_for_a_user_revokes_their_tokens(admin_client):
    user = create_user()
    token_login(user)

    response = admin_client.post(
        f"/admin/auth/user/{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )

    assert response.status_code == 302, response.content
    assert not has_token(user)


def test_changing_ones_own_password_revokes_ones_tokens():
    user = create_user(is_staff=True)
    token_login(user)
    client = Client()
    client.force_login(user)

    response = client.post(
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302, response.content
    assert not has_token(user)


def test_manage_py_changepassword_revokes_the_users_tokens(monkeypatch):
    user = create_user()
    token_login(user)
    monkeypatch.setattr(changepassword.Command, "_get_pass", lambda self, prompt="": NEW_PASSWORD)

    call_command("changepassword", user.username, stdout=None)

    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert not has_token(user)


@pytest.mark.parametrize("update_fields", [None, ["is_active"]])
def test_deactivating_a_user_revokes_their_tokens(update_fields):
    user = create_user()
    key = token_login(user)

    user.is_active = False
    user.save(update_fields=update_fields)

    assert not has_token(user)
    assert me(key).status_code == 401


def test_other_changes_of_a_user_keep_their_tokens():
    user = create_user()
    key = token_login(user)

    user.first_name = "Ada"
    user.save()
    user.save(update_fields=["last_login"])
    Client().login(username=user.username, password=PASSWORD)  # a session login writes last_login

    assert Token.objects.get(user=user).key == key
    assert me(key).status_code == 200


class OneRoundPBKDF2(PBKDF2PasswordHasher):
    iterations = 1


def test_a_password_rehashed_at_login_keeps_the_token(settings):
    user = create_user()  # hashed with the test settings' MD5
    key = token_login(user)
    settings.PASSWORD_HASHERS = [
        "tests.core.test_tokens.OneRoundPBKDF2",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]

    again = token_login(user)  # the login upgrades the stored hash to the preferred hasher

    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_sha256$")
    assert again == key


def test_logging_out_deletes_the_token_and_its_activity():
    user = create_user()
    key = token_login(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert client.delete(TOKEN_URL).status_code == 204
    assert not has_token(user)
    assert not TokenActivity.objects.filter(pk=key).exists()
    assert me(key).status_code == 401
    assert token_login(user) != key


# --- expiry ----------------------------------------------------------------------------------------


def test_a_token_unused_for_its_lifetime_answers_401_and_is_deleted(settings):
    settings.API_TOKEN_LIFETIME_DAYS = 30
    user = create_user()
    key = token_login(user)
    age_token(key, created_ago=timedelta(days=31), used_ago=timedelta(days=30, minutes=1))

    response = me(key)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"
    assert "log in again" in response.json()["error"]["message"]
    assert response["WWW-Authenticate"] == "Token"
    assert not Token.objects.filter(pk=key).exists()
    assert not TokenActivity.objects.filter(pk=key).exists()


def test_a_token_never_used_expires_a_lifetime_after_its_creation(settings):
    settings.API_TOKEN_LIFETIME_DAYS = 2
    fresh, stale = create_user(), create_user()
    token_client(fresh), token_client(stale)  # tokens as DRF makes them, without any activity row
    fresh_key, stale_key = Token.objects.get(user=fresh).key, Token.objects.get(user=stale).key
    age_token(fresh_key, created_ago=timedelta(days=1))
    age_token(stale_key, created_ago=timedelta(days=2, minutes=1))

    assert me(fresh_key).status_code == 200
    assert me(stale_key).status_code == 401
    assert has_token(fresh)
    assert not has_token(stale)


def test_every_use_extends_the_lifetime(settings):
    settings.API_TOKEN_LIFETIME_DAYS = 30
    user = create_user()
    key = token_login(user)
    # Created 45 days ago, used 29 days ago: past its lifetime counted from creation, not from its last use.
    age_token(key, created_ago=timedelta(days=45), used_ago=timedelta(days=29))
    before = timezone.now()

    first = me(key)
    written = TokenActivity.objects.get(pk=key).last_used_at
    # 29 days later again: alive, because the use above moved its expiry.
    TokenActivity.objects.filter(pk=key).update(last_used_at=written - timedelta(days=29))
    second = me(key)

    assert first.status_code == 200
    assert written >= before
    assert second.status_code == 200
    assert TokenActivity.objects.get(pk=key).last_used_at >= before


def test_an_ordinary_request_writes_nothing_and_costs_one_query(django_assert_num_queries):
    user = create_user()
    key = token_login(user)
    age_token(key, created_ago=timedelta(days=3), used_ago=TOUCH_INTERVAL / 2)
    written = TokenActivity.objects.get(pk=key).last_used_at

    with django_assert_num_queries(1):
        loaded, token = TokenAuthentication().authenticate_credentials(key)

    assert (loaded.pk, token.key) == (user.pk, key)
    assert TokenActivity.objects.get(pk=key).last_used_at == written


def test_a_use_is_written_down_once_the_last_one_written_is_an_hour_old():
    user = create_user()
    key = token_login(user)
    age_token(key, created_ago=timedelta(days=3), used_ago=TOUCH_INTERVAL + timedelta(minutes=1))
    old = TokenActivity.objects.get(pk=key).last_used_at

    TokenAuthentication().authenticate_credentials(key)

    assert TokenActivity.objects.get(pk=key).last_used_at > old


def test_a_token_made_elsewhere_starts_its_activity_at_its_first_written_use():
    user = create_user()
    key = Token.objects.create(user=user).key  # e.g. through DRF's token admin: no activity row
    age_token(key, created_ago=timedelta(days=2))

    assert me(key).status_code == 200
    assert TokenActivity.objects.filter(pk=key).exists()


def test_logging_in_again_gives_the_same_token_and_counts_as_a_use():
    user = create_user()
    key = token_login(user)
    age_token(key, created_ago=timedelta(days=20), used_ago=timedelta(days=10))
    before = timezone.now()

    again = token_login(user)

    assert again == key
    assert TokenActivity.objects.get(pk=key).last_used_at >= before


def test_logging_in_with_an_expired_token_gives_a_new_one_and_never_revives_the_old(settings):
    settings.API_TOKEN_LIFETIME_DAYS = 30
    user = create_user()
    old = token_login(user)
    age_token(old, created_ago=timedelta(days=40), used_ago=timedelta(days=31))

    new = token_login(user)

    assert new != old
    assert me(old).status_code == 401
    assert me(new).status_code == 200
