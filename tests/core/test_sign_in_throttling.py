"""The sign-in pages (ours at /login/, the admin's at /admin/login/) share the token endpoint's login throttles:
per client address and per username, the same counters whichever page or endpoint is used."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.fixtures.api import PASSWORD, create_user

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
SIGN_IN_PAGES = ["/login/", "/admin/login/"]
# The embedded defaults: LOGIN_THROTTLE_RATE 20/min, LOGIN_USERNAME_THROTTLE_RATE 10/min.
PER_ADDRESS, PER_USERNAME = 20, 10


def sign_in(url, username, password, address="10.1.0.1", **extra):
    return Client(REMOTE_ADDR=address).post(url, {"username": username, "password": password}, **extra)


def is_signed_in(response):
    return "_auth_user_id" in response.wsgi_request.session


@pytest.mark.parametrize("url", SIGN_IN_PAGES)
def test_a_page_refuses_the_next_attempt_on_a_username_even_with_the_right_password(url):
    user = create_user(is_staff=True)
    guesses = [sign_in(url, user.username, "guess", address=f"10.2.0.{n}") for n in range(PER_USERNAME)]

    refused = sign_in(url, user.username, PASSWORD, address="10.3.0.1")

    assert [response.status_code for response in guesses] == [200] * PER_USERNAME
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert b"Too many sign-in attempts. Try again in" in refused.content
    assert f'value="{user.username}"'.encode() in refused.content, "the form is shown again, username kept"
    assert not is_signed_in(refused)


@pytest.mark.parametrize("url", SIGN_IN_PAGES)
def test_a_page_refuses_the_next_attempt_from_an_address_across_usernames(url):
    statuses = [sign_in(url, f"someone{n}", "guess").status_code for n in range(PER_ADDRESS + 1)]
    other_address = sign_in(url, "someone-else", "guess", address="10.9.9.9")

    assert statuses[:PER_ADDRESS] == [200] * PER_ADDRESS
    assert statuses[PER_ADDRESS] == 429
    assert other_address.status_code == 200


def test_the_app_page_shows_the_throttle_message_not_the_wrong_password_one():
    user = create_user()
    for n in range(PER_USERNAME):
        sign_in("/login/", user.username, "guess", address=f"10.2.0.{n}")

    page = sign_in("/login/", user.username, PASSWORD).content.decode()

    assert '<p class="error" role="alert">Too many sign-in attempts. Try again in' in page
    assert "didn&#x27;t match" not in page


def test_signing_in_below_the_limits_still_works_on_both_pages():
    user = create_user(is_staff=True)
    for n in range(PER_USERNAME - 2):
        sign_in("/login/", user.username, "guess", address=f"10.2.0.{n}")

    app = sign_in("/login/", user.username, PASSWORD)
    admin = Client(REMOTE_ADDR="10.1.0.1").post(
        "/admin/login/", {"username": user.username, "password": PASSWORD, "next": "/admin/"}
    )

    assert (app.status_code, app["Location"]) == (302, "/")
    assert (admin.status_code, admin["Location"]) == (302, "/admin/")
    assert is_signed_in(app)
    assert is_signed_in(admin)


def test_the_pages_and_the_token_endpoint_count_against_one_budget_per_username():
    user = create_user(is_staff=True)
    token_client = APIClient(REMOTE_ADDR="10.4.0.1")
    for _ in range(4):
        token_client.post(TOKEN_URL, {"username": user.username, "password": "guess"}, format="json")
    for n in range(3):
        sign_in("/login/", user.username, "guess", address=f"10.5.0.{n}")
    for n in range(3):
        sign_in("/admin/login/", user.username, "guess", address=f"10.6.0.{n}")

    page = sign_in("/login/", user.username, PASSWORD, address="10.7.0.1")
    token = APIClient(REMOTE_ADDR="10.8.0.1").post(
        TOKEN_URL, {"username": user.username, "password": PASSWORD}, format="json"
    )

    assert page.status_code == 429
    assert token.status_code == 429
    assert token.json()["error"]["code"] == "throttled"


def test_usernames_are_counted_without_case_or_surrounding_spaces():
    user = create_user()
    for n in range(PER_USERNAME):
        sign_in("/login/", f" {user.username.upper()} ", "guess", address=f"10.2.0.{n}")

    assert sign_in("/login/", user.username, PASSWORD).status_code == 429


def test_behind_proxies_the_client_address_is_the_forwarded_one(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    # One proxy in front: every request comes from its address, the client's is the last one forwarded.
    proxy = "10.0.0.254"
    statuses = [
        sign_in("/login/", f"someone{n}", "guess", address=proxy, HTTP_X_FORWARDED_FOR="203.0.113.7").status_code
        for n in range(PER_ADDRESS + 1)
    ]
    other_client = sign_in("/admin/login/", "x", "guess", address=proxy, HTTP_X_FORWARDED_FOR="203.0.113.8")

    assert statuses[PER_ADDRESS - 1] == 200
    assert statuses[PER_ADDRESS] == 429
    assert other_client.status_code == 200


def test_without_proxies_a_forwarded_address_is_ignored():
    statuses = [
        sign_in("/login/", f"someone{n}", "guess", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
        for n in range(PER_ADDRESS + 1)
    ]

    assert statuses[PER_ADDRESS] == 429


def test_showing_the_pages_is_not_an_attempt():
    for _ in range(PER_ADDRESS + 1):
        Client(REMOTE_ADDR="10.1.0.1").get("/login/")

    assert Client(REMOTE_ADDR="10.1.0.1").get("/admin/login/").status_code == 200
    assert sign_in("/login/", "someone", "guess").status_code == 200
