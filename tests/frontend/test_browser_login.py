"""Signing in and out in a real browser (Chromium through Playwright)."""

import pytest

from projects import services as project_services
from tests.fixtures.api import create_user
from tests.fixtures.browser import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_shows_my_projects_and_sign_out_returns_to_login(page):
    user = create_user("ada")
    project_services.project_create(user=user, name="Alexa devices")

    page.goto("/")
    assert "/login/" in page.url, "anonymous visitors are sent to the login page"
    screenshot(page, "login")

    log_in(page, "ada")
    assert page.get_by_role("heading", name="Your projects").is_visible()
    assert page.get_by_role("cell", name="Alexa devices").is_visible()
    screenshot(page, "home")

    page.get_by_role("button", name="Sign out").click()
    page.goto("/")
    assert "/login/" in page.url
    assert page.console_errors == [], page.console_errors


def test_a_wrong_password_is_refused_with_a_message(page):
    create_user("grace")
    page.goto("/login/")
    page.get_by_label("Username").fill("grace")
    page.get_by_label("Password").fill("not-her-password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text().startswith("Your username and password didn't match")
    assert "/login/" in page.url
