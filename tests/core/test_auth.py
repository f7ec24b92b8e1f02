import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.authentication import TokenAuthentication
from tests.fixtures.api import PASSWORD, create_user, token_client

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"


def test_token_login_then_me():
    user = create_user(email="ann@example.com")
    client = APIClient()

    login = client.post(TOKEN_URL, {"username": user.username, "password": PASSWORD}, format="json")
    client.credentials(HTTP_AUTHORIZATION=f"Token {login.json()['token']}")
    me = client.get("/api/v1/me/")

    assert login.status_code == 200
    assert me.status_code == 200
    assert me.json()["username"] == user.username
    assert me.json()["email"] == "ann@example.com"
    assert "password" not in me.json()


def test_wrong_password_is_refused_without_a_token():
    user = create_user()

    response = APIClient().post(TOKEN_URL, {"username": user.username, "password": "nope"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_credentials"
    assert "token" not in response.json()


def test_inactive_user_cannot_log_in():
    user = create_user(is_active=False)

    response = APIClient().post(TOKEN_URL, {"username": user.username, "password": PASSWORD}, format="json")

    assert response.status_code == 400


def test_anonymous_me_is_401_with_token_challenge():
    response = APIClient().get("/api/v1/me/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


def test_bad_token_is_401():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0000000000000000000000000000000000000000")

    response = client.get("/api/v1/me/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_token_revoke_logs_the_client_out():
    user = create_user()
    client = token_client(user)

    revoked = client.delete(TOKEN_URL)
    after = client.get("/api/v1/me/")

    assert revoked.status_code == 204
    assert after.status_code == 401


def test_login_is_throttled_per_username_even_with_the_right_password():
    user = create_user()
    client = APIClient()
    for _ in range(10):
        client.post(TOKEN_URL, {"username": user.username, "password": "guess"}, format="json")

    response = client.post(TOKEN_URL, {"username": user.username, "password": PASSWORD}, format="json")

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


def test_login_is_throttled_per_address_across_usernames():
    client = APIClient()
    statuses = [
        client.post(TOKEN_URL, {"username": f"someone{n}", "password": "guess"}, format="json").status_code
        for n in range(21)
    ]

    assert statuses[:20] == [400] * 20
    assert statuses[20] == 429


def test_another_user_is_not_throttled_by_someone_elses_guesses():
    victim, other = create_user(), create_user()
    client = APIClient(REMOTE_ADDR="10.0.0.1")
    for _ in range(10):
        client.post(TOKEN_URL, {"username": victim.username, "password": "guess"}, format="json")

    response = APIClient(REMOTE_ADDR="10.0.0.2").post(
        TOKEN_URL, {"username": other.username, "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200


def test_session_auth_reads_the_api():
    user = create_user()
    client = APIClient()
    client.login(username=user.username, password=PASSWORD)

    response = client.get("/api/v1/me/")

    assert response.status_code == 200
    assert response.json()["username"] == user.username


def test_session_auth_writes_need_the_csrf_token():
    user = create_user()
    client = APIClient(enforce_csrf_checks=True)
    client.login(username=user.username, password=PASSWORD)

    without = client.post("/api/v1/projects/", {"name": "P"}, format="json")
    page = client.get("/login/")
    client.credentials(HTTP_X_CSRFTOKEN=page.cookies["csrftoken"].value)
    with_token = client.post("/api/v1/projects/", {"name": "P"}, format="json")

    assert without.status_code == 403
    assert "CSRF" in without.json()["error"]["message"]
    assert with_token.status_code == 201


def test_login_page_signs_in_and_shows_my_projects(client):
    user = create_user()
    token_client(user).post("/api/v1/projects/", {"name": "Visible project"}, format="json")

    response = client.post("/login/", {"username": user.username, "password": PASSWORD}, follow=True)

    assert response.status_code == 200
    assert b"Visible project" in response.content


def test_pages_need_a_login(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_the_token_of_a_deactivated_user_is_401():
    user = create_user()
    client = token_client(user)
    assert client.get("/api/v1/me/").status_code == 200
    user.is_active = False
    user.save(update_fields=["is_active"])

    response = client.get("/api/v1/me/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_token_authentication_loads_the_user_as_the_orm_does(django_assert_num_queries):
    user = create_user(email="bo@example.com")
    get_user_model().objects.filter(pk=user.pk).update(last_login=timezone.now())
    token = Token.objects.create(user=user)
    with django_assert_num_queries(1):
        loaded, auth = TokenAuthentication().authenticate_credentials(token.key)
    expected = get_user_model().objects.get(pk=user.pk)
    fields = [field.attname for field in expected._meta.concrete_fields]
    assert [getattr(loaded, name) for name in fields] == [getattr(expected, name) for name in fields]
    assert loaded.last_login.tzinfo is not None
    assert (auth.key, auth.user_id, auth.created) == (token.key, user.pk, Token.objects.get(pk=token.key).created)
