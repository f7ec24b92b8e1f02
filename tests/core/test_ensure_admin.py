import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def run(**kwargs) -> str:
    out = io.StringIO()
    call_command("ensure_admin", stdout=out, **kwargs)
    return out.getvalue()


def test_creates_an_admin_with_the_given_password(monkeypatch, client):
    monkeypatch.setenv("GROUNDWORK_ADMIN_PASSWORD", "s3cret-Admin-pass")

    output = run()

    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    assert admin.is_staff
    assert "s3cret-Admin-pass" not in output
    assert client.login(username="admin", password="s3cret-Admin-pass")
    assert client.get("/admin/").status_code == 200


def test_generated_password_is_printed_once_and_works(monkeypatch, client):
    monkeypatch.delenv("GROUNDWORK_ADMIN_PASSWORD", raising=False)

    first = run()
    second = run()

    password = first.split("with the password ")[1].split()[0]
    assert client.login(username="admin", password=password)
    assert "exists already" in second
    assert password not in second
    assert get_user_model().objects.filter(is_superuser=True).count() == 1
